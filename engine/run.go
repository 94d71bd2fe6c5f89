package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
)

// CommitInterval is how often Run commits a consumer group's offsets.
var CommitInterval = 5 * time.Second

// Flush asks every sink and the dead letters to make what they were given
// durable (written to the OS, acknowledged by Kafka).
func (e *Engine) Flush(ctx context.Context) error {
	var errs []error
	for _, s := range e.opts.Sinks {
		if f, ok := s.(sink.Flusher); ok {
			errs = append(errs, f.Flush(ctx))
		}
	}
	if f, ok := e.opts.Dead.(sink.Flusher); ok {
		errs = append(errs, f.Flush(ctx))
	}
	return errors.Join(errs...)
}

// commit flushes and then commits what is safe. It runs on the engine's
// goroutine; the source's client is safe for concurrent use.
func (e *Engine) commit(ctx context.Context, c source.Committer) error {
	if err := e.Flush(ctx); err != nil {
		return err
	}
	return c.Commit(ctx, e.SafeOffsets())
}

// finalCommitTimeout bounds the last commit of a run, retries included.
const finalCommitTimeout = 30 * time.Second

// finalCommit commits what is safe at the end of a run. A commit that
// fails for a reason that goes away by itself (the broker restarting: the
// connection refused) is retried, with a growing pause, until ctx's
// deadline: the run's records were all handled, and without the commit a
// rerun would read them again. The periodic commits are not retried (the
// next interval's commit covers them).
func (e *Engine) finalCommit(ctx context.Context, c source.Committer) error {
	pause := 250 * time.Millisecond
	for {
		err := e.commit(ctx, c)
		if err == nil || !source.Transient(err) || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
		pause = min(2*pause, 2*time.Second)
	}
}

// Run reads src to its end (or until ctx is done) and processes every batch.
// Reading runs on its own goroutine so decoding overlaps I/O; the engine is
// only touched by the calling goroutine. A bounded source ends with Finish.
// When src is a Committer and the engine tracks offsets, Run commits safe
// offsets every CommitInterval, at the end, and when ctx is cancelled.
// On cancellation it returns ctx's error without firing open windows; a
// watermark advance under way (one that fires or expires millions of
// windows can take minutes) is interrupted within about a thousand windows,
// and Run then returns [windows.ErrInterrupted] without a final checkpoint.
func Run(ctx context.Context, src source.Source, e *Engine) error {
	committer, _ := src.(source.Committer)
	if !e.opts.TrackOffsets {
		committer = nil
	}
	every := e.opts.CheckpointEvery
	if every <= 0 {
		every = 10 * time.Second
	}
	checkpoint := func() error {
		if e.opts.Checkpointer == nil {
			return nil
		}
		// also when interrupted: with a fresh deadline
		cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), checkpointTimeout)
		defer ccancel()
		if err := e.opts.Checkpointer.Checkpoint(cctx, e); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		return nil
	}
	final := func(err error) error {
		if e.err == nil && (err == nil || errors.Is(err, context.Canceled)) {
			err = errors.Join(err, checkpoint())
		}
		if committer == nil {
			return err
		}
		// commit what is safe even when interrupted, with a fresh deadline
		cctx, ccancel := context.WithTimeout(context.Background(), finalCommitTimeout)
		defer ccancel()
		return errors.Join(err, e.finalCommit(cctx, committer))
	}
	// the prefetcher's goroutine owns the source; this one the engine
	pf := source.Prefetch(ctx, src, 2)
	defer pf.Cancel()
	if e.op != nil {
		defer context.AfterFunc(ctx, e.op.Interrupt)()
	}
	if e.pool != nil {
		defer context.AfterFunc(ctx, e.pool.interrupt)()
	}
	if p, ok := src.(source.Partitioned); ok {
		e.Expect(p.Partitions(), e.opts.Clock())
	}
	lastCommit, lastCheckpoint := time.Now(), time.Now()
	// checkpoints also come due while no batch arrives (an idle topic), so
	// that a Kafka sink's transaction does not outlive its timeout
	var due <-chan time.Time
	if e.opts.Checkpointer != nil {
		tick := time.NewTicker(every)
		defer tick.Stop()
		due = tick.C
	}
	for {
		var it source.Item
		select {
		case <-ctx.Done():
			return final(ctx.Err())
		case <-due:
			if time.Since(lastCheckpoint) >= every {
				if err := checkpoint(); err != nil {
					return err
				}
				lastCheckpoint = time.Now()
			}
			continue
		case x, ok := <-pf.C:
			if !ok {
				return final(ctx.Err())
			}
			it = x
		}
		if it.Err != nil {
			if errors.Is(it.Err, io.EOF) {
				if src.Bounded() {
					return final(e.Finish())
				}
				return final(nil)
			}
			if ctx.Err() != nil {
				return final(ctx.Err())
			}
			return final(it.Err)
		}
		if ctx.Err() != nil {
			// a batch and the cancellation came together: the batch is
			// left to the next run (the final checkpoint is before it)
			return final(ctx.Err())
		}
		if len(it.Batch.Added) > 0 {
			e.StartAt(it.Batch.Added, e.opts.Clock())
		}
		e.SetSource(it.Batch.Source)
		err := e.Process(it.Batch.Records)
		e.Done(it.Batch.Finished)
		if err == nil && e.op != nil {
			e.checkStore() // Done's advance may have been interrupted
			err = e.err
		}
		if it.Batch.Pos != (source.FilePos{}) {
			e.filePoses[e.src] = it.Batch.Pos
			if e.bySrc == nil { // with several sources: Checkpoint.Files
				e.filePos = it.Batch.Pos
			}
		}
		pf.Done(it.Batch)
		if err != nil {
			return err
		}
		if committer != nil && time.Since(lastCommit) >= CommitInterval {
			// a failed commit (broker restarting, group rebalancing) is
			// retried at the next interval; only the final one must succeed
			_ = e.commit(ctx, committer)
			lastCommit = time.Now()
		}
		if e.opts.Checkpointer != nil && time.Since(lastCheckpoint) >= every {
			if err := checkpoint(); err != nil {
				return err
			}
			lastCheckpoint = time.Now()
		}
	}
}
