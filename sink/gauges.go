package sink

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// WindowGauges is a sink that keeps the latest closed window of each key
// and exposes it as Prometheus gauges, one per aggregate
// (eddy_window_AGGREGATE, labels pipeline and the key fields). It holds at
// most MaxSeries series: the rows of a key beyond that are counted in
// eddy_window_series_overflow_total, not kept.
type WindowGauges struct {
	layout Layout
	max    int
	descs  []*prometheus.Desc
	over   *prometheus.Desc

	mu       sync.Mutex
	latest   map[string]*gaugeKey
	overflow int64
}

type gaugeKey struct {
	labels []string
	end    int64
	vals   []float64
	ok     []bool
}

// NewWindowGauges keeps at most maxSeries series of l's rows.
func NewWindowGauges(l Layout, maxSeries int) *WindowGauges {
	labels := make([]string, len(l.Keys))
	for i, k := range l.Keys {
		if labels[i] = promName(k); labels[i] == "pipeline" {
			labels[i] = "key_pipeline"
		}
	}
	g := &WindowGauges{layout: l, max: maxSeries, latest: map[string]*gaugeKey{}}
	constLabels := prometheus.Labels{"pipeline": l.Pipeline}
	for _, a := range l.Aggregates {
		g.descs = append(g.descs, prometheus.NewDesc("eddy_window_"+promName(a),
			"The latest closed window's "+a+" per key.", labels, constLabels))
	}
	g.over = prometheus.NewDesc("eddy_window_series_overflow_total",
		"Window rows not kept as gauges because the series cap was reached.", nil, constLabels)
	return g
}

// Write keeps r as its key's latest window unless a later window of the
// key is already kept.
func (g *WindowGauges) Write(r *Row) error {
	w, err := g.layout.read(r)
	if err != nil {
		return err
	}
	var kb []byte
	for _, k := range w.keys {
		kb = appendPlain(kb, k)
		kb = append(kb, 0)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	e := g.latest[string(kb)]
	if e == nil {
		if (len(g.latest)+1)*len(g.descs) > g.max {
			g.overflow++
			return nil
		}
		e = &gaugeKey{vals: make([]float64, len(w.aggs)), ok: make([]bool, len(w.aggs))}
		for _, k := range w.keys {
			e.labels = append(e.labels, string(appendPlain(nil, k)))
		}
		g.latest[string(kb)] = e
	} else if w.end < e.end {
		return nil
	}
	e.end = w.end
	for i, a := range w.aggs {
		e.vals[i], e.ok[i] = promValue(a)
	}
	return nil
}

// Close does nothing: the gauges stay readable until the run's server stops.
func (g *WindowGauges) Close() error { return nil }

// Describe is prometheus.Collector's.
func (g *WindowGauges) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range g.descs {
		ch <- d
	}
	ch <- g.over
}

// Collect is prometheus.Collector's.
func (g *WindowGauges) Collect(ch chan<- prometheus.Metric) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, e := range g.latest {
		for i, d := range g.descs {
			if !e.ok[i] {
				continue
			}
			if m, err := prometheus.NewConstMetric(d, prometheus.GaugeValue, e.vals[i], e.labels...); err == nil {
				ch <- m
			}
		}
	}
	ch <- prometheus.MustNewConstMetric(g.over, prometheus.CounterValue, float64(g.overflow))
}
