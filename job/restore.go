package job

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/duck"
	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/state"
	"github.com/eddyhq/eddy/windows"
)

// stateRun is the state of one run with a state section. Its
// methods are no-ops on a nil *stateRun (no state section).
type stateRun struct {
	store       *state.Store
	cks         []*state.Checkpoint // stored, the last first
	ck          *state.Checkpoint   // restored from (see choose); nil on a fresh start
	cp          *state.Checkpointer
	atLeastOnce []string // sinks that cannot be rolled back
	// the Kafka sinks opened so far, and whether the source group's
	// offsets are committed in one's transactions
	kafkaSinks int
	groupInTxn bool
	duckSinks  int
}

// openState opens (or, with reset, first removes) the state directory and
// loads its last checkpoint, refusing one written for another pipeline.
func openState(p *pipeline.Pipeline, reset bool) (*stateRun, error) {
	// checkRun refused stdin and a second duckdb sink
	duckdb := 0
	for _, t := range p.Sinks {
		if t.DuckDB != nil {
			duckdb++
		}
	}
	dir := p.State.Dir
	if reset {
		if err := state.Reset(dir); err != nil {
			return nil, err
		}
	}
	st, err := state.Open(dir)
	if err != nil {
		return nil, err
	}
	cks, err := st.LoadAll()
	if err != nil {
		st.Close()
		return nil, err
	}
	fields := state.Describe(p)
	for _, ck := range cks {
		if err := state.Check(dir, ck, fields); err != nil {
			st.Close()
			return nil, specErr(err)
		}
	}
	meta := state.Meta{Pipeline: p.Name, Spec: p.File, Fingerprint: state.Fingerprint(fields), Semantics: fields}
	cp := &state.Checkpointer{Store: st, Meta: meta, Offsets: p.Source.Kafka != nil}
	s := &stateRun{store: st, cks: cks, cp: cp, duckSinks: duckdb}
	if len(cks) > 0 {
		s.ck = cks[0] // until choose
	}
	return s, nil
}

func (s *stateRun) restored() *state.Checkpoint {
	if s == nil {
		return nil
	}
	return s.ck
}

// choose picks the checkpoint to restore once the transactional sinks are
// open, rolls the store back to it and commits again the rows of the sinks
// that missed its commit (state.Checkpointer.Resume).
func (s *stateRun) choose(ctx context.Context) error {
	if s == nil || len(s.cks) == 0 {
		return nil
	}
	ck, err := s.cp.Resume(ctx, s.cks)
	if err != nil {
		return err
	}
	s.ck, s.cp.Meta.Seq = ck, ck.Meta.Seq
	return nil
}

func (s *stateRun) inexact(name string) {
	if s != nil {
		s.atLeastOnce = append(s.atLeastOnce, name)
	}
}

// progress returns the checkpointed progress of a file target.
func (s *stateRun) progress(t pipeline.Target, dead bool) (int64, bool) {
	if s == nil || s.ck == nil {
		return 0, false
	}
	return s.ck.Progress(state.DescribeTarget(t), dead)
}

// track registers a sink with the checkpointer: rolled back on restart
// when it can be (files, DuckDB), else only named.
func (s *stateRun) track(name string, x any, dead bool) {
	if s == nil {
		return
	}
	tr := state.Tracked{Name: name}
	switch v := x.(type) {
	case *sink.JSONL:
		if v.Resumable() {
			tr.Sink = v
		}
	case *sink.DeadFile:
		if v.Resumable() {
			tr.Sink = v
		}
	case *duck.Table:
		tr.Txn = v
	case *sink.Kafka:
		if v.Transactional() {
			tr.Txn = v
		}
	}
	if dead {
		s.cp.Dead = &tr
	} else {
		s.cp.Sinks = append(s.cp.Sinks, tr)
	}
}

