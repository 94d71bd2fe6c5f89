// Package tui is eddy's workbench: a bubbletea v2 program with a root [Model]
// that owns the screen and one sub-model per pane (topics, records,
// pipeline, results, dead letters) sharing a [Common] (size, styles, keys).
//
// Ownership: the bubbletea goroutine owns every model. A feed (see
// [Options.Open]) reads its source on a reader goroutine and runs the
// pipeline on an engine goroutine; they fill a mutex-guarded hub, and a
// ticker drains the hub at most [Refresh] times per second into one
// [FeedMsg] sent on a channel that a Cmd reads one message at a time and
// re-arms. Applying a pipeline swaps the engine between two batches without
// touching the source ([ApplyMsg]); messages carry the pipeline's
// generation so the UI ignores what an older one produced. Update never
// blocks and does no I/O: listing topics, opening sources, writing and
// reading specs, exports and replays run in Cmds.
//
// The pipeline pane checks every edit by formatting the pipeline with
// pipeline.Format and parsing it back as `eddy run` would, so what runs is
// what `w` saves.
//
// Memory is bounded: the record tail keeps the last [TailCap] records, the
// results table the last [ResultCap] rows, the chart [ChartKeys] keys of
// [ChartLen] windows, the dead-letter list the last [DeadCap] letters
// (counts by class and stage are complete). Between two refreshes the hub
// keeps at most the same numbers, dropping the oldest.
package tui
