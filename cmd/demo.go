package cmd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/demo"
	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/examples"
	"github.com/eddyhq/eddy/job"
	"github.com/eddyhq/eddy/kcfg"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/tui"
	"github.com/eddyhq/eddy/windows"
)

const demoSpec = "live-purchases.yaml"

type demoFlags struct {
	listen   string
	rate     float64
	bad      float64
	data     string
	headless bool
	print    bool
	logFile  string
	duration time.Duration
	window   time.Duration
}

func newDemoCmd() *cobra.Command {
	var f demoFlags
	c := &cobra.Command{
		Use:   "demo",
		Short: "Open the workbench on an embedded demo Kafka cluster with live traffic",
		Long: `Start an in-process Kafka-protocol cluster on loopback with the topics clicks,
nexmark.bids, nexmark.auctions, nexmark.persons, payments and sensors, keep
producing generated traffic into them (with a share of malformed records), and
open the workbench on it: pick a topic, filter its records, add stages, watch
windows close in a table and a chart, save the pipeline. Press ? for keys.

Other clients can use the cluster while it runs: kcat, scripts, a second eddy.
With --headless only the cluster and the traffic run. With --print (or when
standard output is not a terminal) eddy runs examples/live-purchases.yaml on
the clicks topic and prints window rows as windows close, dead letters going
to the clicks.dlq topic.`,
		Example: `  eddy demo
  eddy demo --headless --listen 127.0.0.1:9092 --rate 5000
  eddy demo --print --window 2s
  kcat -b 127.0.0.1:9092 -C -t clicks -o -5 -e`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if f.rate < 0 || f.bad < 0 || f.bad > 1 {
				return usagef("--rate must be >= 0 and --bad-ratio in [0, 1]")
			}
			if f.window < time.Millisecond {
				return usagef("--window must be at least 1ms")
			}
			return runDemo(c, f)
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.listen, "listen", "", "listen on `HOST:PORT` (default 127.0.0.1:9092, or the next free port; a host other than loopback is reachable by others)")
	fl.Float64Var(&f.rate, "rate", 2000, "records per second produced in total (0: none)")
	fl.Float64Var(&f.bad, "bad-ratio", 0.005, "share of malformed records")
	fl.StringVar(&f.data, "data", "", "keep the cluster's data in `DIR` across restarts")
	fl.BoolVar(&f.headless, "headless", false, "run only the cluster and the traffic")
	fl.BoolVar(&f.print, "print", false, "print the live pipeline's windows instead of opening the workbench")
	fl.StringVar(&f.logFile, "log", "", "write the workbench's logs to `FILE` (default: no logs)")
	fl.String("metrics", "", "serve the running pipeline's counters at http://`ADDR`/metrics (Prometheus text format; :PORT is loopback)")
	fl.DurationVar(&f.duration, "duration", 0, "stop after this long (0: until Ctrl-C)")
	fl.DurationVar(&f.window, "window", 10*time.Second, "window size of the demo pipeline")
	return c
}

func runDemo(c *cobra.Command, f demoFlags) error {
	ctx := c.Context()
	if f.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.duration)
		defer cancel()
	}
	d, err := demo.Start(ctx, demo.Options{Listen: f.listen, Rate: f.rate, BadRatio: f.bad, DataDir: f.data})
	if err != nil {
		return err
	}
	defer d.Stop()
	if host, _, err := net.SplitHostPort(f.listen); err == nil && host != "" && !demo.Loopback(host) {
		fmt.Fprintf(c.ErrOrStderr(), "eddy demo: warning: --listen %s is not a loopback address: anyone who can reach it can read and write the demo cluster (no TLS, no authentication)\n", f.listen)
	}
	out := c.OutOrStdout()
	if !f.headless && !f.print && isTerminal(out) {
		cfg := kcfg.New()
		_ = cfg.Set("bootstrap.servers", d.Addr)
		conn, err := cfg.Opts()
		if err != nil {
			return err
		}
		cl, err := kgo.NewClient(conn...)
		if err != nil {
			return err
		}
		defer cl.Close()
		return clusterWorkbench(ctx, c, conn, cl, tui.Options{Label: "demo " + d.Addr, Brokers: []string{d.Addr}, Start: "last:200"}, f.logFile)
	}
	fmt.Fprintf(out, "eddy demo: Kafka-protocol cluster on %s\n", d.Addr)
	fmt.Fprintf(out, "  topics: %s (%d partitions each)\n", strings.Join(demo.Topics, ", "), demo.Partitions)
	fmt.Fprintf(out, "  traffic: %g records/s, %g%% malformed\n", f.rate, f.bad*100)
	fmt.Fprintf(out, "  try: kcat -b %s -C -t clicks -o -5 -e\n", d.Addr)
	fmt.Fprintf(out, "       eddy tail -b %s -t nexmark.bids -o -5 -e\n", d.Addr)
	if f.headless {
		fmt.Fprintln(out, "running headless; Ctrl-C stops")
		<-ctx.Done()
		fmt.Fprintf(out, "eddy demo: produced %d records\n", d.Produced())
		return nil
	}
	spec, err := examples.FS.ReadFile(demoSpec)
	if err != nil {
		return err
	}
	p, err := pipeline.Parse("examples/"+demoSpec, spec)
	if err != nil {
		return err
	}
	p.Stages[len(p.Stages)-1].Window.Spec = windows.Spec{Type: windows.TumblingType, Size: f.window.Milliseconds()}
	plan, err := pipeline.Compile(p)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nrunning examples/%s on clicks: purchases per country in %v windows; rows appear as windows close\n\n", demoSpec, f.window)
	cfg := kcfg.New()
	_ = cfg.Set("bootstrap.servers", d.Addr)
	conn, _ := cfg.Opts()
	k := p.Source.Kafka
	src, err := source.OpenKafka(ctx, conn, source.KafkaOptions{Topics: k.Topics, Start: k.Start, Stop: k.Stop})
	if err != nil {
		return err
	}
	defer src.Close()
	dlqClient, err := kgo.NewClient(append(conn, kgo.AllowAutoTopicCreation())...)
	if err != nil {
		return err
	}
	dead := sink.NewKafkaDead(dlqClient, p.DLQ.Kafka.Topic, p.Name, true)
	defer dead.Close()
	tables, err := job.OpenTables(ctx, p, job.Options{Stderr: out}) // as eddy run opens them
	if err != nil {
		return err
	}
	defer tables.Close()
	table := &liveTable{w: out}
	eng, err := engine.New(plan, engine.Options{Sinks: []sink.Sink{table}, Dead: dead, Tables: tables.Map()})
	if err != nil {
		return err
	}
	go func() {
		t := time.NewTicker(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				table.note(fmt.Sprintf("-- %s  (produced %d)", eng.Stats(), d.Produced()))
			}
		}
	}()
	err = engine.Run(ctx, src, eng)
	fmt.Fprintf(out, "\neddy: %s\n", eng.Stats())
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	return err
}
