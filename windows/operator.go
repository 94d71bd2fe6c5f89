package windows

import (
	"cmp"
	"container/heap"
	"errors"
	"slices"
	"sort"

	"github.com/eddyhq/eddy/value"
)

// Config configures an [Operator].
type Config struct {
	Window   Spec
	Keys     []int // slots of the key fields in each input row
	Aggs     []Agg // aggregate columns, in output order
	Lateness int64 // allowed lateness in ms (0: a fired window is gone)
	Emit     func(*Result)
}

// Result is one output row. It is only valid during the Emit call.
type Result struct {
	Key        []value.Value
	Start, End int64
	Revision   int // 0 for a window's first row, n for its n-th update
	Aggs       []value.Value
}

// Operator assigns records to windows, aggregates them and fires results as
// the watermark advances. It is not safe for concurrent use: one goroutine
// (the engine's) owns it.
type Operator struct {
	cfg    Config
	w      int64
	keyBuf []byte
	tmp    []byte
	res    Result
	nOpen  int

	// tumbling and hopping
	panes    map[int64]*pane
	open     []*pane // not fired, sorted by start
	kept     []*pane // fired, kept for allowed lateness, sorted by end
	lastPane *pane

	// sessions
	keys    map[string]*keySessions
	fireQ   sessionHeap
	keepQ   sessionHeap
	fireBuf []*session
}

type entry struct {
	key   []value.Value
	cells []cell
	emits int
}

type pane struct {
	start, end int64
	fired      bool
	byKey      map[string]*entry
	entries    []*entry
}

type keySessions struct {
	key  []value.Value
	str  string
	list []*session // disjoint, sorted by first
}

type session struct {
	entry
	first, last int64
	ks          *keySessions
	fired, dead bool
	gen         uint32
}

// New returns an operator for cfg.
func New(cfg Config) (*Operator, error) {
	if err := cfg.Window.Validate(); err != nil {
		return nil, err
	}
	if cfg.Emit == nil {
		return nil, errors.New("windows: Config.Emit is nil")
	}
	if cfg.Lateness < 0 {
		return nil, errors.New("windows: allowed lateness must not be negative")
	}
	o := &Operator{cfg: cfg, w: NoWatermark, panes: map[int64]*pane{}, keys: map[string]*keySessions{}}
	o.res.Aggs = make([]value.Value, len(cfg.Aggs))
	return o, nil
}

// Watermark returns the operator's watermark.
func (o *Operator) Watermark() int64 { return o.w }

// Open returns the number of open (window, key) states held.
func (o *Operator) Open() int { return o.nOpen }

// Err returns nil: an operator in memory cannot fail (see [Spill.Err]).
func (o *Operator) Err() error { return nil }

// Close does nothing (see [Spill.Close]).
func (o *Operator) Close() error { return nil }

// Add adds a record with event time ts. It reports late when every window
// the record would join is past its allowed lateness; the record is then not
// added. A value an aggregate cannot take (a string for sum) is an error and
// nothing is added. Updates to windows that already fired are emitted at once.
func (o *Operator) Add(ts int64, row []value.Value) (late bool, err error) {
	if err := o.cfg.checkRow(row); err != nil {
		return false, err
	}
	o.keyBuf = o.keyBuf[:0]
	for _, k := range o.cfg.Keys {
		o.keyBuf = appendKey(o.keyBuf, row[k])
	}
	if o.cfg.Window.Type == SessionType {
		return o.addSession(ts, row), nil
	}
	return assign(&o.cfg.Window, o, ts, row), nil
}

// checkRow validates a row's values for every aggregate, so that a
// record is either added to all its windows or to none.
func (c *Config) checkRow(row []value.Value) error {
	for i := range c.Aggs {
		if a := &c.Aggs[i]; a.Arg >= 0 {
			if err := check(a, row[a.Arg]); err != nil {
				return err
			}
		}
	}
	return nil
}

// paneAdder is an operator with tumbling or hopping windows.
type paneAdder interface {
	isLate(end int64) bool
	addPane(start, end, ts int64, row []value.Value)
}

// assign adds a record at ts to each tumbling or hopping window it
// belongs to that is not late, and reports whether all of them were.
func assign(sp *Spec, o paneAdder, ts int64, row []value.Value) (late bool) {
	if sp.Type == TumblingType {
		s := floorDiv(ts, sp.Size) * sp.Size
		if o.isLate(s + sp.Size) {
			return true
		}
		o.addPane(s, s+sp.Size, ts, row)
		return false
	}
	last := floorDiv(ts, sp.Slide) * sp.Slide
	first := last
	for first-sp.Slide > ts-sp.Size {
		first -= sp.Slide
	}
	added := false
	for s := first; s <= last; s += sp.Slide {
		if !o.isLate(s + sp.Size) {
			o.addPane(s, s+sp.Size, ts, row)
			added = true
		}
	}
	return !added
}

