package windows

import (
	"cmp"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/eddyhq/eddy/value"
)

// SpillOptions configures a [Spill] operator.
type SpillOptions struct {
	// Dir holds the live Pebble store (Dir/live) and the checkpoints
	// AppendSnapshot takes of it (Dir/ck-N). It is created if needed.
	Dir string
	// MemoryLimit is the budget for the whole operator: the cache of
	// decoded windows, Pebble's memtables and block cache. Default 512 MiB.
	MemoryLimit int64
	// CacheBytes overrides the decoded cache's share of the budget (a
	// quarter); tests set it small to make the cache evict.
	CacheBytes int64

	fs vfs.FS // tests inject faults (a full disk); nil is the OS
}

// The process itself (code, runtime, source buffers) takes about 50 MiB
// of resident memory; the rest of MemoryLimit is the operator's budget,
// split between the decoded cache and Pebble's memtables and block cache.
const processBytes = 64 << 20

func (o SpillOptions) budget() int64 { return max(o.MemoryLimit-processBytes, 16<<20) }
func (o SpillOptions) cacheBytes() int64 {
	if o.CacheBytes > 0 {
		return o.CacheBytes
	}
	return o.budget() / 4
}
func (o SpillOptions) memtableBytes() int64 { return clamp(o.budget()/16, 4<<20, 64<<20) }
func (o SpillOptions) blockBytes() int64    { return clamp(o.budget()/8, 8<<20, 256<<20) }

// HeapLimit is the Go heap the process should keep to (a soft limit for
// the collector) so that with Pebble's memory, which is not on the Go heap,
// it stays within MemoryLimit: what is left after two memtables, the block
// cache and 48 MiB of code and other memory the collector does not manage.
func (o SpillOptions) HeapLimit() int64 {
	return max(o.MemoryLimit-2*o.memtableBytes()-o.blockBytes()-48<<20, o.MemoryLimit/4)
}

func clamp(v, lo, hi int64) int64 { return max(lo, min(v, hi)) }

// commitBytes is the size at which the pending batch is committed to the
// live store (without sync: durability comes from checkpoints).
const commitBytes = 4 << 20

// fireChunk is how many stored sessions Advance loads before it fires them.
const fireChunk = 4096

// Spill is a window operator that keeps window state in a Pebble store with
// a cache of decoded windows in front, so the key space can exceed memory
// (state.backend: pebble). Its output is the same as [Operator]'s for the
// same input, row for row and in the same order.
//
// The live store is scratch: it is written whenever the cache evicts or a
// batch grows, without a write-ahead log. A consistent copy is made by
// AppendSnapshot (the memtable flushed, then a Pebble checkpoint: hard
// links to the immutable tables and a copy of the manifest), and Restore
// starts from such a copy, so the store's contents always match a
// checkpoint's engine state on restart.
//
// Store keys, after the one-byte kind:
//
//	'p' start okey        a pane's (window, key) entry
//	'k' okey              all sessions of a key
//	'f' end first okey    fire index: an unfired session of a stored key
//	'l' until first okey  keep index: a fired session kept for lateness
//
// where okey is the order-preserving key encoding (appendOrdered) and the
// times are big-endian with the sign bit flipped. Keys held in the cache
// are authoritative: their index entries in the store are ignored until
// the key is written back.
type Spill struct {
	bg     *background // first error of Pebble's own goroutines
	base   Operator    // configuration, result buffer and aggregate helpers
	opts   SpillOptions
	db     *pebble.DB
	cache  *pebble.Cache
	b      *pebble.Batch // pending writes (indexed: reads see them)
	err    error
	w      int64
	nOpen  int64
	seq    int64 // checkpoints taken
	okey   []byte
	kbuf   []byte
	vbuf   []byte
	bytes  int64 // estimated size of the decoded cache
	evicts int64 // windows evicted from the cache
	loads  int64 // windows read back from the store

	// tumbling and hopping
	panes    map[int64]*spane
	open     []*spane
	kept     []*spane
	lastPane *spane

	// sessions
	keys    map[string]*skey
	fireQ   sessionHeap
	keepQ   sessionHeap
	stale   int
	fireBuf []*session
	// due are lower bounds of the times of the stored fire ('f') and
	// keep ('l') index entries of keys not in the cache: Advance scans
	// the store only when the watermark reaches them
	dueF, dueL int64
	// index entries written, and visited (deleted ones too) by loadDue,
	// for tests: the scans must stay proportional to the writes
	indexed, scanned int64
}

type spane struct {
	start, end int64
	fired      bool
	n          int64 // entries, stored or cached
	stored     bool  // some entries may be in the store
	byKey      map[string]*sentry
}

type sentry struct {
	entry
	dirty, ref bool
	size       int64
}

type skey struct {
	keySessions
	dirty, ref bool
	size       int64
	disk       [][]byte // the index keys the store holds for this key
	onDisk     bool
}

