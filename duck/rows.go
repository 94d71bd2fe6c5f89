package duck

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"unsafe"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/eddyhq/eddy/value"
)

// database is a DuckDB database with the one connection eddy writes
// through. It is opened through database/sql because table functions are
// registered on a *sql.Conn; conn is that connection's driver connection,
// used directly by the goroutine that owns the writer (nothing else uses sc).
type database struct {
	db   *sql.DB
	sc   *sql.Conn
	conn *duckdb.Conn
}

// openDB opens a DuckDB database (path "" is in memory) and one connection.
func openDB(ctx context.Context, path string, threads int) (*database, error) {
	name := path
	if name == "" {
		name = "in-memory database"
	}
	c, err := duckdb.NewConnector(path, nil)
	if err != nil {
		return nil, fmt.Errorf("open duckdb %s: %w", name, err)
	}
	d := &database{db: sql.OpenDB(c)} // closing db closes c
	if d.sc, err = d.db.Conn(ctx); err == nil {
		err = d.sc.Raw(func(dc any) error {
			d.conn = dc.(*duckdb.Conn)
			return nil
		})
	}
	if err == nil && threads > 0 {
		_, err = d.conn.ExecContext(ctx, fmt.Sprintf("SET threads = %d", threads), nil)
	}
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("open duckdb %s: %w", name, err)
	}
	return d, nil
}

// Close closes the connection and the database, which checkpoints it.
func (d *database) Close() error {
	var err error
	if d.sc != nil {
		err = d.sc.Close()
	}
	return errors.Join(err, d.db.Close())
}

// flushRows bounds the rows a writer holds in Go memory before it inserts
// them into the open transaction.
const flushRows = DefaultBatchRows

// rowBuf holds appended rows column by column, typed as their columns, until
// one INSERT … SELECT from the writer's table function moves them into the
// table. It replaces duckdb-go's Appender, whose AppendRow takes every value
// boxed in an interface (an allocation for most of them) and dispatches on
// its dynamic type; here a chunk is filled a column at a time with typed
// values (measured in docs/performance.md).
type rowBuf struct {
	n     int
	cols  []colBuf
	next  int    // the next row FillChunk hands to DuckDB
	arena []byte // the bytes of the strings in cols
}

// colBuf is one column of a rowBuf; only the slice of its type is used.
// null[i] marks a NULL in row i.
type colBuf struct {
	typ   colType
	null  []bool
	ints  []int64   // BIGINT, INTEGER, BOOLEAN (0 or 1), TIMESTAMP (epoch ms)
	flts  []float64 // DOUBLE
	strs  []string  // VARCHAR, JSON (as text), declared types (as text or JSON)
	sql   string    // the declared type
	nulls int       // rows with NULL
	same  bool      // VARCHAR: every row holds strs[0]; BIGINT, INTEGER, BOOLEAN: ints[0]
}

// maxLiteral bounds the strings put in the INSERT statement as literals.
const maxLiteral = 256

// literal returns the SQL for a column that is not produced by the table
// function because it holds one value in every row: NULL (also for columns
// of types eddy does not write, which take only NULL), a VARCHAR constant
// such as the topic of a file export, or an integer or boolean constant
// such as the partition of a file export. That saves DuckDB a write per
// row (a cgo call for a string).
func (cb *colBuf) literal(n int) (string, bool) {
	if _, ok := typeInfos[cb.typ]; !ok || cb.nulls == n {
		return "NULL", true
	}
	if !cb.same {
		return "", false
	}
	switch cb.typ {
	case tVarchar:
		if len(cb.strs[0]) <= maxLiteral && !strings.ContainsRune(cb.strs[0], 0) {
			return quoteString(cb.strs[0]), true
		}
	case tBigint, tInteger:
		// CAST, not ::, which would bind before the minus sign
		return "CAST(" + strconv.FormatInt(cb.ints[0], 10) + " AS " + cb.typ.String() + ")", true
	case tBoolean:
		return strconv.FormatBool(cb.ints[0] != 0), true
	}
	return "", false
}

