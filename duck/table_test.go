package duck

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/value"
)

// openRead opens a DuckDB file (or runs a query over Parquet) for checks.
func openRead(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// describe returns "name TYPE" for every column of a table or query.
func describe(t *testing.T, db *sql.DB, from string) []string {
	t.Helper()
	rows, err := db.Query("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM " + from + ")")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n, ty string
		if err := rows.Scan(&n, &ty); err != nil {
			t.Fatal(err)
		}
		out = append(out, n+" "+ty)
	}
	return out
}

// dump returns every row of a query as DuckDB's text, NULL as "NULL".
func dump(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.Query("SELECT COLUMNS(*)::VARCHAR FROM (" + q + ")")
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = "NULL"
			if v.Valid {
				parts[i] = v.String
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func count(t *testing.T, db *sql.DB, q string) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func same(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

func jsonRow(s string) *sink.Row { return &sink.Row{JSON: []byte(s)} }

func writeJSON(t *testing.T, s sink.Sink, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if err := s.Write(jsonRow(l)); err != nil {
			t.Fatalf("write %s: %v", l, err)
		}
	}
}

func openTable(t *testing.T, path, table string, o Options) *Table {
	t.Helper()
	tb, err := OpenTable(path, table, o)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func closeTable(t *testing.T, s interface{ Close() error }) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestRoundTripTypes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "types.duckdb")
	tb := openTable(t, path, "events", Options{})
	writeJSON(t, tb,
		`{"i":1,"f":1.5,"s":"x","b":true,"ts":"2026-01-01T00:00:10.123Z","obj":{"a":[1,2]},"arr":[1,"two"],"n":null,"big":12345678901234567890}`,
		`{"i":-9223372036854775808,"f":2,"s":"é\"\n","b":false,"ts":"2026-01-01T02:00:00+02:00","obj":{},"arr":[],"n":null,"big":1}`,
		`{"s":"only s"}`,
	)
	// typed rows: a window result with timestamps
	if err := tb.Write(&sink.Row{Names: []string{"i", "window_start"}, Vals: []value.Value{value.OfInt(7), value.OfTime(1767225600000)}}); err != nil {
		t.Fatal(err)
	}
	closeTable(t, tb)
	if tb.Written() != 4 {
		t.Errorf("Written = %d, want 4", tb.Written())
	}
	db := openRead(t, path)
	same(t, "columns", describe(t, db, "events"), []string{
		"i BIGINT", "f DOUBLE", "s VARCHAR", "b BOOLEAN", "ts TIMESTAMP", "obj JSON", "arr JSON", "big DOUBLE",
		"window_start TIMESTAMP", "n VARCHAR"})
	same(t, "rows", dump(t, db, `SELECT i, f, s, b, ts, obj, arr, big, window_start, n FROM events`), []string{
		`1|1.5|x|true|2026-01-01 00:00:10.123|{"a":[1,2]}|[1,"two"]|1.2345678901234567e+19|NULL|NULL`,
		"-9223372036854775808|2.0|é\"\n|false|2026-01-01 00:00:00|{}|[]|1.0|NULL|NULL",
		`NULL|NULL|only s|NULL|NULL|NULL|NULL|NULL|NULL|NULL`,
		`7|NULL|NULL|NULL|NULL|NULL|NULL|NULL|2026-01-01 00:00:00|NULL`,
	})
	// JSON columns hold JSON
	if n := count(t, db, `SELECT count(*) FROM events WHERE json_extract(obj, '$.a[1]')::INT = 2`); n != 1 {
		t.Errorf("json_extract found %d rows, want 1", n)
	}
}

func TestWidening(t *testing.T) {
	path := filepath.Join(t.TempDir(), "widen.duckdb")
	tb := openTable(t, path, "t", Options{BatchRows: 2})
	writeJSON(t, tb,
		`{"n":1,"ts":"2026-01-01T00:00:00Z","k":1}`,
		`{"n":2,"ts":"2026-01-01T00:00:01.5Z","k":2}`,
		// batch 2: n becomes DOUBLE, ts a free string: VARCHAR; a new column
		`{"n":2.5,"ts":"yesterday","k":3,"extra":true}`,
		`{"n":3,"k":4.25}`,
		// batch 3: n becomes VARCHAR
		`{"n":"many"}`,
	)
	closeTable(t, tb)
	db := openRead(t, path)
	same(t, "columns", describe(t, db, "t"), []string{"n VARCHAR", "ts VARCHAR", "k DOUBLE", "extra BOOLEAN"})
	same(t, "rows", dump(t, db, `SELECT * FROM t`), []string{
		`1|2026-01-01T00:00:00.000Z|1.0|NULL`,
		`2|2026-01-01T00:00:01.500Z|2.0|NULL`,
		`2.5|yesterday|3.0|true`,
		`3|NULL|4.25|NULL`,
		`many|NULL|NULL|NULL`,
	})
}

func TestWideningInOneBatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "widen.duckdb")
	tb := openTable(t, path, "t", Options{})
	writeJSON(t, tb, `{"a":1,"t":1767225600000}`, `{"a":1.5,"t":"2026-01-01T00:00:00Z"}`, `{"a":1e300}`, `{"a":0.0000001}`)
	closeTable(t, tb)
	db := openRead(t, path)
	same(t, "columns", describe(t, db, "t"), []string{"a DOUBLE", "t VARCHAR"})
	// t was BIGINT when the string came: it is text as it was, not a time
	same(t, "rows", dump(t, db, `SELECT * FROM t`), []string{`1.0|1767225600000`, `1.5|2026-01-01T00:00:00Z`, `1e+300|NULL`, `1e-07|NULL`})

	// DOUBLE to VARCHAR keeps the text eddy writes
	tb = openTable(t, path, "t", Options{})
	writeJSON(t, tb, `{"a":"text"}`)
	closeTable(t, tb)
	same(t, "as text", dump(t, openRead(t, path), `SELECT a FROM t`), []string{"1", "1.5", "1e+300", "1e-7", "text"})
}

