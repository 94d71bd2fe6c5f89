package windows

import (
	"fmt"
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
