package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
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
	cks         []*state.Checkpoint // stored, the last first
	ck          *state.Checkpoint   // restored from (see choose); nil on a fresh start
	cp          *state.Checkpointer
	atLeastOnce []string // sinks that cannot be rolled back
	// the Kafka sinks opened so far, and whether the source group's
	// offsets are committed in one's transactions
	kafkaSinks int
	groupInTxn bool
	duckSinks  int
}

// openState opens (or, with reset, first removes) the state directory and
// loads its last checkpoint, refusing one written for another pipeline.
func openState(p *pipeline.Pipeline, reset bool) (*stateRun, error) {
	// checkRun refused stdin and a second duckdb sink
	duckdb := 0
	for _, t := range p.Sinks {
		if t.DuckDB != nil {
			duckdb++
		}
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
	cks, err := st.LoadAll()
	if err != nil {
		st.Close()
		return nil, err
	}
	fields := state.Describe(p)
	for _, ck := range cks {
		if err := state.Check(dir, ck, fields); err != nil {
			st.Close()
			return nil, usageError{err}
		}
	}
	meta := state.Meta{Pipeline: p.Name, Spec: p.File, Fingerprint: state.Fingerprint(fields), Semantics: fields}
	cp := &state.Checkpointer{Store: st, Meta: meta, Offsets: p.Source.Kafka != nil}
	s := &stateRun{store: st, cks: cks, cp: cp, duckSinks: duckdb}
	if len(cks) > 0 {
		s.ck = cks[0] // until choose
	}
	return s, nil
}

// faultKey is the context key of a fault point for the checkpoints of a
// run (state.Checkpointer.AfterStep): tests running eddy in process set
// it with withFault; eddy itself never does.
type faultKey struct{}

func withFault(ctx context.Context, f func(step string, seq int64) error) context.Context {
	return context.WithValue(ctx, faultKey{}, f)
}

func (s *stateRun) restored() *state.Checkpoint {
	if s == nil {
		return nil
	}
	return s.ck
}

// choose picks the checkpoint to restore once the transactional sinks are
// open, rolls the store back to it and commits again the rows of the sinks
// that missed its commit (state.Checkpointer.Resume).
func (s *stateRun) choose(ctx context.Context) error {
	if s == nil || len(s.cks) == 0 {
		return nil
	}
	ck, err := s.cp.Resume(ctx, s.cks)
	if err != nil {
		return err
	}
	s.ck, s.cp.Meta.Seq = ck, ck.Meta.Seq
	return nil
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
		tr.Txn = v
	case *sink.Kafka:
		if v.Transactional() {
			tr.Txn = v
		}
	}
	if dead {
		s.cp.Dead = &tr
	} else {
		s.cp.Sinks = append(s.cp.Sinks, tr)
	}
}

// openKafka opens a Kafka sink that writes in transactions committed at
// each checkpoint with the checkpoint's marker. The first Kafka sink on the
// source's cluster commits the source group's offsets in its transactions;
// the sinks that commit after another (a DuckDB table, an earlier Kafka
// sink) keep their open transaction's rows for the checkpoint (Redo).
func (s *stateRun) openKafka(ctx context.Context, r *runner, t pipeline.Target) (*sink.Kafka, error) {
	name := state.DescribeTarget(t)
	cfg, err := r.targetConfig(t.Kafka)
	if err != nil {
		return nil, err
	}
	// one transactional ID per pipeline and sink: a restarted run fences
	// the killed one and aborts its open transaction
	id := fmt.Sprintf("eddy-state.%s.%s", s.cp.Meta.Fingerprint, state.Fingerprint([]state.Field{{Name: "sink", Value: name}}))
	timeout := min(max(time.Minute, 3*r.p.State.CheckpointEvery), 15*time.Minute)
	cl, err := r.producer(ctx, t.Kafka, kgo.TransactionalID(id), kgo.TransactionTimeout(timeout))
	if err != nil {
		return nil, err
	}
	o := sink.KafkaTxnOptions{Redo: s.duckSinks > 0 || s.kafkaSinks > 0}
	if g := r.p.Source.Kafka; g != nil && g.Group != "" && !s.groupInTxn && cfg == r.srcCfg {
		o.Group, s.groupInTxn = g.Group, true
	}
	s.kafkaSinks++
	k, err := sink.NewKafkaTxn(ctx, cl, t.Kafka.Topic, id, o)
	if err != nil {
		cl.Close()
		return nil, err
	}
	return k, nil
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
	Dir         string        `json:"dir"`
	Pipeline    string        `json:"pipeline"`
	Spec        string        `json:"spec"`
	Fingerprint string        `json:"fingerprint"`
	Semantics   []state.Field `json:"semantics"`
	Seq         int64         `json:"checkpoint"`
	Time        time.Time     `json:"time"`
	Watermark   *string       `json:"watermark"`
	OpenWindows int           `json:"open_windows"`
	WindowBytes int           `json:"window_bytes"`
	Backend     string        `json:"backend"`
	// WindowStore is the size of the pebble backend's store (live and its
	// checkpoints, shared tables counted once); 0 with backend memory.
	WindowStore int64                   `json:"window_store_bytes,omitempty"`
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
	in.Backend = "memory"
	for _, f := range m.Semantics {
		if f.Name == "state.backend" {
			in.Backend = f.Value
		}
	}
	if in.Backend == "pebble" {
		if in.WindowStore, err = state.Size(filepath.Join(dir, "windows")); err != nil {
			return fmt.Errorf("state %s: %w", dir, err)
		}
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
	if in.Backend == "pebble" {
		fmt.Fprintf(tw, "open windows:\t%d  (backend pebble: %s in %s)\n", in.OpenWindows, byteSize(in.WindowStore), filepath.Join(in.Dir, "windows"))
	} else {
		fmt.Fprintf(tw, "open windows:\t%d  (%s of window state)\n", in.OpenWindows, byteSize(int64(in.WindowBytes)))
	}
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
