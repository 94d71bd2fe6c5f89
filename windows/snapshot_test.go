package windows

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/eddyhq/eddy/value"
)

// allAggs has one column per aggregate function, all over slot 1.
var allAggs = []Agg{
	{Name: "n", Func: Count, Arg: -1},
	{Name: "nv", Func: Count, Arg: 1},
	{Name: "s", Func: Sum, Arg: 1},
	{Name: "a", Func: Avg, Arg: 1},
	{Name: "lo", Func: Min, Arg: 1},
	{Name: "hi", Func: Max, Arg: 1},
	{Name: "d", Func: CountDistinct, Arg: 1},
	{Name: "p90", Func: Quantile, Arg: 1, Q: 0.9},
	{Name: "f", Func: First, Arg: 1},
	{Name: "l", Func: Last, Arg: 1},
}

// randomStream is a disordered stream over a few keys with ints, floats
// and nulls, so every kind of cell state is exercised.
func randomStream(seed uint64, n int) []ev {
	return genStream(rand.New(rand.NewPCG(seed, 7)), n, 6, 400)
}

// genStream makes n records over keys keys, event times advancing by up to
// step and disordered by up to 3 s.
func genStream(rng *rand.Rand, n, keys int, step int64) []ev {
	evs := make([]ev, n)
	ts := int64(1_000_000)
	for i := range evs {
		ts += rng.Int64N(step)
		e := ev{ts: ts - rng.Int64N(3000), key: fmt.Sprintf("k%d", rng.IntN(keys))}
		switch rng.IntN(5) {
		case 0:
			e.v = nil
		case 1:
			e.v = float64(rng.IntN(1000)) / 7
		default:
			e.v = rng.IntN(50)
		}
		evs[i] = e
	}
	return evs
}

// feed runs evs through op as the engine does and returns the rows emitted.
func feed(t *testing.T, op *Operator, wm *Watermark, evs []ev) {
	t.Helper()
	for _, e := range evs {
		if _, err := op.Add(e.ts, rowOf(e)); err != nil {
			t.Fatalf("Add(%v): %v", e, err)
		}
		op.Advance(wm.Observe(e.ts))
	}
}

// testSpecs are the window shapes the snapshot and store tests run.
var testSpecs = []struct {
	name     string
	spec     Spec
	lateness int64
}{
	{"tumbling", Spec{Type: TumblingType, Size: 2000}, 0},
	{"tumbling with lateness", Spec{Type: TumblingType, Size: 2000}, 1500},
	{"hopping", Spec{Type: HoppingType, Size: 3000, Slide: 1000}, 0},
	{"hopping with lateness", Spec{Type: HoppingType, Size: 3000, Slide: 1000}, 2500},
	{"session", Spec{Type: SessionType, Gap: 700}, 0},
	{"session with lateness", Spec{Type: SessionType, Gap: 700}, 2000},
}

func TestSnapshotRoundTrip(t *testing.T) {
	for _, sc := range testSpecs {
		for seed := uint64(1); seed <= 5; seed++ {
			t.Run(fmt.Sprintf("%s/seed%d", sc.name, seed), func(t *testing.T) {
				evs := randomStream(seed, 600)
				var want, got []string
				newOp := func(out *[]string) *Operator {
					op, err := New(Config{Window: sc.spec, Keys: []int{0}, Aggs: allAggs, Lateness: sc.lateness,
						Emit: func(r *Result) { *out = append(*out, fmtRow(r)) }})
					if err != nil {
						t.Fatal(err)
					}
					return op
				}
				ref := newOp(&want)
				refWM := Watermark{OutOfOrder: 1000}
				feed(t, ref, &refWM, evs)
				ref.Flush()

				// cut the stream at several points; each time snapshot,
				// restore into a fresh operator and carry on with it
				rng := rand.New(rand.NewPCG(seed, 99))
				cuts := []int{0, rng.IntN(600), rng.IntN(600), rng.IntN(600), 600}
				slices.Sort(cuts)
				op := newOp(&got)
				wm := Watermark{OutOfOrder: 1000}
				for i := 1; i < len(cuts); i++ {
					feed(t, op, &wm, evs[cuts[i-1]:cuts[i]])
					snap := op.AppendSnapshot(nil)
					open := op.Open()
					op = newOp(&got)
					if err := op.Restore(snap); err != nil {
						t.Fatalf("Restore after %d records: %v", cuts[i], err)
					}
					if op.Open() != open {
						t.Fatalf("Open() after restore = %d, want %d", op.Open(), open)
					}
					if again := op.AppendSnapshot(nil); len(again) != len(snap) {
						t.Fatalf("snapshot of the restored operator is %d bytes, the original %d", len(again), len(snap))
					}
					mx, seen := wm.MaxEventTime()
					wm = Watermark{OutOfOrder: 1000}
					wm.Restore(mx, seen)
				}
				op.Flush()
				if !slices.Equal(got, want) {
					t.Fatalf("rows differ after restore\n got %d rows\nwant %d rows\nfirst difference: %s", len(got), len(want), firstDiff(got, want))
				}
				if len(want) == 0 {
					t.Fatal("no rows at all: the stream does not exercise anything")
				}
			})
		}
	}
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("row %d: got %q want %q", i, a[i], b[i])
		}
	}
	return fmt.Sprintf("lengths %d and %d", len(a), len(b))
}

