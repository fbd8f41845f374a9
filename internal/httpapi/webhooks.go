package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/kycreview/kycreview"
)

// The webhook destination endpoints follow Didit's OpenAPI; the bodies are
// kycreview.DestinationView and kycreview.DeliveryView, which document the
// fields kycreview adds (disabled_reason, disabled_at, failing_since, and
// the delivery log, which Didit does not publish).

// getDestinations serves GET /v3/webhook/destinations/. Didit answers a
// bare array, oldest first, and clients iterate over it; so does this
// endpoint, unless the request has a positive limit, which gets DRF's
// limit/offset page instead. That is DRF's own rule for a
// LimitOffsetPagination without a default limit, so Didit's clients and
// clients that page both get what they expect.
func (s *Server) getDestinations(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	key := apiKey(ctx)
	params := parseQuery(r.URL.RawQuery)
	if !wantsPage(params) {
		var all []kycreview.Destination
		for {
			rows, count, err := s.svc.Destinations(ctx, key, maxLimit, len(all))
			if err != nil {
				return err
			}
			all = append(all, rows...)
			if len(rows) < maxLimit || len(all) >= count {
				break
			}
		}
		views := make([]kycreview.DestinationView, len(all))
		for i, d := range all {
			views[i] = kycreview.NewDestinationView(d, false)
		}
		s.writeJSON(w, http.StatusOK, views)
		return nil
	}
	p := parsePage(params)
	rows, count, err := s.svc.Destinations(ctx, key, p.limit, p.offset)
	if err != nil {
		return err
	}
	body := pageBody[kycreview.DestinationView]{Count: count, Results: make([]kycreview.DestinationView, len(rows))}
	for i, d := range rows {
		body.Results[i] = kycreview.NewDestinationView(d, false)
	}
	body.Next, body.Previous = pageLinks(s.requestBase(r), params, p, count)
	s.writeJSON(w, http.StatusOK, body)
	return nil
}

// wantsPage reports whether a list request asks for a page: DRF's
// LimitOffsetPagination with no default limit pages only when limit is a
// positive integer, and answers the whole list otherwise.
func wantsPage(params []queryParam) bool {
	v, ok := lastValue(params, "limit")
	if !ok {
		return false
	}
	n, ok := parsePyInt(v)
	return ok && n > 0
}

// postDestination serves POST /v3/webhook/destinations/: 201 with the
// destination and its secret_shared_key.
func (s *Server) postDestination(w http.ResponseWriter, r *http.Request) error {
	return answer(s, w, r, http.StatusCreated, destinationView, func(ctx context.Context) (kycreview.Destination, error) {
		body, err := s.readBody(w, r)
		if err != nil {
			return kycreview.Destination{}, err
		}
		in, err := decodeDestination(r.Header.Get("Content-Type"), body, true)
		if err != nil {
			return kycreview.Destination{}, err
		}
		return s.svc.CreateDestination(ctx, apiKey(ctx), in)
	})
}

// destinationView is a destination's detail, secret included, as its
// create and update answer it.
func destinationView(d kycreview.Destination) any { return kycreview.NewDestinationView(d, true) }

// getDestination serves GET /v3/webhook/destinations/{destination_uuid}/.
func (s *Server) getDestination(w http.ResponseWriter, r *http.Request) error {
	d, err := s.svc.Destination(r.Context(), apiKey(r.Context()), r.PathValue("destination_uuid"))
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, kycreview.NewDestinationView(d, true))
	return nil
}