// NewSpill returns a spilling operator for cfg, with an empty live store.
func NewSpill(cfg Config, opts SpillOptions) (*Spill, error) {
	if opts.MemoryLimit <= 0 {
		opts.MemoryLimit = 512 << 20
	}
	base, err := New(cfg)
	if err != nil {
		return nil, err
	}
	s := &Spill{base: *base, opts: opts, w: NoWatermark, panes: map[int64]*spane{}, keys: map[string]*skey{},
		dueF: EndOfInput, dueL: EndOfInput}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("window store: %w", err)
	}
	live := filepath.Join(opts.Dir, "live")
	if err := os.RemoveAll(live); err != nil {
		return nil, fmt.Errorf("window store: %w", err)
	}
	if err := s.openLive(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Spill) openLive() error {
	s.bg = &background{failed: make(chan struct{})}
	if s.cache == nil {
		s.cache = pebble.NewCache(s.opts.blockBytes())
	}
	lo := &pebble.Options{
		FS:                          s.opts.fs,
		Logger:                      quiet{},
		EventListener:               &pebble.EventListener{BackgroundError: s.bg.set},
		Cache:                       s.cache,
		MemTableSize:                uint64(s.opts.memtableBytes()),
		MemTableStopWritesThreshold: 2,
		// the live store is scratch: durability comes from the
		// checkpoints, which flush the memtable first
		DisableWAL: true,
	}
	lo.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	lo.EnsureDefaults()
	for i := range lo.Levels {
		lo.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	db, err := openPebble(filepath.Join(s.opts.Dir, "live"), lo)
	if err != nil {
		return fmt.Errorf("window store %s: %w", s.opts.Dir, err)
	}
	s.db = db
	s.b = db.NewIndexedBatch()
	return nil
}

// openPebble opens a store; Pebble may panic on damaged files, and no panic
// reaches the user.
func openPebble(dir string, o *pebble.Options) (db *pebble.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("open: %v", r)
		}
	}()
	return pebble.Open(dir, o)
}

// background holds the first error of a background flush or compaction
// (a full disk). Pebble retries a failed flush for ever, so whoever waits
// for one (a checkpoint) waits on failed too, and the run stops with the
// error instead of hanging; it is reported once, not on every retry.
type background struct {
	once   sync.Once
	err    error
	failed chan struct{} // closed when err is set
}

func (b *background) set(err error) {
	b.once.Do(func() { b.err = err; close(b.failed) })
}

// flush writes the memtable out, or returns the background error that
// keeps it from being written.
func (s *Spill) flush() error {
	return s.unlessFailed(func() error {
		done, err := s.db.AsyncFlush()
		if err == nil {
			<-done
		}
		return err
	})
}

// unlessFailed runs f, a write that a failed flush can stall for ever
// (Pebble stops writes while its memtables wait to be flushed), and
// returns its error, or the background error once there is one. A stalled
// f is left behind: the store is failed, and Close does not wait for it.
func (s *Spill) unlessFailed(f func() error) error {
	select {
	case <-s.bg.failed:
		return s.bg.err
	default:
	}
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-s.bg.failed:
		return s.bg.err
	}
}

type quiet struct{}

func (quiet) Infof(string, ...any) {}
func (quiet) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "eddy: window store: "+format+"\n", args...)
}
func (quiet) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "eddy: window store: fatal: "+format+"\n", args...)
	os.Exit(1)
}

// Close closes the live store. The operator is unusable afterwards.
func (s *Spill) Close() error {
	if s.db == nil {
		return nil
	}
	select {
	case <-s.bg.failed:
		// a write may be stalled behind the failed flush, and Pebble's
		// Close would wait for it: leave the store to the process's end
		s.db = nil
		return s.bg.err
	default:
	}
	err := errors.Join(s.b.Close(), s.db.Close())
	s.db = nil
	s.cache.Unref()
	return err
}

// Err returns the first store error; after one the operator's state is
// unreliable and the run must stop.
func (s *Spill) Err() error { return s.err }

func (s *Spill) fail(err error) {
	if err != nil && s.err == nil {
		s.err = fmt.Errorf("window store %s: %w", s.opts.Dir, err)
	}
}

// Watermark returns the operator's watermark.
func (s *Spill) Watermark() int64 { return s.w }

// Open returns the number of open (window, key) states, stored or cached.
func (s *Spill) Open() int { return int(s.nOpen) }

// Cached returns the estimated bytes of decoded windows held in memory.
func (s *Spill) Cached() int64 { return s.bytes }

// Traffic returns how many windows (a pane's entry, or all sessions of a
// key) the cache evicted and how many it read back from the store.
func (s *Spill) Traffic() (evicted, loaded int64) { return s.evicts, s.loads }

func (s *Spill) isLate(end int64) bool {
	return s.w != NoWatermark && addSat(end, s.base.cfg.Lateness) <= s.w
}

