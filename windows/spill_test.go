package windows

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/eddyhq/eddy/value"
)

// wideStream is like randomStream over many keys, so that a small cache
// must evict and reload windows all the time.
func wideStream(seed uint64, n, keys int) []ev {
	return genStream(rand.New(rand.NewPCG(seed, 11)), n, keys, 40)
}

type windowOp interface {
	Add(ts int64, row []value.Value) (bool, error)
	Advance(w int64)
	Flush()
	Open() int
	AppendSnapshot([]byte) []byte
	Restore([]byte) error
}

func feedOp(t *testing.T, op windowOp, wm *Watermark, evs []ev) {
	t.Helper()
	for _, e := range evs {
		if _, err := op.Add(e.ts, rowOf(e)); err != nil {
			t.Fatalf("Add(%v): %v", e, err)
		}
		op.Advance(wm.Observe(e.ts))
	}
}

// TestSpillMatchesMemory runs the same disordered stream over 400 keys
// through the in-memory operator and through a spilling one whose cache
// holds a few dozen windows, and requires the same rows in the same order.
// Along the way the spilling operator is checkpointed, fed further (as a
// run that then crashes), and restored from the checkpoint into a new
// operator that carries on from the cut.
func TestSpillMatchesMemory(t *testing.T) {
	for _, sc := range testSpecs {
		for seed := uint64(1); seed <= 3; seed++ {
			t.Run(fmt.Sprintf("%s/seed%d", sc.name, seed), func(t *testing.T) {
				const n = 6000
				evs := wideStream(seed, n, 400)
				cfg := func(out *[]string) Config {
					return Config{Window: sc.spec, Keys: []int{0}, Aggs: allAggs, Lateness: sc.lateness,
						Emit: func(r *Result) { *out = append(*out, fmtRow(r)) }}
				}
				var want, got, lost []string
				ref, err := New(cfg(&want))
				if err != nil {
					t.Fatal(err)
				}
				refWM := Watermark{OutOfOrder: 1000}
				feedOp(t, ref, &refWM, evs)
				ref.Flush()

				dir := t.TempDir()
				opts := SpillOptions{Dir: dir, CacheBytes: 64 << 10}
				newSpill := func(out *[]string) *Spill {
					sp, err := NewSpill(cfg(out), opts)
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { sp.Close() })
					return sp
				}
				rng := rand.New(rand.NewPCG(seed, 5))
				cuts := []int{0, rng.IntN(n), rng.IntN(n), rng.IntN(n), n}
				slices.Sort(cuts)
				sp := newSpill(&got)
				wm := Watermark{OutOfOrder: 1000}
				evicted := false
				for i := 1; i < len(cuts); i++ {
					feedOp(t, sp, &wm, evs[cuts[i-1]:cuts[i]])
					if ev, ld := sp.Traffic(); ev > 0 && ld > 0 {
						evicted = true
					}
					snap := sp.AppendSnapshot(nil)
					if err := sp.Err(); err != nil {
						t.Fatal(err)
					}
					open := sp.Open()
					mx, seen := wm.MaxEventTime()
					// the run carries on past the checkpoint, then dies
					sp.base.cfg.Emit = func(r *Result) { lost = append(lost, fmtRow(r)) }
					feedOp(t, sp, &wm, evs[cuts[i]:min(n, cuts[i]+500)])
					if err := sp.Close(); err != nil {
						t.Fatal(err)
					}
					sp = newSpill(&got)
					if err := sp.Restore(snap); err != nil {
						t.Fatalf("Restore after %d records: %v", cuts[i], err)
					}
					if sp.Open() != open {
						t.Fatalf("Open() after restore = %d, want %d", sp.Open(), open)
					}
					wm = Watermark{OutOfOrder: 1000}
					wm.Restore(mx, seen)
				}
				sp.Flush()
				if err := sp.Err(); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("rows differ from the memory operator's\n got %d rows\nwant %d rows\nfirst difference: %s", len(got), len(want), firstDiff(got, want))
				}
				if len(want) < 100 {
					t.Fatalf("only %d rows: the stream does not exercise anything", len(want))
				}
				if !evicted {
					t.Fatal("the cache never evicted: the test does not exercise the store")
				}
				if sp.Open() != 0 {
					t.Fatalf("Open() after Flush = %d", sp.Open())
				}
			})
		}
	}
}

