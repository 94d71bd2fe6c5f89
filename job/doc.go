// Package job turns a pipeline spec plus overrides into a running job: it
// opens the source, the sinks, the dead letters and the state, restores a
// checkpoint, runs the engine, checkpoints, closes everything and reports.
// eddy run, eddy dlq replay --through and later eddy serve assemble a run
// here and nowhere else.
//
// A run is [Open] then [Job.Run]:
//
//	j, err := job.Open(ctx, p, job.Options{Stderr: os.Stderr})
//	if err != nil { ... }      // a *SpecError: the spec or the options are wrong
//	defer j.Close()
//	stats, err := j.Run(ctx)
//
// Before anything is opened or created, Open refuses a run that would
// destroy its own files (refuse.go). With a state section it restores in
// this order (restore.go): open the state directory, open the
// transactional sinks (Kafka, DuckDB), pick the checkpoint the sinks hold
// and roll the store back to it, commit again what a sink missed (redo),
// open the other sinks at their checkpointed sizes, seek the source, and
// for a fresh start write checkpoint #1 before anything is written. Run
// stops at the end of a bounded input, on an error, or when its context is
// cancelled; with a cause (context.WithCancelCause; eddy's signal handler
// gives the signal) the error wraps the cause.
//
// Each source, sink and dead-letter kind of pipeline's registry has its
// opener and its per-kind decisions (opened first, decides the checkpoint,
// files it writes, name in checkpoints) in one file, sink_NAME.go or
// source_NAME.go, registered from init (kinds.go); the opening, the
// refusals and the restore look kinds up there and switch on none.
//
// Layering: job may import engine, sink, source, state, pipeline, duck,
// windows and kcfg; engine, sinks and sources never import job.
package job