// Add adds a record; see [Operator.Add].
//
// A store failure is not the record's fault: it is not returned here but
// by Err, which the caller checks after each record.
func (s *Spill) Add(ts int64, row []value.Value) (late bool, err error) {
	if s.err != nil {
		return false, nil
	}
	cfg := &s.base.cfg
	if err := cfg.checkRow(row); err != nil {
		return false, err
	}
	s.okey = appendOrderedKey(s.okey[:0], row, cfg.Keys)
	if cfg.Window.Type == SessionType {
		late = s.addSession(ts, row)
	} else {
		late = assign(&cfg.Window, s, ts, row)
	}
	s.evictIfFull()
	return late, nil
}

// ---- panes ----

func (s *Spill) addPane(start, end, ts int64, row []value.Value) {
	p := s.lastPane
	if p == nil || p.start != start {
		p = s.panes[start]
		if p == nil {
			p = &spane{start: start, end: end, byKey: map[string]*sentry{}}
			s.panes[start] = p
			if end <= s.w {
				p.fired = true
				s.kept = insertSpaneByEnd(s.kept, p)
			} else {
				i := sort.Search(len(s.open), func(i int) bool { return s.open[i].start >= start })
				s.open = slices.Insert(s.open, i, p)
			}
		}
		s.lastPane = p
	}
	e := p.byKey[string(s.okey)]
	if e == nil {
		e = s.loadEntry(p)
		if s.err != nil {
			return
		}
		if e == nil {
			e = &sentry{entry: s.base.newEntry(row)}
			s.base.nOpen--
			s.nOpen++
			p.n++
		}
		p.byKey[string(s.okey)] = e
		e.size = entrySize(&e.entry)
		s.bytes += e.size
	}
	s.base.update(&e.entry, ts, row)
	e.dirty, e.ref = true, true
	if p.fired {
		s.base.emit(&e.entry, p.start, p.end)
	}
}

func insertSpaneByEnd(ps []*spane, p *spane) []*spane {
	i := sort.Search(len(ps), func(i int) bool { return ps[i].end > p.end })
	return slices.Insert(ps, i, p)
}

func (s *Spill) paneKey(start int64, okey []byte) []byte {
	s.kbuf = append(s.kbuf[:0], 'p')
	s.kbuf = appendTime(s.kbuf, start)
	return append(s.kbuf, okey...)
}

// paneRange returns the bounds of the store keys of the pane at start.
func paneRange(start int64) (lo, hi []byte) {
	return appendTime([]byte{'p'}, start), appendTime([]byte{'p'}, start+1)
}

func appendTime(b []byte, t int64) []byte { return binary.BigEndian.AppendUint64(b, uint64(t)^1<<63) }

func readTime(b []byte) int64 { return int64(binary.BigEndian.Uint64(b) ^ 1<<63) }

// loadEntry reads the entry of s.okey in p from the store; nil when absent.
func (s *Spill) loadEntry(p *spane) *sentry {
	if !p.stored {
		return nil
	}
	v, c := s.lookup(s.paneKey(p.start, s.okey))
	if v == nil {
		return nil
	}
	defer c.Close()
	e := &sentry{}
	if err := s.decodeEntry(v, &e.entry); err != nil {
		s.fail(err)
		return nil
	}
	return e
}

// lookup reads k from the store (pending writes included); nil when it is
// absent or the read fails (see Err). Close the closer when done with v.
func (s *Spill) lookup(k []byte) ([]byte, io.Closer) {
	v, c, err := s.b.Get(k)
	if err != nil {
		if !errors.Is(err, pebble.ErrNotFound) {
			s.fail(err)
		}
		return nil, nil
	}
	s.loads++
	if v == nil {
		v = []byte{} // a stored empty value is not an absent one
	}
	return v, c
}

func (s *Spill) decodeEntry(v []byte, e *entry) error {
	r := &reader{b: v}
	e.key = s.base.readValues(r, len(s.base.cfg.Keys))
	s.base.readEntry(r, e)
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d bytes after a stored window", len(r.b))
	}
	if r.err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, r.err)
	}
	return nil
}

func (s *Spill) encodeEntry(e *entry) []byte {
	s.vbuf = appendValues(s.vbuf[:0], e.key)
	s.vbuf = s.base.appendEntry(s.vbuf, e, false)
	return s.vbuf
}

// writeEntry stores e under p and okey.
func (s *Spill) writeEntry(p *spane, okey string, e *sentry) {
	s.set(s.paneKey(p.start, []byte(okey)), s.encodeEntry(&e.entry))
	p.stored = true
	e.dirty = false
}

func (s *Spill) set(k, v []byte) {
	s.fail(s.b.Set(k, v, nil))
}

func (s *Spill) del(k []byte) {
	s.fail(s.b.Delete(k, nil))
}

