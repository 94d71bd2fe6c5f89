package cmd

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/eddyhq/eddy/fixtures"
	"github.com/eddyhq/eddy/internal/runtest"
)

// The parity test of issue 6: nexmark bids in event-time order (so nothing
// is late) are exported to a DuckDB file; each pipeline runs through the
// engine and its `eddy sql` query runs in DuckDB over the export, and the
// rows must be identical, in the same order. Only quantile gets a
// tolerance: the engine's estimate is within 1 % of the exact value.
func TestSQLParityWithEngine(t *testing.T) {
	dir := t.TempDir()
	lines := genLines(t, "nexmark", fixtures.Options{Count: 4000, Seed: 11, Only: "bids"})
	in := runtest.WriteFile(t, dir, "bids.jsonl", strings.Join(lines, "\n")+"\n")
	dbPath := filepath.Join(dir, "bids.duckdb")
	auctionTable(t, dir, lines)
	if code, _, stderr := runCLI(t, "", "export", "--input", in, "--duckdb", dbPath, "--table", "raw"); code != 0 {
		t.Fatalf("export: %d %s", code, stderr)
	}
	aggs := `      aggregate:
        n: count()
        n_extra: count(extra)
        total: sum(price)
        mean: avg(price)
        lo: min(price)
        hi: max(price)
        top_url: max(url)
        bidders: count_distinct(bidder)
        p90: quantile(price, 0.9)
        med: quantile(price, 0.5)
        first_price: first(price)
        last_url: last(url)
`
	specs := map[string]string{
		"tumbling": `time: {field: dateTime}
stages:
  - filter: price > 1000
  - window:
      tumbling: 250ms
      key: channel
` + aggs,
		"hopping": `time: {field: dateTime, max_out_of_order: 1s}
stages:
  - filter: price > 1000 && channel != "Baidu"
  - window:
      hopping: {size: 1s, slide: 300ms}
      key: [channel]
` + aggs,
		"session": `time: {field: dateTime}
stages:
  - filter: price > 1000
  - window:
      session: {gap: 40ms}
      key: [auction, channel]
` + aggs,
		"session-nokey": `time: {field: dateTime}
stages:
  - filter: price > 9000 || channel in ["Apple"]
  - window:
      session: {gap: 5ms}
      aggregate: {n: count(), total: sum(price)}
`,
		"project-coerce-lateness": `time: {field: dateTime, allowed_lateness: 2s}
stages:
  - filter: price > 1000
  - project:
      ch: lower(channel) + "!"
      p: price
      half: price / 2
      who: bidder ?? 0
      line: _offset
  - coerce: {p: float}
  - filter: 'ch == "apple!" ? p > 5000 : half >= 600'
  - window:
      tumbling: 1s
      key: ch
      aggregate: {n: count(), total: sum(p), h: sum(half), w: max(who), first_line: first(line), last_line: last(line)}
`,
	}
	// lookups (issue 19): a LEFT JOIN for on_missing null, an inner join
	// for drop and dlq; the joined channel replaces the bid's
	specs["lookup-null"] = `time: {field: dateTime}
tables: {auctions: {file: auctions.csv}}
stages:
  - lookup: {table: auctions, on: {auction: id}, select: [category, channel]}
  - window:
      tumbling: 250ms
      key: [category, channel]
      aggregate: {n: count(), total: sum(price), bidders: count_distinct(bidder)}
`
	specs["lookup-drop"] = `time: {field: dateTime}
tables: {auctions: {file: auctions.csv}}
stages:
  - lookup: {table: auctions, on: {auction: id}, select: [category, reserve], on_missing: drop}
  - filter: price > reserve
  - project: {cat: category, p: price, r: reserve}
  - window:
      tumbling: 500ms
      key: cat
      aggregate: {n: count(), total: sum(p), top: max(r)}
`
	// stages after a window (issue 19 item 4): a filter, a project and a
	// second window over the first's rows; top-k with and without ties
	specs["after-window"] = `time: {field: dateTime}
stages:
  - window:
      tumbling: 100ms
      key: [auction]
      aggregate: {n: count(), hi: max(price), lo: min(price)}
  - filter: n >= 2
  - project: {auction: auction, n: n, spread: hi - lo, window_end: window_end}
  - window:
      hopping: {size: 1s, slide: 500ms}
      key: [n]
      aggregate: {auctions: count(), widest: max(spread), first_auction: first(auction), last_auction: last(auction)}
`
	specs["top-ties"] = `time: {field: dateTime}
stages:
  - window:
      hopping: {size: 500ms, slide: 250ms}
      key: [auction]
      aggregate: {num: count()}
  - top: {k: 2, by: num desc, ties: true}
`
	specs["top-project-window"] = `time: {field: dateTime}
stages:
  - filter: price > 500
  - window:
      tumbling: 200ms
      key: [bidder, channel]
      aggregate: {n: count(), spent: sum(price)}
  - top: {k: 3, by: [spent desc, n]}
  - project: {who: bidder, spent: spent}
  - window:
      tumbling: 1s
      aggregate: {rows: count(), total: sum(spent), best: max(spent)}
`
	specs["lookup-dlq"] = strings.Replace(specs["lookup-drop"], "on_missing: drop", "on_missing: dlq", 1)
	db, err := sql.Open("duckdb", dbPath+"?access_mode=read_only")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for name, spec := range specs {
		t.Run(name, func(t *testing.T) {
			specPath := runtest.WriteFile(t, dir, name+".yaml", spec)
			out := filepath.Join(dir, name+".rows.jsonl")
			code, _, stderr := runCLI(t, "", "run", specPath, "--input", in, "--out", out, "--dlq", filepath.Join(dir, name+".dead.jsonl"))
			wantDead := "dead=0 late=0"
			if name == "lookup-dlq" {
				wantDead = " late=0" // the bids of auctions not in the table are dead letters
				if strings.Contains(stderr, "dead=0 ") {
					t.Errorf("no dead letters: %s", stderr)
				}
			}
			if code != 0 || !strings.Contains(stderr, wantDead) {
				t.Fatalf("run: %d %s", code, stderr)
			}
			code, query, stderr := runCLI(t, "", "sql", specPath, "--dialect", "duckdb", "--table", "raw")
			if code != 0 {
				t.Fatalf("sql: %d %s", code, stderr)
			}
			engineRows := readJSONRows(t, out)
			sqlRows := queryRows(t, db, query)
			if len(engineRows) < 3 {
				t.Fatalf("only %d engine rows: a weak test", len(engineRows))
			}
			sameRows(t, engineRows, sqlRows, map[string]bool{"p90": true, "med": true}, query)
		})
	}
}

