package cmd

import (
	"context"
	"fmt"

	"github.com/eddyhq/eddy/duck"
	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/state"
)

// stateRun is the state of one `eddy run` with a state section. Its
// methods are no-ops on a nil *stateRun (no state section).
type stateRun struct {
	store       *state.Store
	ck          *state.Checkpoint // restored from; nil on a fresh start
	cp          *state.Checkpointer
	atLeastOnce []string // sinks that cannot be rolled back
}

// openState opens (or, with reset, first removes) the state directory and
// loads its last checkpoint, refusing one written for another pipeline.
func openState(p *pipeline.Pipeline, reset bool) (*stateRun, error) {
	switch {
	case p.Source.File == "-":
		return nil, usagef("%s: state: cannot resume stdin after a restart; read a file or a topic, or remove the state section", p.File)
	case p.Source.Kafka != nil && p.Source.Kafka.Group != "":
		return nil, usagef("%s: state: a consumer group with a state directory is not supported yet (positions come from the checkpoint); remove source.kafka.group or the state section", p.File)
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
	ck, err := st.Load()
	if err != nil {
		st.Close()
		return nil, err
	}
	fields := state.Describe(p)
	if ck != nil {
		if err := state.Check(dir, ck, fields); err != nil {
			st.Close()
			return nil, usageError{err}
		}
	}
	meta := state.Meta{Pipeline: p.Name, Spec: p.File, Fingerprint: state.Fingerprint(fields), Semantics: fields}
	if ck != nil {
		meta.Seq = ck.Meta.Seq
	}
	return &stateRun{store: st, ck: ck, cp: &state.Checkpointer{Store: st, Meta: meta}}, nil
}

func (s *stateRun) restored() *state.Checkpoint {
	if s == nil {
		return nil
	}
	return s.ck
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
		tr.Sink = v
	}
	if dead {
		s.cp.Dead = &tr
	} else {
		s.cp.Sinks = append(s.cp.Sinks, tr)
	}
}

// resumeTable makes a DuckDB sink skip the rows it committed after the
// checkpoint: the run writes them again, in the same order.
func (s *stateRun) resumeTable(t pipeline.Target, tb *duck.Table) error {
	if s == nil {
		return nil
	}
	s.track(state.DescribeTarget(t), tb, false)
	if s.ck == nil {
		return nil
	}
	want, ok := s.ck.Progress(state.DescribeTarget(t), false)
	if !ok {
		return fmt.Errorf("state %s: the checkpoint has no progress for %s", s.store.Dir(), state.DescribeTarget(t))
	}
	have := tb.Progress()
	if have < want {
		return fmt.Errorf("resume duckdb %s table %s: %d rows are counted in %s, fewer than the %d of the checkpoint: the table was changed since",
			t.DuckDB.Path, t.DuckDB.Table, have, duck.ProgressTable, want)
	}
	tb.Skip(have - want)
	return nil
}

// start restores the engine from the checkpoint, or writes a first
// checkpoint for a fresh start (so that a crash before the next one
// restarts from the beginning with the sinks as they were at the start).
func (s *stateRun) start(ctx context.Context, eng *engine.Engine) error {
	if s.ck != nil {
		if err := eng.Restore(s.ck.Engine); err != nil {
			return fmt.Errorf("state %s: restore: %w", s.store.Dir(), err)
		}
		return nil
	}
	if err := s.cp.Checkpoint(ctx, eng); err != nil {
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
