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

// recordSource hands out records in batches of 1024, as the Kafka source
// does, then io.EOF.
type recordSource struct{ recs []source.Record }

func (r *recordSource) Next(context.Context) (*source.Batch, error) {
	if len(r.recs) == 0 {
		return nil, io.EOF
	}
	n := min(1024, len(r.recs))
	b := &source.Batch{Records: r.recs[:n]}
	r.recs = r.recs[n:]
	return b, nil
}
func (r *recordSource) Release(*source.Batch) {}
func (r *recordSource) Bounded() bool         { return true }
func (r *recordSource) Close() error          { return nil }

// BenchmarkNexmarkTumblingAvro is BenchmarkNexmarkTumbling's pipeline over
// the same bids as Avro records (format: avro), in batches of 1024 as from
// Kafka (no line splitting).
func BenchmarkNexmarkTumblingAvro(b *testing.B) {
	recs := avroBids(b)
	plan := compileBench(b, "source: {kafka: {topic: bids}}\nformat: avro\n"+nexmarkSpec)
	reg := &format.Static{IDs: map[int]sr.Schema{1: {Schema: nexmarkAvro, Type: sr.TypeAvro}}}
	b.ReportAllocs()
	benchSource(b, plan, func() Options {
		return Options{Schemas: format.NewCache(context.Background(), reg, format.CacheOptions{})}
	}, func() source.Source { return &recordSource{recs} })
}
