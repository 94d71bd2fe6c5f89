package cmd

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/eddyhq/eddy/internal/diff"
	"github.com/eddyhq/eddy/job"
	"github.com/eddyhq/eddy/kcfg"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/source"
)

func newDiffCmd() *cobra.Command {
	var input string
	var asJSON, exitCode bool
	var maxRecords int
	c := &cobra.Command{
		Use:   "diff OLD.yaml NEW.yaml",
		Short: "Run two versions of a pipeline over the same records and show the rows that change",
		Long: `diff runs OLD.yaml and NEW.yaml over the same records and shows what the
change would do to the results before it is deployed: window rows are
matched by their key columns and window bounds (the last revision counts)
and shown as added (+), removed (-) or changed (~, with each changed
column old → new); rows of pipelines without a window are compared as
whole rows.

The records are OLD.yaml's source, or --input FILE (JSON Lines; - for
stdin). They are read once and kept in memory (at most --max-records), so
both versions see exactly the same batches; a Kafka source that follows
its topic is read up to where it is at the start (stop: caught-up).
--json writes the whole comparison as one JSON object. The exit status is
0 whatever the difference, unless --exit-code: then 1 when the results
differ.`,
		Example: `  eddy diff purchases.yaml purchases-v2.yaml --input clicks.jsonl
  eddy diff old.yaml new.yaml --json | jq '.changed | length'`,
		Args: exactArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			return runDiff(c, args[0], args[1], input, maxRecords, asJSON, exitCode)
		},
	}
	fl := c.Flags()
	fl.StringVar(&input, "input", "", "JSON Lines `FILE` to read instead of OLD.yaml's source (- for stdin)")
	fl.BoolVar(&asJSON, "json", false, "write the comparison as JSON")
	fl.BoolVar(&exitCode, "exit-code", false, "exit 1 when the results differ")
	fl.IntVar(&maxRecords, "max-records", 5_000_000, "read at most `N` records (they are kept in memory)")
	return c
}

func runDiff(c *cobra.Command, oldPath, newPath, input string, max int, asJSON, exitCode bool) error {
	var plans [2]*pipeline.Plan
	var specs [2]*pipeline.Pipeline
	for i, path := range []string{oldPath, newPath} {
		p, err := pipeline.Load(path)
		if err != nil {
			return usageError{err}
		}
		if plans[i], err = pipeline.Compile(p); err != nil {
			return usageError{err}
		}
		if len(p.Sources) > 0 {
			return usageError{fmt.Errorf("%s: eddy diff replays one source; this spec has several (sources at line %d)", path, p.Sources[0].Line)}
		}
		specs[i] = p
	}
	ctx := c.Context()
	var src source.Source
	var srcCfg *kcfg.Config // the Kafka source's cluster, for its registry settings
	switch {
	case input == "-":
		src = source.NewReader("-", c.InOrStdin())
	case input != "":
		f, err := source.OpenFile(input)
		if err != nil {
			return err
		}
		src = f
	case specs[0].Source.Kafka != nil:
		k := *specs[0].Source.Kafka
		if k.Stop == "" || k.Stop == "none" {
			k.Stop = "caught-up"
		}
		cfg, err := kafkaConfig(c)
		if err != nil {
			return err
		}
		if len(k.Brokers) > 0 && readKafkaFlags(c).brokers == "" {
			_ = cfg.Set("bootstrap.servers", strings.Join(k.Brokers, ","))
		}
		conn, err := cfg.Opts()
		if err != nil {
			return usageError{err}
		}
		srcCfg = cfg
		ks, err := source.OpenKafka(ctx, conn, source.KafkaOptions{Topics: k.Topics, Start: k.Start, Stop: k.Stop})
		if err != nil {
			return err
		}
		src = ks
	case specs[0].Source.File == "-" || specs[0].Source.File == "":
		src = source.NewReader("-", c.InOrStdin())
	default:
		f, err := source.OpenFile(specs[0].Source.File)
		if err != nil {
			return err
		}
		src = f
	}
	rec, err := diff.Record(ctx, src, max)
	if err != nil {
		return fmt.Errorf("diff: read the input: %w", err)
	}
	// Registry formats (avro, ...) decode with a schema cache, the
	// registry found as eddy run finds it.
	// Lookup stages read their tables, opened as eddy run opens them.
	var inputs [2]diff.Inputs
	flag, env := registryConfig(c)
	for i, p := range specs {
		if inputs[i].Schemas, err = job.SchemaCache(ctx, p, flag, env, srcCfg); err != nil {
			return jobError(err)
		}
		tables, err := job.OpenTables(ctx, p, job.Options{Stderr: c.ErrOrStderr(),
			Kafka: func() (*kcfg.Config, error) { return kafkaConfig(c) }, Brokers: readKafkaFlags(c).brokers})
		if err != nil {
			return jobError(err)
		}
		defer tables.Close()
		inputs[i].Tables = tables.Map()
	}
	res, err := diff.RunWith(ctx, plans[0], plans[1], rec, inputs)
	if err != nil {
		return fmt.Errorf("diff: %w", err)
	}
	out := bufio.NewWriter(c.OutOrStdout())
	if asJSON {
		err = writeDiffJSON(out, rec.Records(), res)
	} else {
		writeDiff(out, oldPath, newPath, rec.Records(), res)
	}
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	if err == nil && exitCode && res.Differs() {
		return exitError{code: 1}
	}
	return err
}

