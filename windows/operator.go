package windows

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/eddyhq/eddy/value"
)

// Config configures an [Operator].
type Config struct {
	Window   Spec
	Keys     []int // slots of the key fields in each input row
	Aggs     []Agg // aggregate columns, in output order
	Lateness int64 // allowed lateness in ms (0: a fired window is gone)
	Emit     func(*Result)
	// Store holds the windows the cache does not (see [Store]); nil is a
	// new [MemStore] with no cache limit. The operator closes it.
	Store Store
}

// Result is one output row. It is only valid during the Emit call.
type Result struct {
	Key        []value.Value
	Start, End int64
	Revision   int // 0 for a window's first row, n for its n-th update
	Aggs       []value.Value
}

// fireChunk is how many sessions Advance loads (and fires) at a time; it
// checks for [Operator.Interrupt] between chunks.
const fireChunk = 4096

// checkEvery is how many entries (index entries scanned, windows fired)
// Advance handles between two checks for [Operator.Interrupt].
const checkEvery = 1024

// ErrInterrupted is the operator's error after [Operator.Interrupt] stopped
// an Advance before its end: some windows due fired, others not, so the
// state is not one a checkpoint may take.
var ErrInterrupted = errors.New("interrupted during a watermark advance")

// Operator assigns records to windows, aggregates them and fires results as
// the watermark advances. It is not safe for concurrent use: one goroutine
// (the engine's) owns it.
//
// Windows live decoded in a cache in front of a [Store]. With the memory
// store and no cache limit nothing leaves the cache except at checkpoints;
// with a limit (the Pebble store) the cache evicts, and windows are read
// back when a record or the watermark needs them. Rows are the same, and in
// the same order, whatever the store and the cache size.
//
// Store keys, after the one-byte kind:
//
//	'p' start orderedKey        a pane's (window, key) entry
//	'k' orderedKey              all sessions of a key
//	'f' end first orderedKey    fire index: an unfired session of a stored key
//	'l' until first orderedKey  keep index: a fired session kept for lateness
//
// where orderedKey is the order-preserving key encoding (appendOrdered) and
// the times are big-endian with the sign bit flipped. Keys held in the
// cache are authoritative: their index entries in the store are ignored
// until the key is written back.
type Operator struct {
	cfg        Config
	store      Store
	cacheLimit int64 // 0: none
	err        error
	interrupt  atomic.Bool // set by Interrupt, from any goroutine
	ticks      int         // entries since the last check of interrupt
	w          int64
	nOpen      int64
	orderedKey []byte // of the record being added
	keyBuf     []byte
	valBuf     []byte
	tmp        []byte
	distinct   interner // count_distinct's values, one string each
	res        Result
	cached     int64 // estimated bytes of the decoded cache
	evicts     int64 // windows evicted from the cache
	loads      int64 // windows read back from the store
	// complete: every window is in the cache (nothing evicted since New,
	// or everything loaded by Restore), so MinLiveStart can scan it
	complete bool

	// tumbling and hopping
	panes map[int64]*pane
	open  []*pane // not fired, sorted by start
	kept  []*pane // fired, kept for allowed lateness, sorted by end
	// recent holds the panes last used, by start/step mod its length
	// (step: the slide, or the size of tumbling windows): a record's
	// panes are found without a map lookup
	recent []*pane
	step   int64
	// rings finds a hopping record's entries with one lookup of its key
	// (the memory backend; nil otherwise)
	rings *rings

	// sessions
	keys map[string]*cachedKey
	// the cached sessions (and those direct queued), each in one queue
	// at most: an evicted or merged session leaves its queue at once, so
	// nothing the cache dropped stays reachable from a queue
	fireQ   sessionHeap // unfired, by end
	keepQ   sessionHeap // fired and kept for lateness, by end+lateness
	fireBuf []*session
	firing  []keyedEntry // a firing pane's entries, sorted by key
	sortTmp []keyedEntry // sortKeyed's scratch
	// lower bounds of the times of the stored fire ('f') and keep ('l')
	// index entries of keys not in the cache: Advance scans the store
	// only when the watermark reaches them
	fireDue, keepDue int64
	// index entries written, and visited by loadDue, and the scans
	// loadDue made, for tests: the scans must stay proportional to the
	// writes
	indexed, scanned, scans int64
	// the session keys the store holds (nil without a cache limit, or for
	// panes): a new key skips the store's read
	filter *keyFilter
	// where each aggregate's state is in an entry
	lay layout
	// the chunks of the dropped panes' slabs, for the next panes'
	pool slabPool
}

// entry is the state of one (window, key): the operator's [layout] says
// where each aggregate's state is in its arrays, whose lengths are the
// layout's (the key values first, for a pane). The arrays are pointers to
// their first elements rather than slices: 8 bytes each instead of 24 on
// every open window (see [Operator.state]).
type entry struct {
	vals  *value.Value
	nums  *int64
	objs  *any
	emits int32 // rows emitted (saturates)
}

type keyedEntry struct {
	pre uint64 // 8 bytes of k after the prefix all keys share, big-endian
	k   string
	e   *cachedEntry
}

// sortKeyed sorts entries by key. The keys of a pane often share a
// prefix (the kind tag and the high bytes of numbers), so each is first
// ordered by the next 8 bytes as an integer and only a tie compares the
// strings: the order is the strings' order. Many entries (a firing pane of
// thousands of keys) are ordered by that integer with a radix sort, which
// moves each entry once per byte that differs between them, where a
// comparison sort calls its comparison n·log n times; tmp is its scratch.
func sortKeyed(ks []keyedEntry, tmp *[]keyedEntry) {
	if len(ks) < 2 {
		return
	}
	first := ks[0].k
	common := len(first)
	for i := range ks[1:] {
		k := ks[i+1].k
		n := min(common, len(k))
		j := 0
		for j < n && k[j] == first[j] {
			j++
		}
		common = j
	}
	for i := range ks {
		var b [8]byte
		copy(b[:], ks[i].k[common:])
		ks[i].pre = binary.BigEndian.Uint64(b[:])
	}
	if len(ks) < radixMin {
		slices.SortFunc(ks, func(a, b keyedEntry) int {
			if a.pre != b.pre {
				return cmp.Compare(a.pre, b.pre)
			}
			return strings.Compare(a.k, b.k)
		})
		return
	}
	radixSort(ks, tmp)
	for i := 0; i < len(ks); {
		j := i + 1
		for j < len(ks) && ks[j].pre == ks[i].pre {
			j++
		}
		if j-i > 1 {
			slices.SortFunc(ks[i:j], func(a, b keyedEntry) int { return strings.Compare(a.k, b.k) })
		}
		i = j
	}
}

