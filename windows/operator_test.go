package windows

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/eddyhq/eddy/value"
)

// ev is one input record: event time, key, and a numeric value (nil = null).
type ev struct {
	ts  int64
	key string
	v   any
}

func rowOf(e ev) []value.Value {
	row := []value.Value{value.OfString(e.key), {}}
	switch x := e.v.(type) {
	case int:
		row[1] = value.OfInt(int64(x))
	case float64:
		row[1] = value.OfFloat(x)
	case string:
		row[1] = value.OfString(x)
	}
	return row
}

func fmtRow(r *Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s [%d,%d)", r.Key[0].S, r.Start, r.End)
	if r.Revision > 0 {
		fmt.Fprintf(&b, " r%d", r.Revision)
	}
	for _, a := range r.Aggs {
		b.WriteByte(' ')
		b.Write(value.AppendJSON(nil, a))
	}
	return b.String()
}

// run feeds events through an operator the way the engine does: check late
// against the current watermark, add, then advance the watermark.
func run(t *testing.T, spec Spec, ooo, lateness int64, aggs []Agg, evs []ev) (rows []string, late int) {
	t.Helper()
	op, err := New(Config{Window: spec, Keys: []int{0}, Aggs: aggs, Lateness: lateness,
		Emit: func(r *Result) { rows = append(rows, fmtRow(r)) }})
	if err != nil {
		t.Fatal(err)
	}
	wm := Watermark{OutOfOrder: ooo}
	for _, e := range evs {
		l, err := op.Add(e.ts, rowOf(e))
		if err != nil {
			t.Fatalf("Add(%v): %v", e, err)
		}
		if l {
			late++
		}
		op.Advance(wm.Observe(e.ts))
	}
	op.Flush()
	if op.Open() != 0 {
		t.Errorf("after Flush %d states still open", op.Open())
	}
	return rows, late
}

var countSum = []Agg{{Name: "n", Func: Count, Arg: -1}, {Name: "s", Func: Sum, Arg: 1}}

