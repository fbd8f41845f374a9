package kycreview

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxCommentLength is the longest comment, in Unicode code points after
// trimming, as Didit documents.
const MaxCommentLength = 10000

// TrimSpace removes surrounding whitespace the way Python's str.strip() does,
// which is what DRF's CharField applies before validating: Go's notion of
// space plus the ASCII information separators U+001C–U+001F.
func TrimSpace(s string) string {
	return strings.TrimFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
	})
}

// CharFieldErrors returns DRF's messages for a trimmed string field value
// that breaks the field's rules: too long, or containing a NUL. It returns
// nil for a valid value. maxLen 0 means no limit.
func CharFieldErrors(s string, maxLen int) []string {
	var msgs []string
	if maxLen > 0 && utf8.RuneCountInString(s) > maxLen {
		msgs = append(msgs, "Ensure this field has no more than "+itoa(maxLen)+" characters.")
	}
	if strings.IndexByte(s, 0) >= 0 {
		msgs = append(msgs, "Null characters are not allowed.")
	}
	return msgs
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
