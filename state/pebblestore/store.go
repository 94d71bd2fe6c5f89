package pebblestore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/eddyhq/eddy/windows"
)

// Options configures a [Store].
type Options struct {
	// Dir holds the live Pebble store (Dir/live) and the checkpoints
	// taken of it (Dir/ck-N). It is created if needed.
	Dir string
	// MemoryLimit is the budget for the whole window state: the
	// operator's cache of decoded windows, Pebble's memtables and block
	// cache. Default 512 MiB.
	MemoryLimit int64
	// CacheBytes overrides the decoded cache's share of the budget (a
	// quarter of HeapLimit); tests set it small to make the cache evict.
	CacheBytes int64
	// FS is the file system; nil is the OS's. Tests inject faults (a
	// full disk).
	FS  vfs.FS
	own int64 // the process's resident memory outside the Go heap, at Open
}

// The split of MemoryLimit. Resident memory is the process's own (code,
// static data, runtime: about 70 MiB for eddy, most of it outside the Go
// heap, measured when the store opens), the Go heap (the decoded cache and
// everything else the run holds) and Pebble's cache, outside the Go heap,
// in which its memtables are reserved; slack covers what neither counts
// (the C allocator's fragmentation, Pebble's buffers outside its cache,
// the collector's lag under a soft limit). A fixed 64 MiB for the process
// and 64 MiB outside the Go heap left the runs of docs/performance.md 2–6 %
// over the limit: eddy's own resident memory at start is 72–76 MiB.

func (o Options) limit() int64 {
	if o.MemoryLimit <= 0 {
		return 512 << 20
	}
	return o.MemoryLimit
}

// processBytes is the resident memory outside the Go heap when the
// process's own is not known (not Linux).
const processBytes = 72 << 20

// outside is what the limit sets aside outside the Go heap and Pebble's
// cache: the process's own resident memory and the slack.
func (o Options) outside() int64 {
	own := o.own
	if own <= 0 {
		own = processBytes
	}
	return own + max(o.limit()/32, 8<<20)
}

// budget is the Go heap's and Pebble's cache's share.
func (o Options) budget() int64 { return max(o.limit()-o.outside(), 32<<20) }

func (o Options) memtableBytes() int64 { return clamp(o.budget()/16, 4<<20, 64<<20) }
func (o Options) blockBytes() int64    { return clamp(o.budget()/8, 8<<20, 256<<20) }

// pebbleBytes is Pebble's cache: its blocks and two memtables.
func (o Options) pebbleBytes() int64 { return o.blockBytes() + memtables*o.memtableBytes() }

// HeapLimit is the Go heap the process should keep to (a soft limit for
// the collector, which counts all the memory the Go runtime holds) so
// that with Pebble's cache and the process's own memory outside the Go
// heap it stays within MemoryLimit: the budget less Pebble's cache.
func (o Options) HeapLimit() int64 { return max(o.budget()-o.pebbleBytes(), 16<<20) }

// cacheBytes is the decoded cache's share: a quarter of the Go heap (the
// heap also holds the store's pending batch, the queues, the engine's
// batches and the garbage between two collections).
func (o Options) cacheBytes() int64 {
	if o.CacheBytes > 0 {
		return o.CacheBytes
	}
	return o.HeapLimit() / 4
}

// ownResident returns the process's resident memory outside the Go
// runtime's (code, static data, C allocations); 0 when unknown.
func ownResident() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return max(pages*int64(os.Getpagesize())-int64(ms.Sys-ms.HeapReleased), 0)
}

func clamp(v, lo, hi int64) int64 { return max(lo, min(v, hi)) }

// commitBytes is the size at which the pending batch is committed to the
// live store (without sync: durability comes from checkpoints). The batch
// is on the Go heap and is reused after each commit (Reset): its buffer,
// of batchBytes, stays within what Pebble retains on a reset (1 MiB), and
// a commit this small is copied into the memtable, outside the Go heap. At
// 4 MiB, a new batch grew to an 8 MiB buffer for every commit and went to
// Pebble as a flushable batch, held on the Go heap until flushed: with the
// heap held to about 30 MiB (memory_limit 128MiB) the collector then ran
// without pause (TestPendingWritesOffHeap).
const commitBytes = batchBytes - 64<<10

