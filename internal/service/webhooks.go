package service

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/kycreview/kycreview"
)

// WebhookConfig is how the service treats webhook destinations.
type WebhookConfig struct {
	// AllowHTTP accepts http:// destination URLs; without it only https.
	AllowHTTP bool
	// CheckURL vets a destination's URL against the network (the SSRF
	// guard: the host must not resolve to a loopback, private, link-local
	// or metadata address). It runs before the write's transaction, never
	// inside it. nil checks nothing.
	CheckURL func(ctx context.Context, url string) error
}

// WithWebhooks sets the webhook destination rules.
func WithWebhooks(c WebhookConfig) Option {
	return func(s *Service) { s.webhooks = c }
}

// CreateDestination validates in and stores a new destination of the key's
// application, with a fresh secret.
func (s *Service) CreateDestination(ctx context.Context, key kycreview.APIKey, in kycreview.DestinationInput) (kycreview.Destination, error) {
	in, err := in.Validate(true, s.webhooks.AllowHTTP)
	if err != nil {
		return kycreview.Destination{}, err
	}
	if err := s.checkURL(ctx, *in.URL); err != nil {
		return kycreview.Destination{}, err
	}
	d := kycreview.NewDestination(newID(), key.ApplicationID, kycreview.NewDestinationSecret(), in, s.now().UTC())
	err = s.store.WriteTx(ctx, func(tx Tx) error {
		if err := tx.CreateDestination(ctx, &d); err != nil {
			return err
		}
		return s.remember(ctx, tx, d)
	})
	if kycreview.ErrorCode(err) == kycreview.ECONFLICT {
		return kycreview.Destination{}, kycreview.ErrDestinationURLTaken()
	}
	return d, err
}

// checkURL runs the configured network check, reporting a refusal as the
// url field's validation error.
func (s *Service) checkURL(ctx context.Context, url string) error {
	if s.webhooks.CheckURL == nil {
		return nil
	}
	if err := s.webhooks.CheckURL(ctx, url); err != nil {
		if kycreview.ErrorCode(err) == kycreview.EINVALID {
			return err
		}
		return kycreview.FieldErrors(map[string][]string{"url": {err.Error()}})
	}
	return nil
}

// Destination returns one of the key's application's destinations.
func (s *Service) Destination(ctx context.Context, key kycreview.APIKey, id string) (kycreview.Destination, error) {
	var d kycreview.Destination
	err := s.store.Read(ctx, func(tx Tx) error {
		var err error
		d, err = findDestination(ctx, tx, key.ApplicationID, id)
		return err
	})
	return d, err
}

func findDestination(ctx context.Context, tx Tx, appID, id string) (kycreview.Destination, error) {
	id, ok := kycreview.CanonicalUUID(id)
	if !ok {
		return kycreview.Destination{}, kycreview.ErrDestinationNotFound
	}
	d, err := tx.FindDestination(ctx, appID, id)
	if kycreview.ErrorCode(err) == kycreview.ENOTFOUND {
		return kycreview.Destination{}, kycreview.ErrDestinationNotFound
	}
	return d, err
}

// Destinations returns a page of the key's application's destinations,
// oldest first, and how many there are.
func (s *Service) Destinations(ctx context.Context, key kycreview.APIKey, limit, offset int) ([]kycreview.Destination, int, error) {
	var out []kycreview.Destination
	var count int
	err := s.store.ReadTx(ctx, func(tx Tx) error {
		var err error
		out, count, err = tx.ListDestinations(ctx, key.ApplicationID, limit, offset)
		return err
	})
	return out, count, err
}

// UpdateDestination applies a partial update (PATCH) to a destination.
func (s *Service) UpdateDestination(ctx context.Context, key kycreview.APIKey, id string, in kycreview.DestinationInput) (kycreview.Destination, error) {
	in, err := in.Validate(false, s.webhooks.AllowHTTP)
	if err != nil {
		return kycreview.Destination{}, err
	}
	if in.URL != nil {
		if err := s.checkURL(ctx, *in.URL); err != nil {
			return kycreview.Destination{}, err
		}
	}
	var d kycreview.Destination
	err = s.store.WriteTx(ctx, func(tx Tx) error {
		cur, err := findDestination(ctx, tx, key.ApplicationID, id)
		if err != nil {
			return err
		}
		d = cur.Update(in, s.now().UTC())
		if err := tx.UpdateDestination(ctx, d); err != nil {
			return err
		}
		return s.remember(ctx, tx, d)
	})
	if kycreview.ErrorCode(err) == kycreview.ECONFLICT {
		return kycreview.Destination{}, kycreview.ErrDestinationURLTaken()
	}
	return d, err
}

// DeleteDestination soft-deletes a destination: it receives nothing more,
// its URL is free again, and its delivery log is kept.
func (s *Service) DeleteDestination(ctx context.Context, key kycreview.APIKey, id string) error {
	return s.store.WriteTx(ctx, func(tx Tx) error {
		d, err := findDestination(ctx, tx, key.ApplicationID, id)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		d.DeletedAt, d.UpdatedAt = &now, now
		return tx.UpdateDestination(ctx, d)
	})
}

