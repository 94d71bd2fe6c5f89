package produce

import "testing"

// TestKeyer holds the keys of eddy produce --key: a top-level field's
// value (strings unquoted, other JSON as written) or a fixture's natural key.
func TestKeyer(t *testing.T) {
	tests := []struct {
		field, line string
		want        any // string, or nil for no key
	}{
		{"id", `{"id":"abc"}`, "abc"},
		{"id", `{"id":"a\"b\u00e9"}`, `a"bé`},
		{"id", `{"id":42}`, "42"},
		{"id", `{"id":-1.5e3}`, "-1.5e3"},
		{"id", `{"id":true}`, "true"},
		{"id", `{"x":1, "id" : [1, 2] }`, "[1, 2]"},
		{"id", `{"id":null}`, nil},
		{"id", `{"other":1}`, nil},
		{"id", `{"nested":{"id":1}}`, nil},
		{"id", `not json`, nil},
		{"id", `[1]`, nil},
		{"natural:nexmark", `{"type":"bid","auction":1001,"bidder":1000}`, "1001"},
		{"natural:nexmark", `{"type":"person","id":1000}`, "1000"},
		{"natural:nexmark", `{"type":"auction","id":1002,"seller":1000}`, "1002"},
		{"natural:clickstream", `{"user_id":"u0001","session_id":"s1"}`, "u0001"},
		{"natural:sensors", `{"device":"dev-059"}`, "dev-059"},
		{"natural:payments", `{"account":"acct-00338"}`, "acct-00338"},
	}
	for _, tt := range tests {
		got := NewKeyer(tt.field).Key([]byte(tt.line))
		if tt.want == nil {
			if got != nil {
				t.Errorf("%s in %s: key %q, want none", tt.field, tt.line, got)
			}
		} else if string(got) != tt.want {
			t.Errorf("%s in %s: key %q, want %q", tt.field, tt.line, got, tt.want)
		}
	}
	if NewKeyer("").Key([]byte(`{"a":1}`)) != nil {
		t.Error("no field gives a key")
	}
}
