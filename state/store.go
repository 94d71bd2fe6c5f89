package state

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/eddyhq/eddy/engine"
)

// FormatVersion is the version of what a checkpoint stores (the keys and
// the meaning of their values). A state directory written with another
// version is refused, not misread.
const FormatVersion = 2

// ErrCorrupt is wrapped by errors for a state directory whose checkpoint
// cannot be read back.
var ErrCorrupt = errors.New("corrupt state")

// A store holds two checkpoints, in slots 0 and 1: the last one and the one
// before it, which a restart needs when a transactional sink did not commit
// the last one (docs/state.md). keyCurrent names the slot of the last; a
// Save writes the other slot and flips keyCurrent in the same batch.
var (
	keyCurrent = []byte("eddy/current")
	keyLegacy  = []byte("eddy/meta") // format version 1: one checkpoint
)

// key is the key of one value of the checkpoint in slot.
func key(slot int, name string) []byte { return fmt.Appendf(nil, "eddy/%d/%s", slot, name) }

// Meta describes a checkpoint.
type Meta struct {
	Format      int       `json:"format"`
	Pipeline    string    `json:"pipeline"` // the spec's name
	Spec        string    `json:"spec"`     // the spec's path when it was written
	Fingerprint string    `json:"fingerprint"`
	Semantics   []Field   `json:"semantics"` // what the fingerprint covers
	Seq         int64     `json:"seq"`       // 1 for the first checkpoint
	Time        time.Time `json:"time"`
	Sinks       []Sink    `json:"sinks"`
	Dead        *Sink     `json:"dead,omitempty"`
	// checksums of the other two values, so a damaged value is caught
	EngineCRC uint32 `json:"engine_crc"`
	WindowCRC uint32 `json:"window_crc"`
	WindowLen int    `json:"window_len"`
	RedoCRC   uint32 `json:"redo_crc,omitempty"`
	// the parts' value (Checkpoint.Parts); PartsLen is 0 without one
	PartsCRC uint32 `json:"parts_crc,omitempty"`
	PartsLen int    `json:"parts_len,omitempty"`
}

// Sink is one sink's progress in a checkpoint.
type Sink struct {
	Name     string `json:"name"`     // as in Describe, e.g. "file /out/rows.jsonl"
	Progress int64  `json:"progress"` // bytes for files, committed rows for DuckDB and Kafka
	// Txn is set for a transactional sink (DuckDB, Kafka): Progress is
	// the count of rows it holds once this checkpoint is committed.
	Txn bool `json:"txn,omitempty"`
	// Exact is false for sinks that cannot be rolled back (Kafka,
	// stdout, Parquet): their progress is not recorded and they are
	// at-least-once across restarts.
	Exact bool `json:"exact"`
}

// Checkpoint is what a store holds: the description and the engine state.
type Checkpoint struct {
	Meta   Meta
	Engine engine.Checkpoint
	// Redo holds, per transactional sink that commits after the first one,
	// the rows of its transaction of this checkpoint (sink.Redoer), so a
	// restart can commit them when a crash came before that sink's commit.
	Redo map[string][]byte
	// Parts holds the state of the stateful sinks (sink.Stateful: eddy
	// serve's feature table) by name, taken with the engine's, so a
	// restart puts back both as of the same moment.
	Parts map[string][]byte

	slot int // where the store holds it (LoadAll)
}

// Store is a state directory: a Pebble database holding the last checkpoint.
type Store struct {
	dir string
	db  *pebble.DB
	log *logger
}

// logger keeps Pebble quiet on stderr except for errors, and turns its
// fatal errors (a failed write of its log or manifest: a full disk) into
// errors of the Store's methods instead of os.Exit, so that a run still
// reports what it wrote. On the goroutine of a Store method (the commit of
// a checkpoint's batch, where a full disk shows) Fatalf panics and the
// method recovers; on one of Pebble's own goroutines it ends that
// goroutine. Either way the Store is failed from then on: every method
// returns the error without touching Pebble again.
type logger struct {
	calls atomic.Int32 // Store methods running
	fatal atomic.Pointer[fatalError]
}

