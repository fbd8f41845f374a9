package httpapi

import (
	"bytes"
	"encoding/json"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"github.com/kycreview/kycreview"
)

// This file adds the serializer fields the webhook destination bodies need
// to body.go's: BooleanField, ChoiceField over strings and ListField of
// CharField, with DRF's wording and its per-item error shape.

// boolean validates a DRF BooleanField (allow_null off): JSON true and
// false, the numbers 0 and 1 (1.0 too: Python finds 1.0 in a set holding
// 1), and the strings DRF lists, exactly as spelled there.
func (f *form) boolean(name string, required bool) *bool {
	raw, ok := f.present(name, required, false)
	if !ok {
		return nil
	}
	v, ok := pyBool(raw)
	if !ok {
		f.fail(name, "Must be a valid boolean.")
		return nil
	}
	return &v
}

// pyBool is BooleanField.to_internal_value for a value that is not null.
func pyBool(raw json.RawMessage) (value, ok bool) {
	switch raw[0] {
	case 't':
		return true, true
	case 'f':
		return false, true
	case '{', '[':
		return false, false // unhashable in Python: never a member
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return false, false
		}
		switch s {
		case "t", "T", "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "1":
			return true, true
		case "f", "F", "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", "0":
			return false, true
		}
		return false, false
	}
	text := string(raw)
	if !strings.ContainsAny(text, ".eE") {
		// A Python int, exact however long.
		n, ok := new(big.Int).SetString(text, 10)
		if !ok || !n.IsInt64() || (n.Int64() != 0 && n.Int64() != 1) {
			return false, false
		}
		return n.Int64() == 1, true
	}
	// A Python float, rounded as strconv rounds it (1e-400 is 0.0, 1e400 is
	// inf, which is neither).
	x, err := strconv.ParseFloat(text, 64)
	if err != nil || (x != 0 && x != 1) {
		return false, false
	}
	return x == 1, true
}

// choiceText returns the text DRF's ChoiceField looks a choice up by,
// str(value), for the domain to check against its choices; nil when absent
// or null (null is refused).
func (f *form) choiceText(name string, required bool) *string {
	raw, ok := f.present(name, required, false)
	if !ok {
		return nil
	}
	s := pyStr(raw)
	return &s
}

// charList validates a DRF ListField whose child is a CharField (not
// blank, no length limit): a JSON list, each item a string or a number
// (coerced) trimmed of surrounding whitespace. Anything else is refused
// with DRF's "Expected a list of items but got type ..."; bad items are
// reported by index, as DRF does. It returns nil when absent, null or
// invalid, and a pointer to a possibly empty list otherwise: the caller
// decides whether [] is allowed.
func (f *form) charList(name string, required bool) *[]string {
	raw, ok := f.present(name, required, false)
	if !ok {
		return nil
	}
	if raw[0] != '[' {
		f.fail(name, `Expected a list of items but got type "`+pyTypeName(raw)+`".`)
		return nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		f.fail(name, "Not a valid list.")
		return nil
	}
	out := make([]string, 0, len(items))
	bad := map[int][]string{}
	for i, item := range items {
		if isNull(item) {
			bad[i] = []string{"This field may not be null."}
			continue
		}
		s, msgs := charValue(item, charOpts{})
		if msgs != nil {
			bad[i] = msgs
			continue
		}
		out = append(out, s)
	}
	if len(bad) > 0 {
		if f.items == nil {
			f.items = map[string]map[int][]string{}
		}
		f.items[name] = bad
		return nil
	}
	return &out
}

// mergeFields adds the messages of fields that have none yet: what the
// domain's validation says about the fields whose type was right, so one
// answer lists every problem, as a DRF serializer's does.
func (f *form) mergeFields(fields map[string][]string) {
	for name, msgs := range fields {
		if !f.failed(name) {
			f.fail(name, msgs...)
		}
	}
}

// listErrors is a validation error with messages for items of a list field,
// which DRF renders as an object keyed by the items' indexes:
// {"subscribed_events":{"1":["Not a valid string."]},"url":["…"]}. It
// unwraps to an EINVALID *kycreview.Error (with the item messages
// flattened under the field's name), so the error table and every caller
// that only looks at the code treat it as any validation error.
type listErrors struct {
	fields map[string][]string
	items  map[string]map[int][]string
	flat   *kycreview.Error
}

func newListErrors(fields map[string][]string, items map[string]map[int][]string) *listErrors {
	flat := make(map[string][]string, len(fields)+len(items))
	for name, msgs := range fields {
		flat[name] = msgs
	}
	for name, byIndex := range items {
		for _, i := range sortedIndexes(byIndex) {
			flat[name] = append(flat[name], byIndex[i]...)
		}
	}
	return &listErrors{fields: fields, items: items, flat: kycreview.FieldErrors(flat)}
}

func (e *listErrors) Error() string { return e.flat.Error() }
func (e *listErrors) Unwrap() error { return e.flat }

// body is the error's DRF response body.
func (e *listErrors) body() map[string]any {
	out := make(map[string]any, len(e.fields)+len(e.items))
	for name, msgs := range e.fields {
		out[name] = msgs
	}
	for name, byIndex := range e.items {
		out[name] = indexedMessages(byIndex)
	}
	return out
}

// indexedMessages renders its items in index order (DRF's dict keeps the
// order the items were checked in), not in the string order Go gives map
// keys, where "10" sorts before "2".
type indexedMessages map[int][]string

func (m indexedMessages) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for n, i := range sortedIndexes(m) {
		if n > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + strconv.Itoa(i) + `":`)
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false) // as writeJSON
		if err := enc.Encode(m[i]); err != nil {
			return nil, err
		}
		b.Truncate(b.Len() - 1) // Encode's newline
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func sortedIndexes(m map[int][]string) []int {
	idx := make([]int, 0, len(m))
	for i := range m {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	return idx
}