func TestWindows(t *testing.T) {
	tests := []struct {
		name     string
		spec     Spec
		ooo, L   int64
		evs      []ev
		want     []string
		wantLate int
	}{
		{name: "empty input", spec: Spec{Type: TumblingType, Size: 10}, want: nil},
		{name: "tumbling boundaries half-open", spec: Spec{Type: TumblingType, Size: 10},
			evs:  []ev{{0, "a", 1}, {9, "a", 2}, {10, "a", 4}, {19, "a", 8}, {20, "a", 16}},
			want: []string{"a [0,10) 2 3", "a [10,20) 2 12", "a [20,30) 1 16"}},
		{name: "tumbling negative times floor", spec: Spec{Type: TumblingType, Size: 10},
			evs:  []ev{{-11, "a", 1}, {-10, "a", 1}, {-1, "a", 1}, {0, "a", 1}},
			want: []string{"a [-20,-10) 1 1", "a [-10,0) 2 2", "a [0,10) 1 1"}},
		{name: "fire order by end then key", spec: Spec{Type: TumblingType, Size: 10},
			evs:  []ev{{1, "b", 1}, {2, "a", 1}, {11, "c", 1}, {12, "a", 1}, {25, "z", 1}},
			want: []string{"a [0,10) 1 1", "b [0,10) 1 1", "a [10,20) 1 1", "c [10,20) 1 1", "z [20,30) 1 1"}},
		{name: "fires when W reaches end exactly", spec: Spec{Type: TumblingType, Size: 10}, ooo: 0,
			evs:      []ev{{5, "a", 1}, {10, "b", 1}, {9, "a", 1}},
			want:     []string{"a [0,10) 1 1", "b [10,20) 1 1"},
			wantLate: 1},
		{name: "out of order within bound", spec: Spec{Type: TumblingType, Size: 10}, ooo: 5,
			evs:  []ev{{8, "a", 1}, {14, "a", 2}, {9, "a", 4}, {15, "a", 8}, {3, "a", 16}},
			want: []string{"a [0,10) 2 5", "a [10,20) 2 10"}, wantLate: 1},
		{name: "nulls: count() counts, sum skips", spec: Spec{Type: TumblingType, Size: 10},
			evs:  []ev{{1, "a", nil}, {2, "a", nil}, {3, "b", 5}},
			want: []string{"a [0,10) 2 null", "b [0,10) 1 5"}},
		{name: "hopping overlaps", spec: Spec{Type: HoppingType, Size: 10, Slide: 5},
			evs:  []ev{{0, "a", 1}, {4, "a", 2}, {5, "a", 4}, {12, "a", 8}},
			want: []string{"a [-5,5) 2 3", "a [0,10) 3 7", "a [5,15) 2 12", "a [10,20) 1 8"}},
		{name: "hopping size not a multiple of slide", spec: Spec{Type: HoppingType, Size: 7, Slide: 3},
			evs:  []ev{{6, "a", 1}},
			want: []string{"a [0,7) 1 1", "a [3,10) 1 1", "a [6,13) 1 1"}},
		{name: "hopping partially late record counts in open windows", spec: Spec{Type: HoppingType, Size: 10, Slide: 5},
			evs: []ev{{1, "a", 1}, {12, "a", 1}, {8, "a", 100}},
			// at W=12 [-5,5) and [0,10) have fired; 8 still joins [5,15)
			want: []string{"a [-5,5) 1 1", "a [0,10) 1 1", "a [5,15) 2 101", "a [10,20) 1 1"}},
		{name: "session merge and gap boundary inclusive", spec: Spec{Type: SessionType, Gap: 10},
			evs:  []ev{{0, "a", 1}, {10, "a", 2}, {30, "a", 4}, {41, "a", 8}},
			want: []string{"a [0,20) 2 3", "a [30,40) 1 4", "a [41,51) 1 8"}},
		{name: "session bridge merges two sessions", spec: Spec{Type: SessionType, Gap: 10}, ooo: 100,
			evs:  []ev{{0, "a", 1}, {18, "a", 2}, {9, "a", 4}, {50, "b", 1}},
			want: []string{"a [0,28) 3 7", "b [50,60) 1 1"}},
		{name: "session record before first within gap joins", spec: Spec{Type: SessionType, Gap: 10}, ooo: 100,
			evs:  []ev{{20, "a", 1}, {11, "a", 2}, {9, "a", 4}},
			want: []string{"a [9,30) 3 7"}},
		{name: "sessions per key independent", spec: Spec{Type: SessionType, Gap: 5},
			evs:  []ev{{0, "a", 1}, {3, "b", 1}, {6, "a", 1}, {20, "b", 1}},
			want: []string{"a [0,5) 1 1", "b [3,8) 1 1", "a [6,11) 1 1", "b [20,25) 1 1"}},
		{name: "session fired is closed; late join is late", spec: Spec{Type: SessionType, Gap: 10},
			evs:      []ev{{0, "a", 1}, {30, "b", 1}, {5, "a", 1}},
			want:     []string{"a [0,10) 1 1", "b [30,40) 1 1"},
			wantLate: 1},
		{name: "session: fired session not reopened at exact gap", spec: Spec{Type: SessionType, Gap: 10},
			evs:  []ev{{0, "a", 1}, {10, "b", 1}, {10, "a", 1}},
			want: []string{"a [0,10) 1 1", "a [10,20) 1 1", "b [10,20) 1 1"}},
		{name: "allowed lateness re-emits with revision", spec: Spec{Type: TumblingType, Size: 10}, L: 10,
			evs: []ev{{1, "a", 1}, {12, "a", 2}, {3, "a", 4}, {5, "b", 8}, {25, "a", 1}, {7, "a", 100}},
			// W=12 fires [0,10); 3 and 5 arrive within lateness; b's row is new (revision 0);
			// W=25 ≥ 10+10 drops [0,10): 7 is late
			want:     []string{"a [0,10) 1 1", "a [0,10) r1 2 5", "b [0,10) 1 8", "a [10,20) 1 2", "a [20,30) 1 1"},
			wantLate: 1},
		{name: "session allowed lateness extends fired session", spec: Spec{Type: SessionType, Gap: 10}, L: 30,
			// W=30 fires a [0,10); 5 and 14 extend it while still complete (re-emitted at once);
			// 22 extends it past W, so it waits for the watermark again
			evs:  []ev{{0, "a", 1}, {30, "b", 1}, {5, "a", 2}, {14, "a", 4}, {22, "a", 8}},
			want: []string{"a [0,10) 1 1", "a [0,15) r1 2 3", "a [0,24) r2 3 7", "a [0,32) r3 4 15", "b [30,40) 1 1"}},
		{name: "session within lateness but after purge starts anew", spec: Spec{Type: SessionType, Gap: 10}, L: 20,
			evs:  []ev{{0, "a", 1}, {30, "b", 1}, {5, "a", 2}},
			want: []string{"a [0,10) 1 1", "a [5,15) 1 2", "b [30,40) 1 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, late := run(t, tt.spec, tt.ooo, tt.L, countSum, tt.evs)
			if !slices.Equal(got, tt.want) {
				t.Errorf("rows:\n got %q\nwant %q", got, tt.want)
			}
			if late != tt.wantLate {
				t.Errorf("late = %d, want %d", late, tt.wantLate)
			}
		})
	}
}