func (o *Operator) isLate(end int64) bool {
	return o.w != NoWatermark && addSat(end, o.cfg.Lateness) <= o.w
}

func (o *Operator) newEntry(row []value.Value) entry {
	key := make([]value.Value, len(o.cfg.Keys))
	for i, k := range o.cfg.Keys {
		key[i] = row[k]
	}
	o.nOpen++
	return entry{key: key, cells: make([]cell, len(o.cfg.Aggs))}
}

func (o *Operator) update(e *entry, ts int64, row []value.Value) {
	for i := range o.cfg.Aggs {
		a := &o.cfg.Aggs[i]
		var v value.Value
		if a.Arg >= 0 {
			v = row[a.Arg]
		}
		o.tmp = e.cells[i].add(a, v, ts, o.tmp)
	}
}

func (o *Operator) addPane(start, end, ts int64, row []value.Value) {
	p := o.lastPane
	if p == nil || p.start != start {
		p = o.panes[start]
		if p == nil {
			p = &pane{start: start, end: end, byKey: map[string]*entry{}}
			o.panes[start] = p
			if end <= o.w {
				p.fired = true
				o.kept = insertByEnd(o.kept, p)
			} else {
				i := sort.Search(len(o.open), func(i int) bool { return o.open[i].start >= start })
				o.open = slices.Insert(o.open, i, p)
			}
		}
		o.lastPane = p
	}
	e := p.byKey[string(o.keyBuf)]
	if e == nil {
		ne := o.newEntry(row)
		e = &ne
		p.byKey[string(o.keyBuf)] = e
		p.entries = append(p.entries, e)
	}
	o.update(e, ts, row)
	if p.fired {
		o.emit(e, p.start, p.end)
	}
}

func insertByEnd(ps []*pane, p *pane) []*pane {
	i := sort.Search(len(ps), func(i int) bool { return ps[i].end > p.end })
	return slices.Insert(ps, i, p)
}

func (o *Operator) addSession(ts int64, row []value.Value) (late bool) {
	gap := o.cfg.Window.Gap
	ks := o.keys[string(o.keyBuf)]
	var list []*session
	if ks != nil {
		list = ks.list
	}
	lo, hi, first, last := touched(list, ts, gap)
	if o.isLate(addSat(last, gap)) {
		return true
	}
	if ks == nil {
		ks = &keySessions{str: string(o.keyBuf)}
		ks.key = make([]value.Value, len(o.cfg.Keys))
		for i, k := range o.cfg.Keys {
			ks.key[i] = row[k]
		}
		o.keys[ks.str] = ks
	}
	var s *session
	if hi == lo {
		s = &session{ks: ks, first: ts, last: ts}
		s.entry = entry{key: ks.key, cells: make([]cell, len(o.cfg.Aggs))}
		o.nOpen++
		ks.list = slices.Insert(ks.list, lo, s)
	} else {
		s = ks.list[lo]
		for _, m := range ks.list[lo+1 : hi] {
			for i := range o.cfg.Aggs {
				s.cells[i].merge(&o.cfg.Aggs[i], &m.cells[i])
			}
			s.emits = max(s.emits, m.emits)
			m.dead = true
			o.nOpen--
		}
		ks.list = slices.Delete(ks.list, lo+1, hi)
	}
	changed := first != s.first || last != s.last || hi-lo > 1 || hi == lo
	s.first, s.last = first, last
	o.update(&s.entry, ts, row)
	end := addSat(last, gap)
	if end <= o.w {
		// complete already: (re)emit now and keep it for the lateness period
		o.emit(&s.entry, s.first, end)
		if !s.fired || changed {
			s.fired = true
			s.gen++
			heap.Push(&o.keepQ, qitem{addSat(end, o.cfg.Lateness), s, s.gen})
		}
		return false
	}
	if s.fired || changed {
		s.fired = false
		s.gen++
		heap.Push(&o.fireQ, qitem{end, s, s.gen})
	}
	return false
}

// touched returns the sessions of a key that a record at ts joins,
// list[lo:hi] (none when lo == hi), and the bounds of their union with ts.
func touched(list []*session, ts, gap int64) (lo, hi int, first, last int64) {
	first, last = ts, ts
	lo = sort.Search(len(list), func(i int) bool { return list[i].last+gap >= ts })
	hi = lo
	for hi < len(list) && list[hi].first-gap <= ts {
		hi++
	}
	if hi > lo {
		first = min(first, list[lo].first)
		last = max(last, list[hi-1].last)
	}
	return lo, hi, first, last
}

