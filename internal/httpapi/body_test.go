package httpapi

import (
	"errors"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/kycreview/kycreview"
)

// The expectations in this file follow DRF's JSONParser (codecs.getreader
// over the body, then json.load), its media type matching
// (rest_framework.utils.mediatypes with Django's parse_header_parameters) and
// its serializer fields, evaluated with Python 3.11 where Python decides.

// wantErr describes an expected *kycreview.Error: its code and either its
// message or its field messages.
type wantErr struct {
	code    string
	message string
	fields  map[string][]string
}

// checkErr fails the test unless err matches want; a zero want expects nil.
func checkErr(t *testing.T, what string, err error, want wantErr) {
	t.Helper()
	if want.code == "" {
		if err != nil {
			t.Errorf("%s: unexpected error %v", what, err)
		}
		return
	}
	var e *kycreview.Error
	if !errors.As(err, &e) {
		t.Errorf("%s: error = %v, want a *kycreview.Error with code %s", what, err, want.code)
		return
	}
	if got := kycreview.ErrorCode(err); got != want.code {
		t.Errorf("%s: code = %s, want %s (error %v)", what, got, want.code, err)
	}
	if e.Message != want.message {
		t.Errorf("%s: message = %q, want %q", what, e.Message, want.message)
	}
	if !reflect.DeepEqual(e.Fields, want.fields) {
		t.Errorf("%s: fields = %q, want %q", what, e.Fields, want.fields)
	}
}

func unsupported(contentType string) wantErr {
	return wantErr{code: kycreview.EUNSUPPORTED, message: `Unsupported media type "` + contentType + `" in request.`}
}

func nonField(msg string) wantErr {
	return wantErr{code: kycreview.EINVALID, fields: map[string][]string{"non_field_errors": {msg}}}
}

func fieldErrs(fields map[string][]string) wantErr {
	return wantErr{code: kycreview.EINVALID, fields: fields}
}

func TestIsJSONMediaType(t *testing.T) {
	tests := []struct {
		contentType string
		want        bool
	}{
		{"application/json", true},
		{"application/json; charset=utf-8", true},
		{"application/json;charset=UTF-8", true},
		{"application/json ; charset=utf-8", true},
		{"Application/JSON", true},
		{"application/json;", true},
		{`application/json; charset="utf-8"`, true},
		// DRF's media_type_matches("application/json", ct) lets a wildcard
		// on either side match.
		{"*/*", true},
		{"application/*", true},
		{"*/json", true},
		{"", false},
		{"text/plain", false},
		{"text/json", false},
		{"text/*", false},
		{"application/jsonx", false},
		{"application/json-patch+json", false},
		{"application/vnd.api+json", false},
		{"application/x-www-form-urlencoded", false},
		{"multipart/form-data; boundary=xyz", false},
		{"application/json, text/plain", false},
		{"application", false},
		{"json", false},
		{"application/json/extra", false},
		// Django's parse_header_parameters skips parameters it cannot read
		// (no '=') and keeps values it would not emit, so the media type
		// still selects the JSON parser. Go's mime.ParseMediaType returns
		// the media type along with ErrInvalidMediaParameter here.
		{"application/json; charset", true},
		{"application/json; charset=", true},
		{"application/json; foo=bar baz", true},
	}
	for _, tt := range tests {
		if got := isJSONMediaType(tt.contentType); got != tt.want {
			t.Errorf("isJSONMediaType(%q) = %v, want %v", tt.contentType, got, tt.want)
		}
	}
}

