package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kycreview/kycreview"
)

// readBody reads the request body up to the server's limit. It is read in
// full before any transaction starts, so a slow client never holds a lock.
// The error, if any, is the one to answer with; when it is errUnreadBody
// the handler answers it at once (see bodyUnread).
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, kycreview.Errorf(kycreview.ETOOLARGE, "Request body is larger than the limit of %d bytes.", s.cfg.MaxBodyBytes)
	} else if err != nil {
		return nil, errUnreadBody
	}
	return body, nil
}

// errUnreadBody is readBody's error for a body that could not be read at
// all: the client sent it slower than the server's read timeout allows, or
// went away.
var errUnreadBody = kycreview.Errorf(kycreview.EBADREQUEST, "Could not read the request body.")

// bodyUnread reports whether err is errUnreadBody. Handlers that report
// body errors after their lookups, in DRF's order, answer this one before
// them instead: the failed read has cancelled the request's context with
// its connection, so any lookup would fail, and be answered and logged as
// an internal error.
func bodyUnread(err error) bool { return err == errUnreadBody }

// decodeObject parses a request body the way DRF's JSONParser and a
// serializer's first checks do, returning the object's fields undecoded.
// An empty body is an empty object, whatever its content type.
func decodeObject(contentType string, body []byte) (map[string]json.RawMessage, error) {
	if len(body) == 0 {
		return map[string]json.RawMessage{}, nil
	}
	if !isJSONMediaType(contentType) {
		return nil, kycreview.Errorf(kycreview.EUNSUPPORTED, "Unsupported media type \"%s\" in request.", contentType)
	}
	// DRF reads the body through a streaming UTF-8 reader, which drops an
	// incomplete sequence at the very end instead of failing on it.
	body = body[:len(body)-truncatedTail(body)]
	if !utf8.Valid(body) {
		return nil, kycreview.Errorf(kycreview.EBADREQUEST, "JSON parse error - %s", invalidUTF8Message(body))
	}
	// Syntax first, without decoding numbers: Python reads 1e400 as inf and
	// keeps 400-digit integers, where a float64 would fail.
	var probe json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil {
		return nil, kycreview.Errorf(kycreview.EBADREQUEST, "JSON parse error - %s", syntaxMessage(body, err))
	}
	if err := checkIntDigits(body); err != nil {
		return nil, err
	}
	switch probe[0] {
	case 'n':
		return nil, nonFieldError("No data provided")
	case '{':
	default:
		return nil, nonFieldError("Invalid data. Expected a dictionary, but got " + pyTypeName(body) + ".")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, kycreview.Errorf(kycreview.EBADREQUEST, "JSON parse error - %s", syntaxMessage(body, err))
	}
	return fields, nil
}

// maxIntDigits is Python's limit on converting integer text (3.10.7+):
// json.loads refuses longer integer literals anywhere in the document.
const maxIntDigits = 4300

// checkIntDigits returns the parse error Python gives for an integer literal
// longer than maxIntDigits. body is valid JSON.
func checkIntDigits(body []byte) error {
	if len(body) <= maxIntDigits {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // io.EOF; the syntax was checked already
		}
		num, ok := tok.(json.Number)
		if !ok || strings.ContainsAny(string(num), ".eE") {
			continue
		}
		if digits := len(strings.TrimPrefix(string(num), "-")); digits > maxIntDigits {
			return kycreview.Errorf(kycreview.EBADREQUEST,
				"JSON parse error - Exceeds the limit (%d digits) for integer string conversion: value has %d digits; use sys.set_int_max_str_digits() to increase the limit",
				maxIntDigits, digits)
		}
	}
}

func nonFieldError(msg string) error {
	return kycreview.FieldErrors(map[string][]string{"non_field_errors": {msg}})
}

// isJSONMediaType reports whether a Content-Type selects DRF's JSON parser:
// application/json with any parameters, or a wildcard that matches it.
func isJSONMediaType(contentType string) bool {
	// Django skips parameters it cannot read, so a malformed parameter does
	// not make the type itself unreadable.
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil && !errors.Is(err, mime.ErrInvalidMediaParameter) {
		return false
	}
	main, sub, _ := strings.Cut(mt, "/")
	return (main == "application" || main == "*") && (sub == "json" || sub == "*")
}

