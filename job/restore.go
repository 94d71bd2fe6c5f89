package job

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/state"
	"github.com/eddyhq/eddy/state/pebblestore"
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
	// the sinks that decide the checkpoint (sinkKind.decides), the sinks
	// opened so far that redo their commits after them (Kafka), and
	// whether the source group's offsets are committed in one's
	// transactions
	deciders   int
	redoers    int
	groupInTxn bool
}

// openState opens (or, with reset, first removes) the state directory and
// loads its last checkpoint, refusing one written for another pipeline.
func openState(p *pipeline.Pipeline, reset bool) (*stateRun, error) {
	// checkRun refused stdin and a second sink that decides
	deciders := 0
	for _, t := range p.Sinks {
		if sinkKindOf(t, pipeline.AsSink).decides != "" {
			deciders++
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
	fields := state.Describe(p, kindOfSources(p).describe(p.Source), describeTarget)
	for _, ck := range cks {
		if err := state.Check(dir, ck, fields); err != nil {
			st.Close()
			return nil, specErr(err)
		}
	}
	meta := state.Meta{Pipeline: p.Name, Spec: p.File, Fingerprint: state.Fingerprint(fields), Semantics: fields}
	cp := &state.Checkpointer{Store: st, Meta: meta, Offsets: kindOfSources(p).offsets}
	s := &stateRun{store: st, cks: cks, cp: cp, deciders: deciders}
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
	return s.ck.Progress(describeTarget(t), dead)
}

// track registers a sink with the checkpointer: rolled back on restart
// when it can be (files, DuckDB), else only named.
func (s *stateRun) track(name string, x any, dead bool) {
	if s == nil {
		return
	}
	tr := state.Tracked{Name: name}
	if c, ok := x.(sink.Checkpointed); ok && can(x, resumable.Resumable) {
		tr.Sink = c
	}
	if t, ok := x.(sink.Transactional); ok && can(x, inTransactions.Transactional) {
		tr.Txn = t
	}
	if dead {
		s.cp.Dead = &tr
	} else {
		s.cp.Sinks = append(s.cp.Sinks, tr)
	}
}

// What a sink says of itself when it can be rolled back only sometimes:
// a JSON Lines file but not stdout, a Kafka sink in transactions.
type (
	resumable      interface{ Resumable() bool }
	inTransactions interface{ Transactional() bool }
)

// startsAt is a source whose partitions start at offsets computed when it
// opened (a Kafka source).
type startsAt interface {
	StartOffsets() map[source.Partition]int64
}

// can reports whether x, when it implements I, says yes (f); a value
// that does not implement I always can.
func can[I any](x any, f func(I) bool) bool {
	i, ok := x.(I)
	return !ok || f(i)
}

// start restores the engine from the checkpoint, or writes a first
// checkpoint for a fresh start (so that a crash before the next one
// restarts from the beginning with the sinks as they were at the start).
func (s *stateRun) start(ctx context.Context, eng *engine.Engine, src source.Source) error {
	if s.ck != nil {
		if err := eng.Restore(s.ck.Engine); err != nil {
			return fmt.Errorf("state %s: restore: %w", s.store.Dir(), err)
		}
		return s.cp.RestoreParts(s.ck)
	}
	if ks, ok := src.(startsAt); ok {
		// record where the partitions start (a Kafka source): a restart
		// must not compute a start like latest or time:-15m anew
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
func windowStore(p *pipeline.Pipeline) (windows.Store, error) {
	if p.State.Backend != "pebble" {
		return nil, nil
	}
	ws, err := pebblestore.Open(pebblestore.Options{Dir: filepath.Join(p.State.Dir, "windows"), MemoryLimit: p.State.MemoryLimit})
	if err != nil {
		return nil, err
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// the collector keeps the heap within what the store leaves
		debug.SetMemoryLimit(ws.HeapLimit())
	}
	return ws, nil // the engine closes it
}
