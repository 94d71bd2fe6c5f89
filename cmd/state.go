package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/duck"
	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/state"
	"github.com/eddyhq/eddy/value"
	"github.com/eddyhq/eddy/windows"
)

// stateRun is the state of one `eddy run` with a state section. Its
// methods are no-ops on a nil *stateRun (no state section).
type stateRun struct {
	store       *state.Store
	ck          *state.Checkpoint // restored from; nil on a fresh start
	cp          *state.Checkpointer
	atLeastOnce []string // sinks that cannot be rolled back
}

// openState opens (or, with reset, first removes) the state directory and
// loads its last checkpoint, refusing one written for another pipeline.
func openState(p *pipeline.Pipeline, reset bool) (*stateRun, error) {
	switch {
	case p.Source.File == "-":
		return nil, usagef("%s: state: cannot resume stdin after a restart; read a file or a topic, or remove the state section", p.File)
	case p.Source.Kafka != nil && p.Source.Kafka.Group != "":
		return nil, usagef("%s: state: a consumer group with a state directory is not supported yet (positions come from the checkpoint); remove source.kafka.group or the state section", p.File)
	}
	dir := p.State.Dir
	if reset {
		if err := state.Reset(dir); err != nil {
			return nil, err
		}
	}
	st, err := state.Open(dir)
	if err != nil {
		return nil, err
	}
	ck, err := st.Load()
	if err != nil {
		st.Close()
		return nil, err
	}
	fields := state.Describe(p)
	if ck != nil {
		if err := state.Check(dir, ck, fields); err != nil {
			st.Close()
			return nil, usageError{err}
		}
	}
	meta := state.Meta{Pipeline: p.Name, Spec: p.File, Fingerprint: state.Fingerprint(fields), Semantics: fields}
	if ck != nil {
		meta.Seq = ck.Meta.Seq
	}
	return &stateRun{store: st, ck: ck, cp: &state.Checkpointer{Store: st, Meta: meta}}, nil
}

func (s *stateRun) restored() *state.Checkpoint {
	if s == nil {
		return nil
	}
	return s.ck
}

func (s *stateRun) inexact(name string) {
	if s != nil {
		s.atLeastOnce = append(s.atLeastOnce, name)
	}
}

// progress returns the checkpointed progress of a file target.
func (s *stateRun) progress(t pipeline.Target, dead bool) (int64, bool) {
	if s == nil || s.ck == nil {
		return 0, false
	}
	return s.ck.Progress(state.DescribeTarget(t), dead)
}

// track registers a sink with the checkpointer: rolled back on restart
// when it can be (files, DuckDB), else only named.
func (s *stateRun) track(name string, x any, dead bool) {
	if s == nil {
		return
	}
	tr := state.Tracked{Name: name}
	switch v := x.(type) {
	case *sink.JSONL:
		if v.Resumable() {
			tr.Sink = v
		}
	case *sink.DeadFile:
		if v.Resumable() {
			tr.Sink = v
		}
	case *duck.Table:
		tr.Sink = v
	case *sink.Kafka:
		if pos, _ := v.Positions(); pos != nil {
			tr.Sink = v
		}
	}
	if dead {
		s.cp.Dead = &tr
	} else {
		s.cp.Sinks = append(s.cp.Sinks, tr)
	}
}

// openKafka opens a Kafka sink that writes in transactions committed at
// each checkpoint, and on a restart skips the rows committed after it.
func (s *stateRun) openKafka(ctx context.Context, r *runner, t pipeline.Target) (*sink.Kafka, error) {
	name := state.DescribeTarget(t)
	cfg, err := r.targetConfig(t.Kafka)
	if err != nil {
		return nil, err
	}
	conn, err := cfg.Opts()
	if err != nil {
		return nil, usageError{err}
	}
	// one transactional ID per pipeline and sink: a restarted run fences
	// the killed one and aborts its open transaction
	id := fmt.Sprintf("eddy-state.%s.%s", s.cp.Meta.Fingerprint, state.Fingerprint([]state.Field{{Name: "sink", Value: name}}))
	timeout := min(max(time.Minute, 3*r.p.State.CheckpointEvery), 15*time.Minute)
	cl, err := r.producer(ctx, t.Kafka, kgo.TransactionalID(id), kgo.TransactionTimeout(timeout))
	if err != nil {
		return nil, err
	}
	k, err := sink.NewKafkaTxn(ctx, cl, t.Kafka.Topic, id, conn)
	if err != nil {
		cl.Close()
		return nil, err
	}
	if s.ck != nil {
		p := s.ck.Sink(name, false)
		if p == nil {
			k.Close()
			return nil, fmt.Errorf("state %s: the checkpoint has no progress for %s", s.store.Dir(), name)
		}
		if err := k.Resume(ctx, p.Progress, p.Base, p.Partitions); err != nil {
			k.Close()
			return nil, err
		}
	}
	return k, nil
}

