package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/value"
	"github.com/eddyhq/eddy/windows"
)

// The stages after a window (pipeline.Segment) run on the engine's
// goroutine inside the window operator's Emit: a row the window emits is
// copied into the segment's row, goes through its steps, and ends in the
// next window (Add), in a top buffer, or in the sinks. Its event time is
// the window's end − 1 ms. A top buffer holds the rows of one window: a
// row of another window, and the end of every watermark advance, rank and
// release them, so the buffers are empty at every batch boundary and no
// checkpoint holds them. The windows after the first advance to the
// engine's watermark right after the first has fired for it.
//
// After a join (plan.Join), segment 0 is fed by the join's rows instead
// (feedJoined, join.go): their event time is afterSeg.t, the segments
// advance after each expiry of the join (advanceJoinAfter), and a top in
// segment 0 is released after each left row's rows (JoinConfig.EndLeft).
//
// Counting: those stages handle result rows, not source records, so what
// they drop is counted per stage (StageCount.Filtered, .Dead) and not in
// the run's totals; a window's StageCount.Rows is the rows it emitted,
// the In of the stage after it (see Published).

// afterSeg is one compiled segment at run time.
type afterSeg struct {
	seg   *pipeline.Segment
	row   []value.Value
	fast  []*fastCmp
	op    *windows.Operator // seg.Window's operator; nil for the output segment
	tops  []*topBuf         // by step; nil for other steps
	overs []*overState      // by step; nil for other steps
	// the window of the row being handled, and its event time (the
	// time it has in the segment's window)
	start, end, t int64
}

// topBuf holds the rows of one window that reached a top step: only
// those that may still be among the first K (with ties, also those tied
// with the K-th), in order, equal rows in arrival order (the window's key
// order), so a window of many rows costs one comparison for most of them.
type topBuf struct {
	op    *pipeline.TopOp
	kept  [][]value.Value
	spare [][]value.Value // row buffers to reuse
	seen  int             // rows added since the last release
}

// newAfter builds the segments of plan (none when the first window is the
// last stage).
func (e *Engine) newAfter() error {
	plan := e.plan
	if len(plan.After) == 0 {
		return nil
	}
	if e.opts.TrackOffsets {
		return errors.New("engine: stages after a window with TrackOffsets (a consumer group without state) are not supported")
	}
	e.after = make([]*afterSeg, len(plan.After))
	for i := range plan.After {
		sg := &plan.After[i]
		a := &afterSeg{seg: sg, row: make([]value.Value, sg.Slots), fast: make([]*fastCmp, len(sg.Steps)), tops: make([]*topBuf, len(sg.Steps)), overs: make([]*overState, len(sg.Steps))}
		for j := range sg.Steps {
			st := &sg.Steps[j]
			switch st.Kind {
			case pipeline.Filter:
				a.fast[j] = newFastCmp(st.Filter)
			case pipeline.Top:
				a.tops[j] = &topBuf{op: st.Top}
			case pipeline.Over:
				a.overs[j] = newOverState(st.Over)
			}
		}
		e.after[i] = a
	}
	for i, a := range e.after {
		w := a.seg.Window
		if w == nil {
			continue
		}
		emit := e.writeWindowRow(w)
		if i+1 < len(e.after) {
			next := i + 1
			emit = func(r *windows.Result) { e.feed(next, w, r) }
		}
		op, err := windows.New(windows.Config{Window: w.Spec, Keys: w.Keys, Aggs: w.Aggs, Emit: emit})
		if err != nil {
			return err
		}
		a.op = op
	}
	names := plan.OutputNames()
	e.out.Names = names
	e.out.Vals = make([]value.Value, len(names))
	return nil
}

// emitFirst is the first window's Emit: its rows go to the sinks, or to
// the stages after it.
func (e *Engine) emitFirst(r *windows.Result) {
	if e.after == nil {
		e.emitResult(r)
		return
	}
	e.feed(0, e.plan.Window, r)
}

