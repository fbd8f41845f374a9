package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	netmail "net/mail"
	"time"

	"github.com/wneessen/go-mail"
)

// TLSMode is how the connection to the SMTP server is secured.
type TLSMode string

// The TLS modes: none sends in the clear (a mail catcher on this machine),
// starttls upgrades a plain connection and refuses servers that cannot
// (port 587), tls speaks TLS from the first byte (port 465).
const (
	TLSNone     TLSMode = "none"
	TLSStartTLS TLSMode = "starttls"
	TLSImplicit TLSMode = "tls"
)

// ParseTLSMode reads a TLS mode's name.
func ParseTLSMode(s string) (TLSMode, error) {
	switch m := TLSMode(s); m {
	case TLSNone, TLSStartTLS, TLSImplicit:
		return m, nil
	}
	return "", fmt.Errorf("TLS mode %q must be none, starttls or tls", s)
}

// DefaultPort is the usual port of the mode: 25 in the clear, 587 for
// STARTTLS (submission), 465 for implicit TLS (submissions).
func (m TLSMode) DefaultPort() int {
	switch m {
	case TLSImplicit:
		return 465
	case TLSStartTLS:
		return 587
	}
	return 25
}

// DefaultSMTPTimeout bounds connecting to the server and each exchange
// with it.
const DefaultSMTPTimeout = 30 * time.Second

// SMTPConfig is where and how to send.
type SMTPConfig struct {
	Host     string
	Port     int // 0: the TLS mode's default port
	TLS      TLSMode
	Username string // empty: no authentication
	Password string
	From     string // an address, optionally with a name: "kycreview <kyc@example.com>"
	Timeout  time.Duration
	// TLSConfig overrides the TLS settings (tests trust their own
	// certificate with it). nil: the system's roots, the host's name, TLS
	// 1.2 or later.
	TLSConfig *tls.Config
	// HELO is the name this client gives in EHLO; empty: the machine's
	// host name.
	HELO string
}

// SMTPSender sends messages over SMTP with go-mail, one connection per
// message: mention emails are few, and a fresh connection never finds a
// stale one the server has dropped.
type SMTPSender struct {
	cfg  SMTPConfig
	from *netmail.Address
	opts []mail.Option
}

// NewSMTPSender checks cfg and returns a sender for it.
func NewSMTPSender(cfg SMTPConfig) (*SMTPSender, error) {
	if cfg.Host == "" {
		return nil, errors.New("smtp: no host")
	}
	if _, err := ParseTLSMode(string(cfg.TLS)); err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	from, err := netmail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("smtp: from address %q: %w", cfg.From, err)
	}
	if cfg.Port == 0 {
		cfg.Port = cfg.TLS.DefaultPort()
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultSMTPTimeout
	}
	opts := []mail.Option{mail.WithPort(cfg.Port), mail.WithTimeout(cfg.Timeout)}
	switch cfg.TLS {
	case TLSNone:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	case TLSStartTLS:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case TLSImplicit:
		opts = append(opts, mail.WithSSL())
	}
	if cfg.TLSConfig != nil {
		opts = append(opts, mail.WithTLSConfig(cfg.TLSConfig))
	}
	if cfg.HELO != "" {
		opts = append(opts, mail.WithHELO(cfg.HELO))
	}
	if cfg.Username != "" {
		auth := mail.SMTPAuthAutoDiscover // the strongest mechanism the server offers
		if cfg.TLS == TLSNone {
			// The operator chose a clear-text connection: PLAIN is what a
			// local relay or mail catcher takes there (go-mail refuses it
			// unencrypted otherwise).
			auth = mail.SMTPAuthPlainNoEnc
		}
		opts = append(opts, mail.WithSMTPAuth(auth), mail.WithUsername(cfg.Username), mail.WithPassword(cfg.Password))
	}
	return &SMTPSender{cfg: cfg, from: from, opts: opts}, nil
}

// Send sends m. A refusal of the message itself comes back as a
// *mail.SendError (see Permanent).
func (s *SMTPSender) Send(ctx context.Context, m Message) error {
	msg := mail.NewMsg()
	if err := msg.FromFormat(s.from.Name, s.from.Address); err != nil {
		return err
	}
	if err := msg.AddToFormat(m.ToName, m.To); err != nil {
		return err
	}
	msg.Subject(m.Subject)
	msg.SetMessageID()
	msg.SetDate()
	msg.SetUserAgent("kycreview")
	// RFC 3834: an automatic message; auto-responders should not answer.
	msg.SetGenHeader(mail.Header("Auto-Submitted"), "auto-generated")
	msg.SetBodyString(mail.TypeTextPlain, m.Text)
	msg.AddAlternativeString(mail.TypeTextHTML, m.HTML)

	c, err := mail.NewClient(s.cfg.Host, s.opts...)
	if err != nil {
		return err
	}
	conn, err := c.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return fmt.Errorf("connect to %s:%d: %w", s.cfg.Host, s.cfg.Port, err)
	}
	// Once the server has accepted the message, a failing QUIT changes
	// nothing: its error is not the send's.
	defer func() { _ = c.CloseWithSMTPClient(conn) }()
	return c.SendWithSMTPClient(conn, msg)
}

// Permanent reports whether err is the SMTP server's permanent refusal of
// the message (a 5xx reply to MAIL, RCPT or DATA): sending it again would
// fail the same way. Everything else (4xx replies, connection and TLS
// errors, timeouts, refused authentication, which is the operator's to
// fix) is worth retrying.
func Permanent(err error) bool {
	var se *mail.SendError
	if !errors.As(err, &se) {
		return false
	}
	code := se.ErrorCode()
	return code >= 500 && code < 600
}
