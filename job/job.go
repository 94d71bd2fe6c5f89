// Package job turns a pipeline spec into a running job and reports on it.
//
// It is where a run is assembled, for eddy run and the commands and screens
// that run a pipeline the same way. So far it holds the report on what each
// destination took after a failed run; the rest of the assembly (opening the
// source, sinks, dead letters and state, the restore order) is still in cmd
// (cmd/run.go, cmd/state.go) and moves here next (issue 13, item 1).
//
// Layering: job may import engine, sink, source, state, pipeline, duck and
// kcfg; engine, sinks and sources never import job.
package job
