package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/duck"
	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/job"
	"github.com/eddyhq/eddy/kcfg"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/state"
	"github.com/eddyhq/eddy/state/pebblestore"
)

type runFlags struct {
	input, out, dlq, stats string
	resetState             bool
}

func newRunCmd() *cobra.Command {
	var f runFlags
	c := &cobra.Command{
		Use:   "run PIPELINE.yaml",
		Short: "Run a pipeline headless over a topic, a file or stdin",
		Long: `Run a pipeline spec (see docs/pipeline.md) over its source: a Kafka topic
(followed until Ctrl-C, or to the end with stop: caught-up), a file or stdin.

Flags override the spec: --input replaces source.file, --out replaces the
sinks with one JSON Lines file, --dlq replaces the dead-letter file. "-" means
stdin for --input and stdout for --out and --dlq. Relative paths inside the
spec are resolved against the spec's directory.

At the end eddy prints to stderr
  eddy: in=N passed=N filtered=N dead=N late=N rows=N
and --stats writes the same counters as one JSON object.

With a state section (docs/state.md) eddy checkpoints window state, source
positions and sink progress to state.dir every state.checkpoint_every, and a
restarted run resumes from the last checkpoint; --reset-state discards it.

Exit status: 0 when the run completes (dead letters are not failures),
1 on a runtime failure, 2 on a bad spec or bad flags.`,
		Example: `  eddy gen nexmark --only bids --count 1000000 > bids.jsonl
  eddy run examples/nexmark-bids.yaml --input bids.jsonl --out -
  eddy gen clickstream --bad-ratio 0.01 | eddy run examples/purchases-per-country.yaml --input - --dlq dead.jsonl`,
		Args: exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return runPipeline(c, args[0], f) },
	}
	fl := c.Flags()
	fl.StringVarP(&f.input, "input", "i", "", "read records from `PATH` (- for stdin) instead of source.file")
	fl.StringVarP(&f.out, "out", "o", "", "write rows to `PATH` (- for stdout) instead of the spec's sinks")
	fl.StringVar(&f.dlq, "dlq", "", "write dead letters to `PATH` instead of the spec's dlq")
	fl.StringVar(&f.stats, "stats", "", "write the final counters as JSON to `PATH` (- for stdout)")
	fl.BoolVar(&f.resetState, "reset-state", false, "discard the spec's state directory (state.dir) and start from the beginning")
	return c
}

// exactArgs is cobra.ExactArgs with a usage error (exit 2).
func exactArgs(n int) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(c, args); err != nil {
			return usageError{fmt.Errorf("%v\nUsage: %s", err, c.UseLine())}
		}
		return nil
	}
}

