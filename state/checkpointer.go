package state

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/sink"
)

// Tracked is a sink as a Checkpointer sees it.
type Tracked struct {
	Name string            // as in Describe
	Sink sink.Checkpointed // a file, rolled back by its length
	Txn  sink.Transactional
	// neither: the sink cannot be rolled back (at-least-once)
}

// Part is a sink whose contents each checkpoint holds (sink.Stateful),
// as a Checkpointer sees it.
type Part struct {
	Name  string // its key in Checkpoint.Parts
	State sink.Stateful
}

// Checkpointer writes checkpoints of an engine run to a Store. It
// implements engine.Checkpointer and runs on the engine's goroutine. With
// no transactional sink the Pebble write runs on a goroutine of its own
// while the engine carries on; at most one write is in flight, and Wait (or
// the next Checkpoint) waits for it. With transactional sinks (DuckDB,
// Kafka) a checkpoint is two-phase: the Pebble write is waited for, then
// each transactional sink commits with a marker of the checkpoint.
type Checkpointer struct {
	Store *Store
	// Meta is the template of every checkpoint: pipeline, fingerprint and
	// semantics, and Seq of the checkpoint restored from (0 for none).
	Meta  Meta
	Sinks []Tracked
	Dead  *Tracked
	// Parts are the stateful sinks: their state is taken with the
	// engine's in every checkpoint and put back by RestoreParts.
	Parts []Part
	// Group, when set, commits a consumer group's offsets after the
	// sinks' commits (when no Kafka sink commits them in its transaction).
	Group sink.Transactional
	// Offsets makes the commits carry the source positions (a Kafka
	// source) as offsets.
	Offsets bool
	Clock   func() time.Time // default time.Now
	// AfterStep, when set, is called after each step of a checkpoint: a
	// file sink's fsync ("sync <name>"), the Pebble write ("save"), each
	// transactional sink's commit ("commit <name>"), and on a restart the
	// roll back to the checkpoint the sinks hold ("rollback") and each
	// commit done again ("redo <name>"). An error it returns fails the
	// checkpoint as the step's own failure would: it is the fault point of
	// the tests, nil in eddy.
	AfterStep func(step string, seq int64) error

	// Last is how long the engine waited for the last checkpoint (flush,
	// sync, snapshot, and with transactional sinks the write and commits).
	Last time.Duration

	saving   chan error // the write in flight; nil when none
	partBufs [][]byte   // reused for Parts: the write in flight holds them
	// what Metrics reads from another goroutine
	count, totalNs, lastNs, lastBytes atomic.Int64
}

// CheckpointMetrics describes the checkpoints taken so far.
type CheckpointMetrics struct {
	Count       int64
	Total, Last time.Duration // the engine's wait, summed and for the last one
	LastBytes   int64         // the last one's window snapshot and redo rows
}

// Metrics returns the checkpoints' counters; safe to call while the
// engine runs.
func (c *Checkpointer) Metrics() CheckpointMetrics {
	return CheckpointMetrics{Count: c.count.Load(), Total: time.Duration(c.totalNs.Load()),
		Last: time.Duration(c.lastNs.Load()), LastBytes: c.lastBytes.Load()}
}

// done records a checkpoint that started at start.
func (c *Checkpointer) done(start time.Time, ck *Checkpoint) {
	c.Last = time.Since(start)
	n := int64(len(ck.Engine.Window))
	for _, r := range ck.Redo {
		n += int64(len(r))
	}
	for _, p := range ck.Parts {
		n += int64(len(p))
	}
	c.lastBytes.Store(n)
	c.lastNs.Store(int64(c.Last))
	c.totalNs.Add(int64(c.Last))
	c.count.Add(1)
}

// Wait waits for the checkpoint being written and returns its error. Call
// it before closing the Store.
func (c *Checkpointer) Wait() error {
	if c.saving == nil {
		return nil
	}
	err := <-c.saving
	c.saving = nil
	return err
}

var _ engine.Checkpointer = (*Checkpointer)(nil)

