package windows

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestRingsAgree: a hopping operator that finds its entries through the
// keys' rings emits the same rows as one that asks the panes' maps every
// time, through checkpoints and restores (whose panes no ring knows), with
// records out of order and late, windows whose size is not a multiple of
// the slide, negative times, and more live panes than a ring has slots
// (which makes rings lossy); and the stream sweeps rings.
func TestRingsAgree(t *testing.T) {
	cases := []struct {
		name          string
		size, slide   int64
		ooo, lateness int64
		from          int64 // the first event time
		lossy         bool  // more live panes than a ring has slots
	}{
		{"3s every 1s", 3000, 1000, 1000, 0, 1_000_000, false},
		{"3s every 1s, lateness", 3000, 1000, 1000, 2500, 1_000_000, true},
		{"3.5s every 1s", 3500, 1000, 1000, 0, 1_000_000, false},
		{"10s every 2s, lateness, negative times", 10_000, 2000, 1000, 3000, -150_000, true},
		{"2s every 500ms, panes outlive the ring", 2000, 500, 6000, 4000, 1_000_000, true},
	}
	for _, c := range cases {
		for seed := uint64(1); seed <= 3; seed++ {
			t.Run(fmt.Sprintf("%s/seed%d", c.name, seed), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, 7))
				const n = 20_000
				evs := make([]ev, n)
				ts := c.from
				for i := range evs {
					ts += rng.Int64N(20)
					// keys come and go: about 50 live at a time, 4,000 in all
					evs[i] = ev{ts: ts - rng.Int64N(c.ooo+c.lateness), key: fmt.Sprintf("k%d", i/5+rng.IntN(50)), v: rng.IntN(1000)}
				}
				var want, got []string
				newOp := func(out *[]string) *Operator {
					op, err := New(Config{Window: Spec{Type: HoppingType, Size: c.size, Slide: c.slide}, Keys: []int{0},
						Aggs: allAggs, Lateness: c.lateness, Emit: func(r *Result) { *out = append(*out, fmtRow(r)) }})
					if err != nil {
						t.Fatal(err)
					}
					if op.rings == nil {
						t.Fatal("no rings")
					}
					return op
				}
				ref := newOp(&want)
				ref.rings = nil // every entry through its pane's map
				refWM := Watermark{OutOfOrder: c.ooo}
				feed(t, ref, &refWM, evs)
				ref.Flush()

				cuts := []int{0, rng.IntN(n), rng.IntN(n), n}
				slices.Sort(cuts)
				op := newOp(&got)
				wm := Watermark{OutOfOrder: c.ooo}
				lossy, swept, restored := false, 0, false
				for i := 1; i < len(cuts); i++ {
					feed(t, op, &wm, evs[cuts[i-1]:cuts[i]])
					lossy = lossy || slices.ContainsFunc(op.rings.lossy, func(t int64) bool { return t != NoWatermark })
					swept += op.rings.swept
					snap := op.AppendSnapshot(nil)
					op = newOp(&got)
					if err := op.Restore(snap); err != nil {
						t.Fatalf("Restore after %d records: %v", cuts[i], err)
					}
					restored = restored || op.rings.restoredTo != NoWatermark
					mx, seen := wm.MaxEventTime()
					wm = Watermark{OutOfOrder: c.ooo}
					wm.Restore(mx, seen)
				}
				op.Flush()
				if !slices.Equal(got, want) {
					t.Fatalf("rows differ from the operator without rings\n got %d rows\nwant %d rows\nfirst difference: %s", len(got), len(want), firstDiff(got, want))
				}
				if len(want) < 1000 {
					t.Fatalf("only %d rows", len(want))
				}
				if lossy != c.lossy || swept == 0 || !restored {
					t.Fatalf("lossy rings %v, rings swept %d, restored panes %v: the stream does not exercise them", lossy, swept, restored)
				}
			})
		}
	}
}
