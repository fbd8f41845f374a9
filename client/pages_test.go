package client

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

// pageSource serves fixed pages from memory and records which links were
// fetched. It stands in for the fetch function only; the HTTP side is covered
// end to end against the real server.
type pageSource struct {
	pages   map[string][]int
	next    map[string]string
	fail    map[string]error
	fetched []string
}

func (s *pageSource) fetch(_ context.Context, link string) ([]int, *string, error) {
	s.fetched = append(s.fetched, link)
	if err := s.fail[link]; err != nil {
		return nil, nil, err
	}
	var next *string
	if n, ok := s.next[link]; ok {
		next = &n
	}
	return s.pages[link], next, nil
}

func TestWalkPages(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name        string
		src         *pageSource
		stopAfter   int // break after this many rows; 0 = never
		wantRows    []int
		wantErrs    int
		wantFetched []string
	}{
		{
			name:        "follows next until null",
			src:         &pageSource{pages: map[string][]int{"a": {1, 2}, "b": {3, 4}, "c": {5}}, next: map[string]string{"a": "b", "b": "c"}},
			wantRows:    []int{1, 2, 3, 4, 5},
			wantFetched: []string{"a", "b", "c"},
		},
		{
			name:        "empty feed",
			src:         &pageSource{},
			wantFetched: []string{"a"},
		},
		{
			name:        "break on the last row of a page fetches no more",
			src:         &pageSource{pages: map[string][]int{"a": {1, 2}, "b": {3}}, next: map[string]string{"a": "b"}},
			stopAfter:   2,
			wantRows:    []int{1, 2},
			wantFetched: []string{"a"},
		},
		{
			name:        "error is yielded once and ends the walk",
			src:         &pageSource{pages: map[string][]int{"a": {1}}, next: map[string]string{"a": "b", "b": "c"}, fail: map[string]error{"b": boom}},
			wantRows:    []int{1},
			wantErrs:    1,
			wantFetched: []string{"a", "b"},
		},
		{
			name:        "a page linking to itself is an error, not a loop",
			src:         &pageSource{pages: map[string][]int{"a": {1}}, next: map[string]string{"a": "a"}},
			wantRows:    []int{1},
			wantErrs:    1,
			wantFetched: []string{"a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rows []int
			errs := 0
			for row, err := range walkPages(context.Background(), "a", tt.src.fetch) {
				if err != nil {
					errs++
					continue
				}
				rows = append(rows, row)
				if tt.stopAfter > 0 && len(rows) == tt.stopAfter {
					break
				}
			}
			if !reflect.DeepEqual(rows, tt.wantRows) {
				t.Errorf("rows = %v, want %v", rows, tt.wantRows)
			}
			if errs != tt.wantErrs {
				t.Errorf("errors yielded = %d, want %d", errs, tt.wantErrs)
			}
			if !reflect.DeepEqual(tt.src.fetched, tt.wantFetched) {
				t.Errorf("fetched = %v, want %v", tt.src.fetched, tt.wantFetched)
			}
		})
	}
}

func TestFeedEntriesBadSessionID(t *testing.T) {
	c := New("http://127.0.0.1:1", "k")
	n := 0
	for _, err := range c.FeedEntries(context.Background(), "", FeedParams{}) {
		n++
		if err == nil {
			t.Error("want an error for an empty session id")
		}
	}
	if n != 1 {
		t.Errorf("yielded %d times, want 1", n)
	}
}
