package duck

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/value"
)

// JSON columns get the value compacted, with <, > and & escaped, through
// the table function's VARCHAR column.
func TestJSONText(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.duckdb")
	tb := openTable(t, path, "t", Options{})
	writeJSON(t, tb, `{"o": { "u" : "a&<b>", "l": [ 1, 2 ] }}`)
	closeTable(t, tb)
	db := openRead(t, path)
	same(t, "rows", dump(t, db, `SELECT o, o->>'$.u' FROM t`), []string{`{"u":"a\u0026\u003cb\u003e","l":[1,2]}|a&<b>`})
}

// Rows beyond flushRows are inserted in pieces inside one batch; a row that
// widens a column in the middle of a buffer flushes the rows before it.
func TestManyRowsOneBatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "many.duckdb")
	n := flushRows + 3*chunkCap + 17
	tb := openTable(t, path, "t", Options{Coordinates: true, BatchRows: 2 * flushRows})
	var row sink.Row
	rec := source.Record{Topic: "in.jsonl", File: true}
	for i := range n {
		line := fmt.Sprintf(`{"i":%d,"s":"row %d"}`, i, i)
		if i == n-5 {
			line = `{"i":"wide","s":null}`
		}
		row.JSON, rec.Offset = []byte(line), int64(i+1)
		if err := tb.WriteRecord(&row, &rec); err != nil {
			t.Fatal(err)
		}
	}
	closeTable(t, tb)
	db := openRead(t, path)
	same(t, "columns", describe(t, db, "t"), []string{
		"_topic VARCHAR", "_partition INTEGER", "_offset BIGINT", "_timestamp TIMESTAMP", "_key VARCHAR", "i VARCHAR", "s VARCHAR"})
	if got := count(t, db, `SELECT count(*) FROM t WHERE i = CAST(_offset - 1 AS VARCHAR) AND s = 'row ' || i AND _topic = 'in.jsonl'
		AND _partition = 0 AND _timestamp IS NULL AND _key IS NULL`); got != int64(n-1) {
		t.Errorf("%d rows as written, want %d", got, n-1)
	}
	same(t, "wide row", dump(t, db, fmt.Sprintf(`SELECT i, s FROM t WHERE _offset = %d`, n-4)), []string{"wide|NULL"})
	if got := dump(t, db, `SELECT min(_offset), max(_offset), count(*) FROM t`); strings.Join(got, "") != fmt.Sprintf("1|%d|%d", n, n) {
		t.Errorf("offsets %v, want 1..%d", got, n)
	}
}

// Columns that hold one value in every buffered row are written as literals
// of the INSERT: NULL, or a string (quoted; not when it holds NUL or is
// long); a buffer with only such columns still inserts all its rows.
func TestLiteralColumns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lit.duckdb")
	long := strings.Repeat("x", maxLiteral+1)
	tb := openTable(t, path, "t", Options{BatchRows: 3})
	writeJSON(t, tb,
		`{"q":"it's","z":"a\u0000b","l":"`+long+`","n":null,"v":1,"w":"a"}`,
		`{"q":"it's","z":"a\u0000b","l":"`+long+`","n":null,"v":2,"w":"b"}`,
		`{"q":"it's","z":"a\u0000b","l":"`+long+`","n":null,"v":3,"w":"a"}`,
		`{"q":"other","z":"a\u0000b","l":"`+long+`","n":null}`,
		`{"q":"other"}`,
	)
	closeTable(t, tb)
	db := openRead(t, path)
	same(t, "rows", dump(t, db, `SELECT q, replace(z, chr(0), '0'), l = '`+long+`', n, v, w FROM t`), []string{
		"it's|a0b|true|NULL|1|a", "it's|a0b|true|NULL|2|b", "it's|a0b|true|NULL|3|a", "other|a0b|true|NULL|NULL|NULL", "other|NULL|NULL|NULL|NULL|NULL"})
}

// Integer and boolean columns with one value in a whole buffer are literals
// too, typed as their column (the smallest BIGINT included); the next buffer
// decides again.
func TestLiteralNumbers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lit.duckdb")
	tb := openTable(t, path, "t", Options{BatchRows: 3, Coordinates: true})
	var row sink.Row
	rec := source.Record{Topic: "in.jsonl", Partition: 3, File: true}
	for i, line := range []string{
		`{"min":-9223372036854775808,"b":true,"v":1}`,
		`{"min":-9223372036854775808,"b":true,"v":1}`,
		`{"min":-9223372036854775808,"b":true,"v":1}`,
		`{"min":9223372036854775807,"b":false,"v":1}`,
		`{"min":9223372036854775807,"b":false,"v":null}`,
		`{"min":0,"b":true,"v":2}`,
	} {
		row.JSON, rec.Offset = []byte(line), int64(i)
		if i == 5 {
			rec.Partition = 4
		}
		if err := tb.WriteRecord(&row, &rec); err != nil {
			t.Fatal(err)
		}
	}
	closeTable(t, tb)
	db := openRead(t, path)
	same(t, "columns", describe(t, db, "t"), []string{
		"_topic VARCHAR", "_partition INTEGER", "_offset BIGINT", "_timestamp TIMESTAMP", "_key VARCHAR", "min BIGINT", "b BOOLEAN", "v BIGINT"})
	same(t, "rows", dump(t, db, `SELECT _partition, _offset, min, b, v FROM t`), []string{
		"3|0|-9223372036854775808|true|1", "3|1|-9223372036854775808|true|1", "3|2|-9223372036854775808|true|1",
		"3|3|9223372036854775807|false|1", "3|4|9223372036854775807|false|NULL", "4|5|0|true|2"})
}

// put's fast path (takes) accepts exactly the values fit lets into a column
// of the table unchanged: the same type back, no conversion, no error.
func TestTakesAgreesWithFit(t *testing.T) {
	w := &writer{table: "t"}
	vals := []value.Value{{}, value.OfBool(true), value.OfInt(1), value.OfFloat(1.5), value.OfTime(1767225600000),
		value.OfString("x"), value.OfString("2026-01-01T00:00:00Z"), value.OfJSON(`{"a":1}`)}
	for typ := tBigint; typ <= tOther; typ++ {
		for _, v := range vals {
			c := &column{name: "c", typ: typ, pos: 0}
			fast := takes[typ]&(1<<v.K) != 0
			if v.K == value.Null {
				if !fast {
					t.Errorf("%s: a NULL does not take the fast path", typ)
				}
				continue
			}
			p := v
			got, err := w.fit(c, &p)
			if slow := err == nil && got == typ && p == v; fast != slow {
				t.Errorf("%s, %s %q: fast path %v, fit gives %s, %v, %#v", typ, v.K, v.S, fast, got, err, p)
			}
		}
	}
}
