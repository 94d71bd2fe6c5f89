package sink

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang/snappy"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/value"
)

// Prometheus sends window rows to a Prometheus remote-write endpoint
// (protocol 1.0: a snappy-compressed protobuf WriteRequest). Each numeric
// aggregate of a row is one sample of the series PREFIX_AGGREGATE with the
// key fields and pipeline as labels, at window_end. Prometheus cannot
// replace a sample, and refuses one older than the series' newest: so per
// series the samples of a batch go in time order, a later revision of a
// window already sent is dropped (counted in Stale), and after a restart
// the samples the server already holds are refused by it and counted as
// stale, not failed.
//
// The WriteRequest is encoded here with protowire (five small messages of
// prompb's remote.proto) rather than importing the Prometheus module.
type Prometheus struct {
	url    string
	prefix string
	layout Layout
	names  []string // the metric name per aggregate
	labels []string // the label name per key field
	retry  Retry
	client *http.Client
	// series holds every series written, by identity, with its labels
	// and the newest timestamp sent (kept across batches: a row of a
	// series seen before allocates nothing); order is the batch's
	series map[string]*promSeries
	order  []*promSeries
	stale  int64
	body   []byte
	zipped []byte
	buf    []byte
	b      batcher
}

type promLabel struct{ name, value string }

type promSample struct {
	t int64
	v float64
}

type promSeries struct {
	id      string
	labels  []promLabel  // sorted by name
	samples []promSample // the batch's
	last    int64        // the newest timestamp sent, if sent
	sent    bool
}

// DefaultPrometheusBatch is the remote-write sink's rows per request.
const DefaultPrometheusBatch = 2000

// NewPrometheus makes the sink for t; it sends nothing until the first batch.
func NewPrometheus(ctx context.Context, t *pipeline.PrometheusTarget, o ServingOptions) (*Prometheus, error) {
	if !strings.HasPrefix(t.RemoteWrite, "http://") && !strings.HasPrefix(t.RemoteWrite, "https://") {
		return nil, fmt.Errorf("prometheus %s: want a URL like http://HOST:9090/api/v1/write", t.RemoteWrite)
	}
	prefix := t.Prefix
	if prefix == "" {
		prefix = o.Layout.Pipeline
	}
	s := &Prometheus{url: t.RemoteWrite, prefix: prefix, layout: o.Layout, retry: o.Retry,
		client: &http.Client{Timeout: 30 * time.Second}, series: map[string]*promSeries{}}
	if s.retry.Attempts == 0 {
		s.retry = DefaultRetry
	}
	for _, a := range o.Layout.Aggregates {
		s.names = append(s.names, promName(prefix+"_"+a))
	}
	for _, k := range o.Layout.Keys {
		n := promName(k)
		if n == "pipeline" || strings.HasPrefix(n, "__") {
			n = "exported_" + strings.TrimLeft(n, "_")
		}
		s.labels = append(s.labels, n)
	}
	batch := t.BatchRows
	if batch <= 0 {
		batch = DefaultPrometheusBatch
	}
	s.b.init(ctx, batch, o.Flush, s.send)
	return s, nil
}

// promName makes s a valid metric or label name: each character outside
// [a-zA-Z0-9_] becomes _, and a leading digit gets a _ before it.
func promName(s string) string {
	b := make([]byte, 0, len(s)+1)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case c >= '0' && c <= '9':
			if i == 0 {
				b = append(b, '_')
			}
		default:
			c = '_'
		}
		b = append(b, c)
	}
	if len(b) == 0 {
		return "_"
	}
	return string(b)
}

// promValue is v as a sample value; false for a value that is not a
// number (null, strings), which is left out.
func promValue(v value.Value) (float64, bool) {
	switch v.K {
	case value.Int, value.Time, value.Bool:
		return float64(v.I), true
	case value.Float:
		return v.F, !math.IsNaN(v.F)
	}
	return 0, false
}

// Write adds the row's samples to the batch, sending the batch when full.
func (s *Prometheus) Write(r *Row) error {
	w, err := s.layout.read(r)
	if err != nil {
		return fmt.Errorf("prometheus %s: %w", s.url, err)
	}
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if err := s.b.failed(); err != nil {
		return err
	}
	s.add(&w)
	return s.b.added()
}

func (s *Prometheus) add(w *window) {
	for i, v := range w.aggs {
		f, ok := promValue(v)
		if !ok {
			continue
		}
		b := append(s.buf[:0], s.names[i]...)
		for j, k := range w.keys {
			b = append(b, 0xff)
			b = append(b, s.labels[j]...)
			b = append(b, 0xfe)
			b = appendPlain(b, k)
		}
		s.buf = b
		se := s.series[string(b)]
		if se == nil {
			se = &promSeries{id: string(b), labels: s.labelsOf(i, w)}
			s.series[se.id] = se
		}
		if len(se.samples) == 0 {
			s.order = append(s.order, se)
		}
		se.samples = append(se.samples, promSample{w.end, f})
	}
}

func (s *Prometheus) labelsOf(agg int, w *window) []promLabel {
	l := []promLabel{{"__name__", s.names[agg]}, {"pipeline", s.layout.Pipeline}}
	for j, k := range w.keys {
		if v := string(appendPlain(nil, k)); v != "" { // an empty label is no label
			l = append(l, promLabel{s.labels[j], v})
		}
	}
	slices.SortFunc(l, func(a, b promLabel) int { return strings.Compare(a.name, b.name) })
	return l
}

