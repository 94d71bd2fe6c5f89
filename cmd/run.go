package cmd

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/eddyhq/eddy/format"
	"github.com/eddyhq/eddy/job"
	"github.com/eddyhq/eddy/kcfg"
	"github.com/eddyhq/eddy/pipeline"
)

type runFlags struct {
	input, out, dlq, stats, metrics string
	resetState, metricsWindows      bool
	metricsMaxSeries                int
	workers                         int
}

func newRunCmd() *cobra.Command {
	var f runFlags
	c := &cobra.Command{
		Use:   "run PIPELINE.yaml",
		Short: "Run a pipeline headless over a topic, a file or stdin",
		Long: `Run a pipeline spec (see docs/pipeline.md) over its source: a Kafka topic
(followed until Ctrl-C, or to the end with stop: caught-up), a file or stdin.

Flags override the spec: --input replaces source.file, --out replaces the
sinks with one JSON Lines file, --dlq replaces the dead-letter file. "-" means
stdin for --input and stdout for --out and --dlq. Relative paths inside the
spec are resolved against the spec's directory.

At the end eddy prints to stderr
  eddy: in=N passed=N filtered=N dead=N late=N rows=N
and --stats writes the same counters as one JSON object.

With a state section (docs/state.md) eddy checkpoints window state, source
positions and sink progress to state.dir every state.checkpoint_every, and a
restarted run resumes from the last checkpoint; --reset-state discards it.

--metrics serves the run's counters at http://ADDR/metrics in the Prometheus
text format while it runs (docs/serving.md, "eddy's own metrics");
--metrics-windows adds the latest closed window of each key as gauges, at
most --metrics-max-series series.

--workers N runs decoding, the stages and the window on N cores, keys
hash-partitioned across them; the rows, their order, the dead letters and
the counters are those of one worker (docs/design.md, "Parallel workers").
A checkpoint is resumed with the number of workers that took it. A
pipeline that cannot run on several (a consumer group without state,
several sources, a join, stages after a window) runs on one with a
warning.

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
	fl.StringVar(&f.metrics, "metrics", "", "serve the run's counters at `HOST:PORT`/metrics for Prometheus (\":PORT\" is loopback; another host is reachable by others)")
	fl.BoolVar(&f.metricsWindows, "metrics-windows", false, "with --metrics, also serve the latest closed window of each key as gauges (one per aggregate)")
	fl.IntVar(&f.metricsMaxSeries, "metrics-max-series", 10000, "with --metrics-windows, keep at most `N` series; rows of further keys are counted as overflow")
	fl.IntVar(&f.workers, "workers", 1, "run the pipeline on `N` cores (same output as one)")
	fl.BoolVar(&f.resetState, "reset-state", false, "discard the spec's state directory (state.dir) and start from the beginning")
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
	if f.workers < 1 {
		return usageError{fmt.Errorf("--workers %d: must be at least 1", f.workers)}
	}
	p, err := pipeline.Load(specPath)
	if err != nil {
		return usageError{err}
	}
	ctx := c.Context()
	j, err := job.Open(ctx, p, job.Options{Input: f.input, Out: f.out, DLQ: f.dlq, Stats: f.stats, ResetState: f.resetState, Workers: f.workers, Metrics: f.metrics, MetricsWindows: f.metricsWindows, MetricsMaxSeries: f.metricsMaxSeries,
		Stdin: c.InOrStdin(), Stdout: c.OutOrStdout(), Stderr: c.ErrOrStderr(), Kafka: func() (*kcfg.Config, error) { return kafkaConfig(c) }, Brokers: readKafkaFlags(c).brokers,
		SchemaRegistry: func() (format.Config, format.Config) { return registryConfig(c) }, AWSProfile: awsProfile(c)})
	if err != nil {
		return jobError(err)
	}
	defer j.Close()
	_, err = j.Run(ctx)
	return err
}

// jobError marks the job's spec errors as usage errors (exit 2).
func jobError(err error) error {
	if errors.As(err, new(*job.SpecError)) {
		return usageError{err}
	}
	return err
}
