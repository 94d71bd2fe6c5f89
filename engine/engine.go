package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/eddyhq/eddy/decode"
	"github.com/eddyhq/eddy/format"
	"github.com/eddyhq/eddy/lookup"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/value"
	"github.com/eddyhq/eddy/windows"
)

// Stats counts records by where they ended up, and result rows written.
type Stats struct {
	In       int64 `json:"in"`
	Passed   int64 `json:"passed"`
	Filtered int64 `json:"filtered"`
	Dead     int64 `json:"dead"`
	Late     int64 `json:"late"`
	Rows     int64 `json:"rows"`
}

func (s Stats) String() string {
	return fmt.Sprintf("in=%d passed=%d filtered=%d dead=%d late=%d rows=%d", s.In, s.Passed, s.Filtered, s.Dead, s.Late, s.Rows)
}

// Options configures an Engine.
type Options struct {
	Sinks []sink.Sink
	// Dead receives dead letters; nil discards them but still counts them
	// (only for tests and previews: `eddy run` always has a destination).
	Dead sink.DeadLetters
	// Clock gives processing time when the pipeline has no time field, and
	// tells partitions idle. Default time.Now.
	Clock func() time.Time
	// TrackOffsets makes the engine track, per partition, which offsets are
	// fully handled (see SafeOffsets) so a consumer group can commit them.
	TrackOffsets bool
	// Checkpointer, when set, is called by Run at a batch boundary every
	// CheckpointEvery, when ctx is cancelled, and at the end of a bounded
	// input (after every window fired). Nil: no checkpoints.
	Checkpointer Checkpointer
	// CheckpointEvery is the interval between checkpoints; default 10s.
	CheckpointEvery time.Duration
	// WindowStore, when set, is the store the window operator keeps its
	// state in, behind a cache of decoded windows (state.backend: pebble
	// passes a pebblestore.Store); nil keeps every window in memory. The
	// engine owns it from New on: Close closes it, and so does a failed New.
	WindowStore windows.Store
	// Schemas is the schema cache the avro, protobuf and json-schema
	// formats decode through; nil for json.
	Schemas *format.Cache
	// Tables are the reference tables of the lookup stages, by name
	// (lookup.Open, checked with lookup.Check). The engine does not close
	// them.
	Tables map[string]*lookup.Table
	// Warn, when set, is told of input fields the pipeline reads that
	// none of the first records has (see unseenCheck), once per run, on
	// the goroutine that processes records.
	Warn func(msg string)
	// Workers is how many cores run the pipeline (eddy run --workers);
	// 0 or 1 is one. Several give the same output as one (see pool.go):
	// a pipeline that cannot runs on one, with a notice through Warn.
	Workers int
	// WorkerStores, with Workers > 1, are the workers' window stores, one
	// each (WindowStore is then unused); nil keeps every window in memory.
	// The engine owns them from New on.
	WorkerStores []windows.Store
}

