package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/fixtures"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
)

// TestCheckpointRestore cuts a disordered stream with bad records at random
// batch boundaries; at each cut the engine is checkpointed and replaced by
// a new one restored from it. Rows, dead letters and counters must be those
// of one uninterrupted engine.
func TestCheckpointRestore(t *testing.T) {
	specs := map[string]string{
		"tumbling": `time: {field: dateTime, max_out_of_order: 1s, allowed_lateness: 2s}
stages:
  - filter: price > 1000
  - window:
      tumbling: 10s
      key: [auction]
      aggregate: {n: count(), d: count_distinct(bidder), p: "quantile(price, 0.5)", f: first(channel)}
`,
		"session": `time: {field: dateTime, max_out_of_order: 500ms}
late: drop
stages:
  - window:
      session: {gap: 2s}
      key: [bidder]
      aggregate: {n: count(), hi: max(price), l: last(url)}
`,
		"no window": `stages:
  - filter: price > 5000
  - project: {a: auction, p: price}
`,
	}
	var buf bytes.Buffer
	if err := fixtures.Generate(&buf, "nexmark", fixtures.Options{Count: 20000, Seed: 5, Only: "bids", BadRatio: 0.01, Disorder: 3 * time.Second}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	recs := records(lines...)
	for name, spec := range specs {
		plan := compileSpec(t, spec)
		newEngine := func(out *collect, dead *deadList) *Engine {
			e, err := New(plan, Options{Sinks: []sink.Sink{out}, Dead: dead})
			if err != nil {
				t.Fatal(err)
			}
			return e
		}
		for seed := uint64(1); seed <= 3; seed++ {
			t.Run(fmt.Sprintf("%s/seed%d", name, seed), func(t *testing.T) {
				wantOut, wantDead := &collect{}, &deadList{}
				ref := newEngine(wantOut, wantDead)
				if err := ref.Process(recs); err != nil {
					t.Fatal(err)
				}
				ref.Finish()

				rng := rand.New(rand.NewPCG(seed, 1))
				cuts := []int{0, len(recs)}
				for range 6 {
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
					if st := ck.Stats; st.In != st.Passed+st.Filtered+st.Dead+st.Late || st.In != int64(cuts[i]) {
						t.Fatalf("checkpoint counters %v after %d records", st, cuts[i])
					}
					e = newEngine(out, dead)
					if err := e.Restore(ck); err != nil {
						t.Fatal(err)
					}
					if e.Stats() != ck.Stats || e.OpenWindows() != ck.OpenWindows || e.Watermark() != ck.Watermark {
						t.Fatalf("restored engine: %v open=%d wm=%d, checkpoint %v open=%d wm=%d",
							e.Stats(), e.OpenWindows(), e.Watermark(), ck.Stats, ck.OpenWindows, ck.Watermark)
					}
				}
				e.Finish()
				if !slices.Equal(out.rows, wantOut.rows) {
					t.Errorf("rows differ: %d rows, want %d", len(out.rows), len(wantOut.rows))
				}
				if fmt.Sprint(dead.lines) != fmt.Sprint(wantDead.lines) {
					t.Errorf("dead letters differ: %d, want %d", len(dead.lines), len(wantDead.lines))
				}
				if e.Stats() != ref.Stats() {
					t.Errorf("stats %v, want %v", e.Stats(), ref.Stats())
				}
				if got, want := e.Published().Stages, ref.Published().Stages; !slices.Equal(got, want) {
					t.Errorf("counts by stage after restores %+v, want %+v", got, want)
				}
				if len(wantOut.rows) == 0 || ref.Stats().Dead == 0 {
					t.Fatalf("the stream exercises too little: %v", ref.Stats())
				}
			})
		}
	}
}

// compileSpec parses and compiles a spec given as text.
func compileSpec(t *testing.T, spec string) *pipeline.Plan {
	t.Helper()
	p, err := pipeline.Parse("t.yaml", []byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := pipeline.Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

func TestRestoreRefusesUsedEngine(t *testing.T) {
	plan := compileSpec(t, "stages: [{filter: 'true'}]\n")
	e, _ := New(plan, Options{})
	e.Process(records(`{"a":1}`))
	if err := e.Restore(Checkpoint{}); err == nil {
		t.Fatal("Restore into an engine that has processed records succeeded")
	}
	e2, _ := New(plan, Options{})
	if err := e2.Restore(Checkpoint{Window: []byte("EWOP")}); err == nil {
		t.Fatal("Restore of window state into a pipeline without a window succeeded")
	}
}

// idleSource has no records: Next waits until the context ends.
type idleSource struct{}

func (idleSource) Next(ctx context.Context) (*source.Batch, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (idleSource) Release(*source.Batch) {}
func (idleSource) Bounded() bool         { return false }
func (idleSource) Close() error          { return nil }

// countingCheckpointer records each checkpoint on a channel.
type countingCheckpointer chan Checkpoint

func (c countingCheckpointer) Checkpoint(_ context.Context, e *Engine) error {
	c <- e.Checkpoint()
	return nil
}

// TestRunCheckpointsWhileIdle checks that checkpoints come due without
// batches (a Kafka sink's transaction must not outlive its timeout), and
// that cancelling writes a last one.
func TestRunCheckpointsWhileIdle(t *testing.T) {
	cps := make(countingCheckpointer, 100)
	e, err := New(compileSpec(t, "stages: [{filter: 'true'}]\n"), Options{Checkpointer: cps, CheckpointEvery: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, idleSource{}, e) }()
	deadline := time.After(10 * time.Second)
	for n := 0; n < 2; n++ {
		select {
		case <-cps:
		case <-deadline:
			t.Fatalf("%d checkpoints in 10 s of an idle source, want 2", n)
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}

	// with an interval that never comes due, the only checkpoint is the
	// one written on cancel
	cps = make(countingCheckpointer, 100)
	e, _ = New(compileSpec(t, "stages: [{filter: 'true'}]\n"), Options{Checkpointer: cps, CheckpointEvery: time.Hour})
	ctx, cancel = context.WithCancel(context.Background())
	go func() { done <- Run(ctx, idleSource{}, e) }()
	cancel()
	<-done
	if len(cps) != 1 {
		t.Errorf("%d checkpoints on cancel, want 1", len(cps))
	}
}