func TestAggregates(t *testing.T) {
	aggs := []Agg{
		{Name: "n", Func: Count, Arg: -1}, {Name: "nn", Func: Count, Arg: 1},
		{Name: "sum", Func: Sum, Arg: 1}, {Name: "avg", Func: Avg, Arg: 1},
		{Name: "min", Func: Min, Arg: 1}, {Name: "max", Func: Max, Arg: 1},
		{Name: "cd", Func: CountDistinct, Arg: 1}, {Name: "first", Func: First, Arg: 1}, {Name: "last", Func: Last, Arg: 1},
	}
	evs := []ev{{5, "a", 3}, {2, "a", 1.5}, {7, "a", nil}, {6, "a", 3.0}, {1, "a", nil}, {9, "a", -2}}
	got, _ := run(t, Spec{Type: TumblingType, Size: 10}, 100, 0, aggs, evs)
	want := []string{"a [0,10) 6 4 5.5 1.375 -2 3 3 1.5 -2"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	// sum of ints stays int; overflow switches to float
	got, _ = run(t, Spec{Type: TumblingType, Size: 10}, 0, 0, aggs[2:3], []ev{{1, "a", math.MaxInt64}, {2, "a", 1}})
	if want := []string{"a [0,10) 9223372036854776000"}; !slices.Equal(got, want) {
		t.Errorf("overflow: got %q, want %q", got, want)
	}
	// the integer sum is exact in any order: overflowing on the way does not matter
	got, _ = run(t, Spec{Type: TumblingType, Size: 10}, 100, 0, aggs[2:4], []ev{{1, "a", math.MaxInt64}, {2, "a", 1}, {3, "a", -1}, {4, "a", math.MinInt64}})
	if want := []string{"a [0,10) -1 -0.25"}; !slices.Equal(got, want) {
		t.Errorf("exact sum: got %q, want %q", got, want)
	}
	// first and last by event time, not arrival; ties: first keeps earliest arrival, last takes latest
	got, _ = run(t, Spec{Type: TumblingType, Size: 10}, 100, 0, aggs[7:9], []ev{{5, "a", 1}, {3, "a", 2}, {3, "a", 3}, {8, "a", 4}, {8, "a", 5}})
	if want := []string{"a [0,10) 2 5"}; !slices.Equal(got, want) {
		t.Errorf("first/last: got %q, want %q", got, want)
	}
}

func TestAddRejectsNonNumeric(t *testing.T) {
	var rows int
	op, _ := New(Config{Window: Spec{Type: HoppingType, Size: 10, Slide: 5}, Keys: []int{0},
		Aggs: []Agg{{Name: "n", Func: Count, Arg: -1}, {Name: "s", Func: Sum, Arg: 1}}, Emit: func(*Result) { rows++ }})
	if _, err := op.Add(1, rowOf(ev{1, "a", "n/a"})); err == nil || !strings.Contains(err.Error(), "not a number") {
		t.Fatalf("err = %v", err)
	}
	if op.Open() != 0 {
		t.Fatalf("a rejected record left %d states", op.Open())
	}
	op.Flush()
	if rows != 0 {
		t.Fatalf("rejected record produced %d rows", rows)
	}
}

func TestSketchErrorBound(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 9))
	gens := map[string]func() float64{
		"uniform":     func() float64 { return r.Float64() * 1000 },
		"lognormal":   func() float64 { return math.Exp(r.NormFloat64() * 3) },
		"mixed signs": func() float64 { return r.NormFloat64() * 100 },
		"ints":        func() float64 { return float64(r.IntN(100000)) },
		"with zeros":  func() float64 { return float64(r.IntN(3)) },
	}
	for name, g := range gens {
		for _, n := range []int{1, 2, 10, 1000, 50000} {
			sk := NewSketch()
			a, b := NewSketch(), NewSketch()
			xs := make([]float64, n)
			for i := range xs {
				xs[i] = g()
				sk.Add(xs[i])
				if i%2 == 0 {
					a.Add(xs[i])
				} else {
					b.Add(xs[i])
				}
			}
			a.Merge(b)
			slices.Sort(xs)
			for _, q := range []float64{0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 1} {
				exact := xs[Rank(q, uint64(n))]
				for _, s := range []*Sketch{sk, a} {
					est := s.Quantile(q)
					if math.Abs(est-exact) > QuantileAccuracy*math.Abs(exact)+1e-12 {
						t.Errorf("%s n=%d q=%v: estimate %v, exact %v: relative error %.4f > %v",
							name, n, q, est, exact, math.Abs(est-exact)/math.Abs(exact), QuantileAccuracy)
					}
				}
			}
		}
	}
}

