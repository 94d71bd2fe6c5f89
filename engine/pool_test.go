package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eddyhq/eddy/fixtures"
	"github.com/eddyhq/eddy/format"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/state/pebblestore"
	"github.com/eddyhq/eddy/value"
	"github.com/eddyhq/eddy/windows"
)

// poolBids is nexmark bids with malformed records and event times up to
// 4 s out of order (late for the pipelines below, whose watermark trails
// by 1 s).
func poolBids(t testing.TB, n int) []byte {
	var b bytes.Buffer
	if err := fixtures.Generate(&b, "nexmark", fixtures.Options{Count: n, Seed: 7, Only: "bids", BadRatio: 0.02, Disorder: 4 * time.Second}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// poolSpecs are the shapes the workers must run as one does: windows of
// each type (with and without allowed lateness, several keys, no key),
// filters, projects and the raw record streamed.
var poolSpecs = map[string]string{
	"tumbling": `  - filter: price > 1000
  - window:
      tumbling: 2s
      key: [auction]
      aggregate: {n: count(), max_price: max(price), total: sum(price)}`,
	"tumbling-lateness": `  - window:
      tumbling: 2s
      key: [auction, bidder]
      aggregate: {n: count(), first: first(price), p50: "quantile(price, 0.5)"}`,
	"hopping": `  - window:
      hopping: {size: 2s, slide: 500ms}
      key: [bidder]
      aggregate: {n: count(), avg_price: avg(price), mn: min(price)}`,
	"session": `  - window:
      session: {gap: 500ms}
      key: [bidder]
      aggregate: {n: count(), max_price: max(price), last: last(auction)}`,
	"global": `  - window:
      tumbling: 1s
      aggregate: {n: count(), d: count_distinct(bidder)}`,
	"filter-project": `  - filter: price > 50000 && bidder % 3 != 1
  - project: {auction: auction, bidder: bidder, price: price, cents: price * 100}`,
	"raw":    `  - filter: auction % 2 == 0`,
	"divide": `  - project: {auction: auction, q: 1000000 / (price % 7)}`,
}

type poolRun struct {
	rows  []string
	dead  []string
	stats Stats
}

type deadBytes struct{ lines []string }

func (d *deadBytes) WriteDead(x *sink.DeadLetter) error {
	d.lines = append(d.lines, string(sink.AppendDeadLetter(nil, x)))
	return nil
}
func (d *deadBytes) Close() error { return nil }

func poolPlan(t *testing.T, name, stages string) *pipeline.Plan {
	t.Helper()
	lateness := "0s"
	if strings.HasSuffix(name, "-lateness") || name == "session" {
		lateness = "1500ms"
	}
	return compileSpec(t, fmt.Sprintf("name: %s\ntime: {field: dateTime, max_out_of_order: 1s, allowed_lateness: %s}\nstages:\n%s\n", name, lateness, stages))
}

// runWorkers runs data through plan with workers and checks the
// accounting after every batch.
func runWorkers(t testing.TB, plan *pipeline.Plan, data []byte, workers int, stores []windows.Store) poolRun {
	t.Helper()
	out, dead := &collect{}, &deadBytes{}
	o := Options{Sinks: []sink.Sink{out}, Dead: dead, Workers: workers, WorkerStores: stores}
	if workers == 1 && stores != nil {
		o.WindowStore, o.WorkerStores = stores[0], nil
	}
	e, err := New(plan, o)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	src := &checkedSource{Source: source.NewReader("bids.jsonl", bytes.NewReader(data)), t: t, e: e}
	if err := Run(context.Background(), src, e); err != nil {
		t.Fatal(err)
	}
	st := e.Stats()
	if st.In != st.Passed+st.Filtered+st.Dead+st.Late {
		t.Errorf("workers %d: accounting broken: %s", workers, st)
	}
	return poolRun{rows: out.rows, dead: dead.lines, stats: st}
}

// checkedSource checks the engine's published counters add up each time
// the engine asks for a batch.
type checkedSource struct {
	source.Source
	t testing.TB
	e *Engine
}

func (c *checkedSource) Next(ctx context.Context) (*source.Batch, error) {
	if st := c.e.Stats(); st.In != st.Passed+st.Filtered+st.Dead+st.Late {
		c.t.Errorf("accounting broken between batches: %s", st)
	}
	return c.Source.Next(ctx)
}

func samePoolRun(t *testing.T, what string, want, got poolRun) {
	t.Helper()
	if got.stats != want.stats {
		t.Errorf("%s: stats %s, one worker %s", what, got.stats, want.stats)
	}
	if len(want.rows) == 0 {
		t.Errorf("%s: no rows: the case tests nothing", what)
	}
	for _, c := range []struct {
		kind      string
		want, got []string
	}{{"row", want.rows, got.rows}, {"dead letter", want.dead, got.dead}} {
		for i := range max(len(c.want), len(c.got)) {
			if i >= len(c.want) || i >= len(c.got) || c.want[i] != c.got[i] {
				w, g := "(none)", "(none)"
				if i < len(c.want) {
					w = c.want[i]
				}
				if i < len(c.got) {
					g = c.got[i]
				}
				t.Errorf("%s: %s %d of %d (one worker: %d):\n got %s\nwant %s", what, c.kind, i, len(c.got), len(c.want), g, w)
				break
			}
		}
	}
}

// TestWorkersSameOutput: 2 and 3 workers write the same rows in the same
// order, the same dead letters and the same counters as one, for every
// shape, over bids with bad and late records.
func TestWorkersSameOutput(t *testing.T) {
	data := poolBids(t, 30000)
	for name, stages := range poolSpecs {
		t.Run(name, func(t *testing.T) {
			plan := poolPlan(t, name, stages)
			one := runWorkers(t, plan, data, 1, nil)
			if one.stats.Dead == 0 || (plan.Window != nil && one.stats.Late == 0) {
				t.Errorf("one worker: %s: the input should have dead and late records", one.stats)
			}
			for _, n := range []int{2, 3} {
				samePoolRun(t, fmt.Sprintf("%d workers", n), one, runWorkers(t, plan, data, n, nil))
			}
		})
	}
}

// TestWorkersPebble: the workers over one Pebble store each (with a
// cache small enough to evict) write what one worker in memory does.
func TestWorkersPebble(t *testing.T) {
	data := poolBids(t, 20000)
	for _, name := range []string{"tumbling-lateness", "session", "hopping"} {
		t.Run(name, func(t *testing.T) {
			plan := poolPlan(t, name, poolSpecs[name])
			one := runWorkers(t, plan, data, 1, nil)
			for _, n := range []int{1, 2, 3} {
				stores := make([]windows.Store, n)
				for k := range stores {
					st, err := pebblestore.Open(pebblestore.Options{Dir: filepath.Join(t.TempDir(), fmt.Sprint(k)), MemoryLimit: 64 << 20})
					if err != nil {
						t.Fatal(err)
					}
					stores[k] = st
				}
				samePoolRun(t, fmt.Sprintf("%d workers on pebble", n), one, runWorkers(t, plan, data, n, stores))
			}
		})
	}
}

// BenchmarkWorkers is BenchmarkNexmarkShapes's whole path (and the
// low-cardinality tumbling shape) on 1 and 2 workers (docs/performance.md,
// "Every core").
func BenchmarkWorkers(b *testing.B) {
	shapes := append([]benchShape{{"tumbling", shapeWindow("tumbling: 10s", "auction"), false}}, benchShapes...)
	for _, s := range shapes {
		for _, n := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/workers=%d", s.name, n), func(b *testing.B) {
				s.bench(b, Options{Workers: n})
			})
		}
	}
}

