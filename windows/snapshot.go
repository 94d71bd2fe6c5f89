package windows

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/eddyhq/eddy/value"
)

// SnapshotVersion is the version of the binary format written by
// [Operator.AppendSnapshot]. Restore reads only this version: a change to the
// layout bumps it, and an older state directory is refused with a message
// rather than misread.
const SnapshotVersion = 2

// snapshotMagic starts every snapshot, so that a value that is not one at
// all (a bug, a garbled store) is told apart from a newer version.
var snapshotMagic = [4]byte{'E', 'W', 'O', 'P'}

// ErrCorrupt is wrapped by every error Restore returns for a snapshot that
// cannot be read back (truncated, garbled, or written by a different
// operator configuration).
var ErrCorrupt = errors.New("corrupt window snapshot")

// AppendSnapshot writes every dirty cached window to the store, has the
// store make a consistent copy of itself ([Store.Checkpoint]) and appends
// to b, in a versioned binary format: the configuration's shape (window,
// key count, aggregate functions, lateness; checked by Restore), the
// watermark, the open count, each pane's bounds (tumbling and hopping),
// then what the store appended: with [MemStore] every stored window (its
// key, revision count and aggregate cells, count_distinct sets and quantile
// sketches included), with the Pebble store the number of the checkpoint
// it took. Errors are reported by Err.
//
// An operator restored from the snapshot and fed the same further input
// emits exactly what this one would have.
func (o *Operator) AppendSnapshot(b []byte) []byte {
	b = append(b, snapshotMagic[:]...)
	b = binary.AppendUvarint(b, SnapshotVersion)
	b = o.appendShape(b)
	b = binary.AppendVarint(b, o.w)
	b = binary.AppendVarint(b, o.nOpen)
	if o.complete && o.cacheLimit == 0 {
		// the memory backend: every window is in the cache, and is
		// written from there, without going through the store
		b = append(b, cachedForm)
		return o.appendCached(b)
	}
	b = append(b, storedForm)
	o.flushCache()
	b = binary.AppendUvarint(b, uint64(len(o.panes)))
	for _, p := range o.panes {
		b = binary.AppendVarint(b, p.start)
		b = binary.AppendVarint(b, p.end)
		b = appendBool(b, p.fired)
		b = appendBool(b, p.stored)
		b = binary.AppendVarint(b, p.n)
	}
	if o.err != nil {
		return b
	}
	b, err := o.store.Checkpoint(b)
	o.fail(err)
	return b
}

func (o *Operator) appendShape(b []byte) []byte {
	sp := o.cfg.Window
	b = append(b, byte(sp.Type))
	b = binary.AppendVarint(b, sp.Size)
	b = binary.AppendVarint(b, sp.Slide)
	b = binary.AppendVarint(b, sp.Gap)
	b = binary.AppendVarint(b, o.cfg.Lateness)
	b = binary.AppendUvarint(b, uint64(len(o.cfg.Keys)))
	b = binary.AppendUvarint(b, uint64(len(o.cfg.Aggs)))
	for _, a := range o.cfg.Aggs {
		b = append(b, byte(a.Func))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(a.Q))
	}
	return b
}

// appendEntry writes e's revision count and aggregates (not its key).
func (o *Operator) appendEntry(b []byte, e *entry) []byte {
	b = binary.AppendUvarint(b, uint64(e.emits))
	st := o.state(e)
	for i := range o.cfg.Aggs {
		b = st.appendTo(b, &o.cfg.Aggs[i], o.lay.at[i])
	}
	return b
}

// appendTo writes the parts of the aggregate at p that a's function uses:
// a count first (for min, max, first and last, 1 when a value is held),
// then the function's state.
func (st *state) appendTo(b []byte, a *Agg, p place) []byte {
	switch a.Func {
	case Count:
		return binary.AppendVarint(b, st.nums[p.n])
	case Sum, Avg:
		n := st.nums[p.n : p.n+5 : p.n+5]
		b = binary.AppendVarint(b, n[0])
		b = appendBool(b, n[4] != 0)
		b = binary.AppendVarint(b, n[1])
		b = binary.AppendUvarint(b, uint64(n[2]))
		return binary.LittleEndian.AppendUint64(b, uint64(n[3]))
	case Min, Max, First, Last:
		v := st.vals[p.v]
		held := int64(0)
		if !v.IsNull() {
			held = 1
		}
		b = binary.AppendVarint(b, held)
		b = appendValue(b, v)
		if p.n >= 0 {
			b = binary.AppendVarint(b, st.nums[p.n])
		}
		return b
	case CountDistinct:
		b = binary.AppendVarint(b, st.nums[p.n])
		set := st.objs[p.o]
		b = binary.AppendUvarint(b, uint64(setLen(set)))
		setEach(set, func(k string) { b = appendBytes(b, k) })
		return b
	case Quantile:
		b = binary.AppendVarint(b, st.nums[p.n])
		sk, _ := st.objs[p.o].(*Sketch)
		b = appendBool(b, sk != nil)
		if sk != nil {
			b = sk.appendTo(b)
		}
	}
	return b
}

