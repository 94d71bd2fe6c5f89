package lookup

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/eddyhq/eddy/kcfg"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/value"
)

// Options are what opening a table takes besides its declaration.
type Options struct {
	// Keys are the key columns lookups use: each is indexed.
	Keys []string
	// Need are the columns lookups read (keys and selected columns): a
	// new version of a file or DuckDB table without one is refused.
	Need []string
	// Kafka returns the cluster of a kafka table (its brokers and config
	// file, the run's settings under them). Needed for kafka tables.
	Kafka func(brokers []string, config string) (*kcfg.Config, error)
	// Warn is told of a refused reload and of records a kafka table
	// skipped. Nil: discarded.
	Warn func(msg string)
}

// Table is one reference table. See the package doc.
type Table struct {
	decl pipeline.Table
	o    Options
	cols []string
	col  map[string]int
	keys []string

	snap atomic.Pointer[snapshot] // file and duckdb tables

	// kafka tables: the live rows by key text
	mu        sync.RWMutex
	live      map[string][]value.Value
	liveBytes int64

	loads   atomic.Int64
	errp    atomic.Pointer[error]
	stop    context.CancelFunc
	done    chan struct{}
	closeMu sync.Once
}

// snapshot is one version of a file or DuckDB table.
type snapshot struct {
	rows  [][]value.Value
	index []map[string]int32 // by key column, as Table.keys
	bytes int64
}

// Per-row costs of the memory estimate: a row's slice header and the
// values themselves, and a map entry of an index.
const (
	rowBytes   = 24
	valueBytes = 40
	entryBytes = 48
)

// Name is the table's name in the spec.
func (t *Table) Name() string { return t.decl.Name }

// Columns are the table's columns, fixed when it was opened.
func (t *Table) Columns() []string { return t.cols }

// Column returns the position of column name in a row.
func (t *Table) Column(name string) (int, bool) {
	i, ok := t.col[name]
	return i, ok
}

// Rows is the number of rows of the version in use.
func (t *Table) Rows() int {
	if t.decl.Kafka != nil {
		t.mu.RLock()
		defer t.mu.RUnlock()
		return len(t.live)
	}
	return len(t.snap.Load().rows)
}

// Bytes is the estimated memory of the version in use.
func (t *Table) Bytes() int64 {
	if t.decl.Kafka != nil {
		t.mu.RLock()
		defer t.mu.RUnlock()
		return t.liveBytes
	}
	return t.snap.Load().bytes
}

// Limit is the table's memory limit.
func (t *Table) Limit() int64 { return t.decl.MemoryLimit }

// Loads counts the versions loaded (1 after Open; reloads add one each).
func (t *Table) Loads() int64 { return t.loads.Load() }

// Err is the failure that stopped the table being kept current (a kafka
// table over its memory limit, or its topic unreadable); nil while it is
// current. A run stops on it.
func (t *Table) Err() error {
	if p := t.errp.Load(); p != nil {
		return *p
	}
	return nil
}

func (t *Table) fail(err error) {
	t.errp.CompareAndSwap(nil, &err)
}

func (t *Table) warn(format string, args ...any) {
	if t.o.Warn != nil {
		t.o.Warn(fmt.Sprintf("table %s: ", t.decl.Name) + fmt.Sprintf(format, args...))
	}
}

// Keyed is a table looked up by one key column.
type Keyed struct {
	t *Table
	i int // index of the column in t.keys
}

// Keyed returns the lookup of t by column; the column must be one of
// Options.Keys.
func (t *Table) Keyed(column string) (*Keyed, error) {
	for i, k := range t.keys {
		if k == column {
			return &Keyed{t, i}, nil
		}
	}
	return nil, fmt.Errorf("table %s: column %s is not indexed", t.decl.Name, column)
}

