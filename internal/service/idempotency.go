package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kycreview/kycreview"
)

// Idempotency keys (issue 9, item 7), as Stripe and Persona have them: a
// client that sends a POST or PATCH with an Idempotency-Key header may send
// it again, after a timeout or a lost connection, and gets the first answer
// back without the write happening twice.
//
// The record of a key (who sent it, the request's fingerprint, and the
// response exactly as it was sent) is written by the write it belongs to,
// in the same transaction (remember): a crash keeps both or neither. Only
// successful writes are recorded. Every error answer is a rolled-back
// transaction that wrote nothing, so repeating its request is harmless, and
// a retry after a validation error, a 404 or a 500 gets a fresh attempt
// rather than the old error: no error burns a key.

// DefaultIdempotencyTTL is how long an idempotency key is kept: the API
// promises at least 24 hours.
const DefaultIdempotencyTTL = 24 * time.Hour

// WithIdempotencyTTL sets how long idempotency keys are kept (at least a
// day in production, which the command line enforces). ttl ≤ 0 keeps
// DefaultIdempotencyTTL.
func WithIdempotencyTTL(ttl time.Duration) Option {
	return func(s *Service) {
		if ttl > 0 {
			s.idempotencyTTL = ttl
		}
	}
}

// IdempotentRequest is a write request that came with an Idempotency-Key.
type IdempotentRequest struct {
	// Key is the header's value (the API checks its form).
	Key string
	// Fingerprint identifies the request the key was sent with: a retry
	// with the same key must have the same fingerprint. The API derives it
	// from the method, the path and the body.
	Fingerprint string
}

// Response is an API response as it was sent: what a key's record keeps,
// and what a retry gets back byte for byte.
type Response struct {
	Status int
	// Header holds the response headers that belong to the answer (its
	// Content-Type), not those of one exchange (rate limits, request ids).
	Header map[string]string
	Body   []byte
}

// IdempotencyRecord is a stored idempotency key: the API key that sent it,
// the key, the request's fingerprint and the response, and when it was
// recorded. (APIKeyID, Key) is unique.
type IdempotencyRecord struct {
	APIKeyID    string
	Key         string
	Fingerprint string
	Response    Response
	CreatedAt   time.Time
}

// ErrIdempotencyMismatch answers a key already used by the same API key for
// a different request (another method, path or body).
var ErrIdempotencyMismatch = &kycreview.Error{Code: kycreview.EUNPROCESSABLE,
	Message: "This Idempotency-Key was already used with different request parameters (method, path or body). Use a new key for a new request."}

// ErrIdempotencyInProgress answers a key whose first request could not be
// told apart from this one's: another request with the same key was being
// carried out at the same moment. Retrying gets the first one's answer.
var ErrIdempotencyInProgress = &kycreview.Error{Code: kycreview.ECONFLICT,
	Message: "A request with this Idempotency-Key is being processed. Retry it later."}

// errKeyTaken ends a write whose key was recorded first by a concurrent
// transaction: the write is rolled back and the other one's answer is given.
var errKeyTaken = errors.New("service: the idempotency key was recorded by another transaction")

// idempotencyCtxKey is the context key of a write's pending record.
type idempotencyCtxKey struct{}

// pendingRecord is an idempotent write under way: what to record, how the
// API renders the write's result, and, once recorded, the response.
type pendingRecord struct {
	apiKeyID string
	req      IdempotentRequest
	render   func(result any) (Response, error)
	resp     *Response
}