// Engine runs one compiled pipeline. See the package doc for ownership.
type Engine struct {
	plan                 *pipeline.Plan
	dec                  decoder
	opts                 Options
	row                  []value.Value
	spans                []decode.Span
	op                   *windows.Operator
	parts                []*partState
	byPart               map[source.Partition]*partState
	lastPart             *partState
	idleMs               int64
	lastBatch, resumedAt int64 // wall ms of the last batch with records, and of the start of the current stretch
	late                 bool  // true: late records are dead-lettered
	nIn                  int
	unseen               *unseenFields  // nil once checked, or without Options.Warn
	lookups              []*boundLookup // by step; nil for other steps
	after                []*afterSeg    // the stages after the window (after.go); nil without

	cur    *partState // partition of the record being processed
	doneW  int64      // watermark at which the current record is fully handled
	doneTs int64      // its event time (sessions)
	vm     vm.VM
	env    map[string]any
	out    sink.Row
	buf    []byte
	// result rows: each column's `"name":` (after the first a comma
	// before it), encoded once, and the last window bounds encoded (the
	// rows of a firing share them)
	prefix         [][]byte
	startMs, endMs int64
	startJS, endJS []byte
	fast           []*fastCmp     // per step: a filter compared without the VM, or nil
	fastProj       [][]*fastArith // per step and column: a project computed without the VM, or nil
	stats          Stats
	dl             sink.DeadLetter
	err            error // first sink failure

	filePos source.FilePos // position of a file source after the last batch handled

	// several sources: the current batch's source, the counts by source,
	// and each file source's position
	src       int
	bySrc     []SourceStats
	pubBySrc  []SourceStats
	filePoses []source.FilePos
	join      *join  // the join stage; nil without one
	snap      []byte // the last window snapshot's buffer

	stage     []StageCount // [0] the source, [i+1] spec.stages[i]
	stageKind []string
	stageBase Stats // totals the counts by stage start from (restoreStages)
	sinkRows  []int64

	pool *pool // Options.Workers > 1: the parallel workers (pool.go)

	mu           sync.Mutex
	pub          Stats
	pubStages    []StageCount
	pubSinkRows  []int64
	pubWatermark int64
	pubParts     []PartitionStats
}

// New builds an engine for plan.
func New(plan *pipeline.Plan, opts Options) (*Engine, error) {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Workers > 1 {
		why := parallelRefusal(plan, opts)
		if why == "" {
			return newPool(plan, opts)
		}
		if opts.Warn != nil {
			opts.Warn(fmt.Sprintf("--workers %d: running on one worker: %s", opts.Workers, why))
		}
		opts.Workers = 1
		if opts.WorkerStores != nil {
			for _, s := range opts.WorkerStores[1:] {
				if err := s.Close(); err != nil {
					return nil, err
				}
			}
			opts.WindowStore, opts.WorkerStores = opts.WorkerStores[0], nil
		}
	}
	p := plan.Pipeline
	e := &Engine{
		plan:   plan,
		opts:   opts,
		row:    make([]value.Value, plan.Slots),
		env:    map[string]any{},
		late:   p.Late != "drop",
		nIn:    len(plan.Input),
		byPart: map[source.Partition]*partState{},
		idleMs: p.Time.IdleTimeout.Milliseconds(),
		spans:  make([]decode.Span, len(plan.Input)),

		stage:     make([]StageCount, len(p.Stages)+1),
		stageKind: stageKinds(plan),
		sinkRows:  make([]int64, len(opts.Sinks)),
	}
	for _, ns := range p.Sources {
		e.bySrc = append(e.bySrc, SourceStats{Source: ns.Name})
	}
	e.filePoses = make([]source.FilePos, max(1, len(p.Sources)))
	if opts.Warn != nil && e.nIn > 0 && len(p.Sources) == 0 {
		// (with several sources a field may be in one source's records only)
		e.unseen = &unseenFields{seen: make([]bool, e.nIn)}
	}
	e.fast = make([]*fastCmp, len(plan.Steps))
	e.fastProj = make([][]*fastArith, len(plan.Steps))
	for i := range plan.Steps {
		switch st := &plan.Steps[i]; st.Kind {
		case pipeline.Filter:
			e.fast[i] = newFastCmp(st.Filter)
		case pipeline.Project:
			e.fastProj[i] = make([]*fastArith, len(st.Project))
			for j := range st.Project {
				e.fastProj[i][j] = newFastArith(st.Project[j].Prog)
			}
		}
	}
	var err error
	if e.dec, err = newDecoder(plan, opts.Schemas); err != nil {
		return nil, err
	}
	if e.lookups, err = bindLookups(plan, opts.Tables); err != nil {
		if opts.WindowStore != nil {
			return nil, errors.Join(err, opts.WindowStore.Close())
		}
		return nil, err
	}
	if plan.Join != nil {
		if err := e.newJoin(opts.WindowStore); err != nil {
			if opts.WindowStore != nil {
				return nil, errors.Join(err, opts.WindowStore.Close())
			}
			return nil, err
		}
	} else if w := plan.Window; w != nil {
		cfg := windows.Config{
			Window: w.Spec, Keys: w.Keys, Aggs: w.Aggs,
			Lateness: p.Time.AllowedLateness.Milliseconds(),
			Emit:     e.emitFirst,
			Store:    opts.WindowStore,
		}
		if opts.WindowStore != nil && opts.TrackOffsets {
			return nil, errors.Join(errors.New("engine: a window store with TrackOffsets (a consumer group without state) is not supported"),
				opts.WindowStore.Close())
		}
		var err error
		if e.op, err = windows.New(cfg); err != nil {
			if opts.WindowStore != nil {
				return nil, errors.Join(err, opts.WindowStore.Close())
			}
			return nil, err
		}
		e.out.Names = w.Names
		e.out.Vals = make([]value.Value, len(w.Names))
		e.prefix = columnPrefixes(w.Names)
		if err := e.newAfter(); err != nil {
			return nil, errors.Join(err, e.op.Close())
		}
	} else if opts.WindowStore != nil {
		// no window to keep: the store is not needed
		if err := opts.WindowStore.Close(); err != nil {
			return nil, err
		}
	}
	if w := plan.Window; w == nil && plan.Join == nil && !plan.Output.Raw {
		e.out.Names = plan.Output.Names
		e.out.Vals = make([]value.Value, len(plan.Output.Names))
	}
	return e, nil
}

