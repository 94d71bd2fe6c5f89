package lookup

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/eddyhq/eddy/decode"
	"github.com/eddyhq/eddy/value"
)

// loaded is a table as read: its columns and rows in that order.
type loaded struct {
	cols []string
	rows [][]value.Value
}

// openRows loads a file or DuckDB table and starts the goroutine that
// reloads it.
func (t *Table) openRows(ctx context.Context) error {
	stamp, _ := t.fileStamp()
	l, err := t.read(ctx)
	if err != nil {
		return err
	}
	t.setColumns(l.cols)
	s, err := t.build(l)
	if err != nil {
		return err
	}
	t.snap.Store(s)
	t.loads.Add(1)
	if t.decl.Refresh <= 0 {
		close(t.done)
		return nil
	}
	ctx, t.stop = context.WithCancel(context.WithoutCancel(ctx))
	go t.reload(ctx, stamp)
	return nil
}

// stamp tells a file's versions apart: a file renamed over it is another
// file (whatever its time and size: file times are only as fine as the
// kernel's clock tick), one written in place has another time or size.
type stamp struct {
	fi   os.FileInfo
	mod  time.Time
	size int64
}

func (s stamp) same(o stamp) bool {
	if s.fi == nil || o.fi == nil {
		return s.fi == o.fi
	}
	return os.SameFile(s.fi, o.fi) && s.mod.Equal(o.mod) && s.size == o.size
}

func (t *Table) fileStamp() (stamp, error) {
	if t.decl.File == "" {
		return stamp{}, nil
	}
	fi, err := os.Stat(t.decl.File)
	if err != nil {
		return stamp{}, err
	}
	return stamp{fi, fi.ModTime(), fi.Size()}, nil
}

// reload checks the file every refresh and reads it when its stamp
// changed (a DuckDB table: reads it every refresh). A file that changed
// again while it was read is read again at the next check.
func (t *Table) reload(ctx context.Context, last stamp) {
	defer close(t.done)
	tick := time.NewTicker(t.decl.Refresh)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		st, err := t.fileStamp()
		if err != nil {
			t.warn("kept the version in use: %v", err)
			continue
		}
		if t.decl.File != "" && st.same(last) {
			continue
		}
		err = t.reloadOnce(ctx, st)
		if errors.Is(err, errChanged) {
			continue // read the final version at the next check
		}
		last = st
		if err != nil && ctx.Err() == nil {
			t.warn("kept the version in use, new one refused: %v", err)
		}
	}
}

// errChanged is a file that changed while it was read.
var errChanged = errors.New("changed while read")

// reloadOnce reads a new version and swaps it in, unless the file's stamp
// is no longer st when it has been read.
func (t *Table) reloadOnce(ctx context.Context, st stamp) error {
	l, err := t.read(ctx)
	if after, _ := t.fileStamp(); !after.same(st) {
		return errChanged
	}
	if err != nil {
		return err
	}
	// put the new version's columns in the table's order
	pos := make([]int, len(t.cols))
	for i, c := range t.cols {
		pos[i] = slices.Index(l.cols, c)
		if pos[i] < 0 && slices.Contains(t.o.Need, c) {
			return fmt.Errorf("column %s is gone (a lookup reads it)", c)
		}
	}
	if !slices.Equal(pos, identity(len(l.cols))) {
		for r, row := range l.rows {
			out := make([]value.Value, len(t.cols))
			for i, p := range pos {
				if p >= 0 {
					out[i] = row[p]
				}
			}
			l.rows[r] = out
		}
	}
	s, err := t.build(loaded{cols: t.cols, rows: l.rows})
	if err != nil {
		return err
	}
	t.snap.Store(s)
	t.loads.Add(1)
	return nil
}

func identity(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	return p
}

// build indexes rows by the key columns, counting memory.
func (t *Table) build(l loaded) (*snapshot, error) {
	s := &snapshot{rows: l.rows, index: make([]map[string]int32, len(t.keys))}
	var keyCols []int
	for _, k := range t.keys {
		// a column the table lacks is reported with the stage naming it
		// (Check); a reload without it is refused before (Options.Need)
		keyCols = append(keyCols, slices.Index(l.cols, k))
	}
	for j := range s.index {
		s.index[j] = make(map[string]int32, len(l.rows))
	}
	for r, row := range l.rows {
		s.bytes += rowSize(row)
		for j, c := range keyCols {
			if c < 0 {
				continue
			}
			kt, ok := KeyText(row[c])
			if !ok {
				continue
			}
			if prev, dup := s.index[j][kt]; dup {
				return nil, fmt.Errorf("key column %s has %q in rows %d and %d: a lookup needs one row per key", t.keys[j], kt, prev+1, r+1)
			}
			s.index[j][kt] = int32(r)
			s.bytes += entryBytes + int64(len(kt))
		}
		if s.bytes > t.decl.MemoryLimit {
			return nil, fmt.Errorf("over its memory_limit of %s at row %d (raise memory_limit, or select fewer rows with a duckdb query)", sizeText(t.decl.MemoryLimit), r+1)
		}
	}
	return s, nil
}

