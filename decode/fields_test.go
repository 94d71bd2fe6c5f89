package decode

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
	"unsafe"

	"github.com/eddyhq/eddy/value"
)

type field struct {
	name string
	v    value.Value
}

func collect(line string) ([]field, error) {
	var got []field
	err := Fields([]byte(line), func(name string, v value.Value) {
		got = append(got, field{strings.Clone(name), v})
	})
	return got, err
}

func TestFields(t *testing.T) {
	tests := []struct {
		in   string
		want []field
		err  string
	}{
		{in: `{"a":1,"b":"x","c":{"d":2.5},"e":true,"f":null,"g":[1, 2],"h":false}`, want: []field{
			{"a", value.OfInt(1)}, {"b", value.OfString("x")}, {"c", value.OfJSON(`{"d":2.5}`)},
			{"e", value.OfBool(true)}, {"f", value.Value{}}, {"g", value.OfJSON(`[1, 2]`)}, {"h", value.OfBool(false)}}},
		{in: ` { "z" : -7 , "a":1e3 } `, want: []field{{"z", value.OfInt(-7)}, {"a", value.OfFloat(1000)}}},
		{in: `{"a":1,"a":2}`, want: []field{{"a", value.OfInt(1)}, {"a", value.OfInt(2)}}},
		{in: `{"\u0061\n":"esc\"\\\/\n\u00e9\ud83d\ude00"}`, want: []field{{"a\n", value.OfString("esc\"\\/\né😀")}}},
		{in: "{\"k\xff\":\"v\xfe\"}", want: []field{{"k\uFFFD", value.OfString("v\uFFFD")}}},
		{in: `{"ts":"2026-01-01T00:00:10.000Z"}`, want: []field{{"ts", value.OfString("2026-01-01T00:00:10.000Z")}}},
		{in: `{"a":12345678901234567890}`, want: []field{{"a", value.OfFloat(12345678901234567890)}}},
		{in: `{}`, want: nil},
		{in: `{"a":1`, err: "unexpected end"},
		{in: `{"a":1,}`, err: "expected a string key"},
		{in: `{"a":01}`, err: "expected ',' or '}'"},
		{in: `{"a":1} x`, err: "after the object"},
		{in: "{\"a\":\"\x01\"}", err: "control character"},
		{in: `{"a":tru}`, err: "invalid literal"},
		{in: `{"a":[1,]}`, err: "unexpected"},
		{in: `{"a":"\q"}`, err: "invalid escape"},
		{in: `{"a":1e999}`, err: "out of range"},
		{in: `{"a" 1}`, err: "expected ':'"},
		{in: ``, err: "empty record"},
		{in: `  `, err: "empty record"},
		{in: `[1,2]`, err: "not a JSON object"},
		{in: `null`, err: "not a JSON object"},
		{in: `[1,2`, err: "unexpected end"},
	}
	for _, tt := range tests {
		got, err := collect(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Fields(%q) error = %v, want containing %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Fields(%q): %v", tt.in, err)
			continue
		}
		if len(got) != len(tt.want) {
			t.Errorf("Fields(%q) = %v, want %v", tt.in, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("Fields(%q) member %d = %#v, want %#v", tt.in, i, got[i], tt.want[i])
			}
		}
	}
}

func TestFieldsDeepNesting(t *testing.T) {
	in := `{"a":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`
	_, err := collect(in)
	var de *Error
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "too deep") {
		t.Fatalf("err = %v, want nesting error", err)
	}
	// The same depth limit as Decode: 1000 levels inside a member are fine.
	ok := `{"a":` + strings.Repeat("[", 999) + strings.Repeat("]", 999) + `}`
	if _, err := collect(ok); err != nil {
		t.Fatalf("999 levels: %v", err)
	}
	if err := NewPlan(paths("b")).Decode([]byte(ok), make([]value.Value, 1), nil); err != nil {
		t.Fatalf("Decode of the same: %v", err)
	}
}

