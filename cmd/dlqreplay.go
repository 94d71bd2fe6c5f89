package cmd

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/eddyhq/eddy/job"
	"github.com/eddyhq/eddy/kcfg"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/replay"
	"github.com/eddyhq/eddy/sink"
)

type dlqReplayFlags struct {
	topic, file, to, through, where, group, ledger string
	dryRun, create                                 bool
	maxReplays, batch                              int
	rate                                           float64
}

func newDlqReplayCmd() *cobra.Command {
	var f dlqReplayFlags
	c := &cobra.Command{
		Use:   "replay -t DLQ_TOPIC|kinesis://DLQ_STREAM [--to original|TOPIC | --through PIPELINE.yaml] [--dry-run]",
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

A Kinesis dead-letter stream (-t 'kinesis://STREAM?region=R&endpoint=URL')
is replayed into Kinesis streams: --to original sends each letter to the
stream its origin names (letters from Kafka topics or files are skipped),
--to STREAM to that stream; parked letters go to the stream STREAM.parked.
Kinesis has neither groups nor transactions: progress is kept in a local
ledger file (--ledger, default $XDG_STATE_HOME/eddy/replay/GROUP.json),
which also counts the replays of each record put (a Kinesis record has no
headers). Each batch is written to the ledger before it is put and marked
done after; a run after an interrupted one looks in the target streams for
the records of that batch that arrived and puts only the others, so no
letter is lost and none is put twice. --through is for topics only.

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
	fl.IntVar(&f.batch, "batch", replay.DefaultBatchSize, "at most `N` records per transaction (Kinesis: per batch of the ledger)")
	fl.StringVar(&f.ledger, "ledger", "", "Kinesis dead-letter streams: the ledger `FILE` keeping the progress (default $XDG_STATE_HOME/eddy/replay/GROUP.json)")
	return c
}

func runDlqReplay(c *cobra.Command, f dlqReplayFlags) error {
	if strings.HasPrefix(f.topic, "kinesis://") {
		return runDlqReplayKinesis(c, f)
	}
	switch {
	case f.ledger != "":
		return usagef("dlq replay: --ledger is for Kinesis dead-letter streams (a topic's progress is its group's offsets)")
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
	}
	if err := f.checkNumbers(); err != nil {
		return err
	}
	o := replay.Options{Topic: f.topic, To: f.to, Create: f.create, DryRun: f.dryRun, MaxReplays: f.maxReplays,
		Group: f.group, Rate: f.rate, BatchSize: f.batch}
	var err error
	if o.Where, err = whereFilter(f.where); err != nil {
		return err
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
		jo := job.Options{Stdout: c.OutOrStdout(), Stderr: c.ErrOrStderr(),
			Kafka: func() (*kcfg.Config, error) { return kafkaConfig(c) }, Brokers: readKafkaFlags(c).brokers}
		out := job.NewOutputs(p, jo)
		tables, err := job.OpenTables(ctx, p, jo)
		if err != nil {
			return jobError(err)
		}
		defer tables.Close()
		o.Through = &replay.Through{Plan: plan, Tables: tables.Map(),
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
	return replayAndReport(c, o.DryRun, o.MaxReplays, func(progress func(replay.Progress)) (*replay.Report, error) {
		o.Progress = progress
		return replay.Run(ctx, conn, o)
	})
}

// replayAndReport runs a replay with a progress bar on stderr, then writes
// the dry run's report on stdout, or the replay's summary on stderr.
func replayAndReport(c *cobra.Command, dryRun bool, maxReplays int, run func(progress func(replay.Progress)) (*replay.Report, error)) error {
	stderr := c.ErrOrStderr()
	bar := newProgressBar(stderr)
	rep, err := run(bar.update)
	bar.clear()
	if rep == nil {
		return err
	}
	if dryRun {
		if err == nil {
			err = writeDryRun(c.OutOrStdout(), rep, maxReplays)
		}
		return err
	}
	if rep.Created {
		fmt.Fprintf(stderr, "eddy: topic %s did not exist; it was created\n", rep.Missing)
	}
	writeReplaySummary(stderr, rep, maxReplays)
	return err
}

func (f *dlqReplayFlags) checkNumbers() error {
	switch {
	case f.maxReplays < 0:
		return usagef("dlq replay: --max-replays %d must not be negative", f.maxReplays)
	case !(f.rate >= 0):
		return usagef("dlq replay: --rate %v must not be negative", f.rate)
	case f.batch < 1:
		return usagef("dlq replay: --batch %d must be at least 1", f.batch)
	}
	return nil
}

// whereFilter compiles --where ("" is none).
func whereFilter(expr string) (*replay.Filter, error) {
	if expr == "" {
		return nil, nil
	}
	w, err := replay.NewFilter(expr)
	if err != nil {
		return nil, usageError{err}
	}
	return w, nil
}

// runDlqReplayKinesis replays a Kinesis dead-letter stream into Kinesis
// streams, its progress in a ledger file.
func runDlqReplayKinesis(c *cobra.Command, f dlqReplayFlags) error {
	ku, err := parseKinesisURL(f.topic)
	if err != nil {
		return usageError{fmt.Errorf("dlq replay: %w", err)}
	}
	switch {
	case f.through != "":
		return usagef("dlq replay: --through is for dead-letter topics; a Kinesis dead-letter stream is replayed into streams (--to)")
	case f.file != "":
		return usagef("dlq replay: -t and --file exclude each other")
	case f.create:
		return usagef("dlq replay: --create is for topics; the --to stream must exist")
	case strings.HasPrefix(f.to, "kinesis://"):
		return usagef("dlq replay: --to takes the stream's name (it is on the dead-letter stream's account and region)")
	case f.to == "" || f.to == ku.stream:
		return usagef("dlq replay: --to wants original or another stream's name")
	}
	if err := f.checkNumbers(); err != nil {
		return err
	}
	if f.batch > sink.KinesisMaxCallRecords {
		return usagef("dlq replay: --batch %d: a batch of a Kinesis replay is at most %d records (one PutRecords call)", f.batch, sink.KinesisMaxCallRecords)
	}
	ledger := f.ledger
	if ledger == "" {
		group := f.group
		if group == "" {
			group = replay.DefaultGroup(ku.stream)
		}
		if ledger, err = replay.DefaultLedger(group); err != nil {
			return err
		}
	}
	o := replay.KinesisOptions{Stream: ku.stream, To: f.to, DryRun: f.dryRun, MaxReplays: f.maxReplays,
		Ledger: ledger, Rate: f.rate, BatchSize: f.batch}
	if o.Where, err = whereFilter(f.where); err != nil {
		return err
	}
	ctx := c.Context()
	cl, err := job.KinesisClient(ctx, ku.region, ku.endpoint, awsProfile(c))
	if err != nil {
		return err
	}
	return replayAndReport(c, o.DryRun, o.MaxReplays, func(progress func(replay.Progress)) (*replay.Report, error) {
		o.Progress = progress
		o.Recovered = func(found, put int) {
			fmt.Fprintf(c.ErrOrStderr(), "eddy: finished the batch an interrupted replay left: %d records were in the streams already, %d put now\n", found, put)
		}
		return replay.RunKinesis(ctx, cl, o)
	})
}
