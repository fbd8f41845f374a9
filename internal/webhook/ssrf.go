package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kycreview/kycreview"
)

// Resolver looks up the addresses of a host name. *net.Resolver is one;
// tests pass their own.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Messages for the url field when the guard refuses a destination. They
// name no address: the API must not become a way to probe the server's
// internal DNS.
const (
	msgURLBlocked    = "URLs that point to loopback, private, link-local or other reserved addresses are not allowed."
	msgURLUnresolved = "The URL's host name could not be resolved."
	msgURLLookup     = "The URL's host name could not be looked up; try again later."
)

// BlockedError reports a destination address the guard refuses.
type BlockedError struct {
	Host   string     // the host name or address as the URL or dial gave it
	Addr   netip.Addr // the address refused; invalid when refused by name
	Reason string     // e.g. "loopback", "private", "cloud metadata"
}

// Error implements the error interface.
func (e *BlockedError) Error() string {
	if !e.Addr.IsValid() {
		return fmt.Sprintf("webhook: %s is a %s name, which is not allowed", e.Host, e.Reason)
	}
	if e.Host != "" && e.Host != e.Addr.String() {
		return fmt.Sprintf("webhook: %s resolves to %s, a %s address, which is not allowed", e.Host, e.Addr, e.Reason)
	}
	return fmt.Sprintf("webhook: %s is a %s address, which is not allowed", e.Addr, e.Reason)
}

// Guard keeps deliveries away from the server's own network (SSRF): it
// refuses loopback, private, link-local, cloud-metadata and other
// non-public addresses, unless the operator allowed them.
//
// It checks twice. CheckURL runs when a destination is saved and resolves
// its host, so the customer learns at once. Control runs inside every
// connect, on the address actually dialled, so a name that resolved to a
// public address at save time and to 127.0.0.1 now (DNS rebinding, or a
// plain change) is still refused.
//
// A Guard is safe for concurrent use.
type Guard struct {
	resolver Resolver
	prefixes []allowedPrefix
	hosts    []allowedHost
}

type allowedPrefix struct {
	prefix netip.Prefix
	port   uint16 // 0: any port
}

type allowedHost struct {
	name string // lower case, no trailing dot
	port uint16 // 0: any port
}

// NewGuard returns a guard that lets through the addresses in allow, and
// resolves names with r (net.DefaultResolver if nil). Each entry of allow
// is one of:
//
//	10.0.0.0/8          a CIDR prefix, any port
//	127.0.0.1  ::1      one address, any port
//	127.0.0.1:8080      one address and port ([::1]:8080 for IPv6)
//	receiver.test       a host name, any port: the name is trusted whatever
//	receiver.test:8443  it resolves to (the port, if given, must match)
//
// An IPv4 entry also covers the address's IPv4-mapped IPv6 form.
func NewGuard(allow []string, r Resolver) (*Guard, error) {
	g := &Guard{resolver: r}
	if g.resolver == nil {
		g.resolver = net.DefaultResolver
	}
	for _, raw := range allow {
		e := strings.TrimSpace(raw)
		if p, err := netip.ParsePrefix(e); err == nil {
			g.prefixes = append(g.prefixes, allowedPrefix{prefix: unmapPrefix(p.Masked())})
		} else if a, err := netip.ParseAddr(e); err == nil {
			g.prefixes = append(g.prefixes, allowedPrefix{prefix: hostPrefix(a)})
		} else if ap, err := netip.ParseAddrPort(e); err == nil && ap.Port() != 0 {
			g.prefixes = append(g.prefixes, allowedPrefix{prefix: hostPrefix(ap.Addr()), port: ap.Port()})
		} else if h, ok := parseAllowedHost(e); ok {
			g.hosts = append(g.hosts, h)
		} else {
			return nil, fmt.Errorf("webhook: SSRF allowlist entry %q is not a CIDR prefix, address, host name or host:port", raw)
		}
	}
	return g, nil
}