// read reads the whole table from its file or database.
func (t *Table) read(ctx context.Context) (loaded, error) {
	if d := t.decl.DuckDB; d != nil {
		q := d.Query
		if q == "" {
			q = "SELECT * FROM " + quoteIdent(d.Table)
		}
		return t.query(ctx, d.Path, true, q)
	}
	switch t.decl.TableFormat() {
	case "jsonl":
		return t.readJSONL()
	case "csv":
		return t.query(ctx, "", false, "SELECT * FROM read_csv("+quoteString(t.decl.File)+")")
	case "parquet":
		return t.query(ctx, "", false, "SELECT * FROM read_parquet("+quoteString(t.decl.File)+")")
	}
	return loaded{}, fmt.Errorf("%s: unknown file format", t.decl.File)
}

func (t *Table) readJSONL() (loaded, error) {
	f, err := os.Open(t.decl.File)
	if err != nil {
		return loaded{}, err
	}
	defer f.Close()
	var l loaded
	col := map[string]int{}
	br := bufio.NewReaderSize(f, 1<<16)
	var bytesRead int64
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			bytesRead += int64(len(line))
			if bytesRead > 2*t.decl.MemoryLimit {
				return loaded{}, fmt.Errorf("%s is larger than twice the memory_limit of %s", t.decl.File, sizeText(t.decl.MemoryLimit))
			}
			row := make([]value.Value, len(l.cols))
			ferr := decode.Fields(line, func(name string, v value.Value) {
				i, ok := col[name]
				if !ok {
					i = len(l.cols)
					name = strings.Clone(name)
					col[name] = i
					l.cols = append(l.cols, name)
				}
				for len(row) <= i {
					row = append(row, value.Value{})
				}
				row[i] = v
			})
			if ferr != nil {
				return loaded{}, fmt.Errorf("%s:%d: %v", t.decl.File, n, ferr)
			}
			l.rows = append(l.rows, row)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return loaded{}, err
		}
	}
	for i, row := range l.rows { // rows before a column was first seen
		for len(row) < len(l.cols) {
			row = append(row, value.Value{})
		}
		l.rows[i] = row
	}
	return l, nil
}

// query reads the rows of a DuckDB query, in a database file (path) or in
// memory; a file is opened read-only and closed again, so that writers
// can come in between refreshes.
func (t *Table) query(ctx context.Context, path string, readOnly bool, q string) (loaded, error) {
	dsn := path
	if readOnly && path != "" {
		dsn += "?access_mode=read_only"
	}
	c, err := duckdb.NewConnector(dsn, nil)
	if err != nil {
		return loaded{}, fmt.Errorf("open duckdb %s: %w", path, err)
	}
	db := sql.OpenDB(c)
	defer db.Close()
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return loaded{}, fmt.Errorf("%s: %w", q, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return loaded{}, err
	}
	l := loaded{cols: cols}
	raw := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	var size int64
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return loaded{}, err
		}
		row := make([]value.Value, len(cols))
		for i, x := range raw {
			row[i] = fromDriver(x)
		}
		if size += rowSize(row); size > t.decl.MemoryLimit {
			return loaded{}, fmt.Errorf("over its memory_limit of %s at row %d (raise memory_limit, or select fewer rows with a duckdb query)", sizeText(t.decl.MemoryLimit), len(l.rows)+1)
		}
		l.rows = append(l.rows, row)
	}
	if err := rows.Err(); err != nil {
		return loaded{}, err
	}
	return l, nil
}

// fromDriver converts what DuckDB's driver scanned into a Value.
func fromDriver(x any) value.Value {
	switch v := x.(type) {
	case []byte:
		return value.OfString(string(v))
	case duckdb.Decimal:
		return value.OfFloat(v.Float64())
	case duckdb.UUID:
		return value.OfString(v.String())
	}
	out, err := value.FromAny(x)
	if err != nil {
		return value.OfString(fmt.Sprint(x))
	}
	return out
}

func quoteIdent(s string) string  { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
func quoteString(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }
