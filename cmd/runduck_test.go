package cmd

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/eddyhq/eddy/fixtures"
	"github.com/eddyhq/eddy/internal/runtest"
)

// eddy run with DuckDB and Parquet sinks writes the same rows as the JSON
// Lines sink, with window bounds as TIMESTAMP columns.
func TestRunDuckDBAndParquetSinks(t *testing.T) {
	dir := t.TempDir()
	lines := genLines(t, "nexmark", fixtures.Options{Count: 5000, Seed: 9, Only: "bids"})
	in := runtest.WriteFile(t, dir, "bids.jsonl", strings.Join(lines, "\n")+"\n")
	spec := runtest.WriteFile(t, dir, "p.yaml", `time: {field: dateTime}
stages:
  - window: {tumbling: 1s, key: [auction], aggregate: {n: count(), top: max(price), avg_price: avg(price)}}
sinks:
  - file: out.jsonl
  - duckdb: {path: out.duckdb, table: bids_per_auction, mode: replace}
  - parquet: {path: out.parquet}
`)
	for range 2 { // replace mode: a second run does not duplicate
		if code, _, stderr := runCLI(t, "", "run", spec, "--input", in); code != 0 {
			t.Fatalf("run: %d %s", code, stderr)
		}
	}
	jsonRows := len(runtest.SortedLines(readFile(t, filepath.Join(dir, "out.jsonl"))))
	db, err := sql.Open("duckdb", filepath.Join(dir, "out.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM bids_per_auction").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != jsonRows {
		t.Errorf("duckdb rows = %d, json rows = %d", n, jsonRows)
	}
	types := map[string]string{}
	rows, err := db.Query("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'bids_per_auction'")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c, ty string
		_ = rows.Scan(&c, &ty)
		types[c] = ty
	}
	for c, want := range map[string]string{"auction": "BIGINT", "window_start": "TIMESTAMP", "window_end": "TIMESTAMP", "n": "BIGINT", "top": "BIGINT", "avg_price": "DOUBLE"} {
		if types[c] != want {
			t.Errorf("column %s is %q, want %s (all: %v)", c, types[c], want, types)
		}
	}
	if err := db.QueryRow("SELECT count(*) FROM read_parquet(?)", filepath.Join(dir, "out.parquet")).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != jsonRows {
		t.Errorf("parquet rows = %d, json rows = %d", n, jsonRows)
	}
}
