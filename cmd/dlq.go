package cmd

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/job"
	"github.com/eddyhq/eddy/kcfg"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/replay"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/value"
)

func newDlqCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "dlq",
		Short: "Triage and replay dead letters (eddy's, Kafka Connect's, Spring Kafka's)",
		Long: `dlq reads dead letters from a Kafka topic (-t) or from a dead-letter file
written by eddy run (--file), in any of three header conventions: eddy's own
(eddy.*), Kafka Connect's (__connect.errors.*) and Spring Kafka's
(kafka_dlt-*). See docs/dead-letters.md.

  list     counts by error class and stage, with first and last seen times
  show     the dead letters with their decoded context
  replay   send them back, exactly once, with a replay cap`,
		Args: exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			return usagef("dlq: name a subcommand: list, show or replay\nUsage: %s", c.UseLine()+" list|show|replay")
		},
	}
	c.AddCommand(newDlqListCmd(), newDlqShowCmd(), newDlqReplayCmd())
	return c
}

// dlqInput is where list and show read: a topic or a file.
type dlqInput struct {
	topic string
	file  string
}

func (in *dlqInput) flags(c *cobra.Command) {
	c.Flags().StringVarP(&in.topic, "topic", "t", "", "dead-letter `TOPIC` to read")
	c.Flags().StringVar(&in.file, "file", "", "dead-letter `FILE` written by eddy run (- for stdin)")
}

func (in *dlqInput) check(cmd string) error {
	if (in.topic == "") == (in.file == "") {
		return usagef("dlq %s: name either a topic (-t TOPIC) or a dead-letter file (--file FILE)", cmd)
	}
	return nil
}

// read calls fn for each dead letter of the input.
func (in *dlqInput) read(c *cobra.Command, fn func(*replay.Letter) error) error {
	if in.file != "" {
		return readDeadFile(c, in.file, fn)
	}
	conn, err := dlqConn(c)
	if err != nil {
		return err
	}
	err = replay.Scan(c.Context(), conn, in.topic, replay.ScanOptions{}, fn)
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

// errStop ends a read early (show -c).
var errStop = errors.New("stop")

// readDeadFile reads a dead-letter file; lines that are not dead letters
// are counted and reported once on stderr.
func readDeadFile(c *cobra.Command, path string, fn func(*replay.Letter) error) error {
	var bad int
	var first *replay.LineError
	onBad := func(e *replay.LineError) error {
		if bad == 0 {
			first = e
		}
		bad++
		return nil
	}
	var err error
	if path == "-" {
		err = replay.ReadLetters("-", c.InOrStdin(), fn, onBad)
	} else {
		err = replay.ReadFile(path, fn, onBad)
	}
	if errors.Is(err, errStop) {
		err = nil
	}
	if bad > 0 {
		fmt.Fprintf(c.ErrOrStderr(), "eddy: skipped %d lines that are not dead letters (first: %v)\n", bad, first)
	}
	return err
}

// dlqConn checks the connection settings and that the cluster answers,
// and returns the connection options for the replay package's clients.
func dlqConn(c *cobra.Command) ([]kgo.Opt, error) {
	cfg, err := kafkaConfig(c)
	if err != nil {
		return nil, err
	}
	warn := cfg.Warn
	cfg.Warn = nil // warnings print once, from cfg.Client
	conn, err := cfg.Opts()
	cfg.Warn = warn
	if err != nil {
		return nil, usageError{err}
	}
	ping, err := cfg.Client(c.Context(), connectTimeout)
	if err != nil {
		return nil, err
	}
	ping.Close()
	return conn, nil
}

func checkFormat(cmd, f string) error {
	if f != "text" && f != "json" {
		return usagef("dlq %s: -f %q: want text or json", cmd, f)
	}
	return nil
}

func newDlqListCmd() *cobra.Command {
	var in dlqInput
	var format string
	c := &cobra.Command{
		Use:   "list (-t TOPIC | --file FILE)",
		Short: "Count dead letters by error class and stage",
		Long: `list reads every dead letter (a topic up to the end it has when list starts)
and prints the total, then one row per error class and stage: how many, the
first and last seen times (the dead-letter records' timestamps; for files
the origin's) and the origin topics.

The error class is the exception class for Kafka Connect and Spring; for
eddy it is the stage kind and the error text up to its first detail (a
quoted value or a number), e.g. "coerce: amount: cannot coerce".`,
		Example: `  eddy dlq list -b localhost:9092 -t orders.dlq
  eddy dlq list --file dead.jsonl -f json`,
		Args: exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			if err := in.check("list"); err != nil {
				return err
			}
			if err := checkFormat("list", format); err != nil {
				return err
			}
			var s replay.Summary
			if err := in.read(c, func(l *replay.Letter) error { s.Add(l); return nil }); err != nil {
				return err
			}
			name := in.topic
			if name == "" {
				name = in.file
			}
			if format == "json" {
				return writeSummaryJSON(c.OutOrStdout(), name, &s)
			}
			return writeSummary(c.OutOrStdout(), name, &s)
		},
	}
	in.flags(c)
	c.Flags().StringVarP(&format, "format", "f", "text", "output `FORMAT`: text (a table) or json")
	return c
}

