package cmd

import (
	"cmp"
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/eddyhq/eddy/fixtures"
	"github.com/eddyhq/eddy/internal/nexmark"
)

func newBenchCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "bench",
		Short: "Run a benchmark suite in process",
	}
	c.AddCommand(newBenchNexmarkCmd())
	return c
}

func newBenchNexmarkCmd() *cobra.Command {
	var (
		events  int
		queries []string
		seed    uint64
		rate    float64
		repeat  int
		batch   int
		skew    string
	)
	c := &cobra.Command{
		Use:   "nexmark",
		Short: "Run the Nexmark queries over generated events and print events/s and rows per query",
		Long: `bench nexmark generates the Nexmark event stream in memory (persons,
auctions and bids, 1:3:46, as eddy gen nexmark --skew nexmark writes it), then runs each
query of examples/nexmark through the engine on one goroutine and prints
its rows, its wall and CPU time, events per wall second and events per
CPU second (the per-core rate, however busy the machine) beside Flink
1.13's per-core figure. Generation is not timed; decoding, the stages and
the encoding of every row are. Run it as GOMAXPROCS=1 taskset -c 0 eddy
bench nexmark to keep the collector on the engine's core.

q3 and q8 join persons with auctions, q4 and q9 auctions with bids: each
event goes to the source of its type (persons, auctions, bids), the others
to none. q10 (a file sink partitioned by time) is not run: docs/nexmark.md says why.`,
		Example: `  # every query over a million events
  eddy bench nexmark

  # q5 only, ten million events, the median of three runs
  eddy bench nexmark --query q5 --events 10000000 --repeat 3`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if events <= 0 || rate <= 0 || repeat <= 0 || batch <= 0 {
				return usagef("bench nexmark: --events, --rate, --repeat and --batch must be > 0")
			}
			qs, err := nexmark.Select(queries...)
			if err != nil {
				return usagef("bench nexmark: %v", err)
			}
			switch skew {
			case "eddy":
				skew = ""
			case fixtures.SkewNexmark:
			default:
				return usagef("bench nexmark: --skew %q: want nexmark or eddy", skew)
			}
			recs, size, err := nexmark.Events(events, seed, rate, skew)
			if err != nil {
				return err
			}
			out := c.OutOrStdout()
			fmt.Fprintf(out, "%d events (%.1f MB, seed %d, %.0f events/s of event time, skew %s), GOMAXPROCS %d, %s/%s\n",
				len(recs), float64(size)/1e6, seed, rate, cmp.Or(skew, "eddy"), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH)
			results, err := nexmark.Bench(qs, recs, repeat, nexmark.Options{Batch: batch})
			if err != nil {
				return err
			}
			return nexmark.Report(out, results)
		},
	}
	f := c.Flags()
	f.IntVar(&events, "events", 1_000_000, "events to generate (all types)")
	f.StringSliceVar(&queries, "query", nil, "queries to run (q0, q1, q2, q5, q7, q11, q12); default all")
	f.Uint64Var(&seed, "seed", 1, "generator seed")
	f.Float64Var(&rate, "rate", nexmark.DefaultRate, "events per second of event time")
	f.IntVar(&repeat, "repeat", 1, "runs per query; the median is printed")
	f.IntVar(&batch, "batch", nexmark.DefaultBatch, "records per engine batch")
	f.StringVar(&skew, "skew", fixtures.SkewNexmark, "how bids pick auctions and bidders: nexmark (Nexmark's hot-key rules) or eddy (eddy gen's default)")
	return c
}
