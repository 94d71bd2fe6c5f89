package format

import (
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eddyhq/eddy/value"
)

// TestWholeRecord: an empty path wants the record itself, as one JSON
// value, beside other paths, for Avro and Protobuf (what eddy tail
// --format prints).
func TestWholeRecord(t *testing.T) {
	out := make([]value.Value, 2)
	t.Run("avro", func(t *testing.T) {
		schema := `{"type":"record","name":"R","fields":[{"name":"a","type":"long"},{"name":"s","type":["null","string"]}]}`
		rec := frameAvro(t, 3, schema, map[string]any{"a": 5, "s": "x"})
		d := NewAvro(cacheOf(t, map[int]sr.Schema{3: {Schema: schema}}), [][]string{{}, {"a"}})
		if err := d.Decode(rec, out); err != nil {
			t.Fatal(err)
		}
		if got := string(value.AppendJSON(nil, out[0])); got != `{"a":5,"s":"x"}` || out[1] != value.OfInt(5) {
			t.Errorf("whole record %s, field %v", got, out[1])
		}
	})
	t.Run("protobuf", func(t *testing.T) {
		rec := protoRecord(t, 4, testProto, []int{1}, `{"dateTime":"2026-01-01T00:00:10.250Z"}`)
		d := NewProtobuf(protoCache(t), [][]string{{}, {"dateTime"}})
		if err := d.Decode(rec, out); err != nil {
			t.Fatal(err)
		}
		if got := string(value.AppendJSON(nil, out[0])); got != `{"auction":0,"bidder":0,"price":0,"channel":"","url":"","date_time":"2026-01-01T00:00:10.250Z","extra":""}` || out[1] != value.OfTime(1767225610250) {
			t.Errorf("whole record %s, field %v", got, out[1])
		}
	})
}
