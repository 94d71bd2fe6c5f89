package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"slices"
	"strings"
	"sync/atomic"

	tea "charm.land/bubbletea/v2"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/job"
	"github.com/eddyhq/eddy/kcfg"
	"github.com/eddyhq/eddy/lookup"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/replay"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/tui"
)

// clusterWorkbench runs the workbench on a cluster: cl lists topics and
// produces edited dead letters; conn opens consumers and replays.
func clusterWorkbench(ctx context.Context, c *cobra.Command, conn []kgo.Opt, cl *kgo.Client, opts tui.Options, logFile string) error {
	clusterOptions(conn, cl, &opts)
	return workbench(ctx, c, opts, logFile)
}

// clusterOptions sets what the workbench does on a cluster: list topics
// and groups, open topics (one attached, or the Kafka sources of a
// sources section as eddy run reads them) and act on dead letters.
func clusterOptions(conn []kgo.Opt, cl *kgo.Client, opts *tui.Options) {
	opts.Topics = topicLister(kadm.NewClient(cl))
	opts.Groups = groupLister(kadm.NewClient(cl))
	opts.Open = kafkaOpener(conn)
	opts.OpenKafka = func(ctx context.Context, k pipeline.KafkaSource) (source.Source, error) {
		return source.OpenKafka(ctx, conn, source.KafkaOptions{Topics: k.Topics, Start: k.Start, Stop: k.Stop})
	}
	opts.Dead = deadOps(conn, cl)
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
	// lookup stages read their tables as eddy run opens them; what
	// each holds goes to the log
	var tableLog io.Writer
	if opts.Logf != nil {
		tableLog = logfWriter(opts.Logf)
	}
	opts.Tables = func(ctx context.Context, p *pipeline.Pipeline) (map[string]*lookup.Table, func() error, error) {
		t, err := job.OpenTables(ctx, p, job.Options{Stderr: tableLog,
			Kafka: func() (*kcfg.Config, error) { return kafkaConfig(c) }, Brokers: readKafkaFlags(c).brokers})
		if err != nil {
			return nil, nil, err
		}
		return t.Map(), t.Close, nil
	}
	if addr, _ := c.Flags().GetString("metrics"); addr != "" {
		stop, err := serveWorkbenchMetrics(addr, c.ErrOrStderr(), &opts)
		if err != nil {
			return jobError(err)
		}
		defer stop()
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

// serveWorkbenchMetrics serves on addr, as eddy run --metrics does, the
// counters of the workbench's running pipeline (totals, by stage, the rows
// its results pane took, the watermark delays) and its Kafka source's lag
// per partition, which opts then reports.
func serveWorkbenchMetrics(addr string, w io.Writer, opts *tui.Options) (stop func() error, err error) {
	type snapshot struct {
		pub engine.Published
		lag map[source.Partition]int64
	}
	var last atomic.Pointer[snapshot]
	last.Store(&snapshot{})
	opts.OnPublished = func(p engine.Published, lag map[source.Partition]int64) { last.Store(&snapshot{p, lag}) }
	return job.ServeMetrics(addr, w, "workbench", "results", func() engine.Published { return last.Load().pub },
		func() map[source.Partition]int64 { return last.Load().lag })
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

// groupLister lists every consumer group's lag per partition (as eddy
// groups describe shows it), for the workbench's :groups.
func groupLister(adm *kadm.Client) func(context.Context) ([]tui.GroupLag, error) {
	return func(ctx context.Context) ([]tui.GroupLag, error) {
		lags, err := adm.Lag(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe groups: %w", err)
		}
		var out []tui.GroupLag
		for _, g := range lags.Sorted() {
			if err := g.Error(); err != nil {
				return nil, fmt.Errorf("group %s: %w", g.Group, err)
			}
			for _, l := range g.Lag.Sorted() {
				gl := tui.GroupLag{Group: g.Group, State: g.State, Members: len(g.Members), Topic: l.Topic, Partition: l.Partition,
					Committed: l.Commit.At, End: l.End.Offset, Lag: l.Lag}
				if l.Err != nil {
					gl.Lag = -1
				}
				if l.Member != nil {
					gl.Member = l.Member.ClientID + " " + l.Member.ClientHost
				}
				out = append(out, gl)
			}
		}
		return out, nil
	}
}

// logfWriter writes each line it is given to a log function.
type logfWriter func(format string, args ...any)

func (f logfWriter) Write(b []byte) (int, error) {
	f("%s", strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
