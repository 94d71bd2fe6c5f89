package format

import (
	"encoding/base64"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/eddyhq/eddy/value"
)

const testProto = `syntax = "proto3";
package test;
import "google/protobuf/timestamp.proto";
import "google/protobuf/duration.proto";
import "google/protobuf/wrappers.proto";

message Other { string x = 1; }

message Bid {
  int64 auction = 1;
  int64 bidder = 2;
  int64 price = 3;
  string channel = 4;
  string url = 5;
  google.protobuf.Timestamp date_time = 6;
  string extra = 7;
}

message Rich {
  message Inner { string name = 1; int32 n = 2; }
  enum Color { RED = 0; GREEN = 1; }
  int32 id = 1;
  Inner inner = 2;
  Color color = 3;
  repeated string tags = 4;
  map<string, int64> attrs = 5;
  google.protobuf.Duration took = 6;
  google.protobuf.Int64Value maybe = 7;
  google.protobuf.StringValue none = 8;
  repeated int32 nums = 9;
  bytes raw = 10;
  uint64 big = 11;
  double score = 12;
  bool ok = 13;
  map<string, Inner> byname = 14;
  optional int64 opt = 15;
  sint64 neg = 16;
  string when = 17;
}
`

// protoRecord encodes the message at index of schema from its protojson
// text and frames it with id and the indexes.
func protoRecord(t testing.TB, id int, schema string, index []int, js string) []byte {
	t.Helper()
	fd, err := compileProto(cacheOf(t, nil), id, sr.Schema{Schema: schema, Type: sr.TypeProtobuf})
	if err != nil {
		t.Fatal(err)
	}
	md, err := messageAt(fd, index, id)
	if err != nil {
		t.Fatal(err)
	}
	m := dynamicpb.NewMessage(md)
	if err := protojson.Unmarshal([]byte(js), m); err != nil {
		t.Fatal(err)
	}
	payload, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var h sr.ConfluentHeader
	b, _ := h.AppendEncode(nil, id, index)
	return append(b, payload...)
}

func protoCache(t testing.TB) *Cache {
	return cacheOf(t, map[int]sr.Schema{4: {Schema: testProto, Type: sr.TypeProtobuf}})
}

const richJSON = `{"id":7,"inner":{"name":"Ada","n":3},"color":"GREEN","tags":["a","b"],"attrs":{"x":"1","y":"2"},
 "took":"1.5s","maybe":"12","nums":[1,2,3],"raw":"/2E=","big":"18446744073709551615","score":2.25,"ok":true,
 "byname":{"k":{"name":"Bo"}},"neg":"-5","when":"2026-01-01T00:00:10Z"}`