// Idempotent carries out write at most once for the API key's req.Key
// while the key is kept.
//
// If the key has a live record, write is not called: the record's response
// is returned with replayed set, or ErrIdempotencyMismatch if the record
// is of a different request. Otherwise write runs with a context that makes
// the service's write methods record the key in their own transaction:
// they call render inside it with their result (the value they return, or
// the id of what they changed when they return nothing), and the response
// it gives is stored with the write and returned here, to be sent as it
// is. Requests with the same key are carried out one at a time in this
// process; across processes the key's uniqueness in the database stops a
// second write, which then answers as the first did.
func (s *Service) Idempotent(ctx context.Context, key kycreview.APIKey, req IdempotentRequest,
	render func(result any) (Response, error), write func(ctx context.Context) error) (resp Response, replayed bool, err error) {
	unlock, err := s.idempotencyLocks.lock(ctx, key.ID+"\n"+req.Key)
	if err != nil {
		return Response{}, false, err
	}
	defer unlock()
	if resp, found, err := s.recorded(ctx, key, req); err != nil || found {
		return resp, found, err
	}
	p := &pendingRecord{apiKeyID: key.ID, req: req, render: render}
	if werr := write(context.WithValue(ctx, idempotencyCtxKey{}, p)); werr != nil {
		// Another process may have carried out a request with this key
		// meanwhile (this one then failed on the key, or on the state the
		// other left, e.g. "the same status"): its answer is the answer.
		resp, found, err := s.recorded(ctx, key, req)
		switch {
		case found:
			return resp, true, nil
		case errors.Is(err, ErrIdempotencyMismatch):
			return Response{}, false, err
		case errors.Is(werr, errKeyTaken):
			return Response{}, false, ErrIdempotencyInProgress
		}
		return Response{}, false, werr
	}
	if p.resp == nil {
		return Response{}, false, kycreview.Errorf(kycreview.EINTERNAL, "service: a write ran with an idempotency key but did not record it")
	}
	return *p.resp, false, nil
}

// recorded looks the key up: its live record's response if it is of the
// same request, ErrIdempotencyMismatch if not, and found false if there is
// none (or only an expired one).
func (s *Service) recorded(ctx context.Context, key kycreview.APIKey, req IdempotentRequest) (Response, bool, error) {
	var rec IdempotencyRecord
	err := s.store.Read(ctx, func(tx Tx) error {
		var err error
		rec, err = tx.FindIdempotencyRecord(ctx, key.ID, req.Key)
		return err
	})
	switch {
	case kycreview.ErrorCode(err) == kycreview.ENOTFOUND:
		return Response{}, false, nil
	case err != nil:
		return Response{}, false, err
	case rec.CreatedAt.Before(s.idempotencyCutoff()):
		return Response{}, false, nil
	case rec.Fingerprint != req.Fingerprint:
		return Response{}, false, ErrIdempotencyMismatch
	}
	return rec.Response, true, nil
}

// idempotencyCutoff is the creation time before which a record has expired.
func (s *Service) idempotencyCutoff() time.Time {
	return s.now().UTC().Add(-s.idempotencyTTL)
}

// remember records, in tx, the idempotency key of the write running under
// ctx, if it has one, with result rendered as the API sends it. A write
// method calls it inside its transaction once its writes are done (and
// only then: a write that fails must leave no record). A live record of
// the key written meanwhile by another transaction makes it fail with
// errKeyTaken, which rolls this write back.
func (s *Service) remember(ctx context.Context, tx Tx, result any) error {
	p, _ := ctx.Value(idempotencyCtxKey{}).(*pendingRecord)
	if p == nil {
		return nil
	}
	resp, err := p.render(result)
	if err != nil {
		return fmt.Errorf("service: rendering an idempotent response: %w", err)
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	rec := IdempotencyRecord{APIKeyID: p.apiKeyID, Key: p.req.Key, Fingerprint: p.req.Fingerprint, Response: resp, CreatedAt: now}
	stored, err := tx.InsertIdempotencyRecord(ctx, rec, now.Add(-s.idempotencyTTL))
	if err != nil {
		return err
	}
	if !stored {
		return errKeyTaken
	}
	// Set on every run: a backend may run a write's function again (SQLite
	// does after a lost batch), and the last run is the one committed.
	p.resp = &resp
	return nil
}

// IdempotencyPurgeBatch is how many expired idempotency records one purge
// transaction deletes: small, so a purge never holds the (SQLite) writer
// for long.
const IdempotencyPurgeBatch = 500

// PurgeIdempotencyKeys deletes the expired idempotency records, batch at a
// time (IdempotencyPurgeBatch when batch ≤ 0), each batch in its own
// transaction, and returns how many it deleted. Expired records are already
// treated as absent; this only reclaims their space.
func (s *Service) PurgeIdempotencyKeys(ctx context.Context, batch int) (int, error) {
	if batch <= 0 {
		batch = IdempotencyPurgeBatch
	}
	cutoff := s.idempotencyCutoff()
	total := 0
	for {
		var n int
		err := s.store.WriteTx(ctx, func(tx Tx) error {
			var err error
			n, err = tx.DeleteIdempotencyRecords(ctx, cutoff, batch)
			return err
		})
		if err != nil {
			return total, err
		}
		total += n
		if n < batch {
			return total, nil
		}
	}
}
