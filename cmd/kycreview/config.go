package main

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kycreview/kycreview/internal/audit"
	"github.com/kycreview/kycreview/internal/notify"
	"github.com/kycreview/kycreview/internal/service"
	"github.com/kycreview/kycreview/internal/webhook"
)

// config is every setting, in one struct: defaults, then KYCREVIEW_*
// environment variables, then flags; validated before use.
type config struct {
	DB           string        // KYCREVIEW_DB, --db
	Addr         string        // KYCREVIEW_ADDR, --addr
	PublicURL    string        // KYCREVIEW_PUBLIC_URL, --public-url
	TrustProxy   bool          // KYCREVIEW_TRUST_PROXY_HEADERS, --trust-proxy-headers
	LogFormat    string        // KYCREVIEW_LOG_FORMAT: text, json or auto
	LogLevel     string        // KYCREVIEW_LOG_LEVEL: debug, info, warn, error
	MaxBodyBytes int64         // KYCREVIEW_MAX_BODY_BYTES
	PprofAddr    string        // KYCREVIEW_PPROF_ADDR: serve net/http/pprof there (loopback only); off when empty
	KeyCacheTTL  time.Duration // KYCREVIEW_KEY_CACHE_TTL, --key-cache-ttl: how long an authenticated key is remembered; 0 turns it off
	Metrics      bool          // KYCREVIEW_METRICS, --metrics: serve Prometheus metrics at GET /metrics
	MetricsAddr  string        // KYCREVIEW_METRICS_ADDR, --metrics-addr: serve them on a listener of their own instead

	// The HTTP server's limits (config_server.go).
	ReadHeaderTimeout time.Duration // KYCREVIEW_READ_HEADER_TIMEOUT, --read-header-timeout
	ReadTimeout       time.Duration // KYCREVIEW_READ_TIMEOUT, --read-timeout
	WriteTimeout      time.Duration // KYCREVIEW_WRITE_TIMEOUT, --write-timeout
	IdleTimeout       time.Duration // KYCREVIEW_IDLE_TIMEOUT, --idle-timeout
	MaxHeaderBytes    int           // KYCREVIEW_MAX_HEADER_BYTES, --max-header-bytes

	// Per-key rate limits per process (SPEC §7); 0 turns one off.
	RateLimitGet   int // KYCREVIEW_RATE_LIMIT_GET, --rate-limit-get: reads per sliding minute
	RateLimitWrite int // KYCREVIEW_RATE_LIMIT_WRITE, --rate-limit-write: writes per sliding minute

	// Webhooks.
	WebhookDispatch     bool          // KYCREVIEW_WEBHOOK_DISPATCH, --webhook-dispatch: run a dispatcher in this process
	WebhookAllowHTTP    bool          // KYCREVIEW_WEBHOOK_ALLOW_HTTP, --webhook-allow-http: accept http:// destinations
	WebhookAllow        string        // KYCREVIEW_WEBHOOK_ALLOW, --webhook-allow: comma-separated CIDRs, IPs, host[:port] exempt from the SSRF guard
	WebhookTimeout      time.Duration // KYCREVIEW_WEBHOOK_TIMEOUT, --webhook-timeout: one attempt, connect to last byte
	WebhookRetries      string        // KYCREVIEW_WEBHOOK_RETRIES, --webhook-retries: the retry delays, e.g. 5s,5m,30m,2h,5h,10h*7
	WebhookDisableAfter time.Duration // KYCREVIEW_WEBHOOK_DISABLE_AFTER, --webhook-disable-after: disable a destination failing this long (0: never)
	WebhookWorkers      int           // KYCREVIEW_WEBHOOK_WORKERS, --webhook-workers: attempts in flight at once

	// Notification emails. Without a host no email is sent: notifications
	// wait (and show in the console) until a server is configured.
	SMTPHost     string        // KYCREVIEW_SMTP_HOST, --smtp-host
	SMTPPort     int           // KYCREVIEW_SMTP_PORT, --smtp-port: 0 is the TLS mode's usual port
	SMTPUsername string        // KYCREVIEW_SMTP_USERNAME, --smtp-username: empty, no authentication
	SMTPPassword string        // KYCREVIEW_SMTP_PASSWORD only: a flag would show in the process list
	SMTPFrom     string        // KYCREVIEW_SMTP_FROM, --smtp-from: the sender, "Name <address>" or an address
	SMTPTLS      string        // KYCREVIEW_SMTP_TLS, --smtp-tls: none, starttls or tls
	SMTPTimeout  time.Duration // KYCREVIEW_SMTP_TIMEOUT, --smtp-timeout: connecting, and each exchange

	// The audit trail (audit.go).
	AuditKeyFile            string        // KYCREVIEW_AUDIT_KEY_FILE, --audit-key-file: Ed25519 checkpoint key (PEM); none: proofs unsigned, no checkpoints
	AuditCheckpointInterval time.Duration // KYCREVIEW_AUDIT_CHECKPOINT_INTERVAL, --audit-checkpoint-interval: how often serve signs changed chains (0: never)

	// The reviewers' console (config_console.go).
	ConsoleSecureCookies string        // KYCREVIEW_CONSOLE_SECURE_COOKIES, --console-secure-cookies: auto, always or never
	ConsoleSessionTTL    time.Duration // KYCREVIEW_CONSOLE_SESSION_TTL, --console-session-ttl: how long a sign-in lasts

	// Idempotency keys (idempotency.go).
	IdempotencyTTL time.Duration // KYCREVIEW_IDEMPOTENCY_TTL, --idempotency-ttl: how long a key is kept (at least 24h)
}

