package format

import (
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eddyhq/eddy/value"
)

const bidAvro = `{"type":"record","name":"Bid","namespace":"nexmark","fields":[
 {"name":"auction","type":"long"},
 {"name":"bidder","type":"long"},
 {"name":"price","type":"long"},
 {"name":"channel","type":"string"},
 {"name":"url","type":"string"},
 {"name":"dateTime","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"extra","type":"string"}]}`

const richAvro = `{"type":"record","name":"Rich","fields":[
 {"name":"id","type":"int"},
 {"name":"who","type":{"type":"record","name":"Person","fields":[
   {"name":"name","type":"string"},
   {"name":"address","type":["null",{"type":"record","name":"Address","fields":[{"name":"city","type":"string"}]}]}]}},
 {"name":"maybe","type":["null","string","long"]},
 {"name":"color","type":{"type":"enum","name":"Color","symbols":["RED","GREEN"]}},
 {"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}},
 {"name":"big","type":{"type":"fixed","name":"Big","size":16,"logicalType":"decimal","precision":30,"scale":3}},
 {"name":"units","type":{"type":"bytes","logicalType":"decimal","precision":20,"scale":0}},
 {"name":"uid","type":{"type":"string","logicalType":"uuid"}},
 {"name":"day","type":{"type":"int","logicalType":"date"}},
 {"name":"micros","type":{"type":"long","logicalType":"timestamp-micros"}},
 {"name":"tags","type":{"type":"array","items":"string"}},
 {"name":"attrs","type":{"type":"map","values":"long"}},
 {"name":"ratio","type":"float"},
 {"name":"score","type":"double"},
 {"name":"ok","type":"boolean"},
 {"name":"when","type":"string"},
 {"name":"raw","type":"bytes"}]}`

func richRecord() map[string]any {
	return map[string]any{
		"id":     7,
		"who":    map[string]any{"name": "Ada", "address": map[string]any{"Address": map[string]any{"city": "Paris"}}},
		"maybe":  map[string]any{"long": int64(12)},
		"color":  "GREEN",
		"amount": big.NewRat(-12345, 100),
		"big":    new(big.Rat).SetFrac(mustInt("123456789012345678901234567"), big.NewInt(1000)),
		"units":  big.NewRat(42, 1),
		"uid":    "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
		"day":    time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC),
		"micros": time.UnixMicro(1767225610123456).UTC(),
		"tags":   []string{"a", "b\"c"},
		"attrs":  map[string]any{"x": int64(1)},
		"ratio":  float32(0.5),
		"score":  2.25,
		"ok":     true,
		"when":   "2026-01-01T00:00:10Z",
		"raw":    []byte{0xff, 'a'},
	}
}

func mustInt(s string) *big.Int {
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(s)
	}
	return n
}

// frame encodes v with schema text and frames it with id, through
// franz-go's header writer.
func frameAvro(t testing.TB, id int, schema string, v any) []byte {
	t.Helper()
	s, err := avro.Parse(schema)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := avro.Marshal(s, v)
	if err != nil {
		t.Fatal(err)
	}
	var h sr.ConfluentHeader
	b, _ := h.AppendEncode(nil, id, nil)
	return append(b, payload...)
}

func cacheOf(t testing.TB, schemas map[int]sr.Schema) *Cache {
	return NewCache(t.Context(), &Static{IDs: schemas}, CacheOptions{})
}

func paths(ps ...string) [][]string {
	out := make([][]string, len(ps))
	for i, p := range ps {
		out[i] = strings.Split(p, ".")
	}
	return out
}

