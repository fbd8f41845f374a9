package main

import (
	"fmt"
	"net/mail"
	"strconv"
	"time"

	"github.com/kycreview/kycreview/internal/notify"
)

// smtpFromEnv reads the KYCREVIEW_SMTP_* variables.
func (c *config) smtpFromEnv(getenv func(string) string) error {
	for name, dst := range map[string]*string{
		"KYCREVIEW_SMTP_HOST":     &c.SMTPHost,
		"KYCREVIEW_SMTP_USERNAME": &c.SMTPUsername,
		"KYCREVIEW_SMTP_PASSWORD": &c.SMTPPassword,
		"KYCREVIEW_SMTP_FROM":     &c.SMTPFrom,
		"KYCREVIEW_SMTP_TLS":      &c.SMTPTLS,
	} {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	if v := getenv("KYCREVIEW_SMTP_PORT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return &usageError{fmt.Sprintf("KYCREVIEW_SMTP_PORT must be a port number, not %q", v)}
		}
		c.SMTPPort = n
	}
	if v := getenv("KYCREVIEW_SMTP_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return &usageError{fmt.Sprintf("KYCREVIEW_SMTP_TIMEOUT must be a duration such as 30s, not %q", v)}
		}
		c.SMTPTimeout = d
	}
	return nil
}

// validateSMTP checks the email settings; without a host only their form
// is checked, since nothing is sent.
func (c *config) validateSMTP() error {
	if _, err := notify.ParseTLSMode(c.SMTPTLS); err != nil {
		return &usageError{fmt.Sprintf("smtp: %v", err)}
	}
	if c.SMTPPort < 0 || c.SMTPPort > 65535 {
		return &usageError{fmt.Sprintf("smtp port %d must be between 1 and 65535 (0: the TLS mode's usual port)", c.SMTPPort)}
	}
	if c.SMTPTimeout <= 0 || c.SMTPTimeout > 5*time.Minute {
		return &usageError{fmt.Sprintf("smtp timeout %s must be between 0 and 5m", c.SMTPTimeout)}
	}
	if c.SMTPHost == "" {
		return nil
	}
	if c.SMTPFrom == "" {
		return &usageError{"KYCREVIEW_SMTP_FROM (--smtp-from) is required with an SMTP host: the address notifications come from"}
	}
	if _, err := mail.ParseAddress(c.SMTPFrom); err != nil {
		return &usageError{fmt.Sprintf("smtp from %q is not an email address: %v", c.SMTPFrom, err)}
	}
	if c.SMTPPassword != "" && c.SMTPUsername == "" {
		return &usageError{"KYCREVIEW_SMTP_PASSWORD is set without KYCREVIEW_SMTP_USERNAME (--smtp-username)"}
	}
	return nil
}

// smtpConfig is the notifier's SMTP configuration.
func (c *config) smtpConfig() notify.SMTPConfig {
	return notify.SMTPConfig{
		Host: c.SMTPHost, Port: c.SMTPPort, TLS: notify.TLSMode(c.SMTPTLS),
		Username: c.SMTPUsername, Password: c.SMTPPassword, From: c.SMTPFrom, Timeout: c.SMTPTimeout,
	}
}