// Stats returns the counters as of the last finished batch.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.pub
}

// Watermark returns the current watermark (windows.NoWatermark before any
// event time, windows.EndOfInput after Finish).
func (e *Engine) Watermark() int64 {
	if e.pool != nil {
		return e.pool.watermark()
	}
	if e.op != nil {
		return e.op.Watermark()
	}
	return e.globalWatermark()
}

// OpenWindows returns the number of open (window, key) states.
func (e *Engine) OpenWindows() int {
	if e.pool != nil {
		return e.pool.open()
	}
	if e.op == nil {
		return e.openAfter()
	}
	return e.op.Open() + e.openAfter()
}

func (e *Engine) publish() {
	e.mu.Lock()
	e.pub = e.stats
	e.pubBySrc = append(e.pubBySrc[:0], e.bySrc...)
	e.publishMore()
	e.mu.Unlock()
}

// Process runs a batch of records. It returns an error only when a sink or
// the dead letters fail; bad records are dead letters, not errors.
func (e *Engine) Process(recs []source.Record) error {
	now := e.opts.Clock().UnixMilli()
	if len(recs) > 0 {
		if e.lastBatch == 0 || now-e.lastBatch >= e.idleMs {
			e.resumedAt = now
		}
		e.lastBatch = now
	}
	e.checkIdle(now)
	e.checkTables()
	if e.pool != nil {
		if e.err == nil {
			e.pool.process(recs, now)
		}
		e.publish()
		return e.err
	}
	for i := range recs {
		r := &recs[i]
		ps := e.partition(r, now)
		ps.next = r.Offset + 1
		if r.Seq != "" {
			ps.after = r.Seq
		}
		e.cur = ps
		if e.bySrc != nil {
			before := e.stats
			e.record(r, now)
			e.countSource(before)
		} else {
			e.record(r, now)
		}
		if e.op != nil {
			e.checkStore()
		}
		if e.opts.TrackOffsets {
			ps.track(r.Offset, e.doneW, e.doneTs)
		}
		if e.err != nil {
			break
		}
	}
	e.expireJoin()
	e.publish()
	return e.err
}

