package windows

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/eddyhq/eddy/value"
)

// BenchmarkSpillDistinctKeys opens a session per record (every key new),
// none closing before the end, with a cache far smaller than the windows.
func BenchmarkSpillDistinctKeys(b *testing.B) {
	const n = 300_000
	for b.Loop() {
		sp, err := NewSpill(Config{Window: Spec{Type: SessionType, Gap: 3600_000}, Keys: []int{0},
			Aggs: []Agg{{Name: "n", Func: Count, Arg: -1}, {Name: "s", Func: Sum, Arg: 1}}, Emit: func(*Result) {}},
			SpillOptions{Dir: b.TempDir(), MemoryLimit: 128 << 20})
		if err != nil {
			b.Fatal(err)
		}
		wm := Watermark{}
		row := make([]value.Value, 2)
		for i := range n {
			row[0] = value.OfString(fmt.Sprintf("txn-%09d", i))
			row[1] = value.OfFloat(float64(i%1000) / 10)
			ts := int64(1_000_000 + i/100)
			if _, err := sp.Add(ts, row); err != nil {
				b.Fatal(err)
			}
			sp.Advance(wm.Observe(ts))
		}
		sp.Flush()
		if err := sp.Err(); err != nil {
			b.Fatal(err)
		}
		sp.Close()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// sessionKeysOp is what BenchmarkSessionManyKeys drives: the in-memory
// operator or the spill.
type sessionKeysOp interface {
	Add(ts int64, row []value.Value) (bool, error)
	Advance(w int64)
	Flush()
}

// feedSessionKeys sends n records over keys random keys, 100 ms of event
// time apart, so a key comes back after keys/10 s on average: with
// 30-minute sessions and keys ≥ 18,000 sessions close all the time while
// others extend, over more keys than the spill's cache holds.
func feedSessionKeys(tb testing.TB, op sessionKeysOp, n, keys int) {
	wm := Watermark{OutOfOrder: 1000}
	row := make([]value.Value, 2)
	rng := rand.New(rand.NewPCG(1, 2))
	names := make([]value.Value, keys)
	for k := range names {
		names[k] = value.OfString(fmt.Sprintf("user-%07d", k))
	}
	for i := range n {
		row[0] = names[rng.IntN(keys)]
		row[1] = value.OfFloat(float64(i % 1000))
		ts := int64(1_000_000 + i*100)
		if _, err := op.Add(ts, row); err != nil {
			tb.Fatal(err)
		}
		if i%256 == 255 { // the engine advances once per batch
			op.Advance(wm.Observe(ts))
		} else {
			wm.Observe(ts)
		}
	}
	op.Flush()
}

// BenchmarkSessionManyKeys is the session shape whose keys do not fit the
// spill's cache (issue 12 item 6): 30-minute sessions over 30,000 keys,
// in memory and spilled with a cache of a few MiB.
func BenchmarkSessionManyKeys(b *testing.B) {
	const n, keys = 300_000, 30_000
	cfg := Config{Window: Spec{Type: SessionType, Gap: 30 * 60_000}, Keys: []int{0},
		Aggs: []Agg{{Name: "n", Func: Count, Arg: -1}, {Name: "s", Func: Sum, Arg: 1}}, Emit: func(*Result) {}}
	b.Run("memory", func(b *testing.B) {
		for b.Loop() {
			op, err := New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			feedSessionKeys(b, op, n, keys)
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("pebble", func(b *testing.B) {
		for b.Loop() {
			sp, err := NewSpill(cfg, SpillOptions{Dir: b.TempDir(), MemoryLimit: 128 << 20, CacheBytes: 2 << 20})
			if err != nil {
				b.Fatal(err)
			}
			feedSessionKeys(b, sp, n, keys)
			if err := sp.Err(); err != nil {
				b.Fatal(err)
			}
			sp.Close()
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
}