func runPipeline(c *cobra.Command, specPath string, f runFlags) error {
	p, err := pipeline.Load(specPath)
	if err != nil {
		return usageError{err}
	}
	if f.input != "" {
		p.Source.File, p.Source.Kafka = f.input, nil
	}
	if f.out != "" {
		p.Sinks = []pipeline.Target{{File: f.out}}
	}
	if f.dlq != "" {
		p.DLQ = &pipeline.Target{File: f.dlq}
	}
	if p.Source.File == "" && p.Source.Kafka == nil {
		return usagef("%s: no input: set source.file or source.kafka in the spec or pass --input", specPath)
	}
	if len(p.Sinks) == 0 {
		p.Sinks = []pipeline.Target{{File: "-"}}
	}
	plan, err := pipeline.Compile(p)
	if err != nil {
		return usageError{err}
	}
	// before anything is opened or created
	if err := checkRun(p, f); err != nil {
		return err
	}
	ctx := c.Context()
	r := &runner{c: c, p: p}
	defer r.closeAll()
	if p.State != nil {
		if r.st, err = openState(p, f.resetState); err != nil {
			return err
		}
		st := r.st
		st.cp.AfterStep, _ = ctx.Value(faultKey{}).(func(string, int64) error)
		r.closers = append(r.closers, func() error { return errors.Join(st.cp.Wait(), st.store.Close()) })
	}
	if k := p.Source.Kafka; k != nil {
		cfg, err := clusterConfig(c, k.Brokers, k.Config)
		if err != nil {
			return err
		}
		r.srcCfg = cfg
		ping, err := cfg.Client(ctx, 10*time.Second)
		if err != nil {
			return err
		}
		ping.Close()
	}
	sinks := make([]sink.Sink, len(p.Sinks))
	if r.st != nil {
		// the transactional sinks first: which checkpoint is restored
		// depends on what they hold
		for i, t := range p.Sinks {
			if t.Kafka != nil || t.DuckDB != nil {
				if sinks[i], err = r.openSink(ctx, t); err != nil {
					return err
				}
			}
		}
		if err := r.st.choose(ctx); err != nil {
			return err
		}
		if k := p.Source.Kafka; k != nil && k.Group != "" && !r.st.groupInTxn {
			cl, err := r.srcCfg.Client(ctx, 10*time.Second)
			if err != nil {
				return err
			}
			r.closers = append(r.closers, func() error { cl.Close(); return nil })
			r.st.cp.Group = &sink.GroupOffsets{Adm: kadm.NewClient(cl), Group: k.Group}
		}
	}
	ck := r.st.restored()

	var src source.Source
	track := false
	switch {
	case p.Source.Kafka != nil:
		k := p.Source.Kafka
		conn, err := r.srcCfg.Opts()
		if err != nil {
			return usageError{err}
		}
		ks, err := source.OpenKafka(ctx, conn, source.KafkaOptions{Topics: k.Topics, Start: k.Start, Stop: k.Stop, Group: k.Group,
			GroupOffsetsOnly: r.st != nil, Resume: resumeOffsets(ck)})
		if err != nil {
			return err
		}
		r.closers = append(r.closers, ks.Close)
		// with state the group's offsets are committed with the checkpoints
		src, track = ks, k.Group != "" && r.st == nil
	case p.Source.File == "-":
		src = source.NewReader("-", c.InOrStdin())
	default:
		fs, err := source.OpenFile(p.Source.File)
		if err != nil {
			return err
		}
		r.closers = append(r.closers, fs.Close)
		if ck != nil {
			if err := fs.Seek(ck.Engine.File); err != nil {
				return err
			}
		}
		src = fs
	}
	for i, t := range p.Sinks {
		if sinks[i] != nil {
			continue
		}
		s, err := r.openSink(ctx, t)
		if err != nil {
			return err
		}
		sinks[i] = s
	}
	dead, err := r.openDead(ctx)
	if err != nil {
		return err
	}
	opts := engine.Options{Sinks: sinks, Dead: dead, TrackOffsets: track}
	if r.st != nil {
		opts.Checkpointer, opts.CheckpointEvery = r.st.cp, p.State.CheckpointEvery
		if p.State.Backend == "pebble" {
			ws, err := pebblestore.Open(pebblestore.Options{Dir: filepath.Join(p.State.Dir, "windows"), MemoryLimit: p.State.MemoryLimit})
			if err != nil {
				return err
			}
			opts.WindowStore = ws // the engine closes it
			if os.Getenv("GOMEMLIMIT") == "" {
				// the collector keeps the heap within what the store leaves
				debug.SetMemoryLimit(ws.HeapLimit())
			}
		}
	}
	eng, err := engine.New(plan, opts)
	if err != nil {
		return err
	}
	r.closers = append(r.closers, eng.Close)
	if r.st != nil {
		if err := r.st.start(ctx, eng, src); err != nil {
			return err
		}
	}
	if r.st != nil {
		if l := append(r.atLeastOnce, r.st.atLeastOnce...); len(l) > 0 {
			fmt.Fprintf(c.ErrOrStderr(), "eddy: %s: at-least-once: after a restart, what was written since the last checkpoint is written again (exactly once: file, duckdb and kafka sinks, dead-letter files)\n", strings.Join(l, ", "))
		}
	} else if track && len(r.atLeastOnce) > 0 {
		fmt.Fprintf(c.ErrOrStderr(), "eddy: delivery is at-least-once: after a restart, rows and dead letters since the last commit may be written again\n")
	}
	runErr := engine.Run(ctx, src, eng)
	closeErr := r.closeAll()
	if i, ok := interruption(ctx); ok && errors.Is(runErr, context.Canceled) {
		// (a signal after the end of a bounded input changes nothing)
		runErr = stopped(runErr, closeErr, i, r.st != nil)
	}
	st := eng.Stats()
	fmt.Fprintf(c.ErrOrStderr(), "eddy: %s\n", st)
	if runErr != nil || closeErr != nil {
		job.ReportDelivery(c.ErrOrStderr(), p, sinks, dead)
	}
	if f.stats != "" {
		if err := writeStats(c, f.stats, st); err != nil && runErr == nil {
			runErr = err
		}
	}
	if runErr != nil {
		return runErr
	}
	return closeErr
}

