package serve

import (
	"cmp"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

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

// instrument counts a route's answers by status code and observes how
// long each took: what promhttp's InstrumentHandlerCounter and
// InstrumentHandlerDuration do, with the counters of the usual codes
// resolved once and a pooled writer, where those build a label map and
// a writer per request (a third of a lookup's garbage in
// BenchmarkServeLookups, docs/performance.md).
func instrument(reqs *prometheus.CounterVec, lat prometheus.Observer, route string, next http.Handler) http.Handler {
	codes := map[int]prometheus.Counter{}
	for _, c := range []int{200, 400, 401, 404, 405, 413, 500, 503} {
		codes[c] = reqs.WithLabelValues(route, strconv.Itoa(c))
	}
	pool := sync.Pool{New: func() any { return new(codeWriter) }}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		cw := pool.Get().(*codeWriter)
		cw.ResponseWriter, cw.code = w, 0
		next.ServeHTTP(cw, r)
		code := cmp.Or(cw.code, http.StatusOK)
		cw.ResponseWriter = nil
		pool.Put(cw)
		if c, ok := codes[code]; ok {
			c.Inc()
		} else {
			reqs.WithLabelValues(route, strconv.Itoa(code)).Inc()
		}
		lat.Observe(time.Since(start).Seconds())
	})
}

// codeWriter keeps the status code a handler answered with.
type codeWriter struct {
	http.ResponseWriter
	code int
}

func (w *codeWriter) WriteHeader(code int) {
	if w.code == 0 && code >= 200 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *codeWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *codeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
