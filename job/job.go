package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/format"
	"github.com/eddyhq/eddy/kcfg"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/state"
	"github.com/eddyhq/eddy/windows"
)

// Options are what a run takes besides its spec: replacements for parts of
// the spec (the flags of eddy run) and where its standard streams and
// Kafka settings come from. The zero value runs the spec as written, with
// no standard streams.
type Options struct {
	// Input replaces source.file (and source.kafka); "-" is Stdin.
	Input string
	// Out replaces the sinks with one JSON Lines file; "-" is Stdout.
	Out string
	// DLQ replaces the dead-letter destination with a file; "-" is Stdout.
	DLQ string
	// Stats is a file ("-": Stdout) the final counters are written to as
	// JSON; "" writes none.
	Stats string
	// ResetState discards state.dir before the run.
	ResetState bool
	// Workers is how many cores run the pipeline (eddy run --workers,
	// engine.Options.Workers); 0 or 1 is one. With state.backend pebble
	// each worker has a store of its own (windowStores).
	Workers int

	// Stdin, Stdout and Stderr stand for "-" in the spec and the options;
	// Stderr also takes the run's notices, the final counters and, after
	// a failure, the delivery report. Nil means empty and io.Discard.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Kafka returns the cluster settings from outside the spec (flags,
	// environment): they go over the spec's properties file, and the
	// spec's brokers replace theirs. It is called only when the spec names
	// a cluster. Nil: none.
	Kafka func() (*kcfg.Config, error)
	// Brokers, when set (eddy's -b flag), are the bootstrap servers of
	// the spec's main cluster whatever the spec says: the Kafka source's,
	// and every sink and dead-letter topic naming the same brokers or none.
	// A target naming another cluster keeps it.
	Brokers string
	// AWSProfile is the shared-config profile of the AWS sources and
	// sinks (--aws-profile); "" leaves it to AWS_PROFILE and the default
	// credential chain.
	AWSProfile string
	// SchemaRegistry returns the schema registry settings from outside the
	// spec, for the avro, protobuf and json-schema formats: flag (the
	// --schema-registry flag) goes over the spec's source.kafka.registry
	// and the properties, env under them (MergeRegistry). Nil: none.
	SchemaRegistry func() (flag, env format.Config)
	// AfterStep, when set, is called after each step of each checkpoint
	// and of a restore (state.Checkpointer.AfterStep); an error fails the
	// run there, as a crash would stop it. Fault-injection tests use it.
	AfterStep func(step string, seq int64) error
	// Metrics, when set, is the HOST:PORT (":PORT" means loopback) the
	// run serves /metrics on in the Prometheus text format, from Open
	// until the run ends; a host other than loopback gets a warning.
	Metrics string
	// MetricsWindows adds to /metrics the latest closed window of each key
	// as gauges (sink.WindowGauges), at most MetricsMaxSeries series
	// (default 10000). It needs Metrics and a pipeline ending in a window.
	MetricsWindows   bool
	MetricsMaxSeries int
	// Registry, when set, takes the run's collectors (those Metrics
	// serves) for a caller that serves them itself (eddy serve's
	// /metrics); it may be set with or without Metrics.
	Registry *prometheus.Registry
	// Sinks are sinks of the caller's that the engine writes every row
	// to after the spec's (eddy serve's feature table); with them a spec
	// without sinks gets none (else its rows go to Stdout). The job does
	// not close them: they are the caller's. With a state section, those
	// that are sink.Stateful are part of every checkpoint and restored
	// with it (the others are not tracked).
	Sinks []sink.Sink
}

// SpecError is an error in the spec or the options (a refused run, a
// state directory of another pipeline, a bad properties file), found
// before a record is read (eddy exits 2 on it).
type SpecError struct{ Err error }

func (e *SpecError) Error() string { return e.Err.Error() }
func (e *SpecError) Unwrap() error { return e.Err }

func specErr(err error) error { return &SpecError{err} }

// Job is an opened run: its source, engine, sinks and state are open and,
// with a state section, restored. Run it once, then Close it.
type Job struct {
	r     *runner
	src   source.Source
	eng   *engine.Engine
	sinks []sink.Sink
	dead  sink.DeadLetters
	ended atomic.Bool // Run reached the end of a bounded input
}

