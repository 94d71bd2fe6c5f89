// Package state checkpoints a running pipeline to a local Pebble store so
// that `eddy run` can be killed and restarted without losing or repeating
// output (docs/state.md).
//
// A checkpoint is written as one atomic, synced Pebble batch holding the
// pipeline's [Fingerprint] (with a readable description of what it covers),
// the engine's [engine.Checkpoint] (counters, per-partition watermarks and
// positions, the file position), the window operator's snapshot and every
// sink's progress. A crash while writing leaves the previous checkpoint;
// a damaged one is an error ([ErrCorrupt]), never a silent fresh start.
//
// Ownership: the [Checkpointer] runs on the engine's goroutine (engine.Run
// calls it between batches); a [Store] is used by one goroutine at a time.
package state
