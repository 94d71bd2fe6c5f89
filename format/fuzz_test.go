package format

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/eddyhq/eddy/value"
)

// reasons are the errors a record may get; anything else is a bug.
var reasons = []error{ErrMagic, ErrTruncated, ErrUnknownSchema, ErrCorrupt, ErrMissingField, ErrSchema}

func checkReason(t *testing.T, err error) {
	t.Helper()
	for _, r := range reasons {
		if errors.Is(err, r) {
			return
		}
	}
	t.Fatalf("error with no dead-letter reason: %v", err)
}

// FuzzFraming checks the framing reader against franz-go's: never a panic,
// the same id and indexes whenever both accept.
func FuzzFraming(f *testing.F) {
	var h sr.ConfluentHeader
	for _, idx := range [][]int{nil, {0}, {3, 1}, {1, 2, 3, 4}} {
		b, _ := h.AppendEncode(nil, 12345, idx)
		f.Add(append(b, 1, 2, 3))
	}
	f.Add([]byte{0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})
	f.Fuzz(func(t *testing.T, b []byte) {
		id, rest, err := SchemaID(b)
		srID, srRest, srErr := h.DecodeID(b)
		if (err == nil) != (srErr == nil) {
			t.Fatalf("SchemaID err %v, franz-go %v", err, srErr)
		}
		if err != nil {
			checkReason(t, err)
			return
		}
		if id != srID || string(rest) != string(srRest) {
			t.Fatalf("id %d rest %x, franz-go %d %x", id, rest, srID, srRest)
		}
		idx, after, err := MessageIndexes(rest, id, nil)
		if err != nil {
			checkReason(t, err)
			return
		}
		srIdx, srAfter, srErr := h.DecodeIndex(rest, len(rest))
		if srErr != nil || !slices.Equal(idx, srIdx) || string(after) != string(srAfter) {
			t.Fatalf("indexes %v %x, franz-go %v %x %v", idx, after, srIdx, srAfter, srErr)
		}
	})
}

const fuzzAvroList = `{"type":"record","name":"Node","fields":[{"name":"v","type":"long"},{"name":"next","type":["null","Node"]},
 {"name":"kids","type":{"type":"array","items":"Node"}},{"name":"m","type":{"type":"map","values":["null","double"]}}]}`

// FuzzAvro feeds hostile payloads to the Avro decoder: errors with a
// reason, never a panic; what it accepts hamba/avro reads too.
func FuzzAvro(f *testing.F) {
	f.Add(frameAvro(f, 3, richAvro, richRecord())[5:], uint8(0))
	f.Add(frameAvro(f, 1, bidAvro, map[string]any{"auction": int64(1), "bidder": int64(2), "price": int64(3), "channel": "c",
		"url": "u", "dateTime": time.UnixMilli(0).UTC(), "extra": ""})[5:], uint8(1))
	f.Add(frameAvro(f, 2, fuzzAvroList, map[string]any{"v": int64(1), "next": nil, "kids": []any{}, "m": map[string]any{"a": nil}})[5:], uint8(2))
	f.Add([]byte{0x01}, uint8(2))
	schemas := map[int]sr.Schema{0: {Schema: richAvro}, 1: {Schema: bidAvro}, 2: {Schema: fuzzAvroList}}
	parsed := map[int]avro.Schema{}
	for id, s := range schemas {
		parsed[id] = avro.MustParse(s.Schema)
	}
	wants := map[int][][]string{
		0: paths("who.address.city", "maybe", "amount", "big", "tags", "attrs.x", "who", "day", "micros", "color"),
		1: paths("auction", "price", "dateTime"),
		2: paths("v", "next.v", "next.next.kids", "m.a", "m"),
	}
	c := cacheOf(f, schemas)
	decs := map[int]*Avro{}
	for id, w := range wants {
		decs[id] = NewAvro(c, w)
	}
	f.Fuzz(func(t *testing.T, payload []byte, which uint8) {
		id := int(which % 3)
		rec := append([]byte{0, 0, 0, 0, byte(id)}, payload...)
		out := make([]value.Value, len(wants[id]))
		err := decs[id].Decode(rec, out)
		if err != nil {
			checkReason(t, err)
			return
		}
		var v any
		if err := avro.Unmarshal(parsed[id], payload, &v); err != nil {
			t.Fatalf("accepted, but hamba/avro says %v", err)
		}
	})
}

// FuzzProtobuf feeds hostile payloads to the Protobuf decoder: errors with
// a reason, never a panic, and it accepts what proto-go's dynamicpb
// accepts.
func FuzzProtobuf(f *testing.F) {
	f.Add(protoRecord(f, 4, testProto, []int{2}, richJSON)[6:], uint8(2))
	f.Add(protoRecord(f, 4, testProto, []int{1}, `{"auction":"1","url":"abc","dateTime":"2026-01-01T00:00:00Z"}`)[6:], uint8(1))
	f.Add([]byte{0x0a, 0x80}, uint8(0))
	c := protoCache(f)
	fd, err := compileProto(c, 4, sr.Schema{Schema: testProto, Type: sr.TypeProtobuf})
	if err != nil {
		f.Fatal(err)
	}
	wants := [][][]string{
		paths("x"),
		paths("auction", "price", "dateTime", "url"),
		paths("id", "inner.name", "color", "tags", "attrs.x", "took", "maybe", "byname.k.name", "byname", "nums", "opt"),
	}
	decs := make([]*Protobuf, 3)
	for i, w := range wants {
		decs[i] = NewProtobuf(c, w)
	}
	f.Fuzz(func(t *testing.T, payload []byte, which uint8) {
		i := int(which % 3)
		rec := append([]byte{0, 0, 0, 0, 4, 2, byte(2 * i)}, payload...)
		out := make([]value.Value, len(wants[i]))
		err := decs[i].Decode(rec, out)
		m := dynamicpb.NewMessage(fd.Messages().Get(i))
		pgErr := unmarshalDynamic(payload, m) // proto-go, its panics as errors (seed 65b4b2cf8fee4920)
		if err != nil {
			checkReason(t, err)
		}
		if (err == nil) != (pgErr == nil) {
			t.Fatalf("decoder err %v, proto-go err %v", err, pgErr)
		}
	})
}
