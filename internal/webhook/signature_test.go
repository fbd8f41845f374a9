package webhook_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/webhook"
)

// The golden values below were computed by Python 3 itself, which is what
// Didit's receivers and documentation use:
//
//	obj = json.loads(body)
//	canon = json.dumps(shorten(obj), ensure_ascii=False, sort_keys=True,
//	                   separators=(",", ":")).encode()
//	hmac.new(secret.encode(), canon, hashlib.sha256).hexdigest()
//
// with shorten turning every float f with f.is_integer() into int(f).
const (
	goldenSecret  = "tno2NTeRC1ZK3sBOYlBJDyEzBVENl3pQ1AcZyAW0xnQ"
	goldenEventID = "0b6c3c1e-8f5e-4d1a-9b57-2f7e0d8c4a11"
	goldenUnix    = 1747476123
)

// goldenStatusBody is a status.updated body as the renderer writes it
// (ASCII, non-ASCII escaped), except that its metadata holds every awkward
// number and string we could think of, with some keys out of order.
const goldenStatusBody = `{"created_at":1747476000,"decision":{"reviews":[{"comment":"\u00a1Ol\u00e9! \u6771\u4eac","new_status":"Approved"}],"status":"Approved"},"event_id":"0b6c3c1e-8f5e-4d1a-9b57-2f7e0d8c4a11","metadata":{"amount":1.0,"big":123456789012345678901234567890,"ctrl":"a\u0000b\u001f\u007f\n\t\"\\/ \u2028","emoji key \ud83d\ude00":true,"exp":-4.5e0,"hundred":1e2,"huge":1e300,"int":-0,"negzero":-0.0,"nested":[1.0,[2.0,{"z":3.0,"a":2.50}],{"deep":{"y":0.1,"x":1E2}}],"null":null,"price":2.50,"tiny":1e-7,"under":-1e-400,"whole_big":123456789012345678901.0},"session_id":"11111111-2222-3333-4444-555555555555","status":"Approved","timestamp":1747476000,"vendor_data":"Zo\u00eb \u6771\u4eac \ud83d\ude00","webhook_type":"status.updated","workflow_id":"22222222-3333-4444-5555-666666666666"}`

const goldenStatusCanon = `{"created_at":1747476000,"decision":{"reviews":[{"comment":"¡Olé! 東京","new_status":"Approved"}],"status":"Approved"},"event_id":"0b6c3c1e-8f5e-4d1a-9b57-2f7e0d8c4a11","metadata":{"amount":1,"big":123456789012345678901234567890,"ctrl":"a\u0000b\u001f` + "\x7f" + `\n\t\"\\/ ` + "\u2028" + `","emoji key 😀":true,"exp":-4.5,"huge":1000000000000000052504760255204420248704468581108159154915854115511802457988908195786371375080447864043704443832883878176942523235360430575644792184786706982848387200926575803737830233794788090059368953234970799945081119038967640880074652742780142494579258788820056842838115669472196386865459400540160,"hundred":100,"int":0,"negzero":0,"nested":[1,[2,{"a":2.5,"z":3}],{"deep":{"x":100,"y":0.1}}],"null":null,"price":2.5,"tiny":1e-07,"under":0,"whole_big":123456789012345683968},"session_id":"11111111-2222-3333-4444-555555555555","status":"Approved","timestamp":1747476000,"vendor_data":"Zoë 東京 😀","webhook_type":"status.updated","workflow_id":"22222222-3333-4444-5555-666666666666"}`