// Open applies o to p, refuses a run that would destroy its own files,
// and opens and restores everything the run reads and writes. p is
// changed in place. On an error everything opened is closed again.
func Open(ctx context.Context, p *pipeline.Pipeline, o Options) (_ *Job, err error) {
	o.defaults()
	if o.Input != "" {
		p.Source = pipeline.Source{File: o.Input, Line: p.Source.Line}
	}
	if o.Out != "" {
		p.Sinks = []pipeline.Target{{File: o.Out}}
	}
	if o.DLQ != "" {
		p.DLQ = &pipeline.Target{File: o.DLQ}
	}
	if p.Source == (pipeline.Source{Line: p.Source.Line}) && len(p.Sources) == 0 {
		return nil, specErr(fmt.Errorf("%s: no input: set source.file, source.kafka or source.kinesis in the spec or pass --input", p.File))
	}
	if len(p.Sinks) == 0 && len(o.Sinks) == 0 {
		p.Sinks = []pipeline.Target{{File: "-"}}
	}
	plan, err := pipeline.Compile(p)
	if err != nil {
		return nil, specErr(err)
	}
	// before anything is opened or created
	if err := checkAvroSinks(p, plan); err != nil {
		return nil, err
	}
	if err := checkRun(p, o); err != nil {
		return nil, err
	}
	var collectors []prometheus.Collector
	var gauges *sink.WindowGauges
	if o.MetricsWindows {
		if gauges, err = windowGauges(p, o); err != nil {
			return nil, err
		}
		collectors = append(collectors, gauges)
	}
	r := &runner{p: p, o: o}
	defer func() {
		if err != nil {
			r.closeAll()
		}
	}()
	if p.State != nil {
		if r.st, err = openState(p, o.ResetState); err != nil {
			return nil, err
		}
		st := r.st
		st.cp.AfterStep = o.AfterStep
		r.closers = append(r.closers, func() error { return errors.Join(st.cp.Wait(), st.store.Close()) })
	}
	if c := kindOfSources(p).connect; c != nil {
		if err := c(ctx, r); err != nil {
			return nil, err
		}
	}
	schemas, err := r.schemas(ctx)
	if err != nil {
		return nil, err
	}
	tables, err := r.openTables(ctx)
	if err != nil {
		return nil, err
	}
	if tables != nil {
		collectors = append(collectors, newTableCollector(tables, p.Name))
	}
	sinks := make([]sink.Sink, len(p.Sinks))
	if r.st != nil {
		// the transactional sinks first: which checkpoint is restored
		// depends on what they hold
		for i, t := range p.Sinks {
			if sinkKindOf(t, pipeline.AsSink).holdsCheckpoint {
				if sinks[i], err = r.openSink(ctx, t); err != nil {
					return nil, err
				}
			}
		}
		if err := r.st.choose(ctx); err != nil {
			return nil, err
		}
	}
	src, track, err := r.openSource(ctx)
	if err != nil {
		return nil, err
	}
	for i, t := range p.Sinks {
		if sinks[i] != nil {
			continue
		}
		if sinks[i], err = r.openSink(ctx, t); err != nil {
			return nil, err
		}
	}
	dead, err := r.openDead(ctx)
	if err != nil {
		return nil, err
	}
	if r.st != nil {
		for i, x := range o.Sinks {
			if sf, ok := x.(sink.Stateful); ok {
				r.st.cp.Parts = append(r.st.cp.Parts, state.Part{Name: fmt.Sprintf("extra sink %d", i), State: sf})
			}
		}
	}
	engSinks := append(sinks[:len(sinks):len(sinks)], o.Sinks...)
	if gauges != nil {
		engSinks = append(engSinks, gauges)
	}
	opts := engine.Options{Sinks: engSinks, Dead: dead, TrackOffsets: track, Schemas: schemas, Tables: tables,
		Warn: func(msg string) { fmt.Fprintf(o.Stderr, "eddy: warning: %s\n", msg) }, Workers: o.Workers}
	if r.st != nil {
		opts.Checkpointer, opts.CheckpointEvery = r.st.cp, p.State.CheckpointEvery
		if o.Workers > 1 {
			if opts.WorkerStores, err = windowStores(p, o.Workers); err != nil {
				return nil, err
			}
		} else if opts.WindowStore, err = windowStore(p); err != nil {
			return nil, err
		}
	}
	eng, err := engine.New(plan, opts)
	if err != nil {
		return nil, err
	}
	r.closers = append(r.closers, eng.Close)
	if r.st != nil {
		collectors = append(collectors, newCheckpointCollector(r.st.cp, p.Name))
	}
	collectors = append(collectors, newStatsCollector(eng.Stats, p.Name),
		newRunCollector(eng.Published, p.Name, runSinks(p, sinks, o.Sinks, gauges), src))
	if o.Registry != nil {
		for _, c := range collectors {
			if err := o.Registry.Register(c); err != nil {
				return nil, fmt.Errorf("metrics: %w", err)
			}
		}
	}
	if o.Metrics != "" {
		m, err := startMetrics(o.Metrics, o.Stderr, collectors...)
		if err != nil {
			return nil, err
		}
		r.closers = append(r.closers, m.stop)
	}
	if r.st != nil {
		if err := r.st.start(ctx, eng, src); err != nil {
			return nil, err
		}
	}
	if r.st != nil {
		if l := append(r.atLeastOnce, r.st.atLeastOnce...); len(l) > 0 {
			fmt.Fprintf(o.Stderr, "eddy: %s: at-least-once: after a restart, what was written since the last checkpoint is written again (exactly once: file, duckdb, parquet directory and kafka sinks, dead-letter files)\n", strings.Join(l, ", "))
		}
	} else if track && len(r.atLeastOnce) > 0 {
		fmt.Fprintf(o.Stderr, "eddy: delivery is at-least-once: after a restart, rows and dead letters since the last commit may be written again\n")
	}
	return &Job{r: r, src: src, eng: eng, sinks: sinks, dead: dead}, nil
}

