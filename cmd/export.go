package cmd

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/eddyhq/eddy/duck"
	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/format"
	"github.com/eddyhq/eddy/internal/export"
	"github.com/eddyhq/eddy/internal/s3store"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/startpos"
)

type exportFlags struct {
	input, topic         string
	from, to             string
	where                string
	format               string
	duckdb, table        string
	mode                 string
	parquet, rotate      string
	s3Endpoint, s3Region string
	s3PathStyle          bool
	batchRows            int
	threads              int
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
time (1m). An s3://BUCKET/KEY (or s3://BUCKET/PREFIX/ for parts) is staged
locally and uploaded when finished, in parts of a multipart upload for large
files: an object appears only once complete (docs/aws.md). Credentials come
from the standard AWS chain, with --aws-profile.

--format reads values in another format than JSON: avro, protobuf or
json-schema through the schema registry (--schema-registry, schema.registry.url
in the client properties, or $EDDY_SCHEMA_REGISTRY), each record decoded as a
whole with its writer's schema, so its fields become columns with their types
(longs BIGINT, timestamps TIMESTAMP; records, arrays and maps JSON); or raw:
the value's bytes as one VARCHAR column, value (a file's lines too). Records
that do not decode are skipped and counted; a registry that cannot be reached
stops the export (exit 1).

