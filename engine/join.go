package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/value"
	"github.com/eddyhq/eddy/windows"
)

// SourceStats is one source's accounting (a sources section): In =
// Passed + Filtered + Dead + Late; the totals are their sums. Rows are
// not by source (a joined row has two).
type SourceStats struct {
	Source   string `json:"source"`
	In       int64  `json:"in"`
	Passed   int64  `json:"passed"`
	Filtered int64  `json:"filtered"`
	Dead     int64  `json:"dead"`
	Late     int64  `json:"late"`
}

// SourcePos is a file source's position in a Checkpoint of several sources.
type SourcePos struct {
	Source string         `json:"source"`
	Pos    source.FilePos `json:"pos"`
}

// join is the engine's side of a join stage.
type join struct {
	plan       *pipeline.JoinPlan
	op         *windows.IntervalJoin
	key, vals  []value.Value
	lateLeft   int64
	lateRight  int64
	outVals    []value.Value
	index      int
	rightSrc   int
	withName   string
	emitErrors error
	// timed: each row's event time follows its select values (at lt in
	// a left row's, rt in a right row's), then until's time on its side
	timed  bool
	lt, rt int
}

// newJoin builds the join of plan; store, when not nil, holds its rows.
func (e *Engine) newJoin(store windows.Store) error {
	jp := e.plan.Join
	if e.opts.TrackOffsets {
		return errors.New("engine: a join with TrackOffsets (a consumer group without state) is not supported")
	}
	j := &join{plan: jp, index: jp.Index, rightSrc: jp.With}
	if jp.With >= 0 {
		j.withName = e.plan.Pipeline.Sources[jp.With].Name
	}
	// an interval join with stages after it or with until keeps each
	// row's time after its select values, then until's time on its side
	j.timed = jp.Window == nil && (len(e.plan.After) > 0 || jp.UntilSlot >= 0)
	j.lt, j.rt = len(jp.LeftSlots), len(jp.RightSlots)
	cfg := windows.JoinConfig{
		Lower: jp.Lower, Upper: jp.Upper, Outer: jp.Outer,
		Lateness: e.plan.Pipeline.Time.AllowedLateness.Milliseconds(),
		Store:    store, Emit: e.emitJoined,
	}
	if jp.UntilSlot >= 0 {
		lt, rt := j.lt, j.rt
		if jp.UntilRight {
			cfg.Match = func(l, r []value.Value) bool { return l[lt].I <= r[rt+1].I }
		} else {
			cfg.Match = func(l, r []value.Value) bool { return r[rt].I <= l[lt+1].I }
		}
	}
	if sg := e.plan.After; len(sg) > 0 && slices.ContainsFunc(sg[0].Steps, func(st pipeline.Step) bool { return st.Kind == pipeline.Top }) {
		// a top right after the join ranks each left row's rows
		cfg.EndLeft = func() { e.releaseTops(0, 0) }
	}
	op, err := windows.NewIntervalJoin(cfg)
	if err != nil {
		return err
	}
	j.op = op
	e.join = j
	e.out.Names = jp.Names
	e.out.Vals = make([]value.Value, len(jp.Names))
	e.prefix = columnPrefixes(jp.Names)
	if len(e.plan.After) > 0 {
		// the stages after the join take its rows with their event time
		if err := e.newAfter(); err != nil {
			return errors.Join(err, op.Close())
		}
	}
	return nil
}

// columnPrefixes encodes each column's `"name":` once, after a { for the
// first and a comma for the others, for rows written column by column.
func columnPrefixes(names []string) [][]byte {
	out := make([][]byte, len(names))
	for i, name := range names {
		b := []byte{'{'}
		if i > 0 {
			b[0] = ','
		}
		b = value.AppendString(b, name)
		out[i] = append(b, ':')
	}
	return out
}

