package serve

import (
	"encoding/binary"
	"hash/maphash"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/value"
)

// Table is the feature table: a sink that keeps the latest closed window
// of each key, for lookups from any goroutine. The job writes it like any
// other sink (job.Options.Sinks), on the engine's goroutine; the HTTP
// handlers read it.
//
// Newer wins: a row replaces its key's entry only when its window ends
// later, or ends at the same time with a revision at least as high (a
// replay after a restart writes the same rows again), so a revision of an
// older window never overwrites a newer window.
//
// Memory is bounded: at most MaxKeys entries, one per key. The keys are
// spread over up to 16 shards by hash, each holding its share; a new key
// in a full shard evicts the shard's least recently updated key. With a
// TTL, an entry not updated for that long is no longer answered and is
// dropped by the next write to its shard.
type Table struct {
	layout   sink.Layout
	ttl      int64 // ns; 0: none
	now      func() time.Time
	seed     maphash.Seed
	shards   []shard
	perShard int
	// names are the key fields' and aggregates' JSON names with a colon
	keyNames, aggNames []string

	evicted, expired, stale atomic.Int64
	scratch                 sync.Pool // *writeScratch
}

type shard struct {
	mu         sync.RWMutex
	m          map[string]*entry
	head, tail *entry // most and least recently updated
	_          [40]byte
}

type entry struct {
	key        string
	end, rev   int64
	updated    int64  // unix ns
	body       []byte // "key":{…},"window_start":…,"aggregates":{…} (no braces)
	prev, next *entry
}

// TableOptions bound a Table.
type TableOptions struct {
	MaxKeys int           // keys kept at most; <= 0: 1,000,000
	TTL     time.Duration // 0: entries stay until evicted
	Now     func() time.Time
}

