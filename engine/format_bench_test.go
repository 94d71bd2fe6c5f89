package engine

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
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

// recordSource hands out records in batches of batch records (1024 when
// 0), as the Kafka source hands out each poll's records, then io.EOF.
type recordSource struct {
	recs  []source.Record
	batch int
}

func (r *recordSource) Next(context.Context) (*source.Batch, error) {
	if len(r.recs) == 0 {
		return nil, io.EOF
	}
	n := min(cmp.Or(r.batch, 1024), len(r.recs))
	b := &source.Batch{Records: r.recs[:n]}
	r.recs = r.recs[n:]
	return b, nil
}
func (r *recordSource) Release(*source.Batch) {}
func (r *recordSource) Bounded() bool         { return true }
func (r *recordSource) Close() error          { return nil }

// BenchmarkNexmarkTumblingAvro is BenchmarkNexmarkTumbling's pipeline over
// the same bids as Avro records (format: avro), in batches as from Kafka
// (no line splitting): of 1024 records, as a live topic's polls may be,
// or of 8192 (a poll of a backlog from scripts/kafka.sh's broker held
// 56–82 k records), on one worker and on two (-cpu 2 for them to have
// two Ps).
func BenchmarkNexmarkTumblingAvro(b *testing.B) {
	recs := avroBids(b)
	plan := compileBench(b, "source: {kafka: {topic: bids}}\nformat: avro\n"+nexmarkSpec)
	reg := &format.Static{IDs: map[int]sr.Schema{1: {Schema: nexmarkAvro, Type: sr.TypeAvro}}}
	for _, batch := range []int{1024, 8192} {
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("batch=%d/workers=%d", batch, workers), func(b *testing.B) {
				b.ReportAllocs()
				benchSource(b, plan, func() Options {
					return Options{Workers: workers, Schemas: format.NewCache(context.Background(), reg, format.CacheOptions{})}
				}, func() source.Source { return &recordSource{recs: recs, batch: batch} })
			})
		}
	}
}
