package windows

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
)

// Store is the ordered keyed state an [Operator] keeps its windows in,
// behind a cache of decoded windows. Keys are compared as bytes. The
// operator is its only user and calls it from one goroutine.
//
// [MemStore] is the memory backend (state.backend: memory); the Pebble
// backend lives in package state/pebblestore, so that windows imports no
// storage engine.
type Store interface {
	// Get calls f with the value stored under k (valid only during the
	// call) and reports whether there was one. Writes not yet committed
	// are seen.
	Get(k []byte, f func(v []byte)) (bool, error)
	// Set stores a copy of v under k.
	Set(k, v []byte) error
	// Delete removes k.
	Delete(k []byte) error
	// DeleteRange removes every key in [lo, hi).
	DeleteRange(lo, hi []byte) error
	// Scan calls f for every key in [lo, hi) in order, with the values
	// as of the call (valid only during f), until f returns false. f may
	// Get, Set and Delete; this scan need not see those writes.
	Scan(lo, hi []byte, f func(k, v []byte) bool) error
	// Checkpoint makes a consistent copy of the store and appends to b
	// what Restore needs to get it back.
	Checkpoint(b []byte) ([]byte, error)
	// Restore replaces the store's contents with the copy data describes
	// (what Checkpoint appended). An unreadable copy is an error wrapping
	// [ErrCorrupt].
	Restore(data []byte) error
	// CacheBytes is the budget of the operator's decoded cache in front
	// of the store; 0 means no limit: every window stays decoded.
	CacheBytes() int64
	// Close releases the store.
	Close() error
}

// MemStore is the std-only [Store]: an ordered map in memory. With its
// default budget (no limit) the operator's cache never evicts, so the
// store holds only what checkpoints write to it.
type MemStore struct {
	cacheBytes int64
	m          map[string][]byte
	sorted     []string // keys of m in order, and some deleted ones
	added      []string // keys of m not in sorted yet
	dead       int      // deleted keys still in sorted
}

// NewMemStore returns an empty store. cacheBytes is the operator's cache
// budget (0: no limit); tests set it small to send windows through the
// store.
func NewMemStore(cacheBytes int64) *MemStore {
	return &MemStore{cacheBytes: cacheBytes, m: map[string][]byte{}}
}

// Get implements [Store].
func (s *MemStore) Get(k []byte, f func(v []byte)) (bool, error) {
	v, ok := s.m[string(k)]
	if ok {
		f(v)
	}
	return ok, nil
}

// Set implements [Store].
func (s *MemStore) Set(k, v []byte) error {
	old, ok := s.m[string(k)]
	if !ok {
		s.added = append(s.added, string(k))
	}
	s.m[string(k)] = append(old[:0:0], v...)
	return nil
}

// Delete implements [Store].
func (s *MemStore) Delete(k []byte) error {
	if _, ok := s.m[string(k)]; ok {
		delete(s.m, string(k))
		s.dead++
	}
	return nil
}

// order brings every key into sorted and drops deleted ones from it once
// they are many. It allocates a new slice, so a running Scan keeps its own.
func (s *MemStore) order() {
	if len(s.added) == 0 && s.dead <= len(s.sorted)/2 {
		return
	}
	slices.Sort(s.added)
	merged := make([]string, 0, len(s.m))
	i, j := 0, 0
	for i < len(s.sorted) || j < len(s.added) {
		var k string
		if j == len(s.added) || i < len(s.sorted) && s.sorted[i] <= s.added[j] {
			k = s.sorted[i]
			i++
		} else {
			k = s.added[j]
			j++
		}
		if _, ok := s.m[k]; ok && (len(merged) == 0 || merged[len(merged)-1] != k) {
			merged = append(merged, k)
		}
	}
	s.sorted, s.added, s.dead = merged, s.added[:0], 0
}

// span returns the ordered keys in [lo, hi); some may be deleted.
func (s *MemStore) span(lo, hi []byte) []string {
	s.order()
	i := sort.SearchStrings(s.sorted, string(lo))
	j := i + sort.SearchStrings(s.sorted[i:], string(hi))
	return s.sorted[i:j]
}

// DeleteRange implements [Store].
func (s *MemStore) DeleteRange(lo, hi []byte) error {
	for _, k := range s.span(lo, hi) {
		if _, ok := s.m[k]; ok {
			delete(s.m, k)
			s.dead++
		}
	}
	return nil
}

// Scan implements [Store].
func (s *MemStore) Scan(lo, hi []byte, f func(k, v []byte) bool) error {
	for _, k := range s.span(lo, hi) {
		if v, ok := s.m[k]; ok && !f([]byte(k), v) {
			break
		}
	}
	return nil
}

var memStoreTag = [2]byte{'M', 1}

// Checkpoint implements [Store]: it appends every key and value.
func (s *MemStore) Checkpoint(b []byte) ([]byte, error) {
	s.order()
	b = append(b, memStoreTag[:]...)
	b = binary.AppendUvarint(b, uint64(len(s.m)))
	for _, k := range s.sorted {
		if v, ok := s.m[k]; ok {
			b = appendBytes(b, k)
			b = appendBytes(b, string(v))
		}
	}
	return b, nil
}

// ErrOtherStore is wrapped by Restore when a checkpoint was written by a
// store of another kind (memory against pebble).
var ErrOtherStore = errors.New("the checkpoint was written by the other state backend")

// Restore implements [Store].
func (s *MemStore) Restore(data []byte) error {
	if len(data) < 2 || [2]byte(data[:2]) != memStoreTag {
		if len(data) >= 1 && data[0] == 'P' {
			return fmt.Errorf("%w: %w (backend pebble, this run uses memory)", ErrCorrupt, ErrOtherStore)
		}
		return fmt.Errorf("%w: not a memory store checkpoint", ErrCorrupt)
	}
	r := &reader{b: data[2:]}
	n := r.count()
	m := make(map[string][]byte, n)
	keys := make([]string, 0, n)
	for range n {
		k, v := r.str(), r.str()
		if r.err != nil {
			break
		}
		if len(keys) > 0 && keys[len(keys)-1] >= k {
			r.fail("store keys out of order")
			break
		}
		m[k] = []byte(v)
		keys = append(keys, k)
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d bytes after the store", len(r.b))
	}
	if r.err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, r.err)
	}
	s.m, s.sorted, s.added, s.dead = m, keys, nil, 0
	return nil
}

// CacheBytes implements [Store].
func (s *MemStore) CacheBytes() int64 { return s.cacheBytes }

// Close implements [Store]; it does nothing.
func (s *MemStore) Close() error { return nil }
