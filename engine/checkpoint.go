package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/windows"
)

// Checkpoint is the engine's state at a batch boundary: with the sinks'
// progress it is everything a restarted run needs to carry on as if it had
// never stopped. Only the engine's goroutine may take or restore one.
type Checkpoint struct {
	Stats Stats `json:"stats"`
	// Stages is the counts by stage (Engine.Published), the source first.
	Stages     []StageCount     `json:"stages,omitempty"`
	Partitions []PartitionState `json:"partitions"`
	// File is the file source's position after the last batch handled
	// (zero for other sources and before the first batch).
	File source.FilePos `json:"file"`
	// Watermark and OpenWindows describe Window, for inspection.
	Watermark   int64 `json:"watermark"`
	OpenWindows int   `json:"open_windows"`
	// Files are, with several sources, each file source's position
	// after the last batch of it handled (File is then unused).
	Files []SourcePos `json:"files,omitempty"`
	// Sources are, with several sources, the counts by source.
	Sources []SourceStats `json:"sources,omitempty"`
	// JoinLateLeft and JoinLateRight are a join's late rows by side.
	JoinLateLeft  int64 `json:"join_late_left,omitempty"`
	JoinLateRight int64 `json:"join_late_right,omitempty"`
	// Window is the window operator's snapshot (windows.Operator.AppendSnapshot),
	// or the join's (windows.IntervalJoin.AppendSnapshot); nil without a
	// window or join stage.
	Window []byte `json:"-"`
}

// PartitionState is one source partition in a Checkpoint.
type PartitionState struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// Next is the next offset to read (Kafka) or the line after the last
	// one read (files); -1 when nothing was read.
	Next int64 `json:"next"`
	// After is, for a source whose positions are sequence numbers
	// (Kinesis), the Seq of the last record read: a restart resumes
	// after it; "" when nothing was read.
	After string `json:"after,omitempty"`
	// MaxEventTime and Seen are the partition's watermark state.
	MaxEventTime int64 `json:"max_event_time"`
	Seen         bool  `json:"seen"`
	Done         bool  `json:"done,omitempty"`
}

// Checkpointer makes a checkpoint durable. Run calls it on the engine's
// goroutine at a batch boundary (see Options.Checkpointer); it typically
// flushes the sinks, then stores e.Checkpoint() with the sinks' progress.
type Checkpointer interface {
	Checkpoint(ctx context.Context, e *Engine) error
}

// Checkpoint returns the engine's current state. The Window bytes are
// reused by the next Checkpoint: store or copy them before. Call it
// between batches.
func (e *Engine) Checkpoint() Checkpoint {
	ck := Checkpoint{Stats: e.stats, Stages: slices.Clone(e.stage), File: e.filePos, Watermark: e.Watermark(), OpenWindows: e.OpenWindows()}
	for _, ps := range e.parts {
		mx, seen := ps.wm.MaxEventTime()
		ck.Partitions = append(ck.Partitions, PartitionState{Topic: ps.key.Topic, Partition: ps.key.Partition,
			Next: ps.next, After: ps.after, MaxEventTime: mx, Seen: seen, Done: ps.done})
	}
	if e.op != nil {
		e.snap = e.appendWindows(e.snap[:0])
		ck.Window = e.snap
	} else if e.pool != nil && e.pool.window {
		e.snap = e.pool.appendSnapshot(e.snap[:0])
		ck.Window = e.snap
	}
	if e.join != nil {
		var err error
		if e.snap, err = e.appendJoinState(e.snap[:0]); err != nil && e.err == nil {
			e.err = err
		}
		ck.Window = e.snap
	}
	for i, ns := range e.plan.Pipeline.Sources {
		if ns.File != "" {
			ck.Files = append(ck.Files, SourcePos{Source: ns.Name, Pos: e.filePoses[i]})
		}
	}
	ck.Sources = slices.Clone(e.bySrc)
	ck.JoinLateLeft, ck.JoinLateRight = e.JoinLate()
	return ck
}

