package decode

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/value"
)

func paths(ps ...string) [][]string {
	out := make([][]string, len(ps))
	for i, p := range ps {
		out[i] = strings.Split(p, ".")
	}
	return out
}

func TestDecode(t *testing.T) {
	plan := NewPlan(paths("a", "b", "c.d", "c", "e"))
	tests := []struct {
		in   string
		want []value.Value
		err  string
	}{
		{in: `{"a":1,"b":"x","c":{"d":2.5},"e":true}`,
			want: []value.Value{value.OfInt(1), value.OfString("x"), value.OfFloat(2.5), value.OfJSON(`{"d":2.5}`), value.OfBool(true)}},
		{in: ` { "z" : [1,{"a":9}], "a" : -7 } `,
			want: []value.Value{value.OfInt(-7), {}, {}, {}, {}}},
		{in: `{"a":1,"a":2}`, want: []value.Value{value.OfInt(2), {}, {}, {}, {}}},
		{in: `{"c":{"d":1},"c":{"x":1}}`, want: []value.Value{{}, {}, {}, value.OfJSON(`{"x":1}`), {}}},
		{in: `{"b":"esc\"\\\/\n\u00e9\ud83d\ude00"}`, want: []value.Value{{}, value.OfString("esc\"\\/\né😀"), {}, {}, {}}},
		{in: `{"a":12345678901234567890}`, want: []value.Value{value.OfFloat(12345678901234567890), {}, {}, {}, {}}},
		{in: `{"a":-9223372036854775808}`, want: []value.Value{value.OfInt(math.MinInt64), {}, {}, {}, {}}},
		{in: `{"a":1e3,"e":null,"c":[1,2]}`, want: []value.Value{value.OfFloat(1000), {}, {}, value.OfJSON(`[1,2]`), {}}},
		{in: `{"\u0061":5}`, want: []value.Value{value.OfInt(5), {}, {}, {}, {}}},
		{in: `{}`, want: []value.Value{{}, {}, {}, {}, {}}},
		{in: `{"a":1`, err: "unexpected end"},
		{in: `{"a":1,}`, err: "expected a string key"},
		{in: `{"a":01}`, err: "expected ',' or '}'"},
		{in: `{"a":1} x`, err: "after the object"},
		{in: "{\"a\":\"\x01\"}", err: "control character"},
		{in: `{"a":tru}`, err: "invalid literal"},
		{in: `{"a":"\q"}`, err: "invalid escape"},
		{in: `{"a":1e999}`, err: "out of range"},
		{in: ``, err: "empty record"},
		{in: `[1,2]`, err: "not a JSON object"},
		{in: `"str"`, err: "not a JSON object"},
	}
	for _, tt := range tests {
		out := make([]value.Value, plan.Len())
		err := plan.Decode([]byte(tt.in), out, nil)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Decode(%s) error = %v, want containing %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Decode(%s): %v", tt.in, err)
			continue
		}
		for i := range out {
			if out[i] != tt.want[i] {
				t.Errorf("Decode(%s) slot %d (%v) = %#v, want %#v", tt.in, i, plan.Paths()[i], out[i], tt.want[i])
			}
		}
	}
}

func TestSpans(t *testing.T) {
	in := `{"x":1, "a" : "hi" ,"b":[1]}`
	plan := NewPlan(paths("a", "b", "q"))
	out := make([]value.Value, 3)
	sp := make([]Span, 3)
	if err := plan.Decode([]byte(in), out, sp); err != nil {
		t.Fatal(err)
	}
	if got := in[sp[0].Start:sp[0].End]; got != `"hi"` {
		t.Errorf("span a = %q", got)
	}
	if got := in[sp[1].Start:sp[1].End]; got != `[1]` {
		t.Errorf("span b = %q", got)
	}
	if sp[2] != (Span{-1, -1}) {
		t.Errorf("span q = %v, want absent", sp[2])
	}
}

func TestDeepNesting(t *testing.T) {
	in := `{"a":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`
	err := NewPlan(paths("b")).Decode([]byte(in), make([]value.Value, 1), nil)
	var de *Error
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "too deep") {
		t.Fatalf("err = %v, want nesting error", err)
	}
}

func TestDecodeAllocations(t *testing.T) {
	line := []byte(`{"type":"bid","auction":1007,"bidder":2001,"price":4521,"channel":"Google","url":"https://www.nexmark.com/a/b","dateTime":"2026-01-01T00:00:10.000Z","extra":""}`)
	plan := NewPlan(paths("auction", "price"))
	out := make([]value.Value, 2)
	allocs := testing.AllocsPerRun(100, func() {
		if err := plan.Decode(line, out, nil); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Decode allocates %.0f times per record, want 0", allocs)
	}
}

// toValue converts what encoding/json decoded into the Value the scanner
// should produce for the same JSON.
func toValue(raw json.RawMessage) value.Value {
	raw = bytes.TrimSpace(raw)
	switch raw[0] {
	case '{', '[':
		return value.OfJSON(string(raw))
	case '"':
		var s string
		_ = json.Unmarshal(raw, &s)
		return value.OfString(s)
	case 't', 'f':
		return value.OfBool(raw[0] == 't')
	case 'n':
		return value.Value{}
	}
	v, _ := ParseNumber(raw)
	return v
}

// outOfRange says whether raw is a JSON number beyond float64's range.
func outOfRange(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return false
	}
	_, err := strconv.ParseFloat(string(raw), 64)
	return err != nil
}