func TestSketchExactExtremes(t *testing.T) {
	s := NewSketch()
	for _, x := range []float64{3.7, -2.25, 1e-9, 1234.5} {
		s.Add(x)
	}
	if got := s.Quantile(0); got != -2.25 {
		t.Errorf("q=0: %v, want -2.25", got)
	}
	if got := s.Quantile(1); got != 1234.5 {
		t.Errorf("q=1: %v, want 1234.5", got)
	}
	one := NewSketch()
	one.Add(42.42)
	if got := one.Quantile(0.5); got != 42.42 {
		t.Errorf("single value: %v, want 42.42", got)
	}
}

func TestSpecValidate(t *testing.T) {
	for _, s := range []Spec{{Type: TumblingType}, {Type: HoppingType, Size: 10}, {Type: HoppingType, Size: 10, Slide: 20}, {Type: SessionType}, {}} {
		if s.Validate() == nil {
			t.Errorf("Validate(%+v) = nil, want error", s)
		}
	}
}

func TestRank(t *testing.T) {
	for _, tc := range []struct {
		q    float64
		n    uint64
		want uint64
	}{{0.29, 101, 29}, {0.57, 101, 57}, {0.5, 2, 0}, {0.95, 21, 19}, {1, 10, 9}, {0, 10, 0}, {0.999, 1000, 998}, {0.5, 0, 0}} {
		if got := Rank(tc.q, tc.n); got != tc.want {
			t.Errorf("Rank(%v, %d) = %d, want %d", tc.q, tc.n, got, tc.want)
		}
	}
}

// The interner hands out one string per value, and starts afresh when
// full (a string it handed out keeps its bytes).
func TestInterner(t *testing.T) {
	var in interner
	a := in.string([]byte("page-1"))
	b := in.string([]byte("page-1"))
	if a != b || unsafe.StringData(a) != unsafe.StringData(b) {
		t.Errorf("two strings for one value: %q %q", a, b)
	}
	for i := range maxInterned + 10 {
		in.string(fmt.Appendf(nil, "v%d", i))
	}
	if len(in.m) > maxInterned {
		t.Errorf("interner holds %d strings, at most %d", len(in.m), maxInterned)
	}
	if a != "page-1" {
		t.Errorf("a string handed out changed: %q", a)
	}
}

