package kycreview

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// mentionLongComment returns a comment of exactly n code points with head at
// the start and tail at the very end, filled with prose that holds non-ASCII
// text and '@' characters that are not mentions.
func mentionLongComment(t *testing.T, head, tail string, n int) string {
	t.Helper()
	const filler = " Grüße, see me@ana@example.com — not a mention; email x@y.org @ @@ (ok) "
	var b strings.Builder
	b.WriteString(head)
	for utf8.RuneCountInString(b.String())+utf8.RuneCountInString(filler)+utf8.RuneCountInString(tail) <= n {
		b.WriteString(filler)
	}
	for utf8.RuneCountInString(b.String())+utf8.RuneCountInString(tail) < n {
		b.WriteByte(' ')
	}
	b.WriteString(tail)
	s := b.String()
	if got := utf8.RuneCountInString(s); got != n {
		t.Fatalf("long comment has %d code points, want %d", got, n)
	}
	return s
}

// TestParseMentions is the table of edge cases SPEC §6 implies: punctuation
// after the address, case, duplicates, an '@' inside words, Unicode and a
// comment at the 10,000-character limit.
func TestParseMentions(t *testing.T) {
	long := mentionLongComment(t, "@ana@example.com", "@bob@example.org", MaxCommentLength)
	longCase := mentionLongComment(t, "@Ana@Example.com please", "and again @ANA@EXAMPLE.COM", MaxCommentLength)
	pathological := strings.Repeat("!@", MaxCommentLength/2)
	longLocal := "@" + strings.Repeat("a", MaxCommentLength-len("@@example.com")) + "@example.com"

	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"empty", "", nil},
		{"no mention", "looks fine to me", nil},
		{"plain", "ask @ana@example.com to re-check", []string{"ana@example.com"}},
		{"whole comment", "@ana@example.com", []string{"ana@example.com"}},
		{"at the start", "@ana@example.com please re-check", []string{"ana@example.com"}},
		{"at the end", "please re-check @ana@example.com", []string{"ana@example.com"}},
		{"after a newline", "first line\n@ana@example.com", []string{"ana@example.com"}},
		{"after a tab", "cc\t@ana@example.com", []string{"ana@example.com"}},

		// Trailing punctuation is prose, not address.
		{"trailing period", "ask @ana@example.com.", []string{"ana@example.com"}},
		{"trailing comma", "ask @ana@example.com, then close", []string{"ana@example.com"}},
		{"trailing exclamation", "thanks @ana@example.com!", []string{"ana@example.com"}},
		{"trailing question mark", "right @ana@example.com?", []string{"ana@example.com"}},
		{"trailing parenthesis", "the owner (ask @ana@example.com)", []string{"ana@example.com"}},
		{"trailing colon", "@ana@example.com: please look", []string{"ana@example.com"}},
		{"trailing semicolon", "@ana@example.com; then close", []string{"ana@example.com"}},
		{"trailing ellipsis dots", "hmm @ana@example.com...", []string{"ana@example.com"}},
		{"trailing hyphen", "@ana@example.com- see above", []string{"ana@example.com"}},
		{"in parentheses", "(@ana@example.com)", []string{"ana@example.com"}},
		{"in brackets", "[@ana@example.com]", []string{"ana@example.com"}},
		{"in angle brackets", "<@ana@example.com>", []string{"ana@example.com"}},
		{"in quotes", `"@ana@example.com"`, []string{"ana@example.com"}},
		{"after a colon", "cc:@ana@example.com", []string{"ana@example.com"}},
		{"after a comma", "x,@ana@example.com", []string{"ana@example.com"}},

		// Case: matching is case-insensitive, candidates are lower-cased.
		{"upper case", "@Ana@Example.COM", []string{"ana@example.com"}},
		{"all caps", "@ANA@EXAMPLE.COM", []string{"ana@example.com"}},

		// Duplicates count once, in order of first appearance.
		{"duplicate", "@ana@example.com and @ana@example.com", []string{"ana@example.com"}},
		{"duplicate in another case", "@ANA@example.com, then @ana@EXAMPLE.com", []string{"ana@example.com"}},
		{
			"first appearance order",
			"@bob@example.org, @Ana@example.com and @BOB@example.org again",
			[]string{"bob@example.org", "ana@example.com"},
		},
		{"two mentions", "@ana@example.com and @bob@example.org", []string{"ana@example.com", "bob@example.org"}},
		{"two mentions no space", "@ana@example.com,@bob@example.org", []string{"ana@example.com", "bob@example.org"}},

		// An '@' inside a word is not a mention.
		{"me@ prefix", "me@ana@example.com", nil},
		{"foo@ prefix", "foo@ana@example.com", nil},
		{"digit before", "2@ana@example.com", nil},
		{"underscore before", "x_@ana@example.com", nil},
		{"dot before", "x.@ana@example.com", nil},
		{"no leading @", "email ana@example.com", nil},
		{"double @", "@@ana@example.com", nil},
		{"lone @", "@ and @ ", nil},

		// Not addresses.
		{"no dot in domain", "@ana@localhost", nil},
		{"empty local part", "@@example.com", nil},
		{"local part starts with a dot", "@.ana@example.com", nil},
		{"local part ends with a dot", "@ana.@example.com", nil},
		{"empty label", "@ana@example..com", nil},
		{"label starts with a hyphen", "@ana@-example.com", nil},
		{"domain ends in a dot only", "@ana@example.", nil},

		// Address shapes that are mentions.
		{"trailing dot after domain", "@ana@example.com.", []string{"ana@example.com"}},
		{"multi-label domain", "@ana@example.co.uk", []string{"ana@example.co.uk"}},
		{"multi-label domain then period", "ask @ana@mail.example.co.uk.", []string{"ana@mail.example.co.uk"}},
		{"plus and dots in local part", "@ana.maria+kyc@example.com", []string{"ana.maria+kyc@example.com"}},
		{"hyphen in domain", "@ana@my-example.com", []string{"ana@my-example.com"}},

		// Unicode around the mention.
		{"Unicode before", "Grüße @ana@example.com!", []string{"ana@example.com"}},
		{"CJK before with space", "确认 @ana@example.com", []string{"ana@example.com"}},
		{"runs into a word", "@ana@example.comé", nil},
		{"runs into a Unicode digit", "@ana@example.com٣", nil},
		{"letter right before the @", "é@ana@example.com", nil},
		{"CJK letter right before the @", "确认@ana@example.com", nil},
		{"Unicode punctuation after", "@ana@example.com… ok", []string{"ana@example.com"}},
		{"ideographic full stop after", "@ana@example.com。", []string{"ana@example.com"}},
		{"curly quote after", "@ana@example.com’s call", []string{"ana@example.com"}},
		{"no-break space before", "cc\u00a0@ana@example.com", []string{"ana@example.com"}},
		{"non-ASCII in local part", "@anä@example.com", nil},
		{"non-ASCII in domain", "@ana@exämple.com", nil},

		// The 10,000-character limit.
		{"long comment, mentions at both ends", long, []string{"ana@example.com", "bob@example.org"}},
		{"long comment, same address twice in other case", longCase, []string{"ana@example.com"}},
		{"long run of !@", pathological, nil},
		{"long local part", longLocal, []string{strings.ToLower(longLocal[1:])}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseMentions(tt.in)
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("ParseMentions(%.80q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestResolveMentions(t *testing.T) {
	disabledAt := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ana := ConsoleUser{ID: "u-ana", Email: "Ana@Example.com", FullName: "Ana Ruiz"}
	bob := ConsoleUser{ID: "u-bob", Email: "bob@example.org"}
	carol := ConsoleUser{ID: "u-carol", Email: "CAROL@EXAMPLE.NET"}
	gone := ConsoleUser{ID: "u-gone", Email: "gone@example.com", DisabledAt: &disabledAt}
	users := []ConsoleUser{carol, gone, bob, ana}

	tests := []struct {
		name       string
		candidates []string
		users      []ConsoleUser
		wantEmails []string
		wantNotify []ConsoleUser
	}{
		{
			name:       "stored case, candidate order",
			candidates: []string{"bob@example.org", "ana@example.com", "carol@example.net"},
			users:      users,
			wantEmails: []string{"bob@example.org", "Ana@Example.com", "CAROL@EXAMPLE.NET"},
			wantNotify: []ConsoleUser{bob, ana, carol},
		},
		{
			name:       "other candidate order",
			candidates: []string{"carol@example.net", "ana@example.com"},
			users:      users,
			wantEmails: []string{"CAROL@EXAMPLE.NET", "Ana@Example.com"},
			wantNotify: []ConsoleUser{carol, ana},
		},
		{
			name:       "disabled user skipped",
			candidates: []string{"gone@example.com", "ana@example.com"},
			users:      users,
			wantEmails: []string{"Ana@Example.com"},
			wantNotify: []ConsoleUser{ana},
		},
		{
			name:       "unknown address skipped",
			candidates: []string{"stranger@example.com", "bob@example.org", "ana@evil.example"},
			users:      users,
			wantEmails: []string{"bob@example.org"},
			wantNotify: []ConsoleUser{bob},
		},
		{
			name:       "duplicate candidate counted once",
			candidates: []string{"ana@example.com", "ana@example.com"},
			users:      users,
			wantEmails: []string{"Ana@Example.com"},
			wantNotify: []ConsoleUser{ana},
		},
		{
			name:       "none match",
			candidates: []string{"stranger@example.com", "gone@example.com"},
			users:      users,
			wantEmails: []string{},
		},
		{
			name:       "no candidates",
			candidates: nil,
			users:      users,
			wantEmails: []string{},
		},
		{
			name:       "no users",
			candidates: []string{"ana@example.com"},
			users:      nil,
			wantEmails: []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emails, notify := ResolveMentions(tt.candidates, tt.users)
			if emails == nil {
				t.Errorf("ResolveMentions emails = nil, want a non-nil slice (mentioned_emails is [] not null)")
			}
			if diff := cmp.Diff(tt.wantEmails, emails); diff != "" {
				t.Errorf("ResolveMentions emails mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantNotify, notify, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("ResolveMentions users mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestParseThenResolveMentions checks the two steps together, as the review
// service runs them: a comment's mentions in any case come back as the
// users' stored addresses, and strangers are dropped.
func TestParseThenResolveMentions(t *testing.T) {
	users := []ConsoleUser{
		{ID: "1", Email: "Ana@Example.com"},
		{ID: "2", Email: "bob@example.org"},
	}
	comment := "@BOB@example.org: ask @ana@EXAMPLE.com (and @stranger@example.com), not me@ana@example.com. Thanks @bob@example.org!"
	emails, notify := ResolveMentions(ParseMentions(comment), users)
	if diff := cmp.Diff([]string{"bob@example.org", "Ana@Example.com"}, emails); diff != "" {
		t.Errorf("emails mismatch (-want +got):\n%s", diff)
	}
	var ids []string
	for _, u := range notify {
		ids = append(ids, u.ID)
	}
	if diff := cmp.Diff([]string{"2", "1"}, ids); diff != "" {
		t.Errorf("notified users mismatch (-want +got):\n%s", diff)
	}
}
