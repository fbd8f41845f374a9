package httpapi

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/kycreview/kycreview"
)

// The expectations follow DRF's BooleanField, ChoiceField and
// ListField(child=CharField()) under Python 3.11, as body_test.go's do.

func TestFormBoolean(t *testing.T) {
	const invalid = "Must be a valid boolean."
	tests := []struct {
		value string // the JSON value of "b"; "" leaves it out
		want  *bool
		msg   string
	}{
		{"", nil, ""},
		{"true", ptrBool(true), ""},
		{"false", ptrBool(false), ""},
		{"null", nil, "This field may not be null."},
		{"1", ptrBool(true), ""},
		{"0", ptrBool(false), ""},
		{"-0", ptrBool(false), ""},
		{"1.0", ptrBool(true), ""}, // 1.0 == 1 and hashes alike
		{"0.0", ptrBool(false), ""},
		{"-0.0", ptrBool(false), ""},
		{"1e0", ptrBool(true), ""},
		{"1.00000000000000001", ptrBool(true), ""}, // rounds to 1.0
		{"1e-400", ptrBool(false), ""},             // underflows to 0.0
		{"1e400", nil, invalid},                    // inf
		{"2", nil, invalid},
		{"-1", nil, invalid},
		{"100000000000000000000000000001", nil, invalid},
		{"0.5", nil, invalid},
		{`"true"`, ptrBool(true), ""},
		{`"True"`, ptrBool(true), ""},
		{`"TRUE"`, ptrBool(true), ""},
		{`"yes"`, ptrBool(true), ""},
		{`"on"`, ptrBool(true), ""},
		{`"1"`, ptrBool(true), ""},
		{`"t"`, ptrBool(true), ""},
		{`"Y"`, ptrBool(true), ""},
		{`"off"`, ptrBool(false), ""},
		{`"No"`, ptrBool(false), ""},
		{`"0"`, ptrBool(false), ""},
		{`"F"`, ptrBool(false), ""},
		{`"tRUE"`, nil, invalid},  // only the listed spellings
		{`" true"`, nil, invalid}, // not trimmed
		{`"1.0"`, nil, invalid},   // a string is compared as a string
		{`""`, nil, invalid},      // blank is null only with allow_null
		{`"null"`, nil, invalid},  // likewise
		{`"enabled"`, nil, invalid},
		{`[]`, nil, invalid},
		{`[true]`, nil, invalid},
		{`{}`, nil, invalid},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			body := `{}`
			if tt.value != "" {
				body = `{"b": ` + tt.value + `}`
			}
			f := decodeForm(t, body)
			got := f.boolean("b", false)
			if (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
				t.Errorf("boolean(%s) = %v, want %v", tt.value, derefBool(got), derefBool(tt.want))
			}
			var want map[string][]string
			if tt.msg != "" {
				want = map[string][]string{"b": {tt.msg}}
			}
			checkFormErrs(t, f, want)
		})
	}
	f := decodeForm(t, `{}`)
	if f.boolean("b", true) != nil {
		t.Error("a missing required boolean has a value")
	}
	checkFormErrs(t, f, map[string][]string{"b": {"This field is required."}})
}

