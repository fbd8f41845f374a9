package httpapi

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kycreview/kycreview"
)

// pyKind is the Python type json.loads gives a JSON value.
type pyKind int

// The Python types of JSON values.
const (
	pyKindNone pyKind = iota
	pyKindBool
	pyKindInt
	pyKindFloat
	pyKindStr
	pyKindList
	pyKindDict
)

// pyValue is a JSON value as Python holds it after json.loads. Strings are
// runes rather than a Go string because Python keeps unpaired surrogate
// escapes, which UTF-8 cannot carry; they are stored as surrogate runes.
type pyValue struct {
	kind pyKind
	b    bool       // a bool's value
	num  string     // a number's literal text
	str  []rune     // a string's characters
	keys [][]rune   // a dict's keys, in order of first appearance
	vals []*pyValue // a list's elements or a dict's values, by key
}

// pyStr returns what Python prints for str(json.loads(raw)), so that DRF
// error messages which interpolate a submitted value come out identical. A
// top-level string is itself; anything else is its repr. Invalid JSON
// (including invalid UTF-8, which Python cannot decode either) is returned
// unchanged. A top-level string holding an unpaired surrogate escape, which
// Python could not encode into a response anyway, gets U+FFFD in its place.
func pyStr(raw json.RawMessage) string {
	v, ok := parsePy(raw)
	if !ok {
		return string(raw)
	}
	if v.kind == pyKindStr {
		return string(v.str)
	}
	var b strings.Builder
	v.writeRepr(&b)
	return b.String()
}

// pyTypeName returns the name of the Python type of json.loads(raw): "dict",
// "list", "str", "int", "float", "bool" or "NoneType", as DRF puts it in
// messages like `Expected a list of items but got type "dict".`. It returns
// "" for invalid JSON, which has no type.
func pyTypeName(raw json.RawMessage) string {
	if !utf8.Valid(raw) || !json.Valid(raw) {
		return ""
	}
	s := strings.TrimLeft(string(raw), " \t\r\n")
	if s == "" {
		return ""
	}
	switch s[0] {
	case '{':
		return "dict"
	case '[':
		return "list"
	case '"':
		return "str"
	case 't', 'f':
		return "bool"
	case 'n':
		return "NoneType"
	}
	// A valid number: Python makes it a float when it has a fraction or an
	// exponent, however integral its value.
	if strings.ContainsAny(s, ".eE") {
		return "float"
	}
	return "int"
}