// column returns the SQL for column i of the table function's rows as a
// value of the column's type. TIMESTAMP values come as BIGINT microseconds,
// turned into timestamps by DuckDB a vector at a time: cheaper than
// handing duckdb-go a time.Time per row, which it turns back into
// microseconds.
func (cb *colBuf) column(i int) string {
	if cb.typ == tTimestamp {
		return "make_timestamp(c" + strconv.Itoa(i) + ")"
	}
	if cb.typ == tDeclared {
		// DuckDB casts the text: a decimal's digits exactly; JSON goes
		// into STRUCT, LIST and MAP values by json_transform, by field
		// name, a field the JSON lacks (a record of an older or newer
		// schema version) NULL, where CAST would fail
		if strings.HasPrefix(cb.sql, "DECIMAL") {
			return "CAST(c" + strconv.Itoa(i) + " AS " + cb.sql + ")"
		}
		structure, _ := json.Marshal(cb.sql)
		return "json_transform(c" + strconv.Itoa(i) + ", " + quoteString(string(structure)) + ")"
	}
	return "c" + strconv.Itoa(i)
}

// reset empties the buffer and lays it out for columns of the given types.
func (b *rowBuf) reset(order []*column) {
	b.n, b.next = 0, 0
	b.arena = b.arena[:0]
	if len(b.cols) > len(order) {
		b.cols = b.cols[:len(order)]
	}
	for len(b.cols) < len(order) {
		b.cols = append(b.cols, colBuf{})
	}
	for i, c := range order {
		cb := &b.cols[i]
		cb.typ, cb.sql = c.typ, ""
		if c.typ == tDeclared {
			cb.sql = c.other
		}
		cb.null, cb.ints, cb.flts = cb.null[:0], cb.ints[:0], cb.flts[:0]
		cb.nulls, cb.same = 0, true
		clear(cb.strs) // let the strings go
		cb.strs = cb.strs[:0]
	}
}

// keep copies s into the arena. A string made before the arena grew keeps
// pointing into the old array, which stays as it was; the arena is only
// written over after reset, when no string of it is left in cols.
func (b *rowBuf) keep(s string) string {
	if s == "" {
		return ""
	}
	off := len(b.arena)
	b.arena = append(b.arena, s...)
	return unsafe.String(&b.arena[off], len(s))
}

// add appends a row: row[i] is the value for column i, already checked to
// fit its type (strings meant for TIMESTAMP columns parsed). Its strings are
// copied, so they may point into the record.
func (b *rowBuf) add(row []value.Value) error {
	for i := range b.cols {
		cb, v := &b.cols[i], &row[i]
		null := v.K == value.Null
		cb.null = append(cb.null, null)
		if null {
			cb.nulls++
		}
		switch cb.typ {
		case tBigint, tInteger, tBoolean:
			cb.same = cb.same && !null && (b.n == 0 || v.I == cb.ints[0])
			cb.ints = append(cb.ints, v.I)
		case tTimestamp:
			cb.ints = append(cb.ints, v.I)
		case tDouble:
			f := v.F
			if v.K == value.Int {
				f = float64(v.I)
			}
			cb.flts = append(cb.flts, f)
		case tVarchar:
			s := ""
			if null {
				cb.same = false
			} else {
				if s = v.S; v.K != value.String {
					s = text(*v)
				}
				if k := len(cb.strs); k > 0 && cb.strs[k-1] == s {
					s = cb.strs[k-1] // the same as the row before: no copy
				} else {
					// while same, the row before held strs[0]: this one does not
					cb.same = cb.same && k == 0
					s = b.keep(s)
				}
			}
			cb.strs = append(cb.strs, s)
		case tDeclared:
			s := ""
			if !null {
				s = b.keep(text(*v))
			}
			cb.strs = append(cb.strs, s)
		case tJSON:
			s := ""
			if !null {
				// compacted, with <, > and & escaped, as encoding/json writes
				// a json.RawMessage
				j, err := json.Marshal(json.RawMessage(v.S))
				if err != nil {
					return err
				}
				s = string(j)
			}
			cb.strs = append(cb.strs, s)
		}
	}
	b.n++
	return nil
}

// funcSeq numbers the table functions of the writers of this process: they
// live in the catalog of the database instance, which writers opening the
// same file share.
var funcSeq atomic.Int64

// rowSource is the table function's view of a writer's rowBuf: its columns
// are the buffer's columns of the types eddy writes (columns of other types
// hold only NULL and are not produced).
type rowSource struct {
	b     *rowBuf
	infos []duckdb.ColumnInfo
	cols  []int // the rowBuf column of each produced column
}

var typeInfos = func() map[colType]duckdb.TypeInfo {
	m := map[colType]duckdb.TypeInfo{}
	for t, dt := range map[colType]duckdb.Type{tBigint: duckdb.TYPE_BIGINT, tDouble: duckdb.TYPE_DOUBLE,
		tVarchar: duckdb.TYPE_VARCHAR, tBoolean: duckdb.TYPE_BOOLEAN, tTimestamp: duckdb.TYPE_BIGINT, // see column
		tJSON: duckdb.TYPE_VARCHAR, tInteger: duckdb.TYPE_INTEGER, tDeclared: duckdb.TYPE_VARCHAR} {
		info, err := duckdb.NewTypeInfo(dt)
		if err != nil {
			panic(err)
		}
		m[t] = info
	}
	return m
}()

