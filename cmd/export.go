package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/eddyhq/eddy/decode"
	"github.com/eddyhq/eddy/duck"
	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/startpos"
)

type exportFlags struct {
	input, topic    string
	from, to        string
	where           string
	duckdb, table   string
	mode            string
	parquet, rotate string
	batchRows       int
	threads         int
}

func newExportCmd() *cobra.Command {
	var f exportFlags
	c := &cobra.Command{
		Use:   "export (--input FILE | -t TOPIC) (--duckdb FILE --table T | --parquet FILE|DIR)",
		Short: "Export raw records to a DuckDB table or Parquet files",
		Long: `export copies raw JSON records from a file or a topic into a DuckDB table or
Parquet files, with their coordinates as columns (_topic, _partition, _offset,
_timestamp, _key; for files the file name and line number) followed by the
record's top-level fields. Column types are inferred and widen when needed
(BIGINT → DOUBLE → VARCHAR, TIMESTAMP → VARCHAR); nested objects and arrays
are JSON. See docs/export.md.

A topic is read from --from up to its end offsets as they were at the start
(or --to). --from and --to take an offset (a line number for files) or a
time (RFC 3339, or a negative duration such as -15m back from now); --from is
inclusive, --to exclusive. --where keeps the records matching a filter
expression (the pipeline's filter syntax).

DuckDB: rows are committed in batches (--batch-rows), so an interrupted or
killed export leaves whole batches only. A row whose _topic, _partition and
_offset are already in the table is skipped: running the same export again
completes an interrupted one and never duplicates. --mode replace drops the
table first.

Parquet: FILE is written at the end (to FILE.tmp, then renamed). A DIR
(an existing directory, a path ending in /, or any path with --rotate) gets
files part-NNNNNN-<time>.parquet, a new one every --rotate rows (100000) or
time (1m).

Records that are not JSON objects are skipped and counted. The last line on
stderr is "eddy: exported N rows to ...". Exit status: 0 done, 1 runtime
failure or interrupted, 2 bad flags.`,
		Example: `  eddy export --input bids.jsonl --duckdb bids.duckdb --table bids
  eddy export -b localhost:9092 -t orders --from -1h --duckdb lake.duckdb --table orders
  eddy export -t orders --where 'amount > 100' --parquet big-orders.parquet
  eddy export -t clicks --parquet clicks/ --rotate 1m`,
		Args: exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error { return runExport(c, f) },
	}
	fl := c.Flags()
	fl.StringVarP(&f.input, "input", "i", "", "read JSON Lines from `FILE` (- for stdin)")
	fl.StringVarP(&f.topic, "topic", "t", "", "read `TOPIC` (brokers from -b or $EDDY_BROKERS)")
	fl.StringVar(&f.from, "from", "", "start at this offset or time (`OFFSET|TIME`, inclusive)")
	fl.StringVar(&f.to, "to", "", "stop before this offset or time (`OFFSET|TIME`)")
	fl.StringVar(&f.where, "where", "", "export only records matching this filter `EXPR`")
	fl.StringVar(&f.duckdb, "duckdb", "", "write to the DuckDB database `FILE`")
	fl.StringVar(&f.table, "table", "", "DuckDB `TABLE` to write (with --duckdb)")
	fl.StringVar(&f.mode, "mode", "append", "`append` to the table or `replace` it (with --duckdb)")
	fl.StringVar(&f.parquet, "parquet", "", "write a Parquet `FILE`, or files in a DIR")
	fl.StringVar(&f.rotate, "rotate", "", "start a new Parquet file every `N` rows or DURATION (implies a directory)")
	fl.IntVar(&f.batchRows, "batch-rows", duck.DefaultBatchRows, "rows per committed batch (DuckDB) or appended chunk (Parquet)")
	fl.IntVar(&f.threads, "threads", 0, "DuckDB worker `THREADS` (default: one per core)")
	return c
}

