package kycreview

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxEventJSONDepth bounds nesting so that a cyclic map or slice, or an
// absurdly deep value, returns an error instead of exhausting the stack. It
// matches the limit encoding/json enforces when decoding.
const maxEventJSONDepth = 10000

// eventHexDigits are lowercase because Python writes \u escapes in lowercase.
const eventHexDigits = "0123456789abcdef"

// MarshalEventJSON encodes v as Python's
// json.dumps(v, sort_keys=True, separators=(",", ":")) does, so that webhook
// bodies, which receivers verify signatures over, match Didit's byte for byte:
// compact, object keys sorted at every level, every non-ASCII character
// escaped as a lowercase \uXXXX (astral characters as a surrogate pair), and
// no HTML escaping.
//
// It accepts nil, bool, string, json.Number (written verbatim once checked to
// be a JSON number), the signed and unsigned integer types, float64 (written
// as Python's float repr; NaN and infinities are an error, though Python
// would write NaN or Infinity), map[string]any, []any, []string and
// json.RawMessage. A raw message is decoded with number literals kept
// verbatim and re-encoded by the same rules, so objects inside it are sorted
// too; a nil or empty one is null, as in encoding/json, and so are nil maps
// and slices. Any other type, including structs, is an error naming the
// type, as are invalid UTF-8 and raw messages holding unpaired surrogate
// escapes (which Go cannot represent in a string).
func MarshalEventJSON(v any) ([]byte, error) {
	return appendEventJSON(nil, v, 0)
}

// appendEventJSON appends the encoding of v to dst; depth is v's nesting
// level, checked against maxEventJSONDepth.
func appendEventJSON(dst []byte, v any, depth int) ([]byte, error) {
	if depth > maxEventJSONDepth {
		return nil, fmt.Errorf("kycreview: event JSON nested deeper than %d levels", maxEventJSONDepth)
	}
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		return strconv.AppendBool(dst, v), nil
	case string:
		return appendEventString(dst, v)
	case json.Number:
		if !isJSONNumber(string(v)) {
			return nil, fmt.Errorf("kycreview: event JSON: invalid number literal %q", string(v))
		}
		return append(dst, v...), nil
	case int:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case int8:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case int16:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(dst, v, 10), nil
	case uint:
		return strconv.AppendUint(dst, uint64(v), 10), nil
	case uint8:
		return strconv.AppendUint(dst, uint64(v), 10), nil
	case uint16:
		return strconv.AppendUint(dst, uint64(v), 10), nil
	case uint32:
		return strconv.AppendUint(dst, uint64(v), 10), nil
	case uint64:
		return strconv.AppendUint(dst, v, 10), nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			// Python would write NaN or Infinity, which is not JSON and which
			// no receiver can parse; refusing is safer than copying that.
			return nil, fmt.Errorf("kycreview: event JSON: unsupported float value %v", v)
		}
		return append(dst, FormatPyFloat(v)...), nil
	case map[string]any:
		if v == nil {
			return append(dst, "null"...), nil
		}
		return appendEventObject(dst, v, depth)
	case []any:
		if v == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		for i, e := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendEventJSON(dst, e, depth+1); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case []string:
		if v == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		for i, e := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendEventString(dst, e); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case json.RawMessage:
		return appendEventRaw(dst, v, depth)
	default:
		return nil, fmt.Errorf("kycreview: event JSON: unsupported type %T", v)
	}
}

// appendEventObject appends m with its keys in code point order, which is
// what Python's sort_keys gives; for valid UTF-8 that is byte order, and
// appendEventString rejects keys that are not valid UTF-8.
func appendEventObject(dst []byte, m map[string]any, depth int) ([]byte, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = appendEventString(dst, k); err != nil {
			return nil, err
		}
		dst = append(dst, ':')
		if dst, err = appendEventJSON(dst, m[k], depth+1); err != nil {
			return nil, err
		}
	}
	return append(dst, '}'), nil
}

