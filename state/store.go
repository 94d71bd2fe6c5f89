package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/eddyhq/eddy/engine"
)

// FormatVersion is the version of what a checkpoint stores (the keys and
// the meaning of their values). A state directory written with another
// version is refused, not misread.
const FormatVersion = 1

// ErrCorrupt is wrapped by errors for a state directory whose checkpoint
// cannot be read back.
var ErrCorrupt = errors.New("corrupt state")

// The keys of a checkpoint, all written in one batch.
var (
	keyMeta   = []byte("eddy/meta")
	keyEngine = []byte("eddy/engine")
	keyWindow = []byte("eddy/window")
)

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
}

// Sink is one sink's progress in a checkpoint.
type Sink struct {
	Name     string `json:"name"`     // as in Describe, e.g. "file /out/rows.jsonl"
	Progress int64  `json:"progress"` // bytes for files, committed rows for DuckDB and Kafka
	// Partitions are, for a transactional Kafka sink, the topic's end
	// offsets after a commit, and Base the sink's rows committed up to
	// them (sink.Kafka.Positions).
	Partitions map[int32]int64 `json:"partitions,omitempty"`
	Base       int64           `json:"base,omitempty"`
	// Exact is false for sinks that cannot be rolled back (Kafka,
	// stdout, Parquet): their progress is not recorded and they are
	// at-least-once across restarts.
	Exact bool `json:"exact"`
}

// Checkpoint is what a store holds: the description and the engine state.
type Checkpoint struct {
	Meta   Meta
	Engine engine.Checkpoint
}

// Store is a state directory: a Pebble database holding the last checkpoint.
type Store struct {
	dir string
	db  *pebble.DB
}

// logger keeps Pebble quiet on stderr except for errors.
type logger struct{}

func (logger) Infof(string, ...any) {}
func (logger) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "eddy: state store: "+format+"\n", args...)
}
func (logger) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "eddy: state store: fatal: "+format+"\n", args...)
	os.Exit(1)
}

// Open opens the state directory dir, creating it when it does not exist.
// A directory with other files in it that is not a Pebble store is refused.
func Open(dir string) (*Store, error) { return open(dir, false) }

// OpenReadOnly opens an existing state directory without changing it.
func OpenReadOnly(dir string) (*Store, error) { return open(dir, true) }

func open(dir string, ro bool) (*Store, error) {
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
	db, err := openDB(dir, ro, !fresh)
	if err != nil && (errors.Is(err, syscall.EWOULDBLOCK) || errors.Is(err, syscall.EAGAIN) || strings.Contains(err.Error(), "lock held")) {
		return nil, fmt.Errorf("state %s: in use by another eddy run (the directory is locked)", dir)
	}
	if err != nil {
		return nil, fmt.Errorf("state %s: %w: %v", dir, ErrCorrupt, err)
	}
	return &Store{dir: dir, db: db}, nil
}

func openDB(dir string, ro, mustExist bool) (db *pebble.DB, err error) {
	defer func() {
		// Pebble may panic on damaged files: no panic reaches the user
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("open: %v", r)
		}
	}()
	return pebble.Open(dir, &pebble.Options{Logger: logger{}, ReadOnly: ro, ErrorIfNotExists: mustExist})
}

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
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("state %s: close: %w", s.dir, err)
	}
	return nil
}

// Load returns the last checkpoint, or nil when the store has none yet.
func (s *Store) Load() (ck *Checkpoint, err error) {
	defer func() {
		if r := recover(); r != nil {
			ck, err = nil, fmt.Errorf("state %s: %w: %v", s.dir, ErrCorrupt, r)
		}
	}()
	meta, err := s.get(keyMeta)
	if errors.Is(err, pebble.ErrNotFound) {
		if s.empty() {
			return nil, nil
		}
		return nil, fmt.Errorf("state %s: %w: keys but no checkpoint", s.dir, ErrCorrupt)
	}
	if err != nil {
		return nil, fmt.Errorf("state %s: %w: read checkpoint: %v", s.dir, ErrCorrupt, err)
	}
	ck = &Checkpoint{}
	if err := json.Unmarshal(meta, &ck.Meta); err != nil {
		return nil, fmt.Errorf("state %s: %w: checkpoint description: %v", s.dir, ErrCorrupt, err)
	}
	if ck.Meta.Format != FormatVersion {
		return nil, fmt.Errorf("state %s: written in format version %d, this eddy reads version %d", s.dir, ck.Meta.Format, FormatVersion)
	}
	eng, err := s.get(keyEngine)
	if err != nil {
		return nil, fmt.Errorf("state %s: %w: engine state: %v", s.dir, ErrCorrupt, err)
	}
	if crc32.ChecksumIEEE(eng) != ck.Meta.EngineCRC {
		return nil, fmt.Errorf("state %s: %w: engine state fails its checksum", s.dir, ErrCorrupt)
	}
	if err := json.Unmarshal(eng, &ck.Engine); err != nil {
		return nil, fmt.Errorf("state %s: %w: engine state: %v", s.dir, ErrCorrupt, err)
	}
	win, err := s.get(keyWindow)
	switch {
	case errors.Is(err, pebble.ErrNotFound) && ck.Meta.WindowLen < 0:
	case err != nil:
		return nil, fmt.Errorf("state %s: %w: window state: %v", s.dir, ErrCorrupt, err)
	case len(win) != ck.Meta.WindowLen || crc32.ChecksumIEEE(win) != ck.Meta.WindowCRC:
		return nil, fmt.Errorf("state %s: %w: window state fails its checksum", s.dir, ErrCorrupt)
	default:
		ck.Engine.Window = win
	}
	return ck, nil
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

// Save writes ck as the new last checkpoint in one synced batch; the
// checksums in ck.Meta are filled in here.
func (s *Store) Save(ck *Checkpoint) error {
	eng, err := json.Marshal(&ck.Engine)
	if err != nil {
		return fmt.Errorf("state %s: encode: %w", s.dir, err)
	}
	m := ck.Meta
	m.Format = FormatVersion
	m.EngineCRC = crc32.ChecksumIEEE(eng)
	m.WindowLen = -1
	if ck.Engine.Window != nil {
		m.WindowLen, m.WindowCRC = len(ck.Engine.Window), crc32.ChecksumIEEE(ck.Engine.Window)
	}
	meta, err := json.Marshal(&m)
	if err != nil {
		return fmt.Errorf("state %s: encode: %w", s.dir, err)
	}
	b := s.db.NewBatch()
	defer b.Close()
	errs := []error{b.Set(keyMeta, meta, nil), b.Set(keyEngine, eng, nil)}
	if ck.Engine.Window != nil {
		errs = append(errs, b.Set(keyWindow, ck.Engine.Window, nil))
	} else {
		errs = append(errs, b.Delete(keyWindow, nil))
	}
	errs = append(errs, b.Commit(pebble.Sync))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("state %s: write checkpoint: %w", s.dir, err)
	}
	ck.Meta = m
	return nil
}

// Size returns the bytes the state directory takes on disk.
func Size(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n, err
}
