package sink

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/eddyhq/eddy/value"
)

func newRegistry(t *testing.T) (*srfake.Registry, *sr.Client) {
	t.Helper()
	reg := srfake.New()
	t.Cleanup(reg.Close)
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	return reg, cl
}

// decodeAvro reads a framed record with the schema the registry holds
// for its id, through hamba/avro (not eddy's decoder), as JSON.
func decodeAvro(t *testing.T, cl *sr.Client, b []byte) (string, int) {
	t.Helper()
	if len(b) < 5 || b[0] != 0 {
		t.Fatalf("not framed: % x", b)
	}
	id := int(binary.BigEndian.Uint32(b[1:5]))
	s, err := cl.SchemaByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := avro.Unmarshal(avro.MustParse(s.Schema), b[5:], &v); err != nil {
		t.Fatalf("hamba/avro: %v (schema %s)", err, s.Schema)
	}
	for k, x := range v {
		if tm, ok := x.(time.Time); ok {
			v[k] = tm.UTC().Format(time.RFC3339Nano)
		}
	}
	j, _ := json.Marshal(v)
	return string(j), id
}

// TestAvroRows: the schema follows the rows' types (a union with null per
// field), registered under the subject once per version; a new field or
// type registers the next version; an int goes into a double branch, a
// time is timestamp-millis; hamba/avro reads each record with its
// writer's schema from the registry.
func TestAvroRows(t *testing.T) {
	reg, cl := newRegistry(t)
	a := NewAvroRows(cl, "out-value", "out.bids")
	names := []string{"auction", "n", "top", "window_end", "ok", "ch"}
	at := time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC).UnixMilli()
	rows := [][]value.Value{
		{value.OfInt(7), value.OfInt(3), value.OfFloat(4.5), value.OfTime(at), value.OfBool(true), value.OfString("web")},
		{value.OfInt(8), value.OfInt(1), value.OfInt(9), value.OfTime(at), value.OfBool(false), {}},
		{value.OfInt(9), value.OfFloat(2.5), value.OfFloat(1), value.OfTime(at), value.OfBool(true), value.OfJSON(`{"a":1}`)},
	}
	want := []string{
		`{"auction":7,"ch":"web","n":3,"ok":true,"top":4.5,"window_end":"2026-01-01T00:00:10Z"}`,
		`{"auction":8,"ch":null,"n":1,"ok":false,"top":9,"window_end":"2026-01-01T00:00:10Z"}`,
		`{"auction":9,"ch":"{\"a\":1}","n":2.5,"ok":true,"top":1,"window_end":"2026-01-01T00:00:10Z"}`,
	}
	var ids []int
	for i, vals := range rows {
		b, err := a.Encode(&Row{Names: names, Vals: vals})
		if err != nil {
			t.Fatal(err)
		}
		got, id := decodeAvro(t, cl, b)
		if got != want[i] {
			t.Errorf("row %d:\n got %s\nwant %s", i, got, want[i])
		}
		ids = append(ids, id)
	}
	// rows 0 and 1 share a schema; row 2's float n adds a double branch
	if ids[0] != ids[1] || ids[2] == ids[1] {
		t.Errorf("schema ids %v", ids)
	}
	text, _ := a.Schema()
	for _, s := range []string{`{"name":"n","type":["null","long","double"],"default":null}`,
		`{"name":"window_end","type":["null",{"logicalType":"timestamp-millis","type":"long"}],"default":null}`,
		`"name":"out_bids"`} {
		if !strings.Contains(text, s) {
			t.Errorf("schema %s lacks %s", text, s)
		}
	}
	if v, ok := reg.GetSchema("out-value", 2); !ok || v.ID != ids[2] {
		t.Errorf("subject out-value version 2: %+v %v", v, ok)
	}
	// a new field: a new version, the old fields null in it
	b, err := a.Encode(&Row{Names: []string{"auction", "extra"}, Vals: []value.Value{value.OfInt(1), value.OfString("x")}})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := decodeAvro(t, cl, b); got != `{"auction":1,"ch":null,"extra":"x","n":null,"ok":null,"top":null,"window_end":null}` {
		t.Errorf("new field: %s", got)
	}

	for _, tc := range []struct {
		row  Row
		want string
	}{
		{Row{JSON: []byte(`{"a":1}`), Vals: []value.Value{}}, "the rows have no named fields"},
		{Row{Names: []string{"a-b"}, Vals: []value.Value{value.OfInt(1)}}, `field name "a-b" is not an Avro name`},
	} {
		if _, err := NewAvroRows(cl, "x-value", "x").Encode(&tc.row); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err = %v, want %q", err, tc.want)
		}
	}
}

// TestAvroRowsRefused: a registry's 409 (incompatible) fails the write
// with the registry's reason and the subject.
func TestAvroRowsRefused(t *testing.T) {
	reg, cl := newRegistry(t)
	reg.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/subjects/") {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusConflict)
		_, _ = w.Write([]byte(`{"error_code":409,"message":"Schema being registered is incompatible with an earlier schema: field n changed type"}`))
		return true
	})
	_, err := NewAvroRows(cl, "out-value", "out").Encode(&Row{Names: []string{"n"}, Vals: []value.Value{value.OfInt(1)}})
	if err == nil || !strings.Contains(err.Error(), "the schema registry refuses the schema for subject out-value (HTTP 409") ||
		!strings.Contains(err.Error(), "field n changed type") {
		t.Fatalf("err = %v", err)
	}
}

// TestKafkaAvroSink: a Kafka sink WithAvro produces framed Avro values,
// keyed as a JSON sink's, that hamba/avro reads back to the row.
func TestKafkaAvroSink(t *testing.T) {
	_, rcl := newRegistry(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("out"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	k := NewKafka(cl, "out", false).WithAvro(NewAvroRows(rcl, "out-value", "out"))
	if err := k.Write(&Row{Names: []string{"user", "n"}, Vals: []value.Value{value.OfString("ada"), value.OfInt(2)},
		JSON: []byte(`{"user":"ada","n":2}`), Key: []byte("ada")}); err != nil {
		t.Fatal(err)
	}
	if err := k.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fs := cl.PollFetches(ctx)
	if err := fs.Err(); err != nil {
		t.Fatal(err)
	}
	recs := fs.Records()
	if len(recs) != 1 || string(recs[0].Key) != "ada" {
		t.Fatalf("records %v", recs)
	}
	if got, _ := decodeAvro(t, rcl, recs[0].Value); got != `{"n":2,"user":"ada"}` {
		t.Errorf("value %s", got)
	}
}
