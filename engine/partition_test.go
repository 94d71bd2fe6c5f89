package engine

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/windows"
)

func newTestEngine(t *testing.T, spec string, now time.Time) (*Engine, *collect) {
	t.Helper()
	plan := compileSpec(t, spec)
	out := &collect{}
	e, err := New(plan, Options{Sinks: []sink.Sink{out}, Dead: &deadList{}, TrackOffsets: true, Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return e, out
}

func kafkaRec(p int32, off int64, value string) source.Record {
	return source.Record{Topic: "t", Partition: p, Offset: off, Value: []byte(value), Timestamp: 1}
}

var p0, p1 = source.Partition{Topic: "t", Partition: 0}, source.Partition{Topic: "t", Partition: 1}

func TestSafeOffsetsWaitForWindows(t *testing.T) {
	e, out := newTestEngine(t, "time: {field: ts}\nstages:\n  - filter: ok\n  - window: {tumbling: 10s, aggregate: {n: count()}}\n", time.Unix(0, 0))
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(e.Process([]source.Record{
		kafkaRec(0, 0, `{"ts":1000,"ok":true}`),
		kafkaRec(0, 1, `{"ts":5000,"ok":true}`),
		kafkaRec(0, 2, `{"ts":12000,"ok":true}`),
		kafkaRec(0, 3, `{"ts":12500,"ok":false}`), // filtered: done, but behind offset 2
		kafkaRec(0, 4, `not json`),                // dead: likewise
	}))
	if got := e.SafeOffsets()[p0]; got != 2 {
		t.Fatalf("safe offset = %d, want 2: [0,10s) fired, [10s,20s) holds offset 2 (rows %v)", got, out.rows)
	}
	must(e.Finish())
	if got := e.SafeOffsets()[p0]; got != 5 {
		t.Fatalf("after the end safe offset = %d, want 5", got)
	}
}

func TestSafeOffsetsAllowedLateness(t *testing.T) {
	e, _ := newTestEngine(t, "time: {field: ts, allowed_lateness: 5s}\nstages:\n  - window: {tumbling: 10s, aggregate: {n: count()}}\n", time.Unix(0, 0))
	_ = e.Process([]source.Record{kafkaRec(0, 0, `{"ts":1000}`), kafkaRec(0, 1, `{"ts":12000}`)})
	if got := e.SafeOffsets()[p0]; got != 0 {
		t.Fatalf("W=12s < 10s+5s: safe = %d, want 0", got)
	}
	_ = e.Process([]source.Record{kafkaRec(0, 2, `{"ts":15000}`)})
	if got := e.SafeOffsets()[p0]; got != 1 {
		t.Fatalf("W=15s: safe = %d, want 1", got)
	}
}

func TestSafeOffsetsSessions(t *testing.T) {
	e, _ := newTestEngine(t, "time: {field: ts}\nstages:\n  - window: {session: {gap: 10s}, key: k, aggregate: {n: count()}}\n", time.Unix(0, 0))
	_ = e.Process([]source.Record{
		kafkaRec(0, 0, `{"ts":0,"k":"a"}`),
		kafkaRec(0, 1, `{"ts":1000,"k":"b"}`),
		kafkaRec(0, 2, `{"ts":9000,"k":"a"}`), // a's session grows to [0, 19s)
		kafkaRec(0, 3, `{"ts":15000,"k":"c"}`),
	})
	// W=15s: b's session [1s,11s) fired, but a's (holding offsets 0 and 2) is open
	if got := e.SafeOffsets()[p0]; got != 0 {
		t.Fatalf("safe = %d, want 0", got)
	}
	_ = e.Process([]source.Record{kafkaRec(0, 4, `{"ts":19000,"k":"c"}`)})
	// W=19s: a's session fired; c's [15s, 29s) holds offset 3
	if got := e.SafeOffsets()[p0]; got != 3 {
		t.Fatalf("safe = %d, want 3", got)
	}
}

func TestWatermarkPerPartition(t *testing.T) {
	now := time.Unix(100, 0)
	e, out := newTestEngine(t, "time: {field: ts, idle_timeout: 30s}\nstages:\n  - window: {tumbling: 10s, aggregate: {n: count()}}\n", now)
	e.Expect([]source.Partition{p0, p1}, now)
	_ = e.Process([]source.Record{kafkaRec(0, 0, `{"ts":1000}`), kafkaRec(0, 1, `{"ts":25000}`)})
	if len(out.rows) != 0 || e.Watermark() != windows.NoWatermark {
		t.Fatalf("partition 1 has no records yet: nothing may fire (W=%d, rows %v)", e.Watermark(), out.rows)
	}
	_ = e.Process([]source.Record{kafkaRec(1, 0, `{"ts":12000}`)})
	if e.Watermark() != 12000 || len(out.rows) != 1 {
		t.Fatalf("W = %d, rows %v; want 12000 and [0,10s) fired", e.Watermark(), out.rows)
	}
	// partition 0 keeps delivering, partition 1 falls silent
	for i, d := range []time.Duration{10 * time.Second, 20 * time.Second} {
		e.opts.Clock = func() time.Time { return now.Add(d) }
		_ = e.Process([]source.Record{kafkaRec(0, int64(2+i), `{"ts":25500}`)})
	}
	if e.Watermark() != 12000 {
		t.Fatalf("before the idle timeout W = %d, want 12000", e.Watermark())
	}
	// after 30s without records partition 1 is idle: partition 0 alone sets the watermark
	e.opts.Clock = func() time.Time { return now.Add(31 * time.Second) }
	_ = e.Process([]source.Record{kafkaRec(0, 4, `{"ts":26000}`)})
	if e.Watermark() != 26000 || len(out.rows) != 2 {
		t.Fatalf("after idle: W = %d, rows %v", e.Watermark(), out.rows)
	}
	// a finished partition does not hold it back either
	e.Done([]source.Partition{p1})
	if e.Watermark() != 26000 {
		t.Fatalf("W = %d", e.Watermark())
	}
}

// A pause of the whole source (slow start, rebalance, broker outage) makes
// no partition idle: when records flow again every partition gets its grace.
func TestSourcePauseIsNotIdleness(t *testing.T) {
	now := time.Unix(100, 0)
	e, out := newTestEngine(t, "time: {field: ts, idle_timeout: 30s}\nstages:\n  - window: {tumbling: 10s, aggregate: {n: count()}}\n", now)
	e.Expect([]source.Partition{p0, p1}, now)
	e.opts.Clock = func() time.Time { return now.Add(45 * time.Second) }
	_ = e.Process([]source.Record{kafkaRec(0, 0, `{"ts":1000}`), kafkaRec(0, 1, `{"ts":25000}`)})
	if e.Watermark() != windows.NoWatermark || len(out.rows) != 0 {
		t.Fatalf("partition 1 was never read, but the source only just started: W = %d, rows %v", e.Watermark(), out.rows)
	}
}

// batchSource yields its batches, then io.EOF.
type batchSource struct{ batches []*source.Batch }

func (s *batchSource) Next(context.Context) (*source.Batch, error) {
	if len(s.batches) == 0 {
		return nil, io.EOF
	}
	b := s.batches[0]
	s.batches = s.batches[1:]
	return b, nil
}
func (s *batchSource) Release(*source.Batch) {}
func (s *batchSource) Bounded() bool         { return true }
func (s *batchSource) Close() error          { return nil }

// TestAddedPartitionJoinsWatermark: a partition added to the topic mid-run
// holds the watermark back from when the source reports it, as one known at
// the start does, so its first records are not late.
func TestAddedPartitionJoinsWatermark(t *testing.T) {
	e, out := newTestEngine(t, "time: {field: ts, idle_timeout: 30s}\nstages:\n  - window: {tumbling: 10s, aggregate: {n: count()}}\n", time.Unix(100, 0))
	src := &batchSource{batches: []*source.Batch{
		{Records: []source.Record{kafkaRec(0, 0, `{"ts":1000}`)}},
		{Added: map[source.Partition]int64{p1: 0}},
		{Records: []source.Record{kafkaRec(0, 1, `{"ts":25000}`)}},
		{Records: []source.Record{kafkaRec(1, 0, `{"ts":2000}`)}},
	}}
	if err := Run(context.Background(), src, e); err != nil {
		t.Fatal(err)
	}
	if st := e.Stats(); st.Late != 0 {
		t.Errorf("late = %d, want 0: partition 1's record at 2s came while it held the watermark (rows %v)", st.Late, out.rows)
	}
	if len(out.rows) == 0 || !strings.Contains(out.rows[0], `"n":2`) {
		t.Errorf("rows %v, want [0s,10s) first with n=2", out.rows)
	}
	if got := e.SafeOffsets()[p1]; got != 1 {
		t.Errorf("partition 1 safe offset %d, want 1", got)
	}
}

// TestWindowKeysInvalidUTF8Distinct: record keys differing only in bytes
// that are not UTF-8 make distinct window rows that print distinctly (they
// both printed as U+FFFD) and stay valid JSON.
func TestWindowKeysInvalidUTF8Distinct(t *testing.T) {
	e, out := newTestEngine(t, "time: {field: ts}\nstages:\n  - project: {k: _key + \"\"}\n  - window: {tumbling: 10s, key: [k], aggregate: {n: count()}}\n", time.Unix(0, 0))
	recs := []source.Record{kafkaRec(0, 0, `{"ts":1000}`), kafkaRec(0, 1, `{"ts":2000}`), kafkaRec(0, 2, `{"ts":3000}`)}
	recs[0].Key, recs[1].Key, recs[2].Key = []byte("a\xff"), []byte("a\xfe"), []byte("a\xff")
	if err := e.Process(recs); err != nil {
		t.Fatal(err)
	}
	if err := e.Finish(); err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, r := range out.rows {
		var row map[string]json.RawMessage
		if err := json.Unmarshal([]byte(r), &row); err != nil {
			t.Fatalf("row %s is not valid JSON: %v", r, err)
		}
		keys[string(row["k"])] = true
	}
	if len(out.rows) != 2 || len(keys) != 2 {
		t.Errorf("rows %q: want two rows whose keys print differently", out.rows)
	}
}