func writeDiff(w io.Writer, oldPath, newPath string, records int, res *diff.Result) {
	fmt.Fprintf(w, "%s → %s over %d records\n  old: %s\n  new: %s\n", oldPath, newPath, records, res.OldStats, res.NewStats)
	if res.Windowed {
		fmt.Fprintf(w, "window rows matched by %s: %d same, %d changed, %d added, %d removed\n",
			strings.Join(res.Identity, ", "), res.Same, len(res.Changed), len(res.Added), len(res.Removed))
	} else {
		fmt.Fprintf(w, "rows compared whole: %d same, %d added, %d removed\n", res.Same, len(res.Added), len(res.Removed))
	}
	for _, ch := range res.Changed {
		var cols []string
		for _, name := range ch.Columns {
			cols = append(cols, fmt.Sprintf("%s: %s → %s", name, colOr(ch.Old, name), colOr(ch.New, name)))
		}
		fmt.Fprintf(w, "~ %s  %s\n", identityText(ch.Old, res.Identity), strings.Join(cols, ", "))
	}
	for _, r := range res.Added {
		fmt.Fprintf(w, "+ %s\n", r.Object())
	}
	for _, r := range res.Removed {
		fmt.Fprintf(w, "- %s\n", r.Object())
	}
}

// colOr is the value of a column, or "(none)" when the row lacks it.
func colOr(r diff.Row, name string) string {
	for i, n := range r.Names {
		if n == name {
			return r.Vals[i]
		}
	}
	return "(none)"
}

func identityText(r diff.Row, id []string) string {
	var parts []string
	for _, n := range id {
		parts = append(parts, n+"="+colOr(r, n))
	}
	return strings.Join(parts, " ")
}

func writeDiffJSON(w io.Writer, records int, res *diff.Result) error {
	type change struct {
		Old     diff.Row `json:"old"`
		New     diff.Row `json:"new"`
		Columns []string `json:"columns"`
	}
	out := struct {
		Records  int        `json:"records"`
		Windowed bool       `json:"windowed"`
		Identity []string   `json:"identity,omitempty"`
		Same     int        `json:"same"`
		Changed  []change   `json:"changed"`
		Added    []diff.Row `json:"added"`
		Removed  []diff.Row `json:"removed"`
		Old      any        `json:"old_stats"`
		New      any        `json:"new_stats"`
	}{Records: records, Windowed: res.Windowed, Identity: res.Identity, Same: res.Same,
		Changed: []change{}, Added: append([]diff.Row{}, res.Added...), Removed: append([]diff.Row{}, res.Removed...),
		Old: res.OldStats, New: res.NewStats}
	for _, ch := range res.Changed {
		out.Changed = append(out.Changed, change{ch.Old, ch.New, ch.Columns})
	}
	enc := json.NewEncoder(w)
	return enc.Encode(out)
}