func TestFieldsAllocations(t *testing.T) {
	line := []byte(`{"auction":1007,"bidder":2001,"price":4521.5,"ok":true,"none":null,"extra":""}`)
	n := 0
	fn := func(name string, v value.Value) { n++ }
	allocs := testing.AllocsPerRun(100, func() {
		if err := Fields(line, fn); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Fields allocates %.0f times per record without strings, want 0", allocs)
	}
	bid := []byte(`{"type":"bid","auction":1007,"bidder":2001,"price":4521,"channel":"Google","url":"https://www.nexmark.com/a/b","dateTime":"2026-01-01T00:00:10.000Z","extra":""}`)
	allocs = testing.AllocsPerRun(100, func() {
		if err := Fields(bid, fn); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 4 { // type, channel, url, dateTime; "" is free
		t.Errorf("Fields allocates %.0f times per bid, want 4 (one per non-empty string)", allocs)
	}
}

// FieldsBorrowed gives the same members as Fields, with plain strings and
// JSON text pointing into the line, and allocates nothing for them.
func TestFieldsBorrowed(t *testing.T) {
	line := []byte(`{"type":"bid","esc":"a\"b","bad":"\xff","o":{"a":[1]},"n":3,"t":"2026-01-01T00:00:10.000Z"}`)
	line = bytes.Replace(line, []byte(`\xff`), []byte{0xff}, 1)
	var want, got []value.Value
	if err := Fields(line, func(_ string, v value.Value) { want = append(want, v) }); err != nil {
		t.Fatal(err)
	}
	inLine := func(s string) bool {
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		lo := uintptr(unsafe.Pointer(&line[0]))
		return p >= lo && p < lo+uintptr(len(line))
	}
	if err := FieldsBorrowed(line, func(_ string, v value.Value) { got = append(got, v) }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("FieldsBorrowed = %#v, want %#v", got, want)
	}
	for i, borrowed := range []bool{true, false, false, true, false, true} {
		if v := got[i]; v.S != "" && inLine(v.S) != borrowed {
			t.Errorf("member %d (%q): points into the line %v, want %v", i, v.S, !borrowed, borrowed)
		}
	}
	bid := []byte(`{"type":"bid","auction":1007,"bidder":2001,"price":4521,"channel":"Google","url":"https://www.nexmark.com/a/b","dateTime":"2026-01-01T00:00:10.000Z","extra":""}`)
	fn := func(string, value.Value) {}
	if allocs := testing.AllocsPerRun(100, func() {
		if err := FieldsBorrowed(bid, fn); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 {
		t.Errorf("FieldsBorrowed allocates %.0f times per bid, want 0", allocs)
	}
}

// jsonMembers lists the top-level members of a valid JSON object in order,
// with encoding/json's decoder.
func jsonMembers(in []byte) ([]string, []json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(in))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, errors.New("not an object")
	}
	var names []string
	var vals []json.RawMessage
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, err
		}
		names = append(names, tok.(string))
		vals = append(vals, raw)
	}
	return names, vals, nil
}

func FuzzFields(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":{"c":"x"}}`, `{"a":[1,2,{"b":null}],"b":1.5e3}`, `{"a":"\u00e9\ud800"}`,
		`{"a":1,"a":"dup"}`, ` {} `, `[]`, `{"a":-0.0}`, `{"type":"bid","price":"n/a"}`, `{"a":1`, "{\"\xff\":1}",
		`{"\u0000":true,"x":false,"y":null}`, `{"a":1} {}`,
		// bytes ≥ 0x80 inside and right after the 8-byte words skipString reads at once
		"{\"abcdefg\xe9\":\"0123456\xc3\xa9x\",\"k\":\"01234567\xff\"}", "{\"é\":\"\xed\xa0\x80\",\"b\":\"ab\"}\xe9"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var names []string
		var vals []value.Value
		err := Fields(in, func(name string, v value.Value) {
			names = append(names, strings.Clone(name))
			vals = append(vals, v)
		})
		var m map[string]json.RawMessage
		jerr := json.Unmarshal(in, &m)
		if jerr == nil && m == nil {
			jerr = errors.New("null")
		}
		if (err == nil) != (jerr == nil) {
			t.Fatalf("Fields(%q) err = %v, encoding/json err = %v", in, err, jerr)
		}
		// The same verdict as Plan.Decode.
		derr := NewPlan(paths("a")).Decode(in, make([]value.Value, 1), nil)
		if (err == nil) != (derr == nil) {
			t.Fatalf("Fields(%q) err = %v, Decode err = %v", in, err, derr)
		}
		if err != nil {
			return
		}
		wantNames, raws, err := jsonMembers(in)
		if err != nil {
			t.Fatalf("encoding/json decoder on %q: %v", in, err)
		}
		if len(names) != len(wantNames) {
			t.Fatalf("Fields(%q) names %q, want %q", in, names, wantNames)
		}
		for i := range names {
			if names[i] != wantNames[i] {
				t.Fatalf("Fields(%q) name %d = %q, want %q", in, i, names[i], wantNames[i])
			}
			if want := toValue(raws[i]); !sameValue(vals[i], want) {
				t.Fatalf("Fields(%q) %q = %#v, want %#v", in, names[i], vals[i], want)
			}
		}
	})
}

