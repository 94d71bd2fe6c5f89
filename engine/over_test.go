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
)

// TestOver: each window row (one per second here, so the rows reach the
// over stage in time order) is passed on with its aggregates over the
// last rows+1 rows of its key.
func TestOver(t *testing.T) {
	lines := []string{
		`{"ts":1000,"g":"x","v":5}`, `{"ts":2000,"g":"y","v":7}`, `{"ts":3000,"g":"x","v":1}`,
		`{"ts":4000,"g":"x"}`, `{"ts":5000,"g":"y","v":2.5}`, `{"ts":6000,"g":"x","v":9}`,
	}
	window := "time: {field: ts}\nstages:\n  - window: {tumbling: 1s, key: [g], aggregate: {v: max(v)}}\n"
	tests := []struct {
		over string
		want string // the aggregate of each row, in order
	}{
		{"{key: [g], rows: 0, aggregate: {a: sum(v)}}", "5 7 1 null 2.5 9"},
		{"{key: [g], rows: 1, aggregate: {a: sum(v)}}", "5 7 6 1 9.5 9"},
		{"{key: [g], rows: 2, aggregate: {a: avg(v)}}", "5 7 3 3 4.75 5"},
		{"{key: [g], rows: 10, aggregate: {a: count()}}", "1 1 2 3 2 4"},
		{"{key: [g], rows: 10, aggregate: {a: count(v)}}", "1 1 2 2 2 3"},
		{"{key: [g], rows: 2, aggregate: {a: min(v)}}", "5 7 1 1 2.5 1"},
		{"{key: [g], rows: 1, aggregate: {a: max(v)}}", "5 7 5 1 7 9"},
		{"{rows: 1, aggregate: {a: max(v)}}", "5 7 7 1 2.5 9"},
	}
	for _, tt := range tests {
		t.Run(tt.over, func(t *testing.T) {
			rows, _, _ := runSpec(t, window+"  - over: "+tt.over+"\n  - project: {a: a}\n", lines...)
			var got []string
			for _, r := range rows {
				got = append(got, strings.TrimSuffix(strings.TrimPrefix(r, `{"a":`), `}`))
			}
			if g := strings.Join(got, " "); g != tt.want {
				t.Errorf("rows %s, want %s", g, tt.want)
			}
		})
	}
}

// TestOverRestore cuts a stream at random batch boundaries, checkpoints
// and restores a new engine at each: the over stage's rings are restored
// with the windows, so the rows are those of one uninterrupted engine.
func TestOverRestore(t *testing.T) {
	var buf bytes.Buffer
	if err := fixtures.Generate(&buf, "nexmark", fixtures.Options{Count: 20000, Seed: 3, Only: "bids", Disorder: time.Second}); err != nil {
		t.Fatal(err)
	}
	recs := records(strings.Split(strings.TrimSpace(buf.String()), "\n")...)
	plan := compileSpec(t, `time: {field: dateTime, max_out_of_order: 1s}
stages:
  - window: {tumbling: 1s, key: [auction], aggregate: {hi: max(price)}}
  - over: {key: [auction], rows: 3, aggregate: {avg_hi: avg(hi), n: count()}}
`)
	newEngine := func(out *collect) *Engine {
		e, err := New(plan, Options{Sinks: []sink.Sink{out}, Dead: &deadList{}})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	want := &collect{}
	ref := newEngine(want)
	if err := ref.Process(recs); err != nil {
		t.Fatal(err)
	}
	if err := ref.Finish(); err != nil {
		t.Fatal(err)
	}
	repeated := 0
	for _, r := range want.rows {
		if !strings.Contains(r, `"n":1}`) {
			repeated++
		}
	}
	if repeated < 10 {
		t.Fatalf("the stream exercises too little: %d of %d rows have earlier rows", repeated, len(want.rows))
	}
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 5))
			cuts := []int{0, len(recs)}
			for range 5 {
				cuts = append(cuts, rng.IntN(len(recs)))
			}
			slices.Sort(cuts)
			out := &collect{}
			e := newEngine(out)
			for i := 1; i < len(cuts); i++ {
				if err := e.Process(recs[cuts[i-1]:cuts[i]]); err != nil {
					t.Fatal(err)
				}
				ck := e.Checkpoint()
				ck.Window = slices.Clone(ck.Window)
				e = newEngine(out)
				if err := e.Restore(ck); err != nil {
					t.Fatal(err)
				}
			}
			if err := e.Finish(); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(out.rows, want.rows) {
				t.Errorf("rows differ: %d rows, want %d", len(out.rows), len(want.rows))
			}
		})
	}
}
