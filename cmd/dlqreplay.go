package cmd

import (
	"fmt"
	"github.com/spf13/cobra"

	"github.com/eddyhq/eddy/job"
	"github.com/eddyhq/eddy/kcfg"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/replay"
	"github.com/eddyhq/eddy/sink"
)

type dlqReplayFlags struct {
	topic, file, to, through, where, group string
	dryRun, create                         bool
	maxReplays, batch                      int
	rate                                   float64
}

func newDlqReplayCmd() *cobra.Command {
	var f dlqReplayFlags
	c := &cobra.Command{
		Use:   "replay -t DLQ_TOPIC [--to original|TOPIC | --through PIPELINE.yaml] [--dry-run]",
		Short: "Replay dead letters exactly once, with a replay cap",
		Long: `replay sends the dead letters of a topic back, up to the end the topic has
when replay starts, and stops.

  --to original   each record goes to the topic its headers name (default);
                  a record without one is skipped and counted
  --to TOPIC      every record goes to TOPIC
  --through P     the records run through pipeline P instead (its sinks and
                  dlq as configured; Kafka targets naming no brokers are on
                  this cluster)

A replayed record keeps its key, value and own headers; the dead-letter
headers (eddy.*, __connect.errors.*, kafka_dlt-*) are dropped, except
eddy.replay.count, which goes up by one (1 on the first replay). A record
whose count has reached --max-replays goes to DLQ_TOPIC.parked unchanged, so
nothing loops forever.

Progress is kept as committed offsets of the consumer group --group, in the
same Kafka transaction as the records a batch produces: a replay that is
interrupted resumes after the last committed batch, a finished one run again
replays nothing, and readers of the targets with read_committed see every
record exactly once. Records --where does not select are passed over for
good by the group: use another --group for another selection.

--dry-run writes and commits nothing and prints, per error class, what would
happen: replayed, parked or skipped, or with --through the pipeline's
verdict (passed, filtered, dead again). A dry run also reads --file.

On a terminal, progress shows on stderr; a summary closes the run:
replayed, parked, skipped (with reasons), failed. Exit status: 0 when the
replay completes (skipped records included), 1 when it fails or is
interrupted, 2 on bad flags.`,
		Example: `  # what would happen?
  eddy dlq replay -b localhost:9092 -t orders.dlq --dry-run

  # test a fixed pipeline against the dead letters, writing nothing
  eddy dlq replay -t orders.dlq --through fixed.yaml --dry-run

  # replay the coerce failures to their topics, 100 records a second
  eddy dlq replay -t orders.dlq --where 'class startsWith "coerce"' --rate 100 --group fix-coerce`,
		Args: exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error { return runDlqReplay(c, f) },
	}
	fl := c.Flags()
	fl.StringVarP(&f.topic, "topic", "t", "", "dead-letter `TOPIC` to replay")
	fl.StringVar(&f.file, "file", "", "with --dry-run: read a dead-letter `FILE` instead of a topic")
	fl.StringVar(&f.to, "to", replay.ToOriginal, "`TARGET`: original (the topic in each record's headers) or a topic name")
	fl.StringVar(&f.through, "through", "", "run the records through `PIPELINE.yaml` instead of producing them")
	fl.BoolVar(&f.dryRun, "dry-run", false, "write and commit nothing; report what would happen")
	fl.BoolVar(&f.create, "create", false, "create the --to topic when it does not exist (without it, the cluster decides, as for any producer)")
	fl.StringVar(&f.where, "where", "", "replay only dead letters matching this `EXPR` (see eddy dlq show --help)")
	fl.IntVar(&f.maxReplays, "max-replays", replay.DefaultMaxReplays, "park records replayed `N` times already")
	fl.StringVar(&f.group, "group", "", "consumer `GROUP` keeping the progress (default eddy-replay.DLQ_TOPIC)")
	fl.Float64Var(&f.rate, "rate", 0, "at most `R` records per second (0: no limit)")
	fl.IntVar(&f.batch, "batch", replay.DefaultBatchSize, "at most `N` records per transaction")
	return c
}

