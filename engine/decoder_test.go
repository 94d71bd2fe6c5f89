package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eddyhq/eddy/format"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
)

const bidSchema = `{"type":"record","name":"Bid","fields":[{"name":"auction","type":"long"},{"name":"price","type":"long"}]}`

func framedAvro(t *testing.T, id int, v any) []byte {
	t.Helper()
	payload, err := avro.Marshal(avro.MustParse(bidSchema), v)
	if err != nil {
		t.Fatal(err)
	}
	b := []byte{0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(id))
	return append(b, payload...)
}

// downRegistry answers every request with a server error.
type downRegistry struct{}

func (downRegistry) SchemaByID(context.Context, int) (sr.Schema, error) {
	return sr.Schema{}, &sr.ResponseError{StatusCode: 503, Message: "unavailable"}
}
func (downRegistry) SchemaByVersion(context.Context, string, int) (sr.SubjectSchema, error) {
	return sr.SubjectSchema{}, &sr.ResponseError{StatusCode: 503, Message: "unavailable"}
}

const avroSpec = "source: {kafka: {topic: bids}}\nformat: avro\nstages:\n  - filter: price > 10\n  - project: {auction: auction, price: price}\n"

func TestAvroFormat(t *testing.T) {
	reg := &format.Static{IDs: map[int]sr.Schema{1: {Schema: bidSchema, Type: sr.TypeAvro}}}
	cache := format.NewCache(context.Background(), reg, format.CacheOptions{})
	out, dead := &collect{}, &deadList{}
	e, err := New(compileSpec(t, avroSpec), Options{Sinks: []sink.Sink{out}, Dead: dead, Schemas: cache})
	if err != nil {
		t.Fatal(err)
	}
	recs := []source.Record{
		{Value: framedAvro(t, 1, map[string]any{"auction": int64(7), "price": int64(12)}), Offset: 1},
		{Value: framedAvro(t, 1, map[string]any{"auction": int64(8), "price": int64(3)}), Offset: 2},
		{Value: framedAvro(t, 9, map[string]any{"auction": int64(9), "price": int64(30)}), Offset: 3},
		{Value: []byte(`{"auction":1,"price":99}`), Offset: 4},
	}
	if err := e.Process(recs); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(out.rows, "\n"), `{"auction":7,"price":12}`; got != want {
		t.Errorf("rows:\n got %s\nwant %s", got, want)
	}
	var reasons []string
	for _, d := range dead.lines {
		reasons = append(reasons, d["error"].(string))
	}
	if len(reasons) != 2 || !strings.Contains(reasons[0], "unknown schema id") || !strings.Contains(reasons[1], "wrong magic byte") {
		t.Errorf("dead letters: %q", reasons)
	}
}

func TestRegistryDownStopsTheRun(t *testing.T) {
	cache := format.NewCache(context.Background(), downRegistry{}, format.CacheOptions{Attempts: 1})
	dead := &deadList{}
	e, err := New(compileSpec(t, avroSpec), Options{Sinks: []sink.Sink{&collect{}}, Dead: dead, Schemas: cache})
	if err != nil {
		t.Fatal(err)
	}
	err = e.Process([]source.Record{{Value: framedAvro(t, 1, map[string]any{"auction": int64(7), "price": int64(12)})}})
	if !errors.Is(err, format.ErrRegistry) {
		t.Fatalf("err = %v, want the registry error", err)
	}
	if len(dead.lines) != 0 {
		t.Errorf("a registry outage made dead letters: %v", dead.lines)
	}
	if st := e.Stats(); st.In != 0 || st.Dead != 0 {
		t.Errorf("stats %s: the record stopped at is not counted", st)
	}
}

func TestFormatNeedsRegistryAndSelect(t *testing.T) {
	for _, tc := range []struct{ spec, want string }{
		{"source: {kafka: {topic: t}}\nformat: protobuf\n", "format protobuf needs a schema registry"},
		{"source: {kafka: {topic: t}}\nformat: avro\n", "format avro: records cannot pass through unchanged"},
	} {
		var cache *format.Cache
		if !strings.Contains(tc.want, "registry") {
			cache = format.NewCache(context.Background(), &format.Static{}, format.CacheOptions{})
		}
		_, err := New(compileSpec(t, tc.spec), Options{Schemas: cache})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.spec, err, tc.want)
		}
	}
}

// TestRawFormat: format raw reads each value as one string field, value,
// which filters and projections use like any field; a path other than
// value and a pass-through pipeline are refused when the engine is made.
func TestRawFormat(t *testing.T) {
	spec := "source: {file: app.log}\nformat: raw\nstages:\n  - filter: value contains \"ERROR\"\n  - project: {line: value, n: len(value)}\n"
	out, dead := &collect{}, &deadList{}
	e, err := New(compileSpec(t, spec), Options{Sinks: []sink.Sink{out}, Dead: dead})
	if err != nil {
		t.Fatal(err)
	}
	recs := []source.Record{
		{Value: []byte(`12:00 INFO start`), Offset: 1},
		{Value: []byte(`12:01 ERROR disk "full"`), Offset: 2},
		{Value: []byte{'E', 'R', 'R', 'O', 'R', ' ', 0xff}, Offset: 3},
		{Value: []byte(`{"not":"parsed"} ERROR`), Offset: 4},
	}
	if err := e.Process(recs); err != nil {
		t.Fatal(err)
	}
	want := `{"line":"12:01 ERROR disk \"full\"","n":23}` + "\n" +
		`{"line":"ERROR \udcff","n":7}` + "\n" +
		`{"line":"{\"not\":\"parsed\"} ERROR","n":22}`
	if got := strings.Join(out.rows, "\n"); got != want {
		t.Errorf("rows:\n got %s\nwant %s", got, want)
	}
	if len(dead.lines) != 0 {
		t.Errorf("dead letters: %v", dead.lines)
	}
	for _, tc := range []struct{ spec, want string }{
		{"source: {file: a.log}\nformat: raw\nstages:\n  - project: {x: level}\n", "a record has one field, value (its bytes as a string), not level"},
		{"source: {file: a.log}\nformat: raw\nstages:\n  - filter: value != \"\"\n", "format raw: records pass through as they came only as JSON"},
	} {
		if _, err := New(compileSpec(t, tc.spec), Options{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.spec, err, tc.want)
		}
	}
}
