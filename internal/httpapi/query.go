package httpapi

import (
	"math"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file reproduces how Django and DRF read a query string and rebuild
// it, because Didit's next/previous URLs are built that way and clients may
// compare them byte for byte.

// queryParam is one key=value pair of a query string, decoded.
type queryParam struct{ key, value string }

// parseQuery splits a raw query string the way Python's
// urllib.parse.parse_qsl(keep_blank_values=True) does: pairs separated by
// '&', '+' meaning space, a missing '=' meaning an empty value, and invalid
// percent escapes kept as they are rather than refused.
func parseQuery(raw string) []queryParam {
	var out []queryParam
	for _, piece := range strings.Split(raw, "&") {
		if piece == "" {
			continue
		}
		k, v, _ := strings.Cut(piece, "=")
		out = append(out, queryParam{unquotePlus(k), unquotePlus(v)})
	}
	return out
}

// lastValue returns the last value given for key, as Django's QueryDict
// does, and whether there was one.
func lastValue(params []queryParam, key string) (string, bool) {
	for i := len(params) - 1; i >= 0; i-- {
		if params[i].key == key {
			return params[i].value, true
		}
	}
	return "", false
}

// unquotePlus is Python's urllib.parse.unquote_plus: '+' is a space, %XX
// sequences are bytes, and the bytes are read as UTF-8 with each invalid
// sequence replaced by U+FFFD.
func unquotePlus(s string) string {
	if !strings.ContainsAny(s, "+%") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b = append(b, ' ')
		case c == '%' && i+2 < len(s) && ishex(s[i+1]) && ishex(s[i+2]):
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			b = append(b, c)
		}
	}
	return decodeUTF8Replace(b)
}

// decodeUTF8Replace reads b as UTF-8 the way Python's decoder does with
// errors="replace": each maximal prefix of a valid sequence that is cut
// short, and each byte that can start none, becomes one U+FFFD. (Go's
// strings.ToValidUTF8 would fold a whole run into one.)
func decodeUTF8Replace(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var out strings.Builder
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || size > 1 {
			out.WriteString(string(b[i : i+size]))
			i += size
			continue
		}
		out.WriteRune(utf8.RuneError)
		i += invalidPrefixLen(b[i:])
	}
	return out.String()
}

// invalidPrefixLen returns how many bytes at the start of b, which does not
// start a valid sequence, form the longest prefix of one (at least 1), per
// the Unicode Standard's table of well-formed byte sequences.
func invalidPrefixLen(b []byte) int {
	lo, hi, need := byte(0x80), byte(0xBF), 0
	switch c := b[0]; {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		lo, need = 0xA0, 2
	case c == 0xED:
		hi, need = 0x9F, 2
	case c >= 0xE1 && c <= 0xEF:
		need = 2
	case c == 0xF0:
		lo, need = 0x90, 3
	case c == 0xF4:
		hi, need = 0x8F, 3
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	}
	n := 1
	for n <= need && n < len(b) && b[n] >= lo && b[n] <= hi {
		n++
		lo, hi = 0x80, 0xBF
	}
	return n
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// encodeQuery is DRF's replace_query_param/remove_query_param output: the
// parameters grouped by key (keeping each key's values in order), keys
// sorted, and every key and value encoded with Python's quote_plus.
func encodeQuery(params []queryParam) string {
	byKey := map[string][]string{}
	var keys []string
	for _, p := range params {
		if _, ok := byKey[p.key]; !ok {
			keys = append(keys, p.key)
		}
		byKey[p.key] = append(byKey[p.key], p.value)
	}
	sort.Strings(keys) // byte order of UTF-8 is code point order, as Python sorts
	var b strings.Builder
	for _, k := range keys {
		for _, v := range byKey[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(quotePlus(k))
			b.WriteByte('=')
			b.WriteString(quotePlus(v))
		}
	}
	return b.String()
}

// withParam returns params with every value of key replaced by value (or
// removed, if remove is set), as DRF's replace_query_param does.
func withParam(params []queryParam, key, value string, remove bool) []queryParam {
	out := make([]queryParam, 0, len(params)+1)
	for _, p := range params {
		if p.key != key {
			out = append(out, p)
		}
	}
	if !remove {
		out = append(out, queryParam{key, value})
	}
	return out
}

// quotePlus is Python's urllib.parse.quote_plus with its default safe set:
// letters, digits and "_.-~" stay, a space becomes '+', every other byte of
// the UTF-8 text becomes %XX with upper-case hex.
func quotePlus(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.IndexByte("_.-~", c) >= 0:
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// maxQueryInt caps parsed integers. Python's are unbounded; ours stop well
// short of overflowing offset+limit arithmetic.
const maxQueryInt = math.MaxInt64 / 4

// parsePyInt parses s as Python's int(s) does: surrounding whitespace (in
// the narrower sense of int(), which unlike str.strip() does not count the
// separators U+001C–U+001F), one
// optional sign, decimal digits of any script, and single underscores between
// digits. ok is false where Python would raise ValueError. Values beyond
// maxQueryInt saturate.
func parsePyInt(s string) (n int64, ok bool) {
	s = strings.TrimFunc(s, unicode.IsSpace)
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" {
		return 0, false
	}
	prevDigit := false
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		s = s[size:]
		if r == '_' {
			if !prevDigit || s == "" {
				return 0, false
			}
			prevDigit = false
			continue
		}
		d, isDigit := digitValue(r)
		if !isDigit {
			return 0, false
		}
		prevDigit = true
		if n <= (maxQueryInt-int64(d))/10 {
			n = n*10 + int64(d)
		} else {
			n = maxQueryInt
		}
	}
	if !prevDigit {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

// digitValue returns the value of a decimal digit in any script (Unicode
// category Nd), which Python's int() accepts. Unicode encodes such digits in
// contiguous runs of ten from zero, and adjacent runs (the mathematical
// digits) start where the previous one ends, so a digit's value is its
// distance from the start of its block of Nd characters, modulo ten.
func digitValue(r rune) (int, bool) {
	if '0' <= r && r <= '9' {
		return int(r - '0'), true
	}
	if !unicode.Is(unicode.Nd, r) {
		return 0, false
	}
	start := r
	for unicode.Is(unicode.Nd, start-1) {
		start--
	}
	return int(r-start) % 10, true
}

// isPySpace is Python's str.isspace, which str.strip() and int() use.
func isPySpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}