// Finish ends a bounded input: the watermark goes to +∞ and every open
// window fires. Sinks are not closed.
func (e *Engine) Finish() error {
	e.warnUnseen()
	if e.pool != nil {
		e.pool.ws[0].sub.warnUnseen()
		e.pool.flush()
	}
	if e.op != nil {
		e.op.Flush()
		e.advanceAfter(windows.EndOfInput, true)
		e.checkStore()
	}
	if e.join != nil {
		e.join.op.Advance(windows.EndOfInput)
		e.expireJoin()
		if e.after != nil {
			e.advanceAfter(windows.EndOfInput, true)
		}
	}
	e.publish()
	return e.err
}

// checkStore stops the run on a window store failure (a disk error): the
// state is then unreliable, and the last checkpoint is where to restart.
func (e *Engine) checkStore() {
	if err := e.op.Err(); err != nil && e.err == nil {
		e.err = err
	}
}

// WindowErr returns the window store's first failure (nil in memory).
func (e *Engine) WindowErr() error {
	if e.pool != nil {
		var errs []error
		for _, w := range e.pool.ws {
			if w.win != nil {
				errs = append(errs, w.win.op.Err())
			}
		}
		return errors.Join(errs...)
	}
	if e.op == nil {
		return nil
	}
	return e.op.Err()
}

// Close releases the window store, if any. Sinks are not closed.
func (e *Engine) Close() error {
	if e.pool != nil {
		return e.pool.close()
	}
	if e.join != nil {
		return e.join.op.Close()
	}
	if e.op == nil {
		return nil
	}
	return e.op.Close()
}

func (e *Engine) record(r *source.Record, now int64) {
	e.stats.In++
	e.doneW, e.doneTs = windows.NoWatermark, windows.NoWatermark
	row := e.row
	var spans []decode.Span
	if e.plan.Output.Raw && e.op == nil {
		spans = e.spans
	}
	if err := e.dec.Decode(r.Value, row[:e.nIn], spans); err != nil {
		if format.Fatal(err) { // the registry is down: stop, unhandled, not a dead letter
			e.stats.In--
			if e.err == nil {
				e.err = err
			}
			return
		}
		e.dead(r, -1, "decode", err.Error())
		return
	}
	if u := e.unseen; u != nil {
		if u.observe(row[:e.nIn]); u.n >= unseenCheck {
			e.warnUnseen()
		}
	}
	ts := now
	if e.plan.TimeSlot >= 0 || e.plan.TimeFrom != pipeline.NoCoord {
		ts = 0
	}
	switch {
	case e.plan.TimeSlot >= 0:
		t, err := pipeline.EventTime(row[e.plan.TimeSlot])
		if err != nil {
			e.dead(r, -1, "time", fmt.Sprintf("%s: %v", e.plan.Pipeline.Time.Field, err))
			return
		}
		if msg := e.windowRange(t); msg != "" {
			e.dead(r, -1, "time", fmt.Sprintf("%s: %s", e.plan.Pipeline.Time.Field, msg))
			return
		}
		ts = t
	case e.plan.TimeFrom == pipeline.CoordTimestamp:
		if r.Timestamp == 0 && r.File {
			e.dead(r, -1, "time", "_timestamp: missing event time: file records have no Kafka timestamp")
			return
		}
		ts = r.Timestamp
		if ts < pipeline.MinTime || ts > pipeline.MaxTime {
			e.dead(r, -1, "time", fmt.Sprintf("_timestamp: event time %d is %v", ts, pipeline.ErrTimeRange))
			return
		}
		if msg := e.windowRange(ts); msg != "" {
			e.dead(r, -1, "time", "_timestamp: "+msg)
			return
		}
	}
	defer e.advance(ts)
	for si := range e.plan.Steps {
		st := &e.plan.Steps[si]
		switch st.Kind {
		case pipeline.Filter:
			if fc := e.fast[si]; fc != nil {
				if keep, ok := fc.eval(row); ok {
					if !keep {
						e.filtered(st.Index)
						return
					}
					continue
				}
			}
			res, err := e.eval(st.Filter, r)
			if err != nil {
				e.dead(r, st.Index, "filter", err.Error())
				return
			}
			keep, ok := res.(bool)
			if !ok {
				e.dead(r, st.Index, "filter", fmt.Sprintf("filter returned %s, not a boolean", typeName(res)))
				return
			}
			if !keep {
				e.filtered(st.Index)
				return
			}
		case pipeline.Coerce:
			for _, c := range st.Coerce {
				v, err := pipeline.CoerceValue(row[c.Slot], c.Type)
				if err != nil {
					e.dead(r, st.Index, "coerce", c.Field+": "+err.Error())
					return
				}
				row[c.Slot] = v
			}
		case pipeline.Lookup:
			if !e.lookup(st, e.lookups[si], r) {
				return
			}
		case pipeline.Project:
			for j, p := range st.Project {
				if p.Prog == nil {
					row[p.Slot] = row[p.From]
					continue
				}
				if fa := e.fastProj[si][j]; fa != nil {
					if v, ok := fa.eval(row); ok {
						row[p.Slot] = v
						continue
					}
				}
				res, err := e.eval(p.Prog, r)
				if err == nil {
					row[p.Slot], err = value.FromAny(res)
				}
				if err != nil {
					e.dead(r, st.Index, "project", p.Name+": "+err.Error())
					return
				}
			}
		}
	}
	if e.join != nil {
		e.joinRecord(r, ts)
		return
	}
	if e.op != nil {
		late, err := e.op.Add(ts, row)
		switch {
		case err != nil:
			e.dead(r, e.plan.Window.Index, "window", err.Error())
		case late:
			e.stats.Late++
			e.stage[e.plan.Window.Index+1].Late++
			if e.late {
				e.deadLetter(r, e.plan.Window.Index, "window",
					fmt.Sprintf("late: event time %s is behind the watermark %s and every window it belongs to has closed",
						value.FormatTime(ts), watermarkText(e.op.Watermark())))
			}
		default:
			e.stats.Passed++
			if e.opts.TrackOffsets {
				e.doneW, e.doneTs = e.closedAt(ts), ts
			}
		}
		return
	}
	e.stats.Passed++
	e.writeRecord(r)
}