func (s *Sketch) appendTo(b []byte) []byte {
	for _, st := range [2]*store{&s.pos, &s.neg} {
		b = binary.AppendVarint(b, int64(st.offset))
		b = binary.AppendUvarint(b, uint64(len(st.counts)))
		for _, c := range st.counts {
			b = binary.AppendUvarint(b, c)
		}
	}
	b = binary.AppendUvarint(b, s.zero)
	b = binary.AppendUvarint(b, s.n)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s.min))
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(s.max))
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendBytes(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendValues(b []byte, vs []value.Value) []byte {
	for _, v := range vs {
		b = appendValue(b, v)
	}
	return b
}

func appendValue(b []byte, v value.Value) []byte {
	b = append(b, byte(v.K))
	switch v.K {
	case value.Bool, value.Int, value.Time:
		b = binary.AppendVarint(b, v.I)
	case value.Float:
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v.F))
	case value.String, value.JSON:
		b = appendBytes(b, v.S)
	}
	return b
}

// Restore replaces the state of a new operator (one that has had no input)
// with a snapshot from AppendSnapshot: the store gets back the copy the
// snapshot names or holds. The operator's Config must have the same shape
// as the one that wrote it; any mismatch or damage is an error wrapping
// [ErrCorrupt], and the operator is then left empty. With no cache limit
// every window is decoded into the cache at once.
func (o *Operator) Restore(data []byte) error {
	if o.w != NoWatermark || o.nOpen != 0 {
		return errors.New("windows: Restore needs a new operator")
	}
	if err := o.restore(data); err != nil {
		clear(o.keys)
		o.fireQ, o.keepQ = nil, nil
		o.w, o.nOpen, o.cached, o.err = NoWatermark, 0, 0, nil
		o.panes, o.open, o.kept = map[int64]*pane{}, nil, nil
		clear(o.recent)
		if o.filter != nil {
			o.filter.reset()
		}
		return err
	}
	if o.rings != nil {
		// no ring knows the restored panes' entries
		for _, p := range o.panes {
			o.rings.restoredTo = max(o.rings.restoredTo, p.start)
		}
	}
	return nil
}

func (o *Operator) restore(data []byte) error {
	r := &reader{b: data}
	if len(data) < 4 || [4]byte(data[:4]) != snapshotMagic {
		return fmt.Errorf("%w: not a window snapshot", ErrCorrupt)
	}
	r.b = r.b[4:]
	if v := r.uvarint(); r.err == nil && v != SnapshotVersion {
		return fmt.Errorf("%w: format version %d, this eddy reads version %d", ErrCorrupt, v, SnapshotVersion)
	}
	want := o.appendShape(nil)
	if got := r.take(len(want)); r.err == nil && string(got) != string(want) {
		return fmt.Errorf("%w: written for a different window or aggregates", ErrCorrupt)
	}
	w, nOpen := r.varint(), r.varint()
	if form := r.byte(); r.err == nil && form == cachedForm {
		if _, mem := o.store.(*MemStore); !mem {
			return fmt.Errorf("%w: %w (backend memory)", ErrCorrupt, ErrOtherStore)
		}
		o.w, o.nOpen = w, nOpen
		return o.restoreCached(r)
	} else if r.err == nil && form != storedForm {
		return fmt.Errorf("%w: bad snapshot form %d", ErrCorrupt, form)
	}
	n := r.count()
	panes := map[int64]*pane{}
	var open, kept []*pane
	for range n {
		p := &pane{start: r.varint(), end: r.varint(), fired: r.bool(), stored: r.bool(), n: r.varint(), byKey: map[string]*cachedEntry{}}
		if r.err != nil {
			break
		}
		if _, dup := panes[p.start]; dup || p.n < 0 {
			r.fail("pane %d twice or with %d entries", p.start, p.n)
			break
		}
		panes[p.start] = p
		if p.fired {
			kept = insertByEnd(kept, p)
		} else {
			open = append(open, p)
		}
	}
	if r.err == nil && nOpen < 0 {
		r.fail("%d open windows", nOpen)
	}
	if r.err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, r.err)
	}
	slices.SortFunc(open, func(a, b *pane) int { return cmp.Compare(a.start, b.start) })
	if err := o.store.Restore(r.b); err != nil {
		return err
	}
	o.w, o.nOpen = w, nOpen
	o.panes, o.open, o.kept = panes, open, kept
	if o.cacheLimit != 0 {
		// unknown: the first Advance scans
		o.fireDue, o.keepDue, o.complete = NoWatermark, NoWatermark, false
		return o.refilter()
	}
	return o.loadAll()
}

