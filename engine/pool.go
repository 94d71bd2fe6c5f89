package engine

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/value"
	"github.com/eddyhq/eddy/windows"
)

// A pool runs an engine on several workers (Options.Workers > 1) with the
// same output as one: the same rows in the same order, the same dead
// letters, the same counters after every batch. See docs/design.md,
// "Parallel workers". Each batch goes through four phases:
//
//	A (parallel)   the workers decode and run the stages over chunks of
//	               the batch (each its own decoder, VM and lookups),
//	               noting each record's outcome and event time and
//	               copying the rows that reach the window
//	B (sequential) the coordinator (Run's goroutine) walks the batch in
//	               input order: partitions, watermark (as one engine
//	               computes it), and routes each windowed row to the
//	               worker that owns its key (hash of the key's encoding)
//	               with the watermark the one engine had before it
//	C (parallel)   each worker advances its window operator to that
//	               watermark and adds the row, for each row routed to it,
//	               then advances to the batch's watermark; the rows its
//	               operator emits are encoded there
//	D (sequential) the coordinator merges the workers' rows in the one
//	               engine's order, writes them, and counts every record
//	               and writes its dead letter in input order
//
// Phase C only ever sees the watermark the single engine would have, and
// every window fired by a watermark w_i (after w_{i-1}) ends in
// (w_{i-1}, w_i]: so the rows fired by advances, over a whole batch, are
// in (end, start, key) order, and merging the workers' streams by that
// order restores the one engine's. A row emitted by Add itself (a late
// update within the allowed lateness) comes after every fired row ending
// at or before the watermark before its record, and before the others.
type pool struct {
	e       *Engine
	workers int       // goroutines: the coordinator and workers 1..workers-1
	ws      []*worker // the key shards, each a worker: the first workers also decode
	window  bool
	wIndex  int   // the window stage's spec index
	opW     int64 // the window operator's watermark as a single engine has it
	prep    []prep
	fatalAt int  // index of a record whose decoding must stop the run; -1
	keyed   bool // some sink builds record keys
	legacy  bool // keys are routed by routeFNV (restored from a legacyMagic checkpoint)
	cur     []int
	heap    []int // merge: shards by their next fired row
}

// chunkRecords is how many records a worker claims at a time in phase A.
const chunkRecords = 256

// shardsPerWorker is how many key shards (window operators, phase C's
// items) there are per worker in memory; with Pebble one (one store per
// worker). More shards let a worker the OS deschedules in the middle of
// one hold up less of the work, but 4 cost 10-30 % more CPU time than 1
// (smaller panes, more of them; docs/performance.md, "Every core").
const shardsPerWorker = 1

type prepKind uint8

const (
	prepPassed prepKind = iota
	prepFiltered
	prepDead
	prepFatal
	prepLate      // set in phase C
	prepWindowErr // set in phase C
)

// prep is what the phases learn about one record of the batch.
type prep struct {
	kind   prepKind
	hasTs  bool // it advances the watermark with ts
	ts     int64
	stage  int    // spec index of the stage that filtered or dead-lettered it
	dkind  string // the dead letter's stage kind
	msg    string
	err    error // prepFatal
	worker int32 // the worker holding its row (phase A)
	off    int32 // its row (window) or output row (no window) in that worker
	k0, k1 int32 // its key's encoding in that worker's kbytes (window)
	owner  int32 // the worker its key is routed to (window)
	wm     int64 // the watermark before it (window)
}

// parallelRefusal says why a pipeline runs on one worker whatever
// Options.Workers says; "" when it may run on several.
func parallelRefusal(plan *pipeline.Plan, opts Options) string {
	switch {
	case len(plan.Pipeline.Sources) > 0:
		return "several sources are counted by source on one worker"
	case plan.Join != nil:
		return "a join stage runs on one worker"
	case len(plan.After) > 0:
		return "stages after a window (top-k among others) see every key's rows, which one worker holds"
	case opts.TrackOffsets:
		return "a consumer group without state commits offsets as windows close, which one worker tracks"
	}
	return ""
}