// watermarkText formats a watermark for messages; a restored run whose
// input had ended is at the end of input.
func watermarkText(w int64) string {
	if w == windows.EndOfInput {
		return "(the end of input: every window has fired)"
	}
	return value.FormatTime(w)
}

func (e *Engine) advance(ts int64) {
	ps := e.cur
	old := ps.wm.Value()
	if w := ps.wm.Observe(ts); w != old && (e.op != nil || e.join != nil) {
		e.advanceOps()
	}
}

// writeRecord streams a record that passed every step (no window).
func (e *Engine) writeRecord(r *source.Record) {
	out := &e.plan.Output
	b := e.buf[:0]
	if out.Raw {
		b = e.substitute(b, r.Value, out.Coerced, out.Joined)
		e.out.Vals = e.out.Vals[:0]
	} else {
		b = append(b, '{')
		for i, name := range out.Names {
			if i > 0 {
				b = append(b, ',')
			}
			b = value.AppendString(b, name)
			b = append(b, ':')
			v := e.row[out.Slots[i]]
			b = value.AppendJSON(b, v)
			e.out.Vals[i] = v
		}
		b = append(b, '}')
	}
	e.buf = b
	e.out.JSON = b
	e.write()
}

// substitute copies the raw JSON object, replacing the values of coerced
// top-level fields and of the record's fields a lookup joined, appending
// the joined fields it does not have, and trims surrounding space.
func (e *Engine) substitute(b, raw []byte, slots []int, joined []pipeline.Joined) []byte {
	start := 0
	type rep struct {
		span decode.Span
		v    value.Value
	}
	var reps [8]rep
	list := reps[:0]
	for _, s := range slots {
		if sp := e.spans[s]; sp.Start >= 0 {
			list = append(list, rep{sp, e.row[s]})
		}
	}
	for _, j := range joined {
		if sp := e.spans[j.Input]; sp.Start >= 0 {
			list = append(list, rep{sp, e.row[j.Slot]})
		}
	}
	if len(list) > 1 {
		// spans in file order
		for i := 1; i < len(list); i++ {
			for j := i; j > 0 && list[j].span.Start < list[j-1].span.Start; j-- {
				list[j], list[j-1] = list[j-1], list[j]
			}
		}
	}
	for _, r := range list {
		b = append(b, raw[start:r.span.Start]...)
		b = value.AppendJSON(b, r.v)
		start = int(r.span.End)
	}
	b = append(b, raw[start:]...)
	b = trimSpace(b)
	if len(joined) > 0 && len(b) > 0 && b[len(b)-1] == '}' {
		b = b[:len(b)-1]
		empty := len(bytes.TrimSpace(b)) == 1 // only the {
		for _, j := range joined {
			if e.spans[j.Input].Start >= 0 {
				continue
			}
			if !empty {
				b = append(b, ',')
			}
			empty = false
			b = value.AppendString(b, j.Name)
			b = append(b, ':')
			b = value.AppendJSON(b, e.row[j.Slot])
		}
		b = append(b, '}')
	}
	return b
}