// writeRepr writes Python's repr of v.
func (v *pyValue) writeRepr(b *strings.Builder) {
	switch v.kind {
	case pyKindNone:
		b.WriteString("None")
	case pyKindBool:
		if v.b {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case pyKindInt:
		// JSON forbids leading zeros, so "-0" is the one literal whose Python
		// int prints differently; big literals stay exact as text.
		if v.num == "-0" {
			b.WriteString("0")
		} else {
			b.WriteString(v.num)
		}
	case pyKindFloat:
		f, err := strconv.ParseFloat(v.num, 64)
		if err != nil && !math.IsInf(f, 0) {
			// Unreachable for a validated literal; the text is the best guess.
			b.WriteString(v.num)
			return
		}
		// Out-of-range literals give ±Inf here, as float() does in Python.
		b.WriteString(kycreview.FormatPyFloat(f))
	case pyKindStr:
		writePyStrRepr(b, v.str)
	case pyKindList:
		b.WriteByte('[')
		for i, e := range v.vals {
			if i > 0 {
				b.WriteString(", ")
			}
			e.writeRepr(b)
		}
		b.WriteByte(']')
	case pyKindDict:
		b.WriteByte('{')
		for i, k := range v.keys {
			if i > 0 {
				b.WriteString(", ")
			}
			writePyStrRepr(b, k)
			b.WriteString(": ")
			v.vals[i].writeRepr(b)
		}
		b.WriteByte('}')
	}
}

// writePyStrRepr writes Python's repr of the string s: single quotes unless
// s has a single quote and no double quote; backslash, the quote, \t, \n and
// \r escaped; other non-printable characters as \xNN, \uNNNN or \UNNNNNNNN.
// unicode.IsPrint stands in for str.isprintable: both treat every space but
// ' ' as non-printable, and they differ only where their Unicode versions do.
func writePyStrRepr(b *strings.Builder, s []rune) {
	quote := '\''
	if slices.Contains(s, '\'') && !slices.Contains(s, '"') {
		quote = '"'
	}
	b.WriteRune(quote)
	for _, r := range s {
		switch {
		case r == quote || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < ' ' || r == 0x7F:
			writePyEscape(b, 'x', r, 2)
		case r < 0x7F:
			b.WriteRune(r)
		case unicode.IsPrint(r):
			b.WriteRune(r)
		case r <= 0xFF:
			writePyEscape(b, 'x', r, 2)
		case r <= 0xFFFF:
			writePyEscape(b, 'u', r, 4)
		default:
			writePyEscape(b, 'U', r, 8)
		}
	}
	b.WriteRune(quote)
}

// writePyEscape writes a backslash, letter and r as width lowercase hex
// digits, the way Python's repr spells escapes.
func writePyEscape(b *strings.Builder, letter byte, r rune, width int) {
	const digits = "0123456789abcdef"
	b.WriteByte('\\')
	b.WriteByte(letter)
	for shift := 4 * (width - 1); shift >= 0; shift -= 4 {
		b.WriteByte(digits[(r>>shift)&0xF])
	}
}

// maxPyDepth bounds the parser's recursion; json.Valid already refuses
// deeper nesting, so this only guards against the two disagreeing.
const maxPyDepth = 10000

// parsePy parses raw as Python's json.loads would. It reports false for
// anything json.loads (as DRF calls it) would reject.
func parsePy(raw []byte) (*pyValue, bool) {
	// json.Valid checks the syntax (and rejects NaN and Infinity, as DRF's
	// strict parser does) but not the UTF-8, which Python decodes first.
	if !utf8.Valid(raw) || !json.Valid(raw) {
		return nil, false
	}
	p := &pyParser{src: raw}
	p.skipSpace()
	v, ok := p.value(0)
	if !ok {
		return nil, false
	}
	p.skipSpace()
	if p.pos != len(p.src) {
		return nil, false
	}
	return v, true
}

// pyParser is a recursive-descent JSON parser that keeps what encoding/json
// loses: key order, duplicate keys resolved as Python resolves them, number
// literals, and unpaired surrogates. Every method reports false rather than
// panicking on malformed input.
type pyParser struct {
	src []byte
	pos int
}

// skipSpace skips JSON whitespace.
func (p *pyParser) skipSpace() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// literal consumes word if the input continues with it.
func (p *pyParser) literal(word string) bool {
	if !bytes.HasPrefix(p.src[p.pos:], []byte(word)) {
		return false
	}
	p.pos += len(word)
	return true
}

// value parses the value at the current position, at nesting level depth.
func (p *pyParser) value(depth int) (*pyValue, bool) {
	if depth > maxPyDepth || p.pos >= len(p.src) {
		return nil, false
	}
	switch c := p.src[p.pos]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.list(depth)
	case c == '"':
		s, ok := p.string()
		return &pyValue{kind: pyKindStr, str: s}, ok
	case c == 't':
		return &pyValue{kind: pyKindBool, b: true}, p.literal("true")
	case c == 'f':
		return &pyValue{kind: pyKindBool}, p.literal("false")
	case c == 'n':
		return &pyValue{kind: pyKindNone}, p.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	}
	return nil, false
}

// number consumes a number literal; validity was checked by json.Valid, so
// it only needs to find the end and tell ints from floats as Python does.
func (p *pyParser) number() (*pyValue, bool) {
	start := p.pos
	kind := pyKindInt
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if c == '.' || c == 'e' || c == 'E' {
			kind = pyKindFloat
		} else if c != '-' && c != '+' && (c < '0' || c > '9') {
			break
		}
		p.pos++
	}
	return &pyValue{kind: kind, num: string(p.src[start:p.pos])}, p.pos > start
}