type fatalError struct{ msg string }

func (e *fatalError) Error() string { return e.msg }

func (*logger) Infof(string, ...any) {}
func (*logger) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "eddy: state store: "+format+"\n", args...)
}
func (l *logger) Fatalf(format string, args ...any) {
	e := &fatalError{msg: fmt.Sprintf(format, args...)}
	l.fatal.CompareAndSwap(nil, e)
	if l.calls.Load() > 0 {
		panic(e)
	}
	runtime.Goexit()
}

// guard runs f as a Store method: a fatal error of Pebble, now or before,
// is returned as an error naming the directory.
func (s *Store) guard(f func() error) (err error) {
	if e := s.log.fatal.Load(); e != nil {
		return fmt.Errorf("state %s: the store failed before: %w", s.dir, e)
	}
	s.log.calls.Add(1)
	defer func() {
		s.log.calls.Add(-1)
		if r := recover(); r != nil {
			e, ok := r.(*fatalError)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("state %s: %w", s.dir, e)
		}
	}()
	return f()
}

// Open opens the state directory dir, creating it when it does not exist.
// A directory with other files in it that is not a Pebble store is refused.
func Open(dir string) (*Store, error) { return open(dir, false, vfs.Default) }

// OpenReadOnly opens an existing state directory without changing it.
func OpenReadOnly(dir string) (*Store, error) { return open(dir, true, vfs.Default) }

// open opens dir through fs (tests inject faults there).
func open(dir string, ro bool, fs vfs.FS) (*Store, error) {
	fresh, err := isFresh(dir)
	if err != nil {
		return nil, err
	}
	if fresh && ro {
		return nil, fmt.Errorf("state %s: no state directory there", dir)
	}
	if !fresh && !isPebble(dir) {
		return nil, fmt.Errorf("state %s: %w: the directory is not empty and holds no Pebble store (no manifest marker)", dir, ErrCorrupt)
	}
	log := &logger{}
	db, err := openDB(dir, ro, !fresh, fs, log)
	if err != nil && locked(err) && ro {
		db, err = openLive(dir, log)
	}
	if err != nil && locked(err) {
		return nil, fmt.Errorf("state %s: in use by another eddy run (the directory is locked)", dir)
	}
	if err != nil {
		return nil, fmt.Errorf("state %s: %w: %v", dir, ErrCorrupt, err)
	}
	return &Store{dir: dir, db: db, log: log}, nil
}

func openDB(dir string, ro, mustExist bool, fs vfs.FS, log *logger) (db *pebble.DB, err error) {
	defer func() {
		// Pebble may panic on damaged files: no panic reaches the user
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("open: %v", r)
		}
	}()
	log.calls.Add(1)
	defer log.calls.Add(-1)
	return pebble.Open(dir, &pebble.Options{Logger: log, ReadOnly: ro, ErrorIfNotExists: mustExist, FS: fs})
}

func locked(err error) bool {
	return errors.Is(err, syscall.EWOULDBLOCK) || errors.Is(err, syscall.EAGAIN) || strings.Contains(err.Error(), "lock held")
}

// openLive opens read-only a store that a running eddy holds locked.
// Pebble takes the directory's lock even to read; a read-only open writes
// nothing, so it can do without. The writer may remove a file (an old
// manifest or log, a compacted table) while it is opened: a few tries.
func openLive(dir string, log *logger) (db *pebble.DB, err error) {
	for range 5 {
		if db, err = openDB(dir, true, true, unlockedFS{vfs.Default}, log); err == nil {
			return db, nil
		}
	}
	return nil, err
}

// unlockedFS is a file system whose locks always succeed and hold nothing.
type unlockedFS struct{ vfs.FS }

func (unlockedFS) Lock(string) (io.Closer, error) { return io.NopCloser(nil), nil }

// isPebble reports whether dir looks like a Pebble store: it has the
// marker file that names the current manifest.
func isPebble(dir string) bool {
	m, _ := filepath.Glob(filepath.Join(dir, "marker.manifest.*"))
	return len(m) > 0
}

