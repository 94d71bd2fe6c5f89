package cmd

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/examples"
	"github.com/eddyhq/eddy/fixtures"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/value"
)

const demoSpec = "purchases-per-country.yaml"

func newDemoCmd() *cobra.Command {
	var (
		count int
		seed  uint64
		max   int
	)
	c := &cobra.Command{
		Use:   "demo",
		Short: "Run a generated clickstream through an example pipeline and show the windows",
		Long: `Generate a clickstream (with out-of-order and malformed records), run it
through examples/purchases-per-country.yaml, and print the window results, the
dead letters grouped by cause, and the record accounting.

(The interactive workbench on an embedded Kafka cluster will take over this
command; until then the demo runs headless.)`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if count < 0 || max < 0 {
				return usagef("--count and --rows must not be negative")
			}
			return runDemo(c, count, seed, max)
		},
	}
	c.Flags().IntVar(&count, "count", 200000, "number of clickstream events to generate")
	c.Flags().Uint64Var(&seed, "seed", 1, "generator seed")
	c.Flags().IntVar(&max, "rows", 40, "print at most this many result rows (0: all)")
	return c
}

// tableSink keeps result rows for printing.
type tableSink struct {
	names []string
	rows  [][]value.Value
}

func (t *tableSink) Write(r *sink.Row) error {
	t.names = r.Names
	t.rows = append(t.rows, append([]value.Value(nil), r.Vals...))
	return nil
}
func (t *tableSink) Close() error { return nil }

// deadCounts groups dead letters by stage and cause.
type deadCounts map[string]int

func (d deadCounts) WriteDead(x *sink.DeadLetter) error {
	cause := x.Error
	if i := strings.IndexByte(cause, '"'); i > 0 {
		cause = cause[:i]
	}
	if strings.HasPrefix(cause, "invalid JSON") {
		cause = "invalid JSON"
	}
	cause = strings.TrimRight(cause, " :")
	d[x.StageKind+": "+cause]++
	return nil
}
func (d deadCounts) Close() error { return nil }

func runDemo(c *cobra.Command, count int, seed uint64, maxRows int) error {
	spec, err := examples.FS.ReadFile(demoSpec)
	if err != nil {
		return err
	}
	p, err := pipeline.Parse("examples/"+demoSpec, spec)
	if err != nil {
		return err
	}
	plan, err := pipeline.Compile(p)
	if err != nil {
		return err
	}
	out := c.OutOrStdout()
	fmt.Fprintf(out, "eddy demo: %d clickstream events (1%% malformed, up to 2s out of order) through %s\n\n", count, "examples/"+demoSpec)
	fmt.Fprintf(out, "%s\n", indent(string(spec)))

	pr, pw := io.Pipe()
	go func() {
		err := fixtures.Generate(pw, "clickstream", fixtures.Options{Count: count, Seed: seed, BadRatio: 0.01, Disorder: 2 * time.Second})
		pw.CloseWithError(err)
	}()
	table := &tableSink{}
	dead := deadCounts{}
	eng, err := engine.New(plan, engine.Options{Sinks: []sink.Sink{table}, Dead: dead})
	if err != nil {
		return err
	}
	start := time.Now()
	runErr := engine.Run(c.Context(), source.NewReader("clickstream", pr), eng)
	_ = pr.Close()
	elapsed := time.Since(start)
	if runErr != nil {
		return runErr
	}
	printTable(out, table, maxRows)
	if len(dead) > 0 {
		fmt.Fprintln(out, "\ndead letters by cause:")
		keys := make([]string, 0, len(dead))
		for k := range dead {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			return dead[keys[i]] > dead[keys[j]] || dead[keys[i]] == dead[keys[j]] && keys[i] < keys[j]
		})
		for _, k := range keys {
			fmt.Fprintf(out, "  %6d  %s\n", dead[k], k)
		}
	}
	st := eng.Stats()
	fmt.Fprintf(out, "\n%s  (%.0f events/s)\n", st, float64(st.In)/elapsed.Seconds())
	fmt.Fprintln(out, "\nnext: eddy gen clickstream > clicks.jsonl; eddy run examples/purchases-per-country.yaml --input clicks.jsonl")
	return nil
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "    " + l
	}
	return strings.Join(lines, "\n") + "\n"
}

func printTable(w io.Writer, t *tableSink, maxRows int) {
	if len(t.rows) == 0 {
		fmt.Fprintln(w, "(no window results)")
		return
	}
	rows := t.rows
	if maxRows > 0 && len(rows) > maxRows {
		rows = rows[len(rows)-maxRows:]
		fmt.Fprintf(w, "last %d of %d result rows:\n", maxRows, len(t.rows))
	} else {
		fmt.Fprintf(w, "%d result rows:\n", len(rows))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(t.names, "\t")+"\t")
	for _, r := range rows {
		cells := make([]string, len(r))
		for i, v := range r {
			cells[i] = cell(v)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	tw.Flush()
}

func cell(v value.Value) string {
	switch v.K {
	case value.Float:
		return strconv.FormatFloat(v.F, 'f', 2, 64)
	case value.String:
		return v.S
	case value.Time:
		return value.FormatTime(v.I)
	}
	return string(value.AppendJSON(nil, v))
}