// Run runs the job to the end of its input, a failure or the cancellation
// of ctx, closes everything (with a state section after the final
// checkpoint), writes the final counters to Stderr (and Options.Stats) and,
// after a failure, what each destination did not take. A run stopped by a
// cancellation with a cause returns an error wrapping the cause.
func (j *Job) Run(ctx context.Context) (engine.Stats, error) {
	r, o := j.r, j.r.o
	runErr := engine.Run(ctx, j.src, j.eng)
	if runErr == nil {
		j.ended.Store(true)
	}
	closeErr := r.closeAll()
	if cause, ok := interruption(ctx); ok && errors.Is(runErr, context.Canceled) {
		// (a signal after the end of a bounded input changes nothing)
		runErr = stopped(runErr, closeErr, cause, r.st != nil)
	} else if ok && errors.Is(runErr, windows.ErrInterrupted) {
		runErr = interruptedAdvance(runErr, closeErr, cause, r.st != nil)
	}
	st := j.eng.Stats()
	fmt.Fprintf(o.Stderr, "eddy: %s\n", st)
	printSourceStats(o.Stderr, j.eng)
	if runErr != nil || closeErr != nil {
		ReportDelivery(o.Stderr, r.p, j.sinks, j.dead)
	}
	if o.Stats != "" {
		if err := writeStats(o.Stdout, o.Stats, st); err != nil && runErr == nil {
			runErr = err
		}
	}
	if runErr != nil {
		return st, runErr
	}
	return st, closeErr
}

// CaughtUp reports whether the source has handed out every record it held
// when the job was opened (a Kafka source: each partition read up to its
// high watermark as of Open, from the restored positions on); a source
// that cannot tell (a file, stdin) is caught up once Run has reached the
// end of its input. Safe to call from any goroutine; once true it stays
// true.
func (j *Job) CaughtUp() bool {
	if c, ok := j.src.(interface{ CaughtUp() bool }); ok && c.CaughtUp() {
		return true
	}
	return j.ended.Load()
}

// Close closes what is still open; after Run nothing is.
func (j *Job) Close() error { return j.r.closeAll() }

func (o *Options) defaults() {
	if o.Stdin == nil {
		o.Stdin = strings.NewReader("")
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Stderr == nil {
		o.Stderr = io.Discard
	}
	if o.Kafka == nil {
		o.Kafka = func() (*kcfg.Config, error) { return kcfg.New(), nil }
	}
}