func TestDecodeObject(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
		want        map[string]string // the raw fields, when there is no error
		err         wantErr
	}{
		// An empty body is an empty object whatever the content type: DRF
		// never picks a parser when there is no stream.
		{"empty body, JSON", "application/json", "", map[string]string{}, wantErr{}},
		{"empty body, text/plain", "text/plain", "", map[string]string{}, wantErr{}},
		{"empty body, no content type", "", "", map[string]string{}, wantErr{}},
		{"empty object", "application/json", "{}", map[string]string{}, wantErr{}},
		{"fields kept raw", "application/json", `{"a": 1, "b": "x", "c": null, "d": [1, 2]}`,
			map[string]string{"a": "1", "b": `"x"`, "c": "null", "d": "[1, 2]"}, wantErr{}},
		{"duplicate key: last wins", "application/json", `{"a": 1, "a": 2}`, map[string]string{"a": "2"}, wantErr{}},
		{"charset parameter", "application/json; charset=utf-8", `{"a":1}`, map[string]string{"a": "1"}, wantErr{}},
		{"surrounding whitespace", "application/json", " \r\n\t{\"a\":1}\n", map[string]string{"a": "1"}, wantErr{}},
		// Python's json has unbounded ints and turns out-of-range floats into
		// inf, so numbers beyond float64 are valid input, in any field.
		{"number beyond float64", "application/json", `{"x": 1e400, "y": -1e400}`, map[string]string{"x": "1e400", "y": "-1e400"}, wantErr{}},
		{"400-digit int", "application/json", `{"x": ` + strings.Repeat("9", 400) + `}`, map[string]string{"x": strings.Repeat("9", 400)}, wantErr{}},

		{"text/plain", "text/plain", `{}`, nil, unsupported("text/plain")},
		{"raw header in the message", "text/plain; charset=utf-8", `{}`, nil, unsupported("text/plain; charset=utf-8")},
		{"no content type", "", `{}`, nil, unsupported("")},
		{"form content type", "application/x-www-form-urlencoded", `a=1`, nil, unsupported("application/x-www-form-urlencoded")},

		{"null", "application/json", "null", nil, nonField("No data provided")},
		{"null with whitespace", "application/json", " null\n", nil, nonField("No data provided")},
		{"list", "application/json", "[]", nil, nonField("Invalid data. Expected a dictionary, but got list.")},
		{"list of objects", "application/json", `[{"a":1}]`, nil, nonField("Invalid data. Expected a dictionary, but got list.")},
		{"string", "application/json", `"x"`, nil, nonField("Invalid data. Expected a dictionary, but got str.")},
		{"int", "application/json", "1", nil, nonField("Invalid data. Expected a dictionary, but got int.")},
		{"negative zero is an int", "application/json", "-0", nil, nonField("Invalid data. Expected a dictionary, but got int.")},
		{"float", "application/json", "1.5", nil, nonField("Invalid data. Expected a dictionary, but got float.")},
		{"exponent is a float", "application/json", "1e3", nil, nonField("Invalid data. Expected a dictionary, but got float.")},
		{"true", "application/json", "true", nil, nonField("Invalid data. Expected a dictionary, but got bool.")},
		{"false", "application/json", " false ", nil, nonField("Invalid data. Expected a dictionary, but got bool.")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeObject(tt.contentType, []byte(tt.body))
			checkErr(t, "decodeObject", err, tt.err)
			if tt.err.code != "" {
				if got != nil {
					t.Errorf("decodeObject returned fields %q with an error", got)
				}
				return
			}
			if got == nil {
				t.Fatalf("decodeObject returned a nil map")
			}
			gotText := map[string]string{}
			for k, v := range got {
				gotText[k] = string(v)
			}
			if !reflect.DeepEqual(gotText, tt.want) {
				t.Errorf("decodeObject fields = %q, want %q", gotText, tt.want)
			}
		})
	}
}

// positionSuffix is the end of every Python JSONDecodeError message.
var positionSuffix = regexp.MustCompile(`: line [0-9]+ column [0-9]+ \(char [0-9]+\)$`)