func trimSpace(b []byte) []byte { return bytes.TrimSpace(b) }

func (e *Engine) emitResult(r *windows.Result) {
	w := e.plan.Window
	vals := e.out.Vals[:0]
	vals = append(vals, r.Key...)
	vals = append(vals, value.OfTime(r.Start), value.OfTime(r.End))
	if e.plan.Pipeline.Time.AllowedLateness > 0 {
		vals = append(vals, value.OfInt(int64(r.Revision)))
	}
	vals = append(vals, r.Aggs...)
	e.out.Vals = vals
	if len(e.startJS) == 0 || r.Start != e.startMs {
		e.startMs, e.startJS = r.Start, value.AppendJSON(e.startJS[:0], vals[len(r.Key)])
	}
	if len(e.endJS) == 0 || r.End != e.endMs {
		e.endMs, e.endJS = r.End, value.AppendJSON(e.endJS[:0], vals[len(r.Key)+1])
	}
	b := e.buf[:0]
	for i := range w.Names {
		b = append(b, e.prefix[i]...)
		switch i - len(r.Key) {
		case 0:
			b = append(b, e.startJS...)
		case 1:
			b = append(b, e.endJS...)
		default:
			b = value.AppendJSON(b, vals[i])
		}
	}
	b = append(b, '}')
	e.buf = b
	e.out.JSON = b
	e.write()
}

func (e *Engine) write() {
	e.stats.Rows++
	for i, s := range e.opts.Sinks {
		e.out.Key = nil
		if i < len(e.plan.SinkKeys) && e.plan.SinkKeys[i] != nil {
			e.out.Key = e.sinkKey(e.plan.SinkKeys[i])
		}
		if err := s.Write(&e.out); err != nil {
			if e.err == nil {
				e.err = err
			}
		} else {
			e.sinkRows[i]++
		}
	}
}

// sinkKey builds a Kafka record key: one field's value as text (strings
// as they are, other values as JSON), several fields as a JSON array.
func (e *Engine) sinkKey(refs []pipeline.KeyRef) []byte {
	get := func(r pipeline.KeyRef) value.Value {
		if r.Col >= 0 {
			return e.out.Vals[r.Col]
		}
		return e.row[r.Slot]
	}
	if len(refs) == 1 {
		v := get(refs[0])
		switch v.K {
		case value.Null:
			return nil
		case value.String:
			return []byte(v.S)
		}
		return value.AppendJSON(nil, v)
	}
	b := []byte{'['}
	for i, r := range refs {
		if i > 0 {
			b = append(b, ',')
		}
		b = value.AppendJSON(b, get(r))
	}
	return append(b, ']')
}