// appendEventRaw decodes raw, keeping number literals as json.Number so that
// they are written back exactly as sent, and re-encodes it.
func appendEventRaw(dst []byte, raw json.RawMessage, depth int) ([]byte, error) {
	if len(raw) == 0 {
		return append(dst, "null"...), nil
	}
	// encoding/json would silently turn invalid UTF-8 and unpaired surrogate
	// escapes into U+FFFD; Python would keep the surrogates, so the only
	// honest answers are the exact bytes or an error.
	if !utf8.Valid(raw) {
		return nil, fmt.Errorf("kycreview: event JSON: raw message is not valid UTF-8")
	}
	if _, ok := LoneSurrogate(raw); ok {
		return nil, fmt.Errorf("kycreview: event JSON: raw message has an unpaired surrogate escape")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("kycreview: event JSON: invalid raw message: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("kycreview: event JSON: invalid raw message: data after the value")
	}
	return appendEventJSON(dst, v, depth)
}

// LoneSurrogate returns the first \u escape in JSON text raw that names a
// UTF-16 surrogate without its other half. Go's decoder silently turns one
// into U+FFFD; Python keeps it and DRF refuses it, and no UTF-8 text can
// hold it, so both the API and event encoding must notice it first.
func LoneSurrogate(raw []byte) (rune, bool) {
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		if i+1 >= len(raw) || raw[i+1] != 'u' {
			i++ // skip the escaped character, which may be a backslash
			continue
		}
		r, ok := eventHex4(raw, i+2)
		if !ok {
			return 0, false
		}
		switch {
		case r >= 0xD800 && r < 0xDC00:
			if i+11 < len(raw) && raw[i+6] == '\\' && raw[i+7] == 'u' {
				if r2, ok := eventHex4(raw, i+8); ok && r2 >= 0xDC00 && r2 < 0xE000 {
					i += 11
					continue
				}
			}
			return r, true
		case r >= 0xDC00 && r < 0xE000:
			return r, true
		}
		i += 5
	}
	return 0, false
}

// eventHex4 parses the four hex digits at raw[at:at+4].
func eventHex4(raw []byte, at int) (rune, bool) {
	if at+4 > len(raw) {
		return 0, false
	}
	var r rune
	for _, c := range raw[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// appendEventString appends s quoted as Python's ensure_ascii encoder does:
// only printable ASCII other than '"' and '\' is written as is, so DEL and
// every non-ASCII character become \u escapes.
func appendEventString(dst []byte, s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		return nil, fmt.Errorf("kycreview: event JSON: string is not valid UTF-8: %q", s)
	}
	dst = append(dst, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			dst = append(dst, '\\', byte(r))
		case r == '\b':
			dst = append(dst, '\\', 'b')
		case r == '\f':
			dst = append(dst, '\\', 'f')
		case r == '\n':
			dst = append(dst, '\\', 'n')
		case r == '\r':
			dst = append(dst, '\\', 'r')
		case r == '\t':
			dst = append(dst, '\\', 't')
		case r >= ' ' && r <= '~':
			dst = append(dst, byte(r))
		case r > 0xFFFF:
			r -= 0x10000
			dst = appendUEscape(dst, 0xD800+(r>>10))
			dst = appendUEscape(dst, 0xDC00+(r&0x3FF))
		default:
			dst = appendUEscape(dst, r)
		}
	}
	return append(dst, '"'), nil
}

// appendUEscape appends \uXXXX for a code unit r <= 0xFFFF.
func appendUEscape(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u',
		eventHexDigits[r>>12&0xF], eventHexDigits[r>>8&0xF], eventHexDigits[r>>4&0xF], eventHexDigits[r&0xF])
}

// FormatPyFloat formats f as Python's repr(float) does: the shortest digits
// that round-trip, in fixed notation with at least one digit after the point
// when the decimal exponent is in [-4, 16), else in scientific notation with
// a signed exponent of at least two digits (which is also Go's 'e' format).
func FormatPyFloat(f float64) string {
	if math.IsInf(f, 1) {
		return "inf"
	} else if math.IsInf(f, -1) {
		return "-inf"
	} else if math.IsNaN(f) {
		return "nan"
	}
	sci := strconv.FormatFloat(f, 'e', -1, 64)
	exp := 0
	if i := strings.LastIndexByte(sci, 'e'); i >= 0 {
		// The exponent always parses: FormatFloat writes e±dd.
		exp, _ = strconv.Atoi(sci[i+1:])
	}
	if exp < -4 || exp >= 16 {
		return sci
	}
	fixed := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(fixed, ".") {
		fixed += ".0"
	}
	return fixed
}

// isJSONNumber reports whether s is a JSON number literal, so that a
// json.Number written verbatim cannot corrupt the document.
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	return i == len(s)
}
