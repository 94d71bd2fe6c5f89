package windows

import (
	"math/bits"
	"unsafe"

	"github.com/eddyhq/eddy/value"
)

// slab allocates a pane's entries, their cells, key values and map keys
// in chunks: a new (window, key) is then a slice of four chunks instead of
// four allocations. It is only for panes nothing leaves but as a whole
// (the memory backend): its chunks go back to the operator's [slabPool]
// when its pane is dropped, and the next panes take them from there.
type slab struct {
	pool   *slabPool
	cur    chunk
	keys   []byte
	n      int     // entries handed out, for the next chunk's size
	chunks []chunk // every chunk of entries handed out (their lengths 0)
	keyBuf [][]byte
}

// chunk is the arrays of up to a chunk's size of entries.
type chunk struct {
	entries []cachedEntry
	vals    []value.Value
	nums    []int64
	objs    []any
}

// slabChunk is the most entries a chunk holds; chunks grow from 8 to it,
// so that a pane with few keys stays small. Chunk sizes are powers of
// two, slabClasses of them.
const (
	slabChunk   = 512
	slabClasses = 7 // 8, 16, …, 512
)

// entry returns a new entry with the key fields of row and the state of
// every aggregate laid out by l, and its map key: a copy of orderedKey.
func (s *slab) entry(row []value.Value, slots []int, l *layout, orderedKey []byte) (*cachedEntry, string) {
	if len(s.cur.entries) == cap(s.cur.entries) {
		s.cur = s.pool.chunk(min(max(s.n, 8), slabChunk), l)
		s.chunks = append(s.chunks, s.cur)
	}
	s.n++
	c := &s.cur
	c.entries = append(c.entries, cachedEntry{})
	e := &c.entries[len(c.entries)-1]
	if l.vals > 0 {
		i := len(c.vals)
		for _, k := range slots {
			c.vals = append(c.vals, row[k])
		}
		c.vals = c.vals[:i+l.vals]
		e.vals = &c.vals[i]
	}
	if l.nums > 0 {
		i := len(c.nums)
		c.nums = c.nums[:i+l.nums]
		e.nums = &c.nums[i]
	}
	if l.objs > 0 {
		i := len(c.objs)
		c.objs = c.objs[:i+l.objs]
		e.objs = &c.objs[i]
	}
	if len(orderedKey) == 0 { // no key fields: one group
		return e, ""
	}
	if len(s.keys)+len(orderedKey) > cap(s.keys) {
		s.keys = s.pool.keyChunk(max(len(orderedKey)*min(max(s.n, 8), slabChunk), 64))
		s.keyBuf = append(s.keyBuf, s.keys)
	}
	i := len(s.keys)
	s.keys = append(s.keys, orderedKey...)
	return e, unsafe.String(&s.keys[i], len(orderedKey))
}

// release gives the slab's chunks back to its pool. Nothing may use its
// entries, their key values or their map keys afterwards.
func (s *slab) release() {
	n, kb := 0, 0
	for _, c := range s.chunks {
		n += cap(c.entries)
	}
	for _, k := range s.keyBuf {
		kb += cap(k)
	}
	p := s.pool
	p.limit, p.keyLimit = max(p.limit, n), max(p.keyLimit, kb)
	for _, c := range s.chunks {
		p.put(c)
	}
	for _, k := range s.keyBuf {
		p.putKeys(k)
	}
	*s = slab{}
}

// slabPool keeps the chunks of dropped panes for the next ones, zeroed:
// a hopping or tumbling window drops a pane as often as it opens one, and
// reusing the chunks keeps the allocation rate (and the collector's work
// and its write barriers) off the per-record path. It holds at most about
// as many entries as the largest pane it was given.
type slabPool struct {
	free     [slabClasses][]chunk
	keys     [][]byte
	entries  int // in free
	keyBytes int // in keys
	// the most entries free may hold and bytes keys may: the largest
	// slab released
	limit, keyLimit int
	// emptied maps, order and keys slices of dropped panes, and the most
	// entries each map held
	byKey   []map[string]*cachedEntry
	order   [][]*cachedEntry
	mapKeys [][]string
	high    []int
}