func TestAvroTypes(t *testing.T) {
	rec := frameAvro(t, 3, richAvro, richRecord())
	c := cacheOf(t, map[int]sr.Schema{3: {Schema: richAvro}})
	for _, tc := range []struct {
		path string
		want value.Value
	}{
		{"id", value.OfInt(7)},
		{"who.name", value.OfString("Ada")},
		{"who.address.city", value.OfString("Paris")},
		{"who", value.OfJSON(`{"name":"Ada","address":{"city":"Paris"}}`)},
		{"maybe", value.OfInt(12)},
		{"color", value.OfString("GREEN")},
		{"amount", value.OfFloat(-123.45)},
		{"big", value.OfString("123456789012345678901234.567")},
		{"units", value.OfInt(42)},
		{"uid", value.OfString("6ba7b810-9dad-11d1-80b4-00c04fd430c8")},
		{"day", value.OfTime(time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC).UnixMilli())},
		{"micros", value.OfTime(1767225610123)},
		{"tags", value.OfJSON(`["a","b\"c"]`)},
		{"attrs", value.OfJSON(`{"x":1}`)},
		{"attrs.x", value.OfInt(1)},
		{"attrs.y", value.Value{}},
		{"ratio", value.OfFloat(0.5)},
		{"score", value.OfFloat(2.25)},
		{"ok", value.OfBool(true)},
		{"when", value.OfString("2026-01-01T00:00:10Z")},
		{"raw", value.OfString("\xffa")},
	} {
		d := NewAvro(c, paths(tc.path))
		out := make([]value.Value, 1)
		if err := d.Decode(rec, out); err != nil {
			t.Errorf("%s: %v", tc.path, err)
			continue
		}
		if out[0] != tc.want {
			t.Errorf("%s = %#v, want %#v", tc.path, out[0], tc.want)
		}
	}
}

func TestAvroManySlotsAndTime(t *testing.T) {
	rec := frameAvro(t, 3, richAvro, richRecord())
	c := cacheOf(t, map[int]sr.Schema{3: {Schema: richAvro}})
	d := NewAvro(c, paths("when", "who.name", "who.address.city", "who", "id")).WithTime(0)
	out := make([]value.Value, 5)
	if err := d.Decode(rec, out); err != nil {
		t.Fatal(err)
	}
	want := []value.Value{value.OfTime(1767225610000), value.OfString("Ada"), value.OfString("Paris"),
		value.OfJSON(`{"name":"Ada","address":{"city":"Paris"}}`), value.OfInt(7)}
	for i := range want {
		if out[i] != want[i] {
			t.Errorf("slot %d = %#v, want %#v", i, out[i], want[i])
		}
	}
}

func TestAvroNullBranch(t *testing.T) {
	r := richRecord()
	r["who"] = map[string]any{"name": "Bob", "address": nil}
	r["maybe"] = nil
	rec := frameAvro(t, 3, richAvro, r)
	d := NewAvro(cacheOf(t, map[int]sr.Schema{3: {Schema: richAvro}}), paths("who.address.city", "maybe", "who.address"))
	out := make([]value.Value, 3)
	if err := d.Decode(rec, out); err != nil {
		t.Fatal(err)
	}
	for i, v := range out {
		if !v.IsNull() {
			t.Errorf("slot %d = %#v, want null", i, v)
		}
	}
}

func TestAvroBid(t *testing.T) {
	bid := map[string]any{"auction": int64(1007), "bidder": int64(2001), "price": int64(4521), "channel": "Google",
		"url": "https://www.nexmark.com/a", "dateTime": time.UnixMilli(1767225610000).UTC(), "extra": ""}
	rec := frameAvro(t, 1, bidAvro, bid)
	d := NewAvro(cacheOf(t, map[int]sr.Schema{1: {Schema: bidAvro}}), paths("auction", "price", "dateTime")).WithTime(2)
	out := make([]value.Value, 3)
	if err := d.Decode(rec, out); err != nil {
		t.Fatal(err)
	}
	if out[0] != value.OfInt(1007) || out[1] != value.OfInt(4521) || out[2] != value.OfTime(1767225610000) {
		t.Errorf("got %v", out)
	}
	if n := testing.AllocsPerRun(100, func() { _ = d.Decode(rec, out) }); n != 0 {
		t.Errorf("%v allocations per bid", n)
	}
}

