package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eddyhq/eddy/format"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
)

const nexmarkAvro = `{"type":"record","name":"Bid","namespace":"eddy.nexmark","fields":[
 {"name":"auction","type":"long"},{"name":"bidder","type":"long"},{"name":"price","type":"long"},
 {"name":"channel","type":"string"},{"name":"url","type":"string"},
 {"name":"dateTime","type":{"type":"long","logicalType":"timestamp-millis"}},{"name":"extra","type":"string"}]}`

// avroBids are the benchmark bids as Confluent-framed Avro (schema id 1).
func avroBids(b *testing.B) []source.Record {
	s := avro.MustParse(nexmarkAvro)
	var recs []source.Record
	for i, line := range bytes.Split(bytes.TrimSpace(bids(b)), []byte("\n")) {
		var bid struct {
			Auction, Bidder, Price int64
			Channel, URL, Extra    string
			DateTime               time.Time
		}
		if err := json.Unmarshal(line, &bid); err != nil {
			b.Fatal(err)
		}
		payload, err := avro.Marshal(s, map[string]any{"auction": bid.Auction, "bidder": bid.Bidder, "price": bid.Price,
			"channel": bid.Channel, "url": bid.URL, "dateTime": bid.DateTime, "extra": bid.Extra})
		if err != nil {
			b.Fatal(err)
		}
		v := binary.BigEndian.AppendUint32([]byte{0}, 1)
		recs = append(recs, source.Record{Topic: "bids", Offset: int64(i), Value: append(v, payload...)})
	}
	return recs
}

// BenchmarkNexmarkTumblingAvro is BenchmarkNexmarkTumbling's pipeline over
// the same bids as Avro records (format: avro), handed to the engine in
// batches of 1024 as the Kafka source does (no line splitting).
func BenchmarkNexmarkTumblingAvro(b *testing.B) {
	recs := avroBids(b)
	plan := compileBench(b, "source: {kafka: {topic: bids}}\nformat: avro\n"+nexmarkSpec)
	reg := &format.Static{IDs: map[int]sr.Schema{1: {Schema: nexmarkAvro, Type: sr.TypeAvro}}}
	var rows int64
	b.ReportAllocs()
	for b.Loop() {
		cache := format.NewCache(context.Background(), reg, format.CacheOptions{})
		e, err := New(plan, Options{Sinks: []sink.Sink{sink.NewJSONL("discard", io.Discard, nil)}, Schemas: cache})
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < len(recs); i += 1024 {
			if err := e.Process(recs[i:min(i+1024, len(recs))]); err != nil {
				b.Fatal(err)
			}
		}
		if err := e.Finish(); err != nil {
			b.Fatal(err)
		}
		st := e.Stats()
		if st.Passed != benchBids {
			b.Fatalf("stats %s", st)
		}
		rows = st.Rows
	}
	b.ReportMetric(float64(benchBids)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(rows), "rows")
}