// TestWorkersPartitions: records of three partitions interleaved in
// batches of uneven sizes, the partitions finishing one by one (Done),
// through Process directly: the watermark is the minimum over partitions,
// and 2 and 3 workers must still write what one does.
func TestWorkersPartitions(t *testing.T) {
	data := poolBids(t, 20000)
	var recs []source.Record
	next := [3]int64{}
	for line := range bytes.Lines(data) {
		p := int32(len(recs) % 3)
		if len(recs)%7 == 0 {
			p = 0
		}
		recs = append(recs, source.Record{Value: bytes.TrimSpace(line), Topic: "bids", Partition: p, Offset: next[p]})
		next[p]++
	}
	for _, name := range []string{"tumbling-lateness", "session", "filter-project"} {
		t.Run(name, func(t *testing.T) {
			plan := poolPlan(t, name, poolSpecs[name])
			run := func(workers int) poolRun {
				out, dead := &collect{}, &deadBytes{}
				e, err := New(plan, Options{Sinks: []sink.Sink{out}, Dead: dead, Workers: workers})
				if err != nil {
					t.Fatal(err)
				}
				defer e.Close()
				parts := []source.Partition{{Topic: "bids", Partition: 0}, {Topic: "bids", Partition: 1}, {Topic: "bids", Partition: 2}}
				e.Expect(parts, time.Now())
				for i, size := 0, 1; i < len(recs); i, size = i+size, size*3%1000+1 {
					if err := e.Process(recs[i:min(i+size, len(recs))]); err != nil {
						t.Fatal(err)
					}
					if st := e.Stats(); st.In != st.Passed+st.Filtered+st.Dead+st.Late {
						t.Fatalf("accounting broken: %s", st)
					}
					if i > len(recs)/2 && i < len(recs)/2+size {
						e.Done(parts[2:]) // partition 2 stops holding the watermark
					}
				}
				e.Done(parts)
				if err := e.Finish(); err != nil {
					t.Fatal(err)
				}
				return poolRun{rows: out.rows, dead: dead.lines, stats: e.Stats()}
			}
			one := run(1)
			for _, n := range []int{2, 3} {
				samePoolRun(t, fmt.Sprintf("%d workers", n), one, run(n))
			}
		})
	}
}