const batchBytes = 1 << 20

// memtables is how many memtables Pebble may hold (one being filled, one
// being flushed) before it stops writes.
const memtables = 2

// Store is a [windows.Store] in Pebble. Like the operator that uses it, it
// is not safe for concurrent use.
type Store struct {
	opts  Options
	bg    *background // first error of Pebble's own goroutines
	db    *pebble.DB
	cache *pebble.Cache
	b     *pebble.Batch // pending writes (indexed: reads see them)
	// scanning: a Scan's iterator reads through b, which must not be
	// committed and reset under it
	scanning bool
	err      error
	seq      int64 // checkpoints taken
}

var _ windows.Store = (*Store)(nil)

// Open returns a store with an empty live store in opts.Dir.
func Open(opts Options) (*Store, error) {
	opts.own = ownResident()
	s := &Store{opts: opts}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("window store: %w", err)
	}
	if err := os.RemoveAll(filepath.Join(opts.Dir, "live")); err != nil {
		return nil, fmt.Errorf("window store: %w", err)
	}
	if err := s.openLive(); err != nil {
		return nil, err
	}
	return s, nil
}

// HeapLimit is opts.HeapLimit (see [Options.HeapLimit]).
func (s *Store) HeapLimit() int64 { return s.opts.HeapLimit() }

func (s *Store) openLive() error {
	s.bg = &background{failed: make(chan struct{})}
	if s.cache == nil {
		// Pebble reserves its memtables in the block cache: without
		// room for them (two, MemTableStopWritesThreshold) the cache held
		// no block at all once the second one was allocated
		s.cache = pebble.NewCache(s.opts.pebbleBytes())
	}
	lo := &pebble.Options{
		FS:                          s.opts.FS,
		Logger:                      logger{s.bg},
		EventListener:               &pebble.EventListener{BackgroundError: s.bg.set},
		Cache:                       s.cache,
		MemTableSize:                uint64(s.opts.memtableBytes()),
		MemTableStopWritesThreshold: memtables,
		// the live store is scratch: durability comes from the
		// checkpoints, which flush the memtable first
		DisableWAL: true,
	}
	lo.EnsureDefaults()
	// Sessions delete their entries as they fire: every table is dense
	// with tombstones, and compacting them at once rewrote the whole store
	// after each flush, leaving the block cache cold (a hit rate of 7 % in
	// BenchmarkSessionManyKeys). The L0 and level thresholds still bound
	// what a read visits.
	lo.Experimental.TombstoneDenseCompactionThreshold = -1
	for i := range lo.Levels {
		lo.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		// the store is scratch on a local disk: reading blocks back
		// (most reads miss the block cache) cost more in decompression
		// than the smaller files save
		lo.Levels[i].Compression = func() *sstable.CompressionProfile { return sstable.NoCompression }
	}
	db, err := openPebble(filepath.Join(s.opts.Dir, "live"), lo)
	if err != nil {
		return fmt.Errorf("window store %s: %w", s.opts.Dir, err)
	}
	s.db = db
	s.b = db.NewIndexedBatchWithSize(batchBytes)
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
// (a full disk), or of Pebble's fatal log. Pebble retries a failed flush
// for ever, so whoever waits for one (a checkpoint) waits on failed too,
// and the run stops with the error instead of hanging; it is reported
// once, not on every retry.
type background struct {
	once   sync.Once
	err    error
	failed chan struct{} // closed when err is set
}

func (b *background) set(err error) {
	b.once.Do(func() { b.err = err; close(b.failed) })
}

// logger prints Pebble's errors and turns its fatal messages into the
// store's error: the run then fails with it (and prints its final counts)
// instead of the process exiting inside Pebble.
type logger struct{ bg *background }

func (logger) Infof(string, ...any) {}
func (logger) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "eddy: window store: "+format+"\n", args...)
}
func (l logger) Fatalf(format string, args ...any) {
	l.bg.set(fmt.Errorf("fatal: "+format, args...))
}