// TestCountDistinctSets: count_distinct's set is a short array up to
// smallSetCap values and a map past it; the count is the same on either
// side of the change, through session merges that join two sets, and
// through a snapshot of either form.
func TestCountDistinctSets(t *testing.T) {
	cd := []Agg{{Name: "d", Func: CountDistinct, Arg: 1}}
	for _, n := range []int{1, smallSetCap - 1, smallSetCap, smallSetCap + 1, 3 * smallSetCap} {
		t.Run(fmt.Sprintf("%d distinct", n), func(t *testing.T) {
			var evs []ev
			for i := range 2 * n { // each value twice, and 1 and 1.0 are one value
				var v any = i % n
				if i >= n {
					v = float64(i % n)
				}
				evs = append(evs, ev{int64(i), "a", v}, ev{int64(i), "a", nil})
			}
			got, _ := run(t, Spec{Type: TumblingType, Size: 100}, 0, 0, cd, evs)
			if want := fmt.Sprintf("a [0,100) %d", n); len(got) != 1 || got[0] != want {
				t.Errorf("rows %q, want [%s]", got, want)
			}
		})
	}
	// two sessions of three values each, two of them shared, joined by a
	// late record of a seventh: one set of smallSetCap+1 values from two
	// small ones
	evs := []ev{{0, "a", 1}, {1, "a", 2}, {2, "a", 3}, {30, "a", 3}, {31, "a", 4}, {32, "a", 5}, {15, "a", 6}}
	got, _ := run(t, Spec{Type: SessionType, Gap: 20}, 100, 0, cd, evs)
	if want := []string{"a [0,52) 6"}; !slices.Equal(got, want) {
		t.Errorf("merged sessions: %q, want %q", got, want)
	}
	// a snapshot of each form, restored and added to
	for _, n := range []int{0, smallSetCap, smallSetCap + 1} {
		var rows []string
		cfg := Config{Window: Spec{Type: TumblingType, Size: 100}, Keys: []int{0}, Aggs: cd,
			Emit: func(r *Result) { rows = append(rows, fmtRow(r)) }}
		op, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if _, err := op.Add(int64(i), rowOf(ev{int64(i), "a", i})); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := op.Add(1, rowOf(ev{1, "b", nil})); err != nil { // a window whose set is empty
			t.Fatal(err)
		}
		snap := op.AppendSnapshot(nil)
		op2, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := op2.Restore(snap); err != nil {
			t.Fatalf("restore of %d values: %v", n, err)
		}
		for _, v := range []any{0, n, n + 1} { // an old value (when n > 0) and two new (one when n is 0)
			if _, err := op2.Add(50, rowOf(ev{50, "a", v})); err != nil {
				t.Fatal(err)
			}
		}
		op2.Flush()
		want := []string{fmt.Sprintf("a [0,100) %d", n+2), "b [0,100) 0"}
		if n == 0 {
			want[0] = "a [0,100) 2"
		}
		if !slices.Equal(rows, want) {
			t.Errorf("restored %d values: %q, want %q", n, rows, want)
		}
	}
}

// TestAddKeyed: a row added with its key's encoding made by the caller
// (AppendKey) lands where Add puts it, for every kind of window; the
// keys here are the values, so 1 and 1.0 must be one key either way.
func TestAddKeyed(t *testing.T) {
	evs := []ev{{0, "a", 1}, {5, "b", 1.0}, {12, "a", 2}, {13, "b", 1}, {40, "a", 1.0}, {41, "c", nil}, {7, "a", 3}}
	for name, spec := range map[string]Spec{"tumbling": {Type: TumblingType, Size: 10}, "hopping": {Type: HoppingType, Size: 20, Slide: 10}, "session": {Type: SessionType, Gap: 10}} {
		t.Run(name, func(t *testing.T) {
			var rows [2][]string
			for i := range rows {
				op, err := New(Config{Window: spec, Keys: []int{1}, Aggs: []Agg{{Name: "n", Func: Count, Arg: -1}}, Lateness: 10,
					Emit: func(r *Result) { rows[i] = append(rows[i], fmtRow(r)) }})
				if err != nil {
					t.Fatal(err)
				}
				wm := Watermark{OutOfOrder: 5}
				for _, e := range evs {
					row := rowOf(e)
					var err error
					if i == 0 {
						_, err = op.Add(e.ts, row)
					} else {
						_, err = op.AddKeyed(e.ts, row, AppendKey(nil, row, []int{1}))
					}
					if err != nil {
						t.Fatal(err)
					}
					op.Advance(wm.Observe(e.ts))
				}
				op.Flush()
			}
			if len(rows[0]) == 0 || !slices.Equal(rows[0], rows[1]) {
				t.Errorf("AddKeyed wrote %q, Add %q", rows[1], rows[0])
			}
		})
	}
}