// joinRecord hands a record that passed the stages before the join to it:
// a right row when it comes from the join's source, else a left row.
func (e *Engine) joinRecord(r *source.Record, ts int64) {
	j := e.join
	right := e.src == j.rightSrc
	keys, slots := j.plan.LeftKeys, j.plan.LeftSlots
	if right {
		keys, slots = j.plan.RightKeys, j.plan.RightSlots
	}
	j.key = j.key[:0]
	for _, s := range keys {
		j.key = append(j.key, e.row[s])
	}
	if windows.KeyHasNull(j.key) && (right || !j.plan.Outer) {
		// a null key matches nothing: only an outer join's left row
		// is still emitted (with nulls)
		e.filtered(j.index)
		return
	}
	j.vals = j.vals[:0]
	for _, s := range slots {
		j.vals = append(j.vals, e.row[s])
	}
	if j.timed {
		j.vals = append(j.vals, value.OfTime(ts))
	}
	if j.plan.UntilSlot >= 0 && j.plan.UntilRight == right {
		// a null or a value that is not a time bounds the pair below
		// every time: the row matches nothing
		until, err := pipeline.EventTime(e.row[j.plan.UntilSlot])
		if err != nil {
			until = math.MinInt64
		}
		j.vals = append(j.vals, value.OfTime(until))
	}
	var ok bool
	if w := j.plan.Window; w != nil {
		// once per window the row is in, the window's start in its key
		// (and, for a left row, last in its values: the output's bounds)
		step := w.Size
		if w.Type == windows.HoppingType {
			step = w.Slide
		}
		first, _ := w.Extent(ts)
		n, nk := len(j.vals), len(j.key)
		for ws := first; ws <= ts; ws += step {
			j.key = append(j.key[:nk], value.OfTime(ws))
			if right {
				ok = j.op.AddRight(ts, j.key, j.vals)
			} else {
				ok = j.op.AddLeft(ts, j.key, append(j.vals[:n], value.OfTime(ws)))
			}
			if !ok {
				break
			}
		}
	} else if right {
		ok = j.op.AddRight(ts, j.key, j.vals)
	} else {
		ok = j.op.AddLeft(ts, j.key, j.vals)
	}
	if err := j.op.Err(); err != nil {
		e.dead(r, j.index, "join", err.Error())
		return
	}
	if !ok {
		side := "left"
		if right {
			side = "right"
			j.lateRight++
		} else {
			j.lateLeft++
		}
		e.stats.Late++
		e.stage[j.index+1].Late++
		if e.late {
			e.deadLetter(r, j.index, "join", fmt.Sprintf("late: the %s row's event time %s is behind the watermark %s minus the allowed lateness %s",
				side, value.FormatTime(ts), watermarkText(j.op.Watermark()), e.plan.Pipeline.Time.AllowedLateness))
		}
		return
	}
	e.stats.Passed++
}

// emitJoined writes one joined row (right nil: an unmatched left row of a
// left outer join, its right columns null).
func (e *Engine) emitJoined(left, right []value.Value) {
	jp := e.join.plan
	if e.after != nil {
		e.feedJoined(left, right)
		return
	}
	vals := e.out.Vals[:0]
	for _, c := range jp.Cols {
		switch {
		case !c.Right:
			vals = append(vals, left[c.Pos])
		case right == nil:
			vals = append(vals, value.Value{})
		default:
			vals = append(vals, right[c.Pos])
		}
	}
	if w := jp.Window; w != nil {
		ws := left[len(left)-1].I
		vals = append(vals, value.OfTime(ws), value.OfTime(ws+w.Size))
	}
	e.out.Vals = vals
	b := e.buf[:0]
	for i := range vals {
		b = append(b, e.prefix[i]...)
		b = value.AppendJSON(b, vals[i])
	}
	if len(vals) == 0 {
		b = append(b, '{')
	}
	b = append(b, '}')
	e.buf = b
	e.out.JSON = b
	e.write()
}

// feedJoined runs a joined row through the stages after the join, at its
// event time: the later of its rows' times for an interval join (the left
// row's without a right row), its window's end − 1 ms for a window join
// (as Flink's DataStream interval and window joins stamp their rows).
func (e *Engine) feedJoined(left, right []value.Value) {
	j := e.join
	jp := j.plan
	a := e.after[0]
	row := a.row[:0] // (the segment's row is at least the join's columns wide)
	for _, c := range jp.Cols {
		switch {
		case !c.Right:
			row = append(row, left[c.Pos])
		case right == nil:
			row = append(row, value.Value{})
		default:
			row = append(row, right[c.Pos])
		}
	}
	var t int64
	if w := jp.Window; w != nil {
		ws := left[len(left)-1].I
		row = append(row, value.OfTime(ws), value.OfTime(ws+w.Size))
		t = ws + w.Size - 1
	} else {
		t = left[j.lt].I
		if right != nil {
			t = max(t, right[j.rt].I)
		}
	}
	e.stage[j.index+1].Rows++
	a.t = t
	e.runSeg(0, a.row, 0)
}