func hostPrefix(a netip.Addr) netip.Prefix {
	a = a.WithZone("").Unmap()
	return netip.PrefixFrom(a, a.BitLen())
}

// unmapPrefix turns ::ffff:a.b.c.d/n (n >= 96) into a.b.c.d/(n-96), so
// that it matches unmapped addresses.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p
}

func parseAllowedHost(e string) (allowedHost, bool) {
	name, port := e, uint16(0)
	if h, p, err := net.SplitHostPort(e); err == nil {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return allowedHost{}, false
		}
		name, port = h, uint16(n)
	}
	name = normalizeName(name)
	if name == "" || strings.ContainsAny(name, "/:[]@ \t") {
		return allowedHost{}, false
	}
	return allowedHost{name: name, port: port}, true
}

func normalizeName(s string) string { return strings.TrimSuffix(strings.ToLower(s), ".") }

// CheckURL checks, at save time, that the destination URL raw (already
// valid by kycreview.ValidateDestinationURL) may be delivered to: its host
// is allowed by name, or every address it resolves to is public or
// allowed. A refusal is an EINVALID *kycreview.Error with a message on
// "url" (errors.As also finds the *BlockedError for the log); a lookup that
// failed for another reason than "no such host" is EUNAVAILABLE, since it
// may work on a retry. Bound the lookup's time with ctx.
func (g *Guard) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return urlError(msgURLBlocked, fmt.Errorf("webhook: bad URL %q", raw))
	}
	host := u.Hostname()
	port := uint16(443)
	if u.Scheme == "http" {
		port = 80
	}
	if p := u.Port(); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil {
			return urlError(msgURLBlocked, fmt.Errorf("webhook: bad port in %q", raw))
		}
		port = uint16(n)
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if err := g.check(host, netip.AddrPortFrom(a, port)); err != nil {
			return urlError(msgURLBlocked, err)
		}
		return nil
	}
	if g.hostAllowed(host, port) {
		return nil
	}
	if reason := blockedName(host); reason != "" {
		return urlError(msgURLBlocked, &BlockedError{Host: host, Reason: reason})
	}
	addrs, err := g.resolver.LookupNetIP(ctx, "ip", host)
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return urlError(msgURLUnresolved, err)
	case err == nil && len(addrs) == 0:
		return urlError(msgURLUnresolved, fmt.Errorf("webhook: %s has no addresses", host))
	case err != nil:
		return kycreview.WrapError(kycreview.EUNAVAILABLE, msgURLLookup, err)
	}
	// The dialer may pick any of the addresses, so all must pass.
	for _, a := range addrs {
		if err := g.check(host, netip.AddrPortFrom(a, port)); err != nil {
			return urlError(msgURLBlocked, err)
		}
	}
	return nil
}

// fieldError is a DRF field error on "url" that keeps its cause for the log.
type fieldError struct {
	err   *kycreview.Error
	cause error
}

func urlError(msg string, cause error) error {
	return &fieldError{err: kycreview.FieldErrors(map[string][]string{"url": {msg}}), cause: cause}
}

func (e *fieldError) Error() string   { return e.err.Error() + " (" + e.cause.Error() + ")" }
func (e *fieldError) Unwrap() []error { return []error{e.err, e.cause} }

// CheckAddr returns a *BlockedError if the guard refuses to connect to ap.
func (g *Guard) CheckAddr(ap netip.AddrPort) error { return g.check("", ap) }

func (g *Guard) check(host string, ap netip.AddrPort) error {
	a := ap.Addr().WithZone("")
	reason := Classify(a)
	if reason == "" || g.addrAllowed(a, ap.Port()) {
		return nil
	}
	return &BlockedError{Host: host, Addr: a, Reason: reason}
}

func (g *Guard) addrAllowed(a netip.Addr, port uint16) bool {
	a = a.Unmap()
	for _, p := range g.prefixes {
		if p.prefix.Contains(a) && (p.port == 0 || p.port == port) {
			return true
		}
	}
	return false
}