func TestDecodeObjectParseErrors(t *testing.T) {
	bodies := []string{
		"{", `{"a":}`, `{"a":1,}`, "[1,", "nul", "tru", `{"a" 1}`, "\n\n  {x", `{"éé": x}`, " ",
		`{"a":1}x`, `{"a":1} {}`, "{\"a\":\"\x01\"}", "{\"a\":1}\n]", `"abc`, `{"a":"b\q"}`, `{'a':1}`,
		`{"a":NaN}`, `{"a":Infinity}`, `{"a":-Infinity}`, "\ufeff{}", "{\"a\":1", `{"a":01}`,
	}
	for _, body := range bodies {
		_, err := decodeObject("application/json", []byte(body))
		var e *kycreview.Error
		if !errors.As(err, &e) || e.Code != kycreview.EBADREQUEST {
			t.Errorf("decodeObject(%q) error = %v, want code %s", body, err, kycreview.EBADREQUEST)
			continue
		}
		if !strings.HasPrefix(e.Message, "JSON parse error - ") || !positionSuffix.MatchString(e.Message) {
			t.Errorf("decodeObject(%q) message = %q, want \"JSON parse error - ...: line L column C (char N)\"", body, e.Message)
		}
		if e.Fields != nil {
			t.Errorf("decodeObject(%q) has field errors %q", body, e.Fields)
		}
	}
}

// TestSyntaxMessagePosition checks the position suffix against Python's
// json.loads for errors where Python and Go blame the same byte: the byte
// that cannot start or continue the value, or the end of the input.
func TestSyntaxMessagePosition(t *testing.T) {
	tests := []struct {
		body, suffix string
	}{
		{`{"a":}`, ": line 1 column 6 (char 5)"},
		{`{"a":1,}`, ": line 1 column 8 (char 7)"},
		{`{"a" 1}`, ": line 1 column 6 (char 5)"},
		{"\n\n  {x", ": line 3 column 4 (char 5)"},
		{`{"éé": x}`, ": line 1 column 8 (char 7)"}, // characters, not bytes
		{`{"a":1}x`, ": line 1 column 8 (char 7)"},
		{`{"a":1} {}`, ": line 1 column 9 (char 8)"},
		{"{\"a\":\"\x01\"}", ": line 1 column 7 (char 6)"},
		{"{\"a\":1}\n]", ": line 2 column 1 (char 8)"},
		{`{'a':1}`, ": line 1 column 2 (char 1)"},
		// Truncated input: Python points just past the last character.
		{"{", ": line 1 column 2 (char 1)"},
		{"[1,", ": line 1 column 4 (char 3)"},
		{" ", ": line 1 column 2 (char 1)"},
		{`{"a":1`, ": line 1 column 7 (char 6)"},
		{`{"a":`, ": line 1 column 6 (char 5)"},
		{"\n{\"a\":\n", ": line 3 column 1 (char 7)"},
	}
	for _, tt := range tests {
		_, err := decodeObject("application/json", []byte(tt.body))
		msg := kycreview.ErrorMessage(err)
		if !strings.HasPrefix(msg, "JSON parse error - ") || !strings.HasSuffix(msg, tt.suffix) {
			t.Errorf("decodeObject(%q) message = %q, want it to end %q", tt.body, msg, tt.suffix)
		}
	}
}

func TestDecodeObjectInvalidUTF8(t *testing.T) {
	tests := []struct {
		name, body, message string
	}{
		{"first byte", "\xff", "JSON parse error - 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"},
		{"lone continuation byte", "{\"a\":\"\x80\"}", "JSON parse error - 'utf-8' codec can't decode byte 0x80 in position 6: invalid start byte"},
		{"overlong encoding", "{\"a\":\"\xc0\x80\"}", "JSON parse error - 'utf-8' codec can't decode byte 0xc0 in position 6: invalid start byte"},
		{"after the object", "{}\xff", "JSON parse error - 'utf-8' codec can't decode byte 0xff in position 2: invalid start byte"},
		// 0xe9 may start a sequence; the '"' after it cannot continue one.
		{"bad continuation", "{\"a\":\"\xe9\"}", "JSON parse error - 'utf-8' codec can't decode byte 0xe9 in position 6: invalid continuation byte"},
		{"encoded surrogate", "{\"a\":\"\xed\xa0\x80\"}", "JSON parse error - 'utf-8' codec can't decode byte 0xed in position 6: invalid continuation byte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeObject("application/json; charset=utf-8", []byte(tt.body))
			checkErr(t, "decodeObject", err, wantErr{code: kycreview.EBADREQUEST, message: tt.message})
		})
	}
}

