package sink

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/value"
	"github.com/eddyhq/eddy/windows"
)

// Layout is where the parts of a window row are, for the serving sinks
// (Redis, InfluxDB, Prometheus): the key fields' values first, then
// window_start, window_end, the revision when the pipeline allows late
// records, and the aggregates (the order of the engine's result rows).
type Layout struct {
	Pipeline   string
	Keys       []string
	Revision   bool
	Aggregates []string
	// Counts marks the aggregates that are always integers (count,
	// count_distinct); the others may be an integer in one row and a
	// float in the next (max over 3 and 2.5), so a store that fixes a
	// field's type (InfluxDB) writes them as floats.
	Counts []bool
	Size   time.Duration // the window's size (a session's gap): the Redis sink's default TTL is twice it
	// Session is true for a session window, whose start is not implied
	// by its end and size.
	Session bool
}

// LayoutOf is the layout of p's result rows; p must end in a window.
func LayoutOf(p *pipeline.Pipeline) (Layout, error) {
	if len(p.Stages) == 0 || p.Stages[len(p.Stages)-1].Kind != pipeline.Window {
		return Layout{}, errors.New("the redis, influxdb and prometheus sinks need a pipeline that ends in a window")
	}
	w := p.Stages[len(p.Stages)-1].Window
	l := Layout{Pipeline: p.Name, Keys: w.Key, Revision: p.Time.AllowedLateness > 0}
	for _, a := range w.Aggregates {
		l.Aggregates = append(l.Aggregates, a.Name)
		l.Counts = append(l.Counts, a.Func == windows.Count || a.Func == windows.CountDistinct)
	}
	size := w.Spec.Size
	if size == 0 {
		size, l.Session = w.Spec.Gap, true
	}
	l.Size = time.Duration(size) * time.Millisecond
	return l, nil
}

// count reports whether aggregate i is always an integer (Counts).
func (l Layout) count(i int) bool { return i < len(l.Counts) && l.Counts[i] }

// window is one row read through a Layout.
type window struct {
	keys       []value.Value
	start, end int64 // epoch ms
	revision   int64
	aggs       []value.Value
}

func (l *Layout) read(r *Row) (window, error) {
	k := len(l.Keys)
	n := k + 2 + len(l.Aggregates)
	if l.Revision {
		n++
	}
	if len(r.Vals) != n {
		return window{}, fmt.Errorf("a row of %d values, want %d (keys, window bounds, aggregates)", len(r.Vals), n)
	}
	w := window{keys: r.Vals[:k], start: r.Vals[k].I, end: r.Vals[k+1].I, aggs: r.Vals[n-len(l.Aggregates):]}
	if l.Revision {
		w.revision = r.Vals[k+2].I
	}
	return w, nil
}

// Parts splits r as the serving sinks read it: the key values, the window
// bounds (epoch ms), the revision (0 without allowed lateness) and the
// aggregate values; the slices alias r.Vals, so they must not be kept
// after Write returns.
func (l *Layout) Parts(r *Row) (keys []value.Value, start, end, revision int64, aggs []value.Value, err error) {
	w, err := l.read(r)
	return w.keys, w.start, w.end, w.revision, w.aggs, err
}

// AppendPlain appends v as the text the serving sinks name keys by
// (Redis keys, Prometheus labels, InfluxDB tags, eddy serve's lookups):
// strings as they are, numbers as JSON (1 and 1.0 alike), times as
// RFC 3339 UTC, null as nothing.
func AppendPlain(b []byte, v value.Value) []byte { return appendPlain(b, v) }

// appendPlain appends v as text without JSON quoting: strings as they are,
// times as RFC 3339 UTC, null as nothing.
func appendPlain(b []byte, v value.Value) []byte {
	switch v.K {
	case value.Null:
		return b
	case value.String, value.JSON:
		return append(b, v.S...)
	case value.Time:
		return value.AppendTime(b, v.I)
	case value.Float:
		return strconv.AppendFloat(b, v.F, 'g', -1, 64)
	}
	return value.AppendJSON(b, v)
}