func newPool(plan *pipeline.Plan, opts Options) (*Engine, error) {
	stores := opts.WorkerStores
	closeStores := func(err error) error {
		for _, s := range stores {
			if s != nil {
				err = errors.Join(err, s.Close())
			}
		}
		return err
	}
	if stores != nil && len(stores) != opts.Workers {
		return nil, closeStores(fmt.Errorf("engine: %d window stores for %d workers", len(stores), opts.Workers))
	}
	mo := opts
	mo.Workers, mo.WindowStore, mo.WorkerStores = 0, nil, nil
	e, err := New(plan, mo)
	if err != nil {
		return nil, closeStores(err)
	}
	e.unseen = nil // worker 0 observes the first records
	p := &pool{e: e, window: plan.Window != nil, opW: windows.NoWatermark, fatalAt: -1}
	for _, k := range plan.SinkKeys {
		p.keyed = p.keyed || k != nil
	}
	if e.op != nil {
		p.wIndex = plan.Window.Index
		if err := e.op.Close(); err != nil {
			return nil, closeStores(err)
		}
		e.op = nil
	}
	e.pool = p
	p.workers = opts.Workers
	shards := opts.Workers * shardsPerWorker
	if stores != nil {
		shards = opts.Workers // one Pebble store per worker
	}
	for k := 0; k < shards; k++ {
		var st windows.Store
		if stores != nil {
			st, stores[k] = stores[k], nil
		}
		w, err := newWorker(p, k, plan, opts, st)
		if err != nil {
			return nil, errors.Join(err, closeStores(nil), e.Close())
		}
		p.ws = append(p.ws, w)
	}
	return e, nil
}

// task is one parallel phase: n items, claimed in order by whichever
// goroutine comes first, the coordinator included. The coordinator waits
// for the items to be done, not for every worker to show up: on a busy
// machine a worker the OS has not scheduled yet holds up nothing, and one
// descheduled in the middle of an item holds up that item only.
type task struct {
	n    int64
	item func(w *worker, i int) bool // false: skip the items not begun
	next atomic.Int64
	left atomic.Int64
	stop atomic.Bool
	done chan struct{}
	mu   sync.Mutex
	err  error // the first panic
}

func (t *task) work(w *worker) {
	for {
		i := t.next.Add(1) - 1
		if i >= t.n {
			return
		}
		t.run(w, int(i))
	}
}

// wait returns when every item is done: it spins for them before it
// parks on done (see worker.await: the last item is often a worker's,
// done a few microseconds later).
func (t *task) wait() {
	spin(func() bool { return t.left.Load() == 0 })
	<-t.done
}

// spin asks ready until it is true or spinFor has passed, yielding its P
// every spinChecks asks (the clock and a yield cost more than an ask),
// and reports whether it became true.
func spin(ready func() bool) bool {
	start := time.Now()
	for i := 1; !ready(); i++ {
		if i%spinChecks == 0 {
			if time.Since(start) >= spinFor {
				return false
			}
			runtime.Gosched()
		}
	}
	return true
}

func (t *task) run(w *worker, i int) {
	defer func() {
		if r := recover(); r != nil {
			t.mu.Lock()
			if t.err == nil {
				t.err = fmt.Errorf("engine: worker %d: panic: %v", w.id, r)
			}
			t.mu.Unlock()
			t.stop.Store(true)
		}
		if t.left.Add(-1) == 0 {
			close(t.done)
		}
	}()
	if !t.stop.Load() && !t.item(w, i) {
		t.stop.Store(true)
	}
}

// parallel runs item over 0..n-1 on the workers; false when one panicked
// (the run then stops with its error).
func (p *pool) parallel(n int, item func(w *worker, i int) bool) bool {
	t := &task{n: int64(n), item: item, done: make(chan struct{})}
	t.left.Store(int64(n))
	if n == 0 {
		return true
	}
	for _, w := range p.ws[1:p.workers] {
		select { // a task the worker has not taken yet is stale: replace it
		case <-w.run:
		default:
		}
		select {
		case w.run <- t:
		default:
		}
	}
	t.work(p.ws[0])
	t.wait()
	if t.err != nil {
		if p.e.err == nil {
			p.e.err = t.err
		}
		return false
	}
	return true
}

// process is Engine.Process on the pool.
func (p *pool) process(recs []source.Record, now int64) {
	e := p.e
	if cap(p.prep) < len(recs) {
		p.prep = make([]prep, len(recs))
	}
	p.prep = p.prep[:len(recs)]
	// A: decode and stages, chunks of the batch claimed in order by
	// whichever worker is free (one the OS has descheduled holds up no
	// more than its chunk); every chunk is prepared, also after a record
	// that stops the run (phase B stops there), so none before it is
	// skipped
	if !p.parallel((len(recs)+chunkRecords-1)/chunkRecords, func(w *worker, i int) bool {
		from := i * chunkRecords
		w.prepare(recs, from, min(from+chunkRecords, len(recs)), now)
		return true
	}) {
		return
	}
	// B: partitions, watermark and routing, in input order
	p.note()
	end := len(recs)
	for i := range recs {
		r, pr := &recs[i], &p.prep[i]
		ps := e.partition(r, now)
		ps.next = r.Offset + 1
		if r.Seq != "" {
			ps.after = r.Seq
		}
		if pr.kind == prepFatal {
			end = i
			break
		}
		if p.window && pr.kind == prepPassed {
			pr.wm = p.opW
			w := p.ws[pr.worker]
			p.ws[pr.owner].ops = append(p.ws[pr.owner].ops, addOp{i: int32(i), from: w, off: pr.off})
		}
		if pr.hasTs {
			old := ps.wm.Value()
			if ps.wm.Observe(pr.ts) != old {
				p.note()
			}
		}
	}
	if p.window {
		p.apply()
	}
	// D: rows, counters and dead letters, in input order
	p.account(recs[:end])
	if end < len(recs) && e.err == nil {
		e.err = p.prep[end].err
	}
}