// refilter rebuilds the key filter from the session keys the restored
// store holds.
func (o *Operator) refilter() error {
	if o.filter == nil {
		return nil
	}
	o.filter.reset()
	o.fail(o.store.Scan([]byte{'k'}, []byte{'k' + 1}, func(k, _ []byte) bool {
		o.filter.add(string(k[1:]))
		return true
	}))
	return o.err
}

// The forms of a snapshot's windows: written from the cache (every window
// in it), or flushed to the store and named by the store's checkpoint.
const (
	storedForm byte = 0
	cachedForm byte = 1
)

// appendCached appends every cached window: for tumbling and hopping
// windows each pane's bounds and entries, for sessions each key's
// sessions (as the store holds them under 'k').
func (o *Operator) appendCached(b []byte) []byte {
	if o.cfg.Window.Type == SessionType {
		b = binary.AppendUvarint(b, uint64(len(o.keys)))
		for _, ks := range o.keys {
			b = appendValues(b, ks.key)
			b = binary.AppendUvarint(b, uint64(len(ks.list)))
			for _, s := range ks.list {
				b = o.appendSession(b, s)
			}
		}
		return b
	}
	b = binary.AppendUvarint(b, uint64(len(o.panes)))
	for _, p := range o.panes {
		b = binary.AppendVarint(b, p.start)
		b = binary.AppendVarint(b, p.end)
		b = appendBool(b, p.fired)
		if p.lazy || len(p.order) == len(p.byKey) {
			b = binary.AppendUvarint(b, uint64(len(p.order)))
			for _, e := range p.order {
				b = appendValues(b, o.keyOf(&e.entry))
				b = o.appendEntry(b, &e.entry)
			}
			continue
		}
		b = binary.AppendUvarint(b, uint64(len(p.byKey)))
		for _, e := range p.byKey {
			b = appendValues(b, o.keyOf(&e.entry))
			b = o.appendEntry(b, &e.entry)
		}
	}
	return b
}

// restoreCached reads what appendCached wrote into the cache.
func (o *Operator) restoreCached(r *reader) error {
	var held int64
	if o.cfg.Window.Type == SessionType {
		n := r.count()
		for range n {
			ks := o.readKey(r, "")
			if ks == nil || r.err != nil {
				break
			}
			if o.keys[ks.str] != nil {
				r.fail("session key twice")
				break
			}
			ks.onDisk, ks.stored, ks.dirty = false, nil, true
			held += o.cacheKey(ks)
		}
	} else {
		n := r.count()
		for range n {
			p := &pane{start: r.varint(), end: r.varint(), fired: r.bool()}
			ne := r.count()
			if r.err != nil {
				break
			}
			if o.panes[p.start] != nil {
				r.fail("pane %d twice", p.start)
				break
			}
			p.byKey = make(map[string]*cachedEntry, ne)
			o.panes[p.start] = p
			for range ne {
				e := &cachedEntry{entry: o.newState(), dirty: true}
				o.readKeyValues(r, &e.entry)
				o.readCells(r, &e.entry)
				if r.err != nil {
					break
				}
				o.orderedKey = o.orderedKey[:0]
				for _, v := range o.keyOf(&e.entry) {
					o.orderedKey = appendOrdered(o.orderedKey, v)
				}
				if p.byKey[string(o.orderedKey)] != nil {
					r.fail("key twice in a pane")
					break
				}
				p.byKey[string(o.orderedKey)] = e
				if o.cacheLimit == 0 {
					p.order = append(p.order, e)
				}
				o.cached += o.entrySize(&e.entry)
				p.n++
			}
			held += p.n
			if p.fired {
				o.kept = insertByEnd(o.kept, p)
			} else {
				o.open = append(o.open, p)
			}
		}
		slices.SortFunc(o.open, func(a, b *pane) int { return cmp.Compare(a.start, b.start) })
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d bytes after the end", len(r.b))
	}
	if r.err == nil && held != o.nOpen {
		r.fail("%d windows, the snapshot says %d", held, o.nOpen)
	}
	if r.err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, r.err)
	}
	o.complete = true
	return o.err
}

