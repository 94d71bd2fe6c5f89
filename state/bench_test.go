package state

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/fixtures"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/state/pebblestore"
)

const benchBids = 1_000_000

// the benchmark pipeline of docs/performance.md: bids per auction in
// 10-second tumbling windows
const bidsSpec = `name: bids-per-auction
time: {field: dateTime}
stages:
  - window:
      tumbling: 10s
      key: [auction]
      aggregate:
        n: count()
        max_price: max(price)
`

var bidsOnce = sync.OnceValues(func() ([]byte, error) {
	var b bytes.Buffer
	err := fixtures.Generate(&b, "nexmark", fixtures.Options{Count: benchBids, Seed: 1, Only: "bids"})
	return b.Bytes(), err
})

func compile(b *testing.B, spec string) *pipeline.Plan {
	p, err := pipeline.Parse("bench.yaml", []byte(spec))
	if err != nil {
		b.Fatal(err)
	}
	plan, err := pipeline.Compile(p)
	if err != nil {
		b.Fatal(err)
	}
	return plan
}

// BenchmarkCheckpointOverhead runs one million nexmark bids through the
// engine into a JSON Lines file, without checkpoints and with checkpoints
// (flush, fsync of the sink, one synced Pebble batch) every interval. The
// cost of one checkpoint is (time with − time without) / checkpoints; the
// overhead at the default interval is that cost over 10 s.
func BenchmarkCheckpointOverhead(b *testing.B) {
	data, err := bidsOnce()
	if err != nil {
		b.Fatal(err)
	}
	plan := compile(b, bidsSpec)
	for _, bc := range []struct {
		backend string
		every   time.Duration
	}{
		{"memory", 0}, {"memory", 10 * time.Second}, {"memory", 100 * time.Millisecond}, {"memory", 10 * time.Millisecond},
		{"pebble", 0}, {"pebble", 10 * time.Second}, {"pebble", 100 * time.Millisecond},
	} {
		every := bc.every
		name := "none"
		if every > 0 {
			name = "every=" + every.String()
		}
		if bc.backend == "pebble" {
			name = "pebble/" + name
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			var checkpoints int64
			var open int
			for b.Loop() {
				dir := b.TempDir()
				out, err := sink.OpenJSONL(filepath.Join(dir, "out.jsonl"))
				if err != nil {
					b.Fatal(err)
				}
				opts := engine.Options{Sinks: []sink.Sink{out}}
				// the state directory first, as job.Open does: its window store
				// lives inside it
				var cp *Checkpointer
				if every > 0 {
					st, err := Open(filepath.Join(dir, "st"))
					if err != nil {
						b.Fatal(err)
					}
					defer st.Close()
					cp = &Checkpointer{Store: st, Sinks: []Tracked{{Name: "out", Sink: out}}}
					opts.Checkpointer, opts.CheckpointEvery = cp, every
				}
				if bc.backend == "pebble" {
					st, err := pebblestore.Open(pebblestore.Options{Dir: filepath.Join(dir, "st", "windows")})
					if err != nil {
						b.Fatal(err)
					}
					opts.WindowStore = st
				}
				e, err := engine.New(plan, opts)
				if err != nil {
					b.Fatal(err)
				}
				if err := engine.Run(context.Background(), source.NewReader("bids", bytes.NewReader(data)), e); err != nil {
					b.Fatal(err)
				}
				if cp != nil {
					if err := cp.Wait(); err != nil {
						b.Fatal(err)
					}
				}
				out.Close()
				if err := e.Close(); err != nil {
					b.Fatal(err)
				}
				if cp != nil {
					checkpoints += cp.Meta.Seq
				}
				if st := e.Stats(); st.Passed != benchBids {
					b.Fatalf("stats %s", st)
				}
				open = max(open, e.OpenWindows())
			}
			b.ReportMetric(float64(benchBids)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(checkpoints)/float64(b.N), "checkpoints/op")
		})
	}
}

