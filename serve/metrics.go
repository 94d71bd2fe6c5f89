package serve

import "github.com/prometheus/client_golang/prometheus"

// tableCollector exposes the feature table's size and what it let go.
type tableCollector struct {
	t        *Table
	pipeline string
}

var (
	tableKeys    = prometheus.NewDesc("eddy_serve_keys", "Keys the feature table holds.", []string{"pipeline"}, nil)
	tableMax     = prometheus.NewDesc("eddy_serve_max_keys", "Keys the feature table holds at most.", []string{"pipeline"}, nil)
	tableEvicted = prometheus.NewDesc("eddy_serve_evicted_total", "Keys dropped from the feature table to make room for new ones.", []string{"pipeline"}, nil)
	tableExpired = prometheus.NewDesc("eddy_serve_expired_total", "Keys dropped from the feature table after the TTL.", []string{"pipeline"}, nil)
	tableStale   = prometheus.NewDesc("eddy_serve_stale_rows_total", "Rows not kept because their key held a newer window or revision.", []string{"pipeline"}, nil)
)

func (c tableCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{tableKeys, tableMax, tableEvicted, tableExpired, tableStale} {
		ch <- d
	}
}

func (c tableCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(tableKeys, prometheus.GaugeValue, float64(c.t.Len()), c.pipeline)
	ch <- prometheus.MustNewConstMetric(tableMax, prometheus.GaugeValue, float64(c.t.MaxKeys()), c.pipeline)
	ch <- prometheus.MustNewConstMetric(tableEvicted, prometheus.CounterValue, float64(c.t.evicted.Load()), c.pipeline)
	ch <- prometheus.MustNewConstMetric(tableExpired, prometheus.CounterValue, float64(c.t.expired.Load()), c.pipeline)
	ch <- prometheus.MustNewConstMetric(tableStale, prometheus.CounterValue, float64(c.t.stale.Load()), c.pipeline)
}
