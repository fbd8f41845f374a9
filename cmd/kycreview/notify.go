package main

import (
	"context"
	"flag"
	"log/slog"
	"time"

	"github.com/kycreview/kycreview/internal/notify"
	"github.com/kycreview/kycreview/internal/service"
)

// smtpFlags binds serve's email flags. The password has no flag: it would
// show in the process list; it comes from KYCREVIEW_SMTP_PASSWORD only.
func smtpFlags(fs *flag.FlagSet, cfg *config) {
	fs.StringVar(&cfg.SMTPHost, "smtp-host", cfg.SMTPHost, "SMTP server for notification emails (none: notifications wait)")
	fs.IntVar(&cfg.SMTPPort, "smtp-port", cfg.SMTPPort, "SMTP port (0: 25, 587 or 465 by --smtp-tls)")
	fs.StringVar(&cfg.SMTPUsername, "smtp-username", cfg.SMTPUsername, "SMTP user name (password: $KYCREVIEW_SMTP_PASSWORD)")
	fs.StringVar(&cfg.SMTPFrom, "smtp-from", cfg.SMTPFrom, `sender of notification emails, e.g. "kycreview <kyc@example.com>"`)
	fs.StringVar(&cfg.SMTPTLS, "smtp-tls", cfg.SMTPTLS, "none, starttls or tls")
	fs.DurationVar(&cfg.SMTPTimeout, "smtp-timeout", cfg.SMTPTimeout, "time limit to connect to the SMTP server, and of each exchange")
}

// backlogEvery is how often serve logs a notification backlog.
const backlogEvery = time.Minute

// startNotifier starts delivering notification emails, with links to the
// console under publicURL, and returns the function that stops it and waits
// (serve calls it after the HTTP server has drained, before the database
// closes). It runs until ctx, serve's context of the workers, ends or stop
// is called. Without an SMTP host nothing is sent: notifications wait, and
// their backlog is logged every minute as a warning.
func startNotifier(ctx context.Context, cfg config, svc *service.Service, publicURL string, log *slog.Logger, sends notify.SendObserver) (stop func(), err error) {
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	if cfg.SMTPHost == "" {
		log.Warn("notification emails are off: SMTP is not configured (KYCREVIEW_SMTP_HOST); notifications wait, none is dropped")
		go func() {
			defer close(done)
			notify.ReportBacklog(runCtx, svc, backlogEvery, log, slog.LevelWarn, "SMTP is not configured")
		}()
		return func() { cancel(); <-done }, nil
	}
	sender, err := notify.NewSMTPSender(cfg.smtpConfig())
	if err != nil {
		cancel()
		return nil, &usageError{err.Error()}
	}
	if cfg.PublicURL == "" {
		log.Warn("--public-url is not set: notification emails link to the listen address", "link_base", publicURL)
	}
	n := &notify.Notifier{
		Svc: svc, Sender: sender, PublicURL: publicURL,
		Lease: notify.LeaseFor(cfg.SMTPTimeout), BacklogEvery: backlogEvery, Log: log, Metrics: sends,
	}
	log.Info("notification emails on", "smtp_host", cfg.SMTPHost, "smtp_tls", cfg.SMTPTLS)
	go func() { defer close(done); _ = n.Run(runCtx) }()
	return func() { cancel(); <-done }, nil
}