// keptMaps is how many maps and order slices the pool keeps.
const keptMaps = 4

// index returns an empty map (if withMap), order and keys slice for a new
// pane, and the most entries the map held.
func (p *slabPool) index(withMap bool) (map[string]*cachedEntry, []*cachedEntry, []string, int) {
	i := len(p.order) - 1
	if i < 0 {
		if withMap {
			return map[string]*cachedEntry{}, nil, nil, 0
		}
		return nil, nil, nil, 0
	}
	m, o, k, h := p.byKey[i], p.order[i], p.mapKeys[i], p.high[i]
	p.byKey[i], p.order[i], p.mapKeys[i] = nil, nil, nil
	p.byKey, p.order, p.mapKeys, p.high = p.byKey[:i], p.order[:i], p.mapKeys[:i], p.high[:i]
	switch {
	case !withMap:
		m = nil // a lazy pane builds its map if asked
	case m == nil:
		m, h = map[string]*cachedEntry{}, 0
	}
	return m, o, k, h
}

// putIndex empties and keeps a dropped pane's map (nil for a lazy pane
// that built none), order and keys slices, which held n entries and the
// map once high: not when that is more than four times n (the panes got
// smaller; a map does not shrink, and firing walks all of it).
func (p *slabPool) putIndex(m map[string]*cachedEntry, o []*cachedEntry, k []string, high, n int) {
	if len(p.order) >= keptMaps || n == 0 || m != nil && high > 4*n {
		return
	}
	clear(m)
	clear(o)
	clear(k)
	p.byKey, p.order, p.mapKeys = append(p.byKey, m), append(p.order, o[:0]), append(p.mapKeys, k[:0])
	p.high = append(p.high, high)
}

// chunk returns a chunk of n entries (a power of two) laid out by l.
func (p *slabPool) chunk(n int, l *layout) chunk {
	k := bits.Len(uint(n>>3)) - 1
	if f := p.free[k]; len(f) > 0 {
		c := f[len(f)-1]
		f[len(f)-1] = chunk{}
		p.free[k] = f[:len(f)-1]
		p.entries -= n
		return c
	}
	return chunk{
		entries: make([]cachedEntry, 0, n),
		vals:    make([]value.Value, 0, n*l.vals),
		nums:    make([]int64, 0, n*l.nums),
		objs:    make([]any, 0, n*l.objs),
	}
}

// put zeroes c and keeps it, unless the pool is full.
func (p *slabPool) put(c chunk) {
	n := cap(c.entries)
	k := bits.Len(uint(n>>3)) - 1
	if n < 8 || n&(n-1) != 0 || k >= slabClasses || p.entries+n > p.limit {
		return
	}
	c.entries, c.vals, c.nums, c.objs = c.entries[:0], c.vals[:0], c.nums[:0], c.objs[:0]
	clear(c.entries[:cap(c.entries)])
	clear(c.vals[:cap(c.vals)])
	clear(c.nums[:cap(c.nums)])
	clear(c.objs[:cap(c.objs)])
	p.free[k] = append(p.free[k], c)
	p.entries += n
}

// keyChunk returns an empty byte slice of capacity at least n.
func (p *slabPool) keyChunk(n int) []byte {
	if k := len(p.keys) - 1; k >= 0 && cap(p.keys[k]) >= n {
		b := p.keys[k]
		p.keys[k] = nil
		p.keys = p.keys[:k]
		p.keyBytes -= cap(b)
		return b[:0]
	}
	return make([]byte, 0, n)
}

// putKeys keeps a chunk of map keys, unless the pool is full.
func (p *slabPool) putKeys(b []byte) {
	if p.keyBytes+cap(b) <= p.keyLimit {
		p.keys = append(p.keys, b)
		p.keyBytes += cap(b)
	}
}