// TestAvroEvolution reads one stream with two writer schemas: v2 added a
// field with a default and moved one.
func TestAvroEvolution(t *testing.T) {
	v1 := `{"type":"record","name":"E","fields":[{"name":"a","type":"long"},{"name":"b","type":"string"}]}`
	v2 := `{"type":"record","name":"E","fields":[{"name":"b","type":"string"},{"name":"c","type":"int","default":0},{"name":"a","type":"long"}]}`
	c := cacheOf(t, map[int]sr.Schema{1: {Schema: v1}, 2: {Schema: v2}})
	d := NewAvro(c, paths("a", "b"))
	out := make([]value.Value, 2)
	for _, rec := range [][]byte{
		frameAvro(t, 1, v1, map[string]any{"a": int64(1), "b": "x"}),
		frameAvro(t, 2, v2, map[string]any{"a": int64(2), "b": "y", "c": 5}),
		frameAvro(t, 1, v1, map[string]any{"a": int64(3), "b": "z"}),
	} {
		if err := d.Decode(rec, out); err != nil {
			t.Fatal(err)
		}
	}
	if out[0] != value.OfInt(3) || out[1] != value.OfString("z") {
		t.Errorf("got %v", out)
	}
	// c is only in v2: records of v1 are dead letters for a pipeline reading it
	dc := NewAvro(c, paths("c"))
	if err := dc.Decode(frameAvro(t, 2, v2, map[string]any{"a": int64(2), "b": "y", "c": 5}), out[:1]); err != nil || out[0] != value.OfInt(5) {
		t.Errorf("v2: %v %v", out[0], err)
	}
	err := dc.Decode(frameAvro(t, 1, v1, map[string]any{"a": int64(1), "b": "x"}), out[:1])
	if !errors.Is(err, ErrMissingField) || !strings.Contains(err.Error(), `"c"`) || !strings.Contains(err.Error(), "schema id 1") {
		t.Errorf("v1: err = %v", err)
	}
}

