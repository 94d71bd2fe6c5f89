package cmd

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/eddyhq/eddy/format"
	"github.com/eddyhq/eddy/job"
	"github.com/eddyhq/eddy/kcfg"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/serve"
	"github.com/eddyhq/eddy/sink"
)

type serveFlags struct {
	input, dlq, listen, token, tlsCert, tlsKey, clientCA string
	ttl                                                  time.Duration
	maxKeys                                              int
	resetState                                           bool
}

func newServeCmd() *cobra.Command {
	var f serveFlags
	c := &cobra.Command{
		Use:   "serve PIPELINE.yaml",
		Short: "Run a pipeline and serve its latest closed windows over HTTP",
		Long: `Run a pipeline that ends in a window, as eddy run does (its sinks, dead
letters and state included), and answer feature lookups from its latest
closed window per key, straight from the process (docs/serving.md):

  GET  /v1/features/NAME?key=V1&key=V2     one key, values in key-field order
  POST /v1/features/NAME:batchGet          {"keys": [["V1","V2"], …]}
  GET  /healthz, /readyz, /metrics, /openapi.json

/readyz answers 200 once the state is restored and the source has caught up
(a Kafka source: read to the end offsets as of the start; a file: read to
its end). After the end of a bounded input the final windows are served
until SIGINT or SIGTERM; either stops the run after its final checkpoint and
exits 0.

The serve: section of the spec sets listen, ttl, max_keys and the TLS files;
flags override it. The server binds to loopback; another --listen address
is refused unless a bearer token (--token or EDDY_SERVE_TOKEN) or mutual
TLS (--serve-tls-cert, --serve-tls-key, --client-ca) is given.

Exit status: 0 when stopped by a signal or after a bounded input, 1 on a
runtime failure, 2 on a bad spec or bad flags.`,
		Example: `  eddy gen clickstream --count 100000 > clicks.jsonl
  eddy serve examples/features-per-user.yaml --input clicks.jsonl &
  curl -s 'http://127.0.0.1:8080/v1/features/features-per-user?key=u42'`,
		Args: exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return runServe(c, args[0], f) },
	}
	fl := c.Flags()
	fl.StringVarP(&f.input, "input", "i", "", "read records from `PATH` (- for stdin) instead of source.file")
	fl.StringVar(&f.dlq, "dlq", "", "write dead letters to `PATH` instead of the spec's dlq")
	fl.BoolVar(&f.resetState, "reset-state", false, "discard the spec's state directory (state.dir) and start from the beginning")
	fl.StringVar(&f.listen, "listen", "", "serve on `HOST:PORT` (default serve.listen, else "+pipeline.DefaultServeListen+"; \":PORT\" is loopback)")
	fl.StringVar(&f.token, "token", "", "require `TOKEN` as a bearer token (default $EDDY_SERVE_TOKEN)")
	fl.StringVar(&f.tlsCert, "serve-tls-cert", "", "serve HTTPS with this certificate `PEM` (with --serve-tls-key)")
	fl.StringVar(&f.tlsKey, "serve-tls-key", "", "the certificate's private key `PEM`")
	fl.StringVar(&f.clientCA, "client-ca", "", "require client certificates signed by this CA bundle `PEM` (mutual TLS)")
	fl.DurationVar(&f.ttl, "ttl", 0, "stop answering a key not updated for this `DURATION` (default serve.ttl, else never)")
	fl.IntVar(&f.maxKeys, "max-keys", 0, "keep at most `N` keys, evicting the least recently updated (default serve.max_keys, else 1000000)")
	return c
}

// serveSettings merges the spec's serve section under the flags.
func serveSettings(c *cobra.Command, p *pipeline.Pipeline, f serveFlags) (serve.Listen, serve.TableOptions) {
	sv := pipeline.Serve{Listen: pipeline.DefaultServeListen, MaxKeys: pipeline.DefaultServeMaxKeys}
	if p.Serve != nil {
		sv = *p.Serve
	}
	set := func(flag string, dst *string, v string) {
		if c.Flags().Changed(flag) {
			*dst = v
		}
	}
	set("listen", &sv.Listen, f.listen)
	set("serve-tls-cert", &sv.TLSCert, f.tlsCert)
	set("serve-tls-key", &sv.TLSKey, f.tlsKey)
	set("client-ca", &sv.ClientCA, f.clientCA)
	if c.Flags().Changed("ttl") {
		sv.TTL = f.ttl
	}
	if c.Flags().Changed("max-keys") {
		sv.MaxKeys = f.maxKeys
	}
	token := f.token
	if !c.Flags().Changed("token") {
		token = os.Getenv("EDDY_SERVE_TOKEN")
	}
	return serve.Listen{Addr: sv.Listen, Token: token, TLSCert: sv.TLSCert, TLSKey: sv.TLSKey, ClientCA: sv.ClientCA},
		serve.TableOptions{MaxKeys: sv.MaxKeys, TTL: sv.TTL}
}

