package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/webhook"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		addr string
		want string
	}{
		// Public.
		{"93.184.216.34", ""},
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"100.63.255.255", ""},  // just below CGNAT
		{"100.128.0.0", ""},     // just above CGNAT
		{"172.15.255.255", ""},  // just below 172.16/12
		{"172.32.0.0", ""},      // just above
		{"169.253.255.255", ""}, // just below link-local
		{"2606:4700::1111", ""},
		{"2a00:1450:4001:80b::200e", ""},
		{"::ffff:93.184.216.34", ""},
		{"64:ff9b::808:808", ""},     // NAT64 of 8.8.8.8
		{"2002:808:808::1", ""},      // 6to4 of 8.8.8.8
		{"2001:4860:4860::8888", ""}, // outside 2001::/23

		// IPv4.
		{"0.0.0.0", webhook.ReasonUnspecified},
		{"0.1.2.3", webhook.ReasonUnspecified},
		{"127.0.0.1", webhook.ReasonLoopback},
		{"127.255.255.254", webhook.ReasonLoopback},
		{"10.0.0.1", webhook.ReasonPrivate},
		{"172.16.0.1", webhook.ReasonPrivate},
		{"172.31.255.255", webhook.ReasonPrivate},
		{"192.168.1.1", webhook.ReasonPrivate},
		{"100.64.0.1", webhook.ReasonSharedCGNAT},
		{"100.127.255.255", webhook.ReasonSharedCGNAT},
		{"169.254.0.1", webhook.ReasonLinkLocal},
		{"169.254.169.254", webhook.ReasonCloudMetadata},
		{"100.100.100.200", webhook.ReasonCloudMetadata},
		{"192.0.0.192", webhook.ReasonReserved},
		{"192.0.2.1", webhook.ReasonReserved},
		{"198.18.0.1", webhook.ReasonReserved},
		{"198.51.100.1", webhook.ReasonReserved},
		{"203.0.113.1", webhook.ReasonReserved},
		{"224.0.0.1", webhook.ReasonMulticast},
		{"239.255.255.250", webhook.ReasonMulticast},
		{"240.0.0.1", webhook.ReasonReserved},
		{"255.255.255.255", webhook.ReasonReserved},

		// IPv6.
		{"::", webhook.ReasonUnspecified},
		{"::1", webhook.ReasonLoopback},
		{"fe80::1", webhook.ReasonLinkLocal},
		{"fe80::1%eth0", webhook.ReasonLinkLocal},
		{"febf::1", webhook.ReasonLinkLocal},
		{"fec0::1", webhook.ReasonReserved},
		{"fc00::1", webhook.ReasonPrivate},
		{"fd12:3456::1", webhook.ReasonPrivate},
		{"fd00:ec2::254", webhook.ReasonCloudMetadata},
		{"ff02::1", webhook.ReasonMulticast},
		{"2001:db8::1", webhook.ReasonReserved},
		{"2001::1", webhook.ReasonReserved}, // Teredo
		{"3fff::1", webhook.ReasonReserved},
		{"100::1", webhook.ReasonReserved},
		{"4000::1", webhook.ReasonReserved}, // outside 2000::/3
		{"64:ff9b:1::a00:1", webhook.ReasonPrivate},

		// IPv4 hidden in IPv6.
		{"::ffff:127.0.0.1", webhook.ReasonLoopback},
		{"::ffff:7f00:1", webhook.ReasonLoopback},
		{"::ffff:10.1.2.3", webhook.ReasonPrivate},
		{"::ffff:169.254.169.254", webhook.ReasonCloudMetadata},
		{"::ffff:100.100.100.200", webhook.ReasonCloudMetadata},
		{"::ffff:100.64.0.1", webhook.ReasonSharedCGNAT},
		{"::ffff:0.0.0.0", webhook.ReasonUnspecified},
		{"::ffff:224.0.0.1", webhook.ReasonMulticast},
		{"::ffff:192.168.0.1", webhook.ReasonPrivate},
		{"::ffff:172.16.0.1", webhook.ReasonPrivate},
		{"::127.0.0.1", webhook.ReasonReserved}, // IPv4-compatible
		{"64:ff9b::7f00:1", webhook.ReasonLoopback},
		{"64:ff9b::a9fe:a9fe", webhook.ReasonCloudMetadata},
		{"2002:7f00:1::", webhook.ReasonLoopback},
		{"2002:c0a8:101::1", webhook.ReasonPrivate},
	}
	for _, tt := range tests {
		a := netip.MustParseAddr(tt.addr)
		if got := webhook.Classify(a); got != tt.want {
			t.Errorf("Classify(%s) = %q, want %q", tt.addr, got, tt.want)
		}
	}
	if got := webhook.Classify(netip.Addr{}); got == "" {
		t.Error("the zero Addr is public")
	}
}