// sameRows fails unless the engine's rows and the query's are the same,
// in the same order (the columns in approx within 1 %).
func sameRows(t *testing.T, engineRows, sqlRows [][]jsonCol, approx map[string]bool, query string) {
	t.Helper()
	for i := range max(len(engineRows), len(sqlRows)) {
		if i >= len(engineRows) || i >= len(sqlRows) {
			t.Fatalf("engine has %d rows, SQL %d; row %d: engine %v sql %v\n%s", len(engineRows), len(sqlRows), i, at(engineRows, i), at(sqlRows, i), query)
		}
		if msg := diffJSONRow(engineRows[i], sqlRows[i], approx); msg != "" {
			t.Fatalf("row %d of %d: %s\n engine: %v\n    sql: %v\n%s", i, len(engineRows), msg, engineRows[i], sqlRows[i], query)
		}
	}
}

// auctionTable writes auctions.csv: two auctions in three of the bids'
// auctions, with a category, a reserve and a channel of their own.
func auctionTable(t *testing.T, dir string, lines []string) {
	seen := map[int64]bool{}
	var b strings.Builder
	b.WriteString("id,category,reserve,channel\n")
	for _, l := range lines {
		var bid struct{ Auction int64 }
		if err := json.Unmarshal([]byte(l), &bid); err != nil || seen[bid.Auction] {
			continue
		}
		seen[bid.Auction] = true
		if bid.Auction%3 == 0 {
			continue
		}
		fmt.Fprintf(&b, "%d,c%d,%d,T%d\n", bid.Auction, bid.Auction%5, (bid.Auction*37)%5000, bid.Auction%3)
	}
	runtest.WriteFile(t, dir, "auctions.csv", b.String())
}

type jsonCol struct {
	name string
	val  any
}

func at(rows [][]jsonCol, i int) any {
	if i < len(rows) {
		return rows[i]
	}
	return "(none)"
}