// advanceJoinAfter follows the join's expiry: the stages after it advance
// to the join's watermark minus the allowed lateness minus max(0, −LOWER),
// the time no row the join emits later can be behind (it emits a left row
// at tl once tl + min(LOWER, 0) is behind the watermark minus the
// lateness, and stamps its rows at tl or later), so its rows are never
// late for the windows after it.
func (e *Engine) advanceJoinAfter() {
	w := e.join.op.Watermark()
	if w == windows.NoWatermark || w == windows.EndOfInput {
		return // nothing emitted yet, or Finish flushes
	}
	e.advanceAfter(w-e.plan.Pipeline.Time.AllowedLateness.Milliseconds()+min(e.join.plan.Lower, 0), false)
}

// appendJoinState appends the join's state, and that of the windows after
// it (framed as appendWindows frames windows).
func (e *Engine) appendJoinState(b []byte) ([]byte, error) {
	ops := e.afterStates()
	if len(ops) == 0 {
		return e.join.op.AppendSnapshot(b)
	}
	var err error
	b = append(b, joinAfterMagic[:]...)
	b = binary.AppendUvarint(b, uint64(1+len(ops)))
	b = appendFrame(b, func(b []byte) []byte {
		b, err = e.join.op.AppendSnapshot(b)
		return b
	})
	for _, op := range ops {
		b = appendFrame(b, op.AppendSnapshot)
	}
	return b, err
}

// joinAfterMagic starts the state of a join and the windows after it.
var joinAfterMagic = [4]byte{'E', 'J', 'A', 'F'}

func (e *Engine) restoreJoinState(data []byte) error {
	ops := e.afterStates()
	if len(ops) == 0 {
		return e.join.op.Restore(data)
	}
	frames, err := readFrames(data, joinAfterMagic, 1+len(ops))
	if err != nil {
		return err
	}
	if err := e.join.op.Restore(frames[0]); err != nil {
		return err
	}
	for i, op := range ops {
		if err := op.Restore(frames[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// advanceOps moves the window and the join to the global watermark.
func (e *Engine) advanceOps() {
	w := e.globalWatermark()
	if e.op != nil {
		e.advanceTo(w) // the window, then the stages after it
	}
	if e.join != nil {
		e.join.op.Advance(w) // cheap: the rows it lets go wait for expireJoin
	}
}

// expireJoin emits the joined rows the watermark lets go; once per batch
// (and at the end), so the join's state is scanned once per batch, not
// per record (the rows and their order are the same).
func (e *Engine) expireJoin() {
	if e.join == nil {
		return
	}
	e.join.op.Expire()
	if err := e.join.op.Err(); err != nil && e.err == nil {
		e.err = err
	}
	if e.after != nil {
		e.advanceJoinAfter()
	}
}

// JoinLate returns the late rows of the join by side (0, 0 without one).
func (e *Engine) JoinLate() (left, right int64) {
	if e.join == nil {
		return 0, 0
	}
	return e.join.lateLeft, e.join.lateRight
}

// JoinHeld returns the rows the join holds by side.
func (e *Engine) JoinHeld() (left, right int64) {
	if e.join == nil {
		return 0, 0
	}
	return e.join.op.Held()
}

// SourceStats returns each source's counts as of the last batch (nil with
// a single source).
func (e *Engine) SourceStats() []SourceStats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]SourceStats(nil), e.pubBySrc...)
}

// countSource adds what the last record did to its source's counts.
func (e *Engine) countSource(before Stats) {
	s := &e.bySrc[e.src]
	s.In += e.stats.In - before.In
	s.Passed += e.stats.Passed - before.Passed
	s.Filtered += e.stats.Filtered - before.Filtered
	s.Dead += e.stats.Dead - before.Dead
	s.Late += e.stats.Late - before.Late
}

// SetSource says which source the next batches come from (an index in the
// spec's sources; Batch.Source).
func (e *Engine) SetSource(i int) {
	if i >= 0 && i < len(e.bySrc) {
		e.src = i
	}
}