// commit writes the pending batch to the live store.
func (s *Spill) commit() {
	if s.b.Empty() {
		return
	}
	b := s.b
	if err := s.unlessFailed(func() error { return b.Commit(pebble.NoSync) }); err != nil {
		s.fail(err)
		return
	}
	s.fail(s.b.Close())
	s.b = s.db.NewIndexedBatch()
}

func (s *Spill) maybeCommit() {
	if s.b.Len() >= commitBytes {
		s.commit()
	}
}

// firePane emits every entry of p in key order: the cached ones are
// written back first, so one ordered scan of the store sees them all.
func (s *Spill) firePane(p *spane, keep bool) {
	for k, e := range p.byKey {
		if e.dirty {
			s.writeEntry(p, k, e)
			s.maybeCommit()
		}
		s.bytes -= e.size
	}
	clear(p.byKey)
	s.commit()
	if s.err != nil || !p.stored {
		return
	}
	lo, hi := paneRange(p.start)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		s.fail(err)
		return
	}
	var e entry
	for ok := it.First(); ok; ok = it.Next() {
		if err := s.decodeEntry(it.Value(), &e); err != nil {
			s.fail(err)
			break
		}
		s.base.emit(&e, p.start, p.end)
		if keep {
			s.set(it.Key(), s.encodeEntry(&e))
			s.maybeCommit()
		}
	}
	s.fail(it.Close())
}

func (s *Spill) dropPane(p *spane) {
	delete(s.panes, p.start)
	s.nOpen -= p.n
	for _, e := range p.byKey {
		s.bytes -= e.size
	}
	if p.stored {
		lo, hi := paneRange(p.start)
		s.fail(s.b.DeleteRange(lo, hi, nil))
	}
	if s.lastPane == p {
		s.lastPane = nil
	}
}

func (s *Spill) advancePanes(w int64) {
	L := s.base.cfg.Lateness
	n := 0
	for n < len(s.open) && s.open[n].end <= w {
		p := s.open[n]
		n++
		keep := addSat(p.end, L) > w
		s.firePane(p, keep)
		p.fired = true
		if keep {
			s.kept = insertSpaneByEnd(s.kept, p)
		} else {
			s.dropPane(p)
		}
	}
	s.open = s.open[:copy(s.open, s.open[n:])]
	n = 0
	for n < len(s.kept) && addSat(s.kept[n].end, L) <= w {
		s.dropPane(s.kept[n])
		n++
	}
	s.kept = s.kept[:copy(s.kept, s.kept[n:])]
}

// ---- sessions ----

func (s *Spill) addSession(ts int64, row []value.Value) (late bool) {
	gap := s.base.cfg.Window.Gap
	ks := s.keys[string(s.okey)]
	if ks == nil {
		ks = s.loadKey(string(s.okey))
		if s.err != nil {
			return false
		}
	}
	var list []*session
	if ks != nil {
		list = ks.list
	}
	lo, hi, first, last := touched(list, ts, gap)
	if s.isLate(addSat(last, gap)) {
		return true
	}
	if ks == nil {
		ks = &skey{keySessions: keySessions{str: string(s.okey)}}
		ks.key = make([]value.Value, len(s.base.cfg.Keys))
		for i, k := range s.base.cfg.Keys {
			ks.key[i] = row[k]
		}
		s.keys[ks.str] = ks
		ks.size = keySize(ks)
		s.bytes += ks.size
	}
	ks.dirty, ks.ref = true, true
	var ss *session
	if hi == lo {
		ss = &session{ks: &ks.keySessions, first: ts, last: ts}
		ss.entry = entry{key: ks.key, cells: make([]cell, len(s.base.cfg.Aggs))}
		s.nOpen++
		ks.list = slices.Insert(ks.list, lo, ss)
		sz := sessionSize(ss)
		ks.size += sz
		s.bytes += sz
	} else {
		ss = ks.list[lo]
		for _, m := range ks.list[lo+1 : hi] {
			for i := range s.base.cfg.Aggs {
				ss.cells[i].merge(&s.base.cfg.Aggs[i], &m.cells[i])
			}
			ss.emits = max(ss.emits, m.emits)
			m.dead = true
			s.stale++
			s.nOpen--
		}
		ks.list = slices.Delete(ks.list, lo+1, hi)
	}
	changed := first != ss.first || last != ss.last || hi-lo > 1 || hi == lo
	ss.first, ss.last = first, last
	s.base.update(&ss.entry, ts, row)
	end := addSat(last, gap)
	if end <= s.w {
		s.base.emit(&ss.entry, ss.first, end)
		if !ss.fired || changed {
			ss.fired = true
			ss.gen++
			heap.Push(&s.keepQ, qitem{addSat(end, s.base.cfg.Lateness), ss, ss.gen})
		}
		return false
	}
	if ss.fired || changed {
		ss.fired = false
		ss.gen++
		heap.Push(&s.fireQ, qitem{end, ss, ss.gen})
	}
	return false
}