// readJSONRows reads JSON Lines objects keeping their column order.
func readJSONRows(t *testing.T, path string) [][]jsonCol {
	t.Helper()
	data := readFileT(t, path)
	var rows [][]jsonCol
	for _, line := range strings.Split(strings.TrimSpace(data), "\n") {
		if line == "" {
			continue
		}
		dec := json.NewDecoder(strings.NewReader(line))
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			t.Fatalf("row %q is not an object", line)
		}
		var row []jsonCol
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				t.Fatal(err)
			}
			var v any
			if err := dec.Decode(&v); err != nil {
				t.Fatal(err)
			}
			row = append(row, jsonCol{k.(string), v})
		}
		rows = append(rows, row)
	}
	return rows
}

func readFileT(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// queryRows runs the query and turns each row into JSON values the way the
// engine writes them: timestamps as RFC 3339 UTC with milliseconds.
func queryRows(t *testing.T, db *sql.DB, query string) [][]jsonCol {
	t.Helper()
	rows, err := db.Query(query)
	if err != nil {
		t.Fatalf("query: %v\n%s", err, query)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]jsonCol
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]jsonCol, len(cols))
		for i, v := range vals {
			switch x := v.(type) {
			case time.Time:
				v = x.UTC().Format("2006-01-02T15:04:05.000Z07:00")
			case *big.Int:
				v, _ = new(big.Float).SetInt(x).Float64()
			}
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("column %s: %v (%T)", cols[i], err, v)
			}
			var j any
			if err := json.Unmarshal(b, &j); err != nil {
				t.Fatal(err)
			}
			row[i] = jsonCol{cols[i], j}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// diffJSONRow describes the first difference between two rows, or "".
func diffJSONRow(got, want []jsonCol, approx map[string]bool) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d columns, SQL has %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.name != w.name {
			return fmt.Sprintf("column %d is %q, SQL has %q", i, g.name, w.name)
		}
		gf, gok := g.val.(float64)
		wf, wok := w.val.(float64)
		if approx[g.name] && gok && wok {
			if math.Abs(gf-wf) > 0.01*math.Abs(wf) {
				return fmt.Sprintf("%s: %v is not within 1%% of %v", g.name, gf, wf)
			}
			continue
		}
		gb, _ := json.Marshal(g.val)
		wb, _ := json.Marshal(w.val)
		if !bytes.Equal(gb, wb) {
			return fmt.Sprintf("%s: %s, SQL has %s", g.name, gb, wb)
		}
	}
	return ""
}

func TestSQLCommandErrors(t *testing.T) {
	dir := t.TempDir()
	good := runtest.WriteFile(t, dir, "good.yaml", "time: {field: ts}\nstages:\n  - window: {tumbling: 10s, aggregate: {n: count()}}\n")
	regex := runtest.WriteFile(t, dir, "regex.yaml", "time: {field: ts}\nstages:\n  - filter: name matches \"^a\"\n  - window: {tumbling: 10s, aggregate: {n: count()}}\n")
	bad := runtest.WriteFile(t, dir, "bad.yaml", "stages:\n  - window:\n      hopping: {size: 10s, slide: 20s}\n      aggregate: {n: count()}\n")
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"prints the query", []string{"sql", good, "--table", "bids"}, 0, "FROM \"bids\"", ""},
		{"untranslatable names stage and construct", []string{"sql", regex}, 2, "",
			regex + `:3: stages[0].filter: cannot translate to SQL: operator matches in "name matches \"^a\""`},
		{"bad spec", []string{"sql", bad}, 2, "", bad + ":3: stages[0].window.hopping.slide: must not exceed size (10s)"},
		{"other dialect", []string{"sql", good, "--dialect", "sqlite"}, 2, "", `dialect "sqlite" is not supported`},
		{"missing spec", []string{"sql", filepath.Join(dir, "nope.yaml")}, 2, "", "read pipeline"},
		{"no argument", []string{"sql"}, 2, "", "accepts 1 arg(s), received 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, "", tc.args...)
			if code != tc.wantCode || !strings.Contains(stdout, tc.wantStdout) || !strings.Contains(stderr, tc.wantStderr) {
				t.Fatalf("code %d, stdout %q, stderr %q; want %d, %q, %q", code, stdout, stderr, tc.wantCode, tc.wantStdout, tc.wantStderr)
			}
		})
	}
}
