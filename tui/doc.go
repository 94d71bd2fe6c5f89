// Package tui is eddy's workbench: a bubbletea v2 program with a root [Model]
// that owns the screen and one sub-model per pane (topics, records, results,
// dead letters) sharing a [Common] (size, styles, keys).
//
// Ownership: the bubbletea goroutine owns every model. A feed (see [Options.Open])
// reads its source, and runs the pipeline when one is given, on goroutines of
// its own; they fill a mutex-guarded hub, and a ticker drains the hub at most
// [Refresh] times per second into one [FeedMsg] sent on a channel that a Cmd
// reads one message at a time and re-arms. Update never blocks and does no I/O:
// listing topics and opening sources run in Cmds.
//
// Memory is bounded: the record tail keeps the last [TailCap] records, the
// results table the last [ResultCap] rows, the dead-letter list the last
// [DeadCap] letters (counts by class and stage are complete). Between two
// refreshes the hub keeps at most the same numbers, dropping the oldest.
package tui
