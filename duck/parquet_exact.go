package duck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/eddyhq/eddy/sink"
)

// A Parquet directory written exactly once (ParquetOptions.Exactly, a run
// with a state section) is a sink.Transactional: the files finished
// between two checkpoints stay pending (part-pending-K.parquet.tmp, which
// no *.parquet glob reads) and Commit(seq) gives them their names,
// part-SSSSSS-KKK.parquet with S the checkpoint's number (plus a base, see
// below) and K their order, then writes the marker _eddy_progress.json
// ({rows, checkpoint, base, last}) that Committed reads back. A run killed
// before or during a commit restarts from the checkpoint the marker names:
// the sink removes, when it opens, the parts numbered above the marker's
// last (a commit cut short), and the restarted run's next commit is the
// same number, so it writes the same part names again. The files hold each
// row once; their names are the checkpoints' numbers, so a run with the
// same checkpoints writes the same set of files.
//
// A state directory started afresh (--reset-state) over a directory that
// has a marker numbers its checkpoints from 1 again: its first commit sees
// a number not above the marker's checkpoint and takes the marker's last
// as its base, so it never writes over the earlier runs' parts.

// ParquetMarker is the content of _eddy_progress.json.
type ParquetMarker struct {
	Rows       int64 `json:"rows"`       // rows in the committed parts
	Checkpoint int64 `json:"checkpoint"` // the state's checkpoint number
	Base       int64 `json:"base"`       // added to checkpoint numbers in part names
	Last       int64 `json:"last"`       // the highest part number committed
}

// MarkerName is the marker's file (or object) name in the directory.
const MarkerName = "_eddy_progress.json"

// PartStore is where an exactly-once directory's parts and marker go; the
// default is the local directory, s3store has one for a bucket prefix.
type PartStore interface {
	// Marker returns the marker's bytes, nil when there is none.
	Marker(ctx context.Context) ([]byte, error)
	// PutMarker replaces the marker at once (readers see the old or the new).
	PutMarker(ctx context.Context, b []byte) error
	// Parts lists the names of the part-*.parquet files.
	Parts(ctx context.Context) ([]string, error)
	// Remove deletes a part by name.
	Remove(ctx context.Context, name string) error
	// Put makes the finished local file the part name (whole or not at
	// all) and returns its full name; the local file is gone after.
	Put(ctx context.Context, local, name string) (string, error)
}

// pending is a finished, uncommitted file.
type pending struct {
	local string
	rows  int64
}

// exact is the exactly-once state of a Parquet directory.
type exact struct {
	store     PartStore
	marker    ParquetMarker // as committed
	committed ParquetMarker // as read when opened (Committed)
	first     bool          // no commit yet by this process
	pending   []pending
}

var _ sink.Transactional = (*Parquet)(nil)

// openExact reads the marker and removes the parts of a commit cut short.
func (p *Parquet) openExact(ctx context.Context) error {
	st := p.o.Store
	if st == nil {
		st = localParts{dir: p.path}
	}
	x := &exact{store: st, first: true}
	b, err := st.Marker(ctx)
	if err != nil {
		return err
	}
	if b != nil {
		if err := json.Unmarshal(b, &x.marker); err != nil {
			return fmt.Errorf("%s: %w (written by eddy; remove it and the parts to start the directory over)", MarkerName, err)
		}
		parts, err := st.Parts(ctx)
		if err != nil {
			return err
		}
		for _, name := range parts {
			if n, ok := exactPartSeq(name); ok && n > x.marker.Last {
				if err := st.Remove(ctx, name); err != nil {
					return fmt.Errorf("remove %s (a commit cut short): %w", name, err)
				}
			}
		}
	}
	x.committed = x.marker
	p.x = x
	return nil
}