// defaultDB is the SQLite file serve and the admin commands share when
// neither --db nor KYCREVIEW_DB is given.
const defaultDB = "sqlite:kycreview.db"

func defaultConfig() config {
	return config{
		DB:           defaultDB,
		Addr:         "127.0.0.1:8080",
		LogFormat:    "auto",
		LogLevel:     "info",
		MaxBodyBytes: 1 << 20,
		KeyCacheTTL:  time.Second,
		Metrics:      true,

		ReadHeaderTimeout: defaultReadHeaderTimeout,
		ReadTimeout:       defaultReadTimeout,
		WriteTimeout:      defaultWriteTimeout,
		IdleTimeout:       defaultIdleTimeout,
		MaxHeaderBytes:    defaultMaxHeaderBytes,

		RateLimitGet:   600,
		RateLimitWrite: 300,

		WebhookDispatch:     true,
		WebhookTimeout:      webhook.DefaultTimeout,
		WebhookRetries:      webhook.DefaultRetryDelays,
		WebhookDisableAfter: webhook.DefaultDisableAfter,
		WebhookWorkers:      webhook.DefaultWorkers,

		SMTPTLS:     string(notify.TLSStartTLS),
		SMTPTimeout: notify.DefaultSMTPTimeout,

		AuditCheckpointInterval: audit.DefaultInterval,

		ConsoleSecureCookies: "auto",
		ConsoleSessionTTL:    12 * time.Hour,

		IdempotencyTTL: service.DefaultIdempotencyTTL,
	}
}

func (c *config) fromEnv(getenv func(string) string) error {
	set := func(dst *string, name string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	set(&c.DB, "KYCREVIEW_DB")
	set(&c.Addr, "KYCREVIEW_ADDR")
	set(&c.PublicURL, "KYCREVIEW_PUBLIC_URL")
	set(&c.LogFormat, "KYCREVIEW_LOG_FORMAT")
	set(&c.LogLevel, "KYCREVIEW_LOG_LEVEL")
	set(&c.PprofAddr, "KYCREVIEW_PPROF_ADDR")
	set(&c.MetricsAddr, "KYCREVIEW_METRICS_ADDR")
	if v := getenv("KYCREVIEW_TRUST_PROXY_HEADERS"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return &usageError{fmt.Sprintf("KYCREVIEW_TRUST_PROXY_HEADERS must be true or false, not %q", v)}
		}
		c.TrustProxy = b
	}
	if v := getenv("KYCREVIEW_KEY_CACHE_TTL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return &usageError{fmt.Sprintf("KYCREVIEW_KEY_CACHE_TTL must be a duration such as 1s or 0, not %q", v)}
		}
		c.KeyCacheTTL = d
	}
	set(&c.WebhookAllow, "KYCREVIEW_WEBHOOK_ALLOW")
	set(&c.WebhookRetries, "KYCREVIEW_WEBHOOK_RETRIES")
	set(&c.AuditKeyFile, "KYCREVIEW_AUDIT_KEY_FILE")
	for name, dst := range map[string]*bool{
		"KYCREVIEW_WEBHOOK_DISPATCH":   &c.WebhookDispatch,
		"KYCREVIEW_WEBHOOK_ALLOW_HTTP": &c.WebhookAllowHTTP,
		"KYCREVIEW_METRICS":            &c.Metrics,
	} {
		if v := getenv(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return &usageError{fmt.Sprintf("%s must be true or false, not %q", name, v)}
			}
			*dst = b
		}
	}
	for name, dst := range map[string]*time.Duration{
		"KYCREVIEW_WEBHOOK_TIMEOUT":           &c.WebhookTimeout,
		"KYCREVIEW_WEBHOOK_DISABLE_AFTER":     &c.WebhookDisableAfter,
		"KYCREVIEW_AUDIT_CHECKPOINT_INTERVAL": &c.AuditCheckpointInterval,
	} {
		if v := getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return &usageError{fmt.Sprintf("%s must be a duration such as 5s, not %q", name, v)}
			}
			*dst = d
		}
	}
	for name, dst := range map[string]*int{
		"KYCREVIEW_RATE_LIMIT_GET":   &c.RateLimitGet,
		"KYCREVIEW_RATE_LIMIT_WRITE": &c.RateLimitWrite,
	} {
		if v := getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return &usageError{fmt.Sprintf("%s must be a number of requests per minute (0: no limit), not %q", name, v)}
			}
			*dst = n
		}
	}
	if v := getenv("KYCREVIEW_WEBHOOK_WORKERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return &usageError{fmt.Sprintf("KYCREVIEW_WEBHOOK_WORKERS must be a number, not %q", v)}
		}
		c.WebhookWorkers = n
	}
	if err := c.consoleFromEnv(getenv); err != nil {
		return err
	}
	if err := c.idempotencyFromEnv(getenv); err != nil {
		return err
	}
	if err := c.serverFromEnv(getenv); err != nil {
		return err
	}
	if err := c.smtpFromEnv(getenv); err != nil {
		return err
	}
	if v := getenv("KYCREVIEW_MAX_BODY_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return &usageError{fmt.Sprintf("KYCREVIEW_MAX_BODY_BYTES must be a positive number of bytes, not %q", v)}
		}
		c.MaxBodyBytes = n
	}
	return nil
}