func (s *Spill) sessionKey(okey string) []byte {
	s.kbuf = append(s.kbuf[:0], 'k')
	return append(s.kbuf, okey...)
}

func (s *Spill) indexKey(kind byte, at, first int64, okey string) []byte {
	b := make([]byte, 0, 17+len(okey))
	b = append(b, kind)
	b = appendTime(b, at)
	b = appendTime(b, first)
	return append(b, okey...)
}

// loadKey reads a key's sessions from the store into the cache and queues
// them; nil when the store has none.
func (s *Spill) loadKey(okey string) *skey {
	v, c := s.lookup(s.sessionKey(okey))
	if v == nil {
		return nil
	}
	defer c.Close()
	r := &reader{b: v}
	ks := &skey{keySessions: keySessions{str: okey}, onDisk: true}
	ks.key = s.base.readValues(r, len(s.base.cfg.Keys))
	n := r.count()
	gap, L := s.base.cfg.Window.Gap, s.base.cfg.Lateness
	for range n {
		ss := s.readSession(r, &ks.keySessions)
		if r.err != nil {
			break
		}
		ks.list = append(ks.list, ss)
		end := addSat(ss.last, gap)
		if ss.fired {
			until := addSat(end, L)
			heap.Push(&s.keepQ, qitem{until, ss, 0})
			ks.disk = append(ks.disk, s.indexKey('l', until, ss.first, okey))
		} else {
			heap.Push(&s.fireQ, qitem{end, ss, 0})
			ks.disk = append(ks.disk, s.indexKey('f', end, ss.first, okey))
		}
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d bytes after a stored key", len(r.b))
	}
	if r.err != nil {
		s.fail(fmt.Errorf("%w: %v", ErrCorrupt, r.err))
		return nil
	}
	s.keys[okey] = ks
	ks.size = keySize(ks)
	for _, ss := range ks.list {
		ks.size += sessionSize(ss)
	}
	s.bytes += ks.size
	return ks
}

// writeKey stores a key's sessions and their index entries, replacing
// what the store held for it.
func (s *Spill) writeKey(ks *skey) {
	gap, L := s.base.cfg.Window.Gap, s.base.cfg.Lateness
	want := make([][]byte, 0, len(ks.list))
	for _, ss := range ks.list {
		end := addSat(ss.last, gap)
		if ss.fired {
			want = append(want, s.indexKey('l', addSat(end, L), ss.first, ks.str))
		} else {
			want = append(want, s.indexKey('f', end, ss.first, ks.str))
		}
	}
	for _, k := range ks.disk {
		if !slices.ContainsFunc(want, func(w []byte) bool { return string(w) == string(k) }) {
			s.del(k)
		}
	}
	// an index entry carries its session and how many the key has, so
	// that Advance fires and drops a key's only session without reading
	// the key back
	for i, k := range want {
		s.vbuf = binary.AppendUvarint(s.vbuf[:0], uint64(len(ks.list)))
		s.vbuf = appendValues(s.vbuf, ks.key)
		s.vbuf = s.appendSession(s.vbuf, ks.list[i])
		s.set(k, s.vbuf)
		s.indexed++
		due := &s.dueF
		if k[0] == 'l' {
			due = &s.dueL
		}
		*due = min(*due, readTime(k[1:9]))
	}
	if len(ks.list) == 0 {
		if ks.onDisk {
			s.del(s.sessionKey(ks.str))
		}
		ks.onDisk = false
	} else {
		s.vbuf = appendValues(s.vbuf[:0], ks.key)
		s.vbuf = binary.AppendUvarint(s.vbuf, uint64(len(ks.list)))
		for _, ss := range ks.list {
			s.vbuf = s.appendSession(s.vbuf, ss)
		}
		s.set(s.sessionKey(ks.str), s.vbuf)
		ks.onDisk = true
	}
	ks.disk = want
	ks.dirty = false
	s.maybeCommit()
}

func (s *Spill) appendSession(b []byte, ss *session) []byte {
	b = binary.AppendVarint(b, ss.first)
	b = binary.AppendVarint(b, ss.last)
	b = appendBool(b, ss.fired)
	return s.base.appendEntry(b, &ss.entry, false)
}

func (s *Spill) readSession(r *reader, ks *keySessions) *session {
	ss := &session{ks: ks, first: r.varint(), last: r.varint(), fired: r.bool()}
	ss.entry.key = ks.key
	s.base.readEntry(r, &ss.entry)
	return ss
}

// evictKey writes ks back if needed and drops it from the cache; its
// sessions' queue items go stale.
func (s *Spill) evictKey(ks *skey) {
	if ks.dirty {
		s.writeKey(ks)
	}
	for _, ss := range ks.list {
		ss.dead = true
	}
	s.stale += len(ks.list)
	s.evicts++
	delete(s.keys, ks.str)
	s.bytes -= ks.size
}