// Retry bounds the attempts of a serving sink's batch: after a failure it
// waits Base, doubling up to Max, and gives up after Attempts tries.
type Retry struct {
	Attempts  int
	Base, Max time.Duration
}

// DefaultRetry is the serving sinks' retry policy: 6 tries over about 10 s.
var DefaultRetry = Retry{Attempts: 6, Base: 200 * time.Millisecond, Max: 5 * time.Second}

// errPermanent marks an error that retrying cannot fix (a 4xx).
type errPermanent struct{ error }

func (e errPermanent) Unwrap() error { return e.error }

// SendCounts is what a serving sink counts of its requests to its
// server: the rows it accepted, the tries that failed and the retries
// (each try after the first).
type SendCounts struct {
	Written, Errors, Retries int64
}

// SendCounter is a sink that counts its requests (the serving sinks);
// SendCounts is safe to call from any goroutine and never waits for a
// request in flight.
type SendCounter interface {
	SendCounts() SendCounts
}

// faults counts failed tries and retries.
type faults struct{ errors, retries atomic.Int64 }

// do runs f until it succeeds, fails permanently, the attempts run out or
// ctx ends; the error is the last one, with the number of tries. Every
// failed try is counted in c's errors and every try after the first in
// its retries.
func (r Retry) do(ctx context.Context, c *faults, f func() error) error {
	wait := r.Base
	for try := 1; ; try++ {
		if try > 1 {
			c.retries.Add(1)
		}
		err := f()
		if err != nil {
			c.errors.Add(1)
		}
		var perm errPermanent
		switch {
		case err == nil:
			return nil
		case errors.As(err, &perm):
			return perm.error
		case try >= r.Attempts:
			if try > 1 {
				return fmt.Errorf("%w (gave up after %d tries)", err, try)
			}
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (stopped retrying: %w)", err, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, r.Max)
	}
}

// ServingOptions configures a serving sink.
type ServingOptions struct {
	Layout Layout
	Retry  Retry         // zero: DefaultRetry
	Flush  time.Duration // a partial batch is sent once its first row is this old; 0: DefaultFlush
}

// DefaultFlush is how long a serving sink's partial batch waits at most.
const DefaultFlush = time.Second

// batcher holds the rows a serving sink buffered and sends them when the
// batch is full, when its first row has waited ServingOptions.Flush, on
// Flush and on Close. A failed send is kept and returned by every later
// call: the sink acknowledges only what its server accepted.
//
// A sink made with initAsync sends a batch in the background while it
// fills the next, with at most depth batches in flight: Flush (and so a
// checkpoint) waits for all of them. Only a sink whose server gives the
// same result whatever order concurrent batches land in may use it, and
// a batch its cut marks as a barrier starts only once every earlier one
// has been accepted (InfluxDB: a late revision of a point must land after
// the point).
type batcher struct {
	mu      sync.Mutex
	ctx     context.Context
	max     int
	every   time.Duration
	timer   *time.Timer
	rows    int // rows in the batch
	sendFn  func(ctx context.Context) error
	err     error
	written atomic.Int64 // rows accepted by the server (read by metrics without mu)
	total   int64        // rows given to Write
	faults  faults

	cut      func() (send func(context.Context) error, barrier bool) // initAsync: takes the batch
	slots    chan struct{}                                           // one per batch in flight
	inflight sync.WaitGroup
	asyncMu  sync.Mutex
	asyncErr error // the first failed background send
}

func (b *batcher) init(ctx context.Context, max int, every time.Duration, send func(context.Context) error) {
	if every <= 0 {
		every = DefaultFlush
	}
	b.ctx, b.max, b.every, b.sendFn = ctx, max, every, send
}

// initAsync is init for a sink that sends up to depth batches at once:
// cut (called with b.mu held) takes the batch out of the sink and returns
// the function that sends it, called without b.mu.
func (b *batcher) initAsync(ctx context.Context, max int, every time.Duration, depth int, cut func() (func(context.Context) error, bool)) {
	b.init(ctx, max, every, nil)
	b.cut, b.slots = cut, make(chan struct{}, depth)
}

// failed is the error that stopped the sink, if any (b.mu held).
func (b *batcher) failed() error {
	if b.err == nil && b.cut != nil {
		b.asyncMu.Lock()
		b.err = b.asyncErr
		b.asyncMu.Unlock()
	}
	return b.err
}

// added counts a row the sink put into its batch (b.mu held) and sends the
// batch when it is full.
func (b *batcher) added() error {
	b.rows++
	b.total++
	if b.rows >= b.max {
		return b.sendLocked()
	}
	if b.rows == 1 && b.every > 0 {
		if b.timer == nil {
			b.timer = time.AfterFunc(b.every, b.tick)
		} else {
			b.timer.Reset(b.every)
		}
	}
	return nil
}

func (b *batcher) tick() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failed() == nil && b.rows > 0 {
		_ = b.sendLocked() // kept in b.err
	}
}

