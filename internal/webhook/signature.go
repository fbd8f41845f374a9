package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kycreview/kycreview"
)

// UserAgent names the service to receivers, so that their firewalls and
// logs can tell our deliveries apart.
const UserAgent = "kycreview-webhooks/1"

// The headers Sign sets. Header names are case-insensitive; Go sends the
// Standard Webhooks ones as Webhook-Id and so on.
const (
	HeaderSignature        = "X-Signature"
	HeaderSignatureV2      = "X-Signature-V2"
	HeaderSignatureSimple  = "X-Signature-Simple"
	HeaderTimestamp        = "X-Timestamp"
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

// Sign returns the headers of one delivery attempt of body, an event whose
// event_id is eventID, to a destination whose secret_shared_key is secret,
// signed at time at (the dispatcher's clock, so a retry is signed afresh and
// passes receivers' 300-second freshness check).
//
// Every HMAC is SHA-256 keyed with the secret's UTF-8 bytes, used as is:
//
//   - X-Signature: hex HMAC of the exact body bytes.
//   - X-Signature-V2: hex HMAC of CanonicalV2(body), for receivers whose
//     framework re-encodes JSON before they see it.
//   - X-Signature-Simple: hex HMAC of "{timestamp}:{session_id}:{status}:
//     {webhook_type}", the four values taken from the body (a missing or
//     null one is empty), as a receiver that only has the parsed object
//     computes it.
//   - X-Timestamp and webhook-timestamp: at, in Unix seconds.
//   - webhook-id: eventID, the receiver's dedupe key.
//   - webhook-signature: "v1," and the standard-base64 HMAC of
//     "{webhook-id}.{webhook-timestamp}.{body}", the Standard Webhooks
//     scheme. The secret is not a "whsec_" base64 secret: receivers build
//     their verifier from its raw bytes (NewWebhookRaw([]byte(secret)) in
//     the Go library, Webhook(secret.encode()) in Python, new
//     Webhook(secret, {format: "raw"}) in JavaScript).
//
// The error is for a body that is not one JSON value in valid UTF-8, which
// the renderer never produces.
func Sign(secret, eventID string, body []byte, at time.Time) (http.Header, error) {
	v, err := decodeBody(body)
	if err != nil {
		return nil, err
	}
	canon, err := appendCanonical(nil, v)
	if err != nil {
		return nil, err
	}
	simple, err := simpleMessage(v)
	if err != nil {
		return nil, err
	}
	key := []byte(secret)
	ts := strconv.FormatInt(at.Unix(), 10)

	std := hmac.New(sha256.New, key)
	std.Write([]byte(eventID))
	std.Write([]byte{'.'})
	std.Write([]byte(ts))
	std.Write([]byte{'.'})
	std.Write(body)

	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", UserAgent)
	h.Set(HeaderSignature, hexHMAC(key, body))
	h.Set(HeaderSignatureV2, hexHMAC(key, canon))
	h.Set(HeaderSignatureSimple, hexHMAC(key, []byte(simple)))
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderWebhookID, eventID)
	h.Set(HeaderWebhookTimestamp, ts)
	h.Set(HeaderWebhookSignature, "v1,"+base64.StdEncoding.EncodeToString(std.Sum(nil)))
	return h, nil
}

func hexHMAC(key, msg []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return hex.EncodeToString(m.Sum(nil))
}

// CanonicalV2 re-serialises the JSON document body as X-Signature-V2 signs
// it: what Python's
//
//	json.dumps(shorten(json.loads(body)), ensure_ascii=False,
//	           sort_keys=True, separators=(",", ":")).encode()
//
// gives, where shorten turns every float f with f.is_integer() into int(f),
// at any depth. In detail:
//
//   - object keys are sorted by code point at every level; a repeated key
//     keeps its last value, as json.loads does;
//   - strings are written in UTF-8 with only '"', '\' and the controls
//     U+0000–U+001F escaped (\b \f \n \r \t, else a lowercase \u00XX);
//     DEL, U+2028 and everything non-ASCII are written as themselves;
//   - an integer literal keeps its digits ("-0" becomes "0");
//   - a literal with a fraction or exponent is read as a float64 (nearest,
//     as Python's float does). A whole one becomes the exact integer of
//     that double: 1.0 → 1, 2.0e2 → 200, -0.0 → 0, 1e-400 → 0, 1e300 → all
//     301 digits of the double nearest 10^300. Any other is written as
//     Python's repr: 2.50 → 2.5, 1E-7 → 1e-07.
//   - a literal beyond float64's range (1e400) is infinite in Python, not
//     whole, and json.dumps writes it as Infinity (-Infinity): not JSON,
//     but exactly what a Python receiver signs, so it is what we sign.
func CanonicalV2(body []byte) ([]byte, error) {
	v, err := decodeBody(body)
	if err != nil {
		return nil, err
	}
	return appendCanonical(nil, v)
}

