// Package lookup loads the reference tables of a pipeline's tables section
// and keeps them current, for the lookup stages that join them to records.
//
// A [Table] is read whole when it is opened, before the pipeline reads a
// record: a JSON Lines, CSV or Parquet file (CSV and Parquet through
// DuckDB), a DuckDB table or query, or a compacted Kafka topic read to its
// end. Its columns are fixed then (those of the first load, or the kafka
// table's columns). A file is then checked every refresh interval and read
// again when it changed; a DuckDB table is read again every refresh. A new
// version is built beside the one in use and swapped in with one atomic
// store, so a lookup sees the old table or the new, never a mix; a version
// that cannot be read (a bad line, a needed column gone, over the memory
// limit) is refused and the old one stays, with a warning. A kafka table
// applies each record as it arrives: the latest value per key, and a
// tombstone (a record without a value) deletes its key.
//
// Keys match by their text: a string as it is, an integer in decimal (so
// the field 7 finds the key "7"), a float in Go's shortest form (7.0 is
// "7"), true and false; a null key matches nothing, as in SQL. A file or
// DuckDB table must have one row per key in each key column a lookup
// uses: a duplicate is an error, so that a lookup is a left join that never
// multiplies records.
//
// Memory is counted per table as rows are loaded (an estimate: values,
// strings and index entries) and bounded by the table's memory_limit; a
// table over it fails to open, and a kafka table that grows over it stops
// the run with the error (Err).
//
// A Table's loader goroutine owns building versions; lookups (Keyed.Get)
// may be called from any goroutine.
package lookup
