package engine

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/value"
	"github.com/eddyhq/eddy/windows"
)

// A worker is one of a pool's parallel parts (see pool). It runs the
// single engine's own code twice over: sub, an engine of the same plan
// without its window operator, decodes and runs the stages (Engine.record)
// into sinks and dead letters that only note what it did; win, an engine
// whose window operator holds the keys routed to this worker, encodes
// the rows that operator emits (Engine.emitResult) into the same kind of
// notes. The coordinator reads the notes between phases.
type worker struct {
	p      *pool
	id     int
	sub    *Engine
	win    *Engine   // nil without a window
	ps     partState // sub's partition, reset per record to read its event time
	filt   []int64   // sub's filtered counts by stage, to tell which stage filtered
	slots  int
	keys   []int  // the window's key slots
	cols   []int  // 0..len(keys)-1: the key columns of a result row
	kbytes []byte // phase A: the encoded keys of the rows that reach the window
	cur    *prep  // the record sub is running

	rows []value.Value // phase A: the rows that reach the window, slots each
	outs []emitted     // phase A without a window: output rows
	ops  []addOp       // phase C: the rows routed here
	tag  int32         // record whose Add runs (phase C); -1 during an advance
	adv  []emitted     // rows fired by advances
	add  []emitted     // rows emitted by Add

	bytes []byte // JSON, record keys, ordered keys of the rows noted
	vals  []value.Value
	rkeys []keyRange // per row, one per sink

	snap     []byte
	run      chan *task    // the phase to help with (workers 1..N-1)
	short    int           // await's waits in a row shorter than together, up to 2
	together time.Duration // closeTogether
}

type addOp struct {
	i    int32   // record in the batch
	from *worker // the worker that prepared its row
	off  int32
}

// emitted is a row noted for the coordinator: its bytes and values in the
// worker's arenas and, for a window row, its order.
type emitted struct {
	end, start int64
	tag        int32 // record whose Add emitted it, -1 when fired
	js0, js1   int32 // JSON in bytes
	k0, k1     int32 // ordered key in bytes
	v0, v1     int32 // values in vals
	key        int32 // first of its record keys in rkeys
}

type keyRange struct {
	a, b int32
	ok   bool
}

func newWorker(p *pool, id int, plan *pipeline.Plan, opts Options, st windows.Store) (*worker, error) {
	w := &worker{p: p, id: id, slots: plan.Slots, tag: -1, run: make(chan *task, 1), together: closeTogether}
	nSinks := max(1, len(opts.Sinks))
	// each worker decodes with a decoder of its own (the registry formats'
	// programs per schema id); the schema cache under them is shared
	so := Options{Clock: opts.Clock, Tables: opts.Tables, Schemas: opts.Schemas, Dead: noteDead{w}}
	if id == 0 {
		so.Warn = opts.Warn
	}
	for i := 0; i < nSinks; i++ {
		so.Sinks = append(so.Sinks, noteSink{w: w, i: i, rows: plan.Window == nil})
	}
	var err error
	if w.sub, err = New(plan, so); err != nil {
		if st != nil {
			err = errors.Join(err, st.Close())
		}
		return nil, err
	}
	if w.sub.op != nil {
		if err := w.sub.op.Close(); err != nil {
			return nil, err
		}
		w.sub.op = nil
	}
	w.filt = make([]int64, len(w.sub.stage))
	if plan.Window != nil {
		wo := Options{Clock: opts.Clock, WindowStore: st, Schemas: opts.Schemas} // its decoder is made, never used
		for i := 0; i < nSinks; i++ {
			wo.Sinks = append(wo.Sinks, noteSink{w: w, i: i, rows: true, window: true})
		}
		if w.win, err = New(plan, wo); err != nil {
			return nil, err
		}
		w.keys = plan.Window.Keys
		for i := range w.keys {
			w.cols = append(w.cols, i)
		}
	}
	if id > 0 && id < p.workers {
		go func() {
			for {
				t, ok := w.await()
				if !ok {
					return
				}
				t.work(w)
			}
		}()
	}
	return w, nil
}

