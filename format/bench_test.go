package format

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/eddyhq/eddy/decode"
	"github.com/eddyhq/eddy/fixtures"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/value"
)

const benchCount = 100_000

// benchSpec is the pipeline of the JSON benchmark (engine/bench_test.go):
// count and max(price) per auction in tumbling 10 s windows.
const benchSpec = `name: bids-per-auction
time: {field: dateTime}
stages:
  - window:
      tumbling: 10s
      key: [auction]
      aggregate:
        n: count()
        max_price: max(price)
`

type benchBid struct {
	Auction  int64  `json:"auction"`
	Bidder   int64  `json:"bidder"`
	Price    int64  `json:"price"`
	Channel  string `json:"channel"`
	URL      string `json:"url"`
	DateTime string `json:"dateTime"`
	Extra    string `json:"extra"`
}

// benchData is the nexmark bids as JSON lines, Avro records and Protobuf
// records, the same bids in each.
type benchData struct {
	json, avro, proto [][]byte
}

var benchOnce = sync.OnceValues(func() (*benchData, error) {
	var buf bytes.Buffer
	if err := fixtures.Generate(&buf, "nexmark", fixtures.Options{Count: benchCount, Seed: 1, Only: "bids"}); err != nil {
		return nil, err
	}
	as := avro.MustParse(bidAvro)
	fd, err := compileProto(NewCache(context.Background(), &Static{}, CacheOptions{}), 4, sr.Schema{Schema: testProto, Type: sr.TypeProtobuf})
	if err != nil {
		return nil, err
	}
	md := fd.Messages().Get(1)
	fields := md.Fields()
	d := &benchData{}
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		line := append([]byte(nil), sc.Bytes()...)
		var b benchBid
		if err := json.Unmarshal(line, &b); err != nil {
			return nil, err
		}
		ts, err := time.Parse(time.RFC3339Nano, b.DateTime)
		if err != nil {
			return nil, err
		}
		payload, err := avro.Marshal(as, map[string]any{"auction": b.Auction, "bidder": b.Bidder, "price": b.Price,
			"channel": b.Channel, "url": b.URL, "dateTime": ts, "extra": b.Extra})
		if err != nil {
			return nil, err
		}
		d.json = append(d.json, line)
		d.avro = append(d.avro, append([]byte{0, 0, 0, 0, 1}, payload...))

		m := dynamicpb.NewMessage(md)
		m.Set(fields.ByName("auction"), protoreflect.ValueOfInt64(b.Auction))
		m.Set(fields.ByName("bidder"), protoreflect.ValueOfInt64(b.Bidder))
		m.Set(fields.ByName("price"), protoreflect.ValueOfInt64(b.Price))
		m.Set(fields.ByName("channel"), protoreflect.ValueOfString(b.Channel))
		m.Set(fields.ByName("url"), protoreflect.ValueOfString(b.URL))
		tm := dynamicpb.NewMessage(fields.ByName("date_time").Message())
		tpb := timestamppb.New(ts)
		tm.Set(tm.Descriptor().Fields().ByName("seconds"), protoreflect.ValueOfInt64(tpb.Seconds))
		tm.Set(tm.Descriptor().Fields().ByName("nanos"), protoreflect.ValueOfInt32(tpb.Nanos))
		m.Set(fields.ByName("date_time"), protoreflect.ValueOfMessage(tm))
		pb, err := proto.Marshal(m)
		if err != nil {
			return nil, err
		}
		d.proto = append(d.proto, append([]byte{0, 0, 0, 0, 4, 2, 2}, pb...)) // message index [1]: Bid
	}
	return d, sc.Err()
})

func benchPlan(b *testing.B) *pipeline.Plan {
	p, err := pipeline.Parse("bench.yaml", []byte(benchSpec))
	if err != nil {
		b.Fatal(err)
	}
	plan, err := pipeline.Compile(p)
	if err != nil {
		b.Fatal(err)
	}
	return plan
}

type slotDecoder interface {
	Decode(b []byte, out []value.Value) error
}

// benchDecode decodes every record into the plan's input slots and checks
// the event time on the way, as the engine does.
func benchDecode(b *testing.B, recs [][]byte, plan *pipeline.Plan, dec slotDecoder) {
	row := make([]value.Value, plan.Slots)
	var n int64
	for b.Loop() {
		for _, r := range recs {
			if err := dec.Decode(r, row[:len(plan.Input)]); err != nil {
				b.Fatal(err)
			}
			if _, err := pipeline.EventTime(row[plan.TimeSlot]); err != nil {
				b.Fatal(err)
			}
		}
		n += int64(len(recs))
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}

func benchRecords(b *testing.B) *benchData {
	d, err := benchOnce()
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// BenchmarkAvroBids decodes nexmark bids written in Avro into the slots
// of the tumbling benchmark pipeline (auction, price, dateTime).
func BenchmarkAvroBids(b *testing.B) {
	d, plan := benchRecords(b), benchPlan(b)
	c := cacheOf(b, map[int]sr.Schema{1: {Schema: bidAvro}})
	benchDecode(b, d.avro, plan, NewAvro(c, plan.Input).WithTime(plan.TimeSlot))
}

// BenchmarkProtobufBids is BenchmarkAvroBids for Protobuf bids.
func BenchmarkProtobufBids(b *testing.B) {
	d, plan := benchRecords(b), benchPlan(b)
	benchDecode(b, d.proto, plan, NewProtobuf(protoCache(b), plan.Input).WithTime(plan.TimeSlot))
}

// BenchmarkJSONBids is the same bids as JSON lines through decode.Plan,
// for comparison.
func BenchmarkJSONBids(b *testing.B) {
	d, plan := benchRecords(b), benchPlan(b)
	dp := decode.NewPlan(plan.Input).WithTime(plan.TimeSlot)
	benchDecode(b, d.json, plan, jsonDecoder{dp})
}

// BenchmarkDynamicpbBids is what decoding every bid with dynamicpb costs,
// the reference the Protobuf fast path is measured against.
func BenchmarkDynamicpbBids(b *testing.B) {
	d := benchRecords(b)
	fd, err := compileProto(cacheOf(b, nil), 4, sr.Schema{Schema: testProto, Type: sr.TypeProtobuf})
	if err != nil {
		b.Fatal(err)
	}
	md := fd.Messages().Get(1)
	var n int64
	for b.Loop() {
		for _, r := range d.proto {
			m := dynamicpb.NewMessage(md)
			if err := proto.Unmarshal(r[7:], m); err != nil {
				b.Fatal(err)
			}
		}
		n += int64(len(d.proto))
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}

type jsonDecoder struct{ p *decode.Plan }

func (j jsonDecoder) Decode(b []byte, out []value.Value) error { return j.p.Decode(b, out, nil) }