// feed runs a row window w emitted through segment si.
func (e *Engine) feed(si int, w *pipeline.WindowPlan, r *windows.Result) {
	e.stage[w.Index+1].Rows++
	a := e.after[si]
	row := a.row
	n := copy(row, r.Key)
	row[n], row[n+1] = value.OfTime(r.Start), value.OfTime(r.End)
	copy(row[n+2:], r.Aggs)
	if a.start != r.Start || a.end != r.End {
		e.releaseTops(si, 0)
		a.start, a.end = r.Start, r.End
	}
	a.t = r.End - 1
	e.runSeg(si, row, 0)
}

// runSeg runs row through segment si from step `from` on.
func (e *Engine) runSeg(si int, row []value.Value, from int) {
	a := e.after[si]
	steps := a.seg.Steps
	for k := from; k < len(steps); k++ {
		st := &steps[k]
		switch st.Kind {
		case pipeline.Filter:
			if fc := a.fast[k]; fc != nil {
				if keep, ok := fc.eval(row); ok {
					if !keep {
						e.stage[st.Index+1].Filtered++
						return
					}
					continue
				}
			}
			res, err := e.evalRow(st.Filter, row, nil)
			if err != nil {
				e.deadRow(si, row, st.Index, "filter", err.Error())
				return
			}
			keep, ok := res.(bool)
			if !ok {
				e.deadRow(si, row, st.Index, "filter", fmt.Sprintf("filter returned %s, not a boolean", typeName(res)))
				return
			}
			if !keep {
				e.stage[st.Index+1].Filtered++
				return
			}
		case pipeline.Coerce:
			for _, c := range st.Coerce {
				v, err := pipeline.CoerceValue(row[c.Slot], c.Type)
				if err != nil {
					e.deadRow(si, row, st.Index, "coerce", c.Field+": "+err.Error())
					return
				}
				row[c.Slot] = v
			}
		case pipeline.Project:
			for _, p := range st.Project {
				if p.Prog == nil {
					row[p.Slot] = row[p.From]
					continue
				}
				res, err := e.evalRow(p.Prog, row, nil)
				if err == nil {
					row[p.Slot], err = value.FromAny(res)
				}
				if err != nil {
					e.deadRow(si, row, st.Index, "project", p.Name+": "+err.Error())
					return
				}
			}
		case pipeline.Top:
			a.tops[k].add(row)
			return
		case pipeline.Over:
			if err := a.overs[k].add(row); err != nil {
				e.deadRow(si, row, st.Index, "over", err.Error())
				return
			}
		}
	}
	if a.op == nil {
		e.writeSegRow(a.seg, row)
		return
	}
	w := a.seg.Window
	late, err := a.op.Add(a.t, row)
	switch {
	case err != nil:
		e.deadRow(si, row, w.Index, "window", err.Error())
	case late: // not expected: the window's watermark trails the one before it
		e.stage[w.Index+1].Late++
	}
	if err := a.op.Err(); err != nil && e.err == nil {
		e.err = err
	}
}

func (t *topBuf) add(row []value.Value) {
	t.seen++
	k := t.op.K
	if len(t.kept) >= k {
		c := t.compare(row, t.kept[k-1])
		if c > 0 || (c == 0 && !t.op.Ties) {
			return // after the K-th (a tie arrived later: not among the first K)
		}
	}
	// after every row not greater than it: equal rows keep arrival order
	i := sort.Search(len(t.kept), func(i int) bool { return t.compare(t.kept[i], row) > 0 })
	var buf []value.Value
	if n := len(t.spare); n > 0 {
		buf, t.spare = t.spare[n-1], t.spare[:n-1]
	}
	t.kept = slices.Insert(t.kept, i, append(buf[:0], row...))
	if len(t.kept) > k {
		n := k
		if t.op.Ties {
			for n < len(t.kept) && t.compare(t.kept[n], t.kept[k-1]) == 0 {
				n++
			}
		}
		t.spare = append(t.spare, t.kept[n:]...)
		clear(t.kept[n:])
		t.kept = t.kept[:n]
	}
}