// TestDecodeObjectTruncatedUTF8AtEnd covers a quirk of DRF's JSONParser: it
// reads the body through codecs.getreader("utf-8"), whose read() decodes
// with final=False and silently drops an incomplete sequence at the very end
// of the stream, so json.load never sees it.
func TestDecodeObjectTruncatedUTF8AtEnd(t *testing.T) {
	got, err := decodeObject("application/json", []byte("{\"a\":1}\xe2\x82"))
	if err != nil {
		t.Fatalf("decodeObject({\"a\":1}\\xe2\\x82) error = %v; DRF parses it as {\"a\": 1}", err)
	}
	if len(got) != 1 || string(got["a"]) != "1" {
		t.Errorf("decodeObject fields = %q, want a=1", got)
	}
}

// TestDecodeObjectIntDigitLimit: Python (3.11, and 3.10.7+) refuses to
// convert an integer literal of more than 4300 digits, and json.loads raises
// ValueError, which DRF's JSONParser reports as a parse error, whatever field
// the number is in.
func TestDecodeObjectIntDigitLimit(t *testing.T) {
	const want = "JSON parse error - Exceeds the limit (4300 digits) for integer string conversion: value has 4301 digits; use sys.set_int_max_str_digits() to increase the limit"
	ok := `{"x": ` + strings.Repeat("1", 4300) + `}`
	if _, err := decodeObject("application/json", []byte(ok)); err != nil {
		t.Errorf("4300 digits: error = %.120s..., want none", err)
	}
	tooLong := `{"x": ` + strings.Repeat("1", 4301) + `}`
	_, err := decodeObject("application/json", []byte(tooLong))
	if kycreview.ErrorCode(err) != kycreview.EBADREQUEST || kycreview.ErrorMessage(err) != want {
		t.Errorf("4301 digits: error = %.120s..., want %s %q", err, kycreview.EBADREQUEST, want)
	}
}

var reviewChoices = []kycreview.Status{kycreview.StatusApproved, kycreview.StatusDeclined, kycreview.StatusInReview}

