package duck

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
)

// Mode says what [OpenTable] does with a table that exists.
type Mode string

// Modes.
const (
	Append  Mode = "append"  // add rows to the table (the default)
	Replace Mode = "replace" // drop the table when the sink opens
)

// DefaultBatchRows is the number of rows per committed batch when
// [Options.BatchRows] is 0: one DuckDB row group, so each commit writes
// whole compressed row groups to the database file instead of logging the
// rows in the write-ahead log first (measured in docs/export.md).
const DefaultBatchRows = 122_880

// Options configures a [Table]. The zero value appends batches of
// DefaultBatchRows rows, without coordinate columns.
type Options struct {
	// Mode is Append (default, also "") or Replace.
	Mode Mode
	// BatchRows is how many rows are committed together; default
	// DefaultBatchRows. Flush and Close commit smaller batches.
	BatchRows int
	// Coordinates adds the columns _topic VARCHAR, _partition INTEGER,
	// _offset BIGINT, _timestamp TIMESTAMP and _key VARCHAR, filled from
	// the record given to WriteRecord (Write cannot be used then). Default
	// off (window results and projections have no single record).
	Coordinates bool
	// Dedupe skips rows whose (_topic, _partition, _offset) is already in
	// the table, so re-running an export over the same range adds nothing.
	// Needs Coordinates. Default off.
	Dedupe bool
	// Threads caps DuckDB's worker threads; 0 (default) keeps DuckDB's
	// default, one per core.
	Threads int
	// Progress makes the table transactional for checkpoints
	// (sink.Transactional): rows stay in one open transaction that only
	// Commit commits, together with the table's row of ProgressTable
	// (the rows committed to the table and the checkpoint's number); Flush
	// commits nothing, Close rolls the open transaction back, and
	// BatchRows is not used. Default off.
	Progress bool
}

// ProgressTable is the table in which Options.Progress counts committed
// rows: (table_name VARCHAR PRIMARY KEY, rows BIGINT, checkpoint BIGINT).
const ProgressTable = "eddy_progress"

// Validate checks the options.
func (o Options) Validate() error {
	switch o.Mode {
	case "", Append, Replace:
	default:
		return fmt.Errorf("mode %q: want append or replace", o.Mode)
	}
	if o.BatchRows < 0 {
		return fmt.Errorf("batch rows %d: must not be negative", o.BatchRows)
	}
	if o.Threads < 0 {
		return fmt.Errorf("threads %d: must not be negative", o.Threads)
	}
	if o.Dedupe && !o.Coordinates {
		return errors.New("dedupe needs coordinates")
	}
	return nil
}

// Table is a sink that writes rows into a table of a DuckDB database file
// in bulk (see the package doc), in batches committed one transaction each: a
// killed process leaves whole batches only. Column types are inferred from
// the values and widen as described in docs/export.md.
//
// A Table is owned by one goroutine, except Written and Skipped, which are
// safe to call from any goroutine. After a failure (other than a
// *RowError) every call returns that error.
type Table struct {
	db        *database
	w         *writer
	path      string
	batchRows int
	written   atomic.Int64
	given     int64 // rows given to WriteRecord, less the RowErrors
	skipped   atomic.Int64
	err       error
	closed    bool
	txn       bool // Options.Progress
}

var (
	_ sink.Sink          = (*Table)(nil)
	_ sink.Flusher       = (*Table)(nil)
	_ sink.Transactional = (*Table)(nil)
)

// OpenTable opens (or creates) the DuckDB database file at path and
// prepares to write rows into table. With Replace the table is dropped now;
// with Append an existing table's columns are read and kept. The table is
// created by the first commit, or now when opts.Coordinates is set.
func OpenTable(path, table string, opts Options) (*Table, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("duckdb sink: %w", err)
	}
	if table == "" {
		return nil, errors.New("duckdb sink: no table name")
	}
	ctx := context.Background()
	db, err := openDB(ctx, path, opts.Threads)
	if err != nil {
		return nil, err
	}
	t := &Table{db: db, path: path, batchRows: opts.BatchRows, txn: opts.Progress}
	if t.batchRows == 0 {
		t.batchRows = DefaultBatchRows
	}
	fail := func(err error) (*Table, error) {
		db.Close()
		return nil, fmt.Errorf("duckdb %s: %w", path, err)
	}
	t.w = newWriter(db, table, opts.Coordinates, opts.Dedupe)
	if opts.Mode == Replace {
		if _, err := t.w.exec(ctx, "DROP TABLE IF EXISTS "+quoteIdent(table)); err != nil {
			return fail(fmt.Errorf("drop table %q: %w", table, err))
		}
	}
	if err := t.w.load(ctx); err != nil {
		return fail(err)
	}
	if opts.Progress {
		if err := t.w.loadProgress(ctx, opts.Mode == Replace); err != nil {
			return fail(err)
		}
	}
	if opts.Coordinates && !t.w.exists {
		if err := t.w.create(ctx); err != nil {
			return fail(err)
		}
	}
	return t, nil
}