func (s *Spill) removeSession(ss *session) {
	ss.dead = true
	s.stale++
	s.nOpen--
	ks := s.keys[ss.ks.str]
	if i := slices.Index(ks.list, ss); i >= 0 {
		ks.list = slices.Delete(ks.list, i, i+1)
		sz := sessionSize(ss)
		ks.size -= sz
		s.bytes -= sz
	}
	ks.dirty = true
	if len(ks.list) == 0 {
		s.writeKey(ks)
		delete(s.keys, ks.str)
		s.bytes -= ks.size
	}
}

// loadDue loads into the cache the stored keys that have index entries of
// kind with time ≤ w, from after *from, about fireChunk sessions at a time
// and never splitting a time. It returns the time up to which everything
// is loaded and whether more remain.
func (s *Spill) loadDue(kind byte, w int64, from *[]byte) (upTo int64, more bool) {
	due := &s.dueF
	if kind == 'l' {
		due = &s.dueL
	}
	if *due > w {
		return w, false
	}
	s.commit()
	// Every entry before *due belongs to a cached key (an eviction that
	// writes one lowers *due), so the scan starts there, not at the first
	// entry: rescanning the cached keys' entries on every advance made it
	// quadratic.
	lo := appendTime([]byte{kind}, *due)
	if *from != nil {
		lo = append([]byte(nil), *from...) // *from changes while the iterator runs
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: appendTime([]byte{kind}, addSat(w, 1))})
	if err != nil {
		s.fail(err)
		return w, false
	}
	defer func() {
		s.scanned += int64(it.Stats().InternalStats.PointCount) // deleted entries too
		s.fail(it.Close())
	}()
	n := 0
	var prev int64
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) < 17 {
			s.fail(fmt.Errorf("%w: short index key", ErrCorrupt))
			return w, false
		}
		if *from != nil && string(k) == string(*from) {
			continue
		}
		at := readTime(k[1:9])
		if n >= fireChunk && at != prev {
			return prev, true
		}
		*from = append((*from)[:0], k...)
		prev = at
		okey := string(k[17:])
		if s.keys[okey] != nil {
			continue
		}
		if s.direct(kind, k, it.Value(), okey) {
			n++
			continue
		}
		if ks := s.loadKey(okey); ks != nil {
			n += len(ks.list)
		}
		if s.err != nil {
			return w, false
		}
	}
	// what is left at or before w belongs to keys in the cache, which
	// write new entries (and lower the bound) when they are evicted
	*due = addSat(w, 1)
	return w, false
}

// direct handles an index entry of a key's only session without loading
// the key: a due fire entry queues the session for fireSessions (which
// sees it is not cached), a due keep entry is dropped at once. It reports
// false for a key with several sessions, which must be loaded.
func (s *Spill) direct(kind byte, k, v []byte, okey string) bool {
	r := &reader{b: v}
	if r.uvarint() != 1 || r.err != nil {
		return false
	}
	if kind == 'l' {
		s.del(s.sessionKey(okey))
		s.del(k)
		s.nOpen--
		s.maybeCommit()
		return true
	}
	ks := &keySessions{str: okey, key: s.base.readValues(r, len(s.base.cfg.Keys))}
	ss := s.readSession(r, ks)
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d bytes after a stored session", len(r.b))
	}
	if r.err != nil {
		s.fail(fmt.Errorf("%w: %v", ErrCorrupt, r.err))
		return true
	}
	ks.list = []*session{ss}
	heap.Push(&s.fireQ, qitem{readTime(k[1:9]), ss, ss.gen})
	return true
}

func (s *Spill) advanceSessions(w int64) {
	var from []byte
	for {
		upTo, more := s.loadDue('f', w, &from)
		s.fireSessions(upTo)
		s.evictIfFull()
		if !more || s.err != nil {
			break
		}
	}
	from = nil
	for {
		upTo, more := s.loadDue('l', w, &from)
		s.expireSessions(upTo)
		s.evictIfFull()
		if !more || s.err != nil {
			break
		}
	}
}

func (s *Spill) fireSessions(upTo int64) {
	w, L := s.w, s.base.cfg.Lateness
	s.fireBuf = s.fireBuf[:0]
	for len(s.fireQ) > 0 && s.fireQ[0].at <= upTo {
		it := heap.Pop(&s.fireQ).(qitem)
		if ss := it.s; !ss.dead && !ss.fired && it.gen == ss.gen {
			s.fireBuf = append(s.fireBuf, ss)
		} else if ss.dead && s.stale > 0 {
			s.stale--
		}
	}
	slices.SortFunc(s.fireBuf, func(a, b *session) int {
		if c := cmp.Compare(a.last, b.last); c != 0 {
			return c
		}
		if c := cmp.Compare(a.first, b.first); c != 0 {
			return c
		}
		return strings.Compare(a.ks.str, b.ks.str)
	})
	for _, ss := range s.fireBuf {
		end := addSat(ss.last, s.base.cfg.Window.Gap)
		s.base.emit(&ss.entry, ss.first, end)
		ss.fired = true
		ks := s.keys[ss.ks.str]
		if ks == nil {
			// the only session of a key not in the cache (direct)
			fired := s.indexKey('f', end, ss.first, ss.ks.str)
			if addSat(end, L) > w {
				s.writeKey(&skey{keySessions: *ss.ks, disk: [][]byte{fired}, onDisk: true})
			} else {
				s.del(fired)
				s.del(s.sessionKey(ss.ks.str))
				s.nOpen--
				s.maybeCommit()
			}
			continue
		}
		ks.dirty = true
		if addSat(end, L) > w {
			ss.gen++
			heap.Push(&s.keepQ, qitem{addSat(end, L), ss, ss.gen})
		} else {
			s.removeSession(ss)
		}
	}
}

