package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/kycreview/kycreview/internal/console"
)

// consoleFromEnv reads the KYCREVIEW_CONSOLE_* variables.
func (c *config) consoleFromEnv(getenv func(string) string) error {
	if v := getenv("KYCREVIEW_CONSOLE_SECURE_COOKIES"); v != "" {
		c.ConsoleSecureCookies = v
	}
	if v := getenv("KYCREVIEW_CONSOLE_SESSION_TTL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return &usageError{fmt.Sprintf("KYCREVIEW_CONSOLE_SESSION_TTL must be a duration such as 12h, not %q", v)}
		}
		c.ConsoleSessionTTL = d
	}
	return nil
}

// consoleFlags binds serve's console flags.
func consoleFlags(fs *flag.FlagSet, cfg *config) {
	fs.StringVar(&cfg.ConsoleSecureCookies, "console-secure-cookies", cfg.ConsoleSecureCookies,
		"mark console cookies Secure: auto (under HTTPS: TLS, or X-Forwarded-Proto: https with --trust-proxy-headers), always or never")
	fs.DurationVar(&cfg.ConsoleSessionTTL, "console-session-ttl", cfg.ConsoleSessionTTL, "how long a console sign-in lasts")
}

// validateConsole checks the console's settings.
func (c *config) validateConsole() error {
	switch console.CookieSecure(c.ConsoleSecureCookies) {
	case console.CookieSecureAuto, console.CookieSecureAlways, console.CookieSecureNever:
	default:
		return &usageError{fmt.Sprintf("console secure cookies %q must be auto, always or never", c.ConsoleSecureCookies)}
	}
	if c.ConsoleSessionTTL < time.Minute || c.ConsoleSessionTTL > 30*24*time.Hour {
		return &usageError{fmt.Sprintf("console session TTL %s must be between 1m and 720h", c.ConsoleSessionTTL)}
	}
	return nil
}

// consoleConfig is the console's configuration.
func (c *config) consoleConfig() console.Config {
	return console.Config{
		CookieSecure:          console.CookieSecure(c.ConsoleSecureCookies),
		TrustForwardedHeaders: c.TrustProxy,
		SessionTTL:            c.ConsoleSessionTTL,
	}
}
