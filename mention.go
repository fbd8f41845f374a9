package kycreview

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// ParseMentions returns the addresses @mentioned in text, lower-cased, each
// once, in order of first appearance. A mention is an '@' that does not stand
// inside a word, followed by an email address; punctuation after the address
// is not part of it. These are only candidates: ResolveMentions keeps the
// ones that belong to console users of the session's application.
func ParseMentions(text string) []string {
	var out []string
	seen := map[string]bool{}
	for i := 0; i < len(text); i++ {
		if text[i] != '@' || insideWord(text, i) {
			continue
		}
		addr, n := scanEmail(text[i+1:])
		if addr == "" {
			continue
		}
		addr = strings.ToLower(addr)
		if !seen[addr] {
			seen[addr] = true
			out = append(out, addr)
		}
		i += n
	}
	return out
}

// insideWord reports whether the '@' at text[i] follows a letter, a digit or
// one of the characters that join words into addresses and handles, as in
// "me@example.com" or "a@@b": that '@' is part of something else, not a
// mention.
func insideWord(text string, i int) bool {
	if i == 0 {
		return false
	}
	r, _ := utf8.DecodeLastRuneInString(text[:i])
	return unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("@._+-", r)
}

// isLocalChar reports whether c may appear in the local part of an address
// (the dot-atom characters of RFC 5322).
func isLocalChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte(".!#$%&'*+/=?^_`{|}~-", c) >= 0
}

func isLabelChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-'
}

// scanEmail reads an address at the start of s and returns it with the number
// of bytes it spans, or "" if s does not start with one. The domain needs at
// least two labels; trailing dots and hyphens are punctuation, not address.
func scanEmail(s string) (string, int) {
	at := 0
	for at < len(s) && isLocalChar(s[at]) {
		at++
	}
	local := strings.Trim(s[:at], ".")
	if local == "" || at >= len(s) || s[at] != '@' || local != s[:at] {
		return "", 0
	}
	end := at + 1
	for end < len(s) && (isLabelChar(s[end]) || s[end] == '.') {
		end++
	}
	// Trailing punctuation ("…@example.com." or "…@example.com-") is prose.
	for end > at+1 && (s[end-1] == '.' || s[end-1] == '-') {
		end--
	}
	// A letter or digit straight after the domain (outside ASCII) means the
	// address runs on into a word we cannot read as a domain: not a mention.
	if end < len(s) {
		if r, _ := utf8.DecodeRuneInString(s[end:]); unicode.IsLetter(r) || unicode.IsDigit(r) {
			return "", 0
		}
	}
	domain := s[at+1 : end]
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return "", 0
	}
	for _, l := range labels {
		if l == "" || l[0] == '-' || l[len(l)-1] == '-' {
			return "", 0
		}
	}
	return s[:end], end
}

// ResolveMentions keeps the candidate addresses that belong to users, active
// console users of the session's application. It returns the users' stored
// addresses, in the candidates' order, and the users to notify.
func ResolveMentions(candidates []string, users []ConsoleUser) ([]string, []ConsoleUser) {
	byEmail := make(map[string]ConsoleUser, len(users))
	for _, u := range users {
		if u.DisabledAt == nil {
			byEmail[strings.ToLower(u.Email)] = u
		}
	}
	emails := []string{}
	var notify []ConsoleUser
	for _, c := range candidates {
		if u, ok := byEmail[c]; ok {
			emails = append(emails, u.Email)
			notify = append(notify, u)
			delete(byEmail, c)
		}
	}
	return emails, notify
}