func BenchmarkFieldsBid(b *testing.B) {
	line := []byte(`{"type":"bid","auction":1007,"bidder":2001,"price":4521,"channel":"Google","url":"https://www.nexmark.com/a/b","dateTime":"2026-01-01T00:00:10.000Z","extra":""}`)
	n := 0
	fn := func(name string, v value.Value) { n++ }
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		_ = Fields(line, fn)
	}
}

// keyedSeeds are streams of objects, one a line, whose keys repeat, nearly
// repeat or change.
var keyedSeeds = []string{
	"{\"type\":\"bid\",\"auction\":1007,\"price\":4521,\"url\":\"https://x/a\",\"extra\":\"\"}\n" +
		"{\"type\":\"bid\",\"auction\":1008,\"price\":17,\"url\":\"https://x/b\",\"extra\":\"\"}",
	"{\"ab\":1,\"a\":2}\n{\"abc\":1,\"a\" : 2}\n{\"ab\":1,\"a\":2}\n{\"a\":1,\"ab\":2}",
	"{\"a\":1}\n{\"a\"1}\n{\"a\"",
	"{\"a\":1}\n{\"\\u0061\":2}\n{\"a\\\"\":3}\n{\"a\":4}",
	"{\"\":1,\"é\":2}\n{\"\":3,\"é\":4}\n{\"\xff\":5}",
	"{\"a\":1,\"b\":2}\n{\"a\":1}\n{\"a\":1,\"b\":2,\"c\":3}\n{}\n[1]\n{\"a\":1,\"a\":2}",
	"{\"k\":1}\n{\"k\":\n{\"k\"  :  1  }\n{ \"k\":1,\"k2\":{\"k\":1}}",
}

// TestFieldsKeyed: over streams whose keys repeat, FieldsKeyed reports what
// FieldsBorrowed does, and recognises the repeated keys.
func TestFieldsKeyed(t *testing.T) {
	for _, seed := range keyedSeeds {
		checkKeyed(t, []byte(seed))
	}
	var keys Keys
	bid := []byte(keyedSeeds[0][:strings.IndexByte(keyedSeeds[0], '\n')])
	var names []string
	for range 2 {
		names = names[:0]
		if err := FieldsKeyed(bid, &keys, func(name string, _ value.Value) { names = append(names, name) }); err != nil {
			t.Fatal(err)
		}
	}
	for i, name := range names {
		if unsafe.StringData(name) != unsafe.StringData(keys.k[i]) {
			t.Errorf("key %d (%q) of the second line was scanned, not recognised", i, name)
		}
	}
	if allocs := testing.AllocsPerRun(100, func() {
		_ = FieldsKeyed(bid, &keys, func(string, value.Value) {})
	}); allocs != 0 {
		t.Errorf("FieldsKeyed allocates %.0f times per repeated bid, want 0", allocs)
	}
}

// FuzzFieldsKeyed is a differential test: FieldsKeyed, with one Keys over
// all the lines of the input, must report exactly what FieldsBorrowed
// reports for each line (members, values, errors and their offsets).
func FuzzFieldsKeyed(f *testing.F) {
	for _, s := range keyedSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkKeyed)
}

func checkKeyed(t *testing.T, in []byte) {
	var keys Keys
	for _, line := range bytes.Split(in, []byte("\n")) {
		var want, got []field
		werr := FieldsBorrowed(line, func(name string, v value.Value) { want = append(want, field{strings.Clone(name), v}) })
		gerr := FieldsKeyed(line, &keys, func(name string, v value.Value) { got = append(got, field{strings.Clone(name), v}) })
		if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gerr, werr) {
			t.Fatalf("line %q after keys %q:\nFieldsKeyed     %v, %v\nFieldsBorrowed  %v, %v", line, keys.k, got, gerr, want, werr)
		}
		for _, k := range keys.k {
			if !utf8.ValidString(k) || strings.ContainsAny(k, "\"\\") || strings.ContainsFunc(k, func(r rune) bool { return r < 0x20 || r >= 0x80 }) {
				t.Fatalf("line %q: kept key %q is not plain", line, k)
			}
		}
	}
}
