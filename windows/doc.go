// Package windows is eddy's event-time core: window assignment (tumbling,
// hopping, session), watermarks, lateness and aggregation. It is
// deterministic: no clocks, no goroutines. The caller feeds records with
// their event times and advances the watermark; the operator calls its emit
// function with each result row as windows fire.
//
// One [Operator] holds these semantics. It keeps windows decoded in a cache
// in front of a small ordered keyed [Store] (Get, Set, Delete, DeleteRange,
// an ordered Scan, Checkpoint and Restore), under one key encoding that
// sorts as value.Compare does. [MemStore] is the memory backend (no cache
// limit: nothing leaves the cache but checkpoints); the Pebble backend
// (state.backend: pebble) is package state/pebblestore, so this package
// imports only the standard library and value. Whatever the store and the
// cache size, the rows are the same and in the same order. The operator
// snapshots its state for checkpoints (AppendSnapshot, Restore).
//
// Semantics (see docs/pipeline.md for the user-facing description):
//
//   - Windows are aligned to the Unix epoch and half-open [start, end).
//     Tumbling(size): start = floor(ts/size)*size. Hopping(size, slide): every
//     window whose start is a multiple of slide with start ≤ ts < start+size.
//     Session(gap), per key: a record joins every open session with
//     first−gap ≤ ts ≤ last+gap, merging them; a session is [first, last+gap).
//   - A window fires when the watermark W ≥ end. Rows that fire together are
//     ordered by (window_end, window_start, key).
//   - A record is late when every window it would join has end+L ≤ W, where L
//     is the allowed lateness (0 by default). Late records are not added.
//   - With L > 0 a fired window is kept until W ≥ end+L; a record arriving in
//     that time updates it and the row is emitted again with the next revision.
//   - Flush sets W to +∞: every open window fires.
//
// All times are epoch milliseconds.
package windows
