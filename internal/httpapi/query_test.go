package httpapi

import (
	"reflect"
	"strings"
	"testing"
	"unicode"
)

// The expectations in this file were produced by Python 3.11 (urllib.parse
// and int()), the reference for how Django and DRF read and rebuild query
// strings.

func TestParseQuery(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want []queryParam
	}{
		{"empty", "", nil},
		{"one pair", "a=1", []queryParam{{"a", "1"}}},
		{"order and repeats kept", "a=1&b=2&a=3", []queryParam{{"a", "1"}, {"b", "2"}, {"a", "3"}}},
		// parse_qsl("a=1&&b&c=&=d&e=f=g&a=2;x=y&%zz=%41", keep_blank_values=True)
		{"python reference", "a=1&&b&c=&=d&e=f=g&a=2;x=y&%zz=%41", []queryParam{
			{"a", "1"}, {"b", ""}, {"c", ""}, {"", "d"}, {"e", "f=g"}, {"a", "2;x=y"}, {"%zz", "A"},
		}},
		{"plus is space in keys and values", "a+b=c+d", []queryParam{{"a b", "c d"}}},
		{"escaped plus is plus", "q=a%2Bb", []queryParam{{"q", "a+b"}}},
		{"escaped ampersand and equals", "a%26b=c%3Dd", []queryParam{{"a&b", "c=d"}}},
		{"only separators", "&&&", nil},
		{"trailing separator", "limit=1&", []queryParam{{"limit", "1"}}},
		{"utf-8 escapes", "q=caf%C3%A9", []queryParam{{"q", "café"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseQuery(tt.raw); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseQuery(%q) = %q, want %q", tt.raw, got, tt.want)
			}
		})
	}
}

func TestLastValue(t *testing.T) {
	params := []queryParam{{"limit", "1"}, {"offset", "5"}, {"limit", "3"}, {"empty", ""}}
	tests := []struct {
		key    string
		want   string
		wantOK bool
	}{
		{"limit", "3", true},
		{"offset", "5", true},
		{"empty", "", true},
		{"missing", "", false},
		{"LIMIT", "", false}, // keys are case-sensitive, as QueryDict's are
	}
	for _, tt := range tests {
		got, ok := lastValue(params, tt.key)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("lastValue(%q) = %q, %v; want %q, %v", tt.key, got, ok, tt.want, tt.wantOK)
		}
	}
	if got, ok := lastValue(nil, "limit"); got != "" || ok {
		t.Errorf("lastValue(nil) = %q, %v; want \"\", false", got, ok)
	}
}

