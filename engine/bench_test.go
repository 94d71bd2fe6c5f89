package engine

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/eddyhq/eddy/fixtures"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/state/pebblestore"
)

const benchBids = 1_000_000

// nexmarkSpec is the benchmark pipeline of issue 2: JSON → tumbling 10 s
// window, count and max(price) per auction, over the nexmark bids.
const nexmarkSpec = `name: bids-per-auction
time: {field: dateTime}
stages:
  - window:
      tumbling: 10s
      key: [auction]
      aggregate:
        n: count()
        max_price: max(price)
`

var bidsOnce = sync.OnceValues(func() ([]byte, error) {
	var b bytes.Buffer
	err := fixtures.Generate(&b, "nexmark", fixtures.Options{Count: benchBids, Seed: 1, Only: "bids"})
	return b.Bytes(), err
})

func bids(b *testing.B) []byte {
	data, err := bidsOnce()
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// BenchmarkNexmarkTumbling runs the whole path of `eddy run` (line
// splitting, decoding, windowing, JSON encoding of result rows into a
// buffered sink) over one million bids held in memory.
func BenchmarkNexmarkTumbling(b *testing.B) {
	benchNexmark(b, compileBench(b, nexmarkSpec), func() Options { return Options{} })
	b.ReportAllocs()
}

func compileBench(b *testing.B, spec string) *pipeline.Plan {
	p, err := pipeline.Parse("bench.yaml", []byte(spec))
	if err != nil {
		b.Fatal(err)
	}
	plan, err := pipeline.Compile(p)
	if err != nil {
		b.Fatal(err)
	}
	return plan
}

// benchNexmark runs plan over the bids, an engine made with opts (and a
// discarding JSON sink) per iteration, and reports events/s and rows.
func benchNexmark(b *testing.B, plan *pipeline.Plan, opts func() Options) {
	data := bids(b)
	b.SetBytes(int64(len(data)))
	benchSource(b, plan, opts, func() source.Source { return source.NewReader("bids", bytes.NewReader(data)) })
}

// benchSource is benchNexmark over the bids that each open returns.
func benchSource(b *testing.B, plan *pipeline.Plan, opts func() Options, open func() source.Source) {
	var rows int64
	for b.Loop() {
		o := opts()
		o.Sinks = []sink.Sink{sink.NewJSONL("discard", io.Discard, nil)}
		e, err := New(plan, o)
		if err != nil {
			b.Fatal(err)
		}
		if err := Run(context.Background(), open(), e); err != nil {
			b.Fatal(err)
		}
		if err := e.Close(); err != nil {
			b.Fatal(err)
		}
		st := e.Stats()
		if st.In != benchBids || st.Passed+st.Filtered != benchBids {
			b.Fatalf("stats %s", st)
		}
		rows = st.Rows
	}
	b.ReportMetric(float64(benchBids)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(rows), "rows")
}

// BenchmarkDuckDBNexmarkTumbling is the reference point: DuckDB on one
// thread reads the same file with read_json and computes the same windows
// with GROUP BY.
func BenchmarkDuckDBNexmarkTumbling(b *testing.B) {
	data := bids(b)
	path := filepath.Join(b.TempDir(), "bids.jsonl")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
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
	  SELECT auction, epoch_ms(dateTime::TIMESTAMP) // 10000 * 10000 AS window_start, count(*) AS n, max(price) AS max_price
	  FROM read_json(?, format = 'newline_delimited')
	  GROUP BY ALL)`
	b.SetBytes(int64(len(data)))
	var rows int64
	for b.Loop() {
		if err := db.QueryRow(q, path).Scan(&rows); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(benchBids)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(rows), "rows")
	_ = runtime.GOMAXPROCS(0)
}

// BenchmarkNexmarkBackends compares the window state backends on the
// nexmark bids: in memory, in Pebble with the default 512 MiB budget (the
// windows fit in the cache), and in Pebble with 32 MiB (the cache holds a
// fraction of the open windows and evicts all the time). Tumbling windows
// key on auction; sessions key on bidder, a larger key space.
func BenchmarkNexmarkBackends(b *testing.B) {
	shapes := map[string]string{
		"tumbling": "tumbling: 10s\n      key: [auction]",
		"session":  "session: {gap: 10s}\n      key: [bidder]",
	}
	for _, w := range []string{"tumbling", "session"} {
		plan := compileBench(b, `name: backends
time: {field: dateTime}
stages:
  - window:
      `+shapes[w]+`
      aggregate:
        n: count()
        max_price: max(price)
`)
		for _, backend := range []struct {
			name  string
			limit int64
		}{{"memory", 0}, {"pebble", 512 << 20}, {"pebble-128MiB", 128 << 20}} {
			b.Run(w+"/"+backend.name, func(b *testing.B) {
				benchNexmark(b, plan, func() Options {
					if backend.limit == 0 {
						return Options{}
					}
					st, err := pebblestore.Open(pebblestore.Options{Dir: b.TempDir(), MemoryLimit: backend.limit})
					if err != nil {
						b.Fatal(err)
					}
					return Options{WindowStore: st}
				})
			})
		}
	}
}

// BenchmarkNexmarkShapes is the whole path of `eddy run` over the bids for
// the other shapes of issue 18: high-cardinality tumbling windows (the
// bids' auctions spread over 10,000, about 0.63 rows per bid), hopping
// windows (five per bid), sessions per bidder and a stateless filter and
// project.
func BenchmarkNexmarkShapes(b *testing.B) {
	for _, s := range benchShapes {
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			s.bench(b, Options{})
		})
	}
}

// benchShape is one of issue 18's workloads: its stages, over the bids or
// the bids spread over 10,000 auctions.
type benchShape struct {
	name, stages string
	spread       bool
}

func shapeWindow(w, key string) string {
	return "  - window:\n      " + w + "\n      key: [" + key + "]\n      aggregate: {n: count(), max_price: max(price)}\n"
}

var benchShapes = []benchShape{
	{"tumbling-10k", shapeWindow("tumbling: 10s", "auction"), true},
	{"hopping", shapeWindow("hopping: {size: 10s, slide: 2s}", "auction"), false},
	{"session", shapeWindow("session: {gap: 1s}", "bidder"), false},
	{"filter", "  - filter: price > 50000\n  - project: {auction: auction, bidder: bidder, price: price}\n", false},
}

// bench runs the shape's whole path with engines made with o.
func (s benchShape) bench(b *testing.B, o Options) {
	plan := compileBench(b, "name: "+s.name+"\ntime: {field: dateTime}\nstages:\n"+s.stages)
	data := bids(b)
	if s.spread {
		data = spreadBids(b)
	}
	b.SetBytes(int64(len(data)))
	benchSource(b, plan, func() Options { return o },
		func() source.Source { return source.NewReader("bids", bytes.NewReader(data)) })
}

// spreadBids is the bids with each auction replaced by one of 10,000
// (uniform, seeded), as scripts/benchduck writes its high-cardinality file.
var spreadOnce = sync.OnceValue(func() []byte {
	data, _ := bidsOnce()
	rng := rand.New(rand.NewPCG(10_000, 1))
	out := make([]byte, 0, len(data)+len(data)/20)
	field := []byte(`"auction":`)
	for line := range bytes.Lines(data) {
		i := bytes.Index(line, field) + len(field)
		j := i
		for j < len(line) && line[j] >= '0' && line[j] <= '9' {
			j++
		}
		out = append(out, line[:i]...)
		out = strconv.AppendInt(out, int64(1000+rng.IntN(10_000)), 10)
		out = append(out, line[j:]...)
	}
	return out
})

func spreadBids(b *testing.B) []byte {
	bids(b)
	return spreadOnce()
}