func TestSignGolden(t *testing.T) {
	tests := []struct {
		name                          string
		body, canon                   string
		v1, v2, simple, standardWebhk string
	}{
		{
			name: "status.updated with non-ASCII and whole floats",
			body: goldenStatusBody, canon: goldenStatusCanon,
			v1:            "35227e080f0fb37ed3c13bb9066e0a0f82f40d62e68665ce47614ace5f3bc2fd",
			v2:            "fcc24fec0012b0e09cc6231dd17a4ae6bec14662b12c4c592092c4dbd4bf19d7",
			simple:        "c3aaaaf1588a0e18df31c7dcd7bc2d16429981545c85253e1c9a6362635c1901",
			standardWebhk: "v1,WvfxJ7v2+/F3bhD1QA2yxfnc63KrQbasoLO+Zb79sv4=",
		},
		{
			name:          "numbers beyond float64 become Infinity, as Python writes them",
			body:          `{"metadata":{"inf":1e400,"ninf":-1E400},"session_id":"s","status":"In Review","timestamp":5,"webhook_type":"status.updated"}`,
			canon:         `{"metadata":{"inf":Infinity,"ninf":-Infinity},"session_id":"s","status":"In Review","timestamp":5,"webhook_type":"status.updated"}`,
			v1:            "a00af59c8f78c5023a8fe9f2eb1b747790c634b537b0397d85fae58199237890",
			v2:            "fe8a69ac0d435ea6269554314cf2880dd014510dcd06463fb8938ec4d9c99ee8",
			simple:        "bcbb125a1a8321dc18a5896efb4da5d3d7d23fe3c228217b03ae16dc5eed7d15",
			standardWebhk: "v1,C+FoTJSlWEdvC6w1NI+cKjHfWc3jM0xrOFRqaq4se8A=",
		},
		{
			name:          "missing simple fields are empty",
			body:          `{"webhook_type":"status.updated"}`,
			canon:         `{"webhook_type":"status.updated"}`,
			v1:            "5cdfb2a7e0eb0ac0a14b1bfbfda3032839a3ec893e647302154c808762fba1ca",
			v2:            "5cdfb2a7e0eb0ac0a14b1bfbfda3032839a3ec893e647302154c808762fba1ca",
			simple:        "cd8e166ac8cb37bb606ca5a5033b5752d1e01b65dda8d0c526436f4e3018608c",
			standardWebhk: "v1,kk1vfVthI86nmdx6ED5Fn2PBInBTbQRanuJrNiJceLc=",
		},
	}
	at := time.Unix(goldenUnix, 999_999_999) // X-Timestamp is whole seconds
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			canon, err := webhook.CanonicalV2([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if string(canon) != tt.canon {
				t.Errorf("CanonicalV2:\n got %s\nwant %s", canon, tt.canon)
			}
			h, err := webhook.Sign(goldenSecret, goldenEventID, []byte(tt.body), at)
			if err != nil {
				t.Fatal(err)
			}
			want := http.Header{
				"Content-Type":       {"application/json"},
				"User-Agent":         {webhook.UserAgent},
				"X-Signature":        {tt.v1},
				"X-Signature-V2":     {tt.v2},
				"X-Signature-Simple": {tt.simple},
				"X-Timestamp":        {"1747476123"},
				"Webhook-Id":         {goldenEventID},
				"Webhook-Timestamp":  {"1747476123"},
				"Webhook-Signature":  {tt.standardWebhk},
			}
			if diff := cmp.Diff(want, h); diff != "" {
				t.Errorf("Sign headers (-want +got):\n%s", diff)
			}
			// The independent verifier agrees with Python too, which is
			// what makes its verdicts below worth having.
			if failed := verifyIndependently(goldenSecret, []byte(tt.body), h, at); failed != nil {
				t.Errorf("independent verifier rejected %v", failed)
			}
		})
	}
}