func TestSchemaConflict(t *testing.T) {
	path := filepath.Join(t.TempDir(), "conflict.duckdb")
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE t (flag BOOLEAN, n INTEGER); INSERT INTO t VALUES (true, 1)`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	tests := []struct {
		rows []string
		want SchemaError
	}{
		{[]string{`{"flag":false}`, `{"flag":42}`}, SchemaError{Table: "t", Column: "flag", Have: "BOOLEAN", Want: "BIGINT", Example: "42"}},
		{[]string{`{"n":null}`, `{"n":5}`}, SchemaError{Table: "t", Column: "n", Have: "INTEGER", Want: "BIGINT", Example: "5"}},
		{[]string{`{"new":"x"}`, `{"new":{"a":1}}`}, SchemaError{Table: "t", Column: "new", Have: "VARCHAR", Want: "JSON", Example: `{"a":1}`}},
		{[]string{`{"new":[1]}`, `{"new":1}`}, SchemaError{Table: "t", Column: "new", Have: "JSON", Want: "BIGINT", Example: "1"}},
		{[]string{`{"FLAG":"2026-01-01T00:00:00Z"}`}, SchemaError{Table: "t", Column: "flag", Have: "BOOLEAN", Want: "VARCHAR", Example: `"2026-01-01T00:00:00Z"`}},
	}
	for _, tt := range tests {
		tb := openTable(t, path, "t", Options{})
		var err error
		for _, l := range tt.rows {
			if err = tb.Write(jsonRow(l)); err != nil {
				break
			}
		}
		if err == nil {
			err = tb.Close()
		} else if cerr := tb.Close(); !errors.Is(cerr, err) && cerr.Error() != err.Error() {
			t.Errorf("Close after the error = %v, want the same error", cerr)
		}
		var se *SchemaError
		if !errors.As(err, &se) || *se != tt.want {
			t.Errorf("rows %q: error %v, want %+v", tt.rows, err, tt.want)
			continue
		}
		for _, s := range []string{`"t"`, `"` + tt.want.Column + `"`, tt.want.Have, tt.want.Want} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error %q does not name %s", err, s)
			}
		}
		if tb.Written() != 0 {
			t.Errorf("Written = %d after a failed batch, want 0", tb.Written())
		}
		db := openRead(t, path)
		same(t, "table after the failed batch", dump(t, db, "SELECT * FROM t"), []string{"true|1"})
		same(t, "columns after the failed batch", describe(t, db, "t"), []string{"flag BOOLEAN", "n INTEGER"})
		db.Close()
	}
}

func TestConflictKeepsEarlierBatches(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.duckdb")
	tb := openTable(t, path, "t", Options{BatchRows: 2})
	writeJSON(t, tb, `{"b":true}`, `{"b":false}`, `{"b":true}`)
	err := tb.Write(jsonRow(`{"b":7}`))
	var se *SchemaError
	if !errors.As(err, &se) || se.Have != "BOOLEAN" || se.Want != "BIGINT" {
		t.Fatalf("error %v, want a BOOLEAN/BIGINT SchemaError", err)
	}
	if err2 := tb.Write(jsonRow(`{"b":true}`)); err2 == nil {
		t.Error("write after a failure succeeded")
	}
	tb.Close()
	if tb.Written() != 2 {
		t.Errorf("Written = %d, want 2", tb.Written())
	}
	if n := count(t, openRead(t, path), "SELECT count(*) FROM t"); n != 2 {
		t.Errorf("table has %d rows, want the first batch (2)", n)
	}
}

func TestAppendAndReplace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "modes.duckdb")
	for _, step := range []struct {
		mode Mode
		rows []string
		want []string
	}{
		{"", []string{`{"a":1}`}, []string{"1|NULL"}},
		{Append, []string{`{"a":2,"b":"x"}`}, []string{"1|NULL", "2|x"}},
		{Replace, []string{`{"z":true}`}, []string{"true"}},
		{Append, []string{`{"z":false}`}, []string{"true", "false"}},
	} {
		tb := openTable(t, path, "t", Options{Mode: step.mode})
		writeJSON(t, tb, step.rows...)
		closeTable(t, tb)
		db := openRead(t, path)
		if step.mode != Replace && step.want[0] == "1|NULL" && len(step.want) == 1 {
			// the first run has no b yet
			same(t, "first run", dump(t, db, "SELECT a FROM t"), []string{"1"})
			db.Close()
			continue
		}
		same(t, fmt.Sprintf("after %s", step.mode), dump(t, db, "SELECT * FROM t"), step.want)
		db.Close()
	}
	if _, err := OpenTable(path, "t", Options{Mode: "upsert"}); err == nil || !strings.Contains(err.Error(), "append or replace") {
		t.Errorf("bad mode: %v", err)
	}
}

func records(topic string, from, to int64, line func(i int64) string) []source.Record {
	var out []source.Record
	for i := from; i <= to; i++ {
		out = append(out, source.Record{Topic: topic, Offset: i, File: true, Value: []byte(line(i))})
	}
	return out
}

func writeRecords(t *testing.T, w interface {
	WriteRecord(*sink.Row, *source.Record) error
}, recs []source.Record) {
	t.Helper()
	for i := range recs {
		if err := w.WriteRecord(&sink.Row{JSON: recs[i].Value}, &recs[i]); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCoordinatesAndDedupe(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dedupe.duckdb")
	opts := Options{Coordinates: true, Dedupe: true, BatchRows: 40}
	line := func(i int64) string { return fmt.Sprintf(`{"n":%d}`, i) }
	run := func(recs []source.Record) *Table {
		tb := openTable(t, path, "t", opts)
		writeRecords(t, tb, recs)
		closeTable(t, tb)
		return tb
	}
	tb := run(records("a.jsonl", 1, 100, line))
	if tb.Written() != 100 || tb.Skipped() != 0 {
		t.Errorf("first run: written %d skipped %d, want 100 and 0", tb.Written(), tb.Skipped())
	}
	tb = run(records("a.jsonl", 1, 100, line))
	if tb.Written() != 100 || tb.Skipped() != 100 {
		t.Errorf("rerun: written %d skipped %d, want 100 and 100", tb.Written(), tb.Skipped())
	}
	// overlapping range, another file, and a Kafka record with key and time
	recs := append(records("a.jsonl", 90, 130, line), records("b.jsonl", 1, 5, line)...)
	recs = append(recs, source.Record{Topic: "t", Partition: 3, Offset: 7, Timestamp: 1767225600123, Key: []byte("k\xff"), Value: []byte(`{"n":0}`)})
	tb = run(recs)
	if tb.Written() != 47 || tb.Skipped() != 11 {
		t.Errorf("overlap: written %d skipped %d, want 47 and 11", tb.Written(), tb.Skipped())
	}
	db := openRead(t, path)
	same(t, "columns", describe(t, db, "t"), []string{"_topic VARCHAR", "_partition INTEGER", "_offset BIGINT", "_timestamp TIMESTAMP", "_key VARCHAR", "n BIGINT"})
	if n := count(t, db, "SELECT count(*) FROM t"); n != 136 {
		t.Errorf("%d rows, want 136", n)
	}
	if n := count(t, db, "SELECT count(*) FROM (SELECT DISTINCT _topic, _partition, _offset FROM t)"); n != 136 {
		t.Errorf("%d distinct coordinates, want 136", n)
	}
	same(t, "kafka row", dump(t, db, `SELECT * FROM t WHERE _topic = 't'`), []string{"t|3|7|2026-01-01 00:00:00.123|k\uFFFD|0"})
	same(t, "file row", dump(t, db, `SELECT * FROM t WHERE _topic = 'b.jsonl' AND _offset = 2`), []string{"b.jsonl|0|2|NULL|NULL|2"})

	// without Dedupe a rerun duplicates
	tb = openTable(t, path, "t", Options{Coordinates: true})
	writeRecords(t, tb, records("a.jsonl", 1, 10, line))
	closeTable(t, tb)
	if n := count(t, openRead(t, path), "SELECT count(*) FROM t"); n != 146 {
		t.Errorf("%d rows without dedupe, want 146", n)
	}
	if _, err := OpenTable(path, "t", Options{Dedupe: true}); err == nil {
		t.Error("Dedupe without Coordinates accepted")
	}
}

func TestDedupeAcrossSchemaChange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.duckdb")
	opts := Options{Coordinates: true, Dedupe: true}
	tb := openTable(t, path, "t", opts)
	writeRecords(t, tb, records("f", 1, 10, func(i int64) string { return fmt.Sprintf(`{"n":%d}`, i) }))
	closeTable(t, tb)
	// the rerun sees a float in the middle of its staged rows: n widens
	tb = openTable(t, path, "t", opts)
	writeRecords(t, tb, records("f", 5, 15, func(i int64) string {
		if i == 8 {
			return `{"n":8.5,"m":"new"}`
		}
		return fmt.Sprintf(`{"n":%d}`, i)
	}))
	closeTable(t, tb)
	if tb.Skipped() != 6 || tb.Written() != 11 {
		t.Errorf("written %d skipped %d, want 11 and 6", tb.Written(), tb.Skipped())
	}
	db := openRead(t, path)
	same(t, "columns", describe(t, db, "t")[5:], []string{"n DOUBLE", "m VARCHAR"})
	same(t, "rows", dump(t, db, "SELECT _offset, n, m FROM t WHERE _offset BETWEEN 7 AND 11 ORDER BY _offset"),
		[]string{"7|7.0|NULL", "8|8.0|NULL", "9|9.0|NULL", "10|10.0|NULL", "11|11.0|NULL"})
}

func TestBatchesAndWritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.duckdb")
	tb := openTable(t, path, "t", Options{BatchRows: 10})
	for i := range 25 {
		writeJSON(t, tb, fmt.Sprintf(`{"i":%d}`, i))
		if want := int64(i+1) / 10 * 10; tb.Written() != want {
			t.Fatalf("after %d rows Written = %d, want %d", i+1, tb.Written(), want)
		}
	}
	if err := tb.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if tb.Written() != 25 {
		t.Errorf("after Flush Written = %d, want 25", tb.Written())
	}
	closeTable(t, tb)
	if err := tb.Write(jsonRow(`{"i":1}`)); err == nil {
		t.Error("write after close succeeded")
	}
}

func TestRowErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.duckdb")
	tb := openTable(t, path, "t", Options{})
	for _, bad := range []string{`{}`, `[1]`, `{"a":1`, `{"a":true,"b":`, ``} {
		err := tb.Write(jsonRow(bad))
		var re *RowError
		if !errors.As(err, &re) {
			t.Errorf("Write(%q) = %v, want a RowError", bad, err)
		}
	}
	// a bad row leaves no trace: "a" was true in the broken row above
	writeJSON(t, tb, `{"a":1}`, `{}`)
	closeTable(t, tb)
	db := openRead(t, path)
	same(t, "rows", dump(t, db, "SELECT * FROM t"), []string{"1", "NULL"})
	same(t, "columns", describe(t, db, "t"), []string{"a BIGINT"})
}

func TestColumnNames(t *testing.T) {
	path := filepath.Join(t.TempDir(), "names.duckdb")
	tb := openTable(t, path, "My Table", Options{Coordinates: true})
	rec := source.Record{Topic: "x", Offset: 1, File: true}
	for _, l := range []string{`{"Price":1,"price":2,"_topic":"mine","_OFFSET":9,"we\"ird":"q","a":1,"a":2}`, `{"price":3}`} {
		if err := tb.WriteRecord(jsonRow(l), &rec); err != nil {
			t.Fatal(err)
		}
		rec.Offset++
	}
	closeTable(t, tb)
	db := openRead(t, path)
	same(t, "columns", describe(t, db, `"My Table"`)[5:], []string{"Price BIGINT", "_topic_ VARCHAR", "_OFFSET_ BIGINT", `we"ird VARCHAR`, "a BIGINT"})
	same(t, "rows", dump(t, db, `SELECT _offset, "Price", _topic_, _offset_, "we""ird", a FROM "My Table"`), []string{"1|2|mine|9|q|2", "2|3|NULL|NULL|NULL|NULL"})
	if err := tb.Write(jsonRow(`{}`)); err == nil {
		t.Error("Write without a record accepted with coordinates on")
	}

	// names DuckDB cannot take as they are
	path = filepath.Join(t.TempDir(), "odd.duckdb")
	tb = openTable(t, path, "t", Options{})
	writeJSON(t, tb, `{"":1,"a\u0000b":2,"x\ny":3,"select":4}`)
	closeTable(t, tb)
	same(t, "odd names", describe(t, openRead(t, path), "t"), []string{"_ BIGINT", "a\uFFFDb BIGINT", "x\ny BIGINT", "select BIGINT"})
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("not a database"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(file, "x.duckdb"), filepath.Join(dir, "missing", "x.duckdb"), file} {
		_, err := OpenTable(path, "t", Options{})
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("OpenTable(%s) = %v, want an error naming the path", path, err)
		}
	}
	if _, err := OpenTable(filepath.Join(dir, "ok.duckdb"), "", Options{}); err == nil {
		t.Error("empty table name accepted")
	}
}

func TestNoFieldsYet(t *testing.T) {
	path := filepath.Join(t.TempDir(), "n.duckdb")
	tb := openTable(t, path, "t", Options{})
	writeJSON(t, tb, `{"a":null}`, `{"a":null,"b":null}`, `{"a":5}`)
	closeTable(t, tb)
	db := openRead(t, path)
	// a column born from nulls only is text, and values widen into it
	same(t, "columns", describe(t, db, "t"), []string{"a VARCHAR", "b VARCHAR"})
	same(t, "rows", dump(t, db, "SELECT * FROM t"), []string{"NULL|NULL", "NULL|NULL", "5|NULL"})
}

func TestTimestampsFromRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ts.duckdb")
	tb := openTable(t, path, "t", Options{})
	writeJSON(t, tb, `{"at":"2026-03-01T10:00:00.5+01:00"}`, `{"at":"2026-03-01T10:00:00Z"}`)
	closeTable(t, tb)
	db := openRead(t, path)
	var got time.Time
	if err := db.QueryRow(`SELECT min("at") FROM t`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 3, 1, 9, 0, 0, 500e6, time.UTC); !got.Equal(want) {
		t.Errorf("min(at) = %v, want %v", got, want)
	}
}