// Deliveries returns a page of a destination's delivery log, newest first,
// each delivery with its attempts.
func (s *Service) Deliveries(ctx context.Context, key kycreview.APIKey, destID string, limit, offset int) ([]kycreview.Delivery, int, error) {
	var out []kycreview.Delivery
	var count int
	err := s.store.ReadTx(ctx, func(tx Tx) error {
		d, err := findDestination(ctx, tx, key.ApplicationID, destID)
		if err != nil {
			return err
		}
		out, count, err = tx.ListDeliveries(ctx, d.PK, limit, offset)
		return err
	})
	return out, count, err
}

// ErrDeliveryNotFound is returned for a delivery that is not the
// destination's.
var ErrDeliveryNotFound = &kycreview.Error{Code: kycreview.ENOTFOUND, Message: "Webhook delivery not found."}

// ResendDelivery queues a delivery again, due now, with a fresh attempt
// count; its earlier attempts stay in the log.
func (s *Service) ResendDelivery(ctx context.Context, key kycreview.APIKey, destID, deliveryID string) (kycreview.Delivery, error) {
	id, ok := kycreview.CanonicalUUID(deliveryID)
	if !ok {
		return kycreview.Delivery{}, ErrDeliveryNotFound
	}
	var out kycreview.Delivery
	err := s.store.WriteTx(ctx, func(tx Tx) error {
		d, err := findDestination(ctx, tx, key.ApplicationID, destID)
		if err != nil {
			return err
		}
		out, err = tx.RequeueDelivery(ctx, d.PK, id, s.now().UTC())
		if kycreview.ErrorCode(err) == kycreview.ENOTFOUND {
			return ErrDeliveryNotFound
		} else if err != nil {
			return err
		}
		return s.remember(ctx, tx, out)
	})
	if err == nil {
		s.signalDeliveries()
	}
	return out, err
}

// ClaimDeliveries claims up to limit due deliveries for lease, for the
// dispatcher, under a fresh claim token.
func (s *Service) ClaimDeliveries(ctx context.Context, lease time.Duration, limit int) ([]kycreview.ClaimedDelivery, error) {
	now := s.now().UTC()
	claim := newID()
	var out []kycreview.ClaimedDelivery
	err := s.store.WriteTx(ctx, func(tx Tx) error {
		var err error
		out, err = tx.ClaimDeliveries(ctx, now, now.Add(lease), claim, limit)
		return err
	})
	return out, err
}

// AttemptResult is the outcome of one attempt, as the dispatcher reports it.
type AttemptResult struct {
	Delivery kycreview.ClaimedDelivery
	Attempt  kycreview.Attempt
	// Next is when to try again; zero when the schedule has run out (the
	// delivery then fails) or the attempt succeeded.
	Next time.Time
}

// RecordAttempts writes the outcomes of attempts in one transaction: each
// attempt is logged, and each delivery still under its claim moves to
// succeeded, failed or its next attempt. disableBefore disables the
// destinations failing without a break since before it (zero: never). It
// returns how many deliveries moved (the others' claims had expired and
// were taken over).
func (s *Service) RecordAttempts(ctx context.Context, results []AttemptResult, disableBefore time.Time) (int, error) {
	// Destinations in one order in every batch: two replicas recording
	// failures for the same destinations cannot then lock their rows in
	// opposite orders and deadlock.
	results = slices.Clone(results)
	slices.SortStableFunc(results, func(a, b AttemptResult) int {
		return cmp.Compare(a.Delivery.DestinationPK, b.Delivery.DestinationPK)
	})
	moved := 0
	err := s.store.WriteTx(ctx, func(tx Tx) error {
		moved = 0
		for _, r := range results {
			d := r.Delivery
			a := r.Attempt
			if a.ID == "" {
				a.ID = newID()
			}
			d.Attempts = a.Number
			done := a.StartedAt.Add(a.Latency)
			switch {
			case a.Succeeded():
				d.State, d.CompletedAt = kycreview.DeliverySucceeded, &done
			case r.Next.IsZero():
				d.State, d.CompletedAt = kycreview.DeliveryFailed, &done
			default:
				d.State, d.NextAttemptAt = kycreview.DeliveryPending, r.Next
			}
			ok, err := tx.RecordAttempt(ctx, d, &a, disableBefore)
			if err != nil {
				return err
			}
			if ok {
				moved++
			}
		}
		return nil
	})
	return moved, err
}

// DeliverySignal returns a channel that receives (without blocking the
// sender) whenever new deliveries may be due: after a review queued an
// event, or a resend. The dispatcher of this process waits on it between
// polls, so a delivery leaves within milliseconds of its commit.
func (s *Service) DeliverySignal() <-chan struct{} { return s.deliveries }

func (s *Service) signalDeliveries() {
	select {
	case s.deliveries <- struct{}{}:
	default:
	}
}
