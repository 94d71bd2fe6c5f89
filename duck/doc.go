// Package duck writes eddy's rows to DuckDB tables and Parquet files.
//
// [Table] is a sink (sink.Sink and sink.Flusher) that appends rows to a
// table of a DuckDB database file in bulk (typed column buffers handed to
// DuckDB a chunk at a time by a table function, inserted with one INSERT …
// SELECT per buffer, never row by row), in batches of [Options.BatchRows] rows, each committed in one transaction: a killed
// process leaves whole batches only, and [Table.Written] counts only
// committed rows. [Parquet] writes Parquet files with DuckDB's COPY from an
// in-memory table, to a temporary name that is renamed when complete.
//
// Rows come as sink.Row: typed Names and Vals (window results, projected
// records), or only JSON (records streamed unchanged), whose top-level
// fields are read with decode.FieldsKeyed. Column types are inferred from the
// values and widen when later values need it:
//
//	BIGINT → DOUBLE → VARCHAR ← TIMESTAMP      BOOLEAN      JSON
//
// Timestamps are value.Time values and, when a column is created (or is
// TIMESTAMP already), strings that are all RFC 3339 in the batch. Nested
// objects and arrays are JSON. New fields add columns; missing ones are
// NULL. Values that cannot widen into their column are a *[SchemaError] and
// nothing of their batch is written. docs/export.md has the full rules.
//
// With coordinates on, rows are written with WriteRecord, which also stores
// the source record's _topic, _partition, _offset, _timestamp and _key; with
// Dedupe a row whose (_topic, _partition, _offset) is in the table already
// is skipped, so an export re-run over the same range adds nothing.
//
// A sink is owned by one goroutine; Written (and Skipped, Files) may be
// called from any goroutine.
package duck
