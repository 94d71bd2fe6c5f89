package duck

import (
	"bytes"
	"fmt"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/eddyhq/eddy/fixtures"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
)

const benchBids = 1_000_000

var bidsOnce = sync.OnceValues(func() ([][]byte, error) {
	var b bytes.Buffer
	if err := fixtures.Generate(&b, "nexmark", fixtures.Options{Count: benchBids, Seed: 1, Only: "bids"}); err != nil {
		return nil, err
	}
	return bytes.Split(bytes.TrimSuffix(b.Bytes(), []byte("\n")), []byte("\n")), nil
})

func bidLines(b *testing.B) [][]byte {
	lines, err := bidsOnce()
	if err != nil {
		b.Fatal(err)
	}
	return lines
}

// writeBids writes the lines through s, as raw records of bids.jsonl.
func writeBids(b *testing.B, lines [][]byte, s interface {
	WriteRecord(*sink.Row, *source.Record) error
	Close() error
}) {
	var row sink.Row
	rec := source.Record{Topic: "bids.jsonl", File: true}
	for i, line := range lines {
		row.JSON = line
		rec.Value, rec.Offset = line, int64(i+1)
		if err := s.WriteRecord(&row, &rec); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
}

// cpuTime is the CPU time used by the process so far (every thread,
// DuckDB's included).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs the benchmark loop and reports rows per second of wall time
// and per second of CPU time (less sensitive to other load on the machine).
func measure(b *testing.B, rows int, body func()) {
	var cpu time.Duration
	for b.Loop() {
		c0 := cpuTime()
		body()
		cpu += cpuTime() - c0
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(rows)*float64(b.N)/cpu.Seconds(), "rows/cpu-s")
}

// BenchmarkDuckDBSinkNexmarkBids: one million nexmark bids, read with
// decode.Fields and written through the table sink into a new table.
func BenchmarkDuckDBSinkNexmarkBids(b *testing.B) {
	lines := bidLines(b)
	for _, bc := range []struct {
		name string
		opts Options
	}{
		{"plain", Options{}},
		{"coordinates", Options{Coordinates: true}},
		{"coordinates+dedupe", Options{Coordinates: true, Dedupe: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			bc.opts.Threads = 1
			measure(b, len(lines), func() {
				path := filepath.Join(b.TempDir(), "bids.duckdb")
				t, err := OpenTable(path, "bids", bc.opts)
				if err != nil {
					b.Fatal(err)
				}
				writeBids(b, lines, t)
			})
		})
	}
}

// BenchmarkBuildNexmarkBids is the Go side of the table sink alone: the
// million bids decoded into rows and buffered, the buffer emptied instead of
// inserted. It is steadier than the sink benchmarks on a loaded machine, as
// DuckDB's share (and its cgo calls) is left out.
func BenchmarkBuildNexmarkBids(b *testing.B) {
	lines := bidLines(b)
	for _, bc := range []struct {
		name   string
		coords bool
	}{{"plain", false}, {"coordinates", true}} {
		b.Run(bc.name, func(b *testing.B) {
			t, err := OpenTable(filepath.Join(b.TempDir(), "bids.duckdb"), "bids", Options{Coordinates: bc.coords, Threads: 1})
			if err != nil {
				b.Fatal(err)
			}
			defer t.Close()
			var row sink.Row
			rec := source.Record{Topic: "bids.jsonl", File: true}
			row.JSON = lines[0]
			if err := t.WriteRecord(&row, &rec); err != nil { // creates the table
				b.Fatal(err)
			}
			w := t.w
			measure(b, len(lines), func() {
				for i, line := range lines {
					row.JSON, rec.Offset = line, int64(i+1)
					if _, err := w.build(&row, &rec); err != nil || len(w.changes) > 0 || w.rowErr != nil {
						b.Fatalf("line %d: %v, changes %v, %v", i, err, w.changes, w.rowErr)
					}
					if err := w.buf.add(w.row); err != nil {
						b.Fatal(err)
					}
					if w.buf.n >= flushRows {
						w.buf.reset(w.order)
					}
				}
			})
			w.buf.reset(w.order)
		})
	}
}

// BenchmarkDuckDBSinkNexmarkBidsRerun: the same million bids again into a
// table that holds them all: every batch goes through the dedupe check.
func BenchmarkDuckDBSinkNexmarkBidsRerun(b *testing.B) {
	lines := bidLines(b)
	path := filepath.Join(b.TempDir(), "bids.duckdb")
	opts := Options{Coordinates: true, Dedupe: true, Threads: 1}
	t, err := OpenTable(path, "bids", opts)
	if err != nil {
		b.Fatal(err)
	}
	writeBids(b, lines, t)
	measure(b, len(lines), func() {
		t, err := OpenTable(path, "bids", opts)
		if err != nil {
			b.Fatal(err)
		}
		writeBids(b, lines, t)
		if t.Skipped() != benchBids {
			b.Fatalf("skipped %d rows, want %d", t.Skipped(), benchBids)
		}
	})
}

// BenchmarkParquetSinkNexmarkBids: the million bids into one Parquet file.
func BenchmarkParquetSinkNexmarkBids(b *testing.B) {
	lines := bidLines(b)
	measure(b, len(lines), func() {
		p, err := OpenParquet(filepath.Join(b.TempDir(), "bids.parquet"), ParquetOptions{Coordinates: true, Threads: 1})
		if err != nil {
			b.Fatal(err)
		}
		writeBids(b, lines, p)
	})
}

// BenchmarkDedupeStrategies compares ways to keep a re-run from adding
// rows twice, with the bare Appender (no decoding): 2 M rows of eight
// columns in batches of DefaultBatchRows, written once (first) and again
// (rerun). The sink uses plain appends while a batch cannot overlap the
// table and the staged anti join over the batch's offset range when it
// can; docs/export.md has the figures.
func BenchmarkDedupeStrategies(b *testing.B) {
	const total = 2_000_000
	ts := time.UnixMilli(1767225600004).UTC()
	for _, mode := range []string{"plain", "primary-key", "anti-join-table", "anti-join-range"} {
		b.Run(mode, func(b *testing.B) {
			var first, rerun time.Duration
			for b.Loop() {
				ctx := b.Context()
				db, err := openDB(ctx, filepath.Join(b.TempDir(), "d.duckdb"), 1)
				if err != nil {
					b.Fatal(err)
				}
				conn := db.conn
				pk := ""
				if mode == "primary-key" {
					pk = ", PRIMARY KEY (_topic, _partition, _offset)"
				}
				exec := func(q string) {
					if _, err := conn.ExecContext(ctx, q, nil); err != nil {
						b.Fatalf("%s: %v", q, err)
					}
				}
				exec(`CREATE TABLE t (_topic VARCHAR, _partition INTEGER, _offset BIGINT, _timestamp TIMESTAMP,
					_key VARCHAR, auction BIGINT, price BIGINT, url VARCHAR` + pk + `)`)
				run := func() time.Duration {
					start := time.Now()
					for lo := 0; lo < total; lo += DefaultBatchRows {
						hi := min(lo+DefaultBatchRows, total)
						exec("BEGIN TRANSACTION")
						var a *duckdb.Appender
						switch mode {
						case "plain":
							a, err = duckdb.NewAppender(conn, "", "", "t")
						case "primary-key":
							a, err = duckdb.NewTableAppender(conn, "INSERT OR IGNORE INTO t SELECT * FROM appended_data", "", "", "t", nil)
						case "anti-join-table":
							a, err = duckdb.NewTableAppender(conn, `INSERT INTO t SELECT * FROM appended_data a WHERE NOT EXISTS (
								SELECT 1 FROM t WHERE t._topic = a.col1 AND t._partition = a.col2 AND t._offset = a.col3)`, "", "", "t", nil)
						case "anti-join-range":
							a, err = duckdb.NewTableAppender(conn, fmt.Sprintf(`INSERT INTO t SELECT * FROM appended_data a WHERE NOT EXISTS (
								SELECT 1 FROM (SELECT _topic, _partition, _offset FROM t WHERE _offset BETWEEN %d AND %d) o
								WHERE o._topic = a.col1 AND o._partition = a.col2 AND o._offset = a.col3)`, lo, hi-1), "", "", "t", nil)
						}
						if err != nil {
							b.Fatal(err)
						}
						for i := lo; i < hi; i++ {
							if err := a.AppendRow("bids.jsonl", int32(0), int64(i), ts, nil, int64(1000+i%100), int64(i%5000),
								"https://www.nexmark.com/auction/item.htm?query=1&channel_id=3"); err != nil {
								b.Fatal(err)
							}
						}
						if err := a.Close(); err != nil {
							b.Fatal(err)
						}
						exec("COMMIT")
					}
					return time.Since(start)
				}
				first += run()
				rerun += run()
				db.Close()
			}
			n := float64(total) * float64(b.N)
			b.ReportMetric(n/first.Seconds(), "first-rows/s")
			b.ReportMetric(n/rerun.Seconds(), "rerun-rows/s")
		})
	}
}