func TestRestoreRejects(t *testing.T) {
	cfg := Config{Window: Spec{Type: SessionType, Gap: 700}, Keys: []int{0}, Aggs: allAggs, Emit: func(*Result) {}}
	op, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	wm := Watermark{OutOfOrder: 1000}
	feed(t, op, &wm, randomStream(3, 200))
	snap := op.AppendSnapshot(nil)
	if op.Open() == 0 {
		t.Fatal("nothing open to snapshot")
	}

	fresh := func(c Config) *Operator {
		o, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	other := cfg
	other.Window.Gap = 800
	tests := []struct {
		name string
		op   *Operator
		data []byte
		want string
	}{
		{"empty", fresh(cfg), nil, "corrupt window snapshot: not a window snapshot"},
		{"not a snapshot", fresh(cfg), []byte("hello world"), "corrupt window snapshot: not a window snapshot"},
		{"newer version", fresh(cfg), append([]byte("EWOP"), 3), "corrupt window snapshot: format version 3, this eddy reads version 2"},
		{"different window", fresh(other), snap, "corrupt window snapshot: written for a different window or aggregates"},
		{"truncated", fresh(cfg), snap[:len(snap)-3], "corrupt window snapshot: "},
		{"trailing bytes", fresh(cfg), append(slices.Clone(snap), 0), "corrupt window snapshot: 1 bytes after the end"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.op.Restore(tt.data)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Restore = %v, want ErrCorrupt", err)
			}
			if got := err.Error(); len(got) < len(tt.want) || got[:len(tt.want)] != tt.want {
				t.Errorf("Restore = %q, want prefix %q", got, tt.want)
			}
			if tt.op.Open() != 0 || tt.op.Watermark() != NoWatermark {
				t.Errorf("after a failed Restore: Open=%d Watermark=%d, want an empty operator", tt.op.Open(), tt.op.Watermark())
			}
		})
	}
	t.Run("every single-byte corruption is an error or a valid state, never a panic", func(t *testing.T) {
		for i := range snap {
			bad := slices.Clone(snap)
			bad[i] ^= 0xff
			_ = fresh(cfg).Restore(bad)
		}
	})
	t.Run("used operator", func(t *testing.T) {
		if err := op.Restore(snap); err == nil {
			t.Fatal("Restore into an operator with state succeeded")
		}
	})
}

// TestSnapshotValues checks that every kind of key value survives.
func TestSnapshotValues(t *testing.T) {
	keys := []value.Value{{}, value.OfBool(true), value.OfInt(-5), value.OfFloat(2.5), value.OfTime(1700000000000),
		value.OfString("ü"), value.OfJSON(`{"a":1}`)}
	var want []string
	collect := func(out *[]string) func(*Result) {
		return func(r *Result) { *out = append(*out, fmt.Sprintf("%v %d", r.Key, r.Aggs[0].I)) }
	}
	cfg := Config{Window: Spec{Type: TumblingType, Size: 10}, Keys: []int{0}, Aggs: []Agg{{Func: Count, Arg: -1}}, Emit: collect(&want)}
	op, _ := New(cfg)
	for _, k := range keys {
		if _, err := op.Add(5, []value.Value{k}); err != nil {
			t.Fatal(err)
		}
	}
	snap := op.AppendSnapshot(nil)
	op.Flush()
	var got []string
	cfg.Emit = collect(&got)
	op2, _ := New(cfg)
	if err := op2.Restore(snap); err != nil {
		t.Fatal(err)
	}
	op2.Flush()
	if !slices.Equal(got, want) || len(got) != len(keys) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// FuzzRestore feeds arbitrary bytes to Restore: it must return an error or
// a state that can be snapshotted and fired, never panic. The seeds are
// real snapshots of each window type.
func FuzzRestore(f *testing.F) {
	configs := fuzzConfigs()
	for i, cfg := range configs {
		op, _ := New(cfg)
		wm := Watermark{OutOfOrder: 1000}
		for _, e := range randomStream(uint64(i+1), 80) {
			op.Add(e.ts, rowOf(e))
			op.Advance(wm.Observe(e.ts))
		}
		f.Add(uint8(i), op.AppendSnapshot(nil))
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		op, _ := New(configs[int(which)%len(configs)])
		if err := op.Restore(data); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		op.AppendSnapshot(nil)
		op.Add(1_000_500, rowOf(ev{ts: 1_000_500, key: "k1", v: 3}))
		op.Flush()
	})
}

func fuzzConfigs() []Config {
	emit := func(*Result) {}
	return []Config{
		{Window: Spec{Type: TumblingType, Size: 2000}, Keys: []int{0}, Aggs: allAggs, Lateness: 1000, Emit: emit},
		{Window: Spec{Type: HoppingType, Size: 3000, Slide: 1000}, Keys: []int{0}, Aggs: allAggs, Emit: emit},
		{Window: Spec{Type: SessionType, Gap: 700}, Keys: []int{0}, Aggs: allAggs, Lateness: 2000, Emit: emit},
	}
}