func TestDecodeChange(t *testing.T) {
	const (
		required  = "This field is required."
		notNull   = "This field may not be null."
		notString = "Not a valid string."
		tooLong   = "Ensure this field has no more than 10000 characters."
		nulChar   = "Null characters are not allowed."
	)
	str := ptr
	long := func(s string, n int) string { return strings.Repeat(s, n) }
	tests := []struct {
		name        string
		contentType string
		body        string
		status      kycreview.Status // "" when none is returned
		comment     *string
		err         wantErr
	}{
		{"approved, no comment", "application/json", `{"new_status": "Approved"}`, kycreview.StatusApproved, nil, wantErr{}},
		{"declined", "application/json", `{"new_status": "Declined"}`, kycreview.StatusDeclined, nil, wantErr{}},
		{"in review", "application/json", `{"new_status": "In Review"}`, kycreview.StatusInReview, nil, wantErr{}},
		{"unknown fields ignored", "application/json", `{"new_status": "Approved", "extra": [1], "user": "x"}`, kycreview.StatusApproved, nil, wantErr{}},

		{"empty body", "application/json", "", "", nil, fieldErrs(map[string][]string{"new_status": {required}})},
		{"empty body without content type", "", "", "", nil, fieldErrs(map[string][]string{"new_status": {required}})},
		{"empty object", "application/json", "{}", "", nil, fieldErrs(map[string][]string{"new_status": {required}})},
		{"status null", "application/json", `{"new_status": null}`, "", nil, fieldErrs(map[string][]string{"new_status": {notNull}})},
		{"status not offered", "application/json", `{"new_status": "Resubmitted"}`, "", nil,
			fieldErrs(map[string][]string{"new_status": {`"Resubmitted" is not a valid choice.`}})},
		{"status of another kind", "application/json", `{"new_status": "Kyc Expired"}`, "", nil,
			fieldErrs(map[string][]string{"new_status": {`"Kyc Expired" is not a valid choice.`}})},
		{"status wrong case", "application/json", `{"new_status": "approved"}`, "", nil,
			fieldErrs(map[string][]string{"new_status": {`"approved" is not a valid choice.`}})},
		{"status not trimmed", "application/json", `{"new_status": " Approved"}`, "", nil,
			fieldErrs(map[string][]string{"new_status": {`" Approved" is not a valid choice.`}})},
		{"status blank", "application/json", `{"new_status": ""}`, "", nil,
			fieldErrs(map[string][]string{"new_status": {`"" is not a valid choice.`}})},
		{"status int", "application/json", `{"new_status": 1}`, "", nil,
			fieldErrs(map[string][]string{"new_status": {`"1" is not a valid choice.`}})},
		{"status float", "application/json", `{"new_status": 1.0}`, "", nil,
			fieldErrs(map[string][]string{"new_status": {`"1.0" is not a valid choice.`}})},
		{"status true", "application/json", `{"new_status": true}`, "", nil,
			fieldErrs(map[string][]string{"new_status": {`"True" is not a valid choice.`}})},
		{"status list", "application/json", `{"new_status": ["Approved"]}`, "", nil,
			fieldErrs(map[string][]string{"new_status": {`"['Approved']" is not a valid choice.`}})},
		{"status object", "application/json", `{"new_status": {"a": 1}}`, "", nil,
			fieldErrs(map[string][]string{"new_status": {`"{'a': 1}" is not a valid choice.`}})},

		{"comment", "application/json", `{"new_status": "Approved", "comment": "Looks good"}`, kycreview.StatusApproved, str("Looks good"), wantErr{}},
		{"comment null", "application/json", `{"new_status": "Approved", "comment": null}`, kycreview.StatusApproved, nil, wantErr{}},
		{"comment blank", "application/json", `{"new_status": "Approved", "comment": ""}`, kycreview.StatusApproved, str(""), wantErr{}},
		{"comment whitespace only", "application/json", `{"new_status": "Approved", "comment": " \n\t "}`, kycreview.StatusApproved, str(""), wantErr{}},
		{"comment trimmed", "application/json", `{"new_status": "Approved", "comment": "  two  words \n"}`, kycreview.StatusApproved, str("two  words"), wantErr{}},
		{"comment trimmed of python whitespace", "application/json", `{"new_status": "Approved", "comment": "\u001c\u00a0hi\u3000\u2029"}`, kycreview.StatusApproved, str("hi"), wantErr{}},
		{"comment escapes decoded", "application/json", `{"new_status": "Approved", "comment": "caf\u00e9 \ud83d\ude00 \"q\""}`, kycreview.StatusApproved, str(`café 😀 "q"`), wantErr{}},
		{"comment int", "application/json", `{"new_status": "Approved", "comment": 123}`, kycreview.StatusApproved, str("123"), wantErr{}},
		{"comment negative int", "application/json", `{"new_status": "Approved", "comment": -7}`, kycreview.StatusApproved, str("-7"), wantErr{}},
		{"comment float", "application/json", `{"new_status": "Approved", "comment": 1.0}`, kycreview.StatusApproved, str("1.0"), wantErr{}},
		{"comment exponent", "application/json", `{"new_status": "Approved", "comment": 1e2}`, kycreview.StatusApproved, str("100.0"), wantErr{}},
		{"comment negative zero float", "application/json", `{"new_status": "Approved", "comment": -0.0}`, kycreview.StatusApproved, str("-0.0"), wantErr{}},
		{"comment float overflow", "application/json", `{"new_status": "Approved", "comment": 1e400}`, kycreview.StatusApproved, str("inf"), wantErr{}},
		{"comment big int", "application/json", `{"new_status": "Approved", "comment": 123456789012345678901234567890}`, kycreview.StatusApproved, str("123456789012345678901234567890"), wantErr{}},
		{"comment true", "application/json", `{"new_status": "Approved", "comment": true}`, "", nil, fieldErrs(map[string][]string{"comment": {notString}})},
		{"comment false", "application/json", `{"new_status": "Approved", "comment": false}`, "", nil, fieldErrs(map[string][]string{"comment": {notString}})},
		{"comment list", "application/json", `{"new_status": "Approved", "comment": []}`, "", nil, fieldErrs(map[string][]string{"comment": {notString}})},
		{"comment object", "application/json", `{"new_status": "Approved", "comment": {}}`, "", nil, fieldErrs(map[string][]string{"comment": {notString}})},
		{"comment 10000 characters", "application/json", `{"new_status": "Approved", "comment": "` + long("é", 10000) + `"}`, kycreview.StatusApproved, str(long("é", 10000)), wantErr{}},
		{"comment 10001 characters", "application/json", `{"new_status": "Approved", "comment": "` + long("a", 10001) + `"}`, "", nil, fieldErrs(map[string][]string{"comment": {tooLong}})},
		{"comment 10000 after trimming", "application/json", `{"new_status": "Approved", "comment": "  ` + long("a", 10000) + `  "}`, kycreview.StatusApproved, str(long("a", 10000)), wantErr{}},
		{"comment NUL", "application/json", `{"new_status": "Approved", "comment": "a\u0000b"}`, "", nil, fieldErrs(map[string][]string{"comment": {nulChar}})},
		{"comment NUL alone", "application/json", `{"new_status": "Approved", "comment": "\u0000"}`, "", nil, fieldErrs(map[string][]string{"comment": {nulChar}})},
		{"comment too long and NUL", "application/json", `{"new_status": "Approved", "comment": "\u0000` + long("a", 10000) + `"}`, "", nil,
			fieldErrs(map[string][]string{"comment": {tooLong, nulChar}})},
		// CharField also runs ProhibitSurrogateCharactersValidator; Python's
		// json keeps an unpaired surrogate escape as a surrogate character.
		{"comment lone surrogate", "application/json", `{"new_status": "Approved", "comment": "a\ud800b"}`, "", nil,
			fieldErrs(map[string][]string{"comment": {"Surrogate characters are not allowed: U+D800."}})},

		{"errors for every field together", "application/json", `{"new_status": "Nope", "comment": true}`, "", nil,
			fieldErrs(map[string][]string{"new_status": {`"Nope" is not a valid choice.`}, "comment": {notString}})},
		{"missing status and bad comment", "application/json", `{"comment": ["x"]}`, "", nil,
			fieldErrs(map[string][]string{"new_status": {required}, "comment": {notString}})},

		{"body errors come first", "text/plain", `{"comment": 1}`, "", nil, unsupported("text/plain")},
		{"non-object body", "application/json", `["Approved"]`, "", nil, nonField("Invalid data. Expected a dictionary, but got list.")},
		{"null body", "application/json", `null`, "", nil, nonField("No data provided")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := decodeChange(tt.contentType, []byte(tt.body), reviewChoices)
			checkErr(t, "decodeChange", err, tt.err)
			if tt.err.code != "" {
				return
			}
			if tt.status == "" {
				if c.NewStatus != nil {
					t.Errorf("new_status = %q, want none", *c.NewStatus)
				}
			} else if c.NewStatus == nil || *c.NewStatus != tt.status {
				t.Errorf("new_status = %v, want %q", c.NewStatus, tt.status)
			}
			switch {
			case tt.comment == nil && c.Comment != nil:
				t.Errorf("comment = %q, want null", *c.Comment)
			case tt.comment != nil && c.Comment == nil:
				t.Errorf("comment = null, want %q", *tt.comment)
			case tt.comment != nil && *c.Comment != *tt.comment:
				t.Errorf("comment = %q, want %q", *c.Comment, *tt.comment)
			}
		})
	}
}

