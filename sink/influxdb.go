package sink

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/value"
)

// InfluxDB writes each window row as one point in InfluxDB's line
// protocol, over HTTP: API v1 (/write?db=) or v2 (/api/v2/write?org=&bucket=
// with a token). The key fields are the tags (sorted by name; a null or
// empty value is left out), the aggregates the fields (integers with the i
// suffix, null and non-finite values left out), plus window_start (epoch
// ms) for a session window, whose start its end does not give, and for a
// point none of whose aggregates could be written (a point needs a
// field); the
// timestamp is window_end in milliseconds. A revision of a window is the
// same series and time, so InfluxDB keeps the last one written: rows
// arrive in revision order, and writing a row again changes nothing. The
// revision itself is not written: InfluxDB keeps every field as a series
// of its own, so each field costs the server as much as an aggregate
// (docs/design.md).
type InfluxDB struct {
	name        string // the server's URL, for messages
	endpoint    string
	token       string
	measurement string
	tags        []int // key indexes in tag-name order
	layout      Layout
	retry       Retry
	client      *http.Client
	cur         *influxBatch      // the batch being filled (b.mu held)
	free        chan *influxBatch // sent batches, for reuse
	b           batcher
}

// influxBatch is one request's points, sent in the background while the
// next fills (batcher.initAsync).
type influxBatch struct {
	lines   bytes.Buffer
	zipped  bytes.Buffer
	zw      *gzip.Writer
	rows    int
	revised bool // holds a late revision (revision > 0) of a point
}

// influxInFlight is how many batches the InfluxDB sink sends at once. The
// server parses and indexes concurrent requests in parallel, and a point
// is its series and time, so the order two batches land in changes
// nothing, except for a late revision, which waits (see Write).
const influxInFlight = 2

// DefaultInfluxBatch is the InfluxDB sink's points per request.
const DefaultInfluxBatch = 5000

// NewInfluxDB makes the sink for t; it sends nothing until the first batch.
func NewInfluxDB(ctx context.Context, t *pipeline.InfluxDBTarget, o ServingOptions) (*InfluxDB, error) {
	u, err := url.Parse(t.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("influxdb %s: want a URL like http://HOST:8086", t.URL)
	}
	q := url.Values{"precision": {"ms"}}
	if t.DB != "" {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/write"
		q.Set("db", t.DB)
	} else {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/api/v2/write"
		q.Set("org", t.Org)
		q.Set("bucket", t.Bucket)
	}
	u.RawQuery = q.Encode()
	s := &InfluxDB{name: t.URL, endpoint: u.String(), token: t.Token, measurement: t.Measurement,
		layout: o.Layout, retry: o.Retry, client: &http.Client{Timeout: 30 * time.Second}}
	if s.measurement == "" {
		s.measurement = o.Layout.Pipeline
	}
	if s.retry.Attempts == 0 {
		s.retry = DefaultRetry
	}
	for i := range o.Layout.Keys {
		s.tags = append(s.tags, i)
	}
	slices.SortStableFunc(s.tags, func(a, b int) int { return strings.Compare(o.Layout.Keys[a], o.Layout.Keys[b]) })
	s.free = make(chan *influxBatch, influxInFlight+1)
	s.cur = s.newBatch()
	batch := t.BatchRows
	if batch <= 0 {
		batch = DefaultInfluxBatch
	}
	every := o.Flush
	if t.Flush != "" {
		if every, err = time.ParseDuration(t.Flush); err != nil {
			return nil, fmt.Errorf("influxdb %s: flush: %w", t.URL, err)
		}
	}
	s.b.initAsync(ctx, batch, every, influxInFlight, s.cut)
	return s, nil
}

func (s *InfluxDB) newBatch() *influxBatch {
	select {
	case b := <-s.free:
		return b
	default:
	}
	b := &influxBatch{}
	b.zw, _ = gzip.NewWriterLevel(&b.zipped, gzip.BestSpeed) // the level is valid
	return b
}

// appendLine appends w as one line of line protocol, with its newline.
func (s *InfluxDB) appendLine(b []byte, w *window) []byte {
	b = appendEscaped(b, s.measurement, measurementEscapes)
	for _, i := range s.tags {
		v := w.keys[i]
		if v.IsNull() || (v.K == value.String && v.S == "") {
			continue
		}
		b = append(b, ',')
		b = appendEscaped(b, s.layout.Keys[i], tagEscapes)
		b = append(b, '=')
		b = appendEscaped(b, string(appendPlain(nil, v)), tagEscapes)
	}
	sep := byte(' ') // before the first field, then ','
	for i, v := range w.aggs {
		n := len(b)
		b = append(b, sep)
		b = appendEscaped(b, s.layout.Aggregates[i], tagEscapes)
		b = append(b, '=')
		if v.K == value.Int && !s.layout.count(i) {
			v = value.Value{K: value.Float, F: float64(v.I)} // one type per field: see Layout.Counts
		}
		var ok bool
		if b, ok = appendFieldValue(b, v); !ok {
			b = b[:n]
			continue
		}
		sep = ','
	}
	if s.layout.Session || sep == ' ' { // a point needs a field: every aggregate may be null
		b = append(b, sep)
		b = append(b, "window_start="...)
		b = strconv.AppendInt(b, w.start, 10)
		b = append(b, 'i')
	}
	b = append(b, ' ')
	b = strconv.AppendInt(b, w.end, 10)
	return append(b, '\n')
}

