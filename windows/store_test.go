package windows

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/eddyhq/eddy/value"
)

// wideStream is like randomStream over many keys, so that a small cache
// must evict and reload windows all the time.
func wideStream(seed uint64, n, keys int) []ev {
	return genStream(rand.New(rand.NewPCG(seed, 11)), n, keys, 40)
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

// TestDueScanLinear: with more session keys than the cache holds,
// the due scans of all advances together visit each index entry a bounded
// number of times; they used to restart at the first entry on every
// advance and revisit those of every cached key (430 records/s).
func TestDueScanLinear(t *testing.T) {
	cfg := Config{Window: Spec{Type: SessionType, Gap: 30 * 60_000}, Keys: []int{0}, Lateness: 10 * 60_000,
		Aggs: []Agg{{Name: "n", Func: Count, Arg: -1}}, Emit: func(*Result) {}}
	cfg.Store = NewMemStore(1 << 20)
	sp, err := New(cfg)
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

// TestDueScanWaitsForNextEntry: an advance scans the store's fire index
// only once the watermark reaches the next stored entry. 2,000 keys, one
// record each a millisecond apart, are evicted; then one cached key takes
// a record every millisecond for 10 s, and the watermark follows. Their
// 2,000 ends come within 2 s, and an advance at most every millisecond
// may find one due; past the last, nothing is stored before the end of
// the input. The bound used to become w+1 after every scan, so every
// later advance scanned again (36,812 scans before the end of input in
// the clickstream run of docs/performance.md; 199,995 before).
func TestDueScanWaitsForNextEntry(t *testing.T) {
	const gap, keys = 60_000, 2000
	rows := 0
	cfg := Config{Window: Spec{Type: SessionType, Gap: gap}, Keys: []int{0},
		Aggs: []Agg{{Name: "n", Func: Count, Arg: -1}}, Emit: func(*Result) { rows++ }, Store: NewMemStore(16 << 10)}
	sp, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	row := make([]value.Value, 1)
	for i := range keys {
		row[0] = value.OfString(fmt.Sprintf("k%05d", i))
		sp.Add(int64(i), row)
		sp.Advance(int64(i))
	}
	if sp.evicts < keys/2 {
		t.Fatalf("%d keys evicted of %d: the test does not test", sp.evicts, keys)
	}
	row[0] = value.OfString("hot")
	for ts := int64(keys); ts < gap+10_000; ts++ {
		sp.Add(ts, row)
		sp.Advance(ts)
	}
	if err := sp.Err(); err != nil {
		t.Fatal(err)
	}
	if rows < keys*9/10 {
		t.Fatalf("%d sessions fired of %d", rows, keys)
	}
	if sp.scans > keys+10 {
		t.Fatalf("%d scans of the fire index for %d stored sessions", sp.scans, keys)
	}
	t.Logf("%d scans, %d entries visited, %d sessions fired", sp.scans, sp.scanned, rows)
}

// feedSessionKeys sends n records over keys random keys, 100 ms of event
// time apart, so a key comes back after keys/10 s on average: with
// 30-minute sessions and keys ≥ 18,000 sessions close all the time while
// others extend, over more keys than a small cache holds.
func feedSessionKeys(tb testing.TB, op *Operator, n, keys int) {
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

func TestMemStoreOrder(t *testing.T) {
	s := NewMemStore(0)
	for _, k := range []string{"b", "a", "c", "ab"} {
		s.Set([]byte(k), []byte("v"+k))
	}
	s.Delete([]byte("c"))
	s.Set([]byte("c"), []byte("vc2"))
	s.Delete([]byte("a"))
	var got []string
	s.Scan([]byte("a"), []byte("z"), func(k, v []byte) bool {
		got = append(got, string(k)+"="+string(v))
		s.Set([]byte("bb"), nil) // a write during the scan is allowed
		return true
	})
	if want := "[ab=vab b=vb c=vc2]"; fmt.Sprint(got) != want {
		t.Fatalf("Scan = %v, want %s", got, want)
	}
	s.DeleteRange([]byte("b"), []byte("c"))
	ck, _ := s.Checkpoint(nil)
	r := NewMemStore(0)
	if err := r.Restore(ck); err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	r.Scan(nil, []byte{0xff}, func(k, v []byte) bool { got = append(got, string(k)); return true })
	if want := "[ab c]"; fmt.Sprint(got) != want {
		t.Fatalf("after DeleteRange and a checkpoint: %v, want %s", got, want)
	}
}

// TestQueuesHoldOnlyCachedSessions: the fire and keep queues hold each
// cached session once and nothing else. They used to keep an item per
// extension of a session and the items of evicted sessions until a purge,
// which held the evicted sessions on the heap: the pebble backend's
// resident memory went far past memory_limit (445 MB at 128 MiB on 2 M
// clickstream records).
func TestQueuesHoldOnlyCachedSessions(t *testing.T) {
	for _, lateness := range []int64{0, 10 * 60_000} {
		t.Run(fmt.Sprintf("lateness=%d", lateness), func(t *testing.T) {
			cfg := Config{Window: Spec{Type: SessionType, Gap: 30 * 60_000}, Keys: []int{0}, Lateness: lateness,
				Aggs: []Agg{{Name: "n", Func: Count, Arg: -1}}, Emit: func(*Result) {}}
			cfg.Store = NewMemStore(256 << 10)
			sp, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer sp.Close()
			// a key comes back every 200 s on average: its session grows
			// many times before it closes
			const keys = 2_000
			wm := Watermark{OutOfOrder: 1000}
			row := make([]value.Value, 1)
			rng := rand.New(rand.NewPCG(4, 2))
			for i := range 60_000 {
				row[0] = value.OfString(fmt.Sprintf("user-%07d", rng.IntN(keys)))
				ts := int64(1_000_000 + i*100)
				if _, err := sp.Add(ts, row); err != nil {
					t.Fatal(err)
				}
				sp.Advance(wm.Observe(ts))
				if i%1000 != 999 {
					continue
				}
				cached := 0
				for _, ks := range sp.keys {
					cached += len(ks.list)
				}
				if q := len(sp.fireQ) + len(sp.keepQ); q != cached {
					t.Fatalf("after %d records the queues hold %d items for %d cached sessions", i+1, q, cached)
				}
				for _, q := range []sessionHeap{sp.fireQ, sp.keepQ} {
					for j, it := range q {
						if int(it.s.qi) != j || it.s.inQ == 0 {
							t.Fatalf("queue item %d: the session says index %d, queue %q", j, it.s.qi, it.s.inQ)
						}
					}
				}
			}
			if err := sp.Err(); err != nil {
				t.Fatal(err)
			}
			if sp.evicts == 0 {
				t.Fatal("the cache never evicted: the test does not test")
			}
		})
	}
}
