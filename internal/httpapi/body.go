package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/kycreview/kycreview"
)

// readBody reads the request body up to the server's limit. It is read in
// full before any transaction starts, so a slow client never holds a lock.
// The error, if any, is the one to answer with.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, kycreview.Errorf(kycreview.ETOOLARGE, "Request body is larger than the limit of %d bytes.", s.cfg.MaxBodyBytes)
	} else if err != nil {
		return nil, kycreview.Errorf(kycreview.EBADREQUEST, "Could not read the request body.")
	}
	return body, nil
}

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
	if !utf8.Valid(body) {
		return nil, kycreview.Errorf(kycreview.EBADREQUEST, "JSON parse error - %s", invalidUTF8Message(body))
	}
	var probe any
	if err := json.Unmarshal(body, &probe); err != nil {
		return nil, kycreview.Errorf(kycreview.EBADREQUEST, "JSON parse error - %s", syntaxMessage(body, err))
	}
	switch probe.(type) {
	case nil:
		return nil, nonFieldError("No data provided")
	case map[string]any:
	default:
		return nil, nonFieldError("Invalid data. Expected a dictionary, but got " + pyTypeName(body) + ".")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, kycreview.Errorf(kycreview.EBADREQUEST, "JSON parse error - %s", syntaxMessage(body, err))
	}
	return fields, nil
}

func nonFieldError(msg string) error {
	return kycreview.FieldErrors(map[string][]string{"non_field_errors": {msg}})
}

// isJSONMediaType reports whether a Content-Type selects DRF's JSON parser:
// application/json with any parameters, or a wildcard that matches it.
func isJSONMediaType(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
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
		if offset > 0 {
			offset-- // Go reports the offset after the offending byte
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

// invalidUTF8Message is Python's UnicodeDecodeError text for the first byte
// that is not UTF-8.
func invalidUTF8Message(body []byte) string {
	for i := 0; i < len(body); {
		r, size := utf8.DecodeRune(body[i:])
		if r == utf8.RuneError && size <= 1 {
			return fmt.Sprintf("'utf-8' codec can't decode byte 0x%02x in position %d: invalid start byte", body[i], i)
		}
		i += size
	}
	return "'utf-8' codec can't decode the body"
}

// form validates a decoded object field by field, collecting DRF-shaped
// messages instead of stopping at the first bad field.
type form struct {
	fields map[string]json.RawMessage
	errs   map[string][]string
}

func newForm(fields map[string]json.RawMessage) *form {
	return &form{fields: fields, errs: map[string][]string{}}
}

func (f *form) fail(name string, msgs ...string) {
	f.errs[name] = append(f.errs[name], msgs...)
}

// err returns the collected messages as one validation error, or nil.
func (f *form) err() error {
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
	var s string
	switch raw[0] {
	case '"':
		if err := json.Unmarshal(raw, &s); err != nil {
			f.fail(name, "Not a valid string.")
			return nil
		}
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		s = pyStr(raw)
	default:
		f.fail(name, "Not a valid string.")
		return nil
	}
	s = kycreview.TrimSpace(s)
	if s == "" && !o.allowBlank {
		f.fail(name, "This field may not be blank.")
		return nil
	}
	if msgs := kycreview.CharFieldErrors(s, o.maxLength); msgs != nil {
		f.fail(name, msgs...)
		return nil
	}
	return &s
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

// uuid validates a DRF UUIDField, which accepts what Python's
// uuid.UUID(hex=...) does, and returns the canonical lower-case form.
func (f *form) uuid(name string, required bool) string {
	raw, ok := f.present(name, required, false)
	if !ok {
		return ""
	}
	var s string
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		f.fail(name, "Must be a valid UUID.")
		return ""
	}
	hex := strings.NewReplacer("urn:", "", "uuid:", "").Replace(s)
	hex = strings.ReplaceAll(strings.Trim(hex, "{}"), "-", "")
	if len(hex) != 32 || strings.IndexFunc(hex, func(r rune) bool { return r >= utf8.RuneSelf || !ishex(byte(r)) }) >= 0 {
		f.fail(name, "Must be a valid UUID.")
		return ""
	}
	hex = strings.ToLower(hex)
	return hex[0:8] + "-" + hex[8:12] + "-" + hex[12:16] + "-" + hex[16:20] + "-" + hex[20:32]
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
