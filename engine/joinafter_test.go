package engine_test

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
	"time"
)

// TestJoinAfterDifferentialDuckDB runs random streams through a join
// followed by a filter and a tumbling window, and requires DuckDB's rows:
// the same join, the filter, then a GROUP BY over the joined rows' event
// time — the later of the two rows' times for an interval join (the left
// row's without a match), the window's end − 1 ms for a window join. No
// record is late (the disorder is within max_out_of_order), and neither
// is any joined row at the window after the join.
func TestJoinAfterDifferentialDuckDB(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	seeds := 6
	if testing.Short() {
		seeds = 2
	}
	keys := []string{"a", "b", "c"}
	const bucket = 20 // the window after the join, in ms
	for seed := range uint64(seeds) {
		for _, kind := range []string{"inner", "left", "tumbling/inner", "tumbling/left", "hopping/left"} {
			win, typ, _ := strings.Cut(kind, "/")
			if typ == "" {
				win, typ = "", win
			}
			t.Run(fmt.Sprintf("%s/seed=%d", kind, seed), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, 11))
				dir := t.TempDir()
				lower := time.Duration(rng.Int64N(40)-30) * time.Millisecond
				upper := lower + time.Duration(rng.Int64N(40))*time.Millisecond
				const ooo = 50 * time.Millisecond
				gen := func(n int, val string) string {
					var lines []string
					var base int64 = 1_700_000_000_000
					for i := range n {
						base += rng.Int64N(4)
						r := joinRec{ms: base - rng.Int64N(int64(ooo/time.Millisecond)), id: i, v: rng.IntN(1000)}
						if rng.IntN(20) > 0 {
							r.k = &keys[rng.IntN(len(keys))]
						}
						lines = append(lines, r.line(val))
					}
					return strings.Join(lines, "\n") + "\n"
				}
				lf, rf := filepath.Join(dir, "l.jsonl"), filepath.Join(dir, "r.jsonl")
				if err := os.WriteFile(lf, []byte(gen(300, "v")), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(rf, []byte(gen(200, "w")), 0o644); err != nil {
					t.Fatal(err)
				}
				size := 1 + rng.Int64N(40)
				slide := 1 + rng.Int64N(size)
				window := ""
				switch win {
				case "tumbling":
					window = fmt.Sprintf("{tumbling: %dms}", size)
				case "hopping":
					window = fmt.Sprintf("{hopping: {size: %dms, slide: %dms}}", size, slide)
				}
				spec := joinSpec(dir, lower, upper, ooo, typ, window) + fmt.Sprintf(`  - filter: v %% 3 != 0
  - window:
      tumbling: %dms
      key: [rid]
      aggregate: {n: count(), s: sum(v)}
`, bucket)
				raw, st, e := runJoinRaw(t, spec)
				if st.Late != 0 || st.Dead != 0 || st.In != 500 || st.In != st.Passed+st.Filtered+st.Dead+st.Late {
					t.Fatalf("stats %v: 500 records, none late or dead", st)
				}
				pub := e.Published()
				for _, s := range pub.Stages {
					if s.Late != 0 || s.Dead != 0 || s.In != s.Passed+s.Filtered {
						t.Errorf("stage %d %s: %+v", s.Index, s.Kind, s)
					}
				}
				if n := pub.Stages[len(pub.Stages)-1].Passed; n == 0 {
					t.Errorf("the window after the join took no rows: %+v", pub.Stages)
				}
				var got []string
				for _, r := range raw {
					var m struct {
						RID *int   `json:"rid"`
						WS  string `json:"window_start"`
						N   int    `json:"n"`
						S   int    `json:"s"`
					}
					if err := json.Unmarshal(r, &m); err != nil {
						t.Fatalf("row %s: %v", r, err)
					}
					rid := "null"
					if m.RID != nil {
						rid = fmt.Sprint(*m.RID)
					}
					got = append(got, fmt.Sprintf("%s,%s,%d,%d", rid, m.WS, m.N, m.S))
				}
				join := "JOIN"
				if typ == "left" {
					join = "LEFT JOIN"
				}
				// the joined rows with their event time et
				joined := fmt.Sprintf(`SELECT l.v, r.id AS rid, CASE WHEN r.ms IS NULL THEN l.ms ELSE greatest(l.ms, r.ms) END AS et
					FROM read_json_auto('%s') l %s read_json_auto('%s') r
					ON l.k = r.k AND l.ms BETWEEN r.ms + %d AND r.ms + %d`, lf, join, rf, lower.Milliseconds(), upper.Milliseconds())
				if win != "" {
					step := size
					if win == "hopping" {
						step = slide
					}
					sides := `(SELECT *, unnest(range((ms - %[1]d) // %[2]d * %[2]d + %[2]d, ms + 1, %[2]d)) AS ws FROM read_json_auto('%[3]s'))`
					joined = fmt.Sprintf(`SELECT l.v, r.id AS rid, l.ws + %d - 1 AS et FROM %s l %s %s r ON l.k = r.k AND l.ws = r.ws`,
						size, fmt.Sprintf(sides, size, step, lf), join, fmt.Sprintf(sides, size, step, rf))
				}
				q := fmt.Sprintf(`SELECT coalesce(rid::VARCHAR, 'null'), strftime(make_timestamp((et // %[1]d * %[1]d) * 1000), '%%Y-%%m-%%dT%%H:%%M:%%S.%%g') || 'Z', count(*), sum(v)
					FROM (%[2]s) WHERE v %% 3 != 0 GROUP BY rid, et // %[1]d`, bucket, joined)
				rs, err := db.Query(q)
				if err != nil {
					t.Fatalf("%v\n%s", err, q)
				}
				var want []string
				for rs.Next() {
					var rid, ws string
					var n, s int
					if err := rs.Scan(&rid, &ws, &n, &s); err != nil {
						t.Fatal(err)
					}
					want = append(want, fmt.Sprintf("%s,%s,%d,%d", rid, ws, n, s))
				}
				if err := rs.Err(); err != nil {
					t.Fatal(err)
				}
				rs.Close()
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Fatalf("between [%v, %v] window %q %s: engine %d rows, DuckDB %d\nengine only: %v\nduckdb only: %v", lower, upper, window, typ,
						len(got), len(want), minus(got, want), minus(want, got))
				}
				if len(want) < 2 {
					t.Fatalf("%d rows: the case tests too little", len(want))
				}
			})
		}
	}
}

