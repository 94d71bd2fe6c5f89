package windows

import "hash/maphash"

// keyFilter is the set of the session keys whose sessions the store holds
// (a 'k' entry), as 64-bit hashes in an open-addressing table: a record of
// a key that is neither cached nor in the filter is a new key, and skips
// the store's point read (in Pebble, a walk of the memtables and the
// tables' indexes that finds nothing, or a tombstone). Most records of a
// session shape with more keys than the cache are of such keys: a key
// whose sessions all fired and expired left the store.
//
// The filter may hold hashes of keys the store does not (a collision of
// two keys' hashes), never the reverse: it is a multiset, each key added
// when its 'k' entry is written first and removed when that entry is
// deleted, so a shared hash stays until both keys have left. When the
// table would outgrow its budget the filter gives up (every key may be
// stored), which is only slower.
type keyFilter struct {
	seed     maphash.Seed
	slots    []uint64 // 0 empty, 1 deleted, else a hash (≥ 2)
	n, dead  int      // hashes held, deleted slots
	maxBytes int64
	off      bool // over budget (or never on): every key may be stored
}

const (
	filterEmpty   = 0
	filterDeleted = 1
	filterMinLen  = 1024
)

func newKeyFilter(maxBytes int64) *keyFilter {
	f := &keyFilter{seed: maphash.MakeSeed(), maxBytes: maxBytes}
	if maxBytes < filterMinLen*8 {
		f.off = true
		return f
	}
	f.slots = make([]uint64, filterMinLen)
	return f
}

// hash returns k's hash, never 0 or 1.
func (f *keyFilter) hash(k string) uint64 {
	return max(maphash.String(f.seed, k), 2)
}

// bytes returns the memory the table takes.
func (f *keyFilter) bytes() int64 { return int64(len(f.slots)) * 8 }

// mayHold reports whether the store may hold k's sessions.
func (f *keyFilter) mayHold(k string) bool {
	if f.off {
		return true
	}
	h := f.hash(k)
	mask := uint64(len(f.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch f.slots[i] {
		case h:
			return true
		case filterEmpty:
			return false
		}
	}
}

// add records that the store now holds k's sessions.
func (f *keyFilter) add(k string) {
	if f.off {
		return
	}
	if 4*(f.n+f.dead+1) > 3*len(f.slots) {
		size := len(f.slots)
		if 2*(f.n+1) > size {
			size *= 2 // else the same size, without the deleted slots
		}
		if int64(size)*8 > f.maxBytes {
			f.off, f.slots, f.n, f.dead = true, nil, 0, 0
			return
		}
		f.rehash(size)
	}
	f.insert(f.hash(k))
	f.n++
}

func (f *keyFilter) insert(h uint64) {
	mask := uint64(len(f.slots) - 1)
	i := h & mask
	for f.slots[i] > filterDeleted {
		i = (i + 1) & mask
	}
	if f.slots[i] == filterDeleted {
		f.dead--
	}
	f.slots[i] = h
}

func (f *keyFilter) rehash(size int) {
	old := f.slots
	f.slots, f.dead = make([]uint64, size), 0
	for _, h := range old {
		if h > filterDeleted {
			f.insert(h)
		}
	}
}

// remove records that the store no longer holds k's sessions (k was
// added).
func (f *keyFilter) remove(k string) {
	if f.off {
		return
	}
	h := f.hash(k)
	mask := uint64(len(f.slots) - 1)
	for i := h & mask; f.slots[i] != filterEmpty; i = (i + 1) & mask {
		if f.slots[i] == h {
			f.slots[i] = filterDeleted
			f.n--
			f.dead++
			return
		}
	}
}

// reset empties the filter, on again within its budget.
func (f *keyFilter) reset() {
	*f = *newKeyFilter(f.maxBytes)
}