// spinFor is how long a worker that has finished a phase keeps asking
// for the next before it parks (see await), and the coordinator for the
// last items of a phase (task.wait).
const spinFor = 200 * time.Microsecond

// closeTogether is the longest wait for a phase after which a worker
// still spins for the next (worker.together, which the tests set).
const closeTogether = time.Millisecond

// spinChecks is how many asks a spin makes between two readings of the
// clock (and yields of its P).
const spinChecks = 64

// await returns the next phase to help with; false when the pool closes.
// While phases come close together (its last two waits were under
// closeTogether), it asks for spinFor first, yielding its P every
// spinChecks asks, and only then parks: the coordinator's sequential
// work between two phases takes tens to hundreds of microseconds, and a
// parked goroutine's wake-up took about as long (the woken goroutine goes
// to the waker's own run queue, and another thread must be woken to steal
// it), so a parked worker joined each phase late and did a third of its
// items instead of half (docs/performance.md, "Every core"). A stream
// whose batches come further apart parks at once and loses nothing by it:
// its two phases of a batch come close together, but the wait for the
// next batch does not, and two short waits in a row are needed to spin.
func (w *worker) await() (*task, bool) {
	start := time.Now()
	if w.spinning() {
		spin(func() bool { return len(w.run) > 0 })
	}
	t, ok := <-w.run
	if time.Since(start) < w.together {
		w.short = min(w.short+1, 2)
	} else {
		w.short = 0
	}
	return t, ok
}

// spinning reports whether await spins before it parks.
func (w *worker) spinning() bool { return w.short >= 2 }

// prepare is phase A over recs[from:to]; false when a record must stop
// the run (the records after it are left).
func (w *worker) prepare(recs []source.Record, from, to int, now int64) bool {
	s, p := w.sub, w.p
	n := uint64(len(p.ws))
	for i := from; i < to; i++ {
		r, pr := &recs[i], &p.prep[i]
		*pr = prep{worker: int32(w.id)}
		w.cur = pr
		w.ps.wm = windows.Watermark{}
		s.cur = &w.ps
		in, filtered := s.stats.In, s.stats.Filtered
		s.record(r, now)
		if s.stats.In == in { // the registry failed: the run stops here
			pr.kind, pr.err, s.err = prepFatal, s.err, nil
			return false
		}
		pr.ts, pr.hasTs = w.ps.wm.MaxEventTime()
		switch {
		case pr.kind == prepDead:
		case s.stats.Filtered != filtered:
			pr.kind, pr.stage = prepFiltered, w.filteredStage()
		case p.window:
			pr.off = int32(len(w.rows))
			w.rows = append(w.rows, s.row...)
			pr.k0 = int32(len(w.kbytes))
			w.kbytes = windows.AppendKey(w.kbytes, s.row, w.keys)
			pr.k1 = int32(len(w.kbytes))
			if k := w.kbytes[pr.k0:pr.k1]; p.legacy {
				pr.owner = int32(routeFNV(k) % n)
			} else {
				pr.owner = int32(routeWords(k) % n)
			}
		default:
			pr.off = int32(len(w.outs) - 1) // noted by noteSink
		}
	}
	return true
}

func (w *worker) filteredStage() int {
	for j := range w.sub.stage {
		if c := w.sub.stage[j].Filtered; c != w.filt[j] {
			w.filt[j] = c
			return j - 1
		}
	}
	return -1
}

// apply is phase C: each row routed here is added at the watermark a
// single engine had before it, then the operator advances to the
// batch's watermark.
func (w *worker) apply(prep []prep, to int64) {
	op := w.win.op
	for _, a := range w.ops {
		pr := &prep[a.i]
		w.tag = -1
		op.Advance(pr.wm)
		w.tag = a.i
		late, err := op.AddKeyed(pr.ts, a.from.rows[a.off:int(a.off)+w.slots], a.from.kbytes[pr.k0:pr.k1])
		switch {
		case err != nil:
			pr.kind, pr.msg = prepWindowErr, err.Error()
		case late:
			pr.kind = prepLate
		}
		if op.Err() != nil {
			break
		}
	}
	w.tag = -1
	op.Advance(to)
	w.ops = w.ops[:0]
}

