package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/state"
)

// statsCollector exposes the engine's counters. It reads Engine.Stats, the
// copy the engine publishes once per batch, so a scrape never touches the
// per-record path.
type statsCollector struct {
	stats    func() engine.Stats
	pipeline string
	descs    [6]*prometheus.Desc
}

// metricNames are the counters a run exposes, in engine.Stats order.
var metricNames = [6][2]string{
	{"eddy_records_in_total", "Records read from the source."},
	{"eddy_records_passed_total", "Records that passed the filter into the window or the sinks."},
	{"eddy_records_filtered_total", "Records the filter dropped."},
	{"eddy_records_dead_total", "Records sent to the dead letters."},
	{"eddy_records_late_total", "Records dropped as later than the allowed lateness."},
	{"eddy_rows_total", "Result rows written to the sinks."},
}

func newStatsCollector(stats func() engine.Stats, pipeline string) *statsCollector {
	c := &statsCollector{stats: stats, pipeline: pipeline}
	for i, n := range metricNames {
		c.descs[i] = prometheus.NewDesc(n[0], n[1], nil, prometheus.Labels{"pipeline": pipeline})
	}
	return c
}

func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	for i, v := range [6]int64{s.In, s.Passed, s.Filtered, s.Dead, s.Late, s.Rows} {
		ch <- prometheus.MustNewConstMetric(c.descs[i], prometheus.CounterValue, float64(v))
	}
}

// checkpointCollector exposes a state section's checkpoints
// (state.Checkpointer.Metrics, atomics the checkpointer sets).
type checkpointCollector struct {
	cp                         *state.Checkpointer
	count, total, last, nbytes *prometheus.Desc
}

func newCheckpointCollector(cp *state.Checkpointer, pipeline string) *checkpointCollector {
	l := prometheus.Labels{"pipeline": pipeline}
	return &checkpointCollector{cp: cp,
		count:  prometheus.NewDesc("eddy_checkpoints_total", "Checkpoints taken.", nil, l),
		total:  prometheus.NewDesc("eddy_checkpoint_seconds_total", "Time the engine waited for checkpoints.", nil, l),
		last:   prometheus.NewDesc("eddy_checkpoint_last_seconds", "Time the engine waited for the last checkpoint.", nil, l),
		nbytes: prometheus.NewDesc("eddy_checkpoint_last_bytes", "The last checkpoint's window snapshot and redo rows, in bytes.", nil, l),
	}
}

func (c *checkpointCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.count
	ch <- c.total
	ch <- c.last
	ch <- c.nbytes
}

func (c *checkpointCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.cp.Metrics()
	ch <- prometheus.MustNewConstMetric(c.count, prometheus.CounterValue, float64(m.Count))
	ch <- prometheus.MustNewConstMetric(c.total, prometheus.CounterValue, m.Total.Seconds())
	ch <- prometheus.MustNewConstMetric(c.last, prometheus.GaugeValue, m.Last.Seconds())
	ch <- prometheus.MustNewConstMetric(c.nbytes, prometheus.GaugeValue, float64(m.LastBytes))
}

// metricsServer serves /metrics for one run.
type metricsServer struct {
	srv  *http.Server
	done chan error
}

// windowGauges is the sink behind Options.MetricsWindows.
func windowGauges(p *pipeline.Pipeline, o Options) (*sink.WindowGauges, error) {
	if o.Metrics == "" {
		return nil, specErr(errors.New("--metrics-windows needs --metrics ADDR"))
	}
	l, err := sink.LayoutOf(p)
	if err != nil {
		return nil, specErr(fmt.Errorf("--metrics-windows: %w", err))
	}
	max := o.MetricsMaxSeries
	if max == 0 {
		max = 10000
	}
	if max < 0 {
		return nil, specErr(fmt.Errorf("--metrics-max-series %d: want a positive number", max))
	}
	return sink.NewWindowGauges(l, max), nil
}

// ServeMetrics serves on addr, as eddy run --metrics does, what pub
// returns (the workbench's running pipeline, whose engine changes with
// each edit) for pipeline: the totals, the counts by stage, the rows of
// the engine's one sink (kind, the workbench's results), the watermark
// delays and the lag per partition that lag returns (nil: none); stop
// shuts the server down.
func ServeMetrics(addr string, w io.Writer, pipeline, kind string, pub func() engine.Published, lag func() map[source.Partition]int64) (stop func() error, err error) {
	rc := newRunCollector(pub, pipeline, []runSink{{kind: kind}}, nil)
	if lag != nil {
		rc.src = lagFunc(lag)
	}
	m, err := startMetrics(addr, w, newStatsCollector(func() engine.Stats { return pub().Stats }, pipeline), rc)
	if err != nil {
		return nil, err
	}
	return m.stop, nil
}

// lagFunc is a lagger of a function's answer.
type lagFunc func() map[source.Partition]int64

func (f lagFunc) PartitionLag() map[source.Partition]int64 { return f() }

// startMetrics listens on addr (loopback unless the host says otherwise,
// with a warning to w) and serves the run's counters at /metrics.
func startMetrics(addr string, w io.Writer, cs ...prometheus.Collector) (*metricsServer, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, specErr(fmt.Errorf("--metrics %s: want HOST:PORT or :PORT: %w", addr, err))
	}
	if host == "" {
		addr = net.JoinHostPort("127.0.0.1", addr[1:])
	} else if !loopback(host) {
		fmt.Fprintf(w, "eddy: warning: --metrics %s is not a loopback address: anyone who can reach it can read the run's metrics (no TLS, no authentication)\n", addr)
	}
	reg := prometheus.NewRegistry()
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	m := &metricsServer{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, done: make(chan error, 1)}
	go func() { m.done <- m.srv.Serve(ln) }()
	fmt.Fprintf(w, "eddy: metrics at http://%s/metrics\n", ln.Addr())
	return m, nil
}

// stop shuts the server down, letting a scrape in flight finish.
func (m *metricsServer) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := m.srv.Shutdown(ctx)
	if serr := <-m.done; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