func TestAvroErrors(t *testing.T) {
	bid := map[string]any{"auction": int64(1), "bidder": int64(2), "price": int64(3), "channel": "c",
		"url": "u", "dateTime": time.UnixMilli(0).UTC(), "extra": "e"}
	good := frameAvro(t, 1, bidAvro, bid)
	nulls := `{"type":"record","name":"N","fields":[{"name":"n","type":{"type":"array","items":"null"}},{"name":"l","type":{"type":"array","items":"long"}}]}`
	ints := `{"type":"record","name":"I","fields":[{"name":"i","type":"int"},{"name":"e","type":{"type":"enum","name":"E","symbols":["A"]}}]}`
	c := cacheOf(t, map[int]sr.Schema{1: {Schema: bidAvro}, 8: {Schema: nulls}, 9: {Schema: ints}, 5: {Schema: `syntax = "proto3";`, Type: sr.TypeProtobuf}, 6: {Schema: `{"type":"nope"}`}, 7: {Schema: `"long"`}})
	// a string length of 2^60 declared in a record of a few bytes
	huge := append([]byte{0, 0, 0, 0, 1, 2, 4, 6}, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20)
	// an array of 2^40 nulls: no bytes each, so the count is capped instead
	manyNulls := []byte{0, 0, 0, 0, 8, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40, 0, 0}
	// an array of 2^40 longs in a record of a few bytes
	manyLongs := []byte{0, 0, 0, 0, 8, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40, 2, 0}
	for _, tc := range []struct {
		name  string
		paths [][]string
		rec   []byte
		want  error
	}{
		{"plain JSON", paths("price"), []byte(`{"price":1}`), ErrMagic},
		{"huge null block", paths("n"), manyNulls, ErrCorrupt},
		{"huge block", paths("l"), manyLongs, ErrTruncated},
		{"empty", paths("price"), nil, ErrTruncated},
		{"short header", paths("price"), []byte{0, 0, 1}, ErrTruncated},
		{"unknown id", paths("price"), []byte{0, 0, 0, 0, 19, 2}, ErrUnknownSchema},
		// an int is 32 bits in five bytes at most (fuzz: hamba/avro refused
		// a six-byte one this decoder read as a long)
		{"int in six bytes", paths("e"), []byte{0, 0, 0, 0, 9, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0}, ErrCorrupt},
		{"int over 32 bits wanted", paths("i"), []byte{0, 0, 0, 0, 9, 0x80, 0x80, 0x80, 0x80, 0x7f, 0}, ErrCorrupt},
		{"enum index in six bytes", paths("i"), []byte{0, 0, 0, 0, 9, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, ErrCorrupt},
		{"cut payload", paths("price"), good[:len(good)-3], ErrTruncated},
		{"trailing bytes", paths("price"), append(append([]byte(nil), good...), 0), ErrCorrupt},
		{"huge length", paths("price"), huge, ErrTruncated},
		{"missing field", paths("nope"), good, ErrMissingField},
		{"path into a scalar", paths("price.x"), good, ErrMissingField},
		{"protobuf schema", paths("x"), []byte{0, 0, 0, 0, 5}, ErrSchema},
		{"bad schema", paths("x"), []byte{0, 0, 0, 0, 6}, ErrSchema},
		{"not a record", paths("x"), []byte{0, 0, 0, 0, 7, 2}, ErrSchema},
	} {
		d := NewAvro(c, tc.paths)
		out := make([]value.Value, len(tc.paths))
		var err error
		allocs := testing.AllocsPerRun(1, func() { err = d.Decode(tc.rec, out) })
		if !errors.Is(err, tc.want) || Fatal(err) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
		if strings.HasPrefix(tc.name, "huge") && allocs > 10 {
			t.Errorf("huge length: %v allocations", allocs)
		}
	}
}

// TestAvroRecursive reads a linked list: the schema refers to itself.
func TestAvroRecursive(t *testing.T) {
	list := `{"type":"record","name":"Node","fields":[{"name":"v","type":"long"},{"name":"next","type":["null","Node"]}]}`
	rec := frameAvro(t, 1, list, map[string]any{"v": int64(1), "next": map[string]any{"Node": map[string]any{"v": int64(2), "next": nil}}})
	d := NewAvro(cacheOf(t, map[int]sr.Schema{1: {Schema: list}}), paths("next.v", "next.next.v", "next"))
	out := make([]value.Value, 3)
	if err := d.Decode(rec, out); err != nil {
		t.Fatal(err)
	}
	if out[0] != value.OfInt(2) || !out[1].IsNull() || out[2] != value.OfJSON(`{"v":2,"next":null}`) {
		t.Errorf("got %#v", out)
	}
}

// TestAvroReferences resolves a named type from another subject.
func TestAvroReferences(t *testing.T) {
	addr := `{"type":"record","name":"Addr","namespace":"x","fields":[{"name":"city","type":"string"}]}`
	main := `{"type":"record","name":"P","namespace":"x","fields":[{"name":"home","type":"x.Addr"}]}`
	full := `{"type":"record","name":"P","namespace":"x","fields":[{"name":"home","type":` + addr + `}]}`
	reg := &Static{
		IDs:      map[int]sr.Schema{2: {Schema: main, References: []sr.SchemaReference{{Name: "x.Addr", Subject: "addr", Version: 1}}}},
		Subjects: map[string]map[int]sr.SubjectSchema{"addr": {1: {Subject: "addr", Version: 1, ID: 1, Schema: sr.Schema{Schema: addr}}}},
	}
	d := NewAvro(NewCache(t.Context(), reg, CacheOptions{}), paths("home.city"))
	out := make([]value.Value, 1)
	if err := d.Decode(frameAvro(t, 2, full, map[string]any{"home": map[string]any{"city": "Oslo"}}), out); err != nil || out[0] != value.OfString("Oslo") {
		t.Errorf("got %v, %v", out[0], err)
	}
}