// Checkpoint waits for the previous checkpoint's write, flushes the sinks
// and dead letters, makes the files durable (fsync), takes the engine's
// state and writes one checkpoint holding it and the sinks' progress: in
// the background without transactional sinks (files written before a
// crash that beats the write are cut back on restart), else synchronously,
// followed by the sinks' commits in order (see Choose).
func (c *Checkpointer) Checkpoint(ctx context.Context, e *engine.Engine) error {
	now := time.Now
	if c.Clock != nil {
		now = c.Clock
	}
	start := time.Now()
	// the engine's snapshot buffer is reused by e.Checkpoint: the previous
	// write must be done with it
	if err := c.Wait(); err != nil {
		return err
	}
	if err := e.Flush(ctx); err != nil {
		return err
	}
	m := c.Meta
	m.Seq++
	m.Time = now().UTC()
	m.Sinks = nil
	for _, t := range c.Sinks {
		s, err := c.progress(t, m.Seq)
		if err != nil {
			return err
		}
		m.Sinks = append(m.Sinks, s)
	}
	if c.Dead != nil {
		s, err := c.progress(*c.Dead, m.Seq)
		if err != nil {
			return err
		}
		m.Dead = &s
	}
	txns := c.txns()
	ck := &Checkpoint{Meta: m, Engine: e.Checkpoint()}
	if err := e.WindowErr(); err != nil {
		return err
	}
	if len(c.Parts) > 0 {
		if len(c.partBufs) != len(c.Parts) {
			c.partBufs = make([][]byte, len(c.Parts))
		}
		ck.Parts = make(map[string][]byte, len(c.Parts))
		for i, p := range c.Parts {
			c.partBufs[i] = p.State.AppendState(c.partBufs[i][:0])
			ck.Parts[p.Name] = c.partBufs[i]
		}
	}
	for i, t := range txns {
		if r, ok := t.Txn.(sink.Redoer); ok && i > 0 {
			if ck.Redo == nil {
				ck.Redo = map[string][]byte{}
			}
			ck.Redo[t.Name] = r.AppendRedo(nil)
		}
	}
	if len(txns) == 0 && c.Group == nil {
		c.saving = make(chan error, 1)
		go func(done chan<- error) {
			err := c.Store.Save(ck)
			if err == nil {
				err = c.step("save", m.Seq)
			}
			done <- err
		}(c.saving)
		c.Meta.Seq = m.Seq
		c.done(start, ck)
		return nil
	}
	if err := c.Store.Save(ck); err != nil {
		return err
	}
	c.Meta.Seq = m.Seq
	if err := c.step("save", m.Seq); err != nil {
		return err
	}
	offsets := c.offsets(ck)
	for _, t := range txns {
		if err := t.Txn.Commit(ctx, m.Seq, offsets); err != nil {
			return fmt.Errorf("commit %s: %w", t.Name, err)
		}
		if err := c.step("commit "+t.Name, m.Seq); err != nil {
			return err
		}
	}
	if c.Group != nil {
		if err := c.Group.Commit(ctx, m.Seq, offsets); err != nil {
			return err
		}
	}
	c.done(start, ck)
	return nil
}

// RestoreParts puts back the state of each of c.Parts that ck holds; a
// part ck does not hold (a checkpoint written before the sink was
// stateful) starts empty.
func (c *Checkpointer) RestoreParts(ck *Checkpoint) error {
	for _, p := range c.Parts {
		b, ok := ck.Parts[p.Name]
		if !ok {
			continue
		}
		if err := p.State.RestoreState(b); err != nil {
			return fmt.Errorf("state %s: %w: checkpoint #%d: %s: %v", c.Store.Dir(), ErrCorrupt, ck.Meta.Seq, p.Name, err)
		}
	}
	return nil
}

func (c *Checkpointer) step(step string, seq int64) error {
	if c.AfterStep != nil {
		return c.AfterStep(step, seq)
	}
	return nil
}

// txns returns the transactional sinks in the order they commit: those
// that cannot redo a commit (DuckDB) first, then the Redoers (Kafka).
func (c *Checkpointer) txns() []Tracked {
	var first, then []Tracked
	for _, t := range c.Sinks {
		switch t.Txn.(type) {
		case nil:
		case sink.Redoer:
			then = append(then, t)
		default:
			first = append(first, t)
		}
	}
	return append(first, then...)
}

// offsets returns the source positions of ck as offsets to commit (nil
// without Offsets).
func (c *Checkpointer) offsets(ck *Checkpoint) map[string]map[int32]int64 {
	if !c.Offsets {
		return nil
	}
	out := map[string]map[int32]int64{}
	for _, p := range ck.Engine.Partitions {
		if p.Next < 0 {
			continue
		}
		if out[p.Topic] == nil {
			out[p.Topic] = map[int32]int64{}
		}
		out[p.Topic][p.Partition] = p.Next
	}
	return out
}

func (c *Checkpointer) progress(t Tracked, seq int64) (Sink, error) {
	s := Sink{Name: t.Name}
	switch {
	case t.Txn != nil:
		s.Progress, s.Txn, s.Exact = t.Txn.Rows(), true, true
	case t.Sink != nil:
		if err := t.Sink.Sync(); err != nil {
			return s, err
		}
		if err := c.step("sync "+t.Name, seq); err != nil {
			return s, err
		}
		s.Progress, s.Exact = t.Sink.Progress(), true
	}
	return s, nil
}