// bound is a --to value.
type bound struct {
	set    bool
	isTime bool
	n      int64 // offset, or epoch ms
}

// parseFrom reads --from: a start position (docs/kafka.md), a relative
// time resolved against now.
func parseFrom(s string, now time.Time) (startpos.Position, error) {
	if s == "" {
		return startpos.Position{}, nil
	}
	p, err := parseEdge("from", s)
	if err == nil && p.Kind == startpos.Time && p.Relative {
		p = startpos.Position{Kind: startpos.Time, N: p.Millis(now)}
	}
	return p, err
}

// parseTo reads --to: an offset or a time.
func parseTo(s string, now time.Time) (bound, error) {
	if s == "" {
		return bound{}, nil
	}
	p, err := parseEdge("to", s)
	switch {
	case err != nil:
		return bound{}, err
	case p.Kind == startpos.Offset:
		return bound{set: true, n: p.N}, nil
	case p.Kind == startpos.Time:
		return bound{set: true, isTime: true, n: p.Millis(now)}, nil
	}
	return bound{}, fmt.Errorf("--to %s: want an offset or a time (offset:N, time:RFC3339 or time:-15m)", s)
}

// parseEdge reads --from or --to: a start position, or the forms they took
// first (kept as aliases): N for offset:N, an RFC 3339 time or a negative
// duration for time:T.
func parseEdge(name, s string) (startpos.Position, error) {
	p, err := startpos.Parse(s)
	var se *startpos.Error
	if err == nil {
		return p, nil
	} else if errors.As(err, &se) && se.Reason != "" {
		return p, fmt.Errorf("--%s: %w", name, err) // a prefix with a bad value
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return startpos.Position{}, fmt.Errorf("--%s %s: an offset must not be negative (for a time back from now write a duration such as -15m)", name, s)
		}
		return startpos.Position{Kind: startpos.Offset, N: n}, nil
	}
	p, err = startpos.Parse("time:" + s)
	if errors.As(err, &se) && se.Reason != "" && !strings.HasPrefix(se.Reason, "invalid time") {
		return p, fmt.Errorf("--%s %s: %s", name, s, se.Reason)
	}
	if err != nil {
		return p, fmt.Errorf("--%s %q: want %s, or N, an RFC 3339 time or a negative duration (-15m)", name, s, startpos.Forms)
	}
	return p, nil
}

// rotation parses --rotate: rows (an integer) or a duration.
func rotation(s string) (rows int64, every time.Duration, err error) {
	rows, every, err = pipeline.ParseRotate(s)
	if err != nil {
		return 0, 0, fmt.Errorf("--%w", err)
	}
	return rows, every, nil
}