// BenchmarkCheckpointMidStream measures one checkpoint of the bids
// pipeline halfway through the stream (the open windows it has then).
func BenchmarkCheckpointMidStream(b *testing.B) {
	data, err := bidsOnce()
	if err != nil {
		b.Fatal(err)
	}
	plan := compile(b, bidsSpec)
	dir := b.TempDir()
	out, _ := sink.OpenJSONL(filepath.Join(dir, "out.jsonl"))
	defer out.Close()
	e, _ := engine.New(plan, engine.Options{Sinks: []sink.Sink{out}})
	half := data[:bytes.IndexByte(data[len(data)/2:], '\n')+len(data)/2+1]
	if err := engine.Run(context.Background(), source.NewReader("bids", bytes.NewReader(half)), e); err != nil {
		b.Fatal(err)
	}
	// Run ended the input: restart the stream half for a state with open windows
	e, _ = engine.New(plan, engine.Options{Sinks: []sink.Sink{out}})
	src := source.NewReader("bids", bytes.NewReader(half))
	for {
		bt, err := src.Next(context.Background())
		if err != nil {
			break
		}
		e.Process(bt.Records)
		src.Release(bt)
	}
	st, err := Open(filepath.Join(dir, "st"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	cp := &Checkpointer{Store: st, Sinks: []Tracked{{Name: "out", Sink: out}}}
	for b.Loop() {
		if err := cp.Checkpoint(context.Background(), e); err != nil {
			b.Fatal(err)
		}
		if err := cp.Wait(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(e.OpenWindows()), "open_windows")
	b.ReportMetric(float64(len(e.Checkpoint().Window)), "window_bytes")
}

// BenchmarkRestore1MWindows restores a checkpoint holding one million open
// windows (one-hour tumbling windows over a million distinct keys, with
// count, sum and max): reading it from Pebble and rebuilding the operator.
func BenchmarkRestore1MWindows(b *testing.B) {
	const keys = 1_000_000
	plan := compile(b, `time: {field: ts}
stages:
  - window:
      tumbling: 1h
      key: [k]
      aggregate: {n: count(), s: sum(v), hi: max(v)}
`)
	e, err := engine.New(plan, engine.Options{})
	if err != nil {
		b.Fatal(err)
	}
	recs := make([]source.Record, 0, 10_000)
	for i := range keys {
		recs = append(recs, source.Record{Value: fmt.Appendf(nil, `{"ts":%d,"k":"user-%d","v":%d}`, 1000+i%1000, i, i%977), Topic: "in", Offset: int64(i + 1), File: true})
		if len(recs) == cap(recs) {
			e.Process(recs)
			recs = recs[:0]
		}
	}
	if e.OpenWindows() != keys {
		b.Fatalf("%d open windows", e.OpenWindows())
	}
	dir := filepath.Join(b.TempDir(), "st")
	st, err := Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	ck := &Checkpoint{Engine: e.Checkpoint()}
	snap := time.Since(t0)
	t0 = time.Now()
	if err := st.Save(ck); err != nil {
		b.Fatal(err)
	}
	save := time.Since(t0)
	st.Close()
	for b.Loop() {
		st, err := OpenReadOnly(dir)
		if err != nil {
			b.Fatal(err)
		}
		got, err := st.Load()
		if err != nil {
			b.Fatal(err)
		}
		st.Close()
		e2, _ := engine.New(plan, engine.Options{})
		if err := e2.Restore(got.Engine); err != nil {
			b.Fatal(err)
		}
		if e2.OpenWindows() != keys {
			b.Fatalf("restored %d open windows", e2.OpenWindows())
		}
	}
	b.ReportMetric(float64(len(ck.Engine.Window))/(1<<20), "MiB")
	b.ReportMetric(snap.Seconds()*1000, "snapshot_ms")
	b.ReportMetric(save.Seconds()*1000, "save_ms")
}