func (g *Guard) hostAllowed(host string, port uint16) bool {
	name := normalizeName(host)
	for _, h := range g.hosts {
		if h.name == name && (h.port == 0 || h.port == port) {
			return true
		}
	}
	return false
}

// dialHostKey carries the host name being dialled from DialContext to
// Control, so that a name the operator allowed is honoured at connect time.
type dialHostKey struct{}

// Control checks the address a connection is about to be made to; use it as
// net.Dialer.ControlContext (DialContext does). It runs after the dialer
// resolved the name, on each address it tries, so it sees the real IP.
// Host-name entries of the allowlist apply only when the dial went through
// DialContext, which passes the name along in ctx.
func (g *Guard) Control(ctx context.Context, network, address string, _ syscall.RawConn) error {
	switch network {
	case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6":
	default:
		return fmt.Errorf("webhook: refusing to dial network %q", network)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("webhook: refusing to dial %q: %w", address, err)
	}
	host, _ := ctx.Value(dialHostKey{}).(string)
	if host != "" && g.hostAllowed(host, ap.Port()) {
		return nil
	}
	return g.check(host, ap)
}

// DialContext returns d's DialContext with every connection checked by
// Control (after any Control or ControlContext d already had).
func (g *Guard) DialContext(d *net.Dialer) func(ctx context.Context, network, address string) (net.Conn, error) {
	dd := *d
	inner, innerCtx := d.Control, d.ControlContext
	dd.Control = nil
	dd.ControlContext = func(ctx context.Context, network, address string, c syscall.RawConn) error {
		if err := g.Control(ctx, network, address, c); err != nil {
			return err
		}
		if innerCtx != nil {
			return innerCtx(ctx, network, address, c)
		}
		if inner != nil {
			return inner(network, address, c)
		}
		return nil
	}
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		if host, _, err := net.SplitHostPort(address); err == nil {
			ctx = context.WithValue(ctx, dialHostKey{}, host)
		}
		return dd.DialContext(ctx, network, address)
	}
}

