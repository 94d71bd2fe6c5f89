package windows

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/eddyhq/eddy/value"
)

// BenchmarkStateMemory measures the heap held per open (window, key) state
// for the benchmark pipeline's aggregates (count() and max(price) keyed by
// an int auction id) and, as further figures, with more aggregates, and
// in hopping windows (10 s every 2 s: each record in five, each key with a
// ring, per open (window, key)).
func BenchmarkStateMemory(b *testing.B) {
	countMax := []Agg{{Name: "n", Func: Count, Arg: -1}, {Name: "m", Func: Max, Arg: 1}}
	cases := []struct {
		name    string
		aggs    []Agg
		hopping bool
	}{
		{"count+max", countMax, false},
		{"hopping/count+max", countMax, true},
		{"count+sum+avg+min+max", []Agg{{Name: "n", Func: Count, Arg: -1}, {Name: "s", Func: Sum, Arg: 1},
			{Name: "a", Func: Avg, Arg: 1}, {Name: "lo", Func: Min, Arg: 1}, {Name: "hi", Func: Max, Arg: 1}}, false},
		{"count+quantile+count_distinct", []Agg{{Name: "n", Func: Count, Arg: -1},
			{Name: "q", Func: Quantile, Arg: 1, Q: 0.5}, {Name: "d", Func: CountDistinct, Arg: 1}}, false},
	}
	const keys = 200_000
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var perState float64
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				w := Tumbling(10 * time.Second)
				if c.hopping {
					w = Hopping(10*time.Second, 2*time.Second)
				}
				op, err := New(Config{Window: w, Keys: []int{0}, Aggs: c.aggs, Emit: func(*Result) {}})
				if err != nil {
					b.Fatal(err)
				}
				row := make([]value.Value, 2)
				for k := range keys {
					row[0] = value.OfInt(int64(k))
					row[1] = value.OfInt(int64(k % 1000))
					if _, err := op.Add(int64(k%10_000), row); err != nil {
						b.Fatal(err)
					}
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				perState = float64(after.HeapAlloc-before.HeapAlloc) / float64(op.Open())
				runtime.KeepAlive(op)
			}
			b.ReportMetric(perState, "B/state")
		})
	}
}

// BenchmarkAddTumbling is the operator's per-record cost on a hot key set.
func BenchmarkAddTumbling(b *testing.B) {
	op, _ := New(Config{Window: Spec{Type: TumblingType, Size: 10_000}, Keys: []int{0},
		Aggs: []Agg{{Name: "n", Func: Count, Arg: -1}, {Name: "m", Func: Max, Arg: 1}}, Emit: func(*Result) {}})
	row := make([]value.Value, 2)
	var ts int64
	for b.Loop() {
		ts++
		row[0] = value.OfInt(ts % 997)
		row[1] = value.OfInt(ts % 1000)
		_, _ = op.Add(ts, row)
		op.Advance(ts)
	}
}

// BenchmarkSnapshot1M encodes and restores the state of one million open
// tumbling windows (distinct keys, count, sum and max).
func BenchmarkSnapshot1M(b *testing.B) {
	aggs := []Agg{{Func: Count, Arg: -1}, {Func: Sum, Arg: 1}, {Func: Max, Arg: 1}}
	cfg := Config{Window: Spec{Type: TumblingType, Size: 3_600_000}, Keys: []int{0}, Aggs: aggs, Emit: func(*Result) {}}
	op, _ := New(cfg)
	row := make([]value.Value, 2)
	for i := range 1_000_000 {
		row[0], row[1] = value.OfString(fmt.Sprintf("user-%d", i)), value.OfInt(int64(i%977))
		op.Add(int64(1000+i%1000), row)
	}
	var snap []byte
	b.Run("encode", func(b *testing.B) {
		for b.Loop() {
			snap = op.AppendSnapshot(snap[:0])
		}
		b.ReportMetric(float64(len(snap))/(1<<20), "MiB")
	})
	b.Run("restore", func(b *testing.B) {
		for b.Loop() {
			o, _ := New(cfg)
			if err := o.Restore(snap); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkAddHopping is the operator's per-record cost, firing included,
// on the shape of issue 18's hopping workload: 10 s windows every 2 s (each
// record in five), count() and max(price) per key, 1,000 records a second
// of event time, each key (a new one every 6 ms) drawing about six records
// over its 0.6 s of life, so a pane holds about 1,700 keys and a record
// makes 0.85 rows, as the nexmark bids do. The backends are the memory
// store without a cache limit and with one small enough to evict; the
// last case has records up to 5 s late and the watermark 5 s behind, so
// more panes are live than a key's ring has slots.
func BenchmarkAddHopping(b *testing.B) {
	for _, c := range []struct {
		name  string
		cache int64
		ooo   int64 // records up to this late, and the watermark this far behind
	}{{"memory", 0, 0}, {"evicting", 1 << 20, 0}, {"memory/out-of-order-5s", 0, 5000}} {
		b.Run(c.name, func(b *testing.B) {
			rows := 0
			op, err := New(Config{Window: Hopping(10*time.Second, 2*time.Second), Keys: []int{0},
				Aggs:  []Agg{{Name: "n", Func: Count, Arg: -1}, {Name: "m", Func: Max, Arg: 1}},
				Emit:  func(*Result) { rows++ },
				Store: NewMemStore(c.cache)})
			if err != nil {
				b.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			row := make([]value.Value, 2)
			var ts int64
			for b.Loop() {
				ts++
				t := ts
				if c.ooo > 0 {
					t -= rng.Int64N(c.ooo)
				}
				row[0] = value.OfInt(t/6 - rng.Int64N(100))
				row[1] = value.OfInt(rng.Int64N(100_000))
				if _, err := op.Add(t, row); err != nil {
					b.Fatal(err)
				}
				op.Advance(ts - c.ooo)
			}
			op.Flush()
			b.ReportMetric(float64(rows)/float64(b.N), "rows/record")
		})
	}
}
