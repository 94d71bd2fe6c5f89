// Package produce sends JSON lines to a Kafka topic as eddy produce does:
// read on a goroutine of their own (so an interrupt is noticed while a
// terminal blocks), checked, keyed by a field or a fixture's natural key,
// paced, and counted as the acknowledgements come.
package produce

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/decode"
	"github.com/eddyhq/eddy/internal/pace"
	"github.com/eddyhq/eddy/value"
)

// Producer sends records to Topic asynchronously and counts the
// acknowledgements. Promises run on the client's goroutines, so the
// counters are locked; read them (Acked) after Wait.
type Producer struct {
	Client *kgo.Client
	Topic  string
	// KeyDelim, when set, splits each line at its first occurrence, as
	// kcat -K does: the key before it, the value after it (a line without
	// it is all value, with no key). The Keyer is then not used.
	KeyDelim []byte
	// Headers go on every record (kcat -H).
	Headers []kgo.RecordHeader
	// Partition is the partition every record goes to (kcat -p; the
	// client needs kgo.ManualPartitioner); -1 lets the partitioner choose.
	Partition int32
	wg        sync.WaitGroup

	mu       sync.Mutex
	ok       int64
	failed   int64
	firstErr error
}

// Wait waits for the promise of every record produced; flush the client
// (or abort its buffered records) first.
func (p *Producer) Wait() { p.wg.Wait() }

// Acked returns the records acknowledged, those that failed and the first
// failure. Call it after Wait.
func (p *Producer) Acked() (ok, failed int64, first error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ok, p.failed, p.firstErr
}

func (p *Producer) promise(_ *kgo.Record, err error) {
	p.mu.Lock()
	if err != nil {
		if p.failed == 0 {
			p.firstErr = err
		}
		p.failed++
	} else {
		p.ok++
	}
	p.mu.Unlock()
	p.wg.Done()
}

// Lines produces every non-blank line of r until its end, ctx is done, or
// (strict) a line is not JSON; what names r in errors. recCtx is given to
// the records, key (nil: none) makes their keys, pacer spaces them.
func (p *Producer) Lines(ctx, recCtx context.Context, r io.Reader, what string, strict bool, key *Keyer, pacer *pace.Pacer) error {
	lines, stop := readLines(r)
	defer stop()
	for {
		var l line
		select {
		case <-ctx.Done():
			return ctx.Err()
		case l = <-lines:
		}
		switch {
		case l.err == io.EOF:
			return nil
		case l.err != nil:
			return fmt.Errorf("read %s: %w", what, l.err)
		}
		rec := &kgo.Record{Topic: p.Topic, Value: l.b, Headers: p.Headers, Partition: p.Partition}
		if p.KeyDelim != nil {
			if k, v, ok := bytes.Cut(l.b, p.KeyDelim); ok {
				rec.Key, rec.Value = k, v
			}
		} else {
			rec.Key = key.Key(l.b)
		}
		if strict && !decode.Valid(rec.Value) {
			var v json.RawMessage
			jerr := json.Unmarshal(rec.Value, &v)
			return fmt.Errorf("%s line %d: not valid JSON (--strict): %v", what, l.no, jerr)
		}
		if err := pacer.Wait(ctx); err != nil {
			return err
		}
		p.wg.Add(1)
		p.Client.Produce(recCtx, rec, p.promise)
	}
}

// line is one non-blank input line (no line end) and its 1-based number, or
// the error that ended the input (io.EOF at its end).
type line struct {
	b   []byte
	no  int
	err error
}

// readLines reads r on a goroutine of its own, so that Ctrl-C is noticed
// while a terminal's stdin blocks; stop ends the goroutine once its current
// read returns. Each line is a fresh slice, safe to hand to the producer.
func readLines(r io.Reader) (<-chan line, func()) {
	out := make(chan line, 256)
	done := make(chan struct{})
	go func() {
		br := bufio.NewReaderSize(r, 64<<10)
		send := func(l line) bool {
			select {
			case out <- l:
				return true
			case <-done:
				return false
			}
		}
		for no := 1; ; no++ {
			b, err := br.ReadBytes('\n')
			if b = bytes.TrimRight(b, "\r\n"); len(bytes.TrimSpace(b)) > 0 {
				if !send(line{b: b, no: no}) {
					return
				}
			}
			if err != nil {
				send(line{err: err})
				return
			}
		}
	}()
	return out, sync.OnceFunc(func() { close(done) })
}

// Keyer extracts a record key from a JSON line: the value of one top-level
// field, or a fixture's natural key.
type Keyer struct {
	plan  *decode.Plan
	out   []value.Value
	spans []decode.Span
	// pick chooses the slot holding the key (nexmark: by record type).
	pick func(out []value.Value) int
}

// NewKeyer returns nil (no keys) for "", else a Keyer for a field name or
// "natural:FIXTURE" (nexmark, clickstream, sensors, payments).
func NewKeyer(field string) *Keyer {
	if field == "" {
		return nil
	}
	paths := [][]string{{field}}
	pick := func([]value.Value) int { return 0 }
	if fixture, ok := strings.CutPrefix(field, "natural:"); ok {
		switch fixture {
		case "nexmark":
			paths = [][]string{{"type"}, {"auction"}, {"id"}}
			pick = func(out []value.Value) int {
				if out[0].K == value.String && out[0].S == "bid" {
					return 1
				}
				return 2
			}
		case "clickstream":
			paths = [][]string{{"user_id"}}
		case "sensors":
			paths = [][]string{{"device"}}
		case "payments":
			paths = [][]string{{"account"}}
		}
	}
	plan := decode.NewPlan(paths)
	return &Keyer{plan: plan, out: make([]value.Value, plan.Len()), spans: make([]decode.Span, plan.Len()), pick: pick}
}

// Key returns the key for line, or nil when it has none (also for a nil
// Keyer).
func (k *Keyer) Key(line []byte) []byte {
	if k == nil || k.plan.Decode(line, k.out, k.spans) != nil {
		return nil
	}
	i := k.pick(k.out)
	v, sp := k.out[i], k.spans[i]
	switch {
	case sp.Start < 0 || v.IsNull():
		return nil
	case v.K == value.String:
		return []byte(v.S)
	}
	return line[sp.Start:sp.End:sp.End]
}