func TestNewGuardAllowlist(t *testing.T) {
	for _, ok := range []string{
		"10.0.0.0/8", " 127.0.0.1 ", "::1", "[::1]:8080", "127.0.0.1:8080", "::ffff:127.0.0.0/104",
		"localhost", "Receiver.Test.", "receiver.test:8443", "fd00::/8",
	} {
		if _, err := webhook.NewGuard([]string{ok}, nil); err != nil {
			t.Errorf("NewGuard(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", " ", "10.0.0.0/33", "host:0", "host:65536", "host:http", "http://host/", "[::1]", "a b", "user@host"} {
		if _, err := webhook.NewGuard([]string{bad}, nil); err == nil {
			t.Errorf("NewGuard(%q) accepted it", bad)
		}
	}
}

// fakeResolver answers from a table, and fails for names not in it as a
// resolver does for a name that does not exist.
type fakeResolver map[string][]string

func (f fakeResolver) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	if network != "ip" {
		return nil, fmt.Errorf("unexpected network %q", network)
	}
	answers, ok := f[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	if len(answers) == 1 && answers[0] == "timeout" {
		return nil, &net.DNSError{Err: "i/o timeout", Name: host, IsTimeout: true, IsTemporary: true}
	}
	var out []netip.Addr
	for _, a := range answers {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

func TestCheckURL(t *testing.T) {
	const (
		blocked    = "URLs that point to loopback, private, link-local or other reserved addresses are not allowed."
		unresolved = "The URL's host name could not be resolved."
	)
	resolver := fakeResolver{
		"hooks.example.com":        {"93.184.216.34", "2606:2800:220:1::1"},
		"internal.example.com":     {"10.0.0.5"},
		"mixed.example.com":        {"93.184.216.34", "127.0.0.1"},
		"mapped.example.com":       {"::ffff:169.254.169.254"},
		"v6local.example.com":      {"fd00:ec2::254"},
		"empty.example.com":        {},
		"slow.example.com":         {"timeout"},
		"metadata.google.internal": {"93.184.216.34"}, // refused by name first
		"receiver.test":            {"127.0.0.1"},
		"localhost":                {"127.0.0.1", "::1"},
	}
	tests := []struct {
		name    string
		url     string
		allow   []string
		wantMsg string // "" for allowed
		wantErr string // another code than EINVALID
		reason  string // the BlockedError's reason, if any
	}{
		{"public name", "https://hooks.example.com/x", nil, "", "", ""},
		{"public address", "https://93.184.216.34/x", nil, "", "", ""},
		{"public IPv6 address", "https://[2606:4700::1111]/x", nil, "", "", ""},
		{"private name", "https://internal.example.com/", nil, blocked, "", webhook.ReasonPrivate},
		{"one bad address among good ones", "https://mixed.example.com/", nil, blocked, "", webhook.ReasonLoopback},
		{"mapped metadata address", "https://mapped.example.com/", nil, blocked, "", webhook.ReasonCloudMetadata},
		{"AWS IPv6 metadata", "https://v6local.example.com/", nil, blocked, "", webhook.ReasonCloudMetadata},
		{"metadata name", "http://metadata.google.internal/computeMetadata/v1/", nil, blocked, "", webhook.ReasonCloudMetadata},
		{"metadata name, any case, trailing dot", "http://METADATA.google.internal./", nil, blocked, "", webhook.ReasonCloudMetadata},
		{"metadata address", "http://169.254.169.254/latest/meta-data/", nil, blocked, "", webhook.ReasonCloudMetadata},
		{"Alibaba metadata", "http://100.100.100.200/", nil, blocked, "", webhook.ReasonCloudMetadata},
		{"loopback literal", "http://127.0.0.1:8080/", nil, blocked, "", webhook.ReasonLoopback},
		{"IPv6 loopback literal", "http://[::1]:8080/", nil, blocked, "", webhook.ReasonLoopback},
		{"mapped loopback literal", "http://[::ffff:127.0.0.1]/", nil, blocked, "", webhook.ReasonLoopback},
		{"unspecified", "http://0.0.0.0/", nil, blocked, "", webhook.ReasonUnspecified},
		{"CGNAT", "http://100.64.1.1/", nil, blocked, "", webhook.ReasonSharedCGNAT},
		{"multicast", "http://224.0.0.1/", nil, blocked, "", webhook.ReasonMulticast},
		{"localhost", "http://localhost:8080/", nil, blocked, "", webhook.ReasonLoopback},
		{"no such host", "https://nowhere.example.com/", nil, unresolved, "", ""},
		{"no addresses", "https://empty.example.com/", nil, unresolved, "", ""},
		{"lookup timeout", "https://slow.example.com/", nil, "", kycreview.EUNAVAILABLE, ""},

		{"allowed by CIDR", "https://internal.example.com/", []string{"10.0.0.0/8"}, "", "", ""},
		{"CIDR that misses", "https://internal.example.com/", []string{"10.1.0.0/16"}, blocked, "", webhook.ReasonPrivate},
		{"allowed by address", "http://127.0.0.1:8080/", []string{"127.0.0.1"}, "", "", ""},
		{"allowed by address and port", "http://127.0.0.1:8080/", []string{"127.0.0.1:8080"}, "", "", ""},
		{"address with another port", "http://127.0.0.1:8081/", []string{"127.0.0.1:8080"}, blocked, "", webhook.ReasonLoopback},
		{"default port counts", "https://127.0.0.1/", []string{"127.0.0.1:443"}, "", "", ""},
		{"mapped literal allowed by IPv4 entry", "http://[::ffff:127.0.0.1]/", []string{"127.0.0.1"}, "", "", ""},
		{"IPv4 allowed by mapped entry", "http://127.0.0.1/", []string{"::ffff:127.0.0.0/104"}, "", "", ""},
		{"IPv6 loopback allowed", "http://[::1]:9/", []string{"::1"}, "", "", ""},
		{"IPv4 entry does not allow ::1", "http://localhost/", []string{"127.0.0.1"}, blocked, "", webhook.ReasonLoopback},
		{"localhost allowed by both loopbacks", "http://localhost/", []string{"127.0.0.1", "::1"}, "", "", ""},
		{"allowed by name", "http://receiver.test:8080/", []string{"receiver.test"}, "", "", ""},
		{"allowed by name, any case", "http://Receiver.Test./", []string{"receiver.test"}, "", "", ""},
		{"allowed by name and port", "http://receiver.test:8080/", []string{"receiver.test:8080"}, "", "", ""},
		{"name with another port", "http://receiver.test:8081/", []string{"receiver.test:8080"}, blocked, "", webhook.ReasonLoopback},
		{"metadata name allowed explicitly", "http://metadata.google.internal/", []string{"metadata.google.internal"}, "", "", ""},
		{"metadata address inside an allowed CIDR", "http://169.254.169.254/", []string{"169.254.0.0/16"}, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := webhook.NewGuard(tt.allow, resolver)
			if err != nil {
				t.Fatal(err)
			}
			err = g.CheckURL(context.Background(), tt.url)
			switch {
			case tt.wantErr != "":
				if kycreview.ErrorCode(err) != tt.wantErr {
					t.Fatalf("CheckURL(%s) = %v, want code %s", tt.url, err, tt.wantErr)
				}
			case tt.wantMsg == "":
				if err != nil {
					t.Fatalf("CheckURL(%s) = %v, want nil", tt.url, err)
				}
			default:
				var e *kycreview.Error
				if !errors.As(err, &e) || e.Code != kycreview.EINVALID {
					t.Fatalf("CheckURL(%s) = %v, want an EINVALID *kycreview.Error", tt.url, err)
				}
				if diff := cmp.Diff(map[string][]string{"url": {tt.wantMsg}}, e.Fields); diff != "" {
					t.Errorf("fields (-want +got):\n%s", diff)
				}
				if strings.Contains(e.Fields["url"][0], "10.0.0.5") {
					t.Error("the message reveals the resolved address")
				}
			}
			var be *webhook.BlockedError
			if errors.As(err, &be) != (tt.reason != "") || (be != nil && be.Reason != tt.reason) {
				t.Errorf("BlockedError = %v, want reason %q", be, tt.reason)
			}
		})
	}
}

// TestCheckURLRealResolver resolves "localhost" with the system resolver.
func TestCheckURLRealResolver(t *testing.T) {
	ctx := context.Background()
	g, err := webhook.NewGuard(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = g.CheckURL(ctx, "http://localhost:8080/hook")
	var be *webhook.BlockedError
	if !errors.As(err, &be) || be.Reason != webhook.ReasonLoopback || kycreview.ErrorCode(err) != kycreview.EINVALID {
		t.Fatalf("CheckURL(localhost) = %v, want a loopback refusal", err)
	}
	for _, allow := range [][]string{{"127.0.0.0/8", "::1"}, {"localhost"}, {"localhost:8080"}} {
		g, err := webhook.NewGuard(allow, net.DefaultResolver)
		if err != nil {
			t.Fatal(err)
		}
		if err := g.CheckURL(ctx, "http://localhost:8080/hook"); err != nil {
			t.Errorf("allow %v: CheckURL(localhost) = %v", allow, err)
		}
	}
}

// TestControlRebinding has the dial-time check see a name that was public
// when the destination was saved connect to loopback: the address decides.
func TestControlRebinding(t *testing.T) {
	g, err := webhook.NewGuard([]string{"trusted.test"}, fakeResolver{"rebind.example.com": {"93.184.216.34"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.CheckURL(context.Background(), "https://rebind.example.com/"); err != nil {
		t.Fatalf("save-time check: %v", err)
	}
	for _, tt := range []struct {
		network, address string
		wantReason       string
	}{
		{"tcp4", "93.184.216.34:443", ""},
		{"tcp4", "127.0.0.1:443", webhook.ReasonLoopback},
		{"tcp6", "[::ffff:169.254.169.254]:80", webhook.ReasonCloudMetadata},
		{"tcp6", "[fe80::1%lo]:443", webhook.ReasonLinkLocal},
		{"tcp6", "[2606:4700::1111]:443", ""},
	} {
		err := g.CheckAddr(netip.MustParseAddrPort(tt.address))
		var be *webhook.BlockedError
		if errors.As(err, &be) != (tt.wantReason != "") || (be != nil && be.Reason != tt.wantReason) {
			t.Errorf("CheckAddr(%s) = %v, want reason %q", tt.address, err, tt.wantReason)
		}
		err2 := g.Control(context.Background(), tt.network, tt.address, nil)
		if (err == nil) != (err2 == nil) {
			t.Errorf("Control(%s) = %v, CheckAddr = %v", tt.address, err2, err)
		}
	}
	if err := g.Control(context.Background(), "unix", "/tmp/sock", nil); err == nil {
		t.Error("Control let a unix socket through")
	}
	if err := g.Control(context.Background(), "tcp", "example.com:80", nil); err == nil {
		t.Error("Control let an unresolved address through")
	}
}

// listen returns the port of a real socket on 127.0.0.1 that accepts and
// closes connections until the test ends.
func listen(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestDialContextRealSocket(t *testing.T) {
	port := strconv.Itoa(listen(t))
	other := strconv.Itoa(listen(t))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tests := []struct {
		allow   []string
		address string
		ok      bool
	}{
		{nil, "127.0.0.1:" + port, false},
		{nil, "localhost:" + port, false}, // the dialer resolves; the address is checked
		{[]string{"10.0.0.0/8"}, "127.0.0.1:" + port, false},
		{[]string{"127.0.0.1"}, "127.0.0.1:" + port, true},
		{[]string{"127.0.0.0/8"}, "127.0.0.1:" + port, true},
		{[]string{"127.0.0.1:" + port}, "127.0.0.1:" + port, true},
		{[]string{"127.0.0.1:" + port}, "127.0.0.1:" + other, false},
		{[]string{"localhost"}, "localhost:" + port, true},
		{[]string{"localhost:" + port}, "localhost:" + other, false},
		{[]string{"localhost"}, "127.0.0.1:" + port, false}, // a name entry does not allow the bare address
	}
	for _, tt := range tests {
		g, err := webhook.NewGuard(tt.allow, nil)
		if err != nil {
			t.Fatal(err)
		}
		// tcp4: localhost may also resolve to ::1, where nothing listens.
		conn, err := g.DialContext(&net.Dialer{})(ctx, "tcp4", tt.address)
		if tt.ok {
			if err != nil {
				t.Errorf("allow %v: dial %s: %v", tt.allow, tt.address, err)
				continue
			}
			conn.Close()
			continue
		}
		if err == nil {
			conn.Close()
			t.Errorf("allow %v: dial %s succeeded", tt.allow, tt.address)
			continue
		}
		var be *webhook.BlockedError
		if !errors.As(err, &be) || be.Reason != webhook.ReasonLoopback {
			t.Errorf("allow %v: dial %s = %v, want a loopback refusal", tt.allow, tt.address, err)
		}
	}

	// The dialer's own Control still runs, after the guard's.
	g, err := webhook.NewGuard([]string{"127.0.0.1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	mine := errors.New("refused by the caller's Control")
	d := &net.Dialer{ControlContext: func(context.Context, string, string, syscall.RawConn) error { return mine }}
	if _, err := g.DialContext(d)(ctx, "tcp4", "127.0.0.1:"+port); !errors.Is(err, mine) {
		t.Errorf("dial with the caller's Control = %v", err)
	}
}

// TestClientRealHTTP posts to a real HTTP server on 127.0.0.1 through
// Client: refused unless allowed, and never following a redirect.
func TestClientRealHTTP(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()

	g, err := webhook.NewGuard(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := g.Client(5*time.Second).Post(srv.URL+"/hook", "application/json", strings.NewReader("{}"))
	if err == nil {
		resp.Body.Close()
		t.Fatal("the guard let a loopback POST through")
	}
	var be *webhook.BlockedError
	if !errors.As(err, &be) || hits.Load() != 0 {
		t.Fatalf("POST = %v (hits %d), want a BlockedError and no request", err, hits.Load())
	}

	g, err = webhook.NewGuard([]string{"127.0.0.1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := g.Client(5 * time.Second)
	resp, err = c.Post(srv.URL+"/hook", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("allowed POST: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "ok" || hits.Load() != 1 {
		t.Errorf("allowed POST = %d %q (hits %d)", resp.StatusCode, body, hits.Load())
	}
	resp, err = c.Post(srv.URL+"/redirect", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("POST to a redirect: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || hits.Load() != 2 {
		t.Errorf("POST to a redirect = %d (hits %d), want the 302 itself", resp.StatusCode, hits.Load())
	}
}