// unlessFailed runs f, a write that a failed flush can stall for ever
// (Pebble stops writes while its memtables wait to be flushed), and
// returns its error, or the background error once there is one. A stalled
// f is left behind: the store is failed, and Close does not wait for it.
func (s *Store) unlessFailed(f func() error) error {
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

// check returns the store's first error, wrapped with its directory; a
// background failure becomes it.
func (s *Store) check(err error) error {
	if s.err == nil && err == nil {
		select {
		case <-s.bg.failed:
			err = s.bg.err
		default:
		}
	}
	if err != nil && s.err == nil {
		s.err = fmt.Errorf("window store %s: %w", s.opts.Dir, err)
	}
	return s.err
}

// Get implements [windows.Store].
func (s *Store) Get(k []byte, f func(v []byte)) (bool, error) {
	if err := s.check(nil); err != nil {
		return false, err
	}
	v, c, err := s.b.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, s.check(err)
	}
	f(v)
	return true, s.check(c.Close())
}

// Set implements [windows.Store].
func (s *Store) Set(k, v []byte) error {
	if err := s.check(nil); err != nil {
		return err
	}
	if err := s.b.Set(k, v, nil); err != nil {
		return s.check(err)
	}
	return s.maybeCommit()
}

// Delete implements [windows.Store].
func (s *Store) Delete(k []byte) error {
	if err := s.check(nil); err != nil {
		return err
	}
	if err := s.b.Delete(k, nil); err != nil {
		return s.check(err)
	}
	return s.maybeCommit()
}

// DeleteRange implements [windows.Store].
func (s *Store) DeleteRange(lo, hi []byte) error {
	if err := s.check(nil); err != nil {
		return err
	}
	return s.check(s.b.DeleteRange(lo, hi, nil))
}

// Scan implements [windows.Store]: the scan reads the live store and the
// pending writes as of the call.
func (s *Store) Scan(lo, hi []byte, f func(k, v []byte) bool) error {
	if err := s.check(nil); err != nil {
		return err
	}
	// through the pending batch, which is not committed for it: a scan
	// per advance committed a small batch each time (the commit pipeline's
	// locks and wake-ups). The iterator sees the writes made before it,
	// not those f makes, as an iterator of the committed store would.
	it, err := s.b.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return s.check(err)
	}
	s.scanning = true
	for ok := it.First(); ok && f(it.Key(), it.Value()); ok = it.Next() {
	}
	s.scanning = false
	if err := s.check(it.Close()); err != nil {
		return err
	}
	return s.maybeCommit()
}

// maybeCommit commits the pending batch once it is commitBytes long, or
// once the room it takes in a memtable reaches a quarter of one: Pebble
// reserves for each entry its key and value and a node of the skiplist's
// full height, about entryOverhead bytes, so that a batch of small entries
// (the index entries and the deletions of fired sessions) takes several
// times its length there. A batch reserving half a memtable is not copied
// into it but queued as a flushable batch, taking the batch's buffer with
// it, on the Go heap until flushed.
func (s *Store) maybeCommit() error {
	if s.scanning {
		return nil // after the scan
	}
	if n := s.b.Len(); n >= commitBytes || n+int(s.b.Count())*entryOverhead >= int(s.opts.memtableBytes()/4) {
		return s.commit()
	}
	return nil
}

// entryOverhead is what Pebble's memtable reserves for an entry beyond its
// key and value (arenaskl's node of maximum height, 20 links, the
// trailer, alignment), rounded up.
const entryOverhead = 200

