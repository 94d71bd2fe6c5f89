package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/format"
	"github.com/eddyhq/eddy/internal/recprint"
	"github.com/eddyhq/eddy/source"
)

// tailer consumes and prints; it runs on the command's goroutine only.
type tailer struct {
	cl      *kgo.Client
	topic   string
	exit    bool
	stopMs  int64          // -o e@MS: end each partition at this time (-1: none)
	stopped map[int32]bool // partitions ended by stopMs
	limit   int
	match   *engine.Matcher
	ranges  map[int32]partRange
	pending map[int32]bool // -e: partitions not yet at their end
	out     *recprint.Printer
	stderr  io.Writer
	decode  func([]byte) ([]byte, error) // --value-format; nil: values as they are

	undecoded int
	decodeErr error
	fatal     error // the registry is unreachable: tail stops

	printed  int
	skipped  int
	firstErr error
	rec      source.Record
}

func (t *tailer) done() bool {
	return t.fatal != nil || (t.exit && len(t.pending) == 0) || (t.limit > 0 && t.printed >= t.limit) ||
		(t.stopMs >= 0 && len(t.stopped) == len(t.ranges))
}

func (t *tailer) run(ctx context.Context) error {
	for !t.done() {
		fs := t.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil // Ctrl-C ends a follow normally
		}
		var ferr error
		fs.EachError(func(topic string, p int32, err error) {
			var loss *kgo.ErrDataLoss
			switch {
			case ferr != nil, errors.Is(err, context.Canceled), errors.Is(err, kgo.ErrClientClosed):
			case errors.As(err, &loss):
				// The client has already moved on; say what was lost.
				fmt.Fprintf(t.stderr, "eddy: warning: %v\n", err)
			default:
				ferr = fmt.Errorf("read %s partition %d: %w", topic, p, err)
			}
		})
		if ferr != nil {
			return ferr
		}
		for r := range fs.RecordsAll() {
			if t.handle(r) {
				break
			}
		}
		if err := t.out.Flush(); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
	}
	return t.fatal
}

// handle prints one record if it is wanted and reports whether tail is done.
func (t *tailer) handle(r *kgo.Record) bool {
	if t.stopped[r.Partition] {
		return t.done() // fetched before the partition was paused
	}
	if t.stopMs >= 0 && r.Timestamp.UnixMilli() >= t.stopMs {
		t.stopped[r.Partition] = true
		delete(t.pending, r.Partition)
		t.cl.PauseFetchPartitions(map[string][]int32{t.topic: {r.Partition}})
		return t.done()
	}
	if t.exit {
		if !t.pending[r.Partition] {
			return t.done() // at its end already: newer records are not part of this run
		}
		end := t.ranges[r.Partition].end
		if r.Offset+1 >= end {
			delete(t.pending, r.Partition)
			t.cl.PauseFetchPartitions(map[string][]int32{t.topic: {r.Partition}})
		}
		if r.Offset >= end {
			return t.done() // end-1 is gone (compacted): this one is newer
		}
	}
	if r.Attrs.IsControl() {
		return t.done()
	}
	if t.decode != nil && r.Value != nil {
		if v, err := t.decode(r.Value); format.Fatal(err) {
			t.fatal = fmt.Errorf("decode %s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
			return true
		} else if err != nil {
			if t.undecoded == 0 {
				t.decodeErr = fmt.Errorf("%s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
			}
			t.undecoded++
		} else {
			r.Value = append([]byte(nil), v...)
		}
	}
	if t.match != nil {
		t.rec = source.Record{Key: r.Key, Value: r.Value, Topic: r.Topic, Partition: r.Partition,
			Offset: r.Offset, Timestamp: r.Timestamp.UnixMilli(), Headers: t.rec.Headers[:0]}
		for _, h := range r.Headers {
			t.rec.Headers = append(t.rec.Headers, source.Header{Key: h.Key, Value: h.Value})
		}
		ok, err := t.match.Match(&t.rec)
		if err != nil {
			if t.skipped == 0 {
				t.firstErr = err
			}
			t.skipped++
			return t.done()
		}
		if !ok {
			return t.done()
		}
	}
	t.out.Print(r)
	t.printed++
	return t.done()
}