// Rows returns the rows committed to the table by runs with
// Options.Progress, as counted in ProgressTable, plus those of the open
// transaction.
func (t *Table) Rows() int64 { return t.w.total + int64(t.w.rows) }

// Committed returns the table's row of ProgressTable as read when the
// table was opened: rows committed and the checkpoint that committed them.
func (t *Table) Committed() (rows, seq int64) { return t.w.total0, t.w.seq0 }

// Commit commits the open transaction with the table's row of
// ProgressTable set to Rows() and seq (Options.Progress).
func (t *Table) Commit(ctx context.Context, seq int64, _ map[string]map[int32]int64) error {
	if t.err != nil {
		return t.err
	}
	t.w.seq = seq
	return t.commit(ctx)
}

// Write buffers a row; every BatchRows rows the batch is committed. It
// fails when Coordinates is on: use WriteRecord.
func (t *Table) Write(r *sink.Row) error { return t.WriteRecord(r, nil) }

// WriteRecord buffers a row with the coordinates of the record it came
// from (rec may be nil when Coordinates is off). A row without Names is
// read from its JSON object; one that is not an object gets a *RowError
// and is not written. Every BatchRows rows the batch is committed.
func (t *Table) WriteRecord(r *sink.Row, rec *source.Record) error {
	t.given++
	if t.err != nil {
		return t.err
	}
	if t.closed {
		return errors.New("duckdb sink: write after close")
	}
	if err := t.w.add(context.Background(), r, rec); err != nil {
		var re *RowError
		if errors.As(err, &re) {
			t.given-- // a dead letter, not a row
			return err
		}
		t.err = fmt.Errorf("duckdb %s: %w", t.path, err)
		return t.err
	}
	if t.w.rows >= t.batchRows && !t.txn {
		return t.commit(context.Background())
	}
	return nil
}

// Flush commits the rows buffered so far (with Options.Progress it
// commits nothing: Commit does).
func (t *Table) Flush(ctx context.Context) error {
	if t.err != nil || t.txn {
		return t.err
	}
	return t.commit(ctx)
}

func (t *Table) commit(ctx context.Context) error {
	rows, skipped, err := t.w.commit(ctx)
	if err != nil {
		t.err = fmt.Errorf("duckdb %s: %w", t.path, err)
		return t.err
	}
	t.written.Add(rows)
	t.skipped.Add(skipped)
	return nil
}

// Written returns the number of rows in committed batches, including rows
// that Dedupe found already in the table.
func (t *Table) Written() int64 { return t.written.Load() }

// Delivery returns how many of the rows given to the table (without the
// ones refused with a *RowError) are in committed batches.
func (t *Table) Delivery() sink.Delivery {
	return sink.Delivery{Written: t.Written(), Total: t.given}
}

// Skipped returns how many of the written rows Dedupe found already in the
// table (and so did not add again).
func (t *Table) Skipped() int64 { return t.skipped.Load() }

// Close commits the last batch (with Options.Progress it rolls the open
// transaction back: what it holds is after the last checkpoint), adds
// columns that only ever had nulls (as VARCHAR) and closes the database,
// which checkpoints it.
func (t *Table) Close() error {
	if t.closed {
		return t.err
	}
	t.closed = true
	ctx := context.Background()
	err := t.err
	switch {
	case err == nil && t.txn:
		t.w.rollback()
	case err == nil:
		err = t.commit(ctx)
	}
	if err == nil {
		if aerr := t.w.addNullColumns(ctx); aerr != nil {
			err = fmt.Errorf("duckdb %s: %w", t.path, aerr)
		}
	}
	cerr := t.db.Close()
	if cerr != nil {
		cerr = fmt.Errorf("duckdb %s: close: %w", t.path, cerr)
		if t.err == nil {
			t.err = cerr
		}
	}
	return errors.Join(err, cerr)
}
