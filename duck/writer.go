package duck

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/eddyhq/eddy/decode"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/value"
)

// RecordWriter is what a [Table] and a [Parquet] sink have in common for
// the commands that write records with their coordinates (eddy export, the
// workbench's export).
type RecordWriter interface {
	sink.Sink
	// WriteRecord writes r, with rec's coordinates when rec is not nil.
	WriteRecord(r *sink.Row, rec *source.Record) error
	// Written returns the number of rows committed so far.
	Written() int64
}

var (
	_ RecordWriter = (*Table)(nil)
	_ RecordWriter = (*Parquet)(nil)
)

// Coordinate column names, in table order.
const (
	ColTopic     = "_topic"
	ColPartition = "_partition"
	ColOffset    = "_offset"
	ColTimestamp = "_timestamp"
	ColKey       = "_key"
)

var coordCols = [...]struct {
	name string
	typ  colType
}{{ColTopic, tVarchar}, {ColPartition, tInteger}, {ColOffset, tBigint}, {ColTimestamp, tTimestamp}, {ColKey, tVarchar}}

// SchemaError says a value cannot be written because it does not fit its
// column's type and the type cannot widen to hold it. Nothing of the batch
// it was in was written.
type SchemaError struct {
	Table   string
	Column  string
	Have    string // the column's type
	Want    string // the type the value needs
	Example string // the value, as JSON
}

func (e *SchemaError) Error() string {
	return fmt.Sprintf("table %q, column %q: a %s column cannot take %s values (here %s); only BIGINT → DOUBLE → VARCHAR and TIMESTAMP → VARCHAR widen",
		e.Table, e.Column, e.Have, e.Want, e.Example)
}

// RowError is returned by a write whose row cannot be read: its JSON is not
// an object, or it has no fields while the table has no columns yet. The
// row was not written; the sink stays usable.
type RowError struct{ Err error }

func (e *RowError) Error() string { return "row not written: " + e.Err.Error() }
func (e *RowError) Unwrap() error { return e.Err }

var errNoFields = errors.New("the row has no fields and the table no columns yet")

// column is a column of the table, or a field seen only with nulls so far
// (typ tNone, not in the table).
type column struct {
	name  string
	typ   colType // in the table as of the open transaction
	other string  // the SQL type when typ is tOther or tDeclared
	fixed colType // a coordinate column's type (tNone: not a coordinate)
	pos   int     // index in writer.order; -1 when not in the table
	// declared types (tDeclared) the column's type holds: the ones it was
	// made or altered for
	declared map[string]bool
}

type partKey struct {
	topic string
	part  int32
}

type offRange struct{ lo, hi int64 }

func (r *offRange) add(o int64) { r.lo, r.hi = min(r.lo, o), max(r.hi, o) }

// staging is the temporary table rows go through when Dedupe has to check
// them against the table.
const staging = "eddy_staging"

// writer streams rows into a DuckDB table through a rowBuf inside an open
// transaction, and commits every batch. A value that needs a new
// column or a wider type changes the table inside the same transaction.
// It is owned by one goroutine.
type writer struct {
	db     *database
	table  string // as given
	qtable string // quoted
	exists bool   // the table exists (as of the open transaction)

	cols   []*column
	order  []*column // the table's columns in table order
	byName map[string]*column
	byFold map[string]*column // lower-cased: DuckDB identifiers are case-insensitive
	coord  []*column          // the coordinate columns, when written

	inTx bool
	rows int           // rows in the open transaction
	row  []value.Value // the row being built, by table column
	buf  rowBuf        // rows appended and not yet inserted
	fn   string        // the table function that yields buf's rows

	keys    decode.Keys // the keys of the previous rows' members, to recognise
	hint    []*column   // the column of the i-th member of the previous row
	fresh   []*column   // columns the current row added
	nth     int         // members of the current row so far
	changes []change    // column changes the current row needs
	nulls   []*column   // columns of the current row with only a null (no table yet)
	rowErr  error       // the first value of the current row that cannot fit
	fieldFn func(string, value.Value)

	declared  map[string]string // the DuckDB types the current record's schema declares, by field
	redeclare bool              // declared changed: check the columns against it

	dedupe     bool
	ranges     map[partKey]offRange // offsets committed per partition (a superset)
	batch      map[partKey]*offRange
	lastKey    partKey
	lastR      *offRange
	lastHave   offRange
	lastHaveOK bool
	staging    bool // rows go to the staging table
	stagedRows int
	stageOff   offRange
	skippedTx  int64 // rows of the open transaction found in the table

	progress bool  // count committed rows in ProgressTable
	total    int64 // rows committed as counted there
	seq      int64 // the checkpoint the next commit records there
	// total and seq as read when the table was opened
	total0, seq0 int64
}