func (b *batcher) sendLocked() error {
	if err := b.failed(); err != nil {
		return err
	}
	if b.timer != nil {
		b.timer.Stop()
	}
	if b.rows == 0 {
		return nil
	}
	if b.cut != nil {
		b.start()
		return nil
	}
	if err := b.sendFn(b.ctx); err != nil {
		b.err = err
		return err
	}
	b.written.Add(int64(b.rows))
	b.rows = 0
	return nil
}

// start sends the batch in the background once a slot is free (b.mu
// held); a barrier waits for every batch in flight first.
func (b *batcher) start() {
	send, barrier := b.cut()
	rows := int64(b.rows)
	b.rows = 0
	if barrier {
		b.inflight.Wait()
		if b.failed() != nil {
			return // an earlier batch failed: the sink has stopped
		}
	}
	b.slots <- struct{}{}
	b.inflight.Add(1)
	go func() {
		defer b.inflight.Done()
		err := send(b.ctx)
		if err == nil {
			b.written.Add(rows)
		} else {
			b.asyncMu.Lock()
			if b.asyncErr == nil {
				b.asyncErr = err
			}
			b.asyncMu.Unlock()
		}
		<-b.slots
	}()
}

// flush sends the batch and waits until the server accepted every batch
// or one failed.
func (b *batcher) flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	err := b.sendLocked()
	if b.cut != nil {
		b.inflight.Wait()
		err = b.failed()
	}
	return err
}

func (b *batcher) sendCounts() SendCounts {
	return SendCounts{Written: b.written.Load(), Errors: b.faults.errors.Load(), Retries: b.faults.retries.Load()}
}

func (b *batcher) delivery() Delivery {
	b.mu.Lock()
	defer b.mu.Unlock()
	return Delivery{Written: b.written.Load(), Total: b.total}
}

// OpenServing opens the serving sink t names (redis, influxdb or
// prometheus) for the rows of p, which must end in a window.
func OpenServing(ctx context.Context, t pipeline.Target, p *pipeline.Pipeline) (Sink, error) {
	l, err := LayoutOf(p)
	if err != nil {
		return nil, err
	}
	o := ServingOptions{Layout: l}
	switch {
	case t.Redis != nil:
		s, err := NewRedis(ctx, t.Redis, o)
		if err != nil {
			return nil, err
		}
		return s, nil
	case t.InfluxDB != nil:
		s, err := NewInfluxDB(ctx, t.InfluxDB, o)
		if err != nil {
			return nil, err
		}
		return s, nil
	case t.Prometheus != nil:
		s, err := NewPrometheus(ctx, t.Prometheus, o)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	return nil, errors.New("not a redis, influxdb or prometheus sink")
}