func fmtTime(ms int64) string {
	if ms == 0 {
		return "-"
	}
	return value.FormatTime(ms)
}

// countList writes "a 2, b 1" from counts, largest first; "" is shown as -.
func countList(m map[string]int) string {
	var parts []string
	for _, k := range replay.SortedKeys(m) {
		name := k
		if name == "" {
			name = "-"
		}
		parts = append(parts, name+" "+strconv.Itoa(m[k]))
	}
	return strings.Join(parts, ", ")
}

func writeSummary(w io.Writer, name string, s *replay.Summary) error {
	bw := bufio.NewWriter(w)
	conv := map[string]int{}
	for k, n := range s.Conventions {
		conv[string(k)] = n
	}
	fmt.Fprintf(bw, "%s: %d dead letters", name, s.Total)
	if s.Total > 0 {
		fmt.Fprintf(bw, " (%s)", countList(conv))
	}
	if s.Replayed > 0 {
		fmt.Fprintf(bw, ", %d replayed before", s.Replayed)
	}
	if s.First != 0 {
		fmt.Fprintf(bw, ", seen %s to %s", fmtTime(s.First), fmtTime(s.Last))
	}
	fmt.Fprintln(bw)
	if s.Total > 0 {
		fmt.Fprintln(bw)
		tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "COUNT\tCLASS\tSTAGE\tFIRST\tLAST\tORIGINS")
		for _, g := range s.Groups() {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", g.Count, g.Class, orDash(g.Stage), fmtTime(g.First), fmtTime(g.Last), countList(g.Origins))
		}
		tw.Flush()
	}
	return bw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func writeSummaryJSON(w io.Writer, name string, s *replay.Summary) error {
	b := []byte(`{"source":`)
	b = value.AppendString(b, name)
	b = append(b, `,"total":`...)
	b = strconv.AppendInt(b, int64(s.Total), 10)
	b = append(b, `,"replayed_before":`...)
	b = strconv.AppendInt(b, int64(s.Replayed), 10)
	b = append(b, `,"first":`...)
	b = appendMaybeTime(b, s.First)
	b = append(b, `,"last":`...)
	b = appendMaybeTime(b, s.Last)
	b = append(b, `,"conventions":{`...)
	for i, k := range []replay.Convention{replay.Eddy, replay.Connect, replay.Spring, replay.Unknown} {
		if i > 0 {
			b = append(b, ',')
		}
		b = value.AppendString(b, string(k))
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(s.Conventions[k]), 10)
	}
	b = append(b, `},"groups":[`...)
	for i, g := range s.Groups() {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"class":`...)
		b = value.AppendString(b, g.Class)
		b = append(b, `,"stage":`...)
		b = value.AppendString(b, g.Stage)
		b = append(b, `,"count":`...)
		b = strconv.AppendInt(b, int64(g.Count), 10)
		b = append(b, `,"first":`...)
		b = appendMaybeTime(b, g.First)
		b = append(b, `,"last":`...)
		b = appendMaybeTime(b, g.Last)
		b = append(b, `,"origins":{`...)
		for j, t := range replay.SortedKeys(g.Origins) {
			if j > 0 {
				b = append(b, ',')
			}
			b = value.AppendString(b, t)
			b = append(b, ':')
			b = strconv.AppendInt(b, int64(g.Origins[t]), 10)
		}
		b = append(b, "}}"...)
	}
	b = append(b, "]}\n"...)
	_, err := w.Write(b)
	return err
}

func appendMaybeTime(b []byte, ms int64) []byte {
	if ms == 0 {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = value.AppendTime(b, ms)
	return append(b, '"')
}

func newDlqShowCmd() *cobra.Command {
	var in dlqInput
	var where, format string
	var count int
	c := &cobra.Command{
		Use:   "show (-t TOPIC | --file FILE) [--where EXPR] [-c N] [-f text|json]",
		Short: "Print dead letters with their decoded context",
		Long: `show prints dead letters with what their headers say: the error, its class,
the stage, where the record came from, who dead-lettered it (eddy pipeline,
Connect connector and task, Spring consumer group), how often it was
replayed, the key, the value and the record's own headers, and a note for
every header that was missing or could not be read.

--where keeps the letters an expression (expr-lang) is true for. It sees
  error, class, stage   the error text, its class and the stage
  topic, partition, offset   the origin (partition and offset nil when unknown)
  convention            eddy, connect, spring or unknown
  replays               eddy.replay.count (0 when absent)
  headers               every header, as a map of strings
  key                   the key as a string, or nil
  value                 the value decoded as JSON, or the string when not JSON
Letters the expression fails on are skipped and counted on stderr.

-f json prints one object per line (see docs/dead-letters.md).`,
		Example: `  eddy dlq show -t orders.dlq -c 5
  eddy dlq show -t orders.dlq --where 'class startsWith "coerce" && value.amount != nil'
  eddy dlq show --file dead.jsonl --where 'stage == "decode"' -f json`,
		Args: exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			if err := in.check("show"); err != nil {
				return err
			}
			if err := checkFormat("show", format); err != nil {
				return err
			}
			if count < 0 {
				return usagef("dlq show: -c %d must not be negative", count)
			}
			var f *replay.Filter
			if where != "" {
				var err error
				if f, err = replay.NewFilter(where); err != nil {
					return usageError{err}
				}
			}
			bw := bufio.NewWriter(c.OutOrStdout())
			var shown, failed int
			var firstErr error
			var b []byte
			err := in.read(c, func(l *replay.Letter) error {
				if f != nil {
					ok, err := f.Match(l)
					if err != nil {
						if failed == 0 {
							firstErr = err
						}
						failed++
						return nil
					}
					if !ok {
						return nil
					}
				}
				if format == "json" {
					b = l.AppendJSON(b[:0])
					b = append(b, '\n')
				} else {
					b = appendLetterText(b[:0], l, shown > 0)
				}
				bw.Write(b)
				shown++
				if count > 0 && shown >= count {
					return errStop
				}
				return nil
			})
			if ferr := bw.Flush(); err == nil && ferr != nil {
				err = fmt.Errorf("write output: %w", ferr)
			}
			if failed > 0 {
				fmt.Fprintf(c.ErrOrStderr(), "eddy: skipped %d dead letters --where could not evaluate (first error: %v)\n", failed, firstErr)
			}
			return err
		},
	}
	in.flags(c)
	c.Flags().StringVar(&where, "where", "", "show only dead letters matching this `EXPR`")
	c.Flags().IntVarP(&count, "count", "c", 0, "stop after `N` dead letters (0: no limit)")
	c.Flags().StringVarP(&format, "format", "f", "text", "output `FORMAT`: text or json")
	return c
}

// appendLetterText renders one letter as an indented block.
func appendLetterText(b []byte, l *replay.Letter, sep bool) []byte {
	if sep {
		b = append(b, '\n')
	}
	if l.InFile {
		b = fmt.Appendf(b, "%s line %d", l.Topic, l.Offset)
	} else {
		b = fmt.Appendf(b, "%s partition %d offset %d  %s", l.Topic, l.Partition, l.Offset, fmtTime(l.Timestamp))
	}
	b = fmt.Appendf(b, "  (%s)\n", l.Convention)
	field := func(name, v string) {
		b = fmt.Appendf(b, "  %-9s %s\n", name, v)
	}
	field("error", orDash(l.Error))
	field("class", l.Class)
	field("stage", orDash(l.Stage))
	field("origin", originText(&l.Origin))
	switch {
	case l.Pipeline != "":
		field("pipeline", l.Pipeline)
	case l.Connector != "" || l.Task != "":
		field("connector", orDash(l.Connector)+" task "+orDash(l.Task))
	case l.Group != "":
		field("group", l.Group)
	}
	if l.Executing != "" {
		field("executing", l.Executing)
	}
	field("replays", strconv.Itoa(l.Replays))
	if l.Key == nil {
		field("key", "null")
	} else {
		field("key", displayText(l.Key))
	}
	field("value", displayText(l.Value))
	var hs []string
	for _, h := range l.Headers {
		if !replay.IsDeadLetterHeader(h.Key) {
			hs = append(hs, h.Key+"="+displayText(h.Value))
		}
	}
	if len(hs) > 0 {
		field("headers", strings.Join(hs, " "))
	}
	for _, n := range l.Notes {
		field("note", n)
	}
	return b
}

func originText(o *replay.Origin) string {
	if o.File != "" {
		line := "?"
		if o.Line != nil {
			line = strconv.FormatInt(*o.Line, 10)
		}
		return "file " + o.File + " line " + line
	}
	part, off := "?", "?"
	if o.Partition != nil {
		part = strconv.Itoa(int(*o.Partition))
	}
	if o.Offset != nil {
		off = strconv.FormatInt(*o.Offset, 10)
	}
	s := orQ(o.Topic) + " partition " + part + " offset " + off
	if o.Timestamp != nil {
		s += "  " + value.FormatTime(*o.Timestamp)
	}
	return s
}

func orQ(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

type dlqReplayFlags struct {
	topic, file, to, through, where, group string
	dryRun                                 bool
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
	o := replay.Options{Topic: f.topic, To: f.to, DryRun: f.dryRun, MaxReplays: f.maxReplays,
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
			Kafka: func() (*kcfg.Config, error) { return kafkaConfig(c) }})
		o.Through = &replay.Through{Plan: plan,
			OpenSink: func(t pipeline.Target) (sink.Sink, error) { return out.Sink(ctx, t) },
			OpenDead: func(*pipeline.Target) (sink.DeadLetters, error) { return out.Dead(ctx) },
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
	writeReplaySummary(stderr, rep, o.MaxReplays)
	return err
}

// progressBar draws one line on a terminal; elsewhere it draws nothing.
type progressBar struct {
	w  io.Writer
	on bool
}

func newProgressBar(w io.Writer) *progressBar {
	if !isTerminal(w) {
		return &progressBar{}
	}
	return &progressBar{w: w, on: true}
}

func (p *progressBar) update(pr replay.Progress) {
	if !p.on {
		return
	}
	const width = 30
	frac := 1.0
	if pr.Total > 0 {
		frac = min(float64(pr.Done)/float64(pr.Total), 1)
	}
	fill := int(frac * width)
	rate := float64(pr.Done) / max(pr.Elapsed.Seconds(), 1e-3)
	eta := "-"
	if rate > 0 && pr.Done < pr.Total {
		eta = time.Duration(float64(pr.Total-pr.Done) / rate * float64(time.Second)).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "\r\033[K[%s%s] %3.0f%%  %d/%d  %.0f/s  ETA %s  replayed %d parked %d skipped %d",
		strings.Repeat("=", fill), strings.Repeat(" ", width-fill), frac*100, pr.Done, pr.Total, rate, eta,
		pr.Replayed, pr.Parked, pr.Skipped)
}

func (p *progressBar) clear() {
	if p.on {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// reasons lists skip reasons as "N reason" lines, most first.
func reasons(m map[string]int) []string {
	keys := replay.SortedKeys(m)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = fmt.Sprintf("%d %s", m[k], k)
	}
	return out
}

func writeReplaySummary(w io.Writer, rep *replay.Report, maxReplays int) {
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	if rep.Total == 0 {
		fmt.Fprintf(bw, "eddy: nothing to replay: group %s is at the end of %s\n", rep.Group, rep.Topic)
		return
	}
	targets := replayTargets(rep)
	parked := replay.ParkedTopic(rep.Topic)
	line := func(name string, n int, detail string) {
		fmt.Fprintf(bw, "eddy: %-8s %d", name, n)
		if detail != "" && n > 0 {
			fmt.Fprintf(bw, "  (%s)", detail)
		}
		fmt.Fprintln(bw)
	}
	if rep.Through {
		line("replayed", rep.Replayed(), fmt.Sprintf("through the pipeline: passed %d, filtered %d, dead again %d, late %d",
			rep.Count[replay.Passed], rep.Count[replay.Filtered], rep.Count[replay.Dead], rep.Count[replay.Late]))
	} else {
		line("replayed", rep.Replayed(), countList(targets))
	}
	line("parked", rep.Count[replay.Parked], fmt.Sprintf("to %s: at the replay cap of %d", parked, maxReplays))
	line("skipped", rep.Count[replay.Skipped], strings.Join(reasons(rep.Skips), ", "))
	line("failed", rep.Failed, "left in the topic for the next run")
	if rep.WhereErr != nil {
		fmt.Fprintf(bw, "eddy: first --where error: %v\n", rep.WhereErr)
	}
	if len(rep.Outside) > 0 {
		fmt.Fprintf(bw, "eddy: written outside the transactions (after an interrupted replay they may hold rows twice): %s\n", strings.Join(rep.Outside, ", "))
	}
}

// replayTargets are the records replayed per target topic (not parked).
func replayTargets(rep *replay.Report) map[string]int {
	m := map[string]int{}
	for t, n := range rep.Targets {
		if t != replay.ParkedTopic(rep.Topic) {
			m[t] = n
		}
	}
	return m
}

func writeDryRun(w io.Writer, rep *replay.Report, maxReplays int) error {
	bw := bufio.NewWriter(w)
	if rep.Group != "" {
		fmt.Fprintf(bw, "dry run of %s from the offsets of group %s: nothing was written or committed\n", rep.Topic, rep.Group)
	} else {
		fmt.Fprintf(bw, "dry run of %s: nothing was written or committed\n", rep.Topic)
	}
	if rep.Through {
		fmt.Fprintf(bw, "%d dead letters: %d would pass, %d be filtered, %d fail again, %d be parked, %d skipped\n",
			rep.Letters, rep.Count[replay.Passed], rep.Count[replay.Filtered], rep.Count[replay.Dead]+rep.Count[replay.Late],
			rep.Count[replay.Parked], rep.Count[replay.Skipped])
	} else {
		fmt.Fprintf(bw, "%d dead letters: %d would be replayed, %d parked, %d skipped\n",
			rep.Letters, rep.Count[replay.Replayed], rep.Count[replay.Parked], rep.Count[replay.Skipped])
	}
	classes := rep.Classes()
	if len(classes) > 0 {
		fmt.Fprintln(bw)
		tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
		if rep.Through {
			fmt.Fprintln(tw, "CLASS\tSTAGE\tRECORDS\tPASS\tFILTERED\tFAIL AGAIN\tPARK\tSKIP")
			for _, k := range classes {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\n", k.Class, orDash(k.Stage), k.Count, k.By[replay.Passed],
					k.By[replay.Filtered], k.By[replay.Dead]+k.By[replay.Late], k.By[replay.Parked], k.By[replay.Skipped])
			}
		} else {
			fmt.Fprintln(tw, "CLASS\tSTAGE\tRECORDS\tREPLAY\tPARK\tSKIP")
			for _, k := range classes {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\n", k.Class, orDash(k.Stage), k.Count, k.By[replay.Replayed],
					k.By[replay.Parked], k.By[replay.Skipped])
			}
		}
		tw.Flush()
	}
	header := false
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	for _, k := range classes {
		for _, nc := range replay.SortedKeys(k.Again) {
			if !header {
				fmt.Fprintln(tw, "\nwould fail again:")
				fmt.Fprintln(tw, "RECORDS\tCLASS\tNOW FAILS AS")
				header = true
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\n", k.Again[nc], k.Class, orDash(nc))
		}
	}
	tw.Flush()
	if n := rep.Count[replay.Parked]; n > 0 {
		to := ""
		if rep.Group != "" {
			to = " in " + replay.ParkedTopic(rep.Topic)
		}
		fmt.Fprintf(bw, "\nparked: %d at the replay cap of %d would be parked%s\n", n, maxReplays, to)
	}
	if len(rep.Skips) > 0 {
		fmt.Fprintln(bw, "\nskipped:")
		for _, r := range reasons(rep.Skips) {
			fmt.Fprintln(bw, "  "+r)
		}
	}
	if rep.WhereErr != nil {
		fmt.Fprintf(bw, "first --where error: %v\n", rep.WhereErr)
	}
	if targets := replayTargets(rep); len(targets) > 0 {
		fmt.Fprintf(bw, "\ntargets: %s\n", countList(targets))
	}
	return bw.Flush()
}