// Restore sets a new engine (before its first batch) to a checkpoint taken
// by an engine of the same pipeline. Positions to resume from are the
// caller's business (Checkpoint.File, PartitionState.Next).
func (e *Engine) Restore(ck Checkpoint) error {
	if e.stats != (Stats{}) || len(e.parts) > 0 {
		return errors.New("engine: Restore needs a new engine")
	}
	if e.opts.TrackOffsets {
		return errors.New("engine: Restore with TrackOffsets (a consumer group) is not supported")
	}
	if (e.op != nil || e.join != nil || e.pool != nil && e.pool.window) != (ck.Window != nil) {
		return fmt.Errorf("%w: the checkpoint's window state does not match the pipeline", windows.ErrCorrupt)
	}
	if e.pool != nil && ck.Window != nil {
		if err := e.pool.restore(ck.Window); err != nil {
			return err
		}
	} else if e.op != nil && poolSnapshot(ck.Window) {
		n, _, _ := readUvarint(ck.Window[len(snapshotMagic):])
		return fmt.Errorf("%w: the checkpoint was taken by %d workers; run it with --workers %d (or --reset-state)", errWorkers, n, n)
	}
	if e.op != nil {
		if err := e.restoreWindows(ck.Window); err != nil {
			return err
		}
	}
	if e.join != nil {
		if err := e.restoreJoinState(ck.Window); err != nil {
			return err
		}
	}
	for _, fp := range ck.Files {
		i := slices.IndexFunc(e.plan.Pipeline.Sources, func(ns pipeline.NamedSource) bool { return ns.Name == fp.Source })
		if i < 0 {
			return fmt.Errorf("engine: the checkpoint has a position in source %s, which the pipeline does not have", fp.Source)
		}
		e.filePoses[i] = fp.Pos
	}
	if len(ck.Sources) == len(e.bySrc) {
		copy(e.bySrc, ck.Sources)
	}
	if e.join != nil {
		e.join.lateLeft, e.join.lateRight = ck.JoinLateLeft, ck.JoinLateRight
	}
	now := e.opts.Clock().UnixMilli()
	for _, p := range ck.Partitions {
		k := source.Partition{Topic: p.Topic, Partition: p.Partition}
		if e.byPart[k] != nil {
			return fmt.Errorf("engine: partition %s/%d twice in the checkpoint", p.Topic, p.Partition)
		}
		ps := &partState{key: k, seen: now, next: p.Next, after: p.After, done: p.Done,
			wm: windows.Watermark{OutOfOrder: e.plan.Pipeline.Time.MaxOutOfOrder.Milliseconds()}}
		ps.wm.Restore(p.MaxEventTime, p.Seen)
		e.byPart[k] = ps
		e.parts = append(e.parts, ps)
	}
	e.stats = ck.Stats
	e.restoreStages(ck)
	e.filePos = ck.File
	e.publish()
	return nil
}

// StartAt registers the partitions of a source with the offsets they start
// at, before the first batch or when they are added to a topic mid-run
// (Batch.Added), so a checkpoint taken before they deliver records resumes
// them there (not at a start like latest computed anew); an offset of -1
// registers the partition without a position. Each holds the watermark
// back until it has records or goes idle, like those known at the start.
func (e *Engine) StartAt(next map[source.Partition]int64, now time.Time) {
	parts := make([]source.Partition, 0, len(next))
	for p := range next {
		parts = append(parts, p)
	}
	slices.SortFunc(parts, func(a, b source.Partition) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	e.Expect(parts, now)
	for _, p := range parts {
		if ps := e.byPart[p]; ps.next < 0 {
			ps.next = next[p]
		}
	}
}

// checkpointTimeout bounds the checkpoint Run takes when it is cancelled.
const checkpointTimeout = 30 * time.Second