// commit writes the pending batch to the live store.
func (s *Store) commit() error {
	if err := s.check(nil); err != nil || s.b.Empty() {
		return err
	}
	b := s.b
	if err := s.unlessFailed(func() error { return b.Commit(pebble.NoSync) }); err != nil {
		return s.check(err)
	}
	s.b.Reset()
	return s.check(nil)
}

// flush writes the memtable out, or returns the background error that
// keeps it from being written.
func (s *Store) flush() error {
	return s.unlessFailed(func() error {
		done, err := s.db.AsyncFlush()
		if err == nil {
			<-done
		}
		return err
	})
}

// CacheBytes implements [windows.Store]: the decoded cache's share of
// MemoryLimit.
func (s *Store) CacheBytes() int64 { return s.opts.cacheBytes() }

// tag starts what Checkpoint appends, telling a Pebble checkpoint from a
// memory store's.
const tag = 'P'

// Checkpoint implements [windows.Store]: it commits and flushes, takes a
// Pebble checkpoint as Dir/ck-N and appends N. It deletes checkpoints
// older than the last three (a restart uses the one named by the last
// snapshot saved, which is at most one older than this one).
func (s *Store) Checkpoint(b []byte) ([]byte, error) {
	if err := s.commit(); err != nil {
		return b, err
	}
	s.seq++
	dst := filepath.Join(s.opts.Dir, "ck-"+strconv.FormatInt(s.seq, 10))
	if err := os.RemoveAll(dst); err != nil {
		return b, s.check(err)
	}
	if err := s.flush(); err != nil {
		return b, s.check(err)
	}
	if err := s.db.Checkpoint(dst); err != nil {
		return b, s.check(err)
	}
	if err := s.removeOld(s.seq - 3); err != nil {
		return b, err
	}
	b = append(b, tag)
	return binary.AppendVarint(b, s.seq), nil
}

// removeOld deletes the checkpoints numbered ≤ upTo.
func (s *Store) removeOld(upTo int64) error {
	ents, err := os.ReadDir(s.opts.Dir)
	if err != nil {
		return s.check(err)
	}
	for _, e := range ents {
		n, ok := strings.CutPrefix(e.Name(), "ck-")
		if !ok {
			continue
		}
		if i, err := strconv.ParseInt(n, 10, 64); err == nil && i <= upTo {
			if err := os.RemoveAll(filepath.Join(s.opts.Dir, e.Name())); err != nil {
				return s.check(err)
			}
		}
	}
	return nil
}

// Restore implements [windows.Store]: the live store becomes a copy of
// the checkpoint data names.
func (s *Store) Restore(data []byte) error {
	if len(data) == 0 || data[0] != tag {
		if len(data) > 0 && data[0] == 'M' {
			return fmt.Errorf("%w: %w (backend memory, this run uses pebble)", windows.ErrCorrupt, windows.ErrOtherStore)
		}
		return fmt.Errorf("%w: not a window store checkpoint", windows.ErrCorrupt)
	}
	seq, n := binary.Varint(data[1:])
	if n <= 0 || 1+n != len(data) || seq <= 0 {
		return fmt.Errorf("%w: bad window store checkpoint number", windows.ErrCorrupt)
	}
	src := filepath.Join(s.opts.Dir, "ck-"+strconv.FormatInt(seq, 10))
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("%w: window store checkpoint %s: %v", windows.ErrCorrupt, src, err)
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
		return fmt.Errorf("%w: %v", windows.ErrCorrupt, err)
	}
	s.seq, s.err = seq, nil
	return s.removeOld(seq - 3)
}

// Close closes the live store.
func (s *Store) Close() error {
	if s.db == nil {
		return nil
	}
	select {
	case <-s.bg.failed:
		// a write may be stalled behind the failed flush, and Pebble's
		// Close would wait for it: leave the store to the process's end
		s.db = nil
		return s.check(nil)
	default:
	}
	err := errors.Join(s.b.Close(), s.db.Close())
	s.db = nil
	s.cache.Unref()
	return err
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
