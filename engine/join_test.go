package engine_test

import (
	"context"
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

	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/fixtures"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/value"
)

// joinRec is one record of a join test: key k (nil: missing), event time
// ms, id and a value.
type joinRec struct {
	k  *string
	ms int64
	id int
	v  int
}

func (r joinRec) line(val string) string {
	m := map[string]any{"t": value.FormatTime(r.ms), "ms": r.ms, "id": r.id, val: r.v}
	if r.k != nil {
		m["k"] = *r.k
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// joinSpec is the spec of a join of source l with source r: an interval
// join, or with window set a window join.
func joinSpec(dir string, lower, upper, ooo time.Duration, typ, window string) string {
	bounds := fmt.Sprintf("between: [%s, %s]", lower, upper)
	if window != "" {
		bounds = "window: " + window
	}
	return fmt.Sprintf(`sources:
  l: {file: %s}
  r: {file: %s}
time: {field: t, max_out_of_order: %s}
stages:
  - join:
      with: r
      on: {k: k}
      %s
      type: %s
      select: [id, v, {rid: r.id}, r.w]
`, filepath.Join(dir, "l.jsonl"), filepath.Join(dir, "r.jsonl"), ooo, bounds, typ)
}

type joinOut struct {
	ID  int    `json:"id"`
	V   int    `json:"v"`
	RID *int   `json:"rid"`
	W   *int   `json:"w"`
	WS  string `json:"window_start"` // window joins
}

func (o joinOut) String() string {
	f := func(p *int) string {
		if p == nil {
			return "null"
		}
		return fmt.Sprint(*p)
	}
	return fmt.Sprintf("%d,%d,%s,%s,%s", o.ID, o.V, f(o.RID), f(o.W), o.WS)
}

// runJoinRaw runs spec over its file sources through source.Merge and
// Run, and returns the rows' JSON, the stats and the engine.
func runJoinRaw(t *testing.T, spec string) ([][]byte, engine.Stats, *engine.Engine) {
	t.Helper()
	p, err := pipeline.Parse("j.yaml", []byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := pipeline.Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	out := &rowSink{}
	e, err := engine.New(plan, engine.Options{Sinks: []sink.Sink{out}})
	if err != nil {
		t.Fatal(err)
	}
	var srcs []source.Source
	for _, ns := range p.Sources {
		srcs = append(srcs, mustOpen(t, ns.File))
	}
	m := source.NewMerge(srcs...)
	defer m.Close()
	if err := engine.Run(context.Background(), m, e); err != nil {
		t.Fatal(err)
	}
	return out.rows, e.Stats(), e
}

// runJoinSpec is runJoinRaw with the rows as joinOut strings, in output
// order.
func runJoinSpec(t *testing.T, spec string) ([]string, engine.Stats, *engine.Engine) {
	t.Helper()
	raw, st, e := runJoinRaw(t, spec)
	var rows []string
	for _, r := range raw {
		var o joinOut
		if err := json.Unmarshal(r, &o); err != nil {
			t.Fatalf("row %s: %v", r, err)
		}
		rows = append(rows, o.String())
	}
	return rows, st, e
}

// TestJoinDifferentialDuckDB joins random streams with the engine and with
// DuckDB (l JOIN r ON l.k = r.k AND l.ms BETWEEN r.ms + LOWER AND r.ms +
// UPPER, or a LEFT JOIN) and requires the same rows. The disorder of each
// source is below max_out_of_order, so nothing is late and the two must
// agree; the engine's order must not depend on how the sources interleave.
func TestJoinDifferentialDuckDB(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	seeds := 12
	if testing.Short() {
		seeds = 4
	}
	keys := []string{"a", "b", "c", `x"y`}
	for seed := range uint64(seeds) {
		for _, kind := range []string{"inner", "left", "tumbling/inner", "tumbling/left", "hopping/inner", "hopping/left"} {
			win, typ, _ := strings.Cut(kind, "/")
			if typ == "" {
				win, typ = "", win
			}
			t.Run(fmt.Sprintf("%s/seed=%d", kind, seed), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, 7))
				dir := t.TempDir()
				lower := time.Duration(rng.Int64N(40)-30) * time.Millisecond
				upper := lower + time.Duration(rng.Int64N(40))*time.Millisecond
				if seed%4 == 0 {
					upper = lower // a point interval
				}
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
				if err := os.WriteFile(filepath.Join(dir, "l.jsonl"), []byte(gen(300, "v")), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "r.jsonl"), []byte(gen(200, "w")), 0o644); err != nil {
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
				spec := joinSpec(dir, lower, upper, ooo, typ, window)
				got, st, e := runJoinSpec(t, spec)
				if st.Late != 0 || st.Dead != 0 {
					t.Fatalf("stats %v: nothing should be late or dead", st)
				}
				if st.In != 500 || st.In != st.Passed+st.Filtered+st.Dead+st.Late {
					t.Fatalf("stats %v do not add up to 500 records", st)
				}
				var sum engine.SourceStats
				for _, s := range e.SourceStats() {
					if s.In != s.Passed+s.Filtered+s.Dead+s.Late {
						t.Errorf("source %s: %+v does not add up", s.Source, s)
					}
					sum.In, sum.Passed, sum.Filtered = sum.In+s.In, sum.Passed+s.Passed, sum.Filtered+s.Filtered
				}
				if sum.In != st.In || sum.Passed != st.Passed || sum.Filtered != st.Filtered {
					t.Errorf("by source %+v, totals %v", sum, st)
				}
				again, _, _ := runJoinSpec(t, spec)
				if !slices.Equal(got, again) {
					t.Fatalf("two runs gave the rows in different orders")
				}
				join := "JOIN"
				if typ == "left" {
					join = "LEFT JOIN"
				}
				lf, rf := filepath.Join(dir, "l.jsonl"), filepath.Join(dir, "r.jsonl")
				q := fmt.Sprintf(`SELECT l.id, l.v, r.id, r.w, '' FROM read_json_auto('%s') l %s read_json_auto('%s') r
					ON l.k = r.k AND l.ms BETWEEN r.ms + %d AND r.ms + %d`, lf, join, rf, lower.Milliseconds(), upper.Milliseconds())
				if win != "" {
					// each row once per window it is in (a tumbling
					// window is a hopping one with slide = size)
					step := size
					if win == "hopping" {
						step = slide
					}
					sides := fmt.Sprintf(`(SELECT *, unnest(range((ms - %[1]d) // %[2]d * %[2]d + %[2]d, ms + 1, %[2]d)) AS ws FROM read_json_auto('%%s'))`, size, step)
					q = fmt.Sprintf(`SELECT l.id, l.v, r.id, r.w, strftime(make_timestamp(l.ws * 1000), '%%Y-%%m-%%dT%%H:%%M:%%S.%%g') || 'Z'
						FROM %s l %s %s r ON l.k = r.k AND l.ws = r.ws`, fmt.Sprintf(sides, lf), join, fmt.Sprintf(sides, rf))
				}
				rs, err := db.Query(q)
				if err != nil {
					t.Fatal(err)
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
				sorted := slices.Clone(got)
				slices.Sort(sorted)
				slices.Sort(want)
				if !slices.Equal(sorted, want) {
					t.Fatalf("between [%v, %v] window %q %s: engine %d rows, DuckDB %d\nengine only: %v\nduckdb only: %v", lower, upper, window, typ,
						len(sorted), len(want), minus(sorted, want), minus(want, sorted))
				}
				if len(want) == 0 {
					t.Fatalf("no rows: the case tests nothing")
				}
			})
		}
	}
}

// minus returns the elements of a not in b (multisets, sorted).
func minus(a, b []string) []string {
	var out []string
	i := 0
	for _, x := range a {
		for i < len(b) && b[i] < x {
			i++
		}
		if i < len(b) && b[i] == x {
			i++
			continue
		}
		out = append(out, x)
	}
	if len(out) > 10 {
		out = out[:10]
	}
	return out
}

// TestJoinLatePerSide feeds the two sources in a chosen order (SetSource,
// one batch each) and checks which rows are late on which side, their dead
// letters, and that the totals and the counts by source add up.
func TestJoinLatePerSide(t *testing.T) {
	spec := `sources:
  l: {file: l.jsonl}
  r: {file: r.jsonl}
time: {field: t, max_out_of_order: 0s, allowed_lateness: 1s}
stages:
  - filter: _source == "r" || v > 0
  - join:
      with: r
      on: {k: k}
      between: [-1s, 1s]
      type: left
      select: [id, v, {rid: r.id}, r.w]
`
	p, err := pipeline.Parse("j.yaml", []byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := pipeline.Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	out, dead := &rowSink{}, &deadSink{}
	e, err := engine.New(plan, engine.Options{Sinks: []sink.Sink{out}, Dead: dead})
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) string { return `"2026-01-01T00:00:` + s + `Z"` }
	feed := func(src int, lines ...string) {
		e.SetSource(src)
		var recs []source.Record
		for i, l := range lines {
			recs = append(recs, source.Record{Value: []byte(l), Topic: []string{"l.jsonl", "r.jsonl"}[src], Offset: int64(i + 1), File: true})
		}
		if err := e.Process(recs); err != nil {
			t.Fatal(err)
		}
	}
	feed(1, `{"k":"a","t":`+at("10")+`,"id":1,"w":10}`)
	feed(0, `{"k":"a","t":`+at("10.5")+`,"id":1,"v":1}`, `{"k":"a","t":`+at("20")+`,"id":2,"v":1}`, `{"k":"b","t":`+at("20")+`,"id":3,"v":0}`)
	// the watermark is at 10 (r's) until r moves: r at 30 moves it to 20
	// (l's), and the left row at 10.5 has all its matches
	feed(1, `{"k":"a","t":`+at("30")+`,"id":2,"w":20}`)
	// now the watermark is 20: a left row at 18.999 is late, one at 19 not;
	// a right row at 18 is late
	feed(0, `{"k":"a","t":`+at("18.999")+`,"id":4,"v":1}`, `{"k":"a","t":`+at("19")+`,"id":5,"v":1}`)
	feed(1, `{"k":"a","t":`+at("18")+`,"id":3,"w":30}`, `{"t":`+at("31")+`,"id":4,"w":40}`)
	if err := e.Finish(); err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, r := range out.rows {
		rows = append(rows, string(r))
	}
	want := []string{
		`{"id":1,"v":1,"rid":1,"w":10}`,
		`{"id":5,"v":1,"rid":null,"w":null}`,
		`{"id":2,"v":1,"rid":null,"w":null}`,
	}
	if !slices.Equal(rows, want) {
		t.Errorf("rows\n%s\nwant\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
	if l, r := e.JoinLate(); l != 1 || r != 1 {
		t.Errorf("late left %d, right %d; want 1 and 1", l, r)
	}
	st := e.Stats()
	// in 9: the left row with v 0 filtered, the right row without k
	// filtered (a null key), one late row per side
	if st.In != 9 || st.Filtered != 2 || st.Late != 2 || st.Passed != 5 || st.Rows != 3 {
		t.Errorf("stats %v", st)
	}
	for _, s := range e.SourceStats() {
		if s.In != s.Passed+s.Filtered+s.Dead+s.Late {
			t.Errorf("source %s: %+v does not add up", s.Source, s)
		}
		if s.Late != 1 {
			t.Errorf("source %s: %d late, want 1", s.Source, s.Late)
		}
	}
	if len(dead.msgs) != 2 {
		t.Fatalf("dead letters %q, want the 2 late rows", dead.msgs)
	}
	for i, side := range []string{"left", "right"} {
		if d := dead.msgs[i]; !strings.Contains(d, "join: late: the "+side+" row") {
			t.Errorf("dead letter %d: %q", i, d)
		}
	}
}

// TestJoinNexmarkQ3DuckDB runs Nexmark q3 (persons in OR, ID or CA with
// their category-10 auctions) as an interval join with bounds wider than
// the data over generated persons and auctions, and requires DuckDB's
// regular join's rows.
func TestJoinNexmarkQ3DuckDB(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{}
	for only, n := range map[string]int{"auctions": 6000, "persons": 2000} {
		var b strings.Builder
		if err := fixtures.Generate(&b, "nexmark", fixtures.Options{Count: n, Seed: 3, Only: only}); err != nil {
			t.Fatal(err)
		}
		files[only] = filepath.Join(dir, only+".jsonl")
		if err := os.WriteFile(files[only], []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	spec := fmt.Sprintf(`sources:
  auctions: {file: %s}
  persons: {file: %s}
time: {field: dateTime, max_out_of_order: 1s}
stages:
  - filter: '_source == "persons" ? state in ["OR", "ID", "CA"] : category == 10'
  - join:
      with: persons
      on: {seller: id}
      between: [-1h, 1h]
      select: [{auction_id: id}, persons.name, persons.city, persons.state]
`, files["auctions"], files["persons"])
	raw, _, _ := runJoinRaw(t, spec)
	var got []string
	for _, r := range raw {
		got = append(got, string(r))
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rs, err := db.Query(fmt.Sprintf(`SELECT json_object('auction_id', a.id, 'name', p.name, 'city', p.city, 'state', p.state)::VARCHAR
	  FROM read_json_auto('%s') a JOIN read_json_auto('%s') p ON a.seller = p.id
	  WHERE a.category = 10 AND p.state IN ('OR', 'ID', 'CA')`, files["auctions"], files["persons"]))
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var want []string
	for rs.Next() {
		var s string
		if err := rs.Scan(&s); err != nil {
			t.Fatal(err)
		}
		want = append(want, s)
	}
	slices.Sort(got)
	slices.Sort(want)
	if len(want) < 100 || !slices.Equal(got, want) {
		t.Fatalf("engine %d rows, DuckDB %d\nengine only: %v\nduckdb only: %v", len(got), len(want), minus(got, want), minus(want, got))
	}
}

func mustOpen(t *testing.T, path string) *source.File {
	t.Helper()
	f, err := source.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