// runner opens and closes what a run writes to.
type runner struct {
	c           *cobra.Command
	p           *pipeline.Pipeline
	srcCfg      *kcfg.Config // the source's cluster, for sinks that name no brokers
	closers     []func() error
	atLeastOnce []string
	st          *stateRun // nil without a state section
}

func (r *runner) closeAll() error {
	var errs []error
	for i := len(r.closers) - 1; i >= 0; i-- {
		errs = append(errs, r.closers[i]())
	}
	r.closers = nil
	return errors.Join(errs...)
}

// producer opens a Kafka client for a sink or dead-letter topic.
func (r *runner) producer(ctx context.Context, t *pipeline.KafkaTarget, extra ...kgo.Opt) (*kgo.Client, error) {
	cfg, err := r.targetConfig(t)
	if err != nil {
		return nil, err
	}
	return cfg.Client(ctx, 10*time.Second, append([]kgo.Opt{kgo.AllowAutoTopicCreation(), kgo.ProducerLinger(5 * time.Millisecond)}, extra...)...)
}

// targetConfig is the cluster a sink or dead-letter topic writes to.
func (r *runner) targetConfig(t *pipeline.KafkaTarget) (*kcfg.Config, error) {
	if len(t.Brokers) == 0 && t.Config == "" && r.srcCfg != nil {
		return r.srcCfg, nil
	}
	return clusterConfig(r.c, t.Brokers, t.Config)
}

func (r *runner) openSink(ctx context.Context, t pipeline.Target) (sink.Sink, error) {
	var s sink.Sink
	switch {
	case t.Kafka != nil && r.st != nil:
		k, err := r.st.openKafka(ctx, r, t)
		if err != nil {
			return nil, err
		}
		s = k
	case t.Kafka != nil:
		cl, err := r.producer(ctx, t.Kafka)
		if err != nil {
			return nil, err
		}
		s = sink.NewKafka(cl, t.Kafka.Topic, true)
		r.atLeastOnce = append(r.atLeastOnce, "kafka:"+t.Kafka.Topic)
	case t.DuckDB != nil:
		mode := duck.Mode(t.DuckDB.Mode)
		if r.st.restored() != nil {
			mode = duck.Append // the table holds the rows up to the checkpoint
		}
		tb, err := duck.OpenTable(t.DuckDB.Path, t.DuckDB.Table, duck.Options{Mode: mode, Progress: r.st != nil, BatchRows: t.DuckDB.BatchRows})
		if err != nil {
			return nil, err
		}
		s = tb
	case t.Parquet != nil:
		pq := t.Parquet // checkRun refused a path with a group or state
		rows, every, _ := pipeline.ParseRotate(pq.Rotate)
		path := pq.Path
		if pq.Dir != "" {
			path = pq.Dir
		}
		w, err := duck.OpenParquet(path, duck.ParquetOptions{Dir: pq.Dir != "", RotateRows: rows, RotateEvery: every})
		if err != nil {
			return nil, err
		}
		s = w
		r.st.inexact("parquet:" + path)
	case t.File == "-":
		s = sink.NewJSONL("stdout", r.c.OutOrStdout(), nil)
		r.st.inexact("stdout")
	default:
		var f *sink.JSONL
		var err error
		if n, ok := r.st.progress(t, false); ok {
			f, err = sink.ResumeJSONL(t.File, n)
		} else {
			f, err = sink.OpenJSONL(t.File)
		}
		if err != nil {
			return nil, err
		}
		s = f
	}
	r.st.track(state.DescribeTarget(t), s, false)
	r.closers = append(r.closers, s.Close)
	return s, nil
}