// note raises the operator's watermark to the global one, as
// Engine.advance, checkIdle and Done do for one operator.
func (p *pool) note() {
	if !p.window {
		return
	}
	if g := p.e.globalWatermark(); g > p.opW {
		p.opW = g
	}
}

// settle brings every worker to the current watermark and writes what
// fires (after Done marked partitions finished).
func (p *pool) settle() {
	p.note()
	if p.window {
		p.apply()
	}
}

// flush is Finish: every window fires.
func (p *pool) flush() {
	if !p.window {
		return
	}
	p.opW = windows.EndOfInput
	p.apply()
}

// apply runs phase C and writes the rows in order.
func (p *pool) apply() {
	to := p.opW
	// each worker's keys are data, not a goroutine's: whichever
	// goroutine claims them runs them
	if !p.parallel(len(p.ws), func(_ *worker, k int) bool {
		p.ws[k].apply(p.prep, to)
		return true
	}) {
		return
	}
	for _, w := range p.ws {
		if err := w.win.op.Err(); err != nil && p.e.err == nil {
			p.e.err = err
		}
	}
	p.merge()
	for _, w := range p.ws {
		w.reset()
	}
}

// merge writes the rows the workers emitted in a single engine's order:
// fired rows by (end, start, key) across workers, each row an Add
// emitted after the fired rows ending at or before the watermark before
// its record.
func (p *pool) merge() {
	if cap(p.cur) < 2*len(p.ws) {
		p.cur = make([]int, 2*len(p.ws))
	}
	adv, add := p.cur[:len(p.ws)], p.cur[len(p.ws):2*len(p.ws)]
	clear(adv)
	clear(add)
	// the shards with fired rows left, a min-heap by their next row
	h := p.heap[:0]
	head := func(k int) *emitted { return &p.ws[k].adv[adv[k]] }
	less := func(a, b int) bool { return p.less(p.ws[h[a]], head(h[a]), p.ws[h[b]], head(h[b])) }
	down := func(i int) {
		for {
			c := 2*i + 1
			if c >= len(h) {
				return
			}
			if c+1 < len(h) && less(c+1, c) {
				c++
			}
			if !less(c, i) {
				return
			}
			h[i], h[c] = h[c], h[i]
			i = c
		}
	}
	for k, w := range p.ws {
		if len(w.adv) > 0 {
			h = append(h, k)
		}
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		down(i)
	}
	fired := func(upTo int64, all bool) {
		for len(h) > 0 {
			k := h[0]
			r := head(k)
			if !all && r.end > upTo {
				return
			}
			p.write(p.ws[k], r)
			if adv[k]++; adv[k] == len(p.ws[k].adv) {
				h[0] = h[len(h)-1]
				h = h[:len(h)-1]
			}
			down(0)
		}
	}
	for {
		// the next record with rows emitted by its Add
		best, at := -1, int32(0)
		for k, w := range p.ws {
			if add[k] < len(w.add) && (best < 0 || w.add[add[k]].tag < at) {
				best, at = k, w.add[add[k]].tag
			}
		}
		if best < 0 {
			break
		}
		fired(p.prep[at].wm, false)
		w := p.ws[best]
		for add[best] < len(w.add) && w.add[add[best]].tag == at {
			p.write(w, &w.add[add[best]])
			add[best]++
		}
	}
	fired(0, true)
	p.heap = h
}

func (p *pool) less(wa *worker, a *emitted, wb *worker, b *emitted) bool {
	if c := cmp.Or(cmp.Compare(a.end, b.end), cmp.Compare(a.start, b.start)); c != 0 {
		return c < 0
	}
	return bytes.Compare(wa.bytes[a.k0:a.k1], wb.bytes[b.k0:b.k1]) < 0
}