// decodeBody parses body keeping number literals. encoding/json would
// silently turn invalid UTF-8 and unpaired surrogate escapes into U+FFFD,
// signing something other than what the receiver parses, so they are
// refused first.
func decodeBody(body []byte) (any, error) {
	if !utf8.Valid(body) {
		return nil, errors.New("webhook: body is not valid UTF-8")
	}
	if _, ok := kycreview.LoneSurrogate(body); ok {
		return nil, errors.New("webhook: body has an unpaired surrogate escape")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("webhook: body is not JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("webhook: body has data after the JSON value")
	}
	return v, nil
}

// appendCanonical appends v, as decodeBody returns it, in canonical form.
// decodeBody's nesting limit bounds the recursion.
func appendCanonical(dst []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		return strconv.AppendBool(dst, v), nil
	case string:
		return appendCanonicalString(dst, v), nil
	case json.Number:
		return appendCanonicalNumber(dst, string(v))
	case []any:
		dst = append(dst, '[')
		for i, e := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendCanonical(dst, e); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		// Byte order of valid UTF-8 is code point order, which is how
		// Python sorts str keys.
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendCanonicalString(dst, k)
			dst = append(dst, ':')
			var err error
			if dst, err = appendCanonical(dst, v[k]); err != nil {
				return nil, err
			}
		}
		return append(dst, '}'), nil
	default:
		return nil, fmt.Errorf("webhook: unexpected JSON value %T", v)
	}
}

// appendCanonicalNumber appends the JSON number literal lit as Python
// writes the value json.loads reads from it, whole floats made integers.
func appendCanonicalNumber(dst []byte, lit string) ([]byte, error) {
	if !strings.ContainsAny(lit, ".eE") {
		if lit == "-0" {
			return append(dst, '0'), nil
		}
		return append(dst, lit...), nil
	}
	f, err := strconv.ParseFloat(lit, 64)
	switch {
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...), nil
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...), nil
	case err != nil:
		return nil, fmt.Errorf("webhook: bad number %q: %w", lit, err)
	case f == 0:
		return append(dst, '0'), nil // int(-0.0) is 0
	case f == math.Trunc(f):
		// With a precision of 0, 'f' formatting is exact: every digit of
		// the double, which is what Python's int(f) holds.
		return strconv.AppendFloat(dst, f, 'f', 0, 64), nil
	default:
		return append(dst, kycreview.FormatPyFloat(f)...), nil
	}
}

const lowerHex = "0123456789abcdef"

// appendCanonicalString appends s quoted as Python's encoder does with
// ensure_ascii=False.
func appendCanonicalString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			if c < 0x20 {
				dst = append(dst, '\\', 'u', '0', '0', lowerHex[c>>4], lowerHex[c&0xF])
			} else {
				dst = append(dst, c) // multi-byte UTF-8 goes through byte by byte
			}
		}
	}
	return append(dst, '"')
}

// simpleMessage is X-Signature-Simple's message for the decoded body v.
// Each field is written as Python's str() writes the parsed value, which for
// the strings and integers of our bodies is the plain text.
func simpleMessage(v any) (string, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return "", errors.New("webhook: body is not a JSON object")
	}
	parts := make([]string, 0, 4)
	for _, name := range []string{"timestamp", "session_id", "status", "webhook_type"} {
		switch f := obj[name].(type) {
		case string:
			parts = append(parts, f)
		case json.Number:
			// A whole float stays a float in Python's str ("1.0"), so the
			// number is written as is, not shortened; the timestamp of our
			// bodies is an integer anyway.
			b, err := appendPyNumber(nil, string(f))
			if err != nil {
				return "", err
			}
			parts = append(parts, string(b))
		case nil:
			// Missing or null: empty, as Didit's JavaScript recipe
			// (body.timestamp || "") has it.
			parts = append(parts, "")
		default:
			return "", fmt.Errorf("webhook: body field %s is a %T, not a string or number", name, f)
		}
	}
	return strings.Join(parts, ":"), nil
}

// appendPyNumber appends str() of the number json.loads reads from lit.
func appendPyNumber(dst []byte, lit string) ([]byte, error) {
	if !strings.ContainsAny(lit, ".eE") {
		return appendCanonicalNumber(dst, lit)
	}
	f, err := strconv.ParseFloat(lit, 64)
	switch {
	case math.IsInf(f, 1):
		return append(dst, "inf"...), nil
	case math.IsInf(f, -1):
		return append(dst, "-inf"...), nil
	case err != nil:
		return nil, fmt.Errorf("webhook: bad number %q: %w", lit, err)
	}
	return append(dst, kycreview.FormatPyFloat(f)...), nil
}