// syntaxMessage describes a JSON syntax error with Python's position
// suffix, "line L column C (char N)", so the message points at the byte.
func syntaxMessage(body []byte, err error) string {
	var se *json.SyntaxError
	offset := int64(len(body))
	msg := "Expecting value"
	if errors.As(err, &se) {
		offset = se.Offset
		msg = se.Error()
		// Go reports the offset after the offending byte; at the end of the
		// input, like Python, it points just past the last one.
		if offset > 0 && offset <= int64(len(body)) && !strings.HasPrefix(msg, "unexpected end") {
			offset--
		}
	} else {
		var ue *json.UnmarshalTypeError
		if errors.As(err, &ue) {
			offset, msg = ue.Offset, ue.Error()
		}
	}
	before := body[:min(int(offset), len(body))]
	line := bytes.Count(before, []byte("\n")) + 1
	col := utf8.RuneCount(before[bytes.LastIndexByte(before, '\n')+1:]) + 1
	return fmt.Sprintf("%s: line %d column %d (char %d)", msg, line, col, utf8.RuneCount(before))
}

// invalidUTF8Message is Python's UnicodeDecodeError text for the first
// invalid sequence in body.
func invalidUTF8Message(body []byte) string {
	for i := 0; i < len(body); {
		r, size := utf8.DecodeRune(body[i:])
		if r != utf8.RuneError || size > 1 {
			i += size
			continue
		}
		n := invalidPrefixLen(body[i:])
		reason := "invalid continuation byte"
		if c := body[i]; c < 0xC2 || c > 0xF4 {
			reason = "invalid start byte"
		} else if i+n == len(body) {
			reason = "unexpected end of data"
		}
		if n == 1 {
			return fmt.Sprintf("'utf-8' codec can't decode byte 0x%02x in position %d: %s", body[i], i, reason)
		}
		return fmt.Sprintf("'utf-8' codec can't decode bytes in position %d-%d: %s", i, i+n-1, reason)
	}
	return "'utf-8' codec can't decode the body"
}

// truncatedTail returns the length of an incomplete but so far valid UTF-8
// sequence at the end of b, or 0.
func truncatedTail(b []byte) int {
	for n := 1; n <= 3 && n <= len(b); n++ {
		start := len(b) - n
		if c := b[start]; c >= 0xC2 && c <= 0xF4 {
			if r, _ := utf8.DecodeRune(b[start:]); r == utf8.RuneError && invalidPrefixLen(b[start:]) == n {
				return n
			}
			return 0
		}
		if b[start] < 0x80 || b[start] > 0xBF {
			return 0
		}
	}
	return 0
}

// form validates a decoded object field by field, collecting DRF-shaped
// messages instead of stopping at the first bad field.
type form struct {
	fields map[string]json.RawMessage
	errs   map[string][]string
	// items holds a list field's messages by item index (see listErrors).
	items map[string]map[int][]string
}

func newForm(fields map[string]json.RawMessage) *form {
	return &form{fields: fields, errs: map[string][]string{}}
}

func (f *form) fail(name string, msgs ...string) {
	f.errs[name] = append(f.errs[name], msgs...)
}

// failed reports whether name has a message already.
func (f *form) failed(name string) bool {
	_, bad := f.errs[name]
	_, badItems := f.items[name]
	return bad || badItems
}

// err returns the collected messages as one validation error, or nil.
func (f *form) err() error {
	if len(f.items) > 0 {
		return newListErrors(f.errs, f.items)
	}
	if len(f.errs) == 0 {
		return nil
	}
	return kycreview.FieldErrors(f.errs)
}

// present returns the raw value of name, and whether it was given and is
// not null, after applying DRF's required and allow_null rules.
func (f *form) present(name string, required, allowNull bool) (json.RawMessage, bool) {
	raw, ok := f.fields[name]
	if !ok {
		if required {
			f.fail(name, "This field is required.")
		}
		return nil, false
	}
	if isNull(raw) {
		if !allowNull {
			f.fail(name, "This field may not be null.")
		}
		return nil, false
	}
	return raw, true
}

// charOpts are a CharField's options.
type charOpts struct {
	required, allowNull, allowBlank bool
	maxLength                       int
}

// char validates a DRF CharField: strings, and numbers coerced to their
// Python text, trimmed of surrounding whitespace; nil when absent, null or
// invalid.
func (f *form) char(name string, o charOpts) *string {
	raw, ok := f.present(name, o.required, o.allowNull)
	if !ok {
		return nil
	}
	s, msgs := charValue(raw, o)
	if msgs != nil {
		f.fail(name, msgs...)
		return nil
	}
	return &s
}