func runDlqReplay(c *cobra.Command, f dlqReplayFlags) error {
	switch {
	case f.file != "" && !f.dryRun:
		return usagef("dlq replay: --file works with --dry-run only (replaying from a file has no offsets to resume from); produce the records with eddy produce instead")
	case (f.topic == "") == (f.file == ""):
		return usagef("dlq replay: name the dead-letter topic with -t TOPIC (or --file FILE with --dry-run)")
	case f.through != "" && c.Flags().Changed("to"):
		return usagef("dlq replay: --to and --through exclude each other (the pipeline's sinks are the targets)")
	case f.create && (f.to == replay.ToOriginal || f.through != ""):
		return usagef("dlq replay: --create is for a --to topic (original topics and pipeline sinks are not created)")
	case f.to == "":
		return usagef("dlq replay: --to wants original or a topic name")
	case f.topic != "" && f.to == f.topic:
		return usagef("dlq replay: --to %s is the dead-letter topic itself", f.to)
	case f.maxReplays < 0:
		return usagef("dlq replay: --max-replays %d must not be negative", f.maxReplays)
	case !(f.rate >= 0):
		return usagef("dlq replay: --rate %v must not be negative", f.rate)
	case f.batch < 1:
		return usagef("dlq replay: --batch %d must be at least 1", f.batch)
	}
	o := replay.Options{Topic: f.topic, To: f.to, Create: f.create, DryRun: f.dryRun, MaxReplays: f.maxReplays,
		Group: f.group, Rate: f.rate, BatchSize: f.batch}
	if f.where != "" {
		w, err := replay.NewFilter(f.where)
		if err != nil {
			return usageError{err}
		}
		o.Where = w
	}
	ctx := c.Context()
	if f.through != "" {
		p, err := pipeline.Load(f.through)
		if err != nil {
			return usageError{err}
		}
		if len(p.Sinks) == 0 {
			p.Sinks = []pipeline.Target{{File: "-"}} // as eddy run
		}
		plan, err := pipeline.Compile(p)
		if err != nil {
			return usageError{err}
		}
		out := job.NewOutputs(p, job.Options{Stdout: c.OutOrStdout(), Stderr: c.ErrOrStderr(),
			Kafka: func() (*kcfg.Config, error) { return kafkaConfig(c) }, Brokers: readKafkaFlags(c).brokers})
		o.Through = &replay.Through{Plan: plan,
			OpenSink: func(t pipeline.Target) (sink.Sink, error) { s, err := out.Sink(ctx, t); return s, jobError(err) },
			OpenDead: func(*pipeline.Target) (sink.DeadLetters, error) { d, err := out.Dead(ctx); return d, jobError(err) },
		}
	}
	if f.file != "" {
		o.Topic = f.file
		rep, err := replay.DryRunLetters(o, func(fn func(*replay.Letter) error) error {
			return readDeadFile(c, f.file, fn)
		})
		if err != nil {
			return err
		}
		return writeDryRun(c.OutOrStdout(), rep, o.MaxReplays)
	}
	conn, err := dlqConn(c)
	if err != nil {
		return err
	}
	stderr := c.ErrOrStderr()
	bar := newProgressBar(stderr)
	o.Progress = bar.update
	rep, err := replay.Run(ctx, conn, o)
	bar.clear()
	if rep == nil {
		return err
	}
	if o.DryRun {
		if err == nil {
			err = writeDryRun(c.OutOrStdout(), rep, o.MaxReplays)
		}
		return err
	}
	if rep.Created {
		fmt.Fprintf(stderr, "eddy: topic %s did not exist; it was created\n", rep.Missing)
	}
	writeReplaySummary(stderr, rep, o.MaxReplays)
	return err
}