// prepare puts each series' samples in time order, keeps the last written
// of equal timestamps (the newest revision) and drops the samples at or
// before what was sent already; it returns the series left.
func (s *Prometheus) prepare() []*promSeries {
	out := s.order[:0:0]
	for _, se := range s.order {
		slices.SortStableFunc(se.samples, func(a, b promSample) int { return cmp.Compare(a.t, b.t) })
		kept := se.samples[:0]
		for i, x := range se.samples {
			if i+1 < len(se.samples) && se.samples[i+1].t == x.t {
				s.stale++ // replaced by a later revision in the batch
				continue
			}
			if se.sent && x.t <= se.last {
				s.stale++
				continue
			}
			kept = append(kept, x)
		}
		se.samples = kept
		if len(kept) > 0 {
			out = append(out, se)
		}
	}
	return out
}

// appendWriteRequest encodes the series as a prompb.WriteRequest.
func appendWriteRequest(b []byte, series []*promSeries) []byte {
	var ts, msg []byte
	for _, se := range series {
		ts = ts[:0]
		for _, l := range se.labels {
			msg = protowire.AppendTag(msg[:0], 1, protowire.BytesType)
			msg = protowire.AppendString(msg, l.name)
			msg = protowire.AppendTag(msg, 2, protowire.BytesType)
			msg = protowire.AppendString(msg, l.value)
			ts = protowire.AppendTag(ts, 1, protowire.BytesType)
			ts = protowire.AppendBytes(ts, msg)
		}
		for _, x := range se.samples {
			msg = protowire.AppendTag(msg[:0], 1, protowire.Fixed64Type)
			msg = protowire.AppendFixed64(msg, math.Float64bits(x.v))
			msg = protowire.AppendTag(msg, 2, protowire.VarintType)
			msg = protowire.AppendVarint(msg, uint64(x.t))
			ts = protowire.AppendTag(ts, 2, protowire.BytesType)
			ts = protowire.AppendBytes(ts, msg)
		}
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, ts)
	}
	return b
}

func (s *Prometheus) send(ctx context.Context) error {
	series := s.prepare()
	if err := s.write(ctx, series); err != nil {
		if !promRefusedOld(err) {
			return fmt.Errorf("prometheus %s: write %d rows: %w", s.url, s.b.rows, err)
		}
		// the server holds newer samples of some series (a rerun after a
		// restart): send each series alone, and a refused series sample by
		// sample, counting the samples it refuses
		for _, se := range series {
			err := s.write(ctx, []*promSeries{se})
			if err == nil {
				continue
			}
			if !promRefusedOld(err) {
				return fmt.Errorf("prometheus %s: write %d rows: %w", s.url, s.b.rows, err)
			}
			for i := range se.samples {
				one := &promSeries{labels: se.labels, samples: se.samples[i : i+1]}
				if err := s.write(ctx, []*promSeries{one}); err != nil {
					if !promRefusedOld(err) {
						return fmt.Errorf("prometheus %s: write %d rows: %w", s.url, s.b.rows, err)
					}
					s.stale++
				}
			}
		}
	}
	for _, se := range series {
		se.last, se.sent = se.samples[len(se.samples)-1].t, true
	}
	for _, se := range s.order {
		se.samples = se.samples[:0]
	}
	s.order = s.order[:0]
	return nil
}

// promRefusedOld reports whether err is Prometheus refusing samples older
// than the newest it holds of their series (out of order, or a duplicate
// timestamp): a rerun resending what it has. A sample older than the
// server accepts at all ("out of bounds", "too old": before its head
// block, as windows of last month's data are) is not held anywhere, so it
// fails the run instead of being counted as stale.
func promRefusedOld(err error) bool {
	m := err.Error()
	return strings.Contains(m, "HTTP 400") && (strings.Contains(m, "out of order") ||
		strings.Contains(m, "duplicate sample"))
}

func (s *Prometheus) write(ctx context.Context, series []*promSeries) error {
	if len(series) == 0 {
		return nil
	}
	s.body = appendWriteRequest(s.body[:0], series)
	s.zipped = snappy.Encode(s.zipped[:cap(s.zipped)], s.body)
	return s.retry.do(ctx, &s.b.faults, func() error { return s.post(ctx) })
}

func (s *Prometheus) post(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(s.zipped))
	if err != nil {
		return errPermanent{err}
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	err = fmt.Errorf("HTTP %s: %s", resp.Status, strings.TrimSpace(string(body)))
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return err
	}
	return errPermanent{err}
}

// Stale counts the samples dropped as older than what the server holds:
// later revisions of windows already sent, and after a restart the
// samples the server had already.
func (s *Prometheus) Stale() int64 {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	return s.stale
}

// Flush sends the batch; after a nil error the server holds every sample.
func (s *Prometheus) Flush(context.Context) error { return s.b.flush() }

// Delivery counts the rows whose samples the server accepted (or held).
func (s *Prometheus) Delivery() Delivery { return s.b.delivery() }

// SendCounts counts the rows the server accepted, failed tries and retries.
func (s *Prometheus) SendCounts() SendCounts { return s.b.sendCounts() }

// Close sends the batch.
func (s *Prometheus) Close() error {
	err := s.b.flush()
	s.client.CloseIdleConnections()
	return err
}