// decodeForm runs body through decodeObject and into a form.
func decodeForm(t *testing.T, body string) *form {
	t.Helper()
	fields, err := decodeObject("application/json", []byte(body))
	if err != nil {
		t.Fatalf("decodeObject(%q): %v", body, err)
	}
	return newForm(fields)
}

func TestFormUUID(t *testing.T) {
	const (
		canonical = "12345678-1234-5678-1234-567812345678"
		hex       = "12345678123456781234567812345678"
		invalid   = "Must be a valid UUID."
	)
	tests := []struct {
		name     string
		body     string
		required bool
		want     string
		errs     map[string][]string
	}{
		{"canonical", `{"id": "` + canonical + `"}`, true, canonical, nil},
		{"plain hex", `{"id": "` + hex + `"}`, true, canonical, nil},
		{"upper case", `{"id": "` + strings.ToUpper(canonical) + `"}`, true, canonical, nil},
		{"braces", `{"id": "{` + canonical + `}"}`, true, canonical, nil},
		{"several braces", `{"id": "{{` + hex + `}"}`, true, canonical, nil},
		{"urn prefix", `{"id": "urn:uuid:` + canonical + `"}`, true, canonical, nil},
		{"braced urn", `{"id": "{urn:uuid:` + hex + `}"}`, true, canonical, nil},
		{"uuid: prefix", `{"id": "uuid:` + hex + `"}`, true, canonical, nil},
		{"prefixes in the other order", `{"id": "uuid:urn:` + hex + `"}`, true, canonical, nil},
		{"hyphens anywhere", `{"id": "1-2-3` + hex[3:] + `"}`, true, canonical, nil},
		{"escaped in JSON", `{"id": "\u0031` + hex[1:] + `"}`, true, canonical, nil},
		{"absent, optional", `{}`, false, "", nil},
		{"absent, required", `{}`, true, "", map[string][]string{"id": {"This field is required."}}},
		{"null", `{"id": null}`, false, "", map[string][]string{"id": {"This field may not be null."}}},
		{"blank", `{"id": ""}`, true, "", map[string][]string{"id": {invalid}}},
		{"hyphens only", `{"id": "-----"}`, true, "", map[string][]string{"id": {invalid}}},
		{"too short", `{"id": "` + hex[1:] + `"}`, true, "", map[string][]string{"id": {invalid}}},
		{"too long", `{"id": "` + hex + `0"}`, true, "", map[string][]string{"id": {invalid}}},
		{"not hex", `{"id": "g` + hex[1:] + `"}`, true, "", map[string][]string{"id": {invalid}}},
		{"upper-case prefix", `{"id": "URN:UUID:` + hex + `"}`, true, "", map[string][]string{"id": {invalid}}},
		{"no-break space inside", `{"id": "` + hex[:16] + `\u00a0` + hex[17:] + `"}`, true, "", map[string][]string{"id": {invalid}}},
		{"float", `{"id": 1.0}`, true, "", map[string][]string{"id": {invalid}}},
		{"list", `{"id": ["` + canonical + `"]}`, true, "", map[string][]string{"id": {invalid}}},
		{"object", `{"id": {}}`, true, "", map[string][]string{"id": {invalid}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := decodeForm(t, tt.body)
			if got := f.uuid("id", tt.required); got != tt.want {
				t.Errorf("uuid = %q, want %q", got, tt.want)
			}
			checkFormErrs(t, f, tt.errs)
		})
	}
}