// Choose returns, of the checkpoints cks (the last first, as LoadAll
// returns them), the one to restore so that the state matches what the
// transactional sinks hold: the last one whose recorded row count for the
// first sink to commit (c.txns) is the count that sink's marker holds.
// Sinks that commit after it and hold the previous checkpoint's rows (a
// crash between two commits) are returned in redo: their rows of the
// chosen checkpoint are in its Redo and must be committed again
// (sink.Redoer) before the run goes on. Anything else is an error: the
// sinks were changed since.
func (c *Checkpointer) Choose(cks []*Checkpoint) (ck *Checkpoint, redo []Tracked, err error) {
	if len(cks) == 0 {
		return nil, nil, nil
	}
	txns := c.txns()
	if len(txns) == 0 {
		return cks[0], nil, nil
	}
	expect := func(ck *Checkpoint, t Tracked) int64 {
		if s := ck.Sink(t.Name, false); s != nil && s.Txn {
			return s.Progress
		}
		return -1
	}
	mismatch := func(t Tracked, rows int64) error {
		var want []string
		for _, ck := range cks {
			want = append(want, fmt.Sprintf("%d (checkpoint #%d)", expect(ck, t), ck.Meta.Seq))
		}
		return fmt.Errorf("state %s: %s holds %d rows committed by eddy, but the stored checkpoints expect %s: it was changed since, or this state directory was not written with it",
			c.Store.Dir(), t.Name, rows, strings.Join(want, " or "))
	}
	lead := txns[0]
	rows, _ := lead.Txn.Committed()
	for _, k := range cks {
		if expect(k, lead) == rows {
			ck = k
			break
		}
	}
	if ck == nil {
		return nil, nil, mismatch(lead, rows)
	}
	for _, t := range txns[1:] {
		rows, _ := t.Txn.Committed()
		switch {
		case rows == expect(ck, t):
		case ck == cks[0] && len(cks) > 1 && rows == expect(cks[1], t) && ck.Redo[t.Name] != nil:
			redo = append(redo, t)
		default:
			return nil, nil, mismatch(t, rows)
		}
	}
	return ck, redo, nil
}

// Resume picks the checkpoint to restore of cks (Choose), makes it the
// store's last one when it is not (Store.Rollback: the next Save must
// not write over it), and commits again the rows the sinks after the
// first one missed (Redo). It is safe to fail anywhere in it: a run
// started again picks the same checkpoint.
func (c *Checkpointer) Resume(ctx context.Context, cks []*Checkpoint) (*Checkpoint, error) {
	ck, redo, err := c.Choose(cks)
	if err != nil || ck == nil {
		return nil, err
	}
	if ck != cks[0] {
		if err := c.Store.Rollback(ck); err != nil {
			return nil, err
		}
		if err := c.step("rollback", ck.Meta.Seq); err != nil {
			return nil, err
		}
	}
	if err := c.Redo(ctx, ck, redo); err != nil {
		return nil, err
	}
	return ck, nil
}

// Redo commits again, in the transactional sinks Choose returned in redo,
// their rows of ck.
func (c *Checkpointer) Redo(ctx context.Context, ck *Checkpoint, redo []Tracked) error {
	for _, t := range redo {
		r, ok := t.Txn.(sink.Redoer)
		if !ok {
			return fmt.Errorf("state %s: %s cannot redo its commit", c.Store.Dir(), t.Name)
		}
		if err := r.Redo(ctx, ck.Redo[t.Name], ck.Meta.Seq, c.offsets(ck)); err != nil {
			return fmt.Errorf("state %s: commit the rows of checkpoint #%d again in %s: %w", c.Store.Dir(), ck.Meta.Seq, t.Name, err)
		}
		if err := c.step("redo "+t.Name, ck.Meta.Seq); err != nil {
			return err
		}
	}
	return nil
}

// MismatchError is the error for a checkpoint of a different pipeline.
type MismatchError struct {
	Dir     string
	Changes []string // from Changes
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("state %s was written by a different pipeline, so it cannot be restored:\n  %s\nrun with --reset-state to discard the state and start over",
		e.Dir, strings.Join(e.Changes, "\n  "))
}

// Check returns a *MismatchError when ck was written for a pipeline with
// other semantics than fields (from Describe).
func Check(dir string, ck *Checkpoint, fields []Field) error {
	if ck.Meta.Fingerprint == Fingerprint(fields) {
		return nil
	}
	ch := Changes(ck.Meta.Semantics, fields)
	if len(ch) == 0 {
		ch = []string{"the fingerprint differs (" + ck.Meta.Fingerprint + " was stored)"}
	}
	return &MismatchError{Dir: dir, Changes: ch}
}

// Progress returns the stored progress of the sink named name, and
// whether the checkpoint has it.
func (ck *Checkpoint) Progress(name string, dead bool) (int64, bool) {
	s := ck.Sink(name, dead)
	if s == nil {
		return 0, false
	}
	return s.Progress, true
}

// Sink returns the stored progress of the rolled-back sink named name; nil
// when the checkpoint has none.
func (ck *Checkpoint) Sink(name string, dead bool) *Sink {
	if dead {
		if d := ck.Meta.Dead; d != nil && d.Name == name && d.Exact {
			return d
		}
		return nil
	}
	for i, s := range ck.Meta.Sinks {
		if s.Name == name && s.Exact {
			return &ck.Meta.Sinks[i]
		}
	}
	return nil
}