// write hands one prepared row to every sink, as Engine.write does.
func (p *pool) write(w *worker, r *emitted) {
	e := p.e
	e.stats.Rows++
	e.out.JSON = w.bytes[r.js0:r.js1]
	e.out.Vals = w.vals[r.v0:r.v1]
	for i, s := range e.opts.Sinks {
		e.out.Key = nil
		if p.keyed {
			if kr := w.rkeys[int(r.key)+i]; kr.ok {
				e.out.Key = w.bytes[kr.a:kr.b]
			}
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

// account counts the batch's records in input order, writes their dead
// letters and, without a window, their rows.
func (p *pool) account(recs []source.Record) {
	e := p.e
	for i := range recs {
		r, pr := &recs[i], &p.prep[i]
		e.stats.In++
		switch pr.kind {
		case prepFiltered:
			e.filtered(pr.stage)
		case prepDead:
			e.dead(r, pr.stage, pr.dkind, pr.msg)
		case prepWindowErr:
			e.dead(r, p.wIndex, "window", pr.msg)
		case prepLate:
			e.stats.Late++
			e.stage[p.wIndex+1].Late++
			if e.late {
				e.deadLetter(r, p.wIndex, "window",
					fmt.Sprintf("late: event time %s is behind the watermark %s and every window it belongs to has closed",
						value.FormatTime(pr.ts), watermarkText(pr.wm)))
			}
		case prepPassed:
			e.stats.Passed++
			if !p.window {
				w := p.ws[pr.worker]
				p.write(w, &w.outs[pr.off])
			}
		}
		if e.err != nil {
			break
		}
	}
	if !p.window {
		for _, w := range p.ws {
			w.reset()
		}
	}
}

// watermark is the operator's watermark (Engine.Watermark).
func (p *pool) watermark() int64 {
	if p.window {
		return p.opW
	}
	return p.e.globalWatermark()
}

func (p *pool) open() int {
	n := 0
	for _, w := range p.ws {
		if w.win != nil {
			n += w.win.op.Open()
		}
	}
	return n
}

func (p *pool) interrupt() {
	for _, w := range p.ws {
		if w.win != nil {
			w.win.op.Interrupt()
		}
	}
}

func (p *pool) close() error {
	var errs []error
	for _, w := range p.ws {
		errs = append(errs, w.close())
	}
	return errors.Join(errs...)
}

// snapshotMagic starts the window bytes of a checkpoint taken by several
// workers: their count, the count of key shards, then each shard's
// operator snapshot with its length. Its keys are routed by routeWords;
// legacyMagic starts those of checkpoints whose keys are routed by
// routeFNV (before 2026-12-08), and a pool restored from one routes so
// from then on and writes legacyMagic.
var (
	snapshotMagic = []byte("EWP2")
	legacyMagic   = []byte("EWPL")
)

// poolSnapshot reports whether b is the window bytes of a checkpoint
// taken by several workers.
func poolSnapshot(b []byte) bool {
	return bytes.HasPrefix(b, snapshotMagic) || bytes.HasPrefix(b, legacyMagic)
}

func (p *pool) appendSnapshot(b []byte) []byte {
	if p.legacy {
		b = append(b, legacyMagic...)
	} else {
		b = append(b, snapshotMagic...)
	}
	b = binary.AppendUvarint(b, uint64(p.workers))
	b = binary.AppendUvarint(b, uint64(len(p.ws)))
	for _, w := range p.ws {
		w.snap = w.win.op.AppendSnapshot(w.snap[:0])
		b = binary.AppendUvarint(b, uint64(len(w.snap)))
		b = append(b, w.snap...)
	}
	return b
}

func (p *pool) restore(b []byte) error {
	if !poolSnapshot(b) {
		return fmt.Errorf("%w: the checkpoint was taken by one worker; run it with --workers 1 (or --reset-state)", errWorkers)
	}
	p.legacy = bytes.HasPrefix(b, legacyMagic)
	b = b[len(snapshotMagic):]
	n, b, ok := readUvarint(b)
	if !ok {
		return fmt.Errorf("%w: the workers' window state is cut short", windows.ErrCorrupt)
	}
	if int(n) != p.workers {
		return fmt.Errorf("%w: the checkpoint was taken by %d workers; run it with --workers %d (or --reset-state)", errWorkers, n, n)
	}
	if n, b, ok = readUvarint(b); !ok || int(n) != len(p.ws) {
		return fmt.Errorf("%w: the checkpoint's window state is in %d shards, not %d (another state backend?)", windows.ErrCorrupt, n, len(p.ws))
	}
	for _, w := range p.ws {
		var l uint64
		if l, b, ok = readUvarint(b); !ok || l > uint64(len(b)) {
			return fmt.Errorf("%w: the workers' window state is cut short", windows.ErrCorrupt)
		}
		if err := w.win.op.Restore(b[:l]); err != nil {
			return err
		}
		b = b[l:]
	}
	p.opW = p.ws[0].win.op.Watermark()
	return nil
}

// errWorkers is a checkpoint restored by another number of workers.
var errWorkers = errors.New("engine: the window state is partitioned by worker")

// ErrWorkers reports whether err is a checkpoint restored by another
// number of workers than took it.
func ErrWorkers(err error) bool { return errors.Is(err, errWorkers) }

func readUvarint(b []byte) (uint64, []byte, bool) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, b, false
	}
	return v, b[n:], true
}