Records that are not JSON objects are skipped and counted. The last line on
stderr is "eddy: exported N rows to ...". Exit status: 0 done, 1 runtime
failure or interrupted, 2 bad flags.`,
		Example: `  eddy export --input bids.jsonl --duckdb bids.duckdb --table bids
  eddy export -b localhost:9092 -t orders --from -1h --duckdb lake.duckdb --table orders
  eddy export -t orders --where 'amount > 100' --parquet big-orders.parquet
  eddy export -t clicks --parquet clicks/ --rotate 1m
  eddy export -t clicks --parquet s3://lake/clicks/ --rotate 100000
  eddy export -t bids-avro --format avro --schema-registry http://localhost:8081 --duckdb lake.duckdb --table bids
  eddy export --input app.log --format raw --parquet app-log.parquet`,
		Args: exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error { return runExport(c, f) },
	}
	fl := c.Flags()
	fl.StringVarP(&f.input, "input", "i", "", "read JSON Lines from `FILE` (- for stdin)")
	fl.StringVarP(&f.topic, "topic", "t", "", "read `TOPIC` (brokers from -b or $EDDY_BROKERS)")
	fl.StringVar(&f.from, "from", "", "start at this offset or time (`OFFSET|TIME`, inclusive)")
	fl.StringVar(&f.to, "to", "", "stop before this offset or time (`OFFSET|TIME`)")
	fl.StringVar(&f.where, "where", "", "export only records matching this filter `EXPR`")
	fl.StringVar(&f.format, "format", "json", "the values' `FORMAT`: json, avro, protobuf or json-schema (through the schema registry) or raw")
	fl.StringVar(&f.duckdb, "duckdb", "", "write to the DuckDB database `FILE`")
	fl.StringVar(&f.table, "table", "", "DuckDB `TABLE` to write (with --duckdb)")
	fl.StringVar(&f.mode, "mode", "append", "`append` to the table or `replace` it (with --duckdb)")
	fl.StringVar(&f.parquet, "parquet", "", "write a Parquet `FILE`, or files in a DIR; s3://BUCKET/KEY or s3://BUCKET/PREFIX/ for S3")
	fl.StringVar(&f.s3Endpoint, "s3-endpoint", "", "with --parquet s3://…: the `URL` of an S3-compatible store (default AWS's)")
	fl.StringVar(&f.s3Region, "s3-region", "", "with --parquet s3://…: the bucket's `REGION` (default $AWS_REGION)")
	fl.BoolVar(&f.s3PathStyle, "s3-path-style", false, "with --parquet s3://…: path-style addressing (ENDPOINT/BUCKET/KEY)")
	fl.StringVar(&f.rotate, "rotate", "", "start a new Parquet file every `N` rows or DURATION (implies a directory)")
	fl.IntVar(&f.batchRows, "batch-rows", duck.DefaultBatchRows, "rows per committed batch (DuckDB) or appended chunk (Parquet)")
	fl.IntVar(&f.threads, "threads", 0, "DuckDB worker `THREADS` (default: one per core)")
	return c
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
	if f.input != "" && (from.Kind == startpos.Time || to.IsTime) {
		return usagef("export: records of a file have no timestamps: --from and --to take line numbers with --input")
	}
	if f.input != "" && from.Kind != startpos.Earliest && from.Kind != startpos.Offset {
		return usagef("export: with --input, --from takes a line number (N or offset:N), not %s", f.from)
	}
	rotRows, rotEvery, err := rotation(f.rotate)
	if err != nil {
		return usageError{err}
	}
	if f.input != "" && format.NeedsRegistry(f.format) {
		return usagef("export: --format %s reads a topic (-t); a file holds lines (--format json or raw)", f.format)
	}
	decodeValue, types, err := recordTypedDecoder(c, "--format", f.format, format.Config{})
	if err != nil {
		return err
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
	var pq *duck.Parquet   // the Parquet sink, local or staged for S3
	var abort func() error // drops a partial single file
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
		o := duck.ParquetOptions{Dir: dir, RotateRows: rotRows, RotateEvery: rotEvery,
			BatchRows: f.batchRows, Coordinates: true, Threads: f.threads}
		if s3store.IsURL(f.parquet) {
			loc, err := s3store.ParseURL(f.parquet)
			if err != nil {
				return usageError{fmt.Errorf("export: --parquet %w", err)}
			}
			st, err := s3store.Open(ctx, s3store.Options{Region: f.s3Region, Endpoint: f.s3Endpoint, PathStyle: f.s3PathStyle, Profile: awsProfile(c)})
			if err != nil {
				return err
			}
			p, err := s3store.OpenParquet(ctx, st, loc, dir, o)
			if err != nil {
				return err
			}
			out, pq, abort = p, p.Parquet, p.Abort
		} else {
			p, err := duck.OpenParquet(f.parquet, o)
			if err != nil {
				return err
			}
			out, pq, abort = p, p, p.Abort
		}
		dest = f.parquet
	}

	prog := newProgress(c.ErrOrStderr(), 250*time.Millisecond)
	x := &export.Copy{Out: out, Match: match, FromLine: from.N, To: to, File: f.input != "", Progress: prog.show,
		Decode: decodeValue, Types: types, Fatal: format.Fatal}
	runErr := x.Run(ctx, src)
	var closeErr error
	if pq != nil && runErr != nil && !pq.Dir() {
		// a partial export must not replace a whole file
		closeErr = abort()
	} else {
		closeErr = out.Close()
	}
	prog.clear()
	stderr := c.ErrOrStderr()
	line := fmt.Sprintf("eddy: exported %d rows to %s", out.Written(), dest)
	if o, ok := out.(*duck.Table); ok {
		if n := o.Skipped(); n > 0 {
			line += fmt.Sprintf("; %d of them were there already and were skipped", n)
		}
	}
	if pq != nil && (len(pq.Files()) > 1 || f.rotate != "") {
		line += fmt.Sprintf(" (%d files)", len(pq.Files()))
	}
	if x.Undecoded > 0 {
		fmt.Fprintf(stderr, "eddy: skipped %d records that could not be decoded as %s (first: %v)\n", x.Undecoded, f.format, x.FirstUndecoded)
	}
	if x.Bad > 0 {
		fmt.Fprintf(stderr, "eddy: skipped %d records that are not JSON objects (first: %v)\n", x.Bad, x.FirstBad)
	}
	if x.Unmatched > 0 {
		fmt.Fprintf(stderr, "eddy: skipped %d records the --where filter could not evaluate (first: %v)\n", x.Unmatched, x.FirstUnmatched)
	}
	fmt.Fprintln(stderr, line)
	if runErr != nil {
		if ctx.Err() != nil && errors.Is(runErr, ctx.Err()) {
			if _, ok := out.(*duck.Table); ok {
				return errors.New("interrupted: run the same export again to complete it (rows already there are skipped)")
			}
			if pq != nil && !pq.Dir() {
				return fmt.Errorf("interrupted: %s was not written", f.parquet)
			}
			return errors.New("interrupted")
		}
		return runErr
	}
	return closeErr
}
