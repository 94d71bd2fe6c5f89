package engine

import (
	"math"
	"time"

	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/windows"
)

// partState is what the engine keeps per source partition (a file is one
// partition): its watermark, when it last had a record, and, when offsets
// are tracked, which of its records still wait for their windows.
type partState struct {
	key     source.Partition
	wm      windows.Watermark
	seen    int64 // wall clock ms of the last record
	idle    bool
	done    bool   // finished: no more records, does not hold the watermark
	next    int64  // next offset after the last record processed
	after   string // Seq of the last record processed (Kinesis)
	pending []span
}

// span is a run of consecutive offsets that are fully handled once the
// watermark reaches doneW (and, for sessions, no live session starts at or
// before maxTs).
type span struct {
	first, last int64
	doneW       int64
	maxTs       int64
}

// maxSpans bounds the tracking queue per partition; beyond it runs are
// merged, which only delays commits.
const maxSpans = 4096

func (ps *partState) track(off, doneW, ts int64) {
	n := len(ps.pending)
	if n > 0 {
		last := &ps.pending[n-1]
		if doneW <= last.doneW || n >= maxSpans {
			last.last = off
			last.doneW = max(last.doneW, doneW)
			last.maxTs = max(last.maxTs, ts)
			return
		}
	}
	if n == 0 && doneW == windows.NoWatermark {
		return // done at once; nothing before it waits
	}
	ps.pending = append(ps.pending, span{first: off, last: off, doneW: doneW, maxTs: ts})
}

// partition returns the state of r's partition, creating it on first sight.
func (e *Engine) partition(r *source.Record, now int64) *partState {
	ps := e.lastPart
	if ps == nil || ps.key.Partition != r.Partition || ps.key.Topic != r.Topic {
		k := source.Partition{Topic: r.Topic, Partition: r.Partition}
		ps = e.byPart[k]
		if ps == nil {
			ps = &partState{key: k, next: -1, wm: windows.Watermark{OutOfOrder: e.plan.Pipeline.Time.MaxOutOfOrder.Milliseconds()}}
			e.byPart[k] = ps
			e.parts = append(e.parts, ps)
		}
		e.lastPart = ps
	}
	ps.seen = now
	if ps.idle {
		ps.idle = false
	}
	return ps
}

// Expect registers partitions before their first record, so that each holds
// the watermark back until it has records (or goes idle).
func (e *Engine) Expect(parts []source.Partition, now time.Time) {
	for _, p := range parts {
		if e.byPart[p] == nil {
			ps := &partState{key: p, seen: now.UnixMilli(), next: -1,
				wm: windows.Watermark{OutOfOrder: e.plan.Pipeline.Time.MaxOutOfOrder.Milliseconds()}}
			e.byPart[p] = ps
			e.parts = append(e.parts, ps)
		}
	}
}

// Done marks partitions finished: they stop holding the watermark back.
func (e *Engine) Done(parts []source.Partition) {
	changed := false
	for _, p := range parts {
		if ps := e.byPart[p]; ps != nil && !ps.done {
			ps.done, changed = true, true
		}
	}
	if changed && (e.op != nil || e.join != nil) {
		e.advanceOps()
		e.expireJoin()
	}
	if changed && e.pool != nil {
		e.pool.settle()
	}
}

// checkIdle marks partitions without records for the idle timeout; they
// stop holding the watermark back until they have records again.
func (e *Engine) checkIdle(now int64) {
	if e.idleMs <= 0 || len(e.parts) < 2 {
		return
	}
	changed := false
	for _, ps := range e.parts {
		// the idle clock starts no earlier than when records (re)started
		// flowing: a slow start, a rebalance or a broker outage makes no
		// partition idle by itself
		if idle := now-max(ps.seen, e.resumedAt) >= e.idleMs; idle != ps.idle {
			ps.idle, changed = idle, true
		}
	}
	if changed && (e.op != nil || e.join != nil) {
		e.advanceOps()
	}
}

// globalWatermark is the minimum over partitions that are not idle (all of
// them when every one is idle).
func (e *Engine) globalWatermark() int64 {
	w, any := int64(math.MaxInt64), false
	for _, ps := range e.parts {
		if ps.idle || ps.done {
			continue
		}
		any = true
		w = min(w, ps.wm.Value())
	}
	if !any {
		// every partition idle or finished: the finished ones no longer
		// matter; idle ones still bound the watermark, which so stays put
		w = windows.EndOfInput
		for _, ps := range e.parts {
			if !ps.done {
				w = min(w, ps.wm.Value())
			}
		}
	}
	if len(e.parts) == 0 {
		return windows.NoWatermark
	}
	return w
}

// closedAt is the watermark at which every window a record with event time
// ts joined has been dropped (fired, and past its allowed lateness).
func (e *Engine) closedAt(ts int64) int64 {
	sp := e.plan.Window.Spec
	L := e.plan.Pipeline.Time.AllowedLateness.Milliseconds()
	switch sp.Type {
	case windows.TumblingType:
		return floorDiv(ts, sp.Size)*sp.Size + sp.Size + L
	case windows.HoppingType:
		return floorDiv(ts, sp.Slide)*sp.Slide + sp.Size + L
	}
	return ts + sp.Gap + L
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// SafeOffsets returns, per partition seen, the next offset a consumer group
// may commit: every record before it has been fully handled — its rows and
// dead letters were handed to the sinks, and every window it joined has
// fired and been dropped. Call it only after flushing the sinks.
func (e *Engine) SafeOffsets() map[source.Partition]int64 {
	w := e.Watermark()
	minLive := int64(math.MaxInt64)
	if e.op != nil && e.plan.Window.Spec.Type == windows.SessionType {
		minLive = e.op.MinLiveStart()
	}
	out := make(map[source.Partition]int64, len(e.parts))
	for _, ps := range e.parts {
		n := 0
		for n < len(ps.pending) {
			s := ps.pending[n]
			if w < s.doneW || s.maxTs >= minLive {
				break
			}
			n++
		}
		ps.pending = ps.pending[:copy(ps.pending, ps.pending[n:])]
		if ps.next < 0 {
			continue // no record read yet: nothing to commit
		}
		if len(ps.pending) > 0 {
			out[ps.key] = ps.pending[0].first
		} else {
			out[ps.key] = ps.next
		}
	}
	return out
}