func TestProtobufTypes(t *testing.T) {
	rec := protoRecord(t, 4, testProto, []int{2}, richJSON)
	c := protoCache(t)
	for _, tc := range []struct {
		path string
		want value.Value
	}{
		{"id", value.OfInt(7)},
		{"inner.name", value.OfString("Ada")},
		{"inner.n", value.OfInt(3)},
		{"inner", value.OfJSON(`{"name":"Ada","n":3}`)},
		{"color", value.OfString("GREEN")},
		{"tags", value.OfJSON(`["a","b"]`)},
		{"attrs", value.OfJSON(`{"x":1,"y":2}`)},
		{"attrs.x", value.OfInt(1)},
		{"attrs.zz", value.Value{}},
		{"took", value.OfInt(1500)},
		{"maybe", value.OfInt(12)},
		{"none", value.Value{}},
		{"nums", value.OfJSON(`[1,2,3]`)},
		{"raw", value.OfString("\xffa")},
		{"big", value.OfFloat(18446744073709551615)},
		{"score", value.OfFloat(2.25)},
		{"ok", value.OfBool(true)},
		{"byname.k.name", value.OfString("Bo")},
		{"byname.k", value.OfJSON(`{"name":"Bo","n":0}`)}, // proto3: an unset scalar is its default
		{"byname", value.OfJSON(`{"k":{"name":"Bo","n":0}}`)},
		{"opt", value.Value{}},
		{"neg", value.OfInt(-5)},
		{"when", value.OfString("2026-01-01T00:00:10Z")},
	} {
		d := NewProtobuf(c, paths(tc.path))
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

// TestProtobufDefaults: proto3 fields without presence read as their zero
// value when absent; fields with presence (messages, optional) as null.
func TestProtobufDefaults(t *testing.T) {
	rec := protoRecord(t, 4, testProto, []int{2}, `{}`)
	d := NewProtobuf(protoCache(t), paths("id", "color", "when", "ok", "inner.name", "opt", "maybe", "tags", "attrs"))
	out := make([]value.Value, 9)
	if err := d.Decode(rec, out); err != nil {
		t.Fatal(err)
	}
	want := []value.Value{value.OfInt(0), value.OfString("RED"), value.OfString(""), value.OfBool(false),
		{}, {}, {}, value.OfJSON(`[]`), value.OfJSON(`{}`)}
	for i := range want {
		if out[i] != want[i] {
			t.Errorf("slot %d = %#v, want %#v", i, out[i], want[i])
		}
	}
}

func TestProtobufBid(t *testing.T) {
	rec := protoRecord(t, 4, testProto, []int{1}, `{"auction":"1007","bidder":"2001","price":"4521","channel":"Google","url":"https://x","dateTime":"2026-01-01T00:00:10.250Z"}`)
	d := NewProtobuf(protoCache(t), paths("auction", "price", "dateTime")).WithTime(2)
	out := make([]value.Value, 3)
	if err := d.Decode(rec, out); err != nil {
		t.Fatal(err)
	}
	if out[0] != value.OfInt(1007) || out[1] != value.OfInt(4521) || out[2] != value.OfTime(1767225610250) {
		t.Errorf("got %v", out)
	}
	if n := testing.AllocsPerRun(100, func() { _ = d.Decode(rec, out) }); n != 0 {
		t.Errorf("%v allocations per bid", n)
	}
}

// TestProtobufIndexes: the message indexes select the message; one decoder
// reads records of several messages and schemas.
func TestProtobufIndexes(t *testing.T) {
	c := protoCache(t)
	d := NewProtobuf(c, paths("name"))
	out := make([]value.Value, 1)
	inner := protoRecord(t, 4, testProto, []int{2, 0}, `{"name":"nested"}`)
	if err := d.Decode(inner, out); err != nil || out[0] != value.OfString("nested") {
		t.Errorf("Rich.Inner: %v, %v", out[0], err)
	}
	// Other (index 0, written with the [0] shorthand) has no field name
	other := protoRecord(t, 4, testProto, []int{0}, `{"x":"y"}`)
	if err := d.Decode(other, out); !errors.Is(err, ErrMissingField) {
		t.Errorf("Other: err = %v", err)
	}
	bad := append([]byte{0, 0, 0, 0, 4, 2, 18}, 0) // index [9]
	if err := d.Decode(bad, out); !errors.Is(err, ErrUnknownSchema) {
		t.Errorf("index 9: err = %v", err)
	}
}

func TestProtobufErrors(t *testing.T) {
	good := protoRecord(t, 4, testProto, []int{1}, `{"auction":"1","url":"abc"}`)
	c := cacheOf(t, map[int]sr.Schema{4: {Schema: testProto, Type: sr.TypeProtobuf}, 5: {Schema: `syntax = "proto3"; message X { nope y = 1; }`, Type: sr.TypeProtobuf}, 6: {Schema: bidAvro}})
	badUTF8 := append([]byte{0, 0, 0, 0, 4, 2, 2}, 0x2a, 1, 0xff)
	// a length of 2^62 for the url with a few bytes left
	huge := append([]byte{0, 0, 0, 0, 4, 2, 2}, 0x2a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40)
	for _, tc := range []struct {
		name  string
		paths [][]string
		rec   []byte
		want  error
	}{
		{"plain JSON", paths("price"), []byte(`{"price":1}`), ErrMagic},
		{"no indexes", paths("price"), []byte{0, 0, 0, 0, 4}, ErrTruncated},
		{"unknown id", paths("price"), []byte{0, 0, 0, 0, 9, 0}, ErrUnknownSchema},
		{"cut payload", paths("price"), good[:len(good)-1], ErrTruncated},
		{"huge length", paths("url"), huge, ErrTruncated},
		{"invalid UTF-8", paths("price"), badUTF8, ErrCorrupt},
		{"missing field", paths("nope"), good, ErrMissingField},
		{"path into a scalar", paths("price.x"), good, ErrMissingField},
		{"bad schema", paths("x"), []byte{0, 0, 0, 0, 5, 0}, ErrSchema},
		{"avro schema", paths("x"), []byte{0, 0, 0, 0, 6, 0}, ErrSchema},
	} {
		d := NewProtobuf(c, tc.paths)
		out := make([]value.Value, len(tc.paths))
		var err error
		allocs := testing.AllocsPerRun(1, func() { err = d.Decode(tc.rec, out) })
		if !errors.Is(err, tc.want) || Fatal(err) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
		if tc.name == "huge length" && allocs > 10 {
			t.Errorf("huge length: %v allocations", allocs)
		}
	}
}

func TestProtobufReferences(t *testing.T) {
	dep := `syntax = "proto3"; package dep; message Addr { string city = 1; }`
	main := `syntax = "proto3"; package m; import "dep/addr.proto"; message P { dep.Addr home = 1; }`
	reg := &Static{
		IDs:      map[int]sr.Schema{2: {Schema: main, Type: sr.TypeProtobuf, References: []sr.SchemaReference{{Name: "dep/addr.proto", Subject: "addr", Version: 1}}}},
		Subjects: map[string]map[int]sr.SubjectSchema{"addr": {1: {Subject: "addr", Version: 1, ID: 1, Schema: sr.Schema{Schema: dep, Type: sr.TypeProtobuf}}}},
	}
	c := NewCache(t.Context(), reg, CacheOptions{})
	fd, err := compileProto(c, 2, reg.IDs[2])
	if err != nil {
		t.Fatal(err)
	}
	m := dynamicpb.NewMessage(fd.Messages().Get(0))
	addr := dynamicpb.NewMessage(fd.Messages().Get(0).Fields().Get(0).Message())
	addr.Set(addr.Descriptor().Fields().Get(0), protoreflect.ValueOfString("Oslo"))
	m.Set(fd.Messages().Get(0).Fields().Get(0), protoreflect.ValueOfMessage(addr))
	payload, _ := proto.Marshal(m)
	rec := append([]byte{0, 0, 0, 0, 2, 0}, payload...)
	d := NewProtobuf(c, paths("home.city"))
	out := make([]value.Value, 1)
	if err := d.Decode(rec, out); err != nil || out[0] != value.OfString("Oslo") {
		t.Errorf("got %v, %v", out[0], err)
	}
}

// TestProtobufWellKnownFields reads a Timestamp as a time and its fields.
func TestProtobufWellKnownFields(t *testing.T) {
	rec := protoRecord(t, 4, testProto, []int{1}, `{"dateTime":"2026-01-01T00:00:10.250Z"}`)
	d := NewProtobuf(protoCache(t), paths("dateTime", "dateTime.seconds", "dateTime.nanos"))
	out := make([]value.Value, 3)
	if err := d.Decode(rec, out); err != nil {
		t.Fatal(err)
	}
	if out[0] != value.OfTime(1767225610250) || out[1] != value.OfInt(1767225610) || out[2] != value.OfInt(250_000_000) {
		t.Errorf("got %v", out)
	}
	// one field by two names cannot fill two slots
	d = NewProtobuf(protoCache(t), paths("dateTime", "date_time"))
	if err := d.Decode(rec, out[:2]); !errors.Is(err, ErrSchema) {
		t.Errorf("two names: err = %v", err)
	}
}

// encodeDescriptor is schema as Python's ProtobufSerializer registers it:
// the base64 of its FileDescriptorProto.
func encodeDescriptor(t *testing.T, id int, schema sr.Schema, c *Cache) string {
	t.Helper()
	fd, err := compileProto(c, id, schema)
	if err != nil {
		t.Fatal(err)
	}
	b, err := proto.Marshal(protodesc.ToFileDescriptorProto(fd))
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// TestProtobufEncodedDescriptor: a schema registered as a base64
// FileDescriptorProto (Python) decodes as its .proto text does (Java), and
// so do references registered either way.
func TestProtobufEncodedDescriptor(t *testing.T) {
	enc := encodeDescriptor(t, 4, sr.Schema{Schema: testProto, Type: sr.TypeProtobuf}, cacheOf(t, nil))
	c := cacheOf(t, map[int]sr.Schema{4: {Schema: enc, Type: sr.TypeProtobuf}})
	rec := protoRecord(t, 4, testProto, []int{1}, `{"auction":"1007","price":"4521","dateTime":"2026-01-01T00:00:10.250Z"}`)
	d := NewProtobuf(c, paths("auction", "price", "dateTime")).WithTime(2)
	out := make([]value.Value, 3)
	if err := d.Decode(rec, out); err != nil {
		t.Fatal(err)
	}
	if out[0] != value.OfInt(1007) || out[1] != value.OfInt(4521) || out[2] != value.OfTime(1767225610250) {
		t.Errorf("got %v", out)
	}

	dep := `syntax = "proto3"; package dep; message Addr { string city = 1; }`
	main := `syntax = "proto3"; package m; import "dep/addr.proto"; message P { dep.Addr home = 1; }`
	for _, encodeDep := range []bool{false, true} {
		depText := dep
		if encodeDep {
			depText = encodeDescriptor(t, 1, sr.Schema{Schema: dep, Type: sr.TypeProtobuf}, cacheOf(t, nil))
		}
		reg := &Static{
			IDs:      map[int]sr.Schema{2: {Schema: main, Type: sr.TypeProtobuf, References: []sr.SchemaReference{{Name: "dep/addr.proto", Subject: "addr", Version: 1}}}},
			Subjects: map[string]map[int]sr.SubjectSchema{"addr": {1: {Subject: "addr", Version: 1, ID: 1, Schema: sr.Schema{Schema: depText, Type: sr.TypeProtobuf}}}},
		}
		textC := NewCache(t.Context(), reg, CacheOptions{})
		mainEnc := encodeDescriptor(t, 2, reg.IDs[2], textC)
		reg.IDs[2] = sr.Schema{Schema: mainEnc, Type: sr.TypeProtobuf, References: reg.IDs[2].References}
		fd, err := compileProto(NewCache(t.Context(), reg, CacheOptions{}), 2, reg.IDs[2])
		if err != nil {
			t.Fatalf("encoded dependency %v: %v", encodeDep, err)
		}
		if got := fd.Messages().Get(0).Fields().Get(0).Message().FullName(); got != "dep.Addr" {
			t.Errorf("encoded dependency %v: home is %s", encodeDep, got)
		}
	}

	for _, s := range []string{"", "not base64!", `syntax = "proto3";`, "syntax=\"proto3\";message\tA{}"} {
		if encodedDescriptor(s) != nil {
			t.Errorf("%q taken for a descriptor", s)
		}
	}
}
