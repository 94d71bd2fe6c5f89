package cmd

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/replay"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/startpos"
	"github.com/eddyhq/eddy/tui"
)

type tuiFlags struct {
	topic, pipeline, input, logFile, start string
	rate                                   float64
}

func newTUICmd() *cobra.Command {
	var f tuiFlags
	c := &cobra.Command{
		Use:   "tui",
		Short: "Open the workbench on a cluster or a file",
		Long: `tui opens the workbench: the topics of a cluster (enter attaches), a live tail
of the attached topic or file with a quick filter, seeking and a record
inspector, a pipeline you build stage by stage while records flow (or open
with -p), its results as a sortable table and rolling charts, and its dead
letters with dry runs and guarded replay. w saves the pipeline as YAML for
eddy run. Press ? for every key, : for commands.

Kafka topics are read from --start (default the last 200 records of each
partition) and followed. --input replays a JSON Lines file, at --rate records
per second when given. Logs go to --log, never to the screen.`,
		Example: `  eddy tui -b localhost:9092
  eddy tui -b localhost:9092 -t clicks -p examples/clicks.yaml
  eddy tui --input bids.jsonl --rate 500 -p pipeline.yaml`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return runTUI(c, f) },
	}
	fl := c.Flags()
	fl.StringVarP(&f.topic, "topic", "t", "", "`TOPIC` to attach to at start")
	fl.StringVarP(&f.pipeline, "pipeline", "p", "", "pipeline `FILE` (YAML) to run over the attached records")
	fl.StringVar(&f.input, "input", "", "JSON Lines `FILE` to replay instead of a cluster")
	fl.Float64Var(&f.rate, "rate", 0, "with --input, replay at about `R` records per second (0: as fast as it reads)")
	fl.StringVar(&f.start, "start", "last:200", "where to start reading a topic: earliest | latest | offset:N | last:N | time:RFC3339 | time:-15m")
	fl.StringVar(&f.logFile, "log", "", "write logs to `FILE` (default: no logs)")
	return c
}

