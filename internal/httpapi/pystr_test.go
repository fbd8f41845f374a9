package httpapi

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// TestPyStr checks pyStr against what Python prints for
// str(json.loads(raw)); the expectations were produced by Python 3.11, whose
// str and repr rules are those of 3.12.
func TestPyStr(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want string
	}{
		{`top-level string`, `"hello"`, `hello`},
		{`top-level string with quotes`, `"it's \"q\""`, `it's "q"`},
		{`top-level string with escapes`, `"caf\u00e9\n\ttab"`, "café\n\ttab"},
		{`top-level empty string`, `""`, ""},
		{`top-level lone surrogate`, `"a\ud800b"`, "a\ufffdb"},
		{`zero`, `0`, `0`},
		{`negative zero int`, `-0`, `0`},
		{`positive int`, `42`, `42`},
		{`negative int`, `-17`, `-17`},
		{`int beyond int64`, `123456789012345678901234567890`, `123456789012345678901234567890`},
		{`surrounding whitespace`, " \t7 ", `7`},
		{`float one`, `1.0`, `1.0`},
		{`float hundred`, `100.0`, `100.0`},
		{`exponent is a float`, `1e2`, `100.0`},
		{`capital exponent`, `1E2`, `100.0`},
		{`fraction exponent`, `0.1e1`, `1.0`},
		{`fixed at 1e-4`, `0.0001`, `0.0001`},
		{`scientific below 1e-4`, `0.00001`, `1e-05`},
		{`scientific small`, `2.5E-5`, `2.5e-05`},
		{`fixed at 1e15`, `1e15`, `1000000000000000.0`},
		{`fixed largest 16 digits`, `1234567890123456.0`, `1234567890123456.0`},
		{`scientific at 1e16`, `1e16`, `1e+16`},
		{`rounded to 17 digits`, `12345678901234567.0`, `1.2345678901234568e+16`},
		{`scientific big`, `1.5e300`, `1.5e+300`},
		{`scientific 1e22`, `1e22`, `1e+22`},
		{`largest float`, `1.7976931348623157e308`, `1.7976931348623157e+308`},
		{`smallest subnormal`, `5e-324`, `5e-324`},
		{`shortest round trip`, `0.1`, `0.1`},
		{`sum artefact`, `0.30000000000000004`, `0.30000000000000004`},
		{`negative zero float`, `-0.0`, `-0.0`},
		{`negative zero exponent`, `-0e5`, `-0.0`},
		{`overflow`, `1e400`, `inf`},
		{`negative overflow`, `-1e400`, `-inf`},
		{`underflow`, `1e-400`, `0.0`},
		{`negative underflow`, `-1e-400`, `-0.0`},
		{`true`, `true`, `True`},
		{`false`, `false`, `False`},
		{`null`, `null`, `None`},
		{`list of mixed`, `[1, "a", true, null]`, `[1, 'a', True, None]`},
		{`compact list`, `[1,"a",false,null,1.0,1e400,-1e400]`, `[1, 'a', False, None, 1.0, inf, -inf]`},
		{`empty list`, `[]`, `[]`},
		{`nested empties`, `[[], {}, [[]]]`, `[[], {}, [[]]]`},
		{`object`, `{"a":1,"b":[2]}`, `{'a': 1, 'b': [2]}`},
		{`empty object`, `{}`, `{}`},
		{`key order kept`, `{"b":1,"a":2}`, `{'b': 1, 'a': 2}`},
		{`duplicate key last value first place`, `{"a":1,"b":2,"a":3}`, `{'a': 3, 'b': 2}`},
		{`nested duplicate`, `{"x":{"k":1,"k":{"z":null}}}`, `{'x': {'k': {'z': None}}}`},
		{`dict values repr`, `{"s":"v","f":2.50,"t":true,"n":null}`, `{'s': 'v', 'f': 2.5, 't': True, 'n': None}`},
		{`single quote uses double quotes`, `["it's"]`, `["it's"]`},
		{`double quote stays single`, `["a\"b"]`, `['a"b']`},
		{`both quotes escape single`, `["it's \"x\""]`, `['it\'s "x"']`},
		{`backslash`, `["a\\b"]`, `['a\\b']`},
		{`whitespace escapes`, `["\n\r\t"]`, `['\n\r\t']`},
		{`control as x escapes`, `["\u0000\u001f\u007f\b\f"]`, `['\x00\x1f\x7f\x08\x0c']`},
		{`printable non-ascii`, `["é😀ü中"]`, `['é😀ü中']`},
		{`nbsp`, `["\u00a0"]`, `['\xa0']`},
		{`ideographic space`, `["\u3000"]`, `['\u3000']`},
		{`soft hyphen`, `["\u00ad"]`, `['\xad']`},
		{`zero width space`, `["\u200b"]`, `['\u200b']`},
		{`next line C1`, `["\u0085"]`, `['\x85']`},
		{`line separator`, `["\u2028"]`, `['\u2028']`},
		{`private use`, `["\ue000"]`, `['\ue000']`},
		{`unassigned`, `["\u0378"]`, `['\u0378']`},
		{`astral format char`, `["\udb40\udc01"]`, `['\U000e0001']`},
		{`surrogate pair joined`, `["\ud83d\ude00"]`, `['😀']`},
		{`lone high surrogate`, `["\ud800"]`, `['\ud800']`},
		{`lone low surrogate`, `["\udc00x"]`, `['\udc00x']`},
		{`high then non-low`, `["\ud800\u0041"]`, `['\ud800A']`},
		{`escaped slash`, `["a\/b"]`, `['a/b']`},
		{`quote in key`, `{"it's":"x"}`, `{"it's": 'x'}`},
		{`unicode key`, `{"é":"\u00a0"}`, `{'é': '\xa0'}`},
		// Invalid JSON comes back unchanged. NaN and Infinity are accepted by
		// json.loads but refused by DRF's strict parser.
		{`unclosed object`, `{`, `{`},
		{`trailing comma`, `[1,]`, `[1,]`},
		{`NaN`, `NaN`, `NaN`},
		{`Infinity`, `-Infinity`, `-Infinity`},
		{`single quoted`, `'a'`, `'a'`},
		{`empty`, ``, ``},
		{`only whitespace`, "  ", "  "},
		{`leading zero`, `01`, `01`},
		{`two values`, `1 2`, `1 2`},
		{`invalid UTF-8`, "\"\xff\"", "\"\xff\""},
		{`short unicode escape`, `"a\u12"`, `"a\u12"`},
		{`raw tab in string`, "\"\t\"", "\"\t\""},
		{`bad escape`, `"\x41"`, `"\x41"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pyStr(json.RawMessage(tt.raw)); got != tt.want {
				t.Errorf("pyStr(%#q) = %#q, want %#q", tt.raw, got, tt.want)
			}
		})
	}
}

// TestPyTypeName checks the Python type names json.loads gives each kind of
// JSON value, and "" for invalid JSON.
func TestPyTypeName(t *testing.T) {
	tests := []struct {
		raw  string
		want string
	}{
		{`{"a":1}`, "dict"},
		{`{}`, "dict"},
		{`[1]`, "list"},
		{`"x"`, "str"},
		{`0`, "int"},
		{`-0`, "int"},
		{`123456789012345678901234567890`, "int"},
		{`1.0`, "float"},
		{`1e2`, "float"},
		{`-1E+2`, "float"},
		{`1e400`, "float"},
		{`true`, "bool"},
		{`false`, "bool"},
		{`null`, "NoneType"},
		{" \n\t[] ", "list"},
		{``, ""},
		{`NaN`, ""},
		{`[1,]`, ""},
		{`{"a":1} x`, ""},
		{"\"\xff\"", ""},
	}
	for _, tt := range tests {
		if got := pyTypeName(json.RawMessage(tt.raw)); got != tt.want {
			t.Errorf("pyTypeName(%#q) = %q, want %q", tt.raw, got, tt.want)
		}
	}
}

// FuzzPyStr checks that no input makes pyStr or pyTypeName panic, that valid
// JSON always has a type, that invalid JSON comes back unchanged, and that
// the output is valid UTF-8 whenever the input is.
func FuzzPyStr(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5,"it's",null]}`, `["\ud800\udc00\ud800"]`, `1e400`, `{"a":1,"a":2}`, `[[[]]]`, "\"\xff\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got := pyStr(raw)
		valid := utf8.Valid(raw) && json.Valid(raw)
		if tn := pyTypeName(raw); (tn != "") != valid {
			t.Errorf("pyTypeName(%#q) = %q, but valid is %v", raw, tn, valid)
		}
		if !valid && got != string(raw) {
			t.Errorf("pyStr(%#q) = %#q, want the input unchanged", raw, got)
		}
		if utf8.Valid(raw) && !utf8.ValidString(got) {
			t.Errorf("pyStr(%#q) = %#q, not valid UTF-8", raw, got)
		}
	})
}
