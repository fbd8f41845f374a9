package client

import (
	"context"
	"fmt"
	"iter"
)

// fetchFunc fetches the page at an absolute URL and returns its rows and its
// next link (nil on the last page).
type fetchFunc[T any] func(ctx context.Context, url string) ([]T, *string, error)

// walkPages yields every row of a paginated listing, starting at first and
// following each page's next link exactly as the server wrote it: the server
// owns the pagination arithmetic (SPEC §3.1), and re-deriving offsets here
// would hide its mistakes from the tests that use this client. A page is
// fetched only when the consumer asks for a row from it, so breaking out of
// the loop costs no further request. The first failure is yielded once and
// ends the walk. Each range over the result starts again from first.
func walkPages[T any](ctx context.Context, first string, fetch fetchFunc[T]) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		link := first
		for {
			rows, next, err := fetch(ctx, link)
			if err != nil {
				yield(zero, err)
				return
			}
			for _, row := range rows {
				if !yield(row, nil) {
					return
				}
			}
			if next == nil {
				return
			}
			if *next == link {
				// A page that points at itself would loop forever.
				yield(zero, fmt.Errorf("client: page %s links to itself as next", link))
				return
			}
			link = *next
		}
	}
}

// failed returns an iterator that yields err once, so argument errors reach
// the caller through the same channel as request errors.
func failed[T any](err error) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		yield(zero, err)
	}
}