func (w *worker) reset() {
	w.rows, w.outs, w.adv, w.add, w.kbytes = w.rows[:0], w.outs[:0], w.adv[:0], w.add[:0], w.kbytes[:0]
	w.bytes, w.vals, w.rkeys = w.bytes[:0], w.vals[:0], w.rkeys[:0]
	clear(w.vals[:cap(w.vals)]) // no strings held past the batch
}

func (w *worker) close() error {
	if w.id > 0 && w.id < w.p.workers {
		close(w.run)
	}
	err := w.sub.Close()
	if w.win != nil {
		err = errors.Join(err, w.win.Close())
	}
	return err
}

// noteSink is a sink of a worker's engines: it notes the rows (sink 0)
// and the record keys (every sink) they would write.
type noteSink struct {
	w      *worker
	i      int
	rows   bool // note rows (the window's, or the stages' without a window)
	window bool
}

func (n noteSink) Write(r *sink.Row) error {
	w := n.w
	if !n.rows {
		return nil
	}
	if n.i == 0 {
		e := emitted{tag: w.tag, key: int32(len(w.rkeys))}
		e.js0 = int32(len(w.bytes))
		w.bytes = append(w.bytes, r.JSON...)
		e.js1 = int32(len(w.bytes))
		e.v0 = int32(len(w.vals))
		w.vals = append(w.vals, r.Vals...)
		e.v1 = int32(len(w.vals))
		if !n.window {
			w.outs = append(w.outs, e)
		} else {
			nk := len(w.keys)
			e.start, e.end = r.Vals[nk].I, r.Vals[nk+1].I
			e.k0 = int32(len(w.bytes))
			w.bytes = windows.AppendKey(w.bytes, r.Vals, w.cols)
			e.k1 = int32(len(w.bytes))
			if w.tag < 0 {
				w.adv = append(w.adv, e)
			} else {
				w.add = append(w.add, e)
			}
		}
	}
	if w.p.keyed {
		k := keyRange{a: int32(len(w.bytes)), ok: r.Key != nil}
		w.bytes = append(w.bytes, r.Key...)
		k.b = int32(len(w.bytes))
		w.rkeys = append(w.rkeys, k)
	}
	return nil
}

func (noteSink) Close() error { return nil }

// noteDead notes the dead letter of the record a worker's sub runs.
type noteDead struct{ w *worker }

func (n noteDead) WriteDead(d *sink.DeadLetter) error {
	pr := n.w.cur
	pr.kind, pr.stage, pr.dkind, pr.msg = prepDead, d.StageIndex, d.StageKind, d.Error
	return nil
}

func (noteDead) Close() error { return nil }

// routeFNV hashes a key's encoding byte by byte (FNV-1a, then a
// finalising mix): the route of the checkpoints whose window bytes start
// with legacyMagic, so that a run restored from one finds each key in
// the worker whose state holds it.
func routeFNV(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h = (h ^ uint64(c)) * 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	return h
}

// routeWords hashes a key's encoding eight bytes at a time (each word
// mixed in by a multiply and a shift, then a finalising mix): a function
// of the key alone, so that a restored run routes each key to the worker
// whose checkpointed state holds it. It replaced routeFNV, whose multiply
// per byte was one long dependency chain: on a 9-byte key (an integer)
// about 3 % of two workers' CPU time (BenchmarkRoute).
func routeWords(b []byte) uint64 {
	h := uint64(len(b)) * 0x9e3779b97f4a7c15
	for ; len(b) >= 8; b = b[8:] {
		h = (h ^ binary.LittleEndian.Uint64(b)) * 0xff51afd7ed558ccd
		h ^= h >> 32
	}
	var t uint64
	for i, c := range b {
		t |= uint64(c) << (8 * i)
	}
	h = (h ^ t) * 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	return h
}