// members is each member of the object raw, every occurrence of a name
// in order (encoding/json's map keeps only the last); nil if raw is not
// an object.
func members(raw []byte) map[string][]json.RawMessage {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	m := map[string][]json.RawMessage{}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil
		}
		var v json.RawMessage
		if dec.Decode(&v) != nil {
			return nil
		}
		m[k.(string)] = append(m[k.(string)], v)
	}
	return m
}

// wantedOutOfRange says whether an occurrence of a wanted field (a, b,
// b.c) of the object in is a number beyond float64's range.
func wantedOutOfRange(in []byte) bool {
	m := members(in)
	for _, r := range append(m["a"], m["b"]...) {
		if outOfRange(r) {
			return true
		}
	}
	for _, b := range m["b"] {
		for _, c := range members(b)["c"] {
			if outOfRange(c) {
				return true
			}
		}
	}
	return false
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":{"c":"x"}}`, `{"a":[1,2,{"b":null}],"b":1.5e3}`, `{"a":"\u00e9\ud800"}`,
		`{"a":1,"a":"dup"}`, `{"b":{"c":1},"b":2}`, ` {} `, `[]`, `{"a":-0.0}`, `{"type":"bid","price":"n/a"}`, `{"a":1`,
		`{"a":1e700}`, `{"a":1e700,"a":1}`, `{"b":{"c":1e700}}`, `{"a":[1e700]}`, `{"z":1e700}`} {
		f.Add([]byte(s))
	}
	plan := NewPlan(paths("a", "b.c", "b"))
	f.Fuzz(func(t *testing.T, in []byte) {
		out := make([]value.Value, plan.Len())
		err := plan.Decode(in, out, make([]Span, plan.Len()))
		var m map[string]json.RawMessage
		jerr := json.Unmarshal(in, &m)
		if jerr == nil && m == nil {
			jerr = errors.New("null")
		}
		if jerr == nil && wantedOutOfRange(in) {
			// a wanted number beyond float64: Decode refuses it, as
			// encoding/json does when it decodes the number (here it only
			// holds the raw bytes)
			jerr = errors.New("number out of range")
		}
		if (err == nil) != (jerr == nil) {
			t.Fatalf("Decode(%q) err = %v, encoding/json err = %v", in, err, jerr)
		}
		if Valid(in) != json.Valid(in) {
			t.Fatalf("Valid(%q) = %v, json.Valid = %v", in, Valid(in), json.Valid(in))
		}
		if err != nil {
			return
		}
		want := value.Value{}
		if r, ok := m["a"]; ok {
			want = toValue(r)
		}
		if !sameValue(out[0], want) {
			t.Fatalf("Decode(%q) a = %#v, want %#v", in, out[0], want)
		}
		wantB, wantC := value.Value{}, value.Value{}
		if r, ok := m["b"]; ok {
			wantB = toValue(r)
			var sub map[string]json.RawMessage
			if json.Unmarshal(r, &sub) == nil && sub != nil {
				if c, ok := sub["c"]; ok {
					wantC = toValue(c)
				}
			}
		}
		if !sameValue(out[2], wantB) || !sameValue(out[1], wantC) {
			t.Fatalf("Decode(%q) b = %#v b.c = %#v; want %#v %#v", in, out[2], out[1], wantB, wantC)
		}
	})
}

func sameValue(a, b value.Value) bool {
	if a.K == value.JSON && b.K == value.JSON {
		var x, y any
		_ = json.Unmarshal([]byte(a.S), &x)
		_ = json.Unmarshal([]byte(b.S), &y)
		xb, _ := json.Marshal(x)
		yb, _ := json.Marshal(y)
		return bytes.Equal(xb, yb)
	}
	if a.K == value.Float && b.K == value.Float && a.F == b.F {
		return true
	}
	return a == b
}

func BenchmarkDecodeBid(b *testing.B) {
	line := []byte(`{"type":"bid","auction":1007,"bidder":2001,"price":4521,"channel":"Google","url":"https://www.nexmark.com/a/b","dateTime":"2026-01-01T00:00:10.000Z","extra":""}`)
	plan := NewPlan(paths("auction", "price", "dateTime")).WithTime(2)
	out := make([]value.Value, 3)
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		_ = plan.Decode(line, out, nil)
	}
}

func TestWithTime(t *testing.T) {
	plan := NewPlan(paths("ts")).WithTime(0)
	out := make([]value.Value, 1)
	for in, want := range map[string]value.Value{
		`{"ts":"2026-01-01T00:00:10.000Z"}`: value.OfTime(1767225610000),
		`{"ts":"yesterday"}`:                value.OfString("yesterday"),
		`{"ts":1767225610000}`:              value.OfInt(1767225610000),
	} {
		if err := plan.Decode([]byte(in), out, nil); err != nil || out[0] != want {
			t.Errorf("Decode(%s) = %#v, %v; want %#v", in, out[0], err, want)
		}
	}
}