// patchDestination serves PATCH /v3/webhook/destinations/{destination_uuid}/:
// a partial update; subscribed_events is replaced, never merged. DRF looks
// the destination up before it reads the body, so a destination that is
// not there is a 404 whatever the body holds; the body is read first all
// the same, before any transaction.
func (s *Server) patchDestination(w http.ResponseWriter, r *http.Request) error {
	return answer(s, w, r, http.StatusOK, destinationView, func(ctx context.Context) (kycreview.Destination, error) {
		key := apiKey(ctx)
		id := r.PathValue("destination_uuid")
		body, bodyErr := s.readBody(w, r)
		if bodyUnread(bodyErr) {
			return kycreview.Destination{}, bodyErr
		}
		if _, err := s.svc.Destination(ctx, key, id); err != nil {
			return kycreview.Destination{}, err
		}
		if bodyErr != nil {
			return kycreview.Destination{}, bodyErr
		}
		in, err := decodeDestination(r.Header.Get("Content-Type"), body, false)
		if err != nil {
			return kycreview.Destination{}, err
		}
		return s.svc.UpdateDestination(ctx, key, id, in)
	})
}

// deleteDestination serves DELETE /v3/webhook/destinations/{destination_uuid}/:
// a soft delete, 204. Its delivery log is kept, but no longer reachable
// through the API.
func (s *Server) deleteDestination(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.DeleteDestination(r.Context(), apiKey(r.Context()), r.PathValue("destination_uuid")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// getDeliveries serves GET /v3/webhook/destinations/{destination_uuid}/deliveries/:
// the delivery log, newest first, in DRF limit/offset pages, each delivery
// with every attempt.
func (s *Server) getDeliveries(w http.ResponseWriter, r *http.Request) error {
	params := parseQuery(r.URL.RawQuery)
	p := parsePage(params)
	rows, count, err := s.svc.Deliveries(r.Context(), apiKey(r.Context()), r.PathValue("destination_uuid"), p.limit, p.offset)
	if err != nil {
		return err
	}
	body := pageBody[kycreview.DeliveryView]{Count: count, Results: make([]kycreview.DeliveryView, len(rows))}
	for i, d := range rows {
		body.Results[i] = kycreview.NewDeliveryView(d)
	}
	body.Next, body.Previous = pageLinks(s.requestBase(r), params, p, count)
	s.writeJSON(w, http.StatusOK, body)
	return nil
}

// postResend serves POST /v3/webhook/destinations/{destination_uuid}/deliveries/{delivery_uuid}/resend/:
// the delivery is queued again, due now, and answered with 202 Accepted,
// since it is sent later, by the dispatcher. Any request body is ignored.
func (s *Server) postResend(w http.ResponseWriter, r *http.Request) error {
	return answer(s, w, r, http.StatusAccepted, deliveryView, func(ctx context.Context) (kycreview.Delivery, error) {
		return s.svc.ResendDelivery(ctx, apiKey(ctx), r.PathValue("destination_uuid"), r.PathValue("delivery_uuid"))
	})
}

func deliveryView(d kycreview.Delivery) any { return kycreview.NewDeliveryView(d) }

// decodeDestination reads a create (POST) or partial update (PATCH) body
// into the domain's input. This layer checks only the JSON types, as DRF's
// fields do before any validator runs; the values' rules (required fields,
// blank, lengths, the URL, the event names) are DestinationInput.Validate's,
// which the service applies. When a type is wrong the request fails here,
// with Validate's messages for the other fields merged in, so the answer
// lists every problem at once as DRF's does. (The merge runs Validate as if
// http were allowed: whether it is, is the service's setting, and the URL's
// scheme is reported once the types are right.)
func decodeDestination(contentType string, body []byte, create bool) (kycreview.DestinationInput, error) {
	fields, err := decodeObject(contentType, body)
	if err != nil {
		return kycreview.DestinationInput{}, err
	}
	f := newForm(fields)
	in := kycreview.DestinationInput{
		Label:            f.char("label", charOpts{allowBlank: true}),
		URL:              f.char("url", charOpts{allowBlank: true}),
		Enabled:          f.boolean("enabled", false),
		WebhookVersion:   f.choiceText("webhook_version", false),
		SubscribedEvents: f.charList("subscribed_events", false),
	}
	if f.err() == nil {
		return in, nil
	}
	if _, verr := in.Validate(create, true); verr != nil {
		var e *kycreview.Error
		if errors.As(verr, &e) {
			f.mergeFields(e.Fields)
		}
	}
	return kycreview.DestinationInput{}, f.err()
}