// resumeTable makes a DuckDB sink skip the rows it committed after the
// checkpoint: the run writes them again, in the same order.
func (s *stateRun) resumeTable(t pipeline.Target, tb *duck.Table) error {
	if s == nil {
		return nil
	}
	if s.ck == nil {
		return nil
	}
	want, ok := s.ck.Progress(state.DescribeTarget(t), false)
	if !ok {
		return fmt.Errorf("state %s: the checkpoint has no progress for %s", s.store.Dir(), state.DescribeTarget(t))
	}
	have := tb.Progress()
	if have < want {
		return fmt.Errorf("resume duckdb %s table %s: %d rows are counted in %s, fewer than the %d of the checkpoint: the table was changed since",
			t.DuckDB.Path, t.DuckDB.Table, have, duck.ProgressTable, want)
	}
	tb.Skip(have - want)
	return nil
}

// start restores the engine from the checkpoint, or writes a first
// checkpoint for a fresh start (so that a crash before the next one
// restarts from the beginning with the sinks as they were at the start).
func (s *stateRun) start(ctx context.Context, eng *engine.Engine, src source.Source) error {
	if s.ck != nil {
		if err := eng.Restore(s.ck.Engine); err != nil {
			return fmt.Errorf("state %s: restore: %w", s.store.Dir(), err)
		}
		return nil
	}
	if ks, ok := src.(*source.Kafka); ok {
		// record where the partitions start: a restart must not compute
		// a start like latest or time:-15m anew
		eng.StartAt(ks.StartOffsets(), time.Now())
	}
	if err := s.cp.Checkpoint(ctx, eng); err != nil {
		return fmt.Errorf("state %s: first checkpoint: %w", s.store.Dir(), err)
	}
	// the first checkpoint must be stored before anything is written
	if err := s.cp.Wait(); err != nil {
		return fmt.Errorf("state %s: first checkpoint: %w", s.store.Dir(), err)
	}
	return nil
}

// resumeOffsets gives a Kafka source the positions of a checkpoint.
func resumeOffsets(ck *state.Checkpoint) map[source.Partition]int64 {
	if ck == nil {
		return nil
	}
	out := map[source.Partition]int64{}
	for _, p := range ck.Engine.Partitions {
		if p.Next >= 0 {
			out[source.Partition{Topic: p.Topic, Partition: p.Partition}] = p.Next
		}
	}
	return out
}

func newStateCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "state",
		Short: "Look into state directories written by eddy run",
	}
	var asJSON bool
	inspect := &cobra.Command{
		Use:   "inspect DIR",
		Short: "Show what a state directory holds",
		Long: `Show the last checkpoint in a state directory (state.dir of a pipeline):
the pipeline and its fingerprint, when the checkpoint was taken, the
watermark, the open windows, the counters, the source positions, each sink's
progress and the size on disk. The directory is opened read-only.

Exit status: 0 when the checkpoint was read, 1 when the directory holds no
readable checkpoint (missing, not a state directory, or corrupt).`,
		Example: `  eddy state inspect state/revenue
  eddy state inspect --json state/revenue | jq .open_windows`,
		Args: exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return inspectState(c, args[0], asJSON) },
	}
	inspect.Flags().BoolVar(&asJSON, "json", false, "print the checkpoint's description as one JSON object")
	c.AddCommand(inspect)
	return c
}

// inspection is what `eddy state inspect --json` prints.
type inspection struct {
	Dir         string                  `json:"dir"`
	Pipeline    string                  `json:"pipeline"`
	Spec        string                  `json:"spec"`
	Fingerprint string                  `json:"fingerprint"`
	Semantics   []state.Field           `json:"semantics"`
	Seq         int64                   `json:"checkpoint"`
	Time        time.Time               `json:"time"`
	Watermark   *string                 `json:"watermark"`
	OpenWindows int                     `json:"open_windows"`
	WindowBytes int                     `json:"window_bytes"`
	Stats       engine.Stats            `json:"stats"`
	File        *source.FilePos         `json:"file,omitempty"`
	Partitions  []engine.PartitionState `json:"partitions"`
	Sinks       []state.Sink            `json:"sinks"`
	Dead        *state.Sink             `json:"dead,omitempty"`
	SizeOnDisk  int64                   `json:"size_on_disk"`
}