func runTUI(c *cobra.Command, f tuiFlags) error {
	ctx, cancel := context.WithCancel(c.Context())
	defer cancel()
	if f.rate < 0 {
		return usagef("--rate must be >= 0")
	}
	if f.rate > 0 && f.input == "" {
		return usagef("--rate needs --input")
	}
	if _, err := startpos.Parse(f.start); err != nil {
		return usagef("tui: --start: %v", err)
	}
	opts := tui.Options{Attach: f.topic, Start: f.start}
	if f.pipeline != "" {
		p, err := pipeline.Load(f.pipeline)
		if err != nil {
			return usageError{err}
		}
		if _, err := pipeline.Compile(p); err != nil {
			return usageError{err}
		}
		opts.Pipeline, opts.PipelinePath = p, f.pipeline
		if f.input == "" && f.topic == "" {
			if p.Source.File != "" && p.Source.File != "-" {
				f.input = p.Source.File
			} else if k := p.Source.Kafka; k != nil && len(k.Topics) == 1 {
				opts.Attach = k.Topics[0]
			}
		}
	}
	if f.input != "" {
		if f.topic != "" {
			return usagef("--input and --topic exclude each other")
		}
		opts.Label, opts.Attach, opts.File, opts.Start = "file", f.input, true, "earliest"
		opts.Open = func(_ context.Context, _, start string) (source.Source, error) {
			src, err := source.OpenFile(f.input)
			if err != nil {
				return nil, err
			}
			var line int64
			if p, err := startpos.Parse(start); err == nil && p.Kind == startpos.Offset {
				line = p.N
			}
			return tui.Pace(tui.From(src, line), f.rate), nil
		}
		return workbench(ctx, c, opts, f.logFile)
	}
	cfg, err := kafkaConfig(c)
	if err != nil {
		return err
	}
	if cfg.Get("bootstrap.servers") == "" {
		return usagef("tui: no brokers: give -b BROKERS (or $EDDY_BROKERS), or --input FILE")
	}
	conn, err := cfg.Opts()
	if err != nil {
		return usageError{err}
	}
	cl, err := connect(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	opts.Label = cfg.Get("bootstrap.servers")
	opts.Brokers = strings.Split(opts.Label, ",")
	return clusterWorkbench(ctx, c, conn, cl, opts, f.logFile)
}

// clusterWorkbench runs the workbench on a cluster: cl lists topics and
// produces edited dead letters; conn opens consumers and replays.
func clusterWorkbench(ctx context.Context, c *cobra.Command, conn []kgo.Opt, cl *kgo.Client, opts tui.Options, logFile string) error {
	opts.Topics = topicLister(kadm.NewClient(cl))
	opts.Open = kafkaOpener(conn)
	opts.Dead = deadOps(conn, cl)
	return workbench(ctx, c, opts, logFile)
}

// deadOps are the workbench's dead-letter actions on a cluster: the same
// scan and guarded replay as eddy dlq, and cl to send edited records.
func deadOps(conn []kgo.Opt, cl *kgo.Client) *tui.DeadOps {
	return &tui.DeadOps{
		Scan: func(ctx context.Context, topic string, fn func(*replay.Letter) error) error {
			return replay.Scan(ctx, conn, topic, replay.ScanOptions{}, fn)
		},
		Replay: func(ctx context.Context, o replay.Options) (*replay.Report, error) { return replay.Run(ctx, conn, o) },
		Produce: func(ctx context.Context, rec *kgo.Record) error {
			return cl.ProduceSync(ctx, rec).FirstErr()
		},
	}
}

// workbench runs the terminal UI until the user quits. The terminal is
// restored on every way out: bubbletea restores it on return and on a
// panic in the UI, which it turns into an error.
func workbench(ctx context.Context, c *cobra.Command, opts tui.Options, logFile string) error {
	if logFile != "" {
		lf, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("open log: %w", err)
		}
		defer lf.Close()
		lg := log.New(lf, "", log.LstdFlags|log.Lmicroseconds)
		opts.Logf = lg.Printf
	}
	m := tui.New(ctx, opts)
	defer m.Stop()
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithInput(c.InOrStdin()), tea.WithOutput(c.OutOrStdout()))
	_, err := p.Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil // interrupted by a signal
	}
	if err != nil {
		return fmt.Errorf("workbench: %w", err)
	}
	return nil
}

// kafkaOpener opens a followed Kafka source on one topic from start.
func kafkaOpener(conn []kgo.Opt) func(context.Context, string, string) (source.Source, error) {
	return func(ctx context.Context, topic, start string) (source.Source, error) {
		return source.OpenKafka(ctx, conn, source.KafkaOptions{Topics: []string{topic}, Start: start, Stop: "none"})
	}
}

// topicLister lists the cluster's non-internal topics with their partition
// and message counts (as `eddy topics` counts them).
func topicLister(adm *kadm.Client) func(context.Context) ([]tui.TopicInfo, error) {
	return func(ctx context.Context) ([]tui.TopicInfo, error) {
		tds, err := adm.ListTopics(ctx)
		if err != nil {
			return nil, fmt.Errorf("list topics: %w", err)
		}
		var names []string
		for name, td := range tds {
			if !td.IsInternal && !strings.HasPrefix(name, "__") {
				names = append(names, name)
			}
		}
		slices.Sort(names)
		if len(names) == 0 {
			return nil, nil
		}
		lows, err := adm.ListStartOffsets(ctx, names...)
		if err != nil {
			return nil, fmt.Errorf("list start offsets: %w", err)
		}
		highs, err := adm.ListEndOffsets(ctx, names...)
		if err != nil {
			return nil, fmt.Errorf("list end offsets: %w", err)
		}
		out := make([]tui.TopicInfo, 0, len(names))
		for _, name := range names {
			td := tds[name]
			ti := tui.TopicInfo{Name: name, Partitions: len(td.Partitions)}
			for p := range td.Partitions {
				lo, ok1 := lows.Lookup(name, p)
				hi, ok2 := highs.Lookup(name, p)
				if !ok1 || !ok2 || lo.Err != nil || hi.Err != nil {
					ti.Messages = -1
					break
				}
				ti.Messages += hi.Offset - lo.Offset
			}
			out = append(out, ti)
		}
		return out, nil
	}
}
