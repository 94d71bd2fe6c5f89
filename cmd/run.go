package cmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
)

type runFlags struct {
	input, out, dlq, stats string
}

func newRunCmd() *cobra.Command {
	var f runFlags
	c := &cobra.Command{
		Use:   "run PIPELINE.yaml",
		Short: "Run a pipeline headless over a file or stdin",
		Long: `Run a pipeline spec (see docs/pipeline.md) to the end of its input.

Flags override the spec: --input replaces source.file, --out replaces the
sinks with one JSON Lines file, --dlq replaces the dead-letter file. "-" means
stdin for --input and stdout for --out and --dlq. Relative paths inside the
spec are resolved against the spec's directory.

At the end eddy prints to stderr
  eddy: in=N passed=N filtered=N dead=N late=N rows=N
and --stats writes the same counters as one JSON object.

Exit status: 0 when the run completes (dead letters are not failures),
1 on a runtime failure, 2 on a bad spec or bad flags.`,
		Example: `  eddy gen nexmark --only bids --count 1000000 > bids.jsonl
  eddy run examples/nexmark-bids.yaml --input bids.jsonl --out -
  eddy gen clickstream --bad-ratio 0.01 | eddy run examples/purchases-per-country.yaml --input - --dlq dead.jsonl`,
		Args: exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return runPipeline(c, args[0], f) },
	}
	fl := c.Flags()
	fl.StringVarP(&f.input, "input", "i", "", "read records from `PATH` (- for stdin) instead of source.file")
	fl.StringVarP(&f.out, "out", "o", "", "write rows to `PATH` (- for stdout) instead of the spec's sinks")
	fl.StringVar(&f.dlq, "dlq", "", "write dead letters to `PATH` instead of the spec's dlq")
	fl.StringVar(&f.stats, "stats", "", "write the final counters as JSON to `PATH` (- for stdout)")
	return c
}

// exactArgs is cobra.ExactArgs with a usage error (exit 2).
func exactArgs(n int) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(c, args); err != nil {
			return usageError{fmt.Errorf("%v\nUsage: %s", err, c.UseLine())}
		}
		return nil
	}
}

func runPipeline(c *cobra.Command, specPath string, f runFlags) error {
	p, err := pipeline.Load(specPath)
	if err != nil {
		return usageError{err}
	}
	if f.input != "" {
		p.Source.File = f.input
	}
	if f.out != "" {
		p.Sinks = []pipeline.Target{{File: f.out}}
	}
	if f.dlq != "" {
		p.DLQ = &pipeline.Target{File: f.dlq}
	}
	if p.Source.File == "" {
		return usagef("%s: no input: set source.file in the spec or pass --input", specPath)
	}
	plan, err := pipeline.Compile(p)
	if err != nil {
		return usageError{err}
	}

	var src *source.File
	if p.Source.File == "-" {
		src = source.NewReader("-", c.InOrStdin())
	} else if src, err = source.OpenFile(p.Source.File); err != nil {
		return err
	}
	defer src.Close()
	var sinks []sink.Sink
	closeAll := func() error {
		var errs []error
		for _, s := range sinks {
			errs = append(errs, s.Close())
		}
		return errors.Join(errs...)
	}
	if len(p.Sinks) == 0 {
		p.Sinks = []pipeline.Target{{File: "-"}}
	}
	for _, t := range p.Sinks {
		s, err := openSink(c, t.File)
		if err != nil {
			_ = closeAll()
			return err
		}
		sinks = append(sinks, s)
	}
	var dead *sink.DeadFile
	switch {
	case p.DLQ == nil:
		dead = sink.NewDeadFile("stderr", c.ErrOrStderr(), nil)
	case p.DLQ.File == "-":
		dead = sink.NewDeadFile("stdout", c.OutOrStdout(), nil)
	default:
		if dead, err = sink.OpenDeadFile(p.DLQ.File); err != nil {
			_ = closeAll()
			return err
		}
	}
	eng, err := engine.New(plan, engine.Options{Sinks: sinks, Dead: dead})
	if err != nil {
		_ = closeAll()
		_ = dead.Close()
		return err
	}
	runErr := engine.Run(c.Context(), src, eng)
	closeErr := errors.Join(closeAll(), dead.Close())
	st := eng.Stats()
	fmt.Fprintf(c.ErrOrStderr(), "eddy: %s\n", st)
	if f.stats != "" {
		if err := writeStats(c, f.stats, st); err != nil && runErr == nil {
			runErr = err
		}
	}
	if runErr != nil {
		return runErr
	}
	return closeErr
}

func openSink(c *cobra.Command, path string) (sink.Sink, error) {
	if path == "-" {
		return sink.NewJSONL("stdout", c.OutOrStdout(), nil), nil
	}
	return sink.OpenJSONL(path)
}

func writeStats(c *cobra.Command, path string, st engine.Stats) error {
	b, _ := json.Marshal(st)
	b = append(b, '\n')
	if path == "-" {
		_, err := c.OutOrStdout().Write(b)
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write stats: %w", err)
	}
	return nil
}