func TestCanonicalV2(t *testing.T) {
	// Outputs computed by Python as in the comment on the golden constants.
	tests := []struct{ in, want string }{
		{"1.0", "1"},
		{"2.50", "2.5"},
		{"1e2", "100"},
		{"1E2", "100"},
		{"-0.0", "0"},
		{"-0", "0"},
		{"0", "0"},
		{"0.0", "0"},
		{"1E-7", "1e-07"},
		{"0.1", "0.1"},
		{"1e16", "10000000000000000"},
		{"1.5e16", "15000000000000000"},
		{"1.25e-5", "1.25e-05"},
		{"123.456e1", "1234.56"},
		{"1e22", "10000000000000000000000"},
		{"1.7976931348623157e308", "179769313486231570814527423731704356798070567525844996598917476803157260780028538760589558632766878171540458953514382464234321326889464182768467546703537516986049910576551282076245490090389328944075868508455133942304583236903222948165808559332123348274797826204144723168738177180919299881250404026184124858368"},
		{"5e-324", "5e-324"},
		{"1e-400", "0"},
		{"-1e-400", "0"},
		{"1e400", "Infinity"},
		{"-1e400", "-Infinity"},
		{"12345678901234567890123", "12345678901234567890123"},
		{"-12345678901234567890123", "-12345678901234567890123"},
		{"123456789012345678901.0", "123456789012345683968"},
		{"9007199254740993.0", "9007199254740992"},
		{"0.30000000000000004", "0.30000000000000004"},
		{"100.5", "100.5"},
		{"1e15", "1000000000000000"},
		{"1.5e15", "1500000000000000"},
		{"1e-4", "0.0001"},
		{"1.5e-4", "0.00015"},
		{"-2.5E+3", "-2500"},
		{"true", "true"},
		{"false", "false"},
		{"null", "null"},
		{"[]", "[]"},
		{"{}", "{}"},
		{"[1.0,[2.0,[3.0e0]]]", "[1,[2,[3]]]"},
		{`{"b":1,"a":2,"B":3,"\u00e9":4,"z":5,"\ud83d\ude00":6,"\uffff":7,"":8}`, "{\"\":8,\"B\":3,\"a\":2,\"b\":1,\"z\":5,\"\u00e9\":4,\"\uffff\":7,\"\U0001f600\":6}"},
		{`{"a":1,"a":2.0}`, `{"a":2}`},
		{`"a\u0000b\u0001\u001f\u007f\b\f\n\r\t\"\\\/ \u2028\u2029\u00e9\ud83d\ude00"`, "\"a\\u0000b\\u0001\\u001f\u007f\\b\\f\\n\\r\\t\\\"\\\\/ \u2028\u2029\u00e9\U0001f600\""},
		{`"Zo\u00eb \u6771\u4eac \ud83d\ude00"`, `"Zoë 東京 😀"`},
		{`"Zoë 東京 😀"`, `"Zoë 東京 😀"`},
		{` { "x" : [ 1 , 2.0 ] } `, `{"x":[1,2]}`},
	}
	for _, tt := range tests {
		got, err := webhook.CanonicalV2([]byte(tt.in))
		if err != nil {
			t.Errorf("CanonicalV2(%s): %v", tt.in, err)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("CanonicalV2(%s)\n got %s\nwant %s", tt.in, got, tt.want)
		}
		if indep, err := pyCanonical([]byte(tt.in)); err != nil || string(indep) != tt.want {
			t.Errorf("independent canonicaliser disagrees with Python on %s: %s, %v", tt.in, indep, err)
		}
	}
}

func TestSignRefusesBrokenBodies(t *testing.T) {
	for _, body := range []string{
		``,
		`{`,
		`{"a":1} {"b":2}`,
		`{"a":1}x`,
		"{\"a\":\"\xff\"}",
		`{"a":"\ud800"}`,
		`{"a":"\udc00\ud800"}`,
		`[1,2]`,           // X-Signature-Simple needs an object
		`{"status":true}`, // and scalar fields
		`{"session_id":{"a":1}}`,
		`{"a":NaN}`,
	} {
		if h, err := webhook.Sign("k", "id", []byte(body), time.Unix(1, 0)); err == nil {
			t.Errorf("Sign(%q) = %v, want an error", body, h)
		}
	}
}