// isFresh reports whether dir does not exist or is empty.
func isFresh(dir string) (bool, error) {
	f, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("state %s: %w", dir, err)
	}
	defer f.Close()
	_, err = f.Readdirnames(1)
	if errors.Is(err, io.EOF) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("state %s: %w", dir, err)
	}
	return false, nil
}

// Reset removes the state directory dir (for --reset-state). It refuses
// a directory that is neither empty nor a Pebble store, so a typo in
// state.dir cannot delete something else.
func Reset(dir string) error {
	fresh, err := isFresh(dir)
	if err != nil || fresh {
		return err
	}
	if !isPebble(dir) {
		return fmt.Errorf("reset state %s: not a state directory (no Pebble manifest marker); remove it yourself if that is what you want", dir)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("reset state %s: %w", dir, err)
	}
	return nil
}

// Dir returns the directory.
func (s *Store) Dir() string { return s.dir }

// Close closes the store.
func (s *Store) Close() error {
	return s.guard(s.close)
}

func (s *Store) close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("state %s: close: %w", s.dir, err)
	}
	return nil
}

// Load returns the last checkpoint, or nil when the store has none yet.
func (s *Store) Load() (*Checkpoint, error) {
	cks, err := s.LoadAll()
	if err != nil || len(cks) == 0 {
		return nil, err
	}
	return cks[0], nil
}

// LoadAll returns the checkpoints the store holds, the last one first:
// none, one (after the first Save) or two.
func (s *Store) LoadAll() (cks []*Checkpoint, err error) {
	err = s.guard(func() (err error) {
		cks, err = s.loadAll()
		return err
	})
	return cks, err
}

func (s *Store) loadAll() (cks []*Checkpoint, err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(*fatalError); ok {
				panic(e) // for guard
			}
			cks, err = nil, fmt.Errorf("state %s: %w: %v", s.dir, ErrCorrupt, r)
		}
	}()
	if _, err := s.get(keyLegacy); err == nil {
		return nil, fmt.Errorf("state %s: written in format version 1, this eddy reads version %d", s.dir, FormatVersion)
	}
	cur, err := s.get(keyCurrent)
	if errors.Is(err, pebble.ErrNotFound) {
		if s.empty() {
			return nil, nil
		}
		return nil, fmt.Errorf("state %s: %w: keys but no checkpoint", s.dir, ErrCorrupt)
	}
	if err != nil || len(cur) != 1 || (cur[0] != '0' && cur[0] != '1') {
		return nil, fmt.Errorf("state %s: %w: read checkpoint: %v", s.dir, ErrCorrupt, err)
	}
	slot := int(cur[0] - '0')
	last, err := s.load(slot)
	if err != nil {
		return nil, err
	}
	cks = append(cks, last)
	if _, err := s.get(key(1-slot, "meta")); errors.Is(err, pebble.ErrNotFound) {
		return cks, nil
	}
	prev, err := s.load(1 - slot)
	if err != nil {
		return nil, err
	}
	return append(cks, prev), nil
}

