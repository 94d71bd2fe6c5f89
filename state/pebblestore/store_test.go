package pebblestore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/eddyhq/eddy/value"
	"github.com/eddyhq/eddy/windows"
)

var countOnly = []windows.Agg{{Name: "n", Func: windows.Count, Arg: -1}}

func newOp(t *testing.T, spec windows.Spec, opts Options) *windows.Operator {
	t.Helper()
	st, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	op, err := windows.New(windows.Config{Window: spec, Keys: []int{0}, Aggs: countOnly, Lateness: 10 * 60_000,
		Emit: func(*windows.Result) {}, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	return op
}

// feed sends n records over keys keys, 100 ms of event time apart.
func feed(op *windows.Operator, n, keys int) {
	wm := windows.Watermark{OutOfOrder: 1000}
	row := make([]value.Value, 1)
	for i := range n {
		row[0] = value.OfString(fmt.Sprintf("user-%07d", (i*7919)%keys))
		ts := int64(1_000_000 + i*100)
		op.Add(ts, row)
		op.Advance(wm.Observe(ts))
	}
}

// TestRestoreDamaged: a snapshot naming a store checkpoint that is gone,
// or whose files are damaged, is an error wrapping ErrCorrupt, not a
// silent fresh start.
func TestRestoreDamaged(t *testing.T) {
	spec := windows.Spec{Type: windows.TumblingType, Size: 2000}
	dir := t.TempDir()
	op := newOp(t, spec, Options{Dir: dir, CacheBytes: 4 << 10})
	feed(op, 2000, 100)
	snap := op.AppendSnapshot(nil)
	if err := errors.Join(op.Err(), op.Close()); err != nil {
		t.Fatal(err)
	}
	ck := filepath.Join(dir, "ck-1")
	for _, damage := range []struct {
		name string
		do   func() error
	}{
		{"manifest garbled", func() error {
			m, _ := filepath.Glob(filepath.Join(ck, "MANIFEST-*"))
			if len(m) != 1 {
				return fmt.Errorf("manifests: %v", m)
			}
			return os.WriteFile(m[0], []byte("not a manifest"), 0o644)
		}},
		{"checkpoint gone", func() error { return os.RemoveAll(ck) }},
	} {
		t.Run(damage.name, func(t *testing.T) {
			if err := damage.do(); err != nil {
				t.Fatal(err)
			}
			op := newOp(t, spec, Options{Dir: dir})
			defer op.Close()
			if err := op.Restore(snap); !errors.Is(err, windows.ErrCorrupt) {
				t.Fatalf("Restore = %v, want an error wrapping ErrCorrupt", err)
			}
		})
	}
}

// TestDiskFull: a full disk under the live store fails the checkpoint
// with the error instead of waiting for ever on a flush Pebble retries.
func TestDiskFull(t *testing.T) {
	var full atomic.Bool
	fs := errorfs.Wrap(vfs.Default, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if full.Load() && op.Kind.ReadOrWrite() == errorfs.OpIsWrite {
			return syscall.ENOSPC
		}
		return nil
	}))
	// not t.TempDir: the failed store's goroutines outlive the test, and
	// may still be writing when its directory is removed
	dir, err := os.MkdirTemp("", "spill-full")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	op := newOp(t, windows.Spec{Type: windows.SessionType, Gap: 30 * 60_000},
		Options{Dir: dir, MemoryLimit: 128 << 20, CacheBytes: 1 << 20, FS: fs})
	feed(op, 20_000, 5_000)
	if err := op.Err(); err != nil {
		t.Fatal(err)
	}
	full.Store(true)
	done := make(chan struct{})
	go func() {
		op.AppendSnapshot(nil)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the checkpoint still waits on a flush to a full disk after 60 s")
	}
	if err := op.Err(); err == nil || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("Err() = %v, want the full disk", err)
	}
	full.Store(false)
	op.Close()
}

// TestFatalIsAnError: Pebble's fatal log line fails the store instead of
// exiting the process.
func TestFatalIsAnError(t *testing.T) {
	st, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	logger{st.bg}.Fatalf("MANIFEST sync failed: %v", syscall.ENOSPC)
	err = st.Set([]byte("k"), []byte("v"))
	if err == nil || !strings.Contains(err.Error(), "fatal: MANIFEST sync failed: no space left") {
		t.Fatalf("Set after a fatal error = %v, want the error", err)
	}
	st.Close()
}