// validate checks the settings serve uses.
func (c *config) validate() error {
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return &usageError{fmt.Sprintf("public URL %q must be an absolute http(s) URL without query or fragment", c.PublicURL)}
		}
	}
	if c.PprofAddr != "" {
		host, _, err := net.SplitHostPort(c.PprofAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			return &usageError{fmt.Sprintf("KYCREVIEW_PPROF_ADDR %q must be a loopback address such as 127.0.0.1:6060: profiles expose memory contents", c.PprofAddr)}
		}
	}
	if c.MetricsAddr != "" {
		if !c.Metrics {
			return &usageError{"--metrics-addr needs metrics on (--metrics=false turns them off)"}
		}
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			return &usageError{fmt.Sprintf("metrics address %q must be host:port, e.g. 127.0.0.1:9090", c.MetricsAddr)}
		}
	}
	if c.KeyCacheTTL < 0 || c.KeyCacheTTL > time.Minute {
		return &usageError{fmt.Sprintf("key cache TTL %s must be between 0 and 1m: it is how long a revoked key may still be accepted", c.KeyCacheTTL)}
	}
	if c.RateLimitGet < 0 || c.RateLimitWrite < 0 || c.RateLimitGet > 1e6 || c.RateLimitWrite > 1e6 {
		return &usageError{fmt.Sprintf("rate limits %d/%d must be between 0 (off) and 1000000 per minute", c.RateLimitGet, c.RateLimitWrite)}
	}
	if c.WebhookTimeout <= 0 || c.WebhookTimeout > 5*time.Minute {
		return &usageError{fmt.Sprintf("webhook timeout %s must be between 0 and 5m", c.WebhookTimeout)}
	}
	if c.WebhookDisableAfter < 0 {
		return &usageError{fmt.Sprintf("webhook disable-after %s must not be negative", c.WebhookDisableAfter)}
	}
	if c.WebhookWorkers < 1 || c.WebhookWorkers > 4096 {
		return &usageError{fmt.Sprintf("webhook workers %d must be between 1 and 4096", c.WebhookWorkers)}
	}
	if _, err := webhook.ParseDelays(c.WebhookRetries); err != nil {
		return &usageError{fmt.Sprintf("webhook retries %q: %v", c.WebhookRetries, err)}
	}
	if err := c.validateConsole(); err != nil {
		return err
	}
	if err := c.validateIdempotency(); err != nil {
		return err
	}
	if err := c.validateServer(); err != nil {
		return err
	}
	if err := c.validateSMTP(); err != nil {
		return err
	}
	switch c.LogFormat {
	case "auto", "text", "json":
	default:
		return &usageError{fmt.Sprintf("log format %q must be auto, text or json", c.LogFormat)}
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		return &usageError{fmt.Sprintf("log level %q must be debug, info, warn or error", c.LogLevel)}
	}
	return nil
}