// radixMin is the fewest entries sortKeyed radix-sorts.
const radixMin = 256

// radixSort sorts ks by pre, least significant byte first, skipping the
// bytes in which every entry agrees.
func radixSort(ks []keyedEntry, tmp *[]keyedEntry) {
	var counts [8][256]int
	for i := range ks {
		p := ks[i].pre
		for b := range 8 {
			counts[b][byte(p>>(8*b))]++
		}
	}
	if cap(*tmp) < len(ks) {
		*tmp = make([]keyedEntry, len(ks))
	}
	src, dst := ks, (*tmp)[:len(ks)]
	for b := range 8 {
		c := &counts[b]
		if c[byte(ks[0].pre>>(8*b))] == len(ks) {
			continue // every entry has the same byte here
		}
		at := 0
		for d := range c {
			n := c[d]
			c[d] = at
			at += n
		}
		shift := 8 * b
		for i := range src {
			d := byte(src[i].pre >> shift)
			dst[c[d]] = src[i]
			c[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &ks[0] {
		copy(ks, src)
	}
	clear(*tmp) // no entry stays reachable from the scratch
}

type pane struct {
	start, end int64
	fired      bool
	n          int64 // entries, stored or cached
	stored     bool  // some entries may be in the store
	byKey      map[string]*cachedEntry
	// order holds byKey's entries in the order they came, while nothing
	// leaves byKey but the whole pane (the memory backend: no cache
	// limit): a snapshot walks it instead of the map, in allocation
	// order, which is several times faster than the map's random order
	// over a million entries. Nil under a cache limit.
	order []*cachedEntry
	// slab hands out the entries of a pane with no cache limit in
	// chunks (nil under a cache limit, where entries come and go)
	slab *slab
	// the most entries byKey held, in this pane or the ones before that
	// had the map (the pool's), which is as big as that
	high    int
	dropped bool
	// lazy: byKey is built only when asked (see [Operator.index]), from
	// order and keys, the map keys of order's entries. A hopping pane of
	// the memory backend: the keys' rings find its entries, and firing
	// walks order.
	lazy bool
	keys []string
}

// cachedEntry is a pane's (window, key) entry held decoded in the cache.
type cachedEntry struct {
	entry
	dirty, ref bool // changed since stored; used since the last eviction sweep
}

type keySessions struct {
	key  []value.Value
	str  string     // orderedKey
	list []*session // disjoint, sorted by first
}

// cachedKey is all sessions of a key held decoded in the cache.
type cachedKey struct {
	keySessions
	dirty, ref bool
	size       int64
	stored     [][]byte // the index keys the store holds for this key
	onDisk     bool     // the store holds the key's sessions
}

type session struct {
	entry
	first, last int64
	ks          *keySessions
	fired       bool
	inQ         byte  // the queue holding s: 0 (none), 'f' or 'l'
	qi          int32 // s's index in that queue
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
	st := cfg.Store
	if st == nil {
		st = NewMemStore(0)
	}
	o := &Operator{cfg: cfg, store: st, cacheLimit: st.CacheBytes(), w: NoWatermark, complete: true,
		panes: map[int64]*pane{}, keys: map[string]*cachedKey{}, fireDue: EndOfInput, keepDue: EndOfInput}
	if o.cacheLimit != 0 && cfg.Window.Type == SessionType {
		o.filter = newKeyFilter(o.cacheLimit / filterShare)
	}
	o.res.Aggs = make([]value.Value, len(cfg.Aggs))
	keys := len(cfg.Keys)
	if cfg.Window.Type == SessionType {
		keys = 0 // a session's key is its key's (keySessions.key)
	}
	o.lay = newLayout(cfg.Aggs, keys)
	o.step = cfg.Window.Size
	if cfg.Window.Type == HoppingType {
		o.step = cfg.Window.Slide
	}
	o.recent = make([]*pane, 1)
	if cfg.Window.Type != SessionType {
		o.recent = make([]*pane, min(cfg.Window.Size/o.step+1, 64))
	}
	if cfg.Window.Type == HoppingType && o.cacheLimit == 0 {
		o.rings = newRings(cfg.Window.Size, cfg.Window.Slide)
	}
	return o, nil
}

// Watermark returns the operator's watermark.
func (o *Operator) Watermark() int64 { return o.w }

// Open returns the number of open (window, key) states, stored or cached.
func (o *Operator) Open() int { return int(o.nOpen) }

// Cached returns the estimated bytes of decoded windows held in memory.
func (o *Operator) Cached() int64 { return o.cached }

// Traffic returns how many windows (a pane's entry, or all sessions of a
// key) the cache evicted and how many it read back from the store.
func (o *Operator) Traffic() (evicted, loaded int64) { return o.evicts, o.loads }

// Err returns the first store error; after one the operator's state is
// unreliable and the run must stop.
func (o *Operator) Err() error { return o.err }

// Close closes the store. The operator is unusable afterwards.
func (o *Operator) Close() error { return o.store.Close() }

// Interrupt makes a running or later Advance (or Flush) stop within about
// a thousand entries, leaving Err ErrInterrupted: a watermark that fires or
// expires millions of windows, most of them in the store, takes seconds to
// minutes, and a run that is told to stop must not wait for it. It is the
// only method safe to call from another goroutine. An Advance with nothing
// to do is not interrupted.
func (o *Operator) Interrupt() { o.interrupt.Store(true) }

// stopping counts an entry handled by Advance and reports whether Advance
// must stop: a store error, or Interrupt (checked every checkEvery
// entries), which becomes the error.
func (o *Operator) stopping() bool {
	if o.err != nil {
		return true
	}
	if o.ticks++; o.ticks >= checkEvery {
		o.ticks = 0
		if o.interrupt.Load() {
			o.fail(ErrInterrupted)
			return true
		}
	}
	return false
}

func (o *Operator) fail(err error) {
	if err != nil && o.err == nil {
		o.err = err
	}
}

// Add adds a record with event time ts. It reports late when every window
// the record would join is past its allowed lateness; the record is then not
// added. A value an aggregate cannot take (a string for sum) is an error and
// nothing is added. Updates to windows that already fired are emitted at once.
//
// A store failure is not the record's fault: it is not returned here but
// by Err, which the caller checks after each record.
func (o *Operator) Add(ts int64, row []value.Value) (late bool, err error) {
	return o.AddKeyed(ts, row, nil)
}

// AddKeyed is Add for a row whose key's encoding the caller has made
// already (AppendKey of the row and the window's key slots; nil: none),
// so that it is not encoded twice.
func (o *Operator) AddKeyed(ts int64, row []value.Value, key []byte) (late bool, err error) {
	if o.err != nil {
		return false, nil
	}
	if err := o.cfg.checkRow(row); err != nil {
		return false, err
	}
	if key != nil {
		o.orderedKey = append(o.orderedKey[:0], key...)
	} else {
		o.orderedKey = appendOrderedKey(o.orderedKey[:0], row, o.cfg.Keys)
	}
	if o.cfg.Window.Type == SessionType {
		late = o.addSession(ts, row)
	} else {
		late = assign(&o.cfg.Window, o, ts, row)
	}
	o.evictIfFull()
	return late, nil
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

// assign adds a record at ts to each tumbling or hopping window it
// belongs to that is not late, and reports whether all of them were.
func assign(sp *Spec, o *Operator, ts int64, row []value.Value) (late bool) {
	if sp.Type == TumblingType {
		s := floorDiv(ts, sp.Size) * sp.Size
		if o.isLate(s + sp.Size) {
			return true
		}
		slot := &o.recent[uint64(floorDiv(s, o.step))%uint64(len(o.recent))]
		o.addPane(o.pane(s, s+sp.Size, slot), ts, row, -1, nil)
		return false
	}
	k := floorDiv(ts, sp.Slide) // the last pane's start / slide
	first := k * sp.Slide
	for first-sp.Slide > ts-sp.Size {
		first -= sp.Slide
		k--
	}
	// the panes' slots in o.recent and in the key's ring go up by one
	// from the first pane's, modulo their lengths
	nr := int64(len(o.recent))
	ri := ((k % nr) + nr) % nr
	var ring int32 = -1
	var slots []ringSlot
	var gi int64
	added := false
	for s := first; s <= ts; s += sp.Slide {
		if !o.isLate(s + sp.Size) {
			var rs *ringSlot
			if o.rings != nil {
				if slots == nil {
					ring, slots = o.rings.ring(o.orderedKey)
					n := int64(len(slots))
					gi = ((floorDiv(s, sp.Slide) % n) + n) % n
				}
				rs = &slots[gi]
			}
			o.addPane(o.pane(s, s+sp.Size, &o.recent[ri]), ts, row, ring, rs)
			added = true
		}
		if ri++; ri == nr {
			ri = 0
		}
		if slots != nil {
			if gi++; gi == int64(len(slots)) {
				gi = 0
			}
		}
	}
	return !added
}

func (o *Operator) isLate(end int64) bool {
	return o.w != NoWatermark && addSat(end, o.cfg.Lateness) <= o.w
}

// state returns e's arrays as slices of the layout's lengths.
func (o *Operator) state(e *entry) state {
	var st state
	if e.vals != nil {
		st.vals = unsafe.Slice(e.vals, o.lay.vals)
	}
	if e.nums != nil {
		st.nums = unsafe.Slice(e.nums, o.lay.nums)
	}
	if e.objs != nil {
		st.objs = unsafe.Slice(e.objs, o.lay.objs)
	}
	return st
}

// keyOf returns the key values of a pane's entry.
func (o *Operator) keyOf(e *entry) []value.Value {
	if o.lay.keys == 0 {
		return nil
	}
	return unsafe.Slice(e.vals, o.lay.keys)
}

// newState returns an entry with fresh, zero arrays of the layout's
// lengths (a pane's key values are set by the caller).
func (o *Operator) newState() entry {
	var e entry
	if o.lay.vals > 0 {
		e.vals = &make([]value.Value, o.lay.vals)[0]
	}
	if o.lay.nums > 0 {
		e.nums = &make([]int64, o.lay.nums)[0]
	}
	if o.lay.objs > 0 {
		e.objs = &make([]any, o.lay.objs)[0]
	}
	return e
}

func (o *Operator) update(e *entry, ts int64, row []value.Value) {
	at := o.lay.at[:len(o.cfg.Aggs)]
	for i := range o.cfg.Aggs {
		a := &o.cfg.Aggs[i]
		var v value.Value
		if a.Arg >= 0 {
			v = row[a.Arg]
		}
		o.tmp = add(e, &o.lay, a, at[i], v, ts, o.tmp, &o.distinct)
	}
}

// emit emits e, of the window [start, end) of key.
func (o *Operator) emit(key []value.Value, e *entry, start, end int64) {
	o.res.Key = key
	o.res.Start, o.res.End = start, end
	o.res.Revision = int(e.emits)
	if e.emits < math.MaxInt32 {
		e.emits++
	}
	at := o.lay.at[:len(o.cfg.Aggs)]
	for i := range o.cfg.Aggs {
		o.res.Aggs[i] = result(e, &o.lay, &o.cfg.Aggs[i], at[i])
	}
	o.cfg.Emit(&o.res)
}

// ---- the store's keys and values ----

func appendTime(b []byte, t int64) []byte { return binary.BigEndian.AppendUint64(b, uint64(t)^1<<63) }

func readTime(b []byte) int64 { return int64(binary.BigEndian.Uint64(b) ^ 1<<63) }

func (o *Operator) paneKey(start int64, orderedKey []byte) []byte {
	o.keyBuf = append(o.keyBuf[:0], 'p')
	o.keyBuf = appendTime(o.keyBuf, start)
	return append(o.keyBuf, orderedKey...)
}

// paneRange returns the bounds of the store keys of the pane at start.
func paneRange(start int64) (lo, hi []byte) {
	return appendTime([]byte{'p'}, start), appendTime([]byte{'p'}, start+1)
}

func (o *Operator) sessionKey(orderedKey string) []byte {
	o.keyBuf = append(o.keyBuf[:0], 'k')
	return append(o.keyBuf, orderedKey...)
}

func indexKey(kind byte, at, first int64, orderedKey string) []byte {
	b := make([]byte, 0, 17+len(orderedKey))
	b = append(b, kind)
	b = appendTime(b, at)
	b = appendTime(b, first)
	return append(b, orderedKey...)
}

// lookup calls f with the stored value of k; false when it is absent or
// the read fails (see Err).
func (o *Operator) lookup(k []byte, f func(v []byte)) bool {
	ok, err := o.store.Get(k, f)
	o.fail(err)
	if ok && err == nil {
		o.loads++
		return true
	}
	return false
}

func (o *Operator) set(k, v []byte) { o.fail(o.store.Set(k, v)) }
func (o *Operator) del(k []byte)    { o.fail(o.store.Delete(k)) }

func (o *Operator) decodeEntry(v []byte, e *entry) error {
	r := &reader{b: v}
	*e = o.newState()
	o.readKeyValues(r, e)
	o.readCells(r, e)
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d bytes after a stored window", len(r.b))
	}
	if r.err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, r.err)
	}
	return nil
}

func (o *Operator) encodeEntry(e *entry) []byte {
	o.valBuf = appendValues(o.valBuf[:0], o.keyOf(e))
	o.valBuf = o.appendEntry(o.valBuf, e)
	return o.valBuf
}

// ---- panes ----

// oldestLive returns the start of the oldest pane not dropped,
// EndOfInput when there is none.
func (o *Operator) oldestLive() int64 {
	m := int64(EndOfInput)
	if len(o.open) > 0 {
		m = o.open[0].start
	}
	if len(o.kept) > 0 {
		m = min(m, o.kept[0].start)
	}
	return m
}

// pane returns the pane at start, a new one if there is none; slot is
// its place in o.recent.
func (o *Operator) pane(start, end int64, slot **pane) *pane {
	if p := *slot; p != nil && p.start == start {
		return p
	}
	p := o.panes[start]
	if p == nil {
		p = &pane{start: start, end: end}
		if o.cacheLimit == 0 {
			p.slab = &slab{pool: &o.pool}
			p.lazy = o.rings != nil
			p.byKey, p.order, p.keys, p.high = o.pool.index(!p.lazy)
		} else {
			p.byKey = map[string]*cachedEntry{}
		}
		o.panes[start] = p
		if end <= o.w {
			p.fired = true
			o.kept = insertByEnd(o.kept, p)
		} else {
			i := sort.Search(len(o.open), func(i int) bool { return o.open[i].start >= start })
			o.open = slices.Insert(o.open, i, p)
		}
	}
	*slot = p
	return p
}

// addPane adds a record to pane p. With o.rings, rs is the slot for p in
// the ring of the record's key, ring.
func (o *Operator) addPane(p *pane, ts int64, row []value.Value, ring int32, rs *ringSlot) {
	var e *cachedEntry
	ask := true
	if rs != nil {
		e, ask = o.rings.entry(ring, rs, p)
	}
	if e == nil {
		if ask {
			e = o.index(p)[string(o.orderedKey)]
		}
		if e == nil {
			e = o.newPaneEntry(p, row)
			if e == nil {
				return
			}
		}
		if rs != nil {
			o.rings.set(ring, rs, p, e)
		}
	}
	o.update(&e.entry, ts, row)
	e.dirty, e.ref = true, true
	if p.fired {
		o.emit(o.keyOf(&e.entry), &e.entry, p.start, p.end)
	}
}

// newPaneEntry returns the entry of o.orderedKey in p that is not in the
// cache: read back from the store, or new. Nil after a store failure.
func (o *Operator) newPaneEntry(p *pane, row []value.Value) *cachedEntry {
	if p.slab != nil && (!p.stored || o.complete) {
		e, k := p.slab.entry(row, o.cfg.Keys, &o.lay, o.orderedKey)
		o.nOpen++
		p.n++
		if p.byKey != nil {
			p.byKey[k] = e
		}
		p.order = append(p.order, e)
		if p.lazy {
			p.keys = append(p.keys, k)
		}
		o.cached += o.entrySize(&e.entry)
		return e
	}
	e := o.loadEntry(p)
	if o.err != nil {
		return nil
	}
	if e == nil {
		e = &cachedEntry{entry: o.newEntry(row)}
		o.nOpen++
		p.n++
	}
	p.byKey[string(o.orderedKey)] = e
	if o.cacheLimit == 0 {
		p.order = append(p.order, e)
	}
	o.cached += o.entrySize(&e.entry)
	return e
}

// index returns p's map of entries by key, built first if p is lazy and
// has none yet.
func (o *Operator) index(p *pane) map[string]*cachedEntry {
	if p.byKey == nil {
		p.byKey = make(map[string]*cachedEntry, len(p.order))
		for i, e := range p.order {
			p.byKey[p.keys[i]] = e
		}
	}
	return p.byKey
}

func (o *Operator) newEntry(row []value.Value) entry {
	e := o.newState()
	key := o.keyOf(&e)
	for i, k := range o.cfg.Keys {
		key[i] = row[k]
	}
	return e
}

func insertByEnd(ps []*pane, p *pane) []*pane {
	i := sort.Search(len(ps), func(i int) bool { return ps[i].end > p.end })
	return slices.Insert(ps, i, p)
}

// loadEntry reads the entry of o.orderedKey in p from the store; nil when
// absent.
func (o *Operator) loadEntry(p *pane) *cachedEntry {
	if !p.stored {
		return nil
	}
	var e *cachedEntry
	o.lookup(o.paneKey(p.start, o.orderedKey), func(v []byte) {
		e = &cachedEntry{}
		if err := o.decodeEntry(v, &e.entry); err != nil {
			o.fail(err)
			e = nil
		}
	})
	return e
}

// writeEntry stores e under p and orderedKey.
func (o *Operator) writeEntry(p *pane, orderedKey string, e *cachedEntry) {
	o.set(o.paneKey(p.start, []byte(orderedKey)), o.encodeEntry(&e.entry))
	p.stored = true
	e.dirty = false
}

// firePane emits every entry of p in key order. A pane wholly in the
// cache (never stored, or nothing evicted) is sorted there; otherwise the cached entries are written back
// first, so one ordered scan of the store sees them all.
func (o *Operator) firePane(p *pane, keep bool) {
	if !p.stored || o.complete {
		ks := o.firing[:0]
		if p.lazy {
			for i, e := range p.order {
				ks = append(ks, keyedEntry{k: p.keys[i], e: e})
			}
		} else {
			for k, e := range p.byKey {
				ks = append(ks, keyedEntry{k: k, e: e})
			}
		}
		sortKeyed(ks, &o.sortTmp)
		for _, ke := range ks {
			if o.stopping() {
				break
			}
			o.emit(o.keyOf(&ke.e.entry), &ke.e.entry, p.start, p.end)
			ke.e.dirty = true
		}
		clear(ks)
		o.firing = ks[:0]
		return
	}
	for k, e := range o.index(p) {
		if e.dirty {
			o.writeEntry(p, k, e)
		}
		o.cached -= o.entrySize(&e.entry)
	}
	clear(p.byKey)
	p.order, p.slab = nil, nil
	if o.err != nil {
		return
	}
	lo, hi := paneRange(p.start)
	var e entry
	o.fail(o.store.Scan(lo, hi, func(k, v []byte) bool {
		if o.stopping() {
			return false
		}
		if err := o.decodeEntry(v, &e); err != nil {
			o.fail(err)
			return false
		}
		o.emit(o.keyOf(&e), &e, p.start, p.end)
		if keep {
			o.set(k, o.encodeEntry(&e))
		}
		return o.err == nil
	}))
}

func (o *Operator) dropPane(p *pane) {
	p.dropped = true
	delete(o.panes, p.start)
	o.nOpen -= p.n
	if p.lazy {
		for _, e := range p.order {
			o.cached -= o.entrySize(&e.entry)
		}
	} else {
		for _, e := range p.byKey {
			o.cached -= o.entrySize(&e.entry)
		}
	}
	if p.stored {
		lo, hi := paneRange(p.start)
		o.fail(o.store.DeleteRange(lo, hi))
	}
	for i, q := range o.recent {
		if q == p {
			o.recent[i] = nil
		}
	}
	if p.slab != nil {
		// nothing refers to the pane's entries any more: Emit's rows are
		// valid only during the call
		o.pool.putIndex(p.byKey, p.order, p.keys, max(p.high, int(p.n)), int(p.n))
		p.byKey, p.order, p.keys = nil, nil, nil
		p.slab.release()
		p.slab = nil
	}
}

func (o *Operator) advancePanes(w int64) {
	L := o.cfg.Lateness
	n := 0
	for n < len(o.open) && o.open[n].end <= w && o.err == nil {
		p := o.open[n]
		n++
		keep := addSat(p.end, L) > w
		o.firePane(p, keep)
		if o.err != nil {
			break // (interrupted: the state is ErrInterrupted's)
		}
		p.fired = true
		if keep {
			o.kept = insertByEnd(o.kept, p)
		} else {
			o.dropPane(p)
		}
	}
	o.open = o.open[:copy(o.open, o.open[n:])]
	n = 0
	for n < len(o.kept) && addSat(o.kept[n].end, L) <= w && !o.stopping() {
		o.dropPane(o.kept[n])
		n++
	}
	o.kept = o.kept[:copy(o.kept, o.kept[n:])]
	if o.rings != nil {
		o.rings.sweepOld(o.oldestLive())
	}
}

// ---- sessions ----

func (o *Operator) addSession(ts int64, row []value.Value) (late bool) {
	gap := o.cfg.Window.Gap
	ks := o.keys[string(o.orderedKey)]
	if ks == nil && o.mayBeStored(o.orderedKey) {
		ks = o.loadKey(string(o.orderedKey))
		if o.err != nil {
			return false
		}
	}
	var list []*session
	if ks != nil {
		list = ks.list
	}
	lo, hi, first, last := touched(list, ts, gap)
	if o.isLate(addSat(last, gap)) {
		return true
	}
	if ks == nil {
		ks = &cachedKey{keySessions: keySessions{str: string(o.orderedKey)}}
		ks.key = make([]value.Value, len(o.cfg.Keys))
		for i, k := range o.cfg.Keys {
			ks.key[i] = row[k]
		}
		o.keys[ks.str] = ks
		ks.size = keySize(ks)
		o.cached += ks.size
	}
	ks.dirty, ks.ref = true, true
	var s *session
	if hi == lo {
		s = &session{ks: &ks.keySessions, first: ts, last: ts}
		s.entry = o.newState()
		o.nOpen++
		ks.list = slices.Insert(ks.list, lo, s)
		sz := o.sessionSize(s)
		ks.size += sz
		o.cached += sz
	} else {
		s = ks.list[lo]
		for _, m := range ks.list[lo+1 : hi] {
			st, mt := o.state(&s.entry), o.state(&m.entry)
			for i := range o.cfg.Aggs {
				st.merge(&o.cfg.Aggs[i], o.lay.at[i], &mt)
			}
			s.emits = max(s.emits, m.emits)
			o.dequeue(m)
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
		o.emit(ks.key, &s.entry, s.first, end)
		if !s.fired || changed {
			s.fired = true
			o.enqueue(s, 'l', addSat(end, o.cfg.Lateness))
		}
		return false
	}
	if s.fired || changed {
		s.fired = false
		o.enqueue(s, 'f', end)
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

// filterShare: the key filter takes at most this fraction of the cache's
// budget (what it takes is counted in it). At memory_limit 256MiB that is a
// table of 16 MiB, room for 1.5 M keys.
const filterShare = 2

// mayBeStored reports whether the store may hold the sessions of a key
// that is not cached: not when every window is cached (nothing was
// evicted since New or Restore), nor when the key filter says so.
func (o *Operator) mayBeStored(orderedKey []byte) bool {
	if o.complete {
		return false
	}
	return o.filter == nil || o.filter.mayHold(string(orderedKey))
}

// unstored records that the store no longer holds a key's sessions.
func (o *Operator) unstored(orderedKey string) {
	if o.filter != nil {
		o.filter.remove(orderedKey)
	}
}

// loadKey reads a key's sessions from the store into the cache and queues
// them; nil when the store has none.
func (o *Operator) loadKey(orderedKey string) *cachedKey {
	var ks *cachedKey
	o.lookup(o.sessionKey(orderedKey), func(v []byte) { ks = o.decodeKey(orderedKey, v) })
	if ks == nil {
		return nil
	}
	o.cacheKey(ks)
	return ks
}

// cacheKey puts a key read from a store or snapshot into the cache and
// returns its number of sessions.
func (o *Operator) cacheKey(ks *cachedKey) int64 {
	o.keys[ks.str] = ks
	ks.size = keySize(ks)
	for _, s := range ks.list {
		ks.size += o.sessionSize(s)
	}
	o.cached += ks.size
	return int64(len(ks.list))
}

func (o *Operator) decodeKey(orderedKey string, v []byte) *cachedKey {
	r := &reader{b: v}
	ks := o.readKey(r, orderedKey)
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d bytes after a stored key", len(r.b))
	}
	if r.err != nil {
		o.fail(fmt.Errorf("%w: %v", ErrCorrupt, r.err))
		return nil
	}
	return ks
}

// readKey reads a key's values and sessions and queues the sessions;
// orderedKey "" is computed from the values. Errors are r's.
func (o *Operator) readKey(r *reader, orderedKey string) *cachedKey {
	ks := &cachedKey{onDisk: true}
	ks.key = o.readValues(r, len(o.cfg.Keys))
	if orderedKey == "" {
		var b []byte
		for _, v := range ks.key {
			b = appendOrdered(b, v)
		}
		orderedKey = string(b)
	}
	ks.str = orderedKey
	n := r.count()
	gap, L := o.cfg.Window.Gap, o.cfg.Lateness
	for range n {
		s := o.readSession(r, &ks.keySessions)
		if r.err != nil {
			break
		}
		if s.first > s.last || len(ks.list) > 0 && ks.list[len(ks.list)-1].last >= s.first {
			r.fail("sessions of a key overlap or are out of order")
			break
		}
		ks.list = append(ks.list, s)
		end := addSat(s.last, gap)
		if s.fired {
			until := addSat(end, L)
			o.enqueue(s, 'l', until)
			ks.stored = append(ks.stored, indexKey('l', until, s.first, orderedKey))
		} else {
			o.enqueue(s, 'f', end)
			ks.stored = append(ks.stored, indexKey('f', end, s.first, orderedKey))
		}
	}
	return ks
}

// writeKey stores a key's sessions and their index entries, replacing
// what the store held for it.
func (o *Operator) writeKey(ks *cachedKey) {
	ks.dirty = false
	if len(ks.list) == 0 && len(ks.stored) == 0 && !ks.onDisk {
		return
	}
	gap, L := o.cfg.Window.Gap, o.cfg.Lateness
	want := make([][]byte, 0, len(ks.list))
	for _, s := range ks.list {
		end := addSat(s.last, gap)
		if s.fired {
			want = append(want, indexKey('l', addSat(end, L), s.first, ks.str))
		} else {
			want = append(want, indexKey('f', end, s.first, ks.str))
		}
	}
	for _, k := range ks.stored {
		if !slices.ContainsFunc(want, func(w []byte) bool { return string(w) == string(k) }) {
			o.del(k)
		}
	}
	// an index entry carries its session and how many the key has, so
	// that Advance fires and drops a key's only session without reading
	// the key back
	for i, k := range want {
		o.valBuf = binary.AppendUvarint(o.valBuf[:0], uint64(len(ks.list)))
		o.valBuf = appendValues(o.valBuf, ks.key)
		o.valBuf = o.appendSession(o.valBuf, ks.list[i])
		o.set(k, o.valBuf)
		o.indexed++
		due := &o.fireDue
		if k[0] == 'l' {
			due = &o.keepDue
		}
		*due = min(*due, readTime(k[1:9]))
	}
	if len(ks.list) == 0 {
		if ks.onDisk {
			o.del(o.sessionKey(ks.str))
			o.unstored(ks.str)
		}
		ks.onDisk = false
	} else {
		o.valBuf = appendValues(o.valBuf[:0], ks.key)
		o.valBuf = binary.AppendUvarint(o.valBuf, uint64(len(ks.list)))
		for _, s := range ks.list {
			o.valBuf = o.appendSession(o.valBuf, s)
		}
		o.set(o.sessionKey(ks.str), o.valBuf)
		if !ks.onDisk && o.filter != nil {
			o.filter.add(ks.str)
		}
		ks.onDisk = true
	}
	ks.stored = want
}

func (o *Operator) appendSession(b []byte, s *session) []byte {
	b = binary.AppendVarint(b, s.first)
	b = binary.AppendVarint(b, s.last)
	b = appendBool(b, s.fired)
	return o.appendEntry(b, &s.entry)
}

func (o *Operator) readSession(r *reader, ks *keySessions) *session {
	s := &session{ks: ks, first: r.varint(), last: r.varint(), fired: r.bool()}
	s.entry = o.newState()
	o.readCells(r, &s.entry)
	return s
}

// evictKey writes ks back if needed and drops it from the cache and its
// sessions from the queues.
func (o *Operator) evictKey(ks *cachedKey) {
	if ks.dirty {
		o.writeKey(ks)
	}
	for _, s := range ks.list {
		o.dequeue(s)
	}
	o.evicts++
	o.complete = false
	delete(o.keys, ks.str)
	o.cached -= ks.size
}

func (o *Operator) removeSession(s *session) {
	o.dequeue(s)
	o.nOpen--
	ks := o.keys[s.ks.str]
	if i := slices.Index(ks.list, s); i >= 0 {
		ks.list = slices.Delete(ks.list, i, i+1)
		sz := o.sessionSize(s)
		ks.size -= sz
		o.cached -= sz
	}
	ks.dirty = true
	if len(ks.list) == 0 {
		o.writeKey(ks)
		delete(o.keys, ks.str)
		o.cached -= ks.size
	}
}

// loadDue loads into the cache the stored keys that have index entries of
// kind with time ≤ w, from after *from, about fireChunk sessions at a time
// and never splitting a time. It returns the time up to which everything
// is loaded and whether more remain.
func (o *Operator) loadDue(kind byte, w int64, from *[]byte) (upTo int64, more bool) {
	due := &o.fireDue
	if kind == 'l' {
		due = &o.keepDue
	}
	if *due > w || o.complete {
		// complete: the stored entries all belong to cached keys
		return w, false
	}
	// Every entry before *due belongs to a cached key (an eviction that
	// writes one lowers *due), so the scan starts there, not at the first
	// entry: rescanning the cached keys' entries on every advance made it
	// quadratic.
	lo := appendTime([]byte{kind}, *due)
	if *from != nil {
		lo = append([]byte(nil), *from...) // *from changes while the scan runs
	}
	n := 0
	var prev int64
	upTo, more = w, false
	// The scan reads past w to the first later entry: its time is the
	// next bound. With the bound at w+1 instead, every advance scanned
	// again (an iterator over every table, for nothing) until the
	// watermark reached the first stored session's end, half an hour of
	// event time later.
	next := int64(EndOfInput)
	o.scans++
	err := o.store.Scan(lo, []byte{kind + 1}, func(k, v []byte) bool {
		o.scanned++
		if o.stopping() {
			return false
		}
		if len(k) < 17 {
			o.fail(fmt.Errorf("%w: short index key", ErrCorrupt))
			return false
		}
		if *from != nil && string(k) == string(*from) {
			return true
		}
		at := readTime(k[1:9])
		if at > w {
			next = at
			return false
		}
		if n >= fireChunk && at != prev {
			upTo, more = prev, true
			return false
		}
		*from = append((*from)[:0], k...)
		prev = at
		orderedKey := string(k[17:])
		if o.keys[orderedKey] != nil {
			return true
		}
		if o.direct(kind, k, v, orderedKey) {
			n++
			return true
		}
		if ks := o.loadKey(orderedKey); ks != nil {
			n += len(ks.list)
		}
		return o.err == nil
	})
	o.fail(err)
	if o.err != nil {
		return w, false
	}
	if !more {
		// what is left at or before w belongs to keys in the cache, which
		// write new entries (and lower the bound) when they are evicted;
		// the first entry after w bounds the rest
		*due = next
	}
	return upTo, more
}

// direct handles an index entry of a key's only session without loading
// the key: a due fire entry queues the session for fireSessions (which
// sees it is not cached), a due keep entry is dropped at once. It reports
// false for a key with several sessions, which must be loaded.
func (o *Operator) direct(kind byte, k, v []byte, orderedKey string) bool {
	r := &reader{b: v}
	if r.uvarint() != 1 || r.err != nil {
		return false
	}
	if kind == 'l' {
		o.del(o.sessionKey(orderedKey))
		o.unstored(orderedKey)
		o.del(k)
		o.nOpen--
		return true
	}
	ks := &keySessions{str: orderedKey, key: o.readValues(r, len(o.cfg.Keys))}
	s := o.readSession(r, ks)
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d bytes after a stored session", len(r.b))
	}
	if r.err != nil {
		o.fail(fmt.Errorf("%w: %v", ErrCorrupt, r.err))
		return true
	}
	ks.list = []*session{s}
	o.enqueue(s, 'f', readTime(k[1:9]))
	return true
}

func (o *Operator) advanceSessions(w int64) {
	var from []byte
	for o.err == nil {
		upTo, more := o.loadDue('f', w, &from)
		o.fireSessions(upTo)
		o.evictIfFull()
		if !more || o.err != nil {
			break
		}
	}
	from = nil
	for o.err == nil {
		upTo, more := o.loadDue('l', w, &from)
		o.expireSessions(upTo)
		o.evictIfFull()
		if !more || o.err != nil {
			break
		}
	}
}

// fireSessions fires the queued sessions that end at or before upTo in
// order of (last, first, key), a chunk of about fireChunk at a time (never
// splitting a time, so the order is the same whatever the chunks).
func (o *Operator) fireSessions(upTo int64) {
	for len(o.fireQ) > 0 && o.fireQ[0].at <= upTo && o.err == nil {
		o.fireBuf = o.fireBuf[:0]
		var prev int64
		for len(o.fireQ) > 0 && o.fireQ[0].at <= upTo {
			if len(o.fireBuf) >= fireChunk && o.fireQ[0].at != prev {
				break
			}
			it := o.fireQ.pop()
			o.fireBuf = append(o.fireBuf, it.s)
			prev = it.at
		}
		o.fireChunk()
	}
}

// fireChunk fires the sessions in fireBuf.
func (o *Operator) fireChunk() {
	w, L := o.w, o.cfg.Lateness
	slices.SortFunc(o.fireBuf, func(a, b *session) int {
		if c := cmp.Compare(a.last, b.last); c != 0 {
			return c
		}
		if c := cmp.Compare(a.first, b.first); c != 0 {
			return c
		}
		return strings.Compare(a.ks.str, b.ks.str)
	})
	for i, s := range o.fireBuf {
		if o.stopping() {
			// the rest stays queued (the state is ErrInterrupted's anyway)
			for _, s := range o.fireBuf[i:] {
				o.enqueue(s, 'f', addSat(s.last, o.cfg.Window.Gap))
			}
			return
		}
		end := addSat(s.last, o.cfg.Window.Gap)
		o.emit(s.ks.key, &s.entry, s.first, end)
		s.fired = true
		ks := o.keys[s.ks.str]
		if ks == nil {
			// the only session of a key not in the cache (direct)
			fired := indexKey('f', end, s.first, s.ks.str)
			if addSat(end, L) > w {
				o.writeKey(&cachedKey{keySessions: *s.ks, stored: [][]byte{fired}, onDisk: true})
			} else {
				o.del(fired)
				o.del(o.sessionKey(s.ks.str))
				o.unstored(s.ks.str)
				o.nOpen--
			}
			continue
		}
		ks.dirty = true
		if addSat(end, L) > w {
			o.enqueue(s, 'l', addSat(end, L))
		} else {
			o.removeSession(s)
		}
	}
}

func (o *Operator) expireSessions(upTo int64) {
	for len(o.keepQ) > 0 && o.keepQ[0].at <= upTo && !o.stopping() {
		o.removeSession(o.keepQ.pop().s)
	}
}

// enqueue puts s in the queue of kind ('f' fire, 'l' keep) at time at,
// taking it out of the queue it was in.
func (o *Operator) enqueue(s *session, kind byte, at int64) {
	q := &o.fireQ
	if kind == 'l' {
		q = &o.keepQ
	}
	if s.inQ == kind {
		// a session that grew: move it within its queue
		(*q)[s.qi].at = at
		q.fix(int(s.qi))
		return
	}
	o.dequeue(s)
	s.inQ = kind
	q.push(qitem{at, s})
}

// dequeue takes s out of its queue, if it is in one.
func (o *Operator) dequeue(s *session) {
	switch s.inQ {
	case 'f':
		o.fireQ.remove(int(s.qi))
	case 'l':
		o.keepQ.remove(int(s.qi))
	}
}

type qitem struct {
	at int64
	s  *session
}

// sessionHeap is a queue of sessions by time, a binary min-heap (the
// algorithm of container/heap, typed: no boxing of each item in an
// interface). Each session knows its index in it, so that it can leave it
// when evicted or merged.
type sessionHeap []qitem

func (h sessionHeap) less(i, j int) bool { return h[i].at < h[j].at }

func (h sessionHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].s.qi, h[j].s.qi = int32(i), int32(j)
}

func (h *sessionHeap) push(it qitem) {
	it.s.qi = int32(len(*h))
	*h = append(*h, it)
	h.up(len(*h) - 1)
}

// pop removes and returns the item with the smallest time.
func (h *sessionHeap) pop() qitem {
	n := len(*h) - 1
	h.swap(0, n)
	h.down(0, n)
	return h.take()
}

// remove takes out the item at index i.
func (h *sessionHeap) remove(i int) {
	n := len(*h) - 1
	if n != i {
		h.swap(i, n)
		if !h.down(i, n) {
			h.up(i)
		}
	}
	h.take()
}

// fix restores the order after the item at i changed its time.
func (h sessionHeap) fix(i int) {
	if !h.down(i, len(h)) {
		h.up(i)
	}
}

// take drops the last item and returns it.
func (h *sessionHeap) take() qitem {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = qitem{}
	*h = old[:len(old)-1]
	it.s.inQ = 0
	return it
}

func (h sessionHeap) up(j int) {
	for {
		i := (j - 1) / 2 // parent
		if i == j || !h.less(j, i) {
			break
		}
		h.swap(i, j)
		j = i
	}
}

func (h sessionHeap) down(i0, n int) bool {
	i := i0
	for {
		j1 := 2*i + 1
		if j1 >= n || j1 < 0 {
			break
		}
		j := j1 // left child
		if j2 := j1 + 1; j2 < n && h.less(j2, j1) {
			j = j2
		}
		if !h.less(j, i) {
			break
		}
		h.swap(i, j)
		i = j
	}
	return i > i0
}

// ---- both ----

// Advance raises the watermark to w (a lower w is ignored), firing every
// window with end ≤ w and dropping fired windows past their lateness.
func (o *Operator) Advance(w int64) {
	if w <= o.w || o.err != nil {
		return
	}
	o.w = w
	if o.cfg.Window.Type == SessionType {
		o.advanceSessions(w)
	} else {
		o.advancePanes(w)
	}
	o.evictIfFull()
}

// Flush ends a bounded input: the watermark goes to +∞ and every window fires.
func (o *Operator) Flush() {
	o.Advance(EndOfInput)
}

// evictIfFull evicts cached windows (second chance: recently used ones
// survive one sweep) until the cache is at three quarters of its budget.
func (o *Operator) evictIfFull() {
	limit := o.cacheLimit
	if o.filter != nil {
		limit -= o.filter.bytes() // counted in the cache's budget
	}
	if limit <= 0 || o.cached <= limit {
		return
	}
	o.complete = false
	goal := limit * 3 / 4
	for pass := 0; pass < 2 && o.cached > goal; pass++ {
		if o.cfg.Window.Type == SessionType {
			for _, ks := range o.keys {
				if o.cached <= goal {
					break
				}
				if ks.ref && pass == 0 {
					ks.ref = false
					continue
				}
				o.evictKey(ks)
			}
			continue
		}
		for _, p := range o.panes {
			for k, e := range p.byKey {
				if o.cached <= goal {
					break
				}
				if e.ref && pass == 0 {
					e.ref = false
					continue
				}
				if e.dirty {
					o.writeEntry(p, k, e)
				}
				delete(p.byKey, k)
				p.order, p.slab = nil, nil
				o.cached -= o.entrySize(&e.entry)
				o.evicts++
			}
		}
	}
}

// flushCache writes every dirty cached window to the store.
func (o *Operator) flushCache() {
	for _, ks := range o.keys {
		if ks.dirty {
			o.writeKey(ks)
		}
	}
	for _, p := range o.panes {
		for k, e := range o.index(p) {
			if e.dirty {
				o.writeEntry(p, k, e)
			}
		}
	}
}

// Size estimates, in bytes of Go heap, of cached windows.
func (o *Operator) entrySize(e *entry) int64 {
	l := &o.lay
	n := int64(96 + 40*l.vals + 8*l.nums + 16*l.objs)
	for _, v := range o.keyOf(e) {
		n += int64(len(v.S))
	}
	return n
}

func (o *Operator) sessionSize(s *session) int64 { return 64 + o.entrySize(&s.entry) }

func keySize(ks *cachedKey) int64 {
	n := int64(160 + 2*len(ks.str) + 48*len(ks.key))
	for _, v := range ks.key {
		n += int64(len(v.S))
	}
	return n
}

// MinLiveStart returns the earliest start of any session still held (open,
// or fired and kept for lateness); math.MaxInt64 when there is none. It
// scans every cached key, so call it rarely (at commit time). When some
// windows are only in the store it is not known: NoWatermark (nothing is
// known to be safe).
func (o *Operator) MinLiveStart() int64 {
	if !o.complete {
		return NoWatermark
	}
	m := int64(EndOfInput)
	for _, ks := range o.keys {
		if len(ks.list) > 0 && ks.list[0].first < m {
			m = ks.list[0].first
		}
	}
	return m
}