func (o *Operator) removeSession(s *session) {
	s.dead = true
	o.nOpen--
	ks := s.ks
	if i := slices.Index(ks.list, s); i >= 0 {
		ks.list = slices.Delete(ks.list, i, i+1)
	}
	if len(ks.list) == 0 {
		delete(o.keys, ks.str)
	}
}

// Advance raises the watermark to w (a lower w is ignored), firing every
// window with end ≤ w and dropping fired windows past their lateness.
func (o *Operator) Advance(w int64) {
	if w <= o.w {
		return
	}
	o.w = w
	L := o.cfg.Lateness
	if o.cfg.Window.Type == SessionType {
		o.fireBuf = o.fireBuf[:0]
		for len(o.fireQ) > 0 && o.fireQ[0].at <= w {
			it := heap.Pop(&o.fireQ).(qitem)
			if s := it.s; !s.dead && !s.fired && it.gen == s.gen {
				o.fireBuf = append(o.fireBuf, s)
			}
		}
		slices.SortFunc(o.fireBuf, func(a, b *session) int {
			if c := cmp.Compare(a.last, b.last); c != 0 {
				return c
			}
			if c := cmp.Compare(a.first, b.first); c != 0 {
				return c
			}
			return compareKeys(a.key, b.key)
		})
		for _, s := range o.fireBuf {
			end := addSat(s.last, o.cfg.Window.Gap)
			o.emit(&s.entry, s.first, end)
			s.fired = true
			if addSat(end, L) > w {
				s.gen++
				heap.Push(&o.keepQ, qitem{addSat(end, L), s, s.gen})
			} else {
				o.removeSession(s)
			}
		}
		for len(o.keepQ) > 0 && o.keepQ[0].at <= w {
			it := heap.Pop(&o.keepQ).(qitem)
			if s := it.s; !s.dead && s.fired && it.gen == s.gen {
				o.removeSession(s)
			}
		}
		return
	}
	n := 0
	for n < len(o.open) && o.open[n].end <= w {
		p := o.open[n]
		n++
		slices.SortFunc(p.entries, func(a, b *entry) int { return compareKeys(a.key, b.key) })
		for _, e := range p.entries {
			o.emit(e, p.start, p.end)
		}
		p.fired = true
		if addSat(p.end, L) > w {
			o.kept = insertByEnd(o.kept, p)
		} else {
			o.dropPane(p)
		}
	}
	o.open = o.open[:copy(o.open, o.open[n:])]
	n = 0
	for n < len(o.kept) && addSat(o.kept[n].end, L) <= w {
		o.dropPane(o.kept[n])
		n++
	}
	o.kept = o.kept[:copy(o.kept, o.kept[n:])]
}

func (o *Operator) dropPane(p *pane) {
	delete(o.panes, p.start)
	o.nOpen -= len(p.entries)
	if o.lastPane == p {
		o.lastPane = nil
	}
}

// Flush ends a bounded input: the watermark goes to +∞ and every window fires.
func (o *Operator) Flush() { o.Advance(EndOfInput) }

func (o *Operator) emit(e *entry, start, end int64) {
	o.res.Key = e.key
	o.res.Start, o.res.End = start, end
	o.res.Revision = e.emits
	e.emits++
	for i := range o.cfg.Aggs {
		o.res.Aggs[i] = e.cells[i].result(&o.cfg.Aggs[i])
	}
	o.cfg.Emit(&o.res)
}

func compareKeys(a, b []value.Value) int {
	for i := range a {
		if c := value.Compare(a[i], b[i]); c != 0 {
			return c
		}
	}
	return 0
}

type qitem struct {
	at  int64
	s   *session
	gen uint32
}

type sessionHeap []qitem

func (h sessionHeap) Len() int           { return len(h) }
func (h sessionHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h sessionHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *sessionHeap) Push(x any)        { *h = append(*h, x.(qitem)) }
func (h *sessionHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

// MinLiveStart returns the earliest start of any session still held (open,
// or fired and kept for lateness); math.MaxInt64 when there is none. It
// scans every key, so call it rarely (at commit time).
func (o *Operator) MinLiveStart() int64 {
	m := int64(EndOfInput)
	for _, ks := range o.keys {
		if len(ks.list) > 0 && ks.list[0].first < m {
			m = ks.list[0].first
		}
	}
	return m
}
