package engine

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/fixtures"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/state/pebblestore"
	"github.com/eddyhq/eddy/windows"
)

// afterSpec chains a window, a filter of its rows, a second window over
// them and a top of the second's rows.
const afterSpec = `time: {field: dateTime, max_out_of_order: 1s}
stages:
  - filter: price > 200
  - window:
      tumbling: 2s
      key: [auction]
      aggregate: {n: count(), hi: max(price)}
  - filter: n >= 2
  - project: {auction: auction, n: n, hi: hi, big: hi > 5000}
  - window:
      hopping: {size: 10s, slide: 5s}
      key: [n, big]
      aggregate: {auctions: count(), best: max(hi), first: first(auction)}
  - top: {k: 2, by: [auctions desc, best]}
`

// TestAfterWindowRestore cuts a disordered stream at random batch
// boundaries, checkpoints and restores a new engine at each cut, with
// the first window in memory or in Pebble: the rows, the counters and
// the counts by stage must be those of one uninterrupted engine.
func TestAfterWindowRestore(t *testing.T) {
	var buf bytes.Buffer
	if err := fixtures.Generate(&buf, "nexmark", fixtures.Options{Count: 30000, Seed: 9, Only: "bids", BadRatio: 0.01, Disorder: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	recs := records(strings.Split(strings.TrimSpace(buf.String()), "\n")...)
	plan := compileSpec(t, afterSpec)
	for _, backend := range []string{"memory", "pebble"} {
		dir := t.TempDir()
		newEngine := func(out *collect, dead *deadList) *Engine {
			var store windows.Store
			if backend == "pebble" {
				st, err := pebblestore.Open(pebblestore.Options{Dir: dir, MemoryLimit: 128 << 20})
				if err != nil {
					t.Fatal(err)
				}
				store = st
			}
			e, err := New(plan, Options{Sinks: []sink.Sink{out}, Dead: dead, WindowStore: store})
			if err != nil {
				t.Fatal(err)
			}
			return e
		}
		wantOut, wantDead := &collect{}, &deadList{}
		ref := newEngine(wantOut, wantDead)
		if err := ref.Process(recs); err != nil {
			t.Fatal(err)
		}
		if err := ref.Finish(); err != nil {
			t.Fatal(err)
		}
		ref.Close()
		for seed := uint64(1); seed <= 2; seed++ {
			t.Run(fmt.Sprintf("%s/seed%d", backend, seed), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, 7))
				cuts := []int{0, len(recs)}
				for range 5 {
					cuts = append(cuts, rng.IntN(len(recs)))
				}
				slices.Sort(cuts)
				out, dead := &collect{}, &deadList{}
				e := newEngine(out, dead)
				for i := 1; i < len(cuts); i++ {
					if err := e.Process(recs[cuts[i-1]:cuts[i]]); err != nil {
						t.Fatal(err)
					}
					ck := e.Checkpoint()
					ck.Window = slices.Clone(ck.Window)
					if err := e.WindowErr(); err != nil {
						t.Fatal(err)
					}
					// the old engine leaves without closing its store's
					// checkpoints behind (as a killed process would)
					if backend == "pebble" {
						e.Close()
					}
					e = newEngine(out, dead)
					if err := e.Restore(ck); err != nil {
						t.Fatal(err)
					}
					if e.OpenWindows() != ck.OpenWindows || e.Watermark() != ck.Watermark {
						t.Fatalf("restored: open=%d wm=%d, checkpoint open=%d wm=%d", e.OpenWindows(), e.Watermark(), ck.OpenWindows, ck.Watermark)
					}
				}
				if err := e.Finish(); err != nil {
					t.Fatal(err)
				}
				e.Close()
				if !slices.Equal(out.rows, wantOut.rows) {
					t.Errorf("rows differ: %d rows, want %d\n got %.300v\nwant %.300v", len(out.rows), len(wantOut.rows), out.rows, wantOut.rows)
				}
				if e.Stats() != ref.Stats() {
					t.Errorf("stats %v, want %v", e.Stats(), ref.Stats())
				}
				if got, want := e.Published().Stages, ref.Published().Stages; !slices.Equal(got, want) {
					t.Errorf("counts by stage after restores %+v, want %+v", got, want)
				}
				if len(wantOut.rows) < 5 || ref.Stats().Late == 0 {
					t.Fatalf("the stream exercises too little: %d rows, %v", len(wantOut.rows), ref.Stats())
				}
			})
		}
	}
}