// TestFormUUIDPythonQuirks covers inputs DRF's UUIDField accepts because of
// how it is built: an int is uuid.UUID(int=data) (and a bool is an int), and
// a string is uuid.UUID(hex=data), which after removing "urn:", "uuid:",
// braces and hyphens hands 32 characters to int(hex, 16) — which takes a
// sign, a 0x prefix, underscores, surrounding whitespace and non-ASCII
// digits. The expectations come from Python 3.11.
func TestFormUUIDPythonQuirks(t *testing.T) {
	const hex = "12345678123456781234567812345678"
	invalid := map[string][]string{"id": {"Must be a valid UUID."}}
	tests := []struct {
		name string
		body string
		want string
		errs map[string][]string
	}{
		{"int zero", `{"id": 0}`, "00000000-0000-0000-0000-000000000000", nil},
		{"int", `{"id": 5}`, "00000000-0000-0000-0000-000000000005", nil},
		{"largest int", `{"id": 340282366920938463463374607431768211455}`, "ffffffff-ffff-ffff-ffff-ffffffffffff", nil},
		{"int too large", `{"id": 340282366920938463463374607431768211456}`, "", invalid},
		{"negative int", `{"id": -1}`, "", invalid},
		{"true", `{"id": true}`, "00000000-0000-0000-0000-000000000001", nil},
		{"false", `{"id": false}`, "00000000-0000-0000-0000-000000000000", nil},
		{"0x prefix", `{"id": "0x` + hex[2:] + `"}`, "00345678-1234-5678-1234-567812345678", nil},
		{"plus sign", `{"id": "+` + hex[1:] + `"}`, "02345678-1234-5678-1234-567812345678", nil},
		{"leading space", `{"id": " ` + hex[1:] + `"}`, "02345678-1234-5678-1234-567812345678", nil},
		{"trailing space", `{"id": "` + hex[:31] + ` "}`, "01234567-8123-4567-8123-456781234567", nil},
		{"underscore", `{"id": "1_` + hex[2:] + `"}`, "01345678-1234-5678-1234-567812345678", nil},
		{"Arabic-Indic digits", `{"id": "` + strings.Repeat("٣", 32) + `"}`, "33333333-3333-3333-3333-333333333333", nil},
		// str.replace removes "urn:" first; what is left may spell "uuid:".
		{"prefix formed by the first removal", `{"id": "uurn:uid:` + hex + `"}`, "12345678-1234-5678-1234-567812345678", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := decodeForm(t, tt.body)
			if got := f.uuid("id", true); got != tt.want {
				t.Errorf("uuid(%s) = %q, want %q", tt.body, got, tt.want)
			}
			checkFormErrs(t, f, tt.errs)
		})
	}
}