func TestFormCharList(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  []string // nil: no list
		errs  map[string][]string
		items map[int][]string
	}{
		{"absent", "", nil, nil, nil},
		{"null", `null`, nil, map[string][]string{"l": {"This field may not be null."}}, nil},
		{"empty list is a list", `[]`, []string{}, nil, nil},
		{"strings trimmed", `["a", " b\t"]`, []string{"a", "b"}, nil, nil},
		{"repeats kept (the domain drops them)", `["a", "a"]`, []string{"a", "a"}, nil, nil},
		{"numbers coerced", `[1, 2.50, 1e3]`, []string{"1", "2.5", "1000.0"}, nil, nil},
		{"string", `"status.updated"`, nil, map[string][]string{"l": {`Expected a list of items but got type "str".`}}, nil},
		{"object", `{"a": 1}`, nil, map[string][]string{"l": {`Expected a list of items but got type "dict".`}}, nil},
		{"int", `1`, nil, map[string][]string{"l": {`Expected a list of items but got type "int".`}}, nil},
		{"float", `1.5`, nil, map[string][]string{"l": {`Expected a list of items but got type "float".`}}, nil},
		{"bool", `true`, nil, map[string][]string{"l": {`Expected a list of items but got type "bool".`}}, nil},
		{"bad items by index", `["ok", true, null, "", {}, [], "a\u0000b"]`, nil, nil, map[int][]string{
			1: {"Not a valid string."},
			2: {"This field may not be null."},
			3: {"This field may not be blank."},
			4: {"Not a valid string."},
			5: {"Not a valid string."},
			6: {"Null characters are not allowed."},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{}`
			if tt.value != "" {
				body = `{"l": ` + tt.value + `}`
			}
			f := decodeForm(t, body)
			got := f.charList("l", false)
			if (got == nil) != (tt.want == nil) || (got != nil && !reflect.DeepEqual(*got, tt.want)) {
				t.Errorf("charList = %v, want %v", got, tt.want)
			}
			if tt.items == nil {
				checkFormErrs(t, f, tt.errs)
				return
			}
			var le *listErrors
			if err := f.err(); !errors.As(err, &le) {
				t.Fatalf("error %v is not a listErrors", err)
			}
			if !reflect.DeepEqual(le.items["l"], tt.items) {
				t.Errorf("item messages = %v, want %v", le.items["l"], tt.items)
			}
		})
	}
}

// TestListErrorsBody: item messages render in DRF's nested shape, in index
// order, next to the other fields' messages, and the error still reads as
// an EINVALID validation error everywhere else.
func TestListErrorsBody(t *testing.T) {
	f := decodeForm(t, `{"l": ["a","b","c","d","e","f","g","h","i","j",null,"k",false], "b": "maybe"}`)
	f.charList("l", false)
	f.boolean("b", false)
	err := f.err()
	if kycreview.ErrorCode(err) != kycreview.EINVALID {
		t.Fatalf("code %q, want %q", kycreview.ErrorCode(err), kycreview.EINVALID)
	}
	var e *kycreview.Error
	if !errors.As(err, &e) || !reflect.DeepEqual(e.Fields, map[string][]string{
		"b": {"Must be a valid boolean."},
		"l": {"This field may not be null.", "Not a valid string."},
	}) {
		t.Errorf("flattened fields = %v", e)
	}
	var le *listErrors
	if !errors.As(err, &le) {
		t.Fatalf("%v is not a listErrors", err)
	}
	got, jerr := json.Marshal(le.body())
	if jerr != nil {
		t.Fatal(jerr)
	}
	want := `{"b":["Must be a valid boolean."],"l":{"10":["This field may not be null."],"12":["Not a valid string."]}}`
	if string(got) != want {
		t.Errorf("body = %s\nwant %s", got, want)
	}
	f = decodeForm(t, `{"l": [1, null, 2, null, 3, null, 4, null, 5, null, 6, null]}`)
	f.charList("l", false)
	errors.As(f.err(), &le)
	got, _ = json.Marshal(le.body())
	if want := `{"l":{"1":["This field may not be null."],"3":["This field may not be null."],"5":["This field may not be null."],` +
		`"7":["This field may not be null."],"9":["This field may not be null."],"11":["This field may not be null."]}}`; string(got) != want {
		t.Errorf("body = %s\nwant %s", got, want)
	}
}

func TestDecodeDestination(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		create bool
		want   kycreview.DestinationInput
		err    wantErr
	}{
		{"create, all fields", `{"label":" Prod ","url":"https://hooks.example.com/x","enabled":false,"webhook_version":"v3","subscribed_events":["status.updated"]}`, true,
			kycreview.DestinationInput{Label: ptr("Prod"), URL: ptr("https://hooks.example.com/x"), Enabled: ptrBool(false), WebhookVersion: ptr("v3"),
				SubscribedEvents: &[]string{"status.updated"}}, wantErr{}},
		// Values are the domain's to judge; this layer passes them on.
		{"values are not judged here", `{"label":"","url":"http://x","subscribed_events":[],"webhook_version":"v1"}`, true,
			kycreview.DestinationInput{Label: ptr(""), URL: ptr("http://x"), WebhookVersion: ptr("v1"), SubscribedEvents: &[]string{}}, wantErr{}},
		{"empty body", ``, false, kycreview.DestinationInput{}, wantErr{}},
		{"a number is a choice's text", `{"webhook_version":3}`, false, kycreview.DestinationInput{WebhookVersion: ptr("3")}, wantErr{}},
		{"type errors, with the domain's messages for the rest", `{"label":5,"url":{},"enabled":"sometimes","subscribed_events":"status.updated"}`, true,
			kycreview.DestinationInput{}, fieldErrs(map[string][]string{
				"url":               {"Not a valid string."},
				"enabled":           {"Must be a valid boolean."},
				"subscribed_events": {`Expected a list of items but got type "str".`},
			})},
		{"required fields reported with a type error", `{"enabled":null}`, true, kycreview.DestinationInput{}, fieldErrs(map[string][]string{
			"enabled": {"This field may not be null."},
			"label":   {"This field is required."},
			"url":     {"This field is required."},
		})},
		{"partial update: nothing is required", `{"label":null,"webhook_version":"v2"}`, false, kycreview.DestinationInput{}, fieldErrs(map[string][]string{
			"label":           {"This field may not be null."},
			"webhook_version": {`"v2" is not a valid choice.`},
		})},
		{"unknown events merged with a null", `{"url":null,"label":"x","subscribed_events":["foo.bar"]}`, true, kycreview.DestinationInput{},
			fieldErrs(map[string][]string{
				"url":               {"This field may not be null."},
				"subscribed_events": {"Unsupported webhook events: foo.bar"},
			})},
		{"not an object", `["https://hooks.example.com/x"]`, true, kycreview.DestinationInput{}, nonField("Invalid data. Expected a dictionary, but got list.")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeDestination("application/json", []byte(tt.body), tt.create)
			checkErr(t, "decodeDestination", err, tt.err)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("input = %s, want %s", inputString(got), inputString(tt.want))
			}
		})
	}
}

func TestWantsPage(t *testing.T) {
	tests := []struct {
		query string
		want  bool
	}{
		{"", false},
		{"offset=5", false},
		{"limit=2", true},
		{"limit=+2", true},
		{"limit=5000", true},
		{"limit=0", false},
		{"limit=-1", false},
		{"limit=abc", false},
		{"limit=", false},
		{"limit=2&limit=x", false}, // the last value counts
	}
	for _, tt := range tests {
		if got := wantsPage(parseQuery(tt.query)); got != tt.want {
			t.Errorf("wantsPage(%q) = %v, want %v", tt.query, got, tt.want)
		}
	}
}

func ptrBool(b bool) *bool { return &b }

func derefBool(b *bool) string {
	if b == nil {
		return "<nil>"
	}
	if *b {
		return "true"
	}
	return "false"
}

func inputString(in kycreview.DestinationInput) string {
	b, _ := json.Marshal(in)
	return string(b)
}
