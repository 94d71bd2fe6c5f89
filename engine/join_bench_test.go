package engine

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/eddyhq/eddy/fixtures"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
)

const (
	joinBids     = 500_000
	joinAuctions = 30_000
)

var joinDataOnce = sync.OnceValues(func() ([2][]byte, error) {
	var out [2][]byte
	for i, c := range []struct {
		only string
		n    int
	}{{"bids", joinBids}, {"auctions", joinAuctions}} {
		var b bytes.Buffer
		if err := fixtures.Generate(&b, "nexmark", fixtures.Options{Count: c.n, Seed: 1, Only: c.only}); err != nil {
			return out, err
		}
		out[i] = b.Bytes()
	}
	return out, nil
})

// joinFiles writes the bids and auctions of the join benchmarks to dir.
func joinFiles(b *testing.B, dir string) (bids, auctions string) {
	data, err := joinDataOnce()
	if err != nil {
		b.Fatal(err)
	}
	bids, auctions = filepath.Join(dir, "bids.jsonl"), filepath.Join(dir, "auctions.jsonl")
	for i, p := range []string{bids, auctions} {
		if err := os.WriteFile(p, data[i], 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return bids, auctions
}

// BenchmarkIntervalJoinNexmark joins half a million bids with their
// auctions (examples/nexmark-bids-auctions.yaml without its filter: every
// bid, a left join within 10 minutes of the auction), two file sources
// read through source.Merge, rows encoded into a discarding sink.
func BenchmarkIntervalJoinNexmark(b *testing.B) {
	bids, auctions := joinFiles(b, b.TempDir())
	plan := compileBench(b, `sources:
  bids: {file: `+bids+`}
  auctions: {file: `+auctions+`}
time: {field: dateTime, max_out_of_order: 1s}
stages:
  - join:
      with: auctions
      on: {auction: id}
      between: [0s, 10m]
      type: left
      select: [auction, bidder, price, dateTime, auctions.seller, auctions.category]
`)
	var rows int64
	for b.Loop() {
		e, err := New(plan, Options{Sinks: []sink.Sink{sink.NewJSONL("discard", io.Discard, nil)}})
		if err != nil {
			b.Fatal(err)
		}
		var srcs []source.Source
		for _, ns := range plan.Pipeline.Sources {
			f, err := source.OpenFile(ns.File)
			if err != nil {
				b.Fatal(err)
			}
			srcs = append(srcs, f)
		}
		m := source.NewMerge(srcs...)
		if err := Run(context.Background(), m, e); err != nil {
			b.Fatal(err)
		}
		m.Close()
		st := e.Stats()
		if st.In != joinBids+joinAuctions || st.Passed != st.In {
			b.Fatalf("stats %s", st)
		}
		rows = st.Rows
	}
	b.ReportMetric(float64(joinBids+joinAuctions)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(rows), "rows")
}

// BenchmarkDuckDBIntervalJoinNexmark is the same join in DuckDB on one
// thread, over the same files (read_json), counting the rows.
func BenchmarkDuckDBIntervalJoinNexmark(b *testing.B) {
	bids, auctions := joinFiles(b, b.TempDir())
	db, err := sql.Open("duckdb", "")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec("SET threads = 1"); err != nil {
		b.Fatal(err)
	}
	q := `SELECT count(*) FROM (
	  SELECT b.auction, b.bidder, b.price, b.dateTime, a.seller, a.category
	  FROM read_json(?, format = 'newline_delimited') b LEFT JOIN read_json(?, format = 'newline_delimited') a
	  ON b.auction = a.id AND b.dateTime::TIMESTAMP BETWEEN a.dateTime::TIMESTAMP AND a.dateTime::TIMESTAMP + INTERVAL 10 MINUTE)`
	var rows int64
	for b.Loop() {
		if err := db.QueryRow(q, bids, auctions).Scan(&rows); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(joinBids+joinAuctions)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(rows), "rows")
}