// TestBlockCacheHoldsBlocks: reads of flushed tables hit the block cache
// while writes keep the memtables full. Pebble reserves its memtables in
// the block cache, and with the cache sized for blocks alone it held none
// once a second memtable existed: every read of a table went to the file
// (a hit rate of 7 % in BenchmarkSessionManyKeys).
func TestBlockCacheHoldsBlocks(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir(), MemoryLimit: 128 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 60_000 // 5 MiB of tables: more than the old cache had room for next to one memtable
	key := func(i int) []byte { return fmt.Appendf(nil, "k%08d", i) }
	val := []byte(strings.Repeat("session ", 8))
	for i := range n {
		if err := s.Set(key(i), val); err != nil {
			t.Fatal(err)
		}
	}
	if err := errors.Join(s.commit(), s.flush()); err != nil {
		t.Fatal(err)
	}
	filler := make([]byte, 1000)
	for r := range 3 {
		// overwrite enough to fill a memtable and start the next one
		for i := range int(s.opts.memtableBytes()) / len(filler) * 3 / 2 {
			if err := s.Set(fmt.Appendf(nil, "z%d-%08d", r, i), filler); err != nil {
				t.Fatal(err)
			}
		}
		for i := range n {
			if _, err := s.Get(key(i), func([]byte) {}); err != nil {
				t.Fatal(err)
			}
		}
	}
	m := s.db.Metrics()
	if m.BlockCache.Hits+m.BlockCache.Misses == 0 {
		t.Fatal("no block read: the test does not test")
	}
	if rate := float64(m.BlockCache.Hits) / float64(m.BlockCache.Hits+m.BlockCache.Misses); rate < 0.5 {
		t.Fatalf("block cache hit rate %.0f%% (%d hits, %d misses, %d bytes cached)", 100*rate, m.BlockCache.Hits, m.BlockCache.Misses, m.BlockCache.Size)
	}
}

// TestBudgetSplit: the parts of MemoryLimit (the process's own resident
// memory and the slack, the Go heap's soft limit, Pebble's cache) add up to
// at most the limit, with the process's own memory as measured (eddy's is
// 72–76 MiB, of which the old split set aside 64) or, where it is not
// known, as assumed; the decoded cache is a quarter of the heap.
func TestBudgetSplit(t *testing.T) {
	const MiB = 1 << 20
	cases := []struct {
		limit, own int64
		heap       int64 // HeapLimit, MiB
	}{
		{128 * MiB, 70 * MiB, 34},
		{128 * MiB, 0, 32},
		{256 * MiB, 70 * MiB, 133},
		{256 * MiB, 76 * MiB, 129},
		{512 * MiB, 70 * MiB, 319},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%dMiB-own%dMiB", c.limit/MiB, c.own/MiB), func(t *testing.T) {
			o := Options{MemoryLimit: c.limit, own: c.own}
			own := max(c.own, 0)
			if own == 0 {
				own = processBytes
			}
			total := own + o.HeapLimit() + o.pebbleBytes()
			if total > c.limit || o.outside() < own+8*MiB {
				t.Fatalf("own %d + heap %d + pebble %d = %d MiB of %d, outside %d", own/MiB, o.HeapLimit()/MiB, o.pebbleBytes()/MiB, total/MiB, c.limit/MiB, o.outside()/MiB)
			}
			if got := o.HeapLimit() / MiB; got != c.heap {
				t.Fatalf("HeapLimit %d MiB, want %d", got, c.heap)
			}
			if o.cacheBytes() != o.HeapLimit()/4 {
				t.Fatalf("decoded cache %d of a heap of %d", o.cacheBytes(), o.HeapLimit())
			}
		})
	}
	if _, err := os.Stat("/proc/self/statm"); err == nil {
		if own := ownResident(); own <= 0 || own > 1<<30 {
			t.Fatalf("ownResident() = %d on Linux", own)
		}
	}
}