func TestUnquotePlus(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", ""},
		{"plain", "plain"},
		{"a+b", "a b"},
		{"%41", "A"},
		{"%4a%4A", "JJ"}, // either case of hex
		{"%zz", "%zz"},
		{"%", "%"},
		{"a%2", "a%2"},
		{"%4", "%4"},
		{"%%41", "%A"},
		{"%2B", "+"},
		{"caf%C3%A9+x", "café x"},
		{"%e2%82%ac", "€"},
		// Invalid UTF-8 becomes U+FFFD, as bytes.decode("utf-8", "replace").
		{"%e9", "\uFFFD"},
		{"%e2%82", "\uFFFD"},       // one truncated sequence is one replacement
		{"%e2%82a", "\uFFFDa"},     // likewise, before a valid byte
		{"%f0%9f%98", "\uFFFD"},    // a truncated four-byte sequence
		{"%e9%e9", "\uFFFD\uFFFD"}, // two invalid start bytes are two replacements
		{"%c0%80", "\uFFFD\uFFFD"}, // an overlong encoding: each byte is invalid
		{"%ff%fe", "\uFFFD\uFFFD"},
		{"%ed%a0%80", "\uFFFD\uFFFD\uFFFD"}, // an encoded surrogate: three replacements
		// Maximal subparts, per the Unicode table of well-formed sequences.
		{"%e0%80", "\uFFFD\uFFFD"},
		{"%e0%a0", "\uFFFD"},
		{"%e0%a0%80", "\u0800"},
		{"%ed%9f%bf", "\ud7ff"},
		{"%ed%a0", "\uFFFD\uFFFD"},
		{"%f4%90", "\uFFFD\uFFFD"},
		{"%f4%8f%bf%bf", "\U0010ffff"},
		{"%f0%80", "\uFFFD\uFFFD"},
		{"%f0%90%80", "\uFFFD"},
		{"%f5%80", "\uFFFD\uFFFD"},
		{"%c1%bf", "\uFFFD\uFFFD"},
		{"%c2", "\uFFFD"},
		{"%c2%41", "\uFFFDA"},
		{"%e1%80%41", "\uFFFDA"},
		{"%f1%80%80%41", "\uFFFDA"},
		{"%80%80", "\uFFFD\uFFFD"},
		{"%f0%9f%98%80%f0%9f", "\U0001F600\uFFFD"},
	}
	for _, tt := range tests {
		if got := unquotePlus(tt.in); got != tt.want {
			t.Errorf("unquotePlus(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestQuotePlus(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", ""},
		{"abcXYZ019", "abcXYZ019"},
		{"_.-~", "_.-~"},
		{"a b", "a+b"},
		{"a,b", "a%2Cb"},
		{"/", "%2F"},
		{"+", "%2B"},
		{"%", "%25"},
		{"a&b=c", "a%26b%3Dc"},
		{"\x00", "%00"},
		{"é", "%C3%A9"},
		{"日本", "%E6%97%A5%E6%9C%AC"},
		{"€ 1,2", "%E2%82%AC+1%2C2"},
		{"-created_at,uuid", "-created_at%2Cuuid"},
	}
	for _, tt := range tests {
		if got := quotePlus(tt.in); got != tt.want {
			t.Errorf("quotePlus(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEncodeQuery(t *testing.T) {
	tests := []struct {
		name   string
		params []queryParam
		want   string
	}{
		{"none", nil, ""},
		{"keys sorted", []queryParam{{"ordering", "created_at"}, {"limit", "2"}, {"offset", "2"}},
			"limit=2&offset=2&ordering=created_at"},
		{"repeated key keeps its values in order", []queryParam{{"tag", "b"}, {"a", "1"}, {"tag", "a"}},
			"a=1&tag=b&tag=a"},
		{"space, comma, tilde, slash", []queryParam{{"q", "a b,c~d/e"}}, "q=a+b%2Cc~d%2Fe"},
		{"non-ASCII key and value", []queryParam{{"é", "日"}}, "%C3%A9=%E6%97%A5"},
		{"empty key and value", []queryParam{{"", ""}, {"x", ""}}, "=&x="},
		{"sorted by code point", []queryParam{{"é", "1"}, {"z", "2"}, {"Z", "3"}, {"_", "4"}},
			"Z=3&_=4&z=2&%C3%A9=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := encodeQuery(tt.params); got != tt.want {
				t.Errorf("encodeQuery(%q) = %q, want %q", tt.params, got, tt.want)
			}
		})
	}
}

func TestWithParam(t *testing.T) {
	params := []queryParam{{"limit", "1"}, {"a", "x"}, {"limit", "2"}}
	got := withParam(params, "limit", "5", false)
	want := []queryParam{{"a", "x"}, {"limit", "5"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("withParam(replace) = %q, want %q", got, want)
	}
	got = withParam(params, "limit", "", true)
	want = []queryParam{{"a", "x"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("withParam(remove) = %q, want %q", got, want)
	}
	got = withParam(params, "offset", "3", false)
	want = []queryParam{{"limit", "1"}, {"a", "x"}, {"limit", "2"}, {"offset", "3"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("withParam(add) = %q, want %q", got, want)
	}
	if !reflect.DeepEqual(params, []queryParam{{"limit", "1"}, {"a", "x"}, {"limit", "2"}}) {
		t.Errorf("withParam modified its input: %q", params)
	}
}

func TestParsePyInt(t *testing.T) {
	tests := []struct {
		in     string
		want   int64
		wantOK bool
	}{
		{"0", 0, true},
		{"42", 42, true},
		{" 42 ", 42, true},
		{"\t\n\v\f\r42\r\n", 42, true},
		{"+7", 7, true},
		{"-3", -3, true},
		{"-0", 0, true},
		{"007", 7, true},
		{"1_000", 1000, true},
		{"0_7", 7, true},
		{"1__0", 0, false},
		{"_1", 0, false},
		{"1_", 0, false},
		{"+_1", 0, false},
		{"", 0, false},
		{" ", 0, false},
		{"+", 0, false},
		{"-", 0, false},
		{"- 3", 0, false},
		{"+-3", 0, false},
		{"1 2", 0, false},
		{"12\x00", 0, false},
		{"abc", 0, false},
		{"1e3", 0, false},
		{"0x10", 0, false},
		{"1.0", 0, false},
		{"²", 0, false},       // superscript two is No, not Nd
		{"Ⅷ", 0, false},       // roman numeral eight is Nl
		{"\u200b1", 0, false}, // zero width space is not whitespace
		{"٣", 3, true},        // Arabic-Indic three
		{"١٢", 12, true},
		{"1_٣", 13, true},
		{"৪", 4, true}, // Bengali four
		{"５", 5, true}, // fullwidth five
		{"𝟗", 9, true}, // mathematical bold nine
		{"𝟶", 0, true}, // mathematical monospace zero, the start of the last adjacent run
		{"𝟿", 9, true}, // mathematical monospace nine
		{"\u00a012\u3000", 12, true},
		{"12\u0085", 12, true},
		{"\u2028\u202f7\u205f", 7, true},
		{strings.Repeat("1", 40), maxQueryInt, true},
		{"-" + strings.Repeat("9", 40), -maxQueryInt, true},
		{"9223372036854775807", maxQueryInt, true},
		// int() only strips ASCII whitespace (" \t\n\v\f\r") from an ASCII
		// string, and keeps ASCII characters as they are when it converts a
		// non-ASCII one, so the information separators \x1c-\x1f (which
		// str.isspace and str.strip accept) make int() raise ValueError.
		{"12\x1c", 0, false},
		{"\x1c12", 0, false},
		{"12\x1f", 0, false},
		{"12\x1c\u3000", 0, false},
	}
	for _, tt := range tests {
		got, ok := parsePyInt(tt.in)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("parsePyInt(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

// pyDigitZeros are the code points of the digit zero of every run of Unicode
// decimal digits that Python 3.11's int() accepts (Unicode 14: the Nd
// characters, each run holding 0 to 9), from
// [c for c in range(0x110000) if unicodedata.decimal(chr(c), None) == 0].
var pyDigitZeros = []rune{
	0x30, 0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66, 0xDE6,
	0xE50, 0xED0, 0xF20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90, 0x1B50,
	0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10, 0x104A0,
	0x10D30, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650, 0x116C0,
	0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x16A60, 0x16AC0, 0x16B50, 0x1D7CE,
	0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E950, 0x1FBF0,
}

// unicode15DigitZeros are the runs Unicode 15 added (Kawi, Nag Mundari):
// Go's tables know them, and so does Python from 3.12 on.
var unicode15DigitZeros = []rune{0x11F50, 0x1E4F0}

// TestDigitValueAllRunes checks digitValue over every code point against
// Python's table, so the "distance from the start of the run" arithmetic is
// known to hold for every script, not just the ones listed above.
func TestDigitValueAllRunes(t *testing.T) {
	want := map[rune]int{}
	for _, zeros := range [][]rune{pyDigitZeros, unicode15DigitZeros} {
		for _, z := range zeros {
			for i := range 10 {
				want[z+rune(i)] = i
			}
		}
	}
	for r := rune(0); r <= unicode.MaxRune; r++ {
		got, ok := digitValue(r)
		w, wantOK := want[r]
		if ok != wantOK || got != w {
			t.Errorf("digitValue(%U) = %d, %v; want %d, %v", r, got, ok, w, wantOK)
		}
	}
}

// pySpaces are the characters for which Python's str.isspace is true, from
// [hex(c) for c in range(0x110000) if chr(c).isspace()]. str.strip() uses it.
var pySpaces = []rune{
	0x9, 0xa, 0xb, 0xc, 0xd, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680,
	0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a,
	0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
}

func TestIsPySpaceAllRunes(t *testing.T) {
	want := map[rune]bool{}
	for _, r := range pySpaces {
		want[r] = true
	}
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if got := isPySpace(r); got != want[r] {
			t.Errorf("isPySpace(%U) = %v, want %v", r, got, want[r])
		}
	}
}

// TestParsePyIntWhitespace checks every character str.isspace accepts:
// int() strips them all from around the digits except U+001C–U+001F, which
// it keeps (and then rejects) because it only converts non-ASCII characters.
func TestParsePyIntWhitespace(t *testing.T) {
	for _, r := range pySpaces {
		wantOK := r < 0x1c || r > 0x1f
		for _, s := range []string{string(r) + "12", "12" + string(r), string(r) + "12" + string(r)} {
			n, ok := parsePyInt(s)
			if ok != wantOK || (ok && n != 12) {
				t.Errorf("parsePyInt(%q) = %d, %v; want ok=%v", s, n, ok, wantOK)
			}
		}
		if _, ok := parsePyInt("1" + string(r) + "2"); ok {
			t.Errorf("parsePyInt(%q) accepted inner whitespace", "1"+string(r)+"2")
		}
	}
}