func (s *Store) load(slot int) (*Checkpoint, error) {
	meta, err := s.get(key(slot, "meta"))
	if err != nil {
		return nil, fmt.Errorf("state %s: %w: read checkpoint: %v", s.dir, ErrCorrupt, err)
	}
	ck := &Checkpoint{slot: slot}
	if err := json.Unmarshal(meta, &ck.Meta); err != nil {
		return nil, fmt.Errorf("state %s: %w: checkpoint description: %v", s.dir, ErrCorrupt, err)
	}
	if ck.Meta.Format != FormatVersion {
		return nil, fmt.Errorf("state %s: written in format version %d, this eddy reads version %d", s.dir, ck.Meta.Format, FormatVersion)
	}
	eng, err := s.get(key(slot, "engine"))
	if err != nil {
		return nil, fmt.Errorf("state %s: %w: engine state: %v", s.dir, ErrCorrupt, err)
	}
	if crc32.ChecksumIEEE(eng) != ck.Meta.EngineCRC {
		return nil, fmt.Errorf("state %s: %w: engine state fails its checksum", s.dir, ErrCorrupt)
	}
	if err := json.Unmarshal(eng, &ck.Engine); err != nil {
		return nil, fmt.Errorf("state %s: %w: engine state: %v", s.dir, ErrCorrupt, err)
	}
	win, err := s.get(key(slot, "window"))
	switch {
	case errors.Is(err, pebble.ErrNotFound) && ck.Meta.WindowLen < 0:
	case err != nil:
		return nil, fmt.Errorf("state %s: %w: window state: %v", s.dir, ErrCorrupt, err)
	case len(win) != ck.Meta.WindowLen || crc32.ChecksumIEEE(win) != ck.Meta.WindowCRC:
		return nil, fmt.Errorf("state %s: %w: window state fails its checksum", s.dir, ErrCorrupt)
	default:
		ck.Engine.Window = win
	}
	redo, err := s.get(key(slot, "redo"))
	switch {
	case errors.Is(err, pebble.ErrNotFound) && ck.Meta.RedoCRC == 0:
	case err != nil:
		return nil, fmt.Errorf("state %s: %w: redo rows: %v", s.dir, ErrCorrupt, err)
	case crc32.ChecksumIEEE(redo) != ck.Meta.RedoCRC:
		return nil, fmt.Errorf("state %s: %w: redo rows fail their checksum", s.dir, ErrCorrupt)
	default:
		if err := json.Unmarshal(redo, &ck.Redo); err != nil {
			return nil, fmt.Errorf("state %s: %w: redo rows: %v", s.dir, ErrCorrupt, err)
		}
	}
	parts, err := s.get(key(slot, "parts"))
	switch {
	case errors.Is(err, pebble.ErrNotFound) && ck.Meta.PartsLen == 0:
	case err != nil:
		return nil, fmt.Errorf("state %s: %w: sink state: %v", s.dir, ErrCorrupt, err)
	case len(parts) != ck.Meta.PartsLen || crc32.ChecksumIEEE(parts) != ck.Meta.PartsCRC:
		return nil, fmt.Errorf("state %s: %w: sink state fails its checksum", s.dir, ErrCorrupt)
	default:
		if ck.Parts, err = decodeParts(parts); err != nil {
			return nil, fmt.Errorf("state %s: %w: sink state: %v", s.dir, ErrCorrupt, err)
		}
	}
	return ck, nil
}

// appendParts encodes parts as (name, bytes) pairs in name order, each
// length-prefixed: binary, because a feature table is big.
func appendParts(b []byte, parts map[string][]byte) []byte {
	names := make([]string, 0, len(parts))
	for n := range parts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		b = binary.AppendUvarint(b, uint64(len(n)))
		b = append(b, n...)
		b = binary.AppendUvarint(b, uint64(len(parts[n])))
		b = append(b, parts[n]...)
	}
	return b
}

func decodeParts(b []byte) (map[string][]byte, error) {
	out := map[string][]byte{}
	field := func() ([]byte, error) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return nil, errors.New("cut short")
		}
		f := b[k : k+int(n)]
		b = b[k+int(n):]
		return f, nil
	}
	for len(b) > 0 {
		name, err := field()
		if err != nil {
			return nil, err
		}
		v, err := field()
		if err != nil {
			return nil, err
		}
		out[string(name)] = v
	}
	return out, nil
}

func (s *Store) get(key []byte) ([]byte, error) {
	v, c, err := s.db.Get(key)
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), v...)
	return out, c.Close()
}

func (s *Store) empty() bool {
	it, err := s.db.NewIter(nil)
	if err != nil {
		return false
	}
	defer it.Close()
	return !it.First()
}

// Rollback makes ck, one of the checkpoints LoadAll returned, the last
// one and deletes the other, in one synced batch. A restart that restores
// the checkpoint before the last (its transactional sinks never committed
// the last) calls it before the next Save: Save writes over the slot that
// is not the last, which would otherwise be the only copy the sinks match.
func (s *Store) Rollback(ck *Checkpoint) error {
	return s.guard(func() error { return s.rollback(ck) })
}

