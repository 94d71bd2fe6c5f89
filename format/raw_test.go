package format

import (
	"strings"
	"testing"

	"github.com/eddyhq/eddy/value"
)

// TestRaw: the value's bytes are the string field value (invalid UTF-8
// kept byte for byte), the record itself is {"value": ...}, and any other
// path is refused.
func TestRaw(t *testing.T) {
	d, err := NewRaw([][]string{{"value"}, {}})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]value.Value, 2)
	for _, tc := range []struct {
		in, whole string
	}{
		{`GET /index.html 200`, `{"value":"GET /index.html 200"}`},
		{`{"a":1}`, `{"value":"{\"a\":1}"}`},
		{"", `{"value":""}`},
		{"x\xffy", `{"value":"x\udcffy"}`},
	} {
		if err := d.Decode([]byte(tc.in), out); err != nil {
			t.Fatal(err)
		}
		if out[0] != value.OfString(tc.in) || out[1] != value.OfJSON(tc.whole) {
			t.Errorf("%q: got %v and %v, want the string and %s", tc.in, out[0], out[1], tc.whole)
		}
	}
	for _, p := range [][]string{{"line"}, {"value", "x"}} {
		if _, err := NewRaw([][]string{p}); err == nil || !strings.Contains(err.Error(), "a record has one field, value") {
			t.Errorf("path %v: err = %v", p, err)
		}
	}
	whole, err := WholeJSON(nil, "raw")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := whole([]byte("a b")); err != nil || string(got) != `{"value":"a b"}` {
		t.Errorf("WholeJSON raw: %s, %v", got, err)
	}
	if NeedsRegistry("raw") || NeedsRegistry("json") || !NeedsRegistry("avro") || !NeedsRegistry("json-schema") {
		t.Error("NeedsRegistry")
	}
}