// loadProgress creates the progress table if needed and reads the table's
// committed row count (reset to 0 when the table was just replaced).
func (w *writer) loadProgress(ctx context.Context, reset bool) error {
	w.progress = true
	q := "CREATE TABLE IF NOT EXISTS " + quoteIdent(ProgressTable) + " (table_name VARCHAR PRIMARY KEY, rows BIGINT NOT NULL, checkpoint BIGINT NOT NULL DEFAULT 0)"
	if _, err := w.exec(ctx, q); err != nil {
		return fmt.Errorf("create table %s: %w", ProgressTable, err)
	}
	// tables made by eddy before checkpoints were counted there
	q = "ALTER TABLE " + quoteIdent(ProgressTable) + " ADD COLUMN IF NOT EXISTS checkpoint BIGINT DEFAULT 0"
	if _, err := w.exec(ctx, q); err != nil {
		return fmt.Errorf("alter table %s: %w", ProgressTable, err)
	}
	if reset {
		if _, err := w.exec(ctx, "DELETE FROM "+quoteIdent(ProgressTable)+" WHERE table_name = "+quoteString(w.table)); err != nil {
			return fmt.Errorf("reset %s: %w", ProgressTable, err)
		}
	}
	q = "SELECT rows, coalesce(checkpoint, 0) FROM " + quoteIdent(ProgressTable) + " WHERE table_name = " + quoteString(w.table)
	err := w.query(ctx, q, 2, func(d []driver.Value) error {
		w.total, _ = d[0].(int64)
		w.seq, _ = d[1].(int64)
		return nil
	})
	if err != nil {
		return fmt.Errorf("read %s: %w", ProgressTable, err)
	}
	w.total0, w.seq0 = w.total, w.seq
	return nil
}

func newWriter(db *database, table string, coords, dedupe bool) *writer {
	w := &writer{db: db, table: table, qtable: quoteIdent(table),
		byName: map[string]*column{}, byFold: map[string]*column{},
		dedupe: dedupe, ranges: map[partKey]offRange{}, batch: map[partKey]*offRange{}}
	w.fieldFn = w.onField
	if coords {
		for _, cc := range coordCols {
			c := w.column(cc.name)
			c.fixed = cc.typ
			w.coord = append(w.coord, c)
		}
	}
	return w
}

func (w *writer) exec(ctx context.Context, q string) (driver.Result, error) {
	return w.db.conn.ExecContext(ctx, q, nil)
}

// query runs q and calls fn for every row.
func (w *writer) query(ctx context.Context, q string, ncol int, fn func([]driver.Value) error) error {
	rows, err := w.db.conn.QueryContext(ctx, q, nil)
	if err != nil {
		return err
	}
	dest := make([]driver.Value, ncol)
	for {
		if err := rows.Next(dest); err != nil {
			cerr := rows.Close()
			if errors.Is(err, io.EOF) {
				return cerr
			}
			return err
		}
		if err := fn(dest); err != nil {
			rows.Close()
			return err
		}
	}
}

