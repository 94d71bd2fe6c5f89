package cmd

import (
	"bufio"
	"context"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/eddyhq/eddy/fixtures"
)

func newGenCmd() *cobra.Command {
	var (
		count    int
		seed     uint64
		badRatio float64
		disorder time.Duration
		only     string
		skew     string
		rate     float64
		start    string
	)
	names := strings.Join(fixtures.Names(), ", ")
	c := &cobra.Command{
		Use:   "gen FIXTURE",
		Short: "Write a deterministic synthetic event stream as JSON Lines",
		Long: `gen writes a synthetic event stream to stdout, one JSON object per line.
The same flags always give byte-identical output.

Fixtures (` + names + `):
  clickstream  shop sessions: ts, user_id, session_id, event (view|cart|purchase),
               page, product_id, amount, country. A user's sessions are more
               than 30 minutes of event time apart.
  nexmark      the Nexmark benchmark's persons, auctions and bids, 1:3:46 in
               every 50 events; --only keeps one type; --skew nexmark picks
               auctions, bidders and sellers by Nexmark's hot-key rules.
  payments     ts, txn_id, account, merchant, amount, currency, status,
               card_country.
  sensors      ts, device, site, temperature, humidity, battery, ok.

Event times are RFC 3339 UTC with milliseconds. The clock starts at --start
and advances by 1s/--rate per event; --disorder moves each event back by a
random amount up to that duration. --bad-ratio replaces that fraction of the
records with malformed ones, taking turns between broken JSON, a value of the
wrong type and a missing event time.`,
		Example: `  # 100000 Nexmark events
  eddy gen nexmark > nexmark.jsonl

  # A million bids, up to 5 s late, 1% malformed
  eddy gen nexmark --only bids --count 1000000 --disorder 5s --bad-ratio 0.01

  # A day of sensor readings, one every 10 s, from another seed
  eddy gen sensors --rate 0.1 --count 8640 --seed 7 --start 2026-03-01T00:00:00Z`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("gen: want one FIXTURE argument (%s), got %d arguments", names, len(args))
			}
			return nil
		},
		ValidArgs: fixtures.Names(),
		RunE: func(c *cobra.Command, args []string) error {
			o := fixtures.Options{
				Count:    count,
				Seed:     seed,
				BadRatio: badRatio,
				Disorder: disorder,
				Only:     only,
				Skew:     skew,
				Rate:     rate,
			}
			var err error
			if o.Start, err = time.Parse(time.RFC3339Nano, start); err != nil {
				return usagef("gen: --start %q is not an RFC 3339 time", start)
			}
			// Options reads a zero rate as the default; here it is a mistake.
			if rate <= 0 {
				return usagef("gen: --rate %v must be > 0", rate)
			}
			if err := o.Validate(args[0]); err != nil {
				return usagef("gen: %v", err)
			}
			if count == 0 {
				// Options reads a zero count as the default.
				return nil
			}
			out := bufio.NewWriterSize(ctxWriter{c.Context(), c.OutOrStdout()}, 64<<10)
			if err := fixtures.Generate(out, args[0], o); err != nil {
				return err
			}
			return out.Flush()
		},
	}
	f := c.Flags()
	f.IntVar(&count, "count", fixtures.DefaultCount, "number of records to write")
	f.Uint64Var(&seed, "seed", 0, "random seed; the same seed gives the same output")
	f.Float64Var(&badRatio, "bad-ratio", 0, "fraction of records, 0 to 1, replaced by malformed ones")
	f.DurationVar(&disorder, "disorder", 0, "shift each event time back by a random amount up to this")
	f.StringVar(&only, "only", "", "nexmark only: write just bids, persons or auctions")
	f.StringVar(&skew, "skew", "", "nexmark only: nexmark draws auctions, bidders and sellers by Nexmark's hot-key rules (default: eddy's)")
	f.Float64Var(&rate, "rate", fixtures.DefaultRate, "events per second of event time")
	f.StringVar(&start, "start", fixtures.DefaultStart.Format(time.RFC3339), "event time of the first event (RFC 3339)")
	return c
}

// ctxWriter stops a long run once ctx is done: eddy catches SIGINT to cancel
// the context, so the signal no longer ends the process by itself.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (w ctxWriter) Write(p []byte) (int, error) {
	if w.ctx != nil {
		if err := w.ctx.Err(); err != nil {
			return 0, err
		}
	}
	return w.w.Write(p)
}