// TestSignRealBody signs a body made by the real renderer, with the
// non-ASCII vendor_data and the whole-number floats the issue names, and has
// every signature checked by the independent verifier and the Standard
// Webhooks library; then it tampers with everything a forger could touch.
func TestSignRealBody(t *testing.T) {
	secret := kycreview.NewDestinationSecret()
	eventID := "5f0c9a3e-1b2d-4c5e-8f70-9a1b2c3d4e5f"
	vendor := "Zoë 東京 😀"
	body, err := kycreview.MarshalEventJSON(map[string]any{
		"webhook_type": kycreview.EventStatusUpdated,
		"event_id":     eventID,
		"session_id":   "11111111-2222-3333-4444-555555555555",
		"status":       "Declined",
		"created_at":   int64(1747476000),
		"timestamp":    int64(1747476000),
		"workflow_id":  "22222222-3333-4444-5555-666666666666",
		"vendor_data":  vendor,
		"metadata":     json.RawMessage(`{"score":1.0,"ratio":2.50,"count":1e2,"zero":-0.0,"list":[1.0,{"k":3.0,"j":"東"}],"name":"Zoë"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.ContainsFunc(body, func(r rune) bool { return r > 0x7f }) {
		t.Fatalf("the renderer should escape non-ASCII: %s", body)
	}
	canon, err := webhook.CanonicalV2(body)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"vendor_data":"` + vendor + `"`, `"score":1,`, `"ratio":2.5,`, `"count":100,`, `"zero":0}`, `"list":[1,{"j":"東","k":3}]`} {
		if !strings.Contains(string(canon), want) {
			t.Errorf("canonical body %s lacks %s", canon, want)
		}
	}

	now := time.Now()
	h, err := webhook.Sign(secret, eventID, body, now)
	if err != nil {
		t.Fatal(err)
	}
	if failed := verifyIndependently(secret, body, h, now); failed != nil {
		t.Fatalf("independent verifier rejected %v", failed)
	}
	wh, err := standardwebhooks.NewWebhookRaw([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(body, h); err != nil {
		t.Fatalf("Standard Webhooks library: %v", err)
	}
	// The whsec_ constructor reads the secret as base64, which ours is not.
	if std, err := standardwebhooks.NewWebhook(secret); err == nil && std.Verify(body, h) == nil {
		t.Error("the whsec_ constructor verified a raw-key signature")
	}

	all := []string{"X-Signature", "X-Signature-V2", "X-Signature-Simple", "webhook-signature"}
	tampered := bytes.Replace(body, []byte(`"status":"Declined"`), []byte(`"status":"Approved"`), 1)
	if bytes.Equal(tampered, body) {
		t.Fatal("tampering did nothing")
	}
	metaTampered := bytes.Replace(body, []byte(`"score":1.0`), []byte(`"score":1.5`), 1)
	vendorTampered := bytes.Replace(body, []byte(`Zo\u00eb \u6771`), []byte(`Zo\u00eb \u6772`), 1)

	// A receiver's framework that parsed and re-encoded the body, with
	// non-ASCII written raw, keys in another order and spaces: only the
	// exact-bytes signatures break.
	var parsed map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&parsed); err != nil {
		t.Fatal(err)
	}
	reencoded, err := json.MarshalIndent(parsed, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(reencoded, []byte(vendor)) {
		t.Fatalf("re-encoding kept the escapes: %s", reencoded)
	}

	otherSecret := kycreview.NewDestinationSecret()
	hOther, err := webhook.Sign(otherSecret, eventID, body, now)
	if err != nil {
		t.Fatal(err)
	}
	stale := now.Add(-301 * time.Second)
	hStale, err := webhook.Sign(secret, eventID, body, stale)
	if err != nil {
		t.Fatal(err)
	}
	hOtherID := h.Clone()
	hOtherID.Set("webhook-id", "another-event")
	hOtherTS := h.Clone()
	hOtherTS.Set("webhook-timestamp", strconv.FormatInt(now.Unix()+1, 10))
	hOtherTS.Set("X-Timestamp", strconv.FormatInt(now.Unix()+1, 10))
	hFlipped := h.Clone()
	for _, name := range all {
		v := []byte(hFlipped.Get(name))
		v[5] ^= 1 // a character inside the value: at the end, base64 may only change padding bits
		hFlipped.Set(name, string(v))
	}

	tests := []struct {
		name       string
		body       []byte
		h          http.Header
		wantFailed []string
		libOK      bool
	}{
		{"untouched", body, h, nil, true},
		{"status changed", tampered, h, all, false},
		{"metadata changed", metaTampered, h, []string{"X-Signature", "X-Signature-V2", "webhook-signature"}, false},
		{"vendor_data changed", vendorTampered, h, []string{"X-Signature", "X-Signature-V2", "webhook-signature"}, false},
		{"re-encoded by middleware", reencoded, h, []string{"X-Signature", "webhook-signature"}, false},
		{"another secret", body, hOther, all, false},
		{"stale", body, hStale, []string{"X-Timestamp"}, false},
		{"webhook-id swapped", body, hOtherID, []string{"webhook-signature"}, false},
		{"timestamps moved", body, hOtherTS, []string{"webhook-signature"}, false},
		{"signatures flipped", body, hFlipped, all, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.wantFailed, verifyIndependently(secret, tt.body, tt.h, now)); diff != "" {
				t.Errorf("failed checks (-want +got):\n%s", diff)
			}
			if err := wh.Verify(tt.body, tt.h); (err == nil) != tt.libOK {
				t.Errorf("Standard Webhooks Verify = %v, want ok %v", err, tt.libOK)
			}
		})
	}

	// The library checks the signature apart from freshness too.
	if err := wh.VerifyIgnoringTimestamp(body, hStale); err != nil {
		t.Errorf("VerifyIgnoringTimestamp(stale) = %v", err)
	}
	if err := wh.Verify(body, hStale); !errors.Is(err, standardwebhooks.ErrMessageTooOld) {
		t.Errorf("Verify(stale) = %v, want ErrMessageTooOld", err)
	}
}

// verifyIndependently checks the headers of a delivery of body as a receiver
// following SPEC §5 and the Standard Webhooks spec would, with code that
// shares nothing with signature.go. It returns the names of the checks that
// failed, nil if none did.
func verifyIndependently(secret string, body []byte, h http.Header, now time.Time) []string {
	var failed []string
	mac := func(msg string) []byte {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(msg))
		return m.Sum(nil)
	}
	hexOK := func(name, msg string) {
		got, err := hex.DecodeString(h.Get(name))
		if err != nil || !hmac.Equal(got, mac(msg)) {
			failed = append(failed, name)
		}
	}

	if h.Get("Content-Type") != "application/json" || !strings.HasPrefix(h.Get("User-Agent"), "kycreview") {
		failed = append(failed, "Content-Type/User-Agent")
	}
	ts, err := strconv.ParseInt(h.Get("X-Timestamp"), 10, 64)
	if err != nil || ts < now.Unix()-300 || ts > now.Unix()+300 {
		failed = append(failed, "X-Timestamp")
	}

	hexOK("X-Signature", string(body))

	if canon, err := pyCanonical(body); err != nil {
		failed = append(failed, "X-Signature-V2")
	} else {
		hexOK("X-Signature-V2", string(canon))
	}

	var f struct {
		Timestamp   json.Number `json:"timestamp"`
		SessionID   string      `json:"session_id"`
		Status      string      `json:"status"`
		WebhookType string      `json:"webhook_type"`
	}
	if err := json.Unmarshal(body, &f); err != nil {
		failed = append(failed, "X-Signature-Simple")
	} else {
		hexOK("X-Signature-Simple", fmt.Sprintf("%s:%s:%s:%s", f.Timestamp, f.SessionID, f.Status, f.WebhookType))
	}

	sig, ok := strings.CutPrefix(h.Get("webhook-signature"), "v1,")
	got, err := base64.StdEncoding.DecodeString(sig)
	signed := h.Get("webhook-id") + "." + h.Get("webhook-timestamp") + "." + string(body)
	if !ok || err != nil || !hmac.Equal(got, mac(signed)) || h.Get("webhook-timestamp") != h.Get("X-Timestamp") {
		failed = append(failed, "webhook-signature")
	}
	return failed
}

// pyCanonical is the V2 re-serialisation written from the spec text:
// Python's json.loads, whole-number floats made ints, then json.dumps with
// sort_keys, compact separators and ensure_ascii=False.
func pyCanonical(body []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var b strings.Builder
	var enc func(any)
	enc = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			b.WriteByte('{')
			for i, k := range slices.Sorted(func(yield func(string) bool) {
				for k := range v {
					if !yield(k) {
						return
					}
				}
			}) {
				if i > 0 {
					b.WriteByte(',')
				}
				enc(k)
				b.WriteByte(':')
				enc(v[k])
			}
			b.WriteByte('}')
		case []any:
			b.WriteByte('[')
			for i, e := range v {
				if i > 0 {
					b.WriteByte(',')
				}
				enc(e)
			}
			b.WriteByte(']')
		case string:
			short := map[rune]string{'"': `\"`, '\\': `\\`, '\b': `\b`, '\f': `\f`, '\n': `\n`, '\r': `\r`, '\t': `\t`}
			b.WriteByte('"')
			for _, r := range v {
				if s, ok := short[r]; ok {
					b.WriteString(s)
				} else if r < 0x20 {
					fmt.Fprintf(&b, `\u%04x`, r)
				} else {
					b.WriteRune(r)
				}
			}
			b.WriteByte('"')
		case json.Number:
			b.WriteString(pyNumber(string(v)))
		case bool:
			b.WriteString(strconv.FormatBool(v))
		case nil:
			b.WriteString("null")
		}
	}
	enc(v)
	return []byte(b.String()), nil
}

// pyNumber is what Python writes for the number json.loads reads from lit
// once whole floats are made ints.
func pyNumber(lit string) string {
	if !strings.ContainsAny(lit, ".eE") { // an int, of any size
		n, _ := new(big.Int).SetString(lit, 10)
		return n.String()
	}
	f, _ := strconv.ParseFloat(lit, 64) // ±Inf beyond the range
	if math.IsInf(f, 0) {
		return map[bool]string{true: "Infinity", false: "-Infinity"}[f > 0]
	}
	if bf := new(big.Float).SetFloat64(f); bf.IsInt() {
		n, _ := bf.Int(nil)
		return n.String()
	}
	// repr: shortest round-trip digits, positional from 1e-4 up to 1e16.
	if a := math.Abs(f); a >= 1e-4 && a < 1e16 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'e', -1, 64)
}