// NewTable keeps the rows of l's layout.
func NewTable(l sink.Layout, o TableOptions) *Table {
	if o.MaxKeys <= 0 {
		o.MaxKeys = 1_000_000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	n := 1
	for n < 16 && o.MaxKeys/(2*n) >= 1024 {
		n *= 2
	}
	t := &Table{layout: l, ttl: int64(o.TTL), now: o.Now, seed: maphash.MakeSeed(), shards: make([]shard, n), perShard: o.MaxKeys / n}
	t.scratch.New = func() any { return new(writeScratch) }
	for i := range t.shards {
		t.shards[i].m = map[string]*entry{}
	}
	for _, k := range l.Keys {
		t.keyNames = append(t.keyNames, string(value.AppendString(nil, k))+":")
	}
	for _, a := range l.Aggregates {
		t.aggNames = append(t.aggNames, string(value.AppendString(nil, a))+":")
	}
	return t
}

// Keys are the key fields, in the order lookups give their values.
func (t *Table) Keys() []string { return t.layout.Keys }

// MaxKeys is the table's bound.
func (t *Table) MaxKeys() int { return t.perShard * len(t.shards) }

// lookupKey is the table's key for key values in their text form
// (sink.AppendPlain): each length-prefixed, so no two lists share one.
func lookupKey(b []byte, vals []string) []byte {
	for _, v := range vals {
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return b
}

// Write keeps r as its key's entry unless the entry holds a newer window
// or revision. It is sink.Sink's.
func (t *Table) Write(r *sink.Row) error {
	keys, start, end, rev, aggs, err := t.layout.Parts(r)
	if err != nil {
		return err
	}
	sp := t.scratch.Get().(*writeScratch)
	defer t.scratch.Put(sp)
	kb := sp.key[:0]
	for _, k := range keys {
		sp.plain = sink.AppendPlain(sp.plain[:0], k)
		kb = binary.AppendUvarint(kb, uint64(len(sp.plain)))
		kb = append(kb, sp.plain...)
	}
	sp.key = kb
	sp.body = t.appendBody(sp.body[:0], keys, start, end, rev, aggs)
	now := t.now().UnixNano()
	t.put(kb, end, rev, now, sp.body, now)
	return nil
}

// writeScratch is a Write's key and answer, encoded before put copies
// them into the key's entry.
type writeScratch struct{ key, plain, body []byte }

// put keeps an entry for key unless the key holds a newer window or
// revision, evicting the shard's least recently updated key when full.
// The entry keeps a copy of body, in the space of the body it replaces
// when that is large enough (Get copies an entry's body out under the
// shard's lock, so no reader holds it).
func (t *Table) put(key []byte, end, rev, updated int64, body []byte, now int64) {
	s := &t.shards[maphash.Bytes(t.seed, key)%uint64(len(t.shards))]
	s.mu.Lock()
	defer s.mu.Unlock()
	t.expire(s, now)
	if t.ttl != 0 && now-updated > t.ttl {
		return
	}
	e := s.m[string(key)]
	if e != nil {
		if end < e.end || end == e.end && rev < e.rev {
			t.stale.Add(1)
			return
		}
		s.unlink(e)
	} else {
		if len(s.m) >= t.perShard && s.tail != nil {
			t.evicted.Add(1)
			old := s.tail
			s.unlink(old)
			delete(s.m, old.key)
		}
		e = &entry{key: string(key)}
		s.m[e.key] = e
	}
	e.end, e.rev, e.updated = end, rev, updated
	e.body = append(e.body[:0], body...)
	s.pushFront(e)
}

// expire drops the shard's entries older than the TTL (s.mu held).
func (t *Table) expire(s *shard, now int64) {
	if t.ttl == 0 {
		return
	}
	for e := s.tail; e != nil && now-e.updated > t.ttl; e = s.tail {
		s.unlink(e)
		delete(s.m, e.key)
		t.expired.Add(1)
	}
}

// appendBody appends a row's answer: "key":{…},"window_start":…,
// "aggregates":{…}, without braces.
func (t *Table) appendBody(b []byte, keys []value.Value, start, end, rev int64, aggs []value.Value) []byte {
	b = append(b, `"key":{`...)
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, t.keyNames[i]...)
		b = value.AppendJSON(b, k)
	}
	b = append(b, `},"window_start":"`...)
	b = value.AppendTime(b, start)
	b = append(b, `","window_end":"`...)
	b = value.AppendTime(b, end)
	b = append(b, `","revision":`...)
	b = strconv.AppendInt(b, rev, 10)
	b = append(b, `,"aggregates":{`...)
	for i, a := range aggs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, t.aggNames[i]...)
		b = value.AppendJSON(b, a)
	}
	return append(b, '}')
}

// Lookup is what Get answers for a key that has a window.
type Lookup struct {
	Body []byte // a copy of the entry's JSON members, without braces, in buf's space
	Age  time.Duration
}

// Get returns the entry of the key whose values, in the order of Keys and
// in their text form, are vals; ok is false when there is none (or it is
// older than the TTL). buf is scratch space for the table's key, and the
// answer's body is copied after it (so that a write may reuse the
// entry's space).
func (t *Table) Get(vals []string, buf []byte) (l Lookup, ok bool) {
	kb := lookupKey(buf[:0], vals)
	s := &t.shards[maphash.Bytes(t.seed, kb)%uint64(len(t.shards))] // maphash.Bytes(x) == maphash.String(string(x))
	s.mu.RLock()
	e := s.m[string(kb)]
	if e != nil {
		l = Lookup{Body: append(kb[len(kb):], e.body...), Age: time.Duration(t.now().UnixNano() - e.updated)}
	}
	s.mu.RUnlock()
	if e == nil || t.ttl != 0 && int64(l.Age) > t.ttl {
		return Lookup{}, false
	}
	return l, true
}

// Len is the number of entries.
func (t *Table) Len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

// Close does nothing: the table stays readable until the server stops.
func (t *Table) Close() error { return nil }

func (s *shard) unlink(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		s.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		s.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (s *shard) pushFront(e *entry) {
	e.next = s.head
	if s.head != nil {
		s.head.prev = e
	}
	s.head = e
	if s.tail == nil {
		s.tail = e
	}
}
