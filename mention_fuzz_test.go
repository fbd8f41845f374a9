package kycreview

import (
	"slices"
	"strings"
	"testing"
)

// FuzzParseMentions: whatever the comment, ParseMentions does not panic,
// and every address it reports is in the text (case aside) right after an
// '@', lower-cased, reported once, and reads back as itself. The seed
// corpus is in testdata/fuzz/FuzzParseMentions; run it longer with
// go test -run '^$' -fuzz FuzzParseMentions -fuzztime 30s .
func FuzzParseMentions(f *testing.F) {
	for _, s := range []string{
		"ask @ana@example.com to re-check",
		"@Ana@Example.COM, @ana@example.com!",
		"me@ana@example.com @@x@y.z @",
		"Grüße @ana@example.com… (@bob@example.org)",
		"@ana@example.comé @ana@exämple.com",
		strings.Repeat("!@", 64),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		got := ParseMentions(text)
		lower := strings.ToLower(text)
		seen := map[string]bool{}
		for _, addr := range got {
			if addr == "" || addr != strings.ToLower(addr) {
				t.Fatalf("ParseMentions(%q) reported %q: not a lower-case address", text, addr)
			}
			if !strings.Contains(lower, "@"+addr) {
				t.Fatalf("ParseMentions(%q) reported %q, which is not in the text after an '@'", text, addr)
			}
			if seen[addr] {
				t.Fatalf("ParseMentions(%q) reported %q twice", text, addr)
			}
			seen[addr] = true
			if again := ParseMentions("@" + addr); !slices.Equal(again, []string{addr}) {
				t.Fatalf("ParseMentions(%q) reported %q, which parses back as %q", text, addr, again)
			}
		}
		if len(got) > strings.Count(text, "@") {
			t.Fatalf("ParseMentions(%q) reported %d addresses from %d '@'", text, len(got), strings.Count(text, "@"))
		}
	})
}