// TIMESTAMP values go to DuckDB as microseconds: the ends of the range
// value.ParseTime reads and the milliseconds either side of the epoch keep
// their value.
func TestTimestampRange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ts.duckdb")
	tb := openTable(t, path, "t", Options{})
	ts := []string{"0001-01-01T00:00:00.000Z", "1969-12-31T23:59:59.999Z", "1970-01-01T00:00:00.001Z", "9999-12-31T23:59:59.999Z"}
	for _, s := range ts {
		writeJSON(t, tb, `{"at":"`+s+`"}`)
	}
	closeTable(t, tb)
	db := openRead(t, path)
	same(t, "columns", describe(t, db, "t"), []string{"at TIMESTAMP"})
	same(t, "rows", dump(t, db, `SELECT strftime("at", '%Y-%m-%dT%H:%M:%S.%gZ') FROM t`), ts)
}

// Two sinks can write two tables of one database file at the same time (a
// pipeline with two duckdb sinks): they share DuckDB's instance.
func TestTwoTablesOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "two.duckdb")
	a := openTable(t, path, "a", Options{BatchRows: 2})
	b := openTable(t, path, "b", Options{BatchRows: 3})
	for i := range 5 {
		writeJSON(t, a, fmt.Sprintf(`{"i":%d}`, i))
		writeJSON(t, b, fmt.Sprintf(`{"s":"%d"}`, i))
	}
	closeTable(t, a)
	closeTable(t, b)
	db := openRead(t, path)
	if n := count(t, db, "SELECT (SELECT count(*) FROM a) * 10 + (SELECT count(*) FROM b)"); n != 55 {
		t.Errorf("rows: %d, want 5 and 5", n)
	}
}
