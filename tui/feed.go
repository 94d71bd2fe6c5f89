package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/replay"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/value"
)

// FeedMsg is what a feed sends the UI at most [Refresh] times a second: the
// records, rows and dead letters since the last one (each capped, oldest
// dropped), the counters and, once the feed ends, Done and its error.
type FeedMsg struct {
	ID      int // the feed's id; messages of a replaced feed are ignored
	At      time.Time
	Records []source.Record
	Rows    []ResultRow
	Dead    []DeadItem
	Counts  map[DeadKey]int64 // dead letters by class and stage since the last message
	Stats   engine.Stats
	Dropped int64 // records not shown because more than TailCap arrived between refreshes
	Done    bool
	Err     error
}

// ResultRow is one result row, formatted.
type ResultRow struct {
	Names []string
	Cells []string
}

// DeadKey groups dead letters: the error class (see replay.Class) and the stage.
type DeadKey struct{ Class, Stage string }

// DeadItem is one dead letter, formatted.
type DeadItem struct {
	DeadKey
	Error, Origin, Value string
}

// hub is where the feed's goroutines leave data for the ticker.
type hub struct {
	mu      sync.Mutex
	recs    []source.Record
	rows    []ResultRow
	dead    []DeadItem
	counts  map[DeadKey]int64
	in      int64
	dropped int64
}

// keepLast appends xs to s and drops the oldest beyond limit.
func keepLast[T any](s []T, limit int, xs ...T) []T {
	s = append(s, xs...)
	if n := len(s) - limit; n > 0 {
		s = append(s[:0], s[n:]...)
	}
	return s
}

func (h *hub) addRecords(rs []source.Record) {
	skip := max(0, len(rs)-TailCap)
	cp := make([]source.Record, 0, len(rs)-skip)
	for _, r := range rs[skip:] {
		cp = append(cp, copyRecord(r))
	}
	h.mu.Lock()
	h.in += int64(len(rs))
	drop := int64(skip) + int64(max(0, len(h.recs)+len(cp)-TailCap))
	h.dropped += drop
	h.recs = keepLast(h.recs, TailCap, cp...)
	h.mu.Unlock()
}