// TestWorkersFallBack: a pipeline that one worker must run (a consumer
// group without state, stages after a window) runs on one, saying why.
func TestWorkersFallBack(t *testing.T) {
	for _, tt := range []struct {
		name, stages string
		track        bool
		why          string
	}{
		{"group", poolSpecs["tumbling"], true, "a consumer group without state"},
		{"top", poolSpecs["tumbling"] + "\n  - top: {k: 1, by: n desc}", false, "stages after a window"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			plan := poolPlan(t, "tumbling", tt.stages)
			var warned []string
			e, err := New(plan, Options{Workers: 2, TrackOffsets: tt.track, Warn: func(m string) { warned = append(warned, m) }})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			if e.pool != nil || len(warned) != 1 || !strings.Contains(warned[0], "--workers 2: running on one worker: "+tt.why) {
				t.Errorf("pool %v, warnings %q", e.pool != nil, warned)
			}
		})
	}
}

// TestWorkersRegistryFormats: records in the registry formats decode on
// every worker, each with its own decoder over the one schema cache, and
// 2 and 3 workers give one worker's rows, dead letters (unknown schema
// ids, records without the wire header) and counters; a registry that is
// down stops the run at the same record.
func TestWorkersRegistryFormats(t *testing.T) {
	const tsBid = `{"type":"record","name":"Bid","fields":[{"name":"auction","type":"long"},{"name":"price","type":"long"},` +
		`{"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}}]}`
	const jsonBid = `{"type":"object","properties":{"auction":{"type":"integer"},"price":{"type":"integer"},"ts":{"type":"string"}}}`
	schema := avro.MustParse(tsBid)
	frame := func(id int, payload []byte) []byte {
		b := []byte{0, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(b[1:], uint32(id))
		return append(b, payload...)
	}
	records := func(format string) []source.Record {
		var recs []source.Record
		for i := range 6000 {
			auction, price, ts := int64(i*7919%97), int64(i*31%5000), int64(1_700_000_000_000+i*40-(i%11)*300)
			var v []byte
			switch format {
			case "avro":
				p, err := avro.Marshal(schema, map[string]any{"auction": auction, "price": price, "ts": time.UnixMilli(ts).UTC()})
				if err != nil {
					t.Fatal(err)
				}
				v = frame(1, p)
			default:
				v = frame(1, fmt.Appendf(nil, `{"auction":%d,"price":%d,"ts":"%s"}`, auction, price, time.UnixMilli(ts).UTC().Format(time.RFC3339Nano)))
			}
			switch i % 500 {
			case 17:
				v[4] = 9 // an id the registry does not know
			case 333:
				v = []byte(`{"auction":1}`) // no wire header
			}
			recs = append(recs, source.Record{Value: v, Offset: int64(i), Partition: int32(i % 3)})
		}
		return recs
	}
	reg := &format.Static{IDs: map[int]sr.Schema{
		1: {Schema: tsBid, Type: sr.TypeAvro},
	}}
	jreg := &format.Static{IDs: map[int]sr.Schema{1: {Schema: jsonBid, Type: sr.TypeJSON}}}
	for _, tc := range []struct {
		format string
		reg    format.Registry
	}{{"avro", reg}, {"json-schema", jreg}} {
		for name, stages := range map[string]string{
			"window": poolSpecs["tumbling"],
			"filter": "  - filter: price > 2500\n  - project: {auction: auction, price: price}",
		} {
			t.Run(tc.format+"/"+name, func(t *testing.T) {
				plan := compileSpec(t, fmt.Sprintf("source: {kafka: {topic: bids}}\nformat: %s\ntime: {field: ts, max_out_of_order: 1s}\nstages:\n%s\n", tc.format, stages))
				recs := records(tc.format)
				run := func(workers int) poolRun {
					cache := format.NewCache(context.Background(), tc.reg, format.CacheOptions{})
					out, dead := &collect{}, &deadBytes{}
					var warned []string
					e, err := New(plan, Options{Sinks: []sink.Sink{out}, Dead: dead, Workers: workers, Schemas: cache,
						Warn: func(m string) { warned = append(warned, m) }})
					if err != nil {
						t.Fatal(err)
					}
					defer e.Close()
					if workers > 1 && (e.pool == nil || len(warned) > 0) {
						t.Fatalf("%d workers: pool %v, warnings %q", workers, e.pool != nil, warned)
					}
					for i := 0; i < len(recs); i += 1000 {
						if err := e.Process(recs[i : i+1000]); err != nil {
							t.Fatal(err)
						}
					}
					if err := e.Finish(); err != nil {
						t.Fatal(err)
					}
					return poolRun{rows: out.rows, dead: dead.lines, stats: e.Stats()}
				}
				one := run(1)
				if one.stats.Dead != 24 {
					t.Fatalf("one worker: %s, want 24 dead letters (12 unknown ids, 12 without a header)", one.stats)
				}
				for _, n := range []int{2, 3} {
					samePoolRun(t, fmt.Sprintf("%d workers", n), one, run(n))
				}
			})
		}
	}
	t.Run("registry down", func(t *testing.T) {
		plan := compileSpec(t, "source: {kafka: {topic: bids}}\nformat: avro\ntime: {field: ts}\nstages:\n"+poolSpecs["tumbling"]+"\n")
		cache := format.NewCache(context.Background(), downRegistry{}, format.CacheOptions{Attempts: 1})
		dead := &deadBytes{}
		e, err := New(plan, Options{Sinks: []sink.Sink{&collect{}}, Dead: dead, Workers: 2, Schemas: cache})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		recs := records("avro")[:1000]
		recs[0].Value = []byte("not framed") // a dead letter before the outage's first record
		if err := e.Process(recs); !errors.Is(err, format.ErrRegistry) {
			t.Fatalf("err = %v, want the registry error", err)
		}
		if st := e.Stats(); st.In != 1 || st.Dead != 1 || len(dead.lines) != 1 {
			t.Errorf("stats %s, %d dead letters: want the run stopped at the second record", st, len(dead.lines))
		}
	})
}

// TestWorkerAwait: a worker spins for its next phase only while phases
// come close together (two short waits in a row); after a long wait it
// parks at once, and a closed pool ends it either way.
func TestWorkerAwait(t *testing.T) {
	// no stall of a loaded machine's between two statements is that long
	w := &worker{run: make(chan *task, 1), together: 200 * time.Millisecond}
	type answer struct {
		t    *task
		spin bool // what the worker will do for the phase after
	}
	got := make(chan answer)
	go func() {
		for {
			t, ok := w.await()
			if !ok {
				close(got)
				return
			}
			got <- answer{t, w.spinning()}
		}
	}()
	// each phase waiting already when the worker asks for it, but for
	// the ones after a sleep: a slow stream's long waits
	for i, c := range []struct {
		sleep bool
		spin  bool // after this phase
	}{{true, false}, {false, false}, {false, true}, {false, true}, {true, false}, {false, false}, {false, true}} {
		phase := &task{}
		if c.sleep {
			time.Sleep(300 * time.Millisecond)
		}
		w.run <- phase
		if a := <-got; a.t != phase || a.spin != c.spin {
			t.Errorf("phase %d: task %p, spinning %v; want %p, %v", i, a.t, a.spin, phase, c.spin)
		}
	}
	close(w.run)
	if _, ok := <-got; ok {
		t.Error("await went on after the pool closed")
	}
}

// TestWorkersLegacyRoute: a checkpoint taken while keys were routed by
// routeFNV (its window bytes start with legacyMagic) restores onto
// workers that go on routing by it, writing legacyMagic again, and the
// run ends as an uninterrupted one does; a new run routes by routeWords.
func TestWorkersLegacyRoute(t *testing.T) {
	var recs []source.Record
	for line := range bytes.Lines(poolBids(t, 20000)) {
		recs = append(recs, source.Record{Value: bytes.TrimSpace(line), Topic: "bids", Offset: int64(len(recs))})
	}
	plan := poolPlan(t, "tumbling", poolSpecs["tumbling"])
	newEngine := func(workers int, out *collect) *Engine {
		e, err := New(plan, Options{Sinks: []sink.Sink{out}, Dead: &deadBytes{}, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		return e
	}
	process := func(e *Engine, recs []source.Record) {
		for i := 0; i < len(recs); i += 1000 {
			if err := e.Process(recs[i:min(i+1000, len(recs))]); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := &collect{}
	e := newEngine(1, want)
	process(e, recs)
	if err := e.Finish(); err != nil {
		t.Fatal(err)
	}

	if ck := newEngine(2, &collect{}).Checkpoint(); !bytes.HasPrefix(ck.Window, snapshotMagic) {
		t.Errorf("a new run's checkpoint starts %q, want %q", ck.Window[:4], snapshotMagic)
	}
	got := &collect{}
	first := newEngine(2, got)
	first.pool.legacy = true // as a run before routeWords
	half := len(recs) / 2
	process(first, recs[:half])
	ck := first.Checkpoint()
	if !bytes.HasPrefix(ck.Window, legacyMagic) {
		t.Fatalf("the legacy run's checkpoint starts %q, want %q", ck.Window[:4], legacyMagic)
	}
	second := newEngine(2, got)
	if err := second.Restore(ck); err != nil {
		t.Fatal(err)
	}
	if !second.pool.legacy {
		t.Error("restored from a legacy checkpoint, the workers route by routeWords")
	}
	process(second, recs[half:])
	if err := second.Finish(); err != nil {
		t.Fatal(err)
	}
	if again := second.Checkpoint(); !bytes.HasPrefix(again.Window, legacyMagic) {
		t.Errorf("the restored run's checkpoint starts %q, want %q", again.Window[:4], legacyMagic)
	}
	samePoolRun(t, "restored legacy route", poolRun{rows: want.rows, stats: e.Stats()}, poolRun{rows: got.rows, stats: second.Stats()})
}

// BenchmarkRoute: the routing hashes over the encodings of an integer
// key (9 bytes) and of two string keys (25 bytes), each hash's result
// feeding the next key's choice as phase A's loop would not, so that
// the loop measures the hash's latency, not its throughput.
//
//	go test ./engine -run '^$' -bench Route
func BenchmarkRoute(b *testing.B) {
	keys := map[string][]byte{
		"int":     windows.AppendKey(nil, []value.Value{value.OfInt(1007)}, []int{0}),
		"strings": windows.AppendKey(nil, []value.Value{value.OfString("user-0042"), value.OfString("/checkout")}, []int{0, 1}),
	}
	for _, name := range []string{"int", "strings"} {
		k := keys[name]
		for _, h := range []struct {
			name string
			f    func([]byte) uint64
		}{{"fnv", routeFNV}, {"words", routeWords}} {
			b.Run(name+"/"+h.name, func(b *testing.B) {
				k := bytes.Clone(k)
				var x uint64
				for b.Loop() {
					k[len(k)-1] ^= byte(x) & 1 // depend on the last result
					x = h.f(k)
				}
			})
		}
	}
}