// bind describes the buffer's current columns.
func (s *rowSource) bind() {
	s.infos, s.cols = s.infos[:0], s.cols[:0]
	for i := range s.b.cols {
		cb := &s.b.cols[i]
		if _, lit := cb.literal(s.b.n); !lit {
			s.infos = append(s.infos, duckdb.ColumnInfo{Name: "c" + strconv.Itoa(i), T: typeInfos[cb.typ]})
			s.cols = append(s.cols, i)
		}
	}
}

func (s *rowSource) ColumnInfos() []duckdb.ColumnInfo { return s.infos }

func (s *rowSource) Cardinality() *duckdb.CardinalityInfo {
	return &duckdb.CardinalityInfo{Cardinality: uint(s.b.n), Exact: true}
}

func (s *rowSource) Init() { s.b.next = 0 }

var chunkCap = duckdb.GetDataChunkCapacity()

// FillChunk hands DuckDB the next rows, a column at a time.
func (s *rowSource) FillChunk(ch duckdb.DataChunk) error {
	lo := s.b.next
	n := min(s.b.n-lo, chunkCap)
	for j, i := range s.cols {
		if err := fillColumn(ch, j, &s.b.cols[i], lo, n); err != nil {
			return err
		}
	}
	s.b.next += n
	return ch.SetSize(n)
}

func fillColumn(ch duckdb.DataChunk, j int, cb *colBuf, lo, n int) error {
	var err error
	for r := range n {
		if cb.null[lo+r] {
			err = duckdb.SetChunkValue[any](ch, j, r, nil)
		} else {
			switch cb.typ {
			case tBigint:
				err = duckdb.SetChunkValue(ch, j, r, cb.ints[lo+r])
			case tInteger:
				err = duckdb.SetChunkValue(ch, j, r, int32(cb.ints[lo+r]))
			case tBoolean:
				err = duckdb.SetChunkValue(ch, j, r, cb.ints[lo+r] != 0)
			case tTimestamp:
				err = duckdb.SetChunkValue(ch, j, r, cb.ints[lo+r]*1000) // microseconds: see column
			case tDouble:
				err = duckdb.SetChunkValue(ch, j, r, cb.flts[lo+r])
			default:
				err = duckdb.SetChunkValue(ch, j, r, cb.strs[lo+r])
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// rowFunc registers the writer's table function, which yields the rows of
// w.buf, and returns its name.
func (w *writer) rowFunc() (string, error) {
	if w.fn != "" {
		return w.fn, nil
	}
	name := fmt.Sprintf("eddy_rows_%d", funcSeq.Add(1))
	src := &rowSource{b: &w.buf}
	err := duckdb.RegisterTableUDF(w.db.sc, name, duckdb.ChunkTableFunction{
		BindArguments: func(map[string]any, ...any) (duckdb.ChunkTableSource, error) {
			src.bind()
			return src, nil
		},
	})
	if err != nil {
		return "", fmt.Errorf("register table function %s: %w", name, err)
	}
	w.fn = name
	return name, nil
}

// flush inserts the buffered rows into the table (or the staging table)
// inside the open transaction.
func (w *writer) flush(ctx context.Context) error {
	if w.buf.n == 0 {
		return nil
	}
	fn, err := w.rowFunc()
	if err != nil {
		return err
	}
	target := w.qtable
	if w.staging {
		target = "temp." + staging
	}
	var sel strings.Builder
	from := fmt.Sprintf("range(%d)", w.buf.n) // when every column is a literal
	for i := range w.buf.cols {
		if i > 0 {
			sel.WriteString(", ")
		}
		if lit, ok := w.buf.cols[i].literal(w.buf.n); ok {
			sel.WriteString(lit)
		} else {
			sel.WriteString(w.buf.cols[i].column(i))
			from = fn + "()"
		}
	}
	q := fmt.Sprintf("INSERT INTO %s SELECT %s FROM %s", target, sel.String(), from)
	res, err := w.exec(ctx, q)
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n != int64(w.buf.n) {
			err = fmt.Errorf("%d rows inserted, want %d", n, w.buf.n)
		}
	}
	w.buf.reset(w.order)
	if err != nil {
		return fmt.Errorf("append to table %q: %w", w.table, err)
	}
	return nil
}
