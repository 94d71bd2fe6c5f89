package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/lookup"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/replay"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/value"
)

// FeedMsg is what a feed sends the UI at most [Refresh] times a second: the
// records, rows and dead letters since the last one (each capped, oldest
// dropped), the counters and, once the feed ends, Done and its error.
type FeedMsg struct {
	ID      int // the feed's id; messages of a replaced feed are ignored
	At      time.Time
	Gen     int // the pipeline generation that Rows, Dead, Counts and Stats belong to
	Records []source.Record
	Rows    []ResultRow
	Dead    []DeadItem
	Counts  map[DeadKey]int64 // dead letters by class and stage since the last message
	Stats   engine.Stats      // the running pipeline's counters since it was applied
	// Published is what the running engine published as of its last
	// batch (counts by stage and sink, watermarks), for --metrics; its
	// Stats are Stats. Tail only: just the Stats.
	Published engine.Published
	Read      int64 // records read since the feed started
	Since     int64 // records read before generation Gen started (all handled by earlier ones)
	Dropped   int64 // records not shown because more than TailCap arrived between refreshes
	Lag       int64 // records behind the end of the topic; -1 unknown (files)
	// PartitionLag is Lag per partition (a Kafka source; nil otherwise),
	// for --metrics.
	PartitionLag map[source.Partition]int64
	Done         bool
	Err          error
	// Warnings are the running pipeline's notices (fields it reads that
	// no record has), for generation Gen, each sent once.
	Warnings []string
}

// ResultRow is one result row, formatted.
type ResultRow struct {
	Names []string
	Cells []string
	Vals  []value.Value // nil for raw records
	JSON  []byte
}

// DeadKey groups dead letters: the error class (see replay.Class) and the stage.
type DeadKey struct{ Class, Stage string }

// DeadItem is one dead letter, formatted, with the record it came from.
type DeadItem struct {
	DeadKey
	Error, Origin, Value string
	L                    replay.Letter // the whole letter; its bytes are the item's own
}

// hub is where the feed's goroutines leave data for the ticker.
type hub struct {
	mu      sync.Mutex
	recs    []source.Record
	rows    []ResultRow
	dead    []DeadItem
	counts  map[DeadKey]int64
	read    int64
	dropped int64
	gen     int            // the running pipeline's generation
	eng     *engine.Engine // the running engine; nil: tail only
	genRead int64          // read when gen started (tail-only counters)
	err     error          // a failed swap, reported once
	warns   []string       // the running generation's warnings not yet drained
	// undecoded counts the running generation's records whose values did
	// not decode (Options.Decoder): dead letters of the decode stage that
	// the feed wrote, not the engine, added to the engine's counters.
	undecoded int64
}

// keepLast appends xs to s and drops the oldest beyond limit.
func keepLast[T any](s []T, limit int, xs ...T) []T {
	s = append(s, xs...)
	if n := len(s) - limit; n > 0 {
		s = append(s[:0], s[n:]...)
	}
	return s
}

// keepLastLazy is keepLast for one item at a time on a hot path: it lets s
// grow to twice limit before dropping the oldest, so each append costs O(1)
// amortised; drain trims it to limit.
func keepLastLazy[T any](s []T, limit int, x T) []T {
	if len(s) >= 2*limit {
		s = append(s[:0], s[len(s)-limit+1:]...)
	}
	return append(s, x)
}

// addRecords keeps copies of the last TailCap records of rs.
func (h *hub) addRecords(rs []source.Record) {
	skip := max(0, len(rs)-TailCap)
	cp := make([]source.Record, 0, len(rs)-skip)
	for _, r := range rs[skip:] {
		cp = append(cp, copyRecord(r))
	}
	h.mu.Lock()
	h.read += int64(len(rs))
	drop := int64(skip) + int64(max(0, len(h.recs)+len(cp)-TailCap))
	h.dropped += drop
	h.recs = keepLast(h.recs, TailCap, cp...)
	h.mu.Unlock()
}

// copyRecord copies a record out of its batch, whose bytes are reused.
func copyRecord(r source.Record) source.Record {
	r.Key = clone(r.Key)
	r.Value = clone(r.Value)
	if r.Headers != nil {
		hs := make([]source.Header, len(r.Headers))
		for i, x := range r.Headers {
			hs[i] = source.Header{Key: x.Key, Value: clone(x.Value)}
		}
		r.Headers = hs
	}
	return r
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

// install makes eng (nil: tail only) the running pipeline of generation gen;
// what the previous one left undrained is dropped.
func (h *hub) install(gen int, eng *engine.Engine) {
	h.mu.Lock()
	h.gen, h.eng, h.genRead, h.undecoded = gen, eng, h.read, 0
	h.rows, h.dead, h.counts, h.warns = nil, nil, nil, nil
	h.mu.Unlock()
}

func (h *hub) fail(err error) {
	h.mu.Lock()
	h.err = err
	h.mu.Unlock()
}

// genSink is the engine's sink and dead-letter destination for one
// generation; what a replaced generation writes is dropped.
type genSink struct {
	h   *hub
	gen int
}

// Write keeps a result row.
func (s genSink) Write(r *sink.Row) error {
	row := ResultRow{Names: append([]string{}, r.Names...), Cells: make([]string, len(r.Vals)), Vals: make([]value.Value, len(r.Vals)), JSON: clone(r.JSON)}
	for i, v := range r.Vals {
		row.Cells[i] = cell(v)
		row.Vals[i] = v
	}
	if len(r.Names) == 0 { // raw records (no window, no project): their fields
		row.Names, row.Cells = orderedFields(r.JSON)
		row.Vals = nil
	}
	h := s.h
	h.mu.Lock()
	if h.gen == s.gen {
		h.rows = keepLastLazy(h.rows, ResultCap, row)
	}
	h.mu.Unlock()
	return nil
}

// cell formats a value for a table: JSON, strings unquoted (invalid UTF-8
// as \xNN), floats to 6 significant digits, never in exponent form below
// 10^15 (507.835551 shows as 507.836; exports keep the exact values).
func cell(v value.Value) string {
	if v.K == value.Float && !math.IsInf(v.F, 0) && !math.IsNaN(v.F) && math.Abs(v.F) < 1e15 {
		return roundFloat(v.F)
	}
	if v.K == value.String {
		return printable(string(value.AppendText(nil, v.S))) // C1 controls are valid text
	}
	b := value.AppendJSON(nil, v)
	if len(b) >= 2 && b[0] == '"' {
		return string(b[1 : len(b)-1])
	}
	return string(b)
}

// WriteDead keeps a dead letter.
func (s genSink) WriteDead(d *sink.DeadLetter) error {
	stage := sink.StageLabel(d.StageIndex, d.StageKind)
	it := itemOf(letterOf(d, replay.Class(d.StageKind, d.Error), stage))
	h := s.h
	h.mu.Lock()
	if h.gen == s.gen {
		if h.counts == nil {
			h.counts = map[DeadKey]int64{}
		}
		h.counts[it.DeadKey]++
		h.dead = keepLastLazy(h.dead, DeadCap, it)
	}
	h.mu.Unlock()
	return nil
}

func (genSink) Close() error { return nil }

// warn keeps an engine warning of the generation.
func (s genSink) warn(msg string) {
	h := s.h
	h.mu.Lock()
	if h.gen == s.gen {
		h.warns = append(h.warns, msg)
	}
	h.mu.Unlock()
}

// drain takes what arrived since the last call; it returns the running
// engine and the records of its generation that did not decode.
func (h *hub) drain(m *FeedMsg) (*engine.Engine, int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	m.Records, h.recs = h.recs, nil
	m.Rows, h.rows = keepLast(h.rows, ResultCap), nil
	m.Dead, h.dead = keepLast(h.dead, DeadCap), nil
	m.Counts, h.counts = h.counts, nil
	m.Dropped, h.dropped = h.dropped, 0
	m.Read, m.Gen, m.Since = h.read, h.gen, h.genRead
	if h.err != nil {
		m.Err, h.err = h.err, nil
	}
	m.Warnings, h.warns = h.warns, nil
	if h.eng == nil {
		m.Stats.In = h.read - h.genRead
		m.Stats.Passed = m.Stats.In
	}
	return h.eng, h.undecoded
}

// undecodedDead makes a record whose value did not decode a dead letter of
// the decode stage of generation gs, as the engine would (eddy run's
// engine decodes the values itself).
func (h *hub) undecodedDead(gs genSink, r *source.Record, err error) {
	d := sink.DeadLetter{Error: err.Error(), StageIndex: -1, StageKind: "decode"}
	d.SetRecord(r)
	_ = gs.WriteDead(&d)
	h.mu.Lock()
	if h.gen == gs.gen {
		h.undecoded++
	}
	h.mu.Unlock()
}

// addUndecoded counts n undecoded records in an engine's publication:
// read by the source stage and dead there.
func addUndecoded(p *engine.Published, n int64) {
	if n == 0 {
		return
	}
	p.Stats.In += n
	p.Stats.Dead += n
	if len(p.Stages) > 0 {
		p.Stages[0].In += n
		p.Stages[0].Dead += n
	}
}

// swapReq asks the feed to run plan (nil: tail only) as generation gen.
type swapReq struct {
	gen  int
	plan *pipeline.Plan
}

// feed is one running source, with its pipeline when there is one.
type feed struct {
	id     int
	cancel context.CancelFunc
	ch     chan FeedMsg
	swaps  chan swapReq // capacity 1: the newest request wins
}

// swap replaces the running pipeline between two batches without touching
// the source: the consumer keeps its position, window state starts empty.
// Only the UI goroutine calls it.
func (f *feed) swap(gen int, plan *pipeline.Plan) {
	select {
	case <-f.swaps:
	default:
	}
	f.swaps <- swapReq{gen, plan}
}

// startFeed reads src (closing it at the end) and runs plan (nil: tail only)
// over it as generation gen; [feed.swap] replaces the plan. A plan's
// lookup stages read the tables that tables opens. view (nil: none)
// decodes the records' values. The feed's channel is closed after the last
// message.
func startFeed(ctx context.Context, id int, src source.Source, gen int, plan *pipeline.Plan, tables TablesFunc, view *tailView, logf func(string, ...any)) *feed {
	ctx, cancel := context.WithCancel(ctx)
	f := &feed{id: id, cancel: cancel, ch: make(chan FeedMsg), swaps: make(chan swapReq, 1)}
	h := &hub{}
	var (
		mu   sync.Mutex
		done bool
		ferr error
	)
	finish := func(err error) {
		mu.Lock()
		done, ferr = true, err
		mu.Unlock()
	}
	f.swap(gen, plan)
	go func() {
		var err error
		defer func() {
			if r := recover(); r != nil {
				logf("panic in feed: %v\n%s", r, debug.Stack())
				err = fmt.Errorf("feed panicked: %v", r)
			}
			if errors.Is(err, context.Canceled) || errors.Is(err, io.EOF) {
				err = nil
			}
			finish(err)
		}()
		err = run(ctx, src, h, f.swaps, tables, view)
	}()
	go func() {
		defer close(f.ch)
		defer func() {
			if r := recover(); r != nil {
				logf("panic in feed ticker: %v\n%s", r, debug.Stack())
			}
		}()
		t := time.NewTicker(time.Second / Refresh)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				m := FeedMsg{ID: id, At: now, Lag: -1}
				if l, ok := src.(interface{ Lag() int64 }); ok {
					m.Lag = l.Lag()
				}
				if l, ok := src.(interface {
					PartitionLag() map[source.Partition]int64
				}); ok {
					m.PartitionLag = l.PartitionLag()
				}
				mu.Lock()
				m.Done = done
				if ferr != nil {
					m.Err = ferr
				}
				mu.Unlock()
				if eng, n := h.drain(&m); eng != nil {
					m.Published = eng.Published()
					addUndecoded(&m.Published, n)
					m.Stats = m.Published.Stats
				} else {
					m.Published.Stats = m.Stats
				}
				select {
				case f.ch <- m:
				case <-ctx.Done():
					return
				}
				if m.Done {
					return
				}
			}
		}
	}()
	return f
}

