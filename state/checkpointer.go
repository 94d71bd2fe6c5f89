package state

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/sink"
)

// Tracked is a sink as a Checkpointer sees it.
type Tracked struct {
	Name string            // as in Describe
	Sink sink.Checkpointed // nil: the sink cannot be rolled back (at-least-once)
}

// Checkpointer writes checkpoints of an engine run to a Store. It
// implements engine.Checkpointer and runs on the engine's goroutine, except
// for the Pebble write, which runs on a goroutine of its own while the
// engine carries on; at most one write is in flight, and Wait (or the next
// Checkpoint) waits for it.
type Checkpointer struct {
	Store *Store
	// Meta is the template of every checkpoint: pipeline, fingerprint and
	// semantics, and Seq of the checkpoint restored from (0 for none).
	Meta  Meta
	Sinks []Tracked
	Dead  *Tracked
	Clock func() time.Time // default time.Now

	// Last is how long the engine waited for the last checkpoint (flush,
	// sync, snapshot; the write itself runs in the background).
	Last time.Duration

	saving chan error // the write in flight; nil when none
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
// and dead letters, makes the rollback-able ones durable (fsync, commits),
// takes the engine's state and starts writing one checkpoint holding it and
// the sinks' progress. Rows flushed before a crash that beats the write are
// rolled back on restart (files cut back, DuckDB and Kafka rows skipped),
// so the engine need not wait for the write.
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
		s, err := progress(t)
		if err != nil {
			return err
		}
		m.Sinks = append(m.Sinks, s)
	}
	if c.Dead != nil {
		s, err := progress(*c.Dead)
		if err != nil {
			return err
		}
		m.Dead = &s
	}
	ck := &Checkpoint{Meta: m, Engine: e.Checkpoint()}
	if err := e.WindowErr(); err != nil {
		return err
	}
	c.saving = make(chan error, 1)
	go func(done chan<- error) { done <- c.Store.Save(ck) }(c.saving)
	c.Meta.Seq = m.Seq
	c.Last = time.Since(start)
	return nil
}

func progress(t Tracked) (Sink, error) {
	s := Sink{Name: t.Name}
	if t.Sink == nil {
		return s, nil
	}
	if err := t.Sink.Sync(); err != nil {
		return s, err
	}
	s.Progress, s.Exact = t.Sink.Progress(), true
	if p, ok := t.Sink.(interface {
		Positions() (map[int32]int64, int64)
	}); ok {
		pos, base := p.Positions()
		s.Partitions, s.Base = maps.Clone(pos), base
	}
	return s, nil
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