func (s *Spill) expireSessions(upTo int64) {
	for len(s.keepQ) > 0 && s.keepQ[0].at <= upTo {
		it := heap.Pop(&s.keepQ).(qitem)
		if ss := it.s; !ss.dead && ss.fired && it.gen == ss.gen {
			s.removeSession(ss)
		} else if ss.dead && s.stale > 0 {
			s.stale--
		}
	}
}

// purgeQueues drops the queue items of evicted or merged sessions once
// they outnumber the live ones.
func (s *Spill) purgeQueues() {
	if s.stale < 1024 || s.stale < len(s.fireQ)+len(s.keepQ)-s.stale {
		return
	}
	for _, q := range []*sessionHeap{&s.fireQ, &s.keepQ} {
		*q = slices.DeleteFunc(*q, func(it qitem) bool { return it.s.dead })
		heap.Init(q)
	}
	s.stale = 0
}

// ---- both ----

// Advance raises the watermark; see [Operator.Advance].
func (s *Spill) Advance(w int64) {
	if w <= s.w || s.err != nil {
		return
	}
	s.w = w
	if s.base.cfg.Window.Type == SessionType {
		s.advanceSessions(w)
	} else {
		s.advancePanes(w)
	}
	s.evictIfFull()
}

// Flush ends a bounded input: every window fires.
func (s *Spill) Flush() { s.Advance(EndOfInput) }

// evictIfFull evicts cached windows (second chance: recently used ones
// survive one sweep) until the cache is at three quarters of its budget.
func (s *Spill) evictIfFull() {
	limit := s.opts.cacheBytes()
	if s.bytes <= limit {
		return
	}
	goal := limit * 3 / 4
	for pass := 0; pass < 2 && s.bytes > goal; pass++ {
		if s.base.cfg.Window.Type == SessionType {
			for _, ks := range s.keys {
				if s.bytes <= goal {
					break
				}
				if ks.ref && pass == 0 {
					ks.ref = false
					continue
				}
				s.evictKey(ks)
			}
			continue
		}
		for _, p := range s.panes {
			for k, e := range p.byKey {
				if s.bytes <= goal {
					break
				}
				if e.ref && pass == 0 {
					e.ref = false
					continue
				}
				if e.dirty {
					s.writeEntry(p, k, e)
					s.maybeCommit()
				}
				delete(p.byKey, k)
				s.bytes -= e.size
				s.evicts++
			}
		}
	}
	s.purgeQueues()
	s.commit()
}

// flushCache writes every dirty cached window to the store.
func (s *Spill) flushCache() {
	for _, ks := range s.keys {
		if ks.dirty {
			s.writeKey(ks)
		}
	}
	for _, p := range s.panes {
		for k, e := range p.byKey {
			if e.dirty {
				s.writeEntry(p, k, e)
				s.maybeCommit()
			}
		}
	}
	s.commit()
}

// Size estimates, in bytes of Go heap, of cached windows.
func entrySize(e *entry) int64 {
	n := int64(96 + 48*len(e.key) + 112*len(e.cells))
	for _, v := range e.key {
		n += int64(len(v.S))
	}
	return n
}

func sessionSize(ss *session) int64 { return 64 + entrySize(&ss.entry) }

func keySize(ks *skey) int64 {
	n := int64(160 + 2*len(ks.str) + 48*len(ks.key))
	for _, v := range ks.key {
		n += int64(len(v.S))
	}
	return n
}

// ---- snapshots ----

var spillMagic = [4]byte{'E', 'W', 'S', 'P'}