// loadAll decodes every stored window into the cache.
func (o *Operator) loadAll() error {
	var held int64
	if o.cfg.Window.Type == SessionType {
		lo, hi := []byte{'k'}, []byte{'k' + 1}
		o.fail(o.store.Scan(lo, hi, func(k, v []byte) bool {
			ks := o.decodeKey(string(k[1:]), v)
			if ks == nil {
				return false
			}
			held += o.cacheKey(ks)
			return true
		}))
	} else {
		for _, p := range o.panes {
			if !p.stored {
				continue
			}
			lo, hi := paneRange(p.start)
			var inPane int64
			o.fail(o.store.Scan(lo, hi, func(k, v []byte) bool {
				e := &cachedEntry{}
				if err := o.decodeEntry(v, &e.entry); err != nil {
					o.fail(err)
					return false
				}
				o.cached += o.entrySize(&e.entry)
				p.byKey[string(k[9:])] = e
				inPane++
				return true
			}))
			if o.err == nil && inPane != p.n {
				o.fail(fmt.Errorf("%w: pane %d holds %d windows, the snapshot says %d", ErrCorrupt, p.start, inPane, p.n))
			}
			held += inPane
		}
	}
	if o.err == nil && held != o.nOpen {
		o.fail(fmt.Errorf("%w: %d windows stored, the snapshot says %d", ErrCorrupt, held, o.nOpen))
	}
	o.complete = true
	return o.err
}

func (o *Operator) readValues(r *reader, n int) []value.Value {
	vs := make([]value.Value, n)
	for i := range vs {
		vs[i] = r.value()
	}
	return vs
}

// readKeyValues reads a pane entry's key values into e (whose arrays
// newState made).
func (o *Operator) readKeyValues(r *reader, e *entry) {
	for i := range o.keyOf(e) {
		o.keyOf(e)[i] = r.value()
	}
}

// readCells reads the revision count and the aggregates into e (whose
// arrays newState made), as appendEntry wrote them.
func (o *Operator) readCells(r *reader, e *entry) {
	e.emits = int32(min(r.uvarint(), math.MaxInt32))
	st := o.state(e)
	for i := range o.cfg.Aggs {
		st.readFrom(r, &o.cfg.Aggs[i], o.lay.at[i])
	}
}

func (st *state) readFrom(r *reader, a *Agg, p place) {
	n := r.varint()
	switch a.Func {
	case Count:
		st.nums[p.n] = n
	case Sum, Avg:
		m := st.nums[p.n : p.n+5 : p.n+5]
		m[0] = n
		if r.bool() {
			m[4] = 1
		}
		m[1] = r.varint()
		m[2] = int64(r.uvarint())
		m[3] = int64(math.Float64bits(r.float()))
	case Min, Max, First, Last:
		st.vals[p.v] = r.value()
		if p.n >= 0 {
			st.nums[p.n] = r.varint()
		}
	case CountDistinct:
		st.nums[p.n] = n
		c := r.count()
		var set any
		for range c {
			if k := r.str(); !setHas(set, k) {
				set = setPut(set, k)
			}
		}
		st.objs[p.o] = set
	case Quantile:
		st.nums[p.n] = n
		if r.bool() {
			st.objs[p.o] = r.sketch()
		}
	}
}

func (r *reader) sketch() *Sketch {
	sk := NewSketch()
	for _, st := range [2]*store{&sk.pos, &sk.neg} {
		st.offset = int(r.varint())
		n := r.count()
		if n > maxBuckets {
			r.fail("sketch with %d buckets", n)
			return sk
		}
		if n > 0 {
			st.counts = make([]uint64, n)
		}
		for i := range st.counts {
			st.counts[i] = r.uvarint()
		}
	}
	sk.zero = r.uvarint()
	sk.n = r.uvarint()
	sk.min, sk.max = r.float(), r.float()
	return sk
}

// reader decodes a snapshot; the first problem sticks and later reads
// return zero values.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.fail("truncated")
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) byte() byte {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) bool() bool {
	switch r.byte() {
	case 0:
		return false
	case 1:
		return true
	}
	r.fail("bad boolean")
	return false
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("truncated or bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("truncated or bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a length and checks it against the bytes left (every item
// takes at least one byte), so garbage cannot make Restore allocate wildly.
func (r *reader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail("count %d exceeds the %d bytes left", n, len(r.b))
		return 0
	}
	return int(n)
}

func (r *reader) float() float64 {
	if b := r.take(8); b != nil {
		return math.Float64frombits(binary.LittleEndian.Uint64(b))
	}
	return 0
}

func (r *reader) str() string {
	n := r.count()
	return string(r.take(n))
}

func (r *reader) value() value.Value {
	k := value.Kind(r.byte())
	switch k {
	case value.Null:
		return value.Value{}
	case value.Bool, value.Int, value.Time:
		return value.Value{K: k, I: r.varint()}
	case value.Float:
		return value.OfFloat(r.float())
	case value.String, value.JSON:
		return value.Value{K: k, S: r.str()}
	}
	r.fail("bad value kind %d", k)
	return value.Value{}
}

// Restore sets the watermark's state as read back from a checkpoint: the
// highest event time seen, and whether any was (see MaxEventTime).
func (w *Watermark) Restore(maxEventTime int64, seen bool) {
	w.max, w.seen = maxEventTime, seen
}