func inspectState(c *cobra.Command, dir string, asJSON bool) error {
	st, err := state.OpenReadOnly(dir)
	if err != nil {
		return err
	}
	ck, err := st.Load()
	st.Close()
	if err != nil {
		return err
	}
	if ck == nil {
		return fmt.Errorf("state %s: no checkpoint yet", dir)
	}
	size, err := state.Size(dir)
	if err != nil {
		return fmt.Errorf("state %s: %w", dir, err)
	}
	m, e := ck.Meta, ck.Engine
	in := inspection{Dir: dir, Pipeline: m.Pipeline, Spec: m.Spec, Fingerprint: m.Fingerprint, Semantics: m.Semantics,
		Seq: m.Seq, Time: m.Time, OpenWindows: e.OpenWindows, WindowBytes: len(e.Window), Stats: e.Stats,
		Partitions: e.Partitions, Sinks: m.Sinks, Dead: m.Dead, SizeOnDisk: size}
	if in.Partitions == nil {
		in.Partitions = []engine.PartitionState{}
	}
	if w := watermarkText(e.Watermark); w != "" {
		in.Watermark = &w
	}
	if e.File != (source.FilePos{}) {
		in.File = &e.File
	}
	out := c.OutOrStdout()
	if asJSON {
		b, err := json.MarshalIndent(in, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "%s\n", b)
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	name := in.Pipeline
	if name == "" {
		name = "(unnamed)"
	}
	fmt.Fprintf(tw, "pipeline:\t%s  (spec %s)\n", name, in.Spec)
	fmt.Fprintf(tw, "fingerprint:\t%s\n", in.Fingerprint)
	fmt.Fprintf(tw, "last checkpoint:\t#%d at %s\n", in.Seq, in.Time.Format(time.RFC3339Nano))
	wm := "none yet"
	if in.Watermark != nil {
		wm = *in.Watermark
	}
	fmt.Fprintf(tw, "watermark:\t%s\n", wm)
	fmt.Fprintf(tw, "open windows:\t%d  (%s of window state)\n", in.OpenWindows, byteSize(int64(in.WindowBytes)))
	fmt.Fprintf(tw, "counters:\t%s\n", in.Stats)
	if in.File != nil {
		fmt.Fprintf(tw, "file position:\tbyte %d, after line %d\n", in.File.Offset, in.File.Line)
	}
	for _, p := range in.Partitions {
		label, pos := fmt.Sprintf("partition:\t%s/%d", p.Topic, p.Partition), fmt.Sprintf("next offset %d", p.Next)
		if in.File != nil {
			label, pos = "input:\t"+p.Topic, fmt.Sprintf("next line %d", p.Next)
		}
		ev := "no event time yet"
		if p.Seen {
			ev = "max event time " + value.FormatTime(p.MaxEventTime)
		}
		fmt.Fprintf(tw, "%s: %s, %s\n", label, pos, ev)
	}
	for _, s := range in.Sinks {
		fmt.Fprintf(tw, "sink:\t%s\n", sinkText(s))
	}
	if in.Dead != nil {
		fmt.Fprintf(tw, "dead letters:\t%s\n", sinkText(*in.Dead))
	}
	fmt.Fprintf(tw, "size on disk:\t%s\n", byteSize(in.SizeOnDisk))
	return tw.Flush()
}

func watermarkText(w int64) string {
	switch w {
	case windows.NoWatermark:
		return ""
	case windows.EndOfInput:
		return "end of input"
	}
	return value.FormatTime(w)
}

func sinkText(s state.Sink) string {
	switch {
	case !s.Exact:
		return s.Name + ": at-least-once (not rolled back)"
	case strings.HasPrefix(s.Name, "duckdb "), strings.HasPrefix(s.Name, "kafka "):
		return fmt.Sprintf("%s: %d rows committed", s.Name, s.Progress)
	}
	return fmt.Sprintf("%s: %d bytes", s.Name, s.Progress)
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