func (s *Store) rollback(ck *Checkpoint) error {
	other := 1 - ck.slot
	b := s.db.NewBatch()
	defer b.Close()
	errs := []error{b.Set(keyCurrent, []byte{byte('0' + ck.slot)}, nil)}
	for _, name := range []string{"meta", "engine", "window", "redo", "parts"} {
		errs = append(errs, b.Delete(key(other, name), nil))
	}
	errs = append(errs, b.Commit(pebble.Sync))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("state %s: roll back to checkpoint #%d: %w", s.dir, ck.Meta.Seq, err)
	}
	return nil
}

// Save writes ck as the new last checkpoint in one synced batch, over the
// one before the last (the last becomes the previous one); the checksums in
// ck.Meta are filled in here.
func (s *Store) Save(ck *Checkpoint) error {
	return s.guard(func() error { return s.save(ck) })
}

func (s *Store) save(ck *Checkpoint) error {
	eng, err := json.Marshal(&ck.Engine)
	if err != nil {
		return fmt.Errorf("state %s: encode: %w", s.dir, err)
	}
	m := ck.Meta
	m.Format = FormatVersion
	m.EngineCRC = crc32.ChecksumIEEE(eng)
	m.WindowLen, m.WindowCRC, m.RedoCRC = -1, 0, 0
	if ck.Engine.Window != nil {
		m.WindowLen, m.WindowCRC = len(ck.Engine.Window), crc32.ChecksumIEEE(ck.Engine.Window)
	}
	var redo []byte
	if len(ck.Redo) > 0 {
		if redo, err = json.Marshal(ck.Redo); err != nil {
			return fmt.Errorf("state %s: encode: %w", s.dir, err)
		}
		m.RedoCRC = crc32.ChecksumIEEE(redo)
	}
	var parts []byte
	if len(ck.Parts) > 0 {
		parts = appendParts(nil, ck.Parts)
		m.PartsLen, m.PartsCRC = len(parts), crc32.ChecksumIEEE(parts)
	} else {
		m.PartsLen, m.PartsCRC = 0, 0
	}
	meta, err := json.Marshal(&m)
	if err != nil {
		return fmt.Errorf("state %s: encode: %w", s.dir, err)
	}
	slot := 0
	if cur, err := s.get(keyCurrent); err == nil && len(cur) == 1 && cur[0] == '0' {
		slot = 1
	}
	b := s.db.NewBatch()
	defer b.Close()
	errs := []error{b.Set(key(slot, "meta"), meta, nil), b.Set(key(slot, "engine"), eng, nil)}
	if ck.Engine.Window != nil {
		errs = append(errs, b.Set(key(slot, "window"), ck.Engine.Window, nil))
	} else {
		errs = append(errs, b.Delete(key(slot, "window"), nil))
	}
	if redo != nil {
		errs = append(errs, b.Set(key(slot, "redo"), redo, nil))
	} else {
		errs = append(errs, b.Delete(key(slot, "redo"), nil))
	}
	if parts != nil {
		errs = append(errs, b.Set(key(slot, "parts"), parts, nil))
	} else {
		errs = append(errs, b.Delete(key(slot, "parts"), nil))
	}
	errs = append(errs, b.Set(keyCurrent, []byte{byte('0' + slot)}, nil), b.Commit(pebble.Sync))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("state %s: write checkpoint: %w", s.dir, err)
	}
	ck.Meta, ck.slot = m, slot
	return nil
}

// Size returns the bytes the state directory takes on disk. A file with
// several names (the window store's checkpoints hard-link its tables) is
// counted once.
func Size(dir string) (int64, error) {
	var n int64
	seen := map[uint64]bool{}
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
			if seen[st.Ino] {
				return nil
			}
			seen[st.Ino] = true
		}
		n += fi.Size()
		return nil
	})
	return n, err
}