// Client returns an HTTP client for deliveries: every connection guarded,
// no proxy (through a proxy the guard would check the proxy's address, not
// the receiver's), redirects not followed (a receiver answers; it does not
// send us elsewhere, and a 3xx is recorded as a failed attempt), and
// timeout on the whole attempt, body included.
func (g *Guard) Client(timeout time.Duration) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	// Many deliveries go to few receivers: keep more connections to each
	// than the default two, so a busy dispatcher does not reconnect for
	// every request.
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 32
	t.DialContext = g.DialContext(&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second})
	return &http.Client{
		Transport: t,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Reasons Classify gives.
const (
	ReasonUnspecified   = "unspecified"
	ReasonLoopback      = "loopback"
	ReasonPrivate       = "private"
	ReasonSharedCGNAT   = "shared (CGNAT)"
	ReasonLinkLocal     = "link-local"
	ReasonCloudMetadata = "cloud metadata"
	ReasonMulticast     = "multicast"
	ReasonReserved      = "reserved"
)

// blockedPrefixes are the non-public ranges, most specific first so that
// the metadata addresses get their own reason. IPv4 ranges also catch their
// IPv4-mapped forms, which Classify unmaps first.
var blockedPrefixes = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("169.254.169.254/32"), ReasonCloudMetadata}, // AWS, GCP, Azure, OCI…
	{netip.MustParsePrefix("100.100.100.200/32"), ReasonCloudMetadata}, // Alibaba Cloud
	{netip.MustParsePrefix("fd00:ec2::254/128"), ReasonCloudMetadata},  // AWS over IPv6
	{netip.MustParsePrefix("0.0.0.0/8"), ReasonUnspecified},            // "this network"
	{netip.MustParsePrefix("10.0.0.0/8"), ReasonPrivate},
	{netip.MustParsePrefix("100.64.0.0/10"), ReasonSharedCGNAT},
	{netip.MustParsePrefix("127.0.0.0/8"), ReasonLoopback},
	{netip.MustParsePrefix("169.254.0.0/16"), ReasonLinkLocal},
	{netip.MustParsePrefix("172.16.0.0/12"), ReasonPrivate},
	{netip.MustParsePrefix("192.0.0.0/24"), ReasonReserved},    // IETF protocol assignments
	{netip.MustParsePrefix("192.0.2.0/24"), ReasonReserved},    // documentation
	{netip.MustParsePrefix("192.88.99.0/24"), ReasonReserved},  // 6to4 relay anycast
	{netip.MustParsePrefix("192.168.0.0/16"), ReasonPrivate},   //
	{netip.MustParsePrefix("198.18.0.0/15"), ReasonReserved},   // benchmarking
	{netip.MustParsePrefix("198.51.100.0/24"), ReasonReserved}, // documentation
	{netip.MustParsePrefix("203.0.113.0/24"), ReasonReserved},  // documentation
	{netip.MustParsePrefix("224.0.0.0/4"), ReasonMulticast},
	{netip.MustParsePrefix("240.0.0.0/4"), ReasonReserved}, // and broadcast
	{netip.MustParsePrefix("::/128"), ReasonUnspecified},
	{netip.MustParsePrefix("::1/128"), ReasonLoopback},
	{netip.MustParsePrefix("::/96"), ReasonReserved},         // IPv4-compatible (deprecated)
	{netip.MustParsePrefix("64:ff9b:1::/48"), ReasonPrivate}, // local-use NAT64
	{netip.MustParsePrefix("100::/64"), ReasonReserved},      // discard-only
	{netip.MustParsePrefix("2001::/23"), ReasonReserved},     // IETF assignments, Teredo
	{netip.MustParsePrefix("2001:db8::/32"), ReasonReserved}, // documentation
	{netip.MustParsePrefix("3fff::/20"), ReasonReserved},     // documentation
	{netip.MustParsePrefix("fc00::/7"), ReasonPrivate},       // unique local
	{netip.MustParsePrefix("fe80::/10"), ReasonLinkLocal},
	{netip.MustParsePrefix("fec0::/10"), ReasonReserved}, // site-local (deprecated)
	{netip.MustParsePrefix("ff00::/8"), ReasonMulticast},
}

var (
	nat64Prefix  = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour    = netip.MustParsePrefix("2002::/16")
	globalUnicst = netip.MustParsePrefix("2000::/3")
)

// Classify returns why a is not a public address ("loopback", "private"…),
// or "" if it is. IPv6 forms that carry an IPv4 address (IPv4-mapped,
// NAT64 64:ff9b::/96, 6to4 2002::/16) are judged by that address, and IPv6
// outside 2000::/3, where all public unicast lives, is reserved.
func Classify(a netip.Addr) string {
	a = a.WithZone("").Unmap()
	if !a.IsValid() {
		return ReasonReserved
	}
	for _, b := range blockedPrefixes {
		if b.prefix.Contains(a) {
			return b.reason
		}
	}
	if a.Is4() {
		return ""
	}
	b := a.As16()
	switch {
	case nat64Prefix.Contains(a):
		return Classify(netip.AddrFrom4([4]byte(b[12:16])))
	case sixToFour.Contains(a):
		return Classify(netip.AddrFrom4([4]byte(b[2:6])))
	case !globalUnicst.Contains(a):
		return ReasonReserved
	}
	return ""
}

// blockedName returns why host is refused by name before any lookup: the
// cloud providers' metadata names, which resolve to metadata addresses
// anyway; refusing them by name also covers a resolver that answers
// differently for the server than for the dialer.
func blockedName(host string) string {
	switch normalizeName(host) {
	case "metadata.google.internal", "metadata.goog", "metadata", "instance-data",
		"instance-data.ec2.internal", "metadata.tencentyun.com":
		return ReasonCloudMetadata
	}
	return ""
}
