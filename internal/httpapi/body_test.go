package httpapi

import "testing"

func TestScratch(t *testing.T) {
	for _, b := range []string{"{", `{"a":}`, `{"a":1,}`, "[1,", "nul", `{"a" 1}`, "\n\n  {x", `{"éé": x}`, " ", `{"a":1}x`, `{"a":1} {}`, "{\"a\":\"\x01\"}", "tru", "{\"a\":1}\n]", `"abc`, `{"a":"b\q"}`, `{'a':1}`, `{"a":NaN}`, "\xef\xbb\xbf{}", "\xff", "{\"a\":\"\xe9\"}", "{}\xe2\x82", "{\"a\":\"x\xe2\x82"} {
		_, err := decodeObject("application/json", []byte(b))
		t.Logf("%q -> %v", b, err)
	}
}
