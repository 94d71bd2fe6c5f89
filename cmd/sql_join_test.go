package cmd

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/fixtures"
	"github.com/eddyhq/eddy/internal/runtest"
)

// TestSQLJoinParityWithEngine is the parity test for joins (issue 19 item
// 7): Nexmark persons, auctions and bids as three file sources; each join
// pipeline runs through the engine, its `eddy sql` query runs in DuckDB
// over the same files, and the rows must be identical, in the same order.
func TestSQLJoinParityWithEngine(t *testing.T) {
	dir := t.TempDir()
	for _, only := range []string{"bids", "auctions", "persons"} {
		lines := genLines(t, "nexmark", fixtures.Options{Count: 3000, Seed: 5, Only: only})
		runtest.WriteFile(t, dir, only+".jsonl", strings.Join(lines, "\n")+"\n")
	}
	// rows at one time with keys of several lengths, null keys and values:
	// the engine orders keys by their encoding's length first (b, zz, aaa)
	runtest.WriteFile(t, dir, "ties-l.jsonl", `{"t":999,"k":"aaa","v":null}
{"t":1000,"k":"b","v":1}
{"t":1000,"k":"zz","v":2}
{"t":1000,"k":"aaa","v":3}
{"t":1000,"k":null,"v":4}
{"t":1000,"v":5}
{"t":1001,"k":"zz","v":6}
`)
	runtest.WriteFile(t, dir, "ties-r.jsonl", `{"t":998,"k":"zz","w":"y"}
{"t":1000,"k":"zz","w":"x"}
{"t":1000,"k":"b","w":null}
{"t":1001,"k":"aaa","w":"z"}
{"t":1000,"k":null,"w":"n"}
`)
	// until: each left row's u bounds its matches' time (null, missing or
	// not a time: no match)
	runtest.WriteFile(t, dir, "until-l.jsonl", `{"t":1000,"k":"a","u":1005,"v":1}
{"t":1000,"k":"b","u":null,"v":2}
{"t":1001,"k":"a","u":1001,"v":3}
{"t":1002,"k":"c","u":"x","v":4}
{"t":1003,"k":"a","v":5}
{"t":1004,"k":"a","u":1012,"v":6}
`)
	runtest.WriteFile(t, dir, "until-r.jsonl", `{"t":1000,"k":"a","w":1}
{"t":1001,"k":"a","w":2}
{"t":1001,"k":"b","w":5}
{"t":1003,"k":"c","w":6}
{"t":1004,"k":"a","w":3}
{"t":1006,"k":"a","w":4}
{"t":1012,"k":"a","w":7}
{"t":1013,"k":"a","w":8}
`)
	runtest.WriteFile(t, dir, "regions.csv", "state,region\nOR,west\nCA,west\nID,west\nNY,east\nMA,east\n")
	bidsAuctions := "sources:\n  bids: {file: bids.jsonl}\n  auctions: {file: auctions.jsonl}\ntime: {field: dateTime, max_out_of_order: 1s}\n"
	ties := "sources:\n  l: {file: ties-l.jsonl}\n  r: {file: ties-r.jsonl}\ntime: {field: t}\nstages:"
	tests := []struct {
		name, spec string
		nullCol    string // a left join: some row has this right column null
	}{
		{"interval-left", bidsAuctions + `stages:
  - filter: _source == "auctions" || price > 1000
  - join:
      with: auctions
      on: {auction: id}
      between: [1s, 10s]
      type: left
      select: [auction, bidder, price, auctions.seller, {auction_time: auctions.dateTime}]
`, "seller"},
		{"interval-inner-project", bidsAuctions + `stages:
  - project:
      k: '_source == "bids" ? auction : id'
      who: bidder ?? seller
      p: price
      cat: category
      at: dateTime
  - filter: '_source == "auctions" ? cat % 2 == 0 : p > 500'
  - join:
      with: auctions
      on: {k: k}
      between: [-1s, 3s]
      select: [k, who, p, at, {seller: auctions.who}, {cat: auctions.cat}, {auction_at: auctions.at}]
`, ""},
		{"window-tumbling-inner", `sources:
  persons: {file: persons.jsonl}
  auctions: {file: auctions.jsonl}
time: {field: dateTime}
stages:
  - filter: _source == "persons" || reserve > 1000
  - join:
      with: auctions
      on: {id: seller}
      window: {tumbling: 10s}
      select: [id, name, {auction: auctions.id}, {reserve: auctions.reserve}]
`, ""},
		{"lookup-interval-left", `sources:
  auctions: {file: auctions.jsonl}
  persons: {file: persons.jsonl}
tables: {regions: {file: regions.csv}}
time: {field: dateTime}
stages:
  - lookup: {table: regions, on: {state: state}, select: [region]}
  - filter: '_source == "auctions" || region != nil'
  - join:
      with: persons
      on: {seller: id}
      between: [-1m, 1m]
      type: left
      select: [id, seller, {name: persons.name}, {region: persons.region}]
`, "region"},
		{"window-hopping-left", bidsAuctions + `stages:
  - filter: '_source == "auctions" ? category != 10 : bidder % 3 == 0'
  - join:
      with: auctions
      on: {auction: id}
      window: {hopping: {size: 2s, slide: 500ms}}
      type: left
      select: [auction, price, {reserve: auctions.reserve}]
`, "reserve"},
		{"interval-until-left", `sources:
  auctions: {file: auctions.jsonl}
  bids: {file: bids.jsonl}
time: {field: dateTime, max_out_of_order: 1s}
stages:
  - filter: _source == "auctions" || price > 2000
  - join:
      with: bids
      on: {id: auction}
      between: [-10m, 0s]
      until: expires
      type: left
      select: [id, expires, {bidder: bids.bidder}, {price: bids.price}, {bid_at: bids.dateTime}]
`, "bidder"},
		{"until-field-left", `sources:
  l: {file: until-l.jsonl}
  r: {file: until-r.jsonl}
time: {field: t}
stages:
  - join:
      with: r
      on: {k: k}
      between: [-10ms, 0s]
      until: u
      type: left
      select: [k, v, r.w, {rt: r.t}]
`, "rt"},
		// stages after a join: the joined rows' event time (the later
		// row's, window_end − 1 ms after a window join) and order
		{"window-join-window-q8", `sources:
  persons: {file: persons.jsonl}
  auctions: {file: auctions.jsonl}
time: {field: dateTime, max_out_of_order: 4s}
stages:
  - join:
      with: auctions
      on: {id: seller}
      window: {tumbling: 10s}
      select: [id, name, {reserve: auctions.reserve}]
  - window:
      tumbling: 10s
      key: [id, name]
      aggregate: {auctions: count(), top_reserve: max(reserve)}
  - project: {id: id, name: name, starttime: window_start, auctions: auctions, top_reserve: top_reserve}
`, ""},
		{"interval-left-filter-window-top", bidsAuctions + `stages:
  - join:
      with: auctions
      on: {auction: id}
      between: [1s, 10s]
      type: left
      select: [auction, bidder, price, auctions.seller, {reserve: auctions.reserve}]
  - filter: price > 300
  - window:
      tumbling: 2s
      key: [seller]
      aggregate: {n: count(), top: max(price), first_bidder: first(bidder), last_bidder: last(bidder), reserve: max(reserve)}
  - top: {k: 3, by: "n desc, top desc"}
`, "seller"},
		{"interval-project-filter", bidsAuctions + `stages:
  - join:
      with: auctions
      on: {auction: id}
      between: [-1s, 3s]
      type: left
      select: [auction, bidder, price, {reserve: auctions.reserve}, {at: dateTime}]
  - project: {auction: auction, over: 'reserve == nil ? nil : price - reserve', who: bidder, reserve: reserve}
  - filter: over == nil || over > -5000
`, "reserve"},
		{"ties-left-window", ties + `
  - join:
      with: r
      on: {k: k}
      between: [-2ms, 1ms]
      type: left
      select: [k, v, r.w, {rt: r.t}]
  - window: {tumbling: 1ms, key: [k], aggregate: {n: count(), vs: sum(v), first_w: first(w), last_w: last(w)}}
`, ""},
		{"ties-left", ties + `
  - join:
      with: r
      on: {k: k}
      between: [-2ms, 1ms]
      type: left
      select: [k, v, r.w, {rt: r.t}]
`, "rt"},
		{"ties-window-inner", ties + `
  - join:
      with: r
      on: {k: k}
      window: {hopping: {size: 4ms, slide: 2ms}}
      select: [k, v, r.w, {rt: r.t}]
`, ""},
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			specPath := runtest.WriteFile(t, dir, tc.name+".yaml", tc.spec)
			out := filepath.Join(dir, tc.name+".rows.jsonl")
			code, _, stderr := runCLI(t, "", "run", specPath, "--out", out, "--dlq", filepath.Join(dir, tc.name+".dead.jsonl"))
			_, totals, _ := strings.Cut(stderr, "eddy: in=")
			if code != 0 || !strings.Contains(strings.SplitN(totals, "\n", 2)[0], "dead=0 late=0") {
				t.Fatalf("run: %d %s", code, stderr)
			}
			if b, err := os.ReadFile(filepath.Join(dir, tc.name+".dead.jsonl")); len(b) > 0 {
				t.Fatalf("dead letters (a stage after the join?): %s", b)
			} else if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			code, query, stderr := runCLI(t, "", "sql", specPath, "--dialect", "duckdb")
			if code != 0 {
				t.Fatalf("sql: %d %s", code, stderr)
			}
			engineRows := readJSONRows(t, out)
			sqlRows := queryRows(t, db, query)
			if len(engineRows) < 5 {
				t.Fatalf("only %d engine rows: a weak test", len(engineRows))
			}
			sameRows(t, engineRows, sqlRows, nil, query)
			nulls := 0
			for _, row := range engineRows {
				for _, c := range row {
					if c.name == tc.nullCol && c.val == nil {
						nulls++
					}
				}
			}
			if tc.nullCol != "" && (nulls == 0 || nulls == len(engineRows)) {
				t.Errorf("%d of %d rows have %s null: the left join is not tested", nulls, len(engineRows), tc.nullCol)
			}
		})
	}
}