// releaseTops sends the rows held by the top steps of segment si on, in
// order, and counts the others as filtered by the top.
func (e *Engine) releaseTops(si, from int) {
	a := e.after[si]
	for k := from; k < len(a.tops); k++ {
		t := a.tops[k]
		if t == nil || t.seen == 0 {
			continue
		}
		rows := t.kept
		e.stage[a.seg.Steps[k].Index+1].Filtered += int64(t.seen - len(rows))
		t.kept, t.seen = nil, 0
		for _, row := range rows {
			e.runSeg(si, row, k+1)
		}
		t.spare = append(t.spare, rows...)
		clear(rows)
		t.kept = rows[:0]
	}
}

// compare orders two rows by the top's columns: nulls last whatever the
// direction (as SQL's NULLS LAST), other values as value.Compare.
func (t *topBuf) compare(x, y []value.Value) int {
	for i, s := range t.op.By {
		a, b := x[s], y[s]
		if an, bn := a.K == value.Null, b.K == value.Null; an || bn {
			if an != bn {
				if an {
					return 1
				}
				return -1
			}
			continue
		}
		c := value.Compare(a, b)
		if t.op.Desc[i] {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// advanceAfter follows a watermark advance of the first window (which
// may have fed the segments): each segment's tops release their rows, then
// its window advances to w too, in order. With flush (the input has ended)
// every window after the first fires.
func (e *Engine) advanceAfter(w int64, flush bool) {
	for si, a := range e.after {
		e.releaseTops(si, 0)
		if a.op == nil {
			continue
		}
		if flush {
			a.op.Flush()
		} else {
			a.op.Advance(w)
		}
		if err := a.op.Err(); err != nil && e.err == nil {
			e.err = err
		}
	}
}

// writeSegRow writes an output row of the last segment.
func (e *Engine) writeSegRow(sg *pipeline.Segment, row []value.Value) {
	vals := e.out.Vals[:0]
	for _, s := range sg.Output.Slots {
		vals = append(vals, row[s])
	}
	e.writeVals(vals)
}

// writeWindowRow returns the Emit of the last window when it is not the
// first: its rows go to the sinks.
func (e *Engine) writeWindowRow(w *pipeline.WindowPlan) func(*windows.Result) {
	return func(r *windows.Result) {
		e.stage[w.Index+1].Rows++
		vals := e.out.Vals[:0]
		vals = append(vals, r.Key...)
		vals = append(vals, value.OfTime(r.Start), value.OfTime(r.End))
		vals = append(vals, r.Aggs...)
		e.writeVals(vals)
	}
}

// writeVals writes one row of e.out.Names.
func (e *Engine) writeVals(vals []value.Value) {
	e.out.Vals = vals
	b := appendObject(e.buf[:0], e.out.Names, vals)
	e.buf = b
	e.out.JSON = b
	e.write()
}

// appendObject appends the JSON object of names and their vals.
func appendObject(b []byte, names []string, vals []value.Value) []byte {
	b = append(b, '{')
	for i, name := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = value.AppendString(b, name)
		b = append(b, ':')
		b = value.AppendJSON(b, vals[i])
	}
	return append(b, '}')
}

// deadRow dead-letters a row of segment si: the value is the row as
// JSON (the segment's columns so far), the origin "(window result)".
func (e *Engine) deadRow(si int, row []value.Value, index int, kind, msg string) {
	e.stage[index+1].Dead++
	if e.opts.Dead == nil {
		return
	}
	seg := e.after[si].seg
	b := appendObject(nil, seg.In, row[:len(seg.In)])
	origin := windowResultOrigin
	if seg.FromJoin != nil {
		origin = joinResultOrigin
	}
	e.deadLetter(&source.Record{File: true, Topic: origin, Value: b}, index, kind, msg)
}

// windowResultOrigin is the origin file of a dead letter of a stage after
// a window: the letter holds a window's row, not a source record, and
// cannot be replayed.
const windowResultOrigin = "(window result)"

// joinResultOrigin is the origin of a dead letter of a stage after a join.
const joinResultOrigin = "(join result)"

// afterSnapshot frames the snapshots of the windows after the first
// behind the first's in Checkpoint.Window: a magic, the count, then each
// length-prefixed. Those windows live in memory whatever the backend (their
// input is one row per window and key of the window before).
var afterMagic = [4]byte{'E', 'A', 'F', 'T'}

// windowOps lists the window operators, the first (none with a join)
// and those after it.
func (e *Engine) windowOps() []*windows.Operator {
	var ops []*windows.Operator
	if e.op != nil {
		ops = append(ops, e.op)
	}
	for _, a := range e.after {
		if a.op != nil {
			ops = append(ops, a.op)
		}
	}
	return ops
}

// afterState is the checkpointed state of a window after the first or of
// an over step.
type afterState interface {
	AppendSnapshot([]byte) []byte
	Restore([]byte) error
}

// afterStates lists windowOps, then the over steps' states in order.
func (e *Engine) afterStates() []afterState {
	var sts []afterState
	for _, op := range e.windowOps() {
		sts = append(sts, op)
	}
	for _, a := range e.after {
		for _, o := range a.overs {
			if o != nil {
				sts = append(sts, o)
			}
		}
	}
	return sts
}

func (e *Engine) appendWindows(b []byte) []byte {
	if e.after == nil {
		return e.op.AppendSnapshot(b)
	}
	b = append(b, afterMagic[:]...)
	ops := e.afterStates()
	b = binary.AppendUvarint(b, uint64(len(ops)))
	for _, op := range ops {
		b = appendFrame(b, op.AppendSnapshot)
	}
	return b
}

// appendFrame appends what add appends, after its length.
func appendFrame(b []byte, add func([]byte) []byte) []byte {
	at := len(b)
	b = binary.AppendUvarint(b, 0) // room for the length
	start := len(b)
	b = add(b)
	snap := append([]byte(nil), b[start:]...)
	b = binary.AppendUvarint(b[:at], uint64(len(snap)))
	return append(b, snap...)
}

// readFrames splits data, magic then a count of n then n frames of
// appendFrame, into the frames.
func readFrames(data []byte, magic [4]byte, n int) ([][]byte, error) {
	bad := fmt.Errorf("%w: the checkpoint's windows do not match the pipeline's", windows.ErrCorrupt)
	if len(data) < 4 || [4]byte(data[:4]) != magic {
		return nil, bad
	}
	data = data[4:]
	got, k := binary.Uvarint(data)
	if k <= 0 || got != uint64(n) {
		return nil, bad
	}
	data = data[k:]
	frames := make([][]byte, 0, n)
	for range n {
		l, k := binary.Uvarint(data)
		if k <= 0 || uint64(len(data)-k) < l {
			return nil, bad
		}
		frames = append(frames, data[k:k+int(l)])
		data = data[k+int(l):]
	}
	if len(data) != 0 {
		return nil, bad
	}
	return frames, nil
}

func (e *Engine) restoreWindows(data []byte) error {
	if e.after == nil {
		return e.op.Restore(data)
	}
	ops := e.afterStates()
	frames, err := readFrames(data, afterMagic, len(ops))
	if err != nil {
		return err
	}
	for i, op := range ops {
		if err := op.Restore(frames[i]); err != nil {
			return err
		}
	}
	return nil
}

// openAfter counts the open windows after the first.
func (e *Engine) openAfter() int {
	n := 0
	for _, a := range e.after {
		if a.op != nil {
			n += a.op.Open()
		}
	}
	return n
}

// advanceTo advances the first window, then the stages after it.
func (e *Engine) advanceTo(w int64) {
	e.op.Advance(w)
	if e.after != nil {
		e.advanceAfter(w, false)
	}
}