// serveProcsPerCore is how many Ps eddy serve runs with per P Go chose
// (the cores it may use), and serveGCPercent its GOGC (see runServe).
const (
	serveProcsPerCore = 2
	serveGCPercent    = 400
)

func runServe(c *cobra.Command, specPath string, f serveFlags) error {
	p, err := pipeline.Load(specPath)
	if err != nil {
		return usageError{err}
	}
	if p.Name == "" {
		return usagef("%s: eddy serve needs the pipeline's name: (lookups go to /v1/features/NAME)", specPath)
	}
	layout, err := sink.LayoutOf(p)
	if err != nil {
		return usagef("%s: eddy serve needs a pipeline that ends in a window", specPath)
	}
	listen, topts := serveSettings(c, p, f)
	if topts.MaxKeys <= 0 || topts.TTL < 0 {
		return usagef("--max-keys must be positive and --ttl not negative")
	}
	if _, err := listen.Check(); err != nil {
		return usageError{err}
	}
	// Lookups are network events: a goroutine the poller wakes waits for
	// a free P, and with every P running the pipeline's goroutines the
	// poller is next asked only at a scheduling point or by the runtime's
	// monitor, up to 10 ms later. More Ps than cores leave those waits to
	// the kernel's scheduler, which runs a woken thread within its slice
	// (BenchmarkServeLookups on 2 cores, GOMAXPROCS 2 → 8: lookup p99
	// 9.6–16.9 ms → 3.5–3.9 ms). But each P more is one more thread
	// spinning for work and a quarter more of the collector's dedicated
	// marking: twice the cores did better than four times (2 cores,
	// 12 interleaved pairs, 4 Ps against 8: p99 median 1.84 against
	// 1.97 ms, under 2 ms in 10 runs against 6; docs/performance.md). GOMAXPROCS in
	// the environment is kept.
	if os.Getenv("GOMAXPROCS") == "" {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(serveProcsPerCore * runtime.GOMAXPROCS(0)))
	}
	// A collection's marking takes a core's quarter and makes allocating
	// goroutines help, and a lookup that arrives meanwhile waits: the
	// lookup p99 is mostly collections (BenchmarkServeLookups: median p99
	// 3.2 ms at GOGC=100, 2.3 ms at 400, 2.0 ms with no collection). So
	// eddy serve collects a fifth as often, for a heap up to five times
	// the live data; GOGC (and GOMEMLIMIT, which caps the heap) in the
	// environment are kept.
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(serveGCPercent))
	}
	table := serve.NewTable(layout, topts)
	reg := prometheus.NewRegistry()
	var running atomic.Pointer[job.Job]
	var ended atomic.Pointer[error]
	ready := func() error {
		switch j := running.Load(); {
		case ended.Load() != nil:
			return fmt.Errorf("the run stopped: %v", *ended.Load())
		case j == nil:
			return errors.New("opening the pipeline and restoring its state")
		case !j.CaughtUp():
			return errors.New("catching up with the source")
		}
		return nil
	}
	h, err := serve.Handler(serve.Config{Pipeline: p.Name, Table: table, Registry: reg, Ready: ready, Token: listen.Token})
	if err != nil {
		return err
	}
	srv, err := serve.Start(h, listen)
	if err != nil {
		return err
	}
	defer srv.Shutdown(5 * time.Second)
	stderr := c.ErrOrStderr()
	fmt.Fprintf(stderr, "eddy: serving %s at %s/v1/features/%s\n", p.Name, srv.URL(), p.Name)
	ctx := c.Context()
	j, err := job.Open(ctx, p, job.Options{Input: f.input, DLQ: f.dlq, ResetState: f.resetState, Sinks: []sink.Sink{table}, Registry: reg,
		Stdin: c.InOrStdin(), Stdout: c.OutOrStdout(), Stderr: stderr, Kafka: func() (*kcfg.Config, error) { return kafkaConfig(c) },
		SchemaRegistry: func() (format.Config, format.Config) { return registryConfig(c) }})
	if err != nil {
		return jobError(err)
	}
	defer j.Close()
	if n := table.Len(); n > 0 { // restored with the checkpoint (sink.Stateful)
		fmt.Fprintf(stderr, "eddy: %d features restored with the checkpoint\n", n)
	}
	running.Store(j)
	_, err = j.Run(ctx)
	switch {
	case err == nil && ctx.Err() == nil:
		fmt.Fprintf(stderr, "eddy: end of input: serving the final windows until SIGINT or SIGTERM\n")
		<-ctx.Done()
		return nil
	case err == nil:
		return nil
	case errors.As(err, new(interrupted)):
		// stopped by a signal (after the final checkpoint): a normal end
		fmt.Fprintf(stderr, "eddy: %v\n", err)
		return nil
	}
	ended.Store(&err)
	return err
}