// AppendSnapshot writes every cached window to the store, takes a Pebble
// checkpoint of it as Dir/ck-N and appends a small description to b: the
// shape, watermark, open count, the checkpoint's number and, for tumbling
// and hopping windows, each pane's bounds. It deletes checkpoints older
// than the last three (a restart uses the one named by the last
// description saved, which is at most one older than this one). Errors
// are reported by Err.
func (s *Spill) AppendSnapshot(b []byte) []byte {
	s.flushCache()
	s.seq++
	if s.err == nil {
		dst := filepath.Join(s.opts.Dir, "ck-"+strconv.FormatInt(s.seq, 10))
		if err := os.RemoveAll(dst); err != nil {
			s.fail(err)
		}
		if err := s.flush(); err != nil {
			s.fail(err)
		} else {
			s.fail(s.db.Checkpoint(dst))
		}
		s.removeOld(s.seq - 3)
	}
	b = append(b, spillMagic[:]...)
	b = binary.AppendUvarint(b, SnapshotVersion)
	b = s.base.appendShape(b)
	b = binary.AppendVarint(b, s.w)
	b = binary.AppendVarint(b, s.nOpen)
	b = binary.AppendVarint(b, s.seq)
	b = binary.AppendUvarint(b, uint64(len(s.panes)))
	for _, p := range s.panes {
		b = binary.AppendVarint(b, p.start)
		b = binary.AppendVarint(b, p.end)
		b = appendBool(b, p.fired)
		b = appendBool(b, p.stored)
		b = binary.AppendVarint(b, p.n)
	}
	return b
}

// removeOld deletes the checkpoints numbered ≤ upTo.
func (s *Spill) removeOld(upTo int64) {
	ents, err := os.ReadDir(s.opts.Dir)
	if err != nil {
		s.fail(err)
		return
	}
	for _, e := range ents {
		n, ok := strings.CutPrefix(e.Name(), "ck-")
		if !ok {
			continue
		}
		if i, err := strconv.ParseInt(n, 10, 64); err == nil && i <= upTo {
			s.fail(os.RemoveAll(filepath.Join(s.opts.Dir, e.Name())))
		}
	}
}

// Restore replaces the state of a new operator with a snapshot written by
// AppendSnapshot: the live store becomes a copy of the checkpoint it names.
func (s *Spill) Restore(data []byte) error {
	if s.w != NoWatermark || s.nOpen != 0 {
		return errors.New("windows: Restore needs a new operator")
	}
	r := &reader{b: data}
	if len(data) < 4 || [4]byte(data[:4]) != spillMagic {
		if len(data) >= 4 && [4]byte(data[:4]) == snapshotMagic {
			return fmt.Errorf("%w: the checkpoint holds windows in memory (backend memory), not in Pebble", ErrCorrupt)
		}
		return fmt.Errorf("%w: not a window store snapshot", ErrCorrupt)
	}
	r.b = r.b[4:]
	if v := r.uvarint(); r.err == nil && v != SnapshotVersion {
		return fmt.Errorf("%w: format version %d, this eddy reads version %d", ErrCorrupt, v, SnapshotVersion)
	}
	want := s.base.appendShape(nil)
	if got := r.take(len(want)); r.err == nil && string(got) != string(want) {
		return fmt.Errorf("%w: written for a different window or aggregates", ErrCorrupt)
	}
	w, nOpen, seq := r.varint(), r.varint(), r.varint()
	n := r.count()
	panes := map[int64]*spane{}
	var open, kept []*spane
	for range n {
		p := &spane{start: r.varint(), end: r.varint(), fired: r.bool(), stored: r.bool(), n: r.varint(), byKey: map[string]*sentry{}}
		if r.err != nil {
			break
		}
		panes[p.start] = p
		if p.fired {
			kept = insertSpaneByEnd(kept, p)
		} else {
			open = append(open, p)
		}
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d bytes after the end", len(r.b))
	}
	if r.err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, r.err)
	}
	slices.SortFunc(open, func(a, b *spane) int { return cmp.Compare(a.start, b.start) })
	src := filepath.Join(s.opts.Dir, "ck-"+strconv.FormatInt(seq, 10))
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("%w: window store checkpoint %s: %v", ErrCorrupt, src, err)
	}
	if err := s.Close(); err != nil {
		return err
	}
	s.cache = nil
	live := filepath.Join(s.opts.Dir, "live")
	if err := errors.Join(os.RemoveAll(live), linkCopy(src, live)); err != nil {
		return fmt.Errorf("window store: restore %s: %w", src, err)
	}
	if err := s.openLive(); err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	s.w, s.nOpen, s.seq = w, nOpen, seq
	s.dueF, s.dueL = NoWatermark, NoWatermark // unknown: the first Advance scans
	s.panes, s.open, s.kept = panes, open, kept
	s.removeOld(seq - 3)
	return nil
}

// linkCopy makes dst a copy of the Pebble directory src: tables, which
// Pebble never changes, are hard-linked; the log, manifest and options
// are copied, since the store appends to them.
func linkCopy(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		from, to := filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())
		if strings.HasSuffix(e.Name(), ".sst") || strings.HasSuffix(e.Name(), ".blob") {
			if err := os.Link(from, to); err == nil {
				continue
			}
		}
		if err := copyFile(from, to); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// MinLiveStart is not tracked by a spilling operator: it would scan the
// store. It returns NoWatermark (nothing is known to be safe).
func (s *Spill) MinLiveStart() int64 { return NoWatermark }