// list parses an array.
func (p *pyParser) list(depth int) (*pyValue, bool) {
	p.pos++ // '['
	v := &pyValue{kind: pyKindList}
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == ']' {
		p.pos++
		return v, true
	}
	for {
		p.skipSpace()
		e, ok := p.value(depth + 1)
		if !ok {
			return nil, false
		}
		v.vals = append(v.vals, e)
		p.skipSpace()
		if p.pos >= len(p.src) {
			return nil, false
		}
		switch p.src[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return v, true
		default:
			return nil, false
		}
	}
}

// object parses an object. A repeated key keeps the position of its first
// appearance and the value of its last, as a Python dict built by
// json.loads does.
func (p *pyParser) object(depth int) (*pyValue, bool) {
	p.pos++ // '{'
	v := &pyValue{kind: pyKindDict}
	index := map[string]int{}
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == '}' {
		p.pos++
		return v, true
	}
	for {
		p.skipSpace()
		if p.pos >= len(p.src) || p.src[p.pos] != '"' {
			return nil, false
		}
		k, ok := p.string()
		if !ok {
			return nil, false
		}
		p.skipSpace()
		if p.pos >= len(p.src) || p.src[p.pos] != ':' {
			return nil, false
		}
		p.pos++
		p.skipSpace()
		e, ok := p.value(depth + 1)
		if !ok {
			return nil, false
		}
		// string(k) would fold every surrogate into U+FFFD, merging keys
		// Python keeps apart, so the index key spells out each rune.
		ik := pyRunesKey(k)
		if i, seen := index[ik]; seen {
			v.vals[i] = e
		} else {
			index[ik] = len(v.keys)
			v.keys = append(v.keys, k)
			v.vals = append(v.vals, e)
		}
		p.skipSpace()
		if p.pos >= len(p.src) {
			return nil, false
		}
		switch p.src[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return v, true
		default:
			return nil, false
		}
	}
}

// pyRunesKey encodes s losslessly, surrogates included, as a map key.
func pyRunesKey(s []rune) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteString(strconv.FormatInt(int64(r), 16))
		b.WriteByte(',')
	}
	return b.String()
}

// string parses a string literal. A \u escape of a high surrogate followed
// by one of a low surrogate makes one character; any other surrogate escape
// stays a lone surrogate, as in Python's decoder.
func (p *pyParser) string() ([]rune, bool) {
	p.pos++ // '"'
	s := []rune{}
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == '"':
			p.pos++
			return s, true
		case c < ' ':
			return nil, false
		case c != '\\':
			r, size := utf8.DecodeRune(p.src[p.pos:])
			if r == utf8.RuneError && size <= 1 {
				return nil, false
			}
			s = append(s, r)
			p.pos += size
			continue
		}
		// An escape.
		if p.pos+1 >= len(p.src) {
			return nil, false
		}
		esc := p.src[p.pos+1]
		p.pos += 2
		switch esc {
		case '"', '\\', '/':
			s = append(s, rune(esc))
		case 'b':
			s = append(s, '\b')
		case 'f':
			s = append(s, '\f')
		case 'n':
			s = append(s, '\n')
		case 'r':
			s = append(s, '\r')
		case 't':
			s = append(s, '\t')
		case 'u':
			r, ok := p.hex4(p.pos)
			if !ok {
				return nil, false
			}
			p.pos += 4
			if r >= 0xD800 && r < 0xDC00 && p.pos+6 <= len(p.src) &&
				p.src[p.pos] == '\\' && p.src[p.pos+1] == 'u' {
				if lo, ok := p.hex4(p.pos + 2); ok && lo >= 0xDC00 && lo < 0xE000 {
					r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
					p.pos += 6
				}
			}
			s = append(s, r)
		default:
			return nil, false
		}
	}
	return nil, false
}

// hex4 parses the four hex digits at src[at:at+4].
func (p *pyParser) hex4(at int) (rune, bool) {
	if at < 0 || at+4 > len(p.src) {
		return 0, false
	}
	var r rune
	for _, c := range p.src[at : at+4] {
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