func (r *runner) openDead(ctx context.Context) (sink.DeadLetters, error) {
	var d sink.DeadLetters
	switch t := r.p.DLQ; {
	case t == nil:
		d = sink.NewDeadFile("stderr", r.c.ErrOrStderr(), nil)
		r.st.inexact("dead letters on stderr")
	case t.Kafka != nil:
		cl, err := r.producer(ctx, t.Kafka)
		if err != nil {
			return nil, err
		}
		d = sink.NewKafkaDead(cl, t.Kafka.Topic, r.p.Name, true)
		r.atLeastOnce = append(r.atLeastOnce, "dlq:"+t.Kafka.Topic)
	case t.File == "-":
		d = sink.NewDeadFile("stdout", r.c.OutOrStdout(), nil)
		r.st.inexact("dead letters on stdout")
	default:
		var f *sink.DeadFile
		var err error
		if n, ok := r.st.progress(*t, true); ok {
			f, err = sink.ResumeDeadFile(t.File, n)
		} else {
			f, err = sink.OpenDeadFile(t.File)
		}
		if err != nil {
			return nil, err
		}
		d = f
	}
	if t := r.p.DLQ; t != nil {
		r.st.track(state.DescribeTarget(*t), d, true)
	} else {
		r.st.track("stderr", d, true)
	}
	r.closers = append(r.closers, d.Close)
	return d, nil
}

func writeStats(c *cobra.Command, path string, st engine.Stats) error {
	b, _ := json.Marshal(struct {
		engine.Stats
		// PeakRSS is the process's peak resident memory (Linux's VmHWM);
		// omitted where /proc does not tell it.
		PeakRSS int64 `json:"peak_rss_bytes,omitempty"`
	}{st, peakRSS()})
	b = append(b, '\n')
	if path == "-" {
		_, err := c.OutOrStdout().Write(b)
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write stats: %w", err)
	}
	return nil
}

// peakRSS returns the process's peak resident memory in bytes from
// /proc/self/status, or 0 when that cannot be read. (getrusage's ru_maxrss
// is no substitute: after a vfork-and-exec it starts from the parent's.)
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// stopped is the outcome of a run interrupted by a signal: the signal, when
// the engine only stopped because of it (it took the final checkpoint and
// the sinks were closed), else what went wrong while stopping.
func stopped(runErr, closeErr error, i interrupted, withState bool) error {
	var rest []error
	if j, ok := runErr.(interface{ Unwrap() []error }); ok {
		rest = j.Unwrap()
	} else if runErr != nil {
		rest = []error{runErr}
	}
	rest = slices.DeleteFunc(rest, func(e error) bool { return errors.Is(e, context.Canceled) })
	if len(rest) > 0 || closeErr != nil {
		return errors.Join(append(rest, closeErr)...)
	}
	if withState {
		return fmt.Errorf("%w: stopped after the final checkpoint; run again to resume from it", i)
	}
	return fmt.Errorf("%w: stopped before the end of the input (without a state section a rerun starts from the beginning)", i)
}