func TestFormJSON(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string // "" means nil
	}{
		{"absent", `{}`, ""},
		{"null", `{"m": null}`, ""},
		{"object compacted", `{"m": { "a" : [1, 2], "b": {"c": "d e"} }}`, `{"a":[1,2],"b":{"c":"d e"}}`},
		{"list", `{"m": [ ]}`, `[]`},
		{"string", `{"m": "x"}`, `"x"`},
		{"number", `{"m": 1.5}`, `1.5`},
		{"false", `{"m": false}`, `false`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := decodeForm(t, tt.body)
			got := f.json("m")
			if (got == nil) != (tt.want == "") || string(got) != tt.want {
				t.Errorf("json = %q (nil %v), want %q", got, got == nil, tt.want)
			}
			checkFormErrs(t, f, nil)
		})
	}
}

func TestFormCharRequiredAndBlank(t *testing.T) {
	tests := []struct {
		name string
		body string
		opts charOpts
		want *string
		errs map[string][]string
	}{
		{"required and absent", `{}`, charOpts{required: true}, nil, map[string][]string{"s": {"This field is required."}}},
		{"null not allowed", `{"s": null}`, charOpts{}, nil, map[string][]string{"s": {"This field may not be null."}}},
		{"blank not allowed", `{"s": ""}`, charOpts{}, nil, map[string][]string{"s": {"This field may not be blank."}}},
		{"whitespace is blank", `{"s": " \t"}`, charOpts{}, nil, map[string][]string{"s": {"This field may not be blank."}}},
		{"max length counts code points", `{"s": "😀😀😀"}`, charOpts{maxLength: 3}, ptr("😀😀😀"), nil},
		{"max length exceeded", `{"s": "abcd"}`, charOpts{maxLength: 3}, nil,
			map[string][]string{"s": {"Ensure this field has no more than 3 characters."}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := decodeForm(t, tt.body)
			got := f.char("s", tt.opts)
			if (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
				t.Errorf("char = %v, want %v", derefString(got), derefString(tt.want))
			}
			checkFormErrs(t, f, tt.errs)
		})
	}
}

func checkFormErrs(t *testing.T, f *form, want map[string][]string) {
	t.Helper()
	err := f.err()
	if want == nil {
		if err != nil {
			t.Errorf("form error = %v, want none", err)
		}
		return
	}
	checkErr(t, "form", err, fieldErrs(want))
}

func ptr(s string) *string { return &s }

func derefString(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return strconv.Quote(*s)
}
