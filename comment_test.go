package kycreview

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// pythonWhitespace is every code point for which Python 3's str.isspace() is
// true, which is exactly what str.strip() removes; produced with
// [hex(c) for c in range(0x110000) if chr(c).isspace()] on Python 3.
var pythonWhitespace = []rune{
	0x9, 0xa, 0xb, 0xc, 0xd, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680,
	0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a,
	0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
}

func TestTrimSpace(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", ""},
		{"nothing to trim", "hello", "hello"},
		{"spaces", "  hello  ", "hello"},
		{"ASCII controls", "\t\n\v\f\r hello \r\n\t", "hello"},
		{"information separators U+001C-U+001F", "\x1c\x1d\x1e\x1fhello\x1f\x1e", "hello"},
		{"no-break space U+00A0", "\u00a0hello\u00a0", "hello"},
		{"ideographic space U+3000", "\u3000hello\u3000", "hello"},
		{"next line U+0085", "\u0085hello\u0085", "hello"},
		{"line and paragraph separators", "\u2028hello\u2029", "hello"},
		{"narrow no-break space U+202F", "\u202fhello\u202f", "hello"},
		{"mixed", " \u3000\t\x1f\u00a0hello world\n\u2003 ", "hello world"},
		{"inner whitespace kept", "  a \u3000\x1c b  ", "a \u3000\x1c b"},
		{"all whitespace", " \t\n\u00a0\u3000\x1c ", ""},
		{"non-ASCII text kept", " Grüße 确认 ", "Grüße 确认"},
		// Not whitespace to Python: kept.
		{"zero width space U+200B kept", "\u200bhello\u200b", "\u200bhello\u200b"},
		{"BOM U+FEFF kept", "\ufeffhello", "\ufeffhello"},
		{"Mongolian vowel separator U+180E kept", "\u180ehello", "\u180ehello"},
		{"NUL kept", "\x00 hello \x00", "\x00 hello \x00"},
		{"escape kept", "\x1bhello", "\x1bhello"},
		{"unit separator neighbour U+001B kept", "\x1b", "\x1b"},
		{"DEL kept", "\x7f", "\x7f"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := TrimSpace(tt.in); got != tt.want {
				t.Errorf("TrimSpace(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestTrimSpaceMatchesPython checks every code point against Python's
// whitespace set: each one is stripped from either end exactly when Python
// strips it, and never from the middle.
func TestTrimSpaceMatchesPython(t *testing.T) {
	space := make(map[rune]bool, len(pythonWhitespace))
	for _, r := range pythonWhitespace {
		space[r] = true
	}
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue // surrogates cannot be in a Go string
		}
		c := string(r)
		want := c
		if space[r] {
			want = ""
		}
		if got := TrimSpace(c + "x" + c); got != want+"x"+want {
			t.Errorf("TrimSpace(%q) = %q, want %q", c+"x"+c, got, want+"x"+want)
		}
		if got := TrimSpace("x" + c + "x"); got != "x"+c+"x" {
			t.Errorf("TrimSpace(%q) = %q, want it unchanged", "x"+c+"x", got)
		}
	}
}

func TestCharFieldErrors(t *testing.T) {
	const tooLong = "Ensure this field has no more than 10000 characters."
	const null = "Null characters are not allowed."
	tests := []struct {
		name   string
		in     string
		maxLen int
		want   []string
	}{
		{"empty", "", MaxCommentLength, nil},
		{"short", "Document re-checked manually.", MaxCommentLength, nil},
		{"10000 ASCII", strings.Repeat("a", 10000), MaxCommentLength, nil},
		{"10001 ASCII", strings.Repeat("a", 10001), MaxCommentLength, []string{tooLong}},
		// Length is in code points, not bytes: 'é' is two bytes.
		{"10000 é", strings.Repeat("é", 10000), MaxCommentLength, nil},
		{"10001 é", strings.Repeat("é", 10001), MaxCommentLength, []string{tooLong}},
		// Astral characters are one code point each (four bytes, two UTF-16 units).
		{"10000 astral", strings.Repeat("😀", 10000), MaxCommentLength, nil},
		{"10001 astral", strings.Repeat("😀", 10001), MaxCommentLength, []string{tooLong}},
		// Code points, not grapheme clusters: e + combining acute is two.
		{"5000 e+combining acute", strings.Repeat("e\u0301", 5000), MaxCommentLength, nil},
		{"5000 e+combining acute plus one", strings.Repeat("e\u0301", 5000) + "x", MaxCommentLength, []string{tooLong}},
		{"NUL", "a\x00b", MaxCommentLength, []string{null}},
		{"only NUL", "\x00", MaxCommentLength, []string{null}},
		{"NUL at the end", "ok\x00", MaxCommentLength, []string{null}},
		{"too long and NUL, in that order", "\x00" + strings.Repeat("é", 10000), MaxCommentLength, []string{tooLong, null}},
		{"escaped NUL text is not NUL", `a\u0000b`, MaxCommentLength, nil},
		{"no limit", strings.Repeat("a", 20000), 0, nil},
		{"no limit, NUL", strings.Repeat("a", 20000) + "\x00", 0, []string{null}},
		{"other limit", "abcdef", 5, []string{"Ensure this field has no more than 5 characters."}},
		{"other limit, exact", "abcde", 5, nil},
		{"limit of one", "ab", 1, []string{"Ensure this field has no more than 1 characters."}},
		{"limit 255", strings.Repeat("x", 256), 255, []string{"Ensure this field has no more than 255 characters."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CharFieldErrors(tt.in, tt.maxLen)
			// want nil means exactly nil: "returns nil for a valid value".
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("CharFieldErrors(%.40q, %d) mismatch (-want +got):\n%s", tt.in, tt.maxLen, diff)
			}
		})
	}
}

// TestCommentTrimThenValidate checks the order DRF applies: the limit is on
// the trimmed text, so surrounding whitespace does not count.
func TestCommentTrimThenValidate(t *testing.T) {
	in := "\u3000 \n" + strings.Repeat("é", MaxCommentLength) + " \x1f\u00a0"
	trimmed := TrimSpace(in)
	if n := utf8.RuneCountInString(trimmed); n != MaxCommentLength {
		t.Fatalf("trimmed comment has %d code points, want %d", n, MaxCommentLength)
	}
	if got := CharFieldErrors(trimmed, MaxCommentLength); got != nil {
		t.Errorf("CharFieldErrors(trimmed) = %q, want nil", got)
	}
	if got := CharFieldErrors(in, MaxCommentLength); len(got) != 1 {
		t.Errorf("CharFieldErrors(untrimmed) = %q, want the length error", got)
	}
}
