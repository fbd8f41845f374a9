package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
)

// The webhooks commands give an operator what the API gives a customer:
// the destinations, the delivery log with every attempt, and resend. They
// print the API's JSON shapes (kycreview.DestinationView and DeliveryView)
// inside one object, as every admin command prints one object.

// maxLogPage is the largest --limit of webhooks deliveries, the API's
// maximum page size.
const maxLogPage = 1000

// withApplication is withService for commands that act for one
// application: it checks that the application exists, so a mistyped id is
// an error rather than an empty list, and passes a key of that application
// for the service's per-application calls.
func withApplication(ctx context.Context, cfg config, appID string, fn func(*service.Service, kycreview.APIKey) error) error {
	id, ok := kycreview.CanonicalUUID(appID)
	if !ok {
		return kycreview.Errorf(kycreview.ENOTFOUND, "application not found")
	}
	store, err := openStore(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.ReadTx(ctx, func(tx service.Tx) error {
		_, err := tx.FindApplication(ctx, id)
		return err
	}); err != nil {
		return err
	}
	return fn(service.New(store, time.Now), kycreview.APIKey{ApplicationID: id, Role: kycreview.RoleClient})
}

// webhooksDestinations prints an application's destinations, oldest first,
// without their secrets (as the API's list does).
func webhooksDestinations(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	fs := newFlags("webhooks destinations", &cfg)
	app := fs.String("app", "", "application id")
	if err := parseFlags(fs, args, "app"); err != nil {
		return err
	}
	return withApplication(ctx, cfg, *app, func(svc *service.Service, key kycreview.APIKey) error {
		var all []kycreview.Destination
		for {
			rows, count, err := svc.Destinations(ctx, key, maxLogPage, len(all))
			if err != nil {
				return err
			}
			all = append(all, rows...)
			if len(rows) < maxLogPage || len(all) >= count {
				break
			}
		}
		views := make([]kycreview.DestinationView, len(all))
		for i, d := range all {
			views[i] = kycreview.NewDestinationView(d, false)
		}
		return printJSON(stdout, map[string]any{"application_id": key.ApplicationID, "count": len(views), "destinations": views})
	})
}

// webhooksDeliveries prints a page of a destination's delivery log, newest
// first, each delivery with every attempt.
func webhooksDeliveries(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	fs := newFlags("webhooks deliveries", &cfg)
	app := fs.String("app", "", "application id")
	dest := fs.String("destination", "", "destination id")
	limit := fs.Int("limit", 50, "deliveries to print, newest first (at most 1000)")
	offset := fs.Int("offset", 0, "deliveries to skip")
	if err := parseFlags(fs, args, "app", "destination"); err != nil {
		return err
	}
	if *limit < 1 || *limit > maxLogPage {
		return &usageError{fmt.Sprintf("webhooks deliveries: --limit must be between 1 and %d, not %d", maxLogPage, *limit)}
	}
	if *offset < 0 {
		return &usageError{fmt.Sprintf("webhooks deliveries: --offset must not be negative, not %d", *offset)}
	}
	return withApplication(ctx, cfg, *app, func(svc *service.Service, key kycreview.APIKey) error {
		rows, count, err := svc.Deliveries(ctx, key, *dest, *limit, *offset)
		if err != nil {
			return err
		}
		views := make([]kycreview.DeliveryView, len(rows))
		for i, d := range rows {
			views[i] = kycreview.NewDeliveryView(d)
		}
		return printJSON(stdout, map[string]any{
			"destination_id": *dest, "count": count, "limit": *limit, "offset": *offset, "deliveries": views,
		})
	})
}

// webhooksResend queues a delivery again, due at once. A running server's
// dispatcher picks it up at its next poll.
func webhooksResend(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	fs := newFlags("webhooks resend", &cfg)
	app := fs.String("app", "", "application id")
	dest := fs.String("destination", "", "destination id")
	delivery := fs.String("delivery", "", "delivery id")
	if err := parseFlags(fs, args, "app", "destination", "delivery"); err != nil {
		return err
	}
	return withApplication(ctx, cfg, *app, func(svc *service.Service, key kycreview.APIKey) error {
		d, err := svc.ResendDelivery(ctx, key, *dest, *delivery)
		if err != nil {
			return err
		}
		return printJSON(stdout, map[string]any{"resent": true, "delivery": kycreview.NewDeliveryView(d)})
	})
}