// filtered counts a record that stage index dropped, in the run's totals
// and the stage's (every drop goes through here, so in = passed + filtered
// + dead + late holds per stage).
func (e *Engine) filtered(index int) {
	e.stats.Filtered++
	e.stage[index+1].Filtered++
}

func (e *Engine) dead(r *source.Record, index int, kind, msg string) {
	e.stats.Dead++
	e.stage[index+1].Dead++
	e.deadLetter(r, index, kind, msg)
}

func (e *Engine) deadLetter(r *source.Record, index int, kind, msg string) {
	if e.opts.Dead == nil {
		return
	}
	d := &e.dl
	*d = sink.DeadLetter{Error: msg, StageIndex: index, StageKind: kind, Headers: d.Headers[:0]}
	d.SetRecord(r)
	if err := e.opts.Dead.WriteDead(d); err != nil && e.err == nil {
		e.err = err
	}
}

// windowRange says why an event time inside the accepted range still
// cannot be windowed: one of its windows would start or end outside it.
func (e *Engine) windowRange(t int64) string {
	if e.plan.Window == nil {
		return ""
	}
	start, end := e.plan.Window.Spec.Extent(t)
	if start < pipeline.MinTime || end > pipeline.MaxTime {
		return fmt.Sprintf("event time %s has a %s window from %s to %s, %v", value.FormatTime(t), e.plan.Window.Spec.Type,
			value.FormatTime(start), value.FormatTime(end), pipeline.ErrTimeRange)
	}
	return ""
}

// eval runs an expression with its variables bound from the row and the
// record's coordinates.
func (e *Engine) eval(p *pipeline.Program, r *source.Record) (any, error) {
	return e.evalRow(p, e.row, r)
}

// evalRow is eval over another row (a window's result row, with r nil:
// such programs read no coordinates).
func (e *Engine) evalRow(p *pipeline.Program, row []value.Value, r *source.Record) (any, error) {
	size := 0
	for _, v := range p.Vars {
		if v.Coord == pipeline.CoordSource {
			e.env[v.Name] = e.sourceName()
			continue
		}
		if v.Coord != pipeline.NoCoord {
			e.env[v.Name] = coordValue(v.Coord, r)
			continue
		}
		e.env[v.Name] = row[v.Slot].Any(decodeJSON)
	}
	if r != nil {
		size = len(r.Value)
	}
	res, err := p.Run(&e.vm, e.env, size)
	if err != nil {
		return nil, errors.New(firstLine(err.Error()))
	}
	return res, nil
}

// sourceName is the name of the current record's source; nil with a
// single source.
func (e *Engine) sourceName() any {
	if e.bySrc == nil {
		return nil
	}
	return e.bySrc[e.src].Source
}

func coordValue(c pipeline.Coord, r *source.Record) any {
	switch c {
	case pipeline.CoordKey:
		if r.Key == nil {
			return nil
		}
		return string(r.Key)
	case pipeline.CoordTopic:
		return r.Topic
	case pipeline.CoordPartition:
		return int(r.Partition)
	case pipeline.CoordOffset:
		return int(r.Offset)
	case pipeline.CoordTimestamp:
		if r.Timestamp == 0 {
			return nil
		}
		return time.UnixMilli(r.Timestamp).UTC()
	case pipeline.CoordHeaders:
		m := make(map[string]any, len(r.Headers))
		for _, h := range r.Headers {
			m[h.Key] = string(h.Value)
		}
		return m
	}
	return nil
}

func decodeJSON(s string) any {
	var x any
	if err := json.Unmarshal([]byte(s), &x); err != nil {
		return s
	}
	return x
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

func typeName(x any) string {
	if x == nil {
		return "null"
	}
	v, err := value.FromAny(x)
	if err != nil {
		return fmt.Sprintf("%T", x)
	}
	return v.K.String() + " " + strconv.Quote(string(value.AppendJSON(nil, v)))
}