// charValue applies a CharField's rules to a value that is present and not
// null, returning the trimmed text or DRF's messages.
func charValue(raw json.RawMessage, o charOpts) (string, []string) {
	var s string
	switch raw[0] {
	case '"':
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", []string{"Not a valid string."}
		}
		if r, ok := kycreview.LoneSurrogate(raw); ok {
			return "", []string{fmt.Sprintf("Surrogate characters are not allowed: U+%X.", r)}
		}
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		s = pyStr(raw)
	default:
		return "", []string{"Not a valid string."}
	}
	s = kycreview.TrimSpace(s)
	if s == "" && !o.allowBlank {
		return "", []string{"This field may not be blank."}
	}
	if msgs := kycreview.CharFieldErrors(s, o.maxLength); msgs != nil {
		return "", msgs
	}
	return s, nil
}

// status validates a DRF ChoiceField over statuses.
func (f *form) status(name string, required bool, choices []kycreview.Status) *kycreview.Status {
	raw, ok := f.present(name, required, false)
	if !ok {
		return nil
	}
	// DRF looks the choice up by str(value), so 1 and "1" are the same input.
	v := kycreview.Status(pyStr(raw))
	if !v.In(choices) {
		f.fail(name, fmt.Sprintf("\"%s\" is not a valid choice.", pyStr(raw)))
		return nil
	}
	return &v
}

// uuid validates a DRF UUIDField and returns the canonical lower-case form.
// Like DRF it takes an integer (bools are integers in Python) as the UUID's
// 128-bit value, and a string the way uuid.UUID(hex=...) reads it: "urn:"
// and "uuid:" removed, then braces and hyphens, leaving 32 characters that
// Python's int(s, 16) accepts.
func (f *form) uuid(name string, required bool) string {
	raw, ok := f.present(name, required, false)
	if !ok {
		return ""
	}
	var n *big.Int
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			s = strings.ReplaceAll(strings.ReplaceAll(s, "urn:", ""), "uuid:", "")
			s = strings.ReplaceAll(strings.Trim(s, "{}"), "-", "")
			if utf8.RuneCountInString(s) == 32 {
				n = parsePyHex(s)
			}
		}
	case 't', 'f':
		n = big.NewInt(0)
		if raw[0] == 't' {
			n.SetInt64(1)
		}
	default:
		if n, ok = new(big.Int).SetString(string(raw), 10); !ok {
			n = nil
		}
	}
	if n == nil || n.Sign() < 0 || n.BitLen() > 128 {
		f.fail(name, "Must be a valid UUID.")
		return ""
	}
	h := fmt.Sprintf("%032x", n)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// parsePyHex is Python's int(s, 16): surrounding whitespace, a sign, an
// optional 0x prefix, hex digits (decimal ones in any script) with single
// underscores between them. It returns nil where Python raises ValueError.
func parsePyHex(s string) *big.Int {
	s = strings.TrimFunc(s, unicode.IsSpace)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	prefixed := len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')
	if prefixed {
		s = s[2:]
	}
	n := new(big.Int)
	digits, lastUnderscore := 0, false
	underscoreOK := prefixed // "0x_1f" is valid; "_1f", "1__f" and "1f_" are not
	for _, r := range s {
		if r == '_' {
			if !underscoreOK {
				return nil
			}
			underscoreOK, lastUnderscore = false, true
			continue
		}
		var d int
		switch {
		case 'a' <= r && r <= 'f':
			d = int(r-'a') + 10
		case 'A' <= r && r <= 'F':
			d = int(r-'A') + 10
		default:
			v, ok := digitValue(r)
			if !ok {
				return nil
			}
			d = v
		}
		n.Lsh(n, 4).Or(n, big.NewInt(int64(d)))
		digits++
		underscoreOK, lastUnderscore = true, false
	}
	if digits == 0 || lastUnderscore {
		return nil
	}
	if neg {
		n.Neg(n)
	}
	return n
}

// json validates a DRF JSONField: any JSON value, kept compact; nil for
// null or absent.
func (f *form) json(name string) json.RawMessage {
	raw, ok := f.present(name, false, true)
	if !ok {
		return nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		f.fail(name, "Value must be valid JSON.")
		return nil
	}
	// The value rides in every webhook body; refuse now what could not be
	// encoded there later (lone surrogate escapes such as "\ud800").
	if _, err := kycreview.MarshalEventJSON(json.RawMessage(b.Bytes())); err != nil {
		f.fail(name, "Value must be valid JSON.")
		return nil
	}
	return b.Bytes()
}

func isNull(raw json.RawMessage) bool {
	return string(bytes.TrimSpace(raw)) == "null"
}