// TestSpillRefusesMemorySnapshot: a checkpoint of the memory backend is
// not silently read as a store checkpoint.
func TestSpillRefusesMemorySnapshot(t *testing.T) {
	cfg := Config{Window: Spec{Type: SessionType, Gap: 300}, Keys: []int{0}, Aggs: allAggs, Emit: func(*Result) {}}
	op, _ := New(cfg)
	feedOp(t, op, &Watermark{}, wideStream(1, 50, 5))
	sp, err := NewSpill(cfg, SpillOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if err := sp.Restore(op.AppendSnapshot(nil)); err == nil {
		t.Fatal("a memory snapshot restored into a spilling operator")
	}
	snap := sp.AppendSnapshot(nil)
	op2, _ := New(cfg)
	if err := op2.Restore(snap); err == nil {
		t.Fatal("a store snapshot restored into a memory operator")
	}
}

// TestOrderedKeyAgreesWithCompare: the store's key order is value.Compare's.
func TestOrderedKeyAgreesWithCompare(t *testing.T) {
	vals := []value.Value{
		{}, value.OfBool(false), value.OfBool(true),
		value.OfInt(math.MinInt64), value.OfInt(-1), value.OfInt(0), value.OfInt(1), value.OfInt(1 << 53), value.OfInt(1<<53 + 1), value.OfInt(math.MaxInt64),
		value.OfFloat(math.Inf(-1)), value.OfFloat(-2.5), value.OfFloat(math.Copysign(0, -1)), value.OfFloat(0.5), value.OfFloat(1), value.OfFloat(1e300), value.OfFloat(math.Inf(1)), value.OfFloat(math.NaN()),
		{K: value.Time, I: -5}, {K: value.Time, I: 1700000000000},
		value.OfString(""), value.OfString("a"), value.OfString("a\x00"), value.OfString("a\x00b"), value.OfString("a\x01"), value.OfString("ab"), value.OfString("b"),
		{K: value.JSON, S: `{"a":1}`}, {K: value.JSON, S: `[1]`},
	}
	rng := rand.New(rand.NewPCG(3, 3))
	for range 2000 {
		vals = append(vals, value.OfInt(rng.Int64N(2000)-1000), value.OfFloat(rng.NormFloat64()*100), value.OfString(string([]byte{byte(rng.IntN(3)), byte('a' + rng.IntN(3))})))
	}
	for i, a := range vals {
		for _, b := range vals[max(0, i-40):min(len(vals), i+40)] {
			want := value.Compare(a, b)
			for _, pair := range [][2]value.Value{{a, b}} {
				ka, kb := appendOrdered(nil, pair[0]), appendOrdered(nil, pair[1])
				got := bytes.Compare(ka, kb)
				if want != 0 && got != want {
					t.Fatalf("Compare(%v, %v) = %d but the encodings compare %d", a, b, want, got)
				}
				if want == 0 && got != 0 && !(a.IsNumber() && b.IsNumber()) {
					t.Fatalf("%v and %v are equal but encode differently", a, b)
				}
			}
			// tuples: the first field decides, then the second
			ta := appendOrdered(appendOrdered(nil, a), value.OfInt(1))
			tb := appendOrdered(appendOrdered(nil, b), value.OfInt(0))
			if want != 0 && bytes.Compare(ta, tb) != want {
				t.Fatalf("tuple (%v, 1) vs (%v, 0): the first field does not decide", a, b)
			}
		}
	}
	if !bytes.Equal(appendOrdered(nil, value.OfInt(3)), appendOrdered(nil, value.OfFloat(3))) {
		t.Fatal("3 and 3.0 encode differently: they would be two keys")
	}
}

// TestSpillRestoreDamaged: a snapshot naming a store checkpoint that is
// gone, or whose files are damaged, is an error wrapping ErrCorrupt, not a
// silent fresh start.
func TestSpillRestoreDamaged(t *testing.T) {
	cfg := Config{Window: Spec{Type: TumblingType, Size: 2000}, Keys: []int{0}, Aggs: allAggs, Emit: func(*Result) {}}
	dir := t.TempDir()
	sp, err := NewSpill(cfg, SpillOptions{Dir: dir, CacheBytes: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	feedOp(t, sp, &Watermark{OutOfOrder: 1000}, wideStream(2, 2000, 100))
	snap := sp.AppendSnapshot(nil)
	if err := errors.Join(sp.Err(), sp.Close()); err != nil {
		t.Fatal(err)
	}
	ck := filepath.Join(dir, "ck-1")
	for _, damage := range []struct {
		name string
		do   func() error
	}{
		{"manifest garbled", func() error {
			m, _ := filepath.Glob(filepath.Join(ck, "MANIFEST-*"))
			if len(m) != 1 {
				return fmt.Errorf("manifests: %v", m)
			}
			return os.WriteFile(m[0], []byte("not a manifest"), 0o644)
		}},
		{"checkpoint gone", func() error { return os.RemoveAll(ck) }},
	} {
		t.Run(damage.name, func(t *testing.T) {
			if err := damage.do(); err != nil {
				t.Fatal(err)
			}
			sp, err := NewSpill(cfg, SpillOptions{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			defer sp.Close()
			if err := sp.Restore(snap); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Restore = %v, want an error wrapping ErrCorrupt", err)
			}
		})
	}
}

// TestSpillDueScanLinear: with more session keys than the cache holds,
// the due scans of all advances together visit each index entry a bounded
// number of times; they used to restart at the first entry on every
// advance and revisit those of every cached key (430 records/s).
func TestSpillDueScanLinear(t *testing.T) {
	cfg := Config{Window: Spec{Type: SessionType, Gap: 30 * 60_000}, Keys: []int{0}, Lateness: 10 * 60_000,
		Aggs: []Agg{{Name: "n", Func: Count, Arg: -1}}, Emit: func(*Result) {}}
	sp, err := NewSpill(cfg, SpillOptions{Dir: t.TempDir(), MemoryLimit: 128 << 20, CacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	feedSessionKeys(t, sp, 60_000, 20_000)
	if err := sp.Err(); err != nil {
		t.Fatal(err)
	}
	if sp.indexed == 0 || sp.evicts == 0 {
		t.Fatalf("the cache never evicted (indexed %d, evicted %d): the test does not test", sp.indexed, sp.evicts)
	}
	t.Logf("indexed %d, scanned %d, evicted %d, loaded %d", sp.indexed, sp.scanned, sp.evicts, sp.loads)
	if sp.scanned > 3*sp.indexed {
		t.Errorf("due scans visited %d index entries for %d written", sp.scanned, sp.indexed)
	}
}

// TestSpillDiskFull: a full disk under the live store fails the checkpoint
// with the error instead of waiting for ever on a flush Pebble retries.
func TestSpillDiskFull(t *testing.T) {
	var full atomic.Bool
	fs := errorfs.Wrap(vfs.Default, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if full.Load() && op.Kind.ReadOrWrite() == errorfs.OpIsWrite {
			return syscall.ENOSPC
		}
		return nil
	}))
	cfg := Config{Window: Spec{Type: SessionType, Gap: 30 * 60_000}, Keys: []int{0}, Lateness: 10 * 60_000,
		Aggs: []Agg{{Name: "n", Func: Count, Arg: -1}}, Emit: func(*Result) {}}
	// not t.TempDir: the failed store's goroutines outlive the test, and
	// may still be writing when its directory is removed
	dir, err := os.MkdirTemp("", "spill-full")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sp, err := NewSpill(cfg, SpillOptions{Dir: dir, MemoryLimit: 128 << 20, CacheBytes: 1 << 20, fs: fs})
	if err != nil {
		t.Fatal(err)
	}
	feedSessionKeys(t, sp, 20_000, 5_000)
	if err := sp.Err(); err != nil {
		t.Fatal(err)
	}
	full.Store(true)
	done := make(chan struct{})
	go func() {
		sp.AppendSnapshot(nil)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the checkpoint still waits on a flush to a full disk after 60 s")
	}
	if err := sp.Err(); err == nil || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("Err() = %v, want the full disk", err)
	}
	full.Store(false)
	sp.Close()
}