func runExport(c *cobra.Command, f exportFlags) error {
	now := time.Now()
	switch {
	case (f.input == "") == (f.topic == ""):
		return usagef("export: give one source: --input FILE or -t TOPIC")
	case (f.duckdb == "") == (f.parquet == ""):
		return usagef("export: give one destination: --duckdb FILE --table T or --parquet FILE|DIR")
	case f.duckdb != "" && f.table == "":
		return usagef("export: --duckdb needs --table T")
	case f.duckdb == "" && (f.table != "" || c.Flags().Changed("mode")):
		return usagef("export: --table and --mode go with --duckdb")
	case f.parquet == "" && f.rotate != "":
		return usagef("export: --rotate goes with --parquet")
	case f.batchRows <= 0:
		return usagef("export: --batch-rows %d must be positive", f.batchRows)
	case f.threads < 0:
		return usagef("export: --threads %d must not be negative", f.threads)
	}
	if f.mode != string(duck.Append) && f.mode != string(duck.Replace) {
		return usagef("export: --mode %q: want append or replace", f.mode)
	}
	from, err := parseFrom(f.from, now)
	if err != nil {
		return usageError{err}
	}
	to, err := parseTo(f.to, now)
	if err != nil {
		return usageError{err}
	}
	if f.input != "" && (from.Kind == startpos.Time || to.isTime) {
		return usagef("export: records of a file have no timestamps: --from and --to take line numbers with --input")
	}
	if f.input != "" && from.Kind != startpos.Earliest && from.Kind != startpos.Offset {
		return usagef("export: with --input, --from takes a line number (N or offset:N), not %s", f.from)
	}
	rotRows, rotEvery, err := rotation(f.rotate)
	if err != nil {
		return usageError{err}
	}
	var match *engine.Matcher
	if f.where != "" {
		if match, err = engine.NewMatcher(f.where); err != nil {
			return usageError{err}
		}
	}

	ctx := c.Context()
	var src source.Source
	if f.input != "" {
		if f.input == "-" {
			src = source.NewReader("-", c.InOrStdin())
		} else {
			fs, err := source.OpenFile(f.input)
			if err != nil {
				return err
			}
			src = fs
		}
	} else {
		ks, err := openExportTopic(c, f.topic, from)
		if err != nil {
			return err
		}
		src = ks
	}
	defer src.Close()

	var out duck.RecordWriter
	var dest string
	if f.duckdb != "" {
		t, err := duck.OpenTable(f.duckdb, f.table, duck.Options{Mode: duck.Mode(f.mode), BatchRows: f.batchRows, Coordinates: true, Dedupe: true, Threads: f.threads})
		if err != nil {
			return err
		}
		out, dest = t, fmt.Sprintf("%s (table %s)", f.duckdb, f.table)
	} else {
		dir := f.rotate != "" || strings.HasSuffix(f.parquet, "/") || strings.HasSuffix(f.parquet, string(os.PathSeparator))
		if st, err := os.Stat(f.parquet); err == nil && st.IsDir() {
			dir = true
		}
		p, err := duck.OpenParquet(f.parquet, duck.ParquetOptions{Dir: dir, RotateRows: rotRows, RotateEvery: rotEvery,
			BatchRows: f.batchRows, Coordinates: true, Threads: f.threads})
		if err != nil {
			return err
		}
		out, dest = p, f.parquet
	}

	x := &exporter{out: out, match: match, fromLine: from.N, to: to, file: f.input != ""}
	x.progress = newProgress(c.ErrOrStderr(), 250*time.Millisecond)
	runErr := x.run(ctx, src)
	var closeErr error
	if p, ok := out.(*duck.Parquet); ok && runErr != nil && !p.Dir() {
		// a partial export must not replace a whole file
		closeErr = p.Abort()
	} else {
		closeErr = out.Close()
	}
	x.progress.clear()
	stderr := c.ErrOrStderr()
	line := fmt.Sprintf("eddy: exported %d rows to %s", out.Written(), dest)
	switch o := out.(type) {
	case *duck.Table:
		if n := o.Skipped(); n > 0 {
			line += fmt.Sprintf("; %d of them were there already and were skipped", n)
		}
	case *duck.Parquet:
		if len(o.Files()) > 1 || f.rotate != "" {
			line += fmt.Sprintf(" (%d files)", len(o.Files()))
		}
	}
	if x.bad > 0 {
		fmt.Fprintf(stderr, "eddy: skipped %d records that are not JSON objects (first: %v)\n", x.bad, x.firstBad)
	}
	if x.unmatched > 0 {
		fmt.Fprintf(stderr, "eddy: skipped %d records the --where filter could not evaluate (first: %v)\n", x.unmatched, x.firstUnmatched)
	}
	fmt.Fprintln(stderr, line)
	if runErr != nil {
		if ctx.Err() != nil && errors.Is(runErr, ctx.Err()) {
			switch o := out.(type) {
			case *duck.Table:
				return errors.New("interrupted: run the same export again to complete it (rows already there are skipped)")
			case *duck.Parquet:
				if !o.Dir() {
					return fmt.Errorf("interrupted: %s was not written", f.parquet)
				}
			}
			return errors.New("interrupted")
		}
		return runErr
	}
	return closeErr
}