// TestAfterWindowCounts checks the accounting of the stages after a
// window: the run's totals count source records only, each stage's In =
// Passed + Filtered + Dead + Late, and the stage after a window takes the
// rows the window emitted.
func TestAfterWindowCounts(t *testing.T) {
	var buf bytes.Buffer
	if err := fixtures.Generate(&buf, "nexmark", fixtures.Options{Count: 20000, Seed: 3, Only: "bids", BadRatio: 0.02}); err != nil {
		t.Fatal(err)
	}
	recs := records(strings.Split(strings.TrimSpace(buf.String()), "\n")...)
	out := &collect{}
	e, err := New(compileSpec(t, afterSpec), Options{Sinks: []sink.Sink{out}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Process(recs); err != nil {
		t.Fatal(err)
	}
	e.Finish()
	p := e.Published()
	st := p.Stats
	if st.In != int64(len(recs)) || st.In != st.Passed+st.Filtered+st.Dead+st.Late {
		t.Fatalf("totals %v for %d records", st, len(recs))
	}
	if st.Rows != int64(len(out.rows)) {
		t.Errorf("rows = %d, sinks took %d", st.Rows, len(out.rows))
	}
	stages := p.Stages // source, filter, window, filter, project, window, top
	if len(stages) != 7 {
		t.Fatalf("%d stages: %+v", len(stages), stages)
	}
	for i, s := range stages {
		if s.In != s.Passed+s.Filtered+s.Dead+s.Late || s.Passed < 0 {
			t.Errorf("stage %d %+v does not add up", i, s)
		}
	}
	if stages[2].Passed != st.Passed {
		t.Errorf("the first window absorbed %d records, the run passed %d", stages[2].Passed, st.Passed)
	}
	if stages[3].Filtered == 0 || stages[3].Passed == 0 {
		t.Errorf("the filter after the window kept %d and dropped %d rows: a weak test", stages[3].Passed, stages[3].Filtered)
	}
	if stages[6].Filtered == 0 || stages[6].Passed != int64(len(out.rows)) {
		t.Errorf("top: %+v, %d rows written", stages[6], len(out.rows))
	}
	if stages[5].In != stages[4].Passed {
		t.Errorf("the second window took %d rows, the project passed %d", stages[5].In, stages[4].Passed)
	}
}

// TestTopOrder holds the top stage to SQL's rank() and row_number()
// semantics on a window with ties and nulls: nulls last in either
// direction, ties in key order, and with ties every row equal to the
// K-th.
func TestTopOrder(t *testing.T) {
	lines := []string{
		`{"ts":1000,"k":"a","v":5}`, `{"ts":1001,"k":"b","v":7}`, `{"ts":1002,"k":"c"}`,
		`{"ts":1003,"k":"d","v":7}`, `{"ts":1004,"k":"e","v":5}`, `{"ts":1005,"k":"f","v":1}`,
		`{"ts":1006,"k":"g","v":5}`,
	}
	window := "time: {field: ts}\nstages:\n  - window: {tumbling: 10s, key: [k], aggregate: {hi: max(v)}}\n"
	tests := []struct {
		top  string
		want string // the keys of the rows, in order
	}{
		{"{k: 2, by: hi desc}", "b d"},
		{"{k: 3, by: hi desc}", "b d a"},
		{"{k: 3, by: hi desc, ties: true}", "b d a e g"},
		{"{k: 1, by: hi desc, ties: true}", "b d"},
		{"{k: 2, by: hi}", "f a"},
		{"{k: 2, by: hi, ties: true}", "f a e g"},
		{"{k: 7, by: hi}", "f a e g b d c"},
		{"{k: 7, by: hi desc}", "b d a e g f c"},
		{"{k: 2, by: [hi desc, k desc]}", "d b"},
		{"{k: 9, by: k desc, ties: true}", "g f e d c b a"},
	}
	for _, tt := range tests {
		t.Run(tt.top, func(t *testing.T) {
			rows, _, _ := runSpec(t, window+"  - top: "+tt.top+"\n  - project: {k: k}\n", lines...)
			var keys []string
			for _, r := range rows {
				keys = append(keys, strings.Trim(strings.TrimPrefix(r, `{"k":`), `"}`))
			}
			if got := strings.Join(keys, " "); got != tt.want {
				t.Errorf("rows %s, want %s", got, tt.want)
			}
		})
	}
}

// TestAfterWindowDeadRow: a filter that fails on a window's row makes a
// dead letter holding the row, counted in the stage's dead, not in the
// run's (which count source records).
func TestAfterWindowDeadRow(t *testing.T) {
	lines := []string{`{"ts":1000,"k":"a","v":5}`, `{"ts":1001,"k":"b","v":"x"}`, `{"ts":1002,"k":"b"}`}
	plan := compileSpec(t, "time: {field: ts}\nstages:\n  - window: {tumbling: 10s, key: [k], aggregate: {hi: first(v)}}\n  - filter: hi > 1\n")
	out, dead := &collect{}, &deadList{}
	e, err := New(plan, Options{Sinks: []sink.Sink{out}, Dead: dead})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Process(records(lines...)); err != nil {
		t.Fatal(err)
	}
	e.Finish()
	st, stages := e.Stats(), e.Published().Stages
	if st.Dead != 0 || st.Passed != 3 || len(out.rows) != 1 {
		t.Fatalf("stats %v, rows %v", st, out.rows)
	}
	if f := stages[2]; f.In != 2 || f.Dead != 1 || f.Passed != 1 {
		t.Errorf("the filter's counts %+v, want in 2, dead 1, passed 1", f)
	}
	if len(dead.lines) != 1 {
		t.Fatalf("dead letters %v", dead.lines)
	}
	d := fmt.Sprint(dead.lines[0])
	for _, want := range []string{windowResultOrigin, `"k":"b"`, `"hi":"x"`, "filter"} {
		if !strings.Contains(d, want) {
			t.Errorf("dead letter %s lacks %s", d, want)
		}
	}
}
