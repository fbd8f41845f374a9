package kycreview

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestMarshalEventJSON checks the encoder against
// json.dumps(v, sort_keys=True, separators=(",", ":")). Expectations for
// plain JSON inputs were produced by Python 3.11; those with number literals
// in raw messages are kept verbatim by design (see MarshalEventJSON).
func TestMarshalEventJSON(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"null", nil, `null`},
		{"true", true, `true`},
		{"false", false, `false`},
		{"plain string", "hello", `"hello"`},
		{
			"sorted nested keys",
			map[string]any{
				"b": 1,
				"a": map[string]any{"z": true, "y": nil},
				"c": []any{map[string]any{"d": 1, "c": 2}},
				"B": "upper", "é": 0, "😀": 1, "\u00ff": 2, "ab": 3, "a b": 4,
			},
			`{"B":"upper","a":{"y":null,"z":true},"a b":4,"ab":3,"b":1,"c":[{"c":2,"d":1}],"\u00e9":0,"\u00ff":2,"\ud83d\ude00":1}`,
		},
		{
			// UTF-16 order would put the surrogate pair before U+FF61.
			"keys in code point order",
			map[string]any{"😀": 1, "\uff61": 2, "\u00ff": 3},
			`{"\u00ff":3,"\uff61":2,"\ud83d\ude00":1}`,
		},
		{"non-ASCII and astral escapes", "é中😀\u2028\ufeff", `"\u00e9\u4e2d\ud83d\ude00\u2028\ufeff"`},
		{"HTML characters kept", `<a href="x">&amp;</a>`, `"<a href=\"x\">&amp;</a>"`},
		{"control characters", "\x00\x1f\x7f\b\f\n\r\t\"\\/", `"\u0000\u001f\u007f\b\f\n\r\t\"\\/"`},
		{
			"integers",
			[]any{int64(math.MaxInt64), int64(math.MinInt64), uint64(math.MaxUint64), 0, int8(-8), int16(16), int32(-32), uint(7), uint8(8), uint16(16), uint32(32)},
			`[9223372036854775807,-9223372036854775808,18446744073709551615,0,-8,16,-32,7,8,16,32]`,
		},
		{
			"floats as Python repr",
			[]any{1.0, 1e16, 0.1, math.Copysign(0, -1), 1e-05, 100.0, 1e15, 5e-324, 1.5e300, 0.30000000000000004},
			`[1.0,1e+16,0.1,-0.0,1e-05,100.0,1000000000000000.0,5e-324,1.5e+300,0.30000000000000004]`,
		},
		{"json.Number verbatim", []any{json.Number("1.50"), json.Number("1E2"), json.Number("-0")}, `[1.50,1E2,-0]`},
		{"string slice", []string{"b", "a", "é"}, `["b","a","\u00e9"]`},
		{"empty containers", []any{[]any{}, map[string]any{}, []string{}}, `[[],{},[]]`},
		{"nil containers are null", []any{map[string]any(nil), []any(nil), []string(nil), json.RawMessage(nil), json.RawMessage{}}, `[null,null,null,null,null]`},
		{
			"raw message sorted with literals verbatim",
			map[string]any{
				"metadata": json.RawMessage(`{"z":{"b":1.0,"a":1e2},"a":[1E2,-0,0.10,{"y":"é","x":null}],"big":123456789012345678901234567890}`),
				"event":    "x",
			},
			`{"event":"x","metadata":{"a":[1E2,-0,0.10,{"x":null,"y":"\u00e9"}],"big":123456789012345678901234567890,"z":{"a":1e2,"b":1.0}}}`,
		},
		{"raw duplicate key keeps last", json.RawMessage(`{"a":1,"a":2}`), `{"a":2}`},
		{"raw whitespace dropped", json.RawMessage(" { \"b\" : [ 1 , 2 ] , \"a\" : \"x\" } "), `{"a":"x","b":[1,2]}`},
		{"raw escapes normalised", json.RawMessage(`"\u00E9\/\ud83d\ude00"`), `"\u00e9/\ud83d\ude00"`},
		{"raw escaped backslash is not a surrogate", json.RawMessage(`"\\ud800"`), `"\\ud800"`},
		{
			"event body shape",
			map[string]any{
				"webhook_type": "status.updated",
				"created_at":   int64(1700000000),
				"vendor_data":  nil,
				"metadata":     json.RawMessage(`{"k":"v"}`),
				"decision": map[string]any{
					"reviews": []any{map[string]any{"user": "a@b.c", "new_status": "Approved", "comment": "ok <b>"}},
				},
			},
			`{"created_at":1700000000,"decision":{"reviews":[{"comment":"ok <b>","new_status":"Approved","user":"a@b.c"}]},"metadata":{"k":"v"},"vendor_data":null,"webhook_type":"status.updated"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MarshalEventJSON(tt.in)
			if err != nil {
				t.Fatalf("MarshalEventJSON: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("MarshalEventJSON\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

// eventTestStruct is a named struct, to show the error names its type.
type eventTestStruct struct{ A int }

// TestMarshalEventJSONErrors checks that unsupported or unrepresentable
// input is refused with an error, never encoded wrongly or panicking.
func TestMarshalEventJSONErrors(t *testing.T) {
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	tests := []struct {
		name    string
		in      any
		errText string // a substring the error must contain
	}{
		{"struct", struct{ A int }{1}, "struct { A int }"},
		{"struct in a map", map[string]any{"s": []any{eventTestStruct{}}}, "kycreview.eventTestStruct"},
		{"typed map", map[string]int{"a": 1}, "map[string]int"},
		{"float32", float32(1), "float32"},
		{"NaN", math.NaN(), "NaN"},
		{"infinity", math.Inf(1), "Inf"},
		{"invalid UTF-8 string", "a\xffb", "UTF-8"},
		{"invalid UTF-8 key", map[string]any{"\xff": 1}, "UTF-8"},
		{"invalid UTF-8 in string slice", []string{"\xff"}, "UTF-8"},
		{"invalid json.Number", json.Number("abc"), "number"},
		{"empty json.Number", json.Number(""), "number"},
		{"json.Number with leading zero", json.Number("01"), "number"},
		{"invalid raw message", json.RawMessage(`{`), "invalid raw message"},
		{"raw NaN", json.RawMessage(`NaN`), "invalid raw message"},
		{"raw trailing data", json.RawMessage(`{} {}`), "data after"},
		{"raw invalid UTF-8", json.RawMessage("\"\xff\""), "UTF-8"},
		{"raw lone high surrogate", json.RawMessage(`["\ud800"]`), "surrogate"},
		{"raw lone low surrogate", json.RawMessage(`{"\udc00":1}`), "surrogate"},
		{"raw high surrogate then non-low", json.RawMessage(`"\ud800\u0041"`), "surrogate"},
		{"cycle", cyclic, "deeper"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MarshalEventJSON(tt.in)
			if err == nil {
				t.Fatalf("MarshalEventJSON = %s, want an error", got)
			}
			if !strings.Contains(err.Error(), tt.errText) {
				t.Errorf("error %q does not mention %q", err, tt.errText)
			}
		})
	}
}

// TestPyFloatRepr checks the float formatting shared by the encoder against
// Python's repr at the fixed/scientific boundaries.
func TestPyFloatRepr(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0.0"},
		{math.Copysign(0, -1), "-0.0"},
		{1, "1.0"},
		{-2.5, "-2.5"},
		{0.0001, "0.0001"},
		{0.00001, "1e-05"},
		{1234567890123456, "1234567890123456.0"},
		{1e16, "1e+16"},
		{12345678901234567, "1.2345678901234568e+16"},
		{1.7976931348623157e308, "1.7976931348623157e+308"},
		{math.Inf(1), "inf"},
		{math.Inf(-1), "-inf"},
		{math.NaN(), "nan"},
	}
	for _, tt := range tests {
		if got := FormatPyFloat(tt.in); got != tt.want {
			t.Errorf("FormatPyFloat(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzMarshalEventJSON checks that any raw message either fails or encodes
// to valid, pure-ASCII JSON without HTML escapes, and never panics.
func FuzzMarshalEventJSON(f *testing.F) {
	for _, s := range []string{`{"b":[1.0,"é"],"a":{"y":null}}`, `"\ud83d\ude00"`, `"\\ud800"`, `[1e2,-0]`, "\"\xff\"", `{"a":1,"a":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := MarshalEventJSON(json.RawMessage(raw))
		if err != nil {
			return
		}
		if !json.Valid(got) {
			t.Fatalf("MarshalEventJSON(%#q) = %#q, not valid JSON", raw, got)
		}
		for _, c := range got {
			if c >= utf8.RuneSelf {
				t.Fatalf("MarshalEventJSON(%#q) = %#q, not ASCII", raw, got)
			}
		}
		if strings.Contains(string(got), `\u003c`) || strings.Contains(string(got), `\u0026`) {
			t.Errorf("MarshalEventJSON(%#q) = %#q, escapes HTML", raw, got)
		}
	})
}