// load reads the existing table's columns (and, for Dedupe, the offsets it
// holds); it leaves exists false when there is no such table.
func (w *writer) load(ctx context.Context) error {
	q := `SELECT column_name, data_type FROM duckdb_columns()
		WHERE database_name = current_database() AND schema_name = 'main' AND lower(table_name) = lower(` + quoteString(w.table) + `)
		ORDER BY column_index`
	err := w.query(ctx, q, 2, func(d []driver.Value) error {
		name, typ := d[0].(string), d[1].(string)
		c := w.byFold[strings.ToLower(name)]
		if c == nil {
			c = w.column(name)
		}
		c.typ, c.other = parseType(typ), typ
		c.pos = len(w.order)
		w.order = append(w.order, c)
		return nil
	})
	if err != nil {
		return fmt.Errorf("read the columns of table %q: %w", w.table, err)
	}
	w.exists = len(w.order) > 0
	for _, c := range w.coord {
		if c.typ != tNone && c.typ != c.fixed {
			return &SchemaError{Table: w.table, Column: c.name, Have: c.other, Want: c.fixed.String(), Example: "a coordinate"}
		}
	}
	if !w.dedupe || w.coord[0].typ == tNone || w.coord[1].typ == tNone || w.coord[2].typ == tNone {
		return nil
	}
	q = fmt.Sprintf(`SELECT %s, %s, min(%s), max(%[3]s) FROM %s WHERE %[3]s IS NOT NULL GROUP BY ALL`,
		quoteIdent(ColTopic), quoteIdent(ColPartition), quoteIdent(ColOffset), w.qtable)
	err = w.query(ctx, q, 4, func(d []driver.Value) error {
		topic, _ := d[0].(string)
		part, _ := d[1].(int32)
		w.ranges[partKey{topic, part}] = offRange{d[2].(int64), d[3].(int64)}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read the offsets in table %q: %w", w.table, err)
	}
	return nil
}

// column adds a column that is not in the table.
func (w *writer) column(name string) *column {
	c := &column{name: name, pos: -1}
	w.cols = append(w.cols, c)
	w.byName[name] = c
	w.byFold[strings.ToLower(name)] = c
	return c
}

// lookup finds the column of the i-th member of a row, adding it when new.
func (w *writer) lookup(name string, i int) *column {
	if i < len(w.hint) && w.hint[i].name == name && w.hint[i].fixed == tNone {
		return w.hint[i]
	}
	c := w.byName[name]
	if c == nil || c.fixed != tNone {
		col := columnName(name)
		fold := strings.ToLower(col)
		for len(w.coord) > 0 && isCoord(fold) {
			// a record field named like a coordinate column gets a "_" suffix
			col += "_"
			fold += "_"
		}
		if c = w.byFold[fold]; c == nil {
			c = w.column(strings.Clone(col))
			w.fresh = append(w.fresh, c)
		}
		if c.fixed == tNone && c.name != name {
			// find this spelling directly next time
			w.byName[strings.Clone(name)] = c
		}
	}
	if i < len(w.hint) {
		w.hint[i] = c
	} else if i == len(w.hint) {
		w.hint = append(w.hint, c)
	}
	return c
}

// columnName is the column for a field name: DuckDB has no empty
// identifiers and its SQL text no NUL bytes.
func columnName(field string) string {
	if field == "" {
		return "_"
	}
	return strings.ReplaceAll(field, "\x00", "\uFFFD")
}

func isCoord(fold string) bool {
	for _, cc := range coordCols {
		if fold == cc.name {
			return true
		}
	}
	return false
}

func (w *writer) onField(name string, v value.Value) {
	w.put(w.lookup(name, w.nth), v)
	w.nth++
}

// put places v in column c of the row being built. A value that needs a
// new column or a wider type is noted in w.changes instead, and the row is
// built again once the table has changed; a value that cannot fit sets
// w.rowErr. A later value for the same column wins (duplicate keys).
func (w *writer) put(c *column, v value.Value) {
	if c.pos >= 0 && takes[c.typ]&(1<<v.K) != 0 {
		// The common case: the column is in the table and takes v as it is.
		// Stored field by field from the registers: copying v whole spills
		// it to the stack and reads it back in wider words than written,
		// which stalls (a third of put's time in profiles).
		p := &w.row[c.pos]
		p.K, p.I, p.F, p.S = v.K, v.I, v.F, v.S
		return
	}
	if c.pos >= 0 && c.typ == tTimestamp && v.K == value.String && c.fixed == tNone {
		if ms, ok := value.ParseTime(unsafe.Slice(unsafe.StringData(v.S), len(v.S))); ok {
			w.row[c.pos] = value.OfTime(ms)
			return
		}
	}
	w.putSlow(c, v)
}

// takes[t] has bit k set when a column of type t holds values of kind k
// as they are: what fit accepts without a change or a conversion. A NULL
// fits every column in the table.
var takes = [...]uint8{
	tBigint:    1<<value.Null | 1<<value.Int,
	tDouble:    1<<value.Null | 1<<value.Int | 1<<value.Float,
	tVarchar:   1<<value.Null | 1<<value.String | 1<<value.Int | 1<<value.Float | 1<<value.Time,
	tBoolean:   1<<value.Null | 1<<value.Bool,
	tTimestamp: 1<<value.Null | 1<<value.Time,
	tJSON:      1<<value.Null | 1<<value.JSON,
	tInteger:   1 << value.Null,
	tOther:     1 << value.Null,
	tDeclared:  1<<value.Null | 1<<value.Int | 1<<value.Float | 1<<value.String | 1<<value.JSON,
}

// putSlow is put for a value that needs fit: a column not in the table
// yet, a wider type, a conversion or an error.
func (w *writer) putSlow(c *column, v value.Value) {
	if v.K == value.Null {
		if c.pos >= 0 {
			w.row[c.pos] = value.Value{}
		} else if !w.exists {
			w.nulls = append(w.nulls, c)
		}
		return
	}
	t, err := w.fit(c, &v)
	if err != nil {
		if w.rowErr == nil {
			w.rowErr = err
		}
		return
	}
	if t == tDeclared {
		if sql := w.declared[c.name]; c.typ != tDeclared || !c.declared[sql] {
			w.noteDeclared(c, sql)
			return
		}
	}
	if t != c.typ {
		w.note(c, t)
		return
	}
	w.row[c.pos] = v
}

// noteDeclared adds the change of column c to the declared type sql.
func (w *writer) noteDeclared(c *column, sql string) {
	for i := range w.changes {
		if ch := &w.changes[i]; ch.c == c {
			ch.typ, ch.sql = tDeclared, sql
			return
		}
	}
	w.changes = append(w.changes, change{c: c, typ: tDeclared, sql: sql})
}

// checkDeclared notes the changes of the columns in the table whose type is
// not the one the record's schema now declares (a field added to a record:
// its STRUCT widens).
func (w *writer) checkDeclared() {
	for name, sql := range w.declared {
		c := w.byName[name]
		if c == nil || c.pos < 0 || c.fixed != tNone || c.typ == tDeclared && c.declared[sql] {
			continue
		}
		if c.typ != tDeclared && c.typ != tOther && c.typ != tJSON && c.typ != tNone {
			continue // a column of eddy's own types (made before the field had a declared type) stays
		}
		w.noteDeclared(c, sql)
	}
}

// setDeclared sets the types the following records' schema declares.
func (w *writer) setDeclared(m map[string]string) {
	if len(m) == 0 && len(w.declared) == 0 {
		return
	}
	if len(m) == len(w.declared) && (len(m) == 0 || reflect.ValueOf(m).UnsafePointer() == reflect.ValueOf(w.declared).UnsafePointer()) {
		return
	}
	w.declared, w.redeclare = m, true
}

// note adds a column change the row needs, joined with any other change of
// the same column.
func (w *writer) note(c *column, t colType) {
	for i := range w.changes {
		if ch := &w.changes[i]; ch.c == c {
			j, ok := join(ch.typ, t)
			if !ok && w.rowErr == nil {
				w.rowErr = &SchemaError{Table: w.table, Column: c.name, Have: ch.typ.String(), Want: t.String(), Example: "(another value of the same row)"}
			}
			ch.typ = j
			return
		}
	}
	w.changes = append(w.changes, change{c: c, typ: t})
}

// add writes one row into the open batch (opening one if needed). A
// *RowError leaves the batch as it was; any other error leaves the writer
// unusable, with the batch rolled back.
func (w *writer) add(ctx context.Context, r *sink.Row, rec *source.Record) error {
	if len(w.coord) > 0 && rec == nil {
		return errors.New("coordinates are on but the row has no source record")
	}
	w.fresh = w.fresh[:0]
	for pass := 0; ; pass++ {
		members, err := w.build(r, rec)
		if err != nil {
			return err
		}
		if !w.exists && members == 0 {
			return &RowError{errNoFields}
		}
		if !w.inTx {
			if _, err := w.exec(ctx, "BEGIN TRANSACTION"); err != nil {
				return fmt.Errorf("begin a transaction: %w", err)
			}
			w.inTx, w.rows, w.skippedTx = true, 0, 0
		}
		if w.rowErr != nil {
			w.rollback()
			return w.rowErr
		}
		if !w.exists && len(w.changes) == 0 {
			// only nulls so far: keep them as text so the table has columns
			for _, c := range w.nulls {
				if sql, ok := w.declared[c.name]; ok {
					w.noteDeclared(c, sql)
				} else {
					w.note(c, tVarchar)
				}
			}
		}
		if len(w.changes) == 0 {
			break
		}
		if pass > 0 {
			w.rollback()
			return fmt.Errorf("table %q: the columns still do not fit the row after changing them (%v)", w.table, w.changes)
		}
		if err := w.change(ctx, w.changes); err != nil {
			w.rollback()
			return err
		}
	}
	if err := w.append(ctx, rec); err != nil {
		w.rollback()
		return err
	}
	w.redeclare = false
	return nil
}

// build builds the row in w.row (noting in w.changes the column changes it
// needs, in w.rowErr a value that cannot fit) and returns how many members
// it had, the coordinates counting as one.
func (w *writer) build(r *sink.Row, rec *source.Record) (members int, err error) {
	w.row = slices.Grow(w.row[:0], len(w.order))[:len(w.order)]
	clear(w.row)
	w.changes, w.nulls, w.rowErr, w.nth = w.changes[:0], w.nulls[:0], nil, 0
	members = len(r.Names)
	if members > 0 {
		for i, name := range r.Names {
			w.put(w.lookup(name, i), r.Vals[i])
		}
	} else if err := decode.FieldsKeyed(r.JSON, &w.keys, w.fieldFn); err != nil {
		w.forget()
		return 0, &RowError{err}
	} else {
		members = w.nth
	}
	if len(w.coord) > 0 {
		w.putCoords(rec)
		members++
	}
	if w.redeclare {
		w.checkDeclared()
	}
	return members, nil
}

// forget removes the columns a row that could not be read added.
func (w *writer) forget() {
	if len(w.fresh) == 0 {
		return
	}
	for _, c := range w.fresh {
		delete(w.byFold, strings.ToLower(c.name))
	}
	for name, c := range w.byName {
		if slices.Contains(w.fresh, c) {
			delete(w.byName, name)
		}
	}
	w.cols = w.cols[:len(w.cols)-len(w.fresh)]
	w.hint = w.hint[:0]
}

// putCoords puts the record's coordinates in the row.
func (w *writer) putCoords(rec *source.Record) {
	c := w.coord
	if c[0].typ == tNone || c[1].typ == tNone || c[2].typ == tNone || c[3].typ == tNone || c[4].typ == tNone {
		// not in the table yet: the slow path adds them
		w.put(c[0], value.OfString(rec.Topic))
		w.put(c[1], value.OfInt(int64(rec.Partition)))
		w.put(c[2], value.OfInt(rec.Offset))
		w.put(c[3], value.OfTime(rec.Timestamp))
		w.put(c[4], value.OfString(""))
		return
	}
	w.row[c[0].pos] = value.OfString(rec.Topic)
	w.row[c[1].pos] = value.OfInt(int64(rec.Partition))
	w.row[c[2].pos] = value.OfInt(rec.Offset)
	if rec.Timestamp != 0 {
		w.row[c[3].pos] = value.OfTime(rec.Timestamp)
	}
	if rec.Key != nil {
		// the row buffer copies the key
		k := unsafe.String(unsafe.SliceData(rec.Key), len(rec.Key))
		if !utf8.Valid(rec.Key) {
			k = strings.ToValidUTF8(k, "\uFFFD")
		}
		w.row[c[4].pos] = value.OfString(k)
	}
}

// append appends the row built in w.row, through the staging table when
// Dedupe has to check it.
func (w *writer) append(ctx context.Context, rec *source.Record) error {
	if w.dedupe && w.track(rec) && !w.staging {
		if err := w.startStaging(ctx); err != nil {
			return err
		}
	}
	if w.buf.n == 0 {
		w.buf.reset(w.order)
	}
	if err := w.buf.add(w.row); err != nil {
		return fmt.Errorf("append to table %q: %w", w.table, err)
	}
	if w.buf.n >= flushRows {
		if err := w.flush(ctx); err != nil {
			return err
		}
	}
	w.rows++
	if w.staging {
		if w.stagedRows == 0 {
			w.stageOff = offRange{rec.Offset, rec.Offset}
		}
		w.stageOff.add(rec.Offset)
		w.stagedRows++
	}
	return nil
}

// fit returns the type column c needs to hold *v (its own type when it
// fits), and converts a string meant for a TIMESTAMP column in place.
func (w *writer) fit(c *column, p *value.Value) (colType, error) {
	v := *p
	if c.fixed != tNone {
		return c.fixed, nil
	}
	if _, ok := w.declared[c.name]; ok && takes[tDeclared]&(1<<v.K) != 0 {
		return tDeclared, nil
	}
	switch c.typ {
	case tBigint:
		if v.K == value.Int {
			return tBigint, nil
		}
	case tDouble:
		if v.K == value.Int || v.K == value.Float {
			return tDouble, nil
		}
	case tVarchar:
		if v.K == value.String || v.K == value.Int || v.K == value.Float || v.K == value.Time {
			return tVarchar, nil
		}
	case tBoolean:
		if v.K == value.Bool {
			return tBoolean, nil
		}
	case tJSON:
		if v.K == value.JSON {
			return tJSON, nil
		}
	case tTimestamp:
		if v.K == value.Time {
			return tTimestamp, nil
		}
	}
	want := kindType[v.K]
	if v.K == value.String && (c.typ == tNone || c.typ == tTimestamp) {
		if ms, ok := value.ParseTime([]byte(v.S)); ok {
			*p, want = value.OfTime(ms), tTimestamp
		}
	}
	next, ok := join(c.typ, want)
	if !ok {
		have := c.typ.String()
		if c.typ == tOther {
			have = c.other
		}
		return 0, &SchemaError{Table: w.table, Column: c.name, Have: have, Want: want.String(),
			Example: value.Abbrev(string(value.AppendJSON(nil, v)), 60)}
	}
	return next, nil
}

type change struct {
	c   *column
	typ colType
	sql string // the declared type when typ is tDeclared
}

// sqlType is the change's column type in SQL.
func (ch change) sqlType() string {
	if ch.typ == tDeclared {
		return ch.sql
	}
	return ch.typ.String()
}

// change creates or alters columns inside the open transaction. Rows
// appended so far are inserted first.
func (w *writer) change(ctx context.Context, changes []change) error {
	if err := w.flush(ctx); err != nil {
		return err
	}
	if w.staging {
		if err := w.endStaging(ctx); err != nil {
			return err
		}
	}
	var stmts, defs []string
	for i := range changes {
		ch := &changes[i]
		c := ch.c
		switch {
		case c.typ == tNone && w.exists:
			stmts = append(stmts, fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s", w.qtable, quoteIdent(c.name), ch.sqlType()))
		case c.typ == tNone:
			defs = append(defs, quoteIdent(c.name)+" "+ch.sqlType())
		case ch.typ == tDeclared && c.typ == tDeclared:
			// another version of the schema: the column takes the type
			// that holds both (STRUCT fields by name: a field added or
			// removed keeps every field; DECIMAL widened)
			both, err := w.joinDeclared(ctx, c.other, ch.sql)
			if err != nil {
				return err
			}
			ch.sql = both
			if both != c.other {
				stmts = append(stmts, fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s SET DATA TYPE %s", w.qtable, quoteIdent(c.name), both))
			}
		default:
			q := fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s SET DATA TYPE %s", w.qtable, quoteIdent(c.name), ch.sqlType())
			if using := widenUsing(quoteIdent(c.name), c.typ, ch.typ); using != "" {
				q += " USING " + using
			}
			stmts = append(stmts, q)
		}
	}
	if len(defs) > 0 {
		stmts = append(stmts, fmt.Sprintf("CREATE TABLE %s (%s)", w.qtable, strings.Join(defs, ", ")))
	}
	for _, q := range stmts {
		if _, err := w.exec(ctx, q); err != nil {
			return fmt.Errorf("change table %q: %s: %w", w.table, q, err)
		}
	}
	w.exists = true
	for _, ch := range changes {
		if ch.c.pos < 0 {
			ch.c.pos = len(w.order)
			w.order = append(w.order, ch.c)
		}
		if ch.typ == tDeclared {
			if ch.c.typ != tDeclared {
				ch.c.declared = map[string]bool{}
			}
			ch.c.other = ch.sql
			ch.c.declared[ch.sql] = true
			if w.declared[ch.c.name] != "" {
				ch.c.declared[w.declared[ch.c.name]] = true
			}
		}
		ch.c.typ = ch.typ
	}
	return nil
}

// joinDeclared asks DuckDB for the type that holds values of both types
// (the element type of a list of both).
func (w *writer) joinDeclared(ctx context.Context, a, b string) (string, error) {
	if a == b {
		return a, nil
	}
	var both string
	q := fmt.Sprintf("SELECT typeof([CAST(NULL AS %s), CAST(NULL AS %s)])", a, b)
	err := w.query(ctx, q, 1, func(d []driver.Value) error {
		both, _ = d[0].(string)
		return nil
	})
	if err != nil || !strings.HasSuffix(both, "[]") {
		return "", fmt.Errorf("table %q: no type holds both %s and %s: %v", w.table, a, b, err)
	}
	return strings.TrimSuffix(both, "[]"), nil
}

// create makes the table with the coordinate columns, so it exists even
// when no row comes.
func (w *writer) create(ctx context.Context) error {
	var changes []change
	for _, c := range w.coord {
		changes = append(changes, change{c: c, typ: c.fixed})
	}
	return w.change(ctx, changes)
}

// track records rec's offset for Dedupe and reports whether the table may
// hold it already (then the row goes through the staging table).
func (w *writer) track(rec *source.Record) bool {
	k := partKey{rec.Topic, rec.Partition}
	if w.lastR == nil || k != w.lastKey {
		r := w.batch[k]
		if r == nil {
			r = &offRange{rec.Offset, rec.Offset}
			w.batch[k] = r
		}
		w.lastKey, w.lastR = k, r
		w.lastHave, w.lastHaveOK = w.ranges[k]
	}
	w.lastR.add(rec.Offset)
	return w.lastHaveOK && rec.Offset >= w.lastHave.lo && rec.Offset <= w.lastHave.hi
}

// startStaging sends the following rows to a temporary table with the
// table's columns, to be inserted without the ones already there.
func (w *writer) startStaging(ctx context.Context) error {
	if err := w.flush(ctx); err != nil {
		return err
	}
	q := fmt.Sprintf("CREATE TEMP TABLE %s AS SELECT * FROM %s LIMIT 0", staging, w.qtable)
	if _, err := w.exec(ctx, q); err != nil {
		return fmt.Errorf("create a staging table for %q: %w", w.table, err)
	}
	w.staging, w.stagedRows = true, 0
	return nil
}

// endStaging inserts the staged rows whose coordinates are not in the
// table, and drops the staging table.
func (w *writer) endStaging(ctx context.Context) error {
	if err := w.flush(ctx); err != nil {
		return err
	}
	t, p, o := quoteIdent(ColTopic), quoteIdent(ColPartition), quoteIdent(ColOffset)
	// Only the staged offset range of the table is read: DuckDB skips row
	// groups by their min/max, so this stays cheap as the table grows.
	q := fmt.Sprintf(`INSERT INTO %[1]s SELECT * FROM temp.%[2]s s WHERE NOT EXISTS (
		SELECT 1 FROM (SELECT %[3]s, %[4]s, %[5]s FROM %[1]s WHERE %[5]s BETWEEN %[6]d AND %[7]d) o
		WHERE o.%[3]s = s.%[3]s AND o.%[4]s = s.%[4]s AND o.%[5]s = s.%[5]s)`,
		w.qtable, staging, t, p, o, w.stageOff.lo, w.stageOff.hi)
	res, err := w.exec(ctx, q)
	if err != nil {
		return fmt.Errorf("insert staged rows into %q: %w", w.table, err)
	}
	added, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("insert staged rows into %q: %w", w.table, err)
	}
	w.skippedTx += int64(w.stagedRows) - added
	if _, err := w.exec(ctx, "DROP TABLE temp."+staging); err != nil {
		return fmt.Errorf("drop the staging table of %q: %w", w.table, err)
	}
	w.staging = false
	return nil
}

// commit ends the open batch: it inserts the buffered rows, then the staged
// ones, and commits. It returns the rows in the batch and how many of them Dedupe
// found in the table already. After an error the batch is rolled back.
func (w *writer) commit(ctx context.Context) (rows, skipped int64, err error) {
	if !w.inTx {
		return 0, 0, nil
	}
	err = w.flush(ctx)
	if err == nil && w.staging {
		err = w.endStaging(ctx)
	}
	if err != nil {
		w.rollback()
		return 0, 0, err
	}
	if w.progress {
		q := fmt.Sprintf("INSERT OR REPLACE INTO %s (table_name, rows, checkpoint) VALUES (%s, %d, %d)", quoteIdent(ProgressTable), quoteString(w.table), w.total+int64(w.rows), w.seq)
		if _, err := w.exec(ctx, q); err != nil {
			w.rollback()
			return 0, 0, fmt.Errorf("count rows in %s: %w", ProgressTable, err)
		}
	}
	w.inTx = false
	if _, err := w.exec(ctx, "COMMIT"); err != nil {
		// a failed commit has rolled back
		return 0, 0, fmt.Errorf("commit %d rows to table %q: %w", w.rows, w.table, err)
	}
	for k, r := range w.batch {
		if have, ok := w.ranges[k]; ok {
			r.add(have.lo)
			r.add(have.hi)
		}
		w.ranges[k] = *r
		delete(w.batch, k)
	}
	w.lastR = nil
	rows, skipped = int64(w.rows), w.skippedTx
	w.total += rows
	w.rows, w.skippedTx = 0, 0
	return rows, skipped, nil
}

// rollback abandons the open batch (best effort: the writer is not used
// after an error).
func (w *writer) rollback() {
	w.buf.reset(w.order)
	if w.inTx {
		_, _ = w.exec(context.Background(), "ROLLBACK")
		w.inTx = false
	}
}

// addNullColumns creates, as VARCHAR, the fields that only ever had nulls,
// so every field seen is a column of the table.
func (w *writer) addNullColumns(ctx context.Context) error {
	var changes []change
	for _, c := range w.cols {
		if c.typ == tNone {
			changes = append(changes, change{c: c, typ: tVarchar})
		}
	}
	if !w.exists || len(changes) == 0 {
		return nil
	}
	if _, err := w.exec(ctx, "BEGIN TRANSACTION"); err != nil {
		return fmt.Errorf("begin a transaction: %w", err)
	}
	w.inTx = true
	if err := w.change(ctx, changes); err != nil {
		w.rollback()
		return err
	}
	_, _, err := w.commit(ctx)
	return err
}

// Declarer is a writer that takes the column types a record's schema
// declares: eddy export --format avro|protobuf calls SetDeclared before
// each record (see format.DuckTypes).
type Declarer interface {
	// SetDeclared sets the DuckDB types (DECIMAL(p,s), STRUCT(…), T[],
	// MAP(…)) of the following records' fields, by field name; nil or an
	// empty map: none. A field with a declared type gets a column of that
	// type, its values (numbers or strings for decimals, JSON for the
	// nested types) cast by DuckDB; when the declared type of a column
	// changes (a field added to a record) the column is altered to it.
	// The same map for every record of a schema makes this cheap.
	SetDeclared(types map[string]string)
}

var (
	_ Declarer = (*Table)(nil)
	_ Declarer = (*Parquet)(nil)
)

// SetDeclared implements Declarer.
func (t *Table) SetDeclared(types map[string]string) { t.w.setDeclared(types) }

// SetDeclared implements Declarer.
func (p *Parquet) SetDeclared(types map[string]string) { p.w.setDeclared(types) }