// openExportTopic opens a topic from --from up to its current end.
func openExportTopic(c *cobra.Command, topic string, from startpos.Position) (*source.Kafka, error) {
	cfg, err := kafkaConfig(c)
	if err != nil {
		return nil, err
	}
	conn, err := cfg.Opts()
	if err != nil {
		return nil, usageError{err}
	}
	ctx := c.Context()
	ping, err := cfg.Client(ctx, 10*time.Second)
	if err != nil {
		return nil, err
	}
	ping.Close()
	return source.OpenKafka(ctx, conn, source.KafkaOptions{Topics: []string{topic}, Start: from.String(), Stop: "caught-up"})
}

// exporter moves records from a source to the sink on one goroutine.
type exporter struct {
	out      duck.RecordWriter
	match    *engine.Matcher
	fromLine int64 // a file's first line (--from)
	to       bound
	file     bool
	progress *progress

	read, bad, unmatched int64
	firstBad             error
	firstUnmatched       error
	row                  sink.Row
}

func (x *exporter) run(ctx context.Context, src source.Source) error {
	for {
		b, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		done, err := x.batch(b.Records)
		src.Release(b)
		x.progress.show(x.read, x.out.Written())
		if err != nil || done {
			return err
		}
	}
}

// batch exports a batch of records; done is true past --to in a file.
func (x *exporter) batch(recs []source.Record) (done bool, err error) {
	for i := range recs {
		r := &recs[i]
		if x.file && x.to.set && r.Offset >= x.to.n {
			return true, nil
		}
		if !x.inRange(r) {
			continue
		}
		x.read++
		if x.match != nil {
			ok, err := x.match.Match(r)
			if err != nil {
				if !isNotObject(err) {
					if x.unmatched == 0 {
						x.firstUnmatched = fmt.Errorf("%s: %w", where(r), err)
					}
					x.unmatched++
					continue
				}
			} else if !ok {
				continue
			}
		}
		x.row.JSON = r.Value
		if err := x.out.WriteRecord(&x.row, r); err != nil {
			var re *duck.RowError
			if !errors.As(err, &re) {
				return false, err
			}
			if x.bad == 0 {
				x.firstBad = fmt.Errorf("%s: %w", where(r), re.Err)
			}
			x.bad++
		}
	}
	return false, nil
}

func (x *exporter) inRange(r *source.Record) bool {
	if x.file {
		return r.Offset >= x.fromLine
	}
	// Kafka starts at --from already; --to is checked per record because
	// the source reads each partition to its end
	switch {
	case !x.to.set:
		return true
	case x.to.isTime:
		return r.Timestamp < x.to.n
	}
	return r.Offset < x.to.n
}

// isNotObject reports whether a Matcher error is about the record's JSON
// rather than the expression (the sink reports those records itself).
func isNotObject(err error) bool {
	var de *decode.Error
	return errors.As(err, &de) || errors.Is(err, decode.ErrNotObject)
}

func where(r *source.Record) string {
	if r.File {
		return fmt.Sprintf("%s line %d", r.Topic, r.Offset)
	}
	return fmt.Sprintf("%s/%d offset %d", r.Topic, r.Partition, r.Offset)
}

// progress redraws one status line on a terminal.
type progress struct {
	w     io.Writer
	every time.Duration
	last  time.Time
	shown bool
}

// newProgress returns a progress line on w when w is a terminal, else one
// that prints nothing.
func newProgress(w io.Writer, every time.Duration) *progress {
	if !isTerminal(w) {
		return &progress{}
	}
	return &progress{w: w, every: every}
}

func (p *progress) show(read, written int64) {
	if p.w == nil || time.Since(p.last) < p.every {
		return
	}
	p.last = time.Now()
	p.shown = true
	fmt.Fprintf(p.w, "\r\033[Keddy: exporting: %d records read, %d rows committed", read, written)
}

func (p *progress) clear() {
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