// copyRecord copies a record out of its batch, whose bytes are reused.
func copyRecord(r source.Record) source.Record {
	r.Key = clone(r.Key)
	r.Value = clone(r.Value)
	if r.Headers != nil {
		hs := make([]source.Header, len(r.Headers))
		for i, x := range r.Headers {
			hs[i] = source.Header{Key: x.Key, Value: clone(x.Value)}
		}
		r.Headers = hs
	}
	return r
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

// Write is the engine's sink for result rows.
func (h *hub) Write(r *sink.Row) error {
	row := ResultRow{Names: append([]string{}, r.Names...), Cells: make([]string, len(r.Vals))}
	for i, v := range r.Vals {
		row.Cells[i] = cell(v)
	}
	h.mu.Lock()
	h.rows = keepLast(h.rows, ResultCap, row)
	h.mu.Unlock()
	return nil
}

// cell formats a value for a table: JSON, strings unquoted.
func cell(v value.Value) string {
	b := value.AppendJSON(nil, v)
	if len(b) >= 2 && b[0] == '"' {
		return string(b[1 : len(b)-1])
	}
	return string(b)
}

// WriteDead is the engine's dead-letter destination.
func (h *hub) WriteDead(d *sink.DeadLetter) error {
	stage := sink.StageLabel(d.StageIndex, d.StageKind)
	it := DeadItem{DeadKey: DeadKey{Class: replay.Class(d.StageKind, d.Error), Stage: stage},
		Error: d.Error, Value: value.Abbrev(string(d.Value), 200)}
	o := d.Origin
	if o.IsFile {
		it.Origin = fmt.Sprintf("%s:%d", o.File, o.Line)
	} else {
		it.Origin = fmt.Sprintf("%s/%d@%d", o.Topic, o.Partition, o.Offset)
	}
	h.mu.Lock()
	if h.counts == nil {
		h.counts = map[DeadKey]int64{}
	}
	h.counts[it.DeadKey]++
	h.dead = keepLast(h.dead, DeadCap, it)
	h.mu.Unlock()
	return nil
}

func (h *hub) Close() error { return nil }

// drain takes what arrived since the last call.
func (h *hub) drain(m *FeedMsg) {
	h.mu.Lock()
	m.Records, h.recs = h.recs, nil
	m.Rows, h.rows = h.rows, nil
	m.Dead, h.dead = h.dead, nil
	m.Counts, h.counts = h.counts, nil
	m.Dropped, h.dropped = h.dropped, 0
	m.Stats.In = h.in
	h.mu.Unlock()
}

// tee hands a copy of every batch's records to the hub on their way to the engine.
type tee struct {
	source.Source
	h *hub
}

func (t tee) Next(ctx context.Context) (*source.Batch, error) {
	b, err := t.Source.Next(ctx)
	if b != nil {
		t.h.addRecords(b.Records)
	}
	return b, err
}

// feed is one running source, with its pipeline when there is one.
type feed struct {
	id     int
	cancel context.CancelFunc
	ch     chan FeedMsg
}

// startFeed runs src (closing it at the end) and, with a plan, a fresh engine
// over it. The returned feed's channel is closed after the last message.
func startFeed(ctx context.Context, id int, src source.Source, plan *pipeline.Plan, logf func(string, ...any)) *feed {
	ctx, cancel := context.WithCancel(ctx)
	f := &feed{id: id, cancel: cancel, ch: make(chan FeedMsg)}
	h := &hub{}
	var (
		mu   sync.Mutex
		eng  *engine.Engine
		done bool
		ferr error
	)
	finish := func(err error) {
		mu.Lock()
		done, ferr = true, err
		mu.Unlock()
	}
	var startErr error
	if plan != nil {
		eng, startErr = engine.New(plan, engine.Options{Sinks: []sink.Sink{h}, Dead: h})
		if startErr != nil {
			startErr = fmt.Errorf("start pipeline: %w", startErr)
		}
	}
	go func() {
		var err error
		defer func() {
			if r := recover(); r != nil {
				logf("panic in feed: %v\n%s", r, debug.Stack())
				err = fmt.Errorf("feed panicked: %v", r)
			}
			_ = src.Close()
			if errors.Is(err, context.Canceled) || errors.Is(err, io.EOF) {
				err = nil
			}
			finish(err)
		}()
		if startErr != nil {
			err = startErr
			return
		}
		if eng != nil {
			err = engine.Run(ctx, tee{src, h}, eng)
			return
		}
		for {
			var b *source.Batch
			b, err = src.Next(ctx)
			if b != nil {
				h.addRecords(b.Records)
				src.Release(b)
			}
			if err != nil {
				return
			}
		}
	}()
	go func() {
		defer close(f.ch)
		defer func() {
			if r := recover(); r != nil {
				logf("panic in feed ticker: %v\n%s", r, debug.Stack())
			}
		}()
		t := time.NewTicker(time.Second / Refresh)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				m := FeedMsg{ID: id, At: now}
				mu.Lock()
				m.Done, m.Err = done, ferr
				mu.Unlock()
				h.drain(&m)
				if eng != nil && startErr == nil {
					m.Stats = eng.Stats()
				} else {
					m.Stats.Passed = m.Stats.In
				}
				select {
				case f.ch <- m:
				case <-ctx.Done():
					return
				}
				if m.Done {
					return
				}
			}
		}
	}()
	return f
}

// wait reads the feed's next message; the root re-arms it after each one.
func (f *feed) wait() tea.Cmd {
	ch := f.ch
	return func() tea.Msg {
		m, ok := <-ch
		if !ok {
			return nil
		}
		return m
	}
}