// The characters escaped with a backslash: in measurements, and in tag
// keys, tag values and field keys. A newline cannot be written in line
// protocol; it becomes the two characters \n.
const (
	measurementEscapes = ", "
	tagEscapes         = ",= "
)

func appendEscaped(b []byte, s, escapes string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\n':
			b = append(b, `\n`...)
			continue
		case strings.IndexByte(escapes, c) >= 0:
			b = append(b, '\\')
		}
		b = append(b, c)
	}
	return b
}

// appendFieldValue appends v as a field value; false for a value a field
// cannot hold (null, NaN, ±Inf), which is then left out.
func appendFieldValue(b []byte, v value.Value) ([]byte, bool) {
	switch v.K {
	case value.Int, value.Time:
		return append(strconv.AppendInt(b, v.I, 10), 'i'), true
	case value.Float:
		if math.IsNaN(v.F) || math.IsInf(v.F, 0) {
			return b, false
		}
		return strconv.AppendFloat(b, v.F, 'g', -1, 64), true
	case value.Bool:
		return strconv.AppendBool(b, v.I != 0), true
	case value.String, value.JSON:
		b = append(b, '"')
		for i := 0; i < len(v.S); i++ {
			switch c := v.S[i]; c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, `\n`...)
			default:
				b = append(b, c)
			}
		}
		return append(b, '"'), true
	}
	return b, false
}

// Write adds the row's point to the batch, sending the batch when full.
func (s *InfluxDB) Write(r *Row) error {
	w, err := s.layout.read(r)
	if err != nil {
		return fmt.Errorf("influxdb %s: %w", s.name, err)
	}
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if err := s.b.failed(); err != nil {
		return err
	}
	b := s.cur
	b.lines.Write(s.appendLine(b.lines.AvailableBuffer(), &w))
	b.rows++
	b.revised = b.revised || w.revision > 0
	return s.b.added()
}

// cut takes the full batch out of the sink for the batcher to send (b.mu
// held). A batch with a late revision is a barrier: it is sent only once
// every earlier batch, which may hold the revision it replaces, has been
// accepted.
func (s *InfluxDB) cut() (func(context.Context) error, bool) {
	b := s.cur
	s.cur = s.newBatch()
	return func(ctx context.Context) error {
		err := s.send(ctx, b)
		b.lines.Reset()
		b.rows, b.revised = 0, false
		select {
		case s.free <- b:
		default:
		}
		return err
	}, b.revised
}

func (s *InfluxDB) send(ctx context.Context, b *influxBatch) error {
	b.zipped.Reset()
	b.zw.Reset(&b.zipped)
	b.zw.Write(b.lines.Bytes())
	if err := b.zw.Close(); err != nil {
		return fmt.Errorf("influxdb %s: %w", s.name, err)
	}
	err := s.retry.do(ctx, &s.b.faults, func() error { return s.post(ctx, b) })
	if err != nil {
		return fmt.Errorf("influxdb %s: write %d points: %w", s.name, b.rows, err)
	}
	return nil
}

// post sends the zipped batch once: nil on 2xx, a retryable error on a
// failed connection, 5xx or 429, and a permanent one on another status.
func (s *InfluxDB) post(ctx context.Context, b *influxBatch) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint, bytes.NewReader(b.zipped.Bytes()))
	if err != nil {
		return errPermanent{err}
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	req.Header.Set("Content-Encoding", "gzip")
	if s.token != "" {
		req.Header.Set("Authorization", "Token "+s.token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return fmt.Errorf("HTTP %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return errPermanent{fmt.Errorf("HTTP %s: %s; %s", resp.Status, strings.TrimSpace(string(body)), rejectedLine(b.lines.Bytes(), string(body)))}
}

// rejectedLine names the first line of the batch the server's message
// quotes, or else the batch's first line.
func rejectedLine(lines []byte, msg string) string {
	first := ""
	for n, l := 1, lines; len(l) > 0; n++ {
		line, rest, _ := bytes.Cut(l, []byte{'\n'})
		l = rest
		if first == "" {
			first = string(line)
		}
		if len(line) > 0 && strings.Contains(msg, string(line)) {
			return fmt.Sprintf("rejected line %d of the batch: %s", n, line)
		}
	}
	return "the batch's first line: " + first
}

// Flush sends the batch; after a nil error the server holds every point.
func (s *InfluxDB) Flush(context.Context) error { return s.b.flush() }

// Delivery counts the rows the server accepted.
func (s *InfluxDB) Delivery() Delivery { return s.b.delivery() }

// SendCounts counts the rows the server accepted, failed tries and retries.
func (s *InfluxDB) SendCounts() SendCounts { return s.b.sendCounts() }

// Close sends the batch.
func (s *InfluxDB) Close() error {
	err := s.b.flush()
	s.client.CloseIdleConnections()
	return err
}
