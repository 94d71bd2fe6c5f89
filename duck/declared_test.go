package duck

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestDeclared: columns with declared types (Table.SetDeclared), across
// schema versions, batches and an existing table's JSON column.
func TestDeclared(t *testing.T) {
	path := filepath.Join(t.TempDir(), "declared.duckdb")
	// an earlier export without declared types: o is a JSON column
	tb := openTable(t, path, "t", Options{})
	writeJSON(t, tb, `{"id":1,"o":{"a":1},"d":1.25}`)
	closeTable(t, tb)

	tb = openTable(t, path, "t", Options{BatchRows: 2})
	v1 := map[string]string{"o": `STRUCT("a" BIGINT)`, "d": "DECIMAL(6,2)", "l": "BIGINT[]"}
	v2 := map[string]string{"o": `STRUCT("a" BIGINT, "b" STRUCT("x" VARCHAR))`, "d": "DECIMAL(12,4)", "l": "BIGINT[]"}
	tb.SetDeclared(v1)
	writeJSON(t, tb, `{"id":2,"o":{"a":2},"d":"9999.99","l":[1,2]}`)
	tb.SetDeclared(v2)
	writeJSON(t, tb, `{"id":3,"o":{"a":3,"b":{"x":"y"}},"d":12345678.1234,"l":null}`)
	tb.SetDeclared(v1) // an older version again: the column holds it already
	writeJSON(t, tb, `{"id":4,"o":{"a":4},"d":0.5}`)
	closeTable(t, tb)

	db := openRead(t, path)
	same(t, "columns", describe(t, db, "t"), []string{"id BIGINT", "o STRUCT(a BIGINT, b STRUCT(x VARCHAR))", "d DECIMAL(12,4)", "l BIGINT[]"})
	same(t, "rows", dump(t, db, `SELECT id, o, d, l FROM t ORDER BY id`), []string{
		`1|{'a': 1, 'b': NULL}|1.2500|NULL`,
		`2|{'a': 2, 'b': NULL}|9999.9900|[1, 2]`,
		`3|{'a': 3, 'b': {'x': y}}|12345678.1234|NULL`,
		`4|{'a': 4, 'b': NULL}|0.5000|NULL`,
	})

	// a field whose declared type goes away and whose value is a plain
	// string fails, not a silent NULL: in a table opened again (its
	// STRUCT column takes no strings) and in the same export (DuckDB does
	// not read the string as JSON)
	tb = openTable(t, path, "t", Options{})
	tb.SetDeclared(nil)
	var se *SchemaError
	if err := tb.Write(jsonRow(`{"id":5,"o":"not a record"}`)); !errors.As(err, &se) {
		t.Errorf("write to a STRUCT column: %v, want a SchemaError", err)
	}
	tb.Close()
	tb = openTable(t, path, "u", Options{})
	tb.SetDeclared(v1)
	writeJSON(t, tb, `{"id":1,"o":{"a":1}}`)
	tb.SetDeclared(nil)
	writeJSON(t, tb, `{"id":2,"o":"not a record"}`)
	if err := tb.Close(); err == nil || !strings.Contains(err.Error(), "JSON") {
		t.Errorf("close: %v, want DuckDB's JSON error", err)
	}
	if n := count(t, openRead(t, path), `SELECT count(*) FROM t`); n != 4 {
		t.Errorf("%d rows, want 4", n)
	}
}
