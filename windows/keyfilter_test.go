package windows

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestKeyFilterNoFalseNegative: under random adds and removes (each key
// added while absent, removed while present, as the operator does), every
// key present is reported, almost no absent one is, and the table grows
// and sheds its deleted slots.
func TestKeyFilterNoFalseNegative(t *testing.T) {
	f := newKeyFilter(64 << 20)
	rng := rand.New(rand.NewPCG(4, 4))
	present := map[string]bool{}
	const keys = 50_000
	falsePos, absentChecks := 0, 0
	for i := range 400_000 {
		k := fmt.Sprintf("key-%d", rng.IntN(keys))
		if present[k] {
			f.remove(k)
			delete(present, k)
		} else {
			f.add(k)
			present[k] = true
		}
		if i%5000 == 0 {
			for p := range present {
				if !f.mayHold(p) {
					t.Fatalf("after %d operations: %q is present but the filter says not", i, p)
				}
			}
			for range 100 {
				a := fmt.Sprintf("absent-%d", rng.Int())
				absentChecks++
				if f.mayHold(a) {
					falsePos++
				}
			}
		}
		if f.n != len(present) {
			t.Fatalf("after %d operations: the filter counts %d keys, %d present", i, f.n, len(present))
		}
	}
	if falsePos > 0 {
		t.Errorf("%d false positives in %d checks of absent keys (64-bit hashes)", falsePos, absentChecks)
	}
	if 4*(f.n+f.dead) > 3*len(f.slots) || len(f.slots) > 8*keys {
		t.Errorf("%d slots for %d keys and %d deleted", len(f.slots), f.n, f.dead)
	}
}

// TestKeyFilterMultiset: a hash added twice (two keys sharing it, here
// the same key) stays until it was removed twice, so the removal of one of
// two colliding keys never hides the other.
func TestKeyFilterMultiset(t *testing.T) {
	f := newKeyFilter(1 << 20)
	steps := []struct {
		op   string
		want bool
	}{{"add", true}, {"add", true}, {"remove", true}, {"remove", false}, {"add", true}, {"remove", false}}
	for i, s := range steps {
		if s.op == "add" {
			f.add("k")
		} else {
			f.remove("k")
		}
		if got := f.mayHold("k"); got != s.want {
			t.Fatalf("step %d (%s): mayHold = %v, want %v", i, s.op, got, s.want)
		}
	}
}

// TestKeyFilterBudget: a filter that would outgrow its budget turns off
// (every key may be stored) and frees its table; reset turns it on again.
func TestKeyFilterBudget(t *testing.T) {
	cases := []struct {
		budget int64
		keys   int
		off    bool
	}{
		{4 << 10, 1, true}, // below the smallest table
		{64 << 10, 6000, false},
		{64 << 10, 7000, true},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%d-bytes-%d-keys", c.budget, c.keys), func(t *testing.T) {
			f := newKeyFilter(c.budget)
			for i := range c.keys {
				f.add(fmt.Sprint(i))
				if f.bytes() > c.budget {
					t.Fatalf("%d bytes over a budget of %d", f.bytes(), c.budget)
				}
			}
			if f.off != c.off {
				t.Fatalf("off = %v, want %v", f.off, c.off)
			}
			if c.off && (!f.mayHold("never added") || f.bytes() != 0) {
				t.Fatalf("an off filter must say every key may be stored and hold nothing (%d bytes)", f.bytes())
			}
			f.reset()
			if c.budget >= filterMinLen*8 && (f.off || f.mayHold("0")) {
				t.Fatal("reset did not empty the filter and turn it on")
			}
		})
	}
}

// countingStore counts the point reads that find nothing.
type countingStore struct {
	Store
	gets, misses int
}

func (c *countingStore) Get(k []byte, f func([]byte)) (bool, error) {
	ok, err := c.Store.Get(k, f)
	c.gets++
	if !ok {
		c.misses++
	}
	return ok, err
}

// TestKeyFilterSkipsReads: over more session keys than the cache holds,
// the key filter spares the store the reads of keys it does not hold
// (new keys, and keys whose sessions all expired), and the rows are the
// same as without it and as in memory.
func TestKeyFilterSkipsReads(t *testing.T) {
	run := func(store Store, filter bool) ([]string, *countingStore) {
		cs := &countingStore{Store: store}
		var rows []string
		cfg := Config{Window: Spec{Type: SessionType, Gap: 30 * 60_000}, Keys: []int{0}, Lateness: 5 * 60_000,
			Aggs: []Agg{{Name: "n", Func: Count, Arg: -1}, {Name: "s", Func: Sum, Arg: 1}},
			Emit: func(r *Result) { rows = append(rows, fmtRow(r)) }, Store: cs}
		op, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if !filter {
			op.filter = nil
		}
		feedSessionKeys(t, op, 30_000, 10_000)
		if err := op.Err(); err != nil {
			t.Fatal(err)
		}
		if store.CacheBytes() != 0 && op.evicts == 0 {
			t.Fatal("the cache never evicted: the test does not test")
		}
		return rows, cs
	}
	want, _ := run(NewMemStore(0), false)
	without, before := run(NewMemStore(1<<20), false)
	with, after := run(NewMemStore(1<<20), true)
	t.Logf("point reads without the filter %d (%d found nothing), with it %d (%d)", before.gets, before.misses, after.gets, after.misses)
	if fmt.Sprint(without) != fmt.Sprint(want) || fmt.Sprint(with) != fmt.Sprint(want) {
		t.Fatalf("rows differ: %d without the filter, %d with it, %d in memory", len(without), len(with), len(want))
	}
	if before.misses < 5_000 {
		t.Fatalf("only %d reads found nothing without the filter: the test does not test", before.misses)
	}
	if after.misses > before.misses/100 {
		t.Fatalf("with the filter %d reads still found nothing (%d without)", after.misses, before.misses)
	}
}