// run is the feed's engine goroutine: it owns the engine. A prefetching
// goroutine owns the source (as in engine.Run), so a swap is taken between
// batches even while the source waits for records.
func run(ctx context.Context, src source.Source, h *hub, swaps <-chan swapReq, openTables TablesFunc, view *tailView) error {
	pf := source.Prefetch(ctx, src, 2)
	var (
		eng  *engine.Engine
		gs   genSink         // the running engine's
		kept []source.Record // a batch less its undecoded records
	)
	closeTables := func() error { return nil } // the running engine's tables
	defer func() {
		pf.Stop()
		_ = src.Close()
		_ = closeTables()
	}()
	install := func(r swapReq) {
		var next *engine.Engine
		nextClose := func() error { return nil }
		if r.plan != nil {
			var tables map[string]*lookup.Table
			if len(r.plan.Pipeline.Tables) > 0 && openTables != nil {
				t, c, err := openTables(ctx, r.plan.Pipeline)
				if err != nil {
					h.fail(fmt.Errorf("apply pipeline: %w", err))
					return
				}
				tables, nextClose = t, c
			}
			var err error
			ngs := genSink{h, r.gen}
			next, err = engine.New(r.plan, engine.Options{Sinks: []sink.Sink{ngs}, Dead: ngs, Warn: ngs.warn, Tables: tables})
			if err != nil {
				_ = nextClose()
				h.fail(fmt.Errorf("apply pipeline: %w", err))
				return
			}
			if p, ok := src.(source.Partitioned); ok {
				next.Expect(p.Partitions(), time.Now())
			}
		}
		_ = closeTables()
		eng, closeTables, gs = next, nextClose, genSink{h, r.gen}
		h.install(r.gen, eng)
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case r := <-swaps:
			install(r)
			continue
		case it, ok := <-pf.C:
			if !ok {
				return ctx.Err()
			}
			if it.Err != nil {
				if errors.Is(it.Err, io.EOF) && src.Bounded() && eng != nil {
					return eng.Finish()
				}
				return it.Err
			}
			// a swap asked for before this batch applies to it
			select {
			case r := <-swaps:
				install(r)
			default:
			}
			bad, err := view.batch(ctx, it.Batch.Records)
			if err != nil {
				pf.Done(it.Batch)
				return err
			}
			h.addRecords(it.Batch.Records)
			if eng != nil {
				if len(it.Batch.Added) > 0 {
					eng.StartAt(it.Batch.Added, time.Now())
				}
				for _, b := range bad {
					h.undecodedDead(gs, &it.Batch.Records[b.i], b.err)
				}
				kept = withoutUndecoded(it.Batch.Records, bad, kept)
				eng.SetSource(it.Batch.Source) // several sources: the batch's (_source, a join's sides)
				err = eng.Process(kept)
				eng.Done(it.Batch.Finished)
			}
			pf.Done(it.Batch)
			if err != nil {
				return err
			}
		}
	}
}

// wait reads the feed's next message; the root re-arms it after each one.
func (f *feed) wait() tea.Cmd {
	ch := f.ch
	return func() tea.Msg {
		m, ok := <-ch
		if !ok {
			return nil
		}
		return m
	}
}

// roundFloat writes f with 6 significant digits (at most 6 decimals, and
// none for numbers of 6 digits or more), without trailing zeros.
func roundFloat(f float64) string {
	if f == 0 {
		return "0"
	}
	digits := int(math.Floor(math.Log10(math.Abs(f)))) + 1 // before the point
	dec := min(max(6-digits, 0), 6)
	p := math.Pow10(dec)
	return strconv.FormatFloat(math.Round(f*p)/p, 'f', -1, 64)
}