// openKafka opens a Kafka sink that writes in transactions committed at
// each checkpoint with the checkpoint's marker. The first Kafka sink on the
// source's cluster commits the source group's offsets in its transactions;
// the sinks that commit after another (a DuckDB table, an earlier Kafka
// sink) keep their open transaction's rows for the checkpoint (Redo).
func (s *stateRun) openKafka(ctx context.Context, r *runner, t pipeline.Target) (*sink.Kafka, error) {
	name := state.DescribeTarget(t)
	cfg, err := r.targetConfig(t.Kafka)
	if err != nil {
		return nil, err
	}
	// one transactional ID per pipeline and sink: a restarted run fences
	// the killed one and aborts its open transaction
	id := fmt.Sprintf("eddy-state.%s.%s", s.cp.Meta.Fingerprint, state.Fingerprint([]state.Field{{Name: "sink", Value: name}}))
	timeout := min(max(time.Minute, 3*r.p.State.CheckpointEvery), 15*time.Minute)
	cl, err := r.producer(ctx, t.Kafka, kgo.TransactionalID(id), kgo.TransactionTimeout(timeout))
	if err != nil {
		return nil, err
	}
	o := sink.KafkaTxnOptions{Redo: s.duckSinks > 0 || s.kafkaSinks > 0}
	if g := r.p.Source.Kafka; g != nil && g.Group != "" && !s.groupInTxn && cfg == r.srcCfg {
		o.Group, s.groupInTxn = g.Group, true
	}
	s.kafkaSinks++
	k, err := sink.NewKafkaTxn(ctx, cl, t.Kafka.Topic, id, o)
	if err != nil {
		cl.Close()
		return nil, err
	}
	return k, nil
}

// start restores the engine from the checkpoint, or writes a first
// checkpoint for a fresh start (so that a crash before the next one
// restarts from the beginning with the sinks as they were at the start).
func (s *stateRun) start(ctx context.Context, eng *engine.Engine, src source.Source) error {
	if s.ck != nil {
		if err := eng.Restore(s.ck.Engine); err != nil {
			return fmt.Errorf("state %s: restore: %w", s.store.Dir(), err)
		}
		return nil
	}
	if ks, ok := src.(*source.Kafka); ok {
		// record where the partitions start: a restart must not compute
		// a start like latest or time:-15m anew
		eng.StartAt(ks.StartOffsets(), time.Now())
	}
	if err := s.cp.Checkpoint(ctx, eng); err != nil {
		return fmt.Errorf("state %s: first checkpoint: %w", s.store.Dir(), err)
	}
	// the first checkpoint must be stored before anything is written
	if err := s.cp.Wait(); err != nil {
		return fmt.Errorf("state %s: first checkpoint: %w", s.store.Dir(), err)
	}
	return nil
}

// resumeOffsets gives a Kafka source the positions of a checkpoint.
func resumeOffsets(ck *state.Checkpoint) map[source.Partition]int64 {
	if ck == nil {
		return nil
	}
	out := map[source.Partition]int64{}
	for _, p := range ck.Engine.Partitions {
		if p.Next >= 0 {
			out[source.Partition{Topic: p.Topic, Partition: p.Partition}] = p.Next
		}
	}
	return out
}

// windowStore is where a run with a state section keeps its window state:
// in memory (nil) or, with state.backend pebble, in a Pebble store under
// state.dir, in which case the collector keeps the heap within what the
// store leaves (unless GOMEMLIMIT says otherwise).
func windowStore(p *pipeline.Pipeline) *windows.SpillOptions {
	if p.State.Backend != "pebble" {
		return nil
	}
	ws := windows.SpillOptions{Dir: filepath.Join(p.State.Dir, "windows"), MemoryLimit: p.State.MemoryLimit}
	if os.Getenv("GOMEMLIMIT") == "" {
		// the collector keeps the heap within what the store leaves
		debug.SetMemoryLimit(ws.HeapLimit())
	}
	return &ws
}