// TestJoinUntilTopDifferentialDuckDB joins random streams with until (each
// left row's u bounds its matches' time) and ranks each left row's matches
// with a top right after the join, against DuckDB's LEFT JOIN or JOIN with
// r.ms <= l.u in the ON and rank() OVER (PARTITION BY the left row).
func TestJoinUntilTopDifferentialDuckDB(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	keys := []string{"a", "b", "c"}
	for seed := range uint64(6) {
		for _, typ := range []string{"inner", "left"} {
			t.Run(fmt.Sprintf("%s/seed=%d", typ, seed), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, 13))
				dir := t.TempDir()
				lower := -time.Duration(rng.Int64N(40)) * time.Millisecond
				const ooo = 50 * time.Millisecond
				gen := func(n int, val string, until bool) string {
					var lines []string
					var base int64 = 1_700_000_000_000
					for i := range n {
						base += rng.Int64N(4)
						r := joinRec{ms: base - rng.Int64N(int64(ooo/time.Millisecond)), id: i, v: rng.IntN(5)}
						if rng.IntN(20) > 0 {
							r.k = &keys[rng.IntN(len(keys))]
						}
						line := r.line(val)
						if until && rng.IntN(10) > 0 {
							line = strings.TrimSuffix(line, "}") + fmt.Sprintf(`,"u":%d}`, r.ms+rng.Int64N(-lower.Milliseconds()+1))
						}
						lines = append(lines, line)
					}
					return strings.Join(lines, "\n") + "\n"
				}
				lf, rf := filepath.Join(dir, "l.jsonl"), filepath.Join(dir, "r.jsonl")
				if err := os.WriteFile(lf, []byte(gen(300, "v", true)), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(rf, []byte(gen(300, "w", false)), 0o644); err != nil {
					t.Fatal(err)
				}
				spec := strings.Replace(joinSpec(dir, lower, 0, ooo, typ, ""), "      type:", "      until: u\n      type:", 1) +
					"  - top: {k: 2, by: w desc, ties: true}\n"
				got, st, e := runJoinSpec(t, spec)
				if st.Late != 0 || st.Dead != 0 || st.In != 600 {
					t.Fatalf("stats %v: 600 records, none late or dead", st)
				}
				pub := e.Published()
				top := pub.Stages[len(pub.Stages)-1]
				if top.In != top.Passed+top.Filtered || top.Filtered == 0 {
					t.Errorf("the top: %+v, want some rows ranked out", top)
				}
				join := "JOIN"
				if typ == "left" {
					join = "LEFT JOIN"
				}
				q := fmt.Sprintf(`SELECT id, v, rid, w, '' FROM (
					SELECT l.id, l.v, r.id AS rid, r.w, rank() OVER (PARTITION BY l.id ORDER BY r.w DESC NULLS LAST) AS rk
					FROM read_json_auto('%s') l %s read_json_auto('%s') r
					ON l.k = r.k AND l.ms BETWEEN r.ms + %d AND r.ms AND r.ms <= l.u
				) WHERE rk <= 2`, lf, join, rf, lower.Milliseconds())
				rs, err := db.Query(q)
				if err != nil {
					t.Fatalf("%v\n%s", err, q)
				}
				var want []string
				for rs.Next() {
					var o joinOut
					var rid, w sql.NullInt64
					if err := rs.Scan(&o.ID, &o.V, &rid, &w, &o.WS); err != nil {
						t.Fatal(err)
					}
					if rid.Valid {
						a, b := int(rid.Int64), int(w.Int64)
						o.RID, o.W = &a, &b
					}
					want = append(want, o.String())
				}
				if err := rs.Err(); err != nil {
					t.Fatal(err)
				}
				rs.Close()
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Fatalf("between [%v, 0s] until u %s: engine %d rows, DuckDB %d\nengine only: %v\nduckdb only: %v", lower, typ,
						len(got), len(want), minus(got, want), minus(want, got))
				}
				if len(want) < 10 {
					t.Fatalf("%d rows: the case tests too little", len(want))
				}
			})
		}
	}
}
