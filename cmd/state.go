package cmd

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/state"
	"github.com/eddyhq/eddy/value"
	"github.com/eddyhq/eddy/windows"
)

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
	Files       []engine.SourcePos      `json:"files,omitempty"` // several sources: each file source's position
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
	in.Files = e.Files
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
	for _, f := range in.Files {
		fmt.Fprintf(tw, "file position:\tsource %s: byte %d, after line %d\n", f.Source, f.Pos.Offset, f.Pos.Line)
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