// TestPendingWritesOffHeap: the writes not yet committed stay within one
// batch of at most batchBytes on the Go heap, reused from one commit to
// the next. The batch used to grow to 4 MiB (its buffer doubling to 8)
// before each commit, a new one each time, and a batch that large went to
// Pebble as a flushable batch, held on the Go heap until flushed: at
// memory_limit 128MiB, where the heap is held to about 30 MiB, that left
// the collector no room, and it ran without pause (half the CPU of a
// clickstream run).
func TestPendingWritesOffHeap(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir(), MemoryLimit: 128 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	val := []byte(strings.Repeat("session ", 8))
	key := make([]byte, 0, 16)
	first, biggest, smallest := s.b, 0, batchBytes
	const n = 8 << 20 / 80 // 8 MiB of writes, several commits
	for i := range n {
		key = fmt.Appendf(key[:0], "k%08d", i)
		if err := s.Set(key, val); err != nil {
			t.Fatal(err)
		}
		biggest, smallest = max(biggest, cap(s.b.Repr())), min(smallest, cap(s.b.Repr()))
	}
	// deletions: small entries, which take a memtable's room for nodes
	// rather than for their bytes
	for i := range n {
		if err := s.Delete(fmt.Appendf(key[:0], "k%08d", i)); err != nil {
			t.Fatal(err)
		}
		biggest, smallest = max(biggest, cap(s.b.Repr())), min(smallest, cap(s.b.Repr()))
	}
	if biggest > batchBytes {
		t.Fatalf("the pending batch's buffer grew to %d KiB", biggest>>10)
	}
	if m := s.db.Metrics(); m.Flush.Count == 0 {
		t.Fatalf("no memtable flushed after %d MiB of writes: the test does not test", 8)
	}
	if smallest < batchBytes {
		t.Fatalf("the pending batch's buffer was handed to Pebble (a flushable batch) and grew again from %d KiB", smallest>>10)
	}
	if s.b != first {
		t.Fatal("a commit replaced the batch instead of reusing it")
	}
}

// TestScanThroughPendingWrites: a scan reads the pending batch without
// committing it (a commit per scan was a tenth of a run whose advances
// each scanned), sees every write made before it and none made during it,
// and writes made during it, more than a batch's worth, are committed
// after it, not under its iterator.
func TestScanThroughPendingWrites(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	key := func(p string, i int) []byte { return fmt.Appendf(nil, "%s%06d", p, i) }
	for i := range 1000 {
		if err := s.Set(key("a", i), key("v", i)); err != nil {
			t.Fatal(err)
		}
	}
	// committed ones, and a deletion and an overwrite still pending
	if err := s.commit(); err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		if err := s.Set(key("b", i), key("w", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := errors.Join(s.Delete(key("a", 7)), s.Set(key("a", 8), []byte("new"))); err != nil {
		t.Fatal(err)
	}
	pending := s.b.Count()
	big := []byte(strings.Repeat("x", 64<<10))
	var got []string
	err = s.Scan([]byte("a"), []byte("c"), func(k, v []byte) bool {
		got = append(got, string(k)+"="+string(v))
		// writes during the scan: new keys inside its range, and past a
		// batch's worth, which must not commit under the iterator
		if len(got)%100 == 0 {
			if err := s.Set(append(key("a", len(got)), 'z'), big); err != nil {
				t.Fatal(err)
			}
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if pending == 0 {
		t.Fatal("the test does not test: nothing was pending")
	}
	if len(got) != 1999 {
		t.Fatalf("the scan saw %d entries, want the 1999 written before it", len(got))
	}
	for _, g := range got {
		switch {
		case strings.HasPrefix(g, "a000007="):
			t.Fatalf("the scan saw a deleted key: %s", g)
		case strings.HasPrefix(g, "a000008=") && g != "a000008=new":
			t.Fatalf("the scan saw an overwritten value: %s", g)
		case strings.Contains(g, "z="):
			t.Fatalf("the scan saw a write made during it: %.20s", g)
		}
	}
	if s.b.Len() >= commitBytes {
		t.Fatalf("%d KiB pending after the scan: its writes were not committed after it", s.b.Len()>>10)
	}
	ok, err := s.Get(append(key("a", 1900), 'z'), func([]byte) {})
	if err != nil || !ok {
		t.Fatalf("a write made during the scan is lost: %v %v", ok, err)
	}
}