// Get returns the row whose key column holds key, as Columns orders it;
// the row must not be changed.
func (k *Keyed) Get(key value.Value) ([]value.Value, bool) {
	var buf [24]byte
	var kb []byte
	switch key.K {
	case value.String, value.JSON:
		return k.get(key.S)
	case value.Int: // the common case, without allocating its text
		kb = strconv.AppendInt(buf[:0], key.I, 10)
	default:
		kt, ok := KeyText(key)
		if !ok {
			return nil, false
		}
		return k.get(kt)
	}
	t := k.t
	if t.decl.Kafka != nil {
		t.mu.RLock()
		row, ok := t.live[string(kb)]
		t.mu.RUnlock()
		return row, ok
	}
	s := t.snap.Load()
	i, ok := s.index[k.i][string(kb)]
	if !ok {
		return nil, false
	}
	return s.rows[i], true
}

func (k *Keyed) get(kt string) ([]value.Value, bool) {
	t := k.t
	if t.decl.Kafka != nil {
		t.mu.RLock()
		row, ok := t.live[kt]
		t.mu.RUnlock()
		return row, ok
	}
	s := t.snap.Load()
	i, ok := s.index[k.i][kt]
	if !ok {
		return nil, false
	}
	return s.rows[i], true
}

// Table returns the table k looks up.
func (k *Keyed) Table() *Table { return k.t }

// KeyText is the text a key matches by (see the package doc); false for
// null, which matches nothing.
func KeyText(v value.Value) (string, bool) {
	switch v.K {
	case value.Null:
		return "", false
	case value.String, value.JSON:
		return v.S, true
	case value.Int:
		return strconv.FormatInt(v.I, 10), true
	case value.Float:
		if v.F == math.Trunc(v.F) && math.Abs(v.F) < 1<<53 {
			return strconv.FormatInt(int64(v.F), 10), true
		}
		return strconv.FormatFloat(v.F, 'g', -1, 64), true
	case value.Bool:
		if v.I != 0 {
			return "true", true
		}
		return "false", true
	case value.Time:
		return value.FormatTime(v.I), true
	}
	return "", false
}

func rowSize(row []value.Value) int64 {
	n := int64(rowBytes + valueBytes*len(row))
	for _, v := range row {
		n += int64(len(v.S))
	}
	return n
}

// Open reads the table whole and starts keeping it current (see the
// package doc). Close stops that.
func Open(ctx context.Context, decl pipeline.Table, o Options) (*Table, error) {
	t := &Table{decl: decl, o: o, keys: o.Keys, col: map[string]int{}, done: make(chan struct{})}
	if t.decl.MemoryLimit <= 0 {
		t.decl.MemoryLimit = pipeline.DefaultTableMemoryLimit
	}
	var err error
	switch {
	case decl.Kafka != nil:
		err = t.openKafka(ctx)
	case decl.File != "" || decl.DuckDB != nil:
		err = t.openRows(ctx)
	default:
		err = errors.New("no file, duckdb or kafka")
	}
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", decl.Name, err)
	}
	return t, nil
}

// Close stops keeping the table current. Lookups still see the last
// version.
func (t *Table) Close() error {
	t.closeMu.Do(func() {
		if t.stop != nil {
			t.stop()
			<-t.done
		}
	})
	return nil
}

func (t *Table) setColumns(cols []string) {
	t.cols = cols
	for i, c := range cols {
		t.col[c] = i
	}
}

// sizeText formats a byte count for messages.
func sizeText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1fGiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fKiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}

// Describe is one line about the table for the run's notices.
func (t *Table) Describe() string {
	return fmt.Sprintf("table %s: %d rows, %s of %s (%s)", t.decl.Name, t.Rows(), sizeText(t.Bytes()), sizeText(t.decl.MemoryLimit), where(t.decl))
}

func where(d pipeline.Table) string {
	switch {
	case d.File != "":
		return d.File
	case d.DuckDB != nil && d.DuckDB.Table != "":
		return d.DuckDB.Path + " table " + d.DuckDB.Table
	case d.DuckDB != nil:
		return d.DuckDB.Path + " query"
	case d.Kafka != nil:
		return "topic " + d.Kafka.Topic
	}
	return "?"
}