// exactPartSeq reads S of part-SSSSSS-KKK.parquet.
func exactPartSeq(name string) (int64, bool) {
	rest, ok := strings.CutPrefix(name, "part-")
	if !ok {
		return 0, false
	}
	rest, ok = strings.CutSuffix(rest, ".parquet")
	seq, k, ok2 := strings.Cut(rest, "-")
	if !ok || !ok2 || len(k) != 3 {
		return 0, false
	}
	n, err := strconv.ParseInt(seq, 10, 64)
	if _, kerr := strconv.Atoi(k); err != nil || kerr != nil {
		return 0, false
	}
	return n, true
}

// Transactional reports whether the sink commits at checkpoints
// (ParquetOptions.Exactly).
func (p *Parquet) Transactional() bool { return p.x != nil }

// Rows returns the rows committed and those since (sink.Transactional).
func (p *Parquet) Rows() int64 {
	if p.x == nil {
		return p.written.Load() + p.fileRows
	}
	n := p.x.marker.Rows + p.fileRows
	for _, f := range p.x.pending {
		n += f.rows
	}
	return n
}

// Committed returns the marker read when the sink was opened.
func (p *Parquet) Committed() (rows, seq int64) {
	if p.x == nil {
		return 0, 0
	}
	return p.x.committed.Rows, p.x.committed.Checkpoint
}

// Commit finishes the current file and names the pending ones after the
// checkpoint seq, then writes the marker.
func (p *Parquet) Commit(ctx context.Context, seq int64, _ map[string]map[int32]int64) error {
	if p.err != nil {
		return p.err
	}
	x := p.x
	if x == nil {
		return errors.New("parquet sink: commit without Exactly")
	}
	if p.fileRows > 0 {
		if err := p.finish(ctx); err != nil {
			return err
		}
	}
	m := x.marker
	if x.first && seq <= m.Checkpoint {
		m.Base = m.Last // a new state over earlier parts: number after them
	}
	x.first = false
	num := m.Base + seq
	var names []string
	var rows int64
	for k, f := range x.pending {
		name, err := x.store.Put(ctx, f.local, fmt.Sprintf("part-%06d-%03d.parquet", num, k))
		if err != nil {
			return p.fail(err)
		}
		names = append(names, name)
		rows += f.rows
	}
	m.Rows += rows
	m.Checkpoint = seq
	if len(x.pending) > 0 {
		m.Last = num
	}
	b, _ := json.Marshal(m)
	if err := x.store.PutMarker(ctx, b); err != nil {
		return p.fail(fmt.Errorf("write %s: %w", MarkerName, err))
	}
	x.marker, x.pending = m, nil
	p.written.Add(rows)
	files := append(append([]string(nil), *p.files.Load()...), names...)
	p.files.Store(&files)
	return nil
}

// dropPending removes the pending files (Close and Abort: their rows are
// written again by the run restarted from the last checkpoint).
func (x *exact) dropPending() {
	for _, f := range x.pending {
		os.Remove(f.local)
	}
	x.pending = nil
}

// localParts is the PartStore of a local directory.
type localParts struct{ dir string }

func (l localParts) Marker(context.Context) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(l.dir, MarkerName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

func (l localParts) PutMarker(_ context.Context, b []byte) error {
	name := filepath.Join(l.dir, MarkerName)
	if err := os.WriteFile(name+".tmp", b, 0o644); err != nil {
		return err
	}
	return syncRename(name+".tmp", name)
}

func (l localParts) Parts(context.Context) ([]string, error) {
	m, err := filepath.Glob(filepath.Join(l.dir, "part-*.parquet"))
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	return m, err
}

func (l localParts) Remove(_ context.Context, name string) error {
	return os.Remove(filepath.Join(l.dir, name))
}

func (l localParts) Put(_ context.Context, local, name string) (string, error) {
	dst := filepath.Join(l.dir, name)
	if err := os.Rename(local, dst); err != nil {
		return "", err
	}
	if d, err := os.Open(l.dir); err == nil {
		d.Sync() // best effort, as syncRename
		d.Close()
	}
	return dst, nil
}
