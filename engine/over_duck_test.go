package engine

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"
)

// TestOverDifferentialDuckDB runs random rows (one per millisecond, so
// each is a window of its own and they reach the over stage in time
// order) through an over stage and requires DuckDB's window functions:
// f(v) OVER (PARTITION BY g ORDER BY ts ROWS BETWEEN N PRECEDING AND
// CURRENT ROW).
func TestOverDifferentialDuckDB(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for seed := range uint64(4) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 3))
			n := rng.IntN(5)
			var lines []string
			for i := range 400 {
				v := "null"
				if rng.IntN(8) > 0 {
					v = fmt.Sprint(rng.IntN(200) - 100)
				}
				lines = append(lines, fmt.Sprintf(`{"ts":%d,"g":"%c","v":%s}`, 1000+i, 'a'+rng.IntN(4), v))
			}
			f := filepath.Join(t.TempDir(), "in.jsonl")
			if err := os.WriteFile(f, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			spec := fmt.Sprintf(`time: {field: ts}
stages:
  - window: {tumbling: 1ms, key: [g, ts], aggregate: {v: max(v)}}
  - over: {key: [g], rows: %d, aggregate: {s: sum(v), a: avg(v), c: count(v), r: count(), lo: min(v), hi: max(v)}}
`, n)
			rows, dead, _ := runSpec(t, spec, lines...)
			if len(dead) > 0 {
				t.Fatalf("dead letters: %v", dead)
			}
			cols := []string{"g", "ts", "s", "a", "c", "r", "lo", "hi"}
			str := func(x any) string {
				switch y := x.(type) {
				case nil:
					return "null"
				case float64:
					return fmt.Sprintf("%.9g", y)
				case int64:
					return fmt.Sprintf("%.9g", float64(y))
				}
				return fmt.Sprint(x)
			}
			var got []string
			for _, r := range rows {
				var m map[string]any
				if err := json.Unmarshal([]byte(r), &m); err != nil {
					t.Fatal(err)
				}
				var f []string
				for _, c := range cols {
					f = append(f, str(m[c]))
				}
				got = append(got, strings.Join(f, " "))
			}
			res, err := db.Query(fmt.Sprintf(`SELECT g, ts::DOUBLE, sum(v) OVER w::DOUBLE, avg(v) OVER w, (count(v) OVER w)::DOUBLE,
  (count(*) OVER w)::DOUBLE, (min(v) OVER w)::DOUBLE, (max(v) OVER w)::DOUBLE
FROM read_json('%s', columns = {ts: 'BIGINT', g: 'VARCHAR', v: 'BIGINT'})
WINDOW w AS (PARTITION BY g ORDER BY ts ROWS BETWEEN %d PRECEDING AND CURRENT ROW)`, f, n))
			if err != nil {
				t.Fatal(err)
			}
			defer res.Close()
			var want []string
			for res.Next() {
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := res.Scan(ptrs...); err != nil {
					t.Fatal(err)
				}
				var f []string
				for _, v := range vals {
					f = append(f, str(v))
				}
				want = append(want, strings.Join(f, " "))
			}
			if err := res.Err(); err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			slices.Sort(want)
			if len(want) != 400 {
				t.Fatalf("DuckDB has %d rows", len(want))
			}
			if !slices.Equal(got, want) {
				for i := range min(len(got), len(want)) {
					if got[i] != want[i] {
						t.Fatalf("rows=%d: %d rows, DuckDB %d; first difference:\n engine %s\n DuckDB %s", n, len(got), len(want), got[i], want[i])
					}
				}
				t.Fatalf("%d rows, DuckDB %d", len(got), len(want))
			}
		})
	}
}
