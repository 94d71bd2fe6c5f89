package replay

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrNoTopic is returned (wrapped) when the dead-letter topic does not exist.
var ErrNoTopic = errors.New("topic does not exist")

// span is the part of a partition a run reads: [from, end).
type span struct{ from, end int64 }

// plan decides what of topic a run reads: per partition, from the group's
// committed offset (or the log start, without a group or commit) up to the
// last stable offset now. The last stable offset is the high watermark
// unless a transaction is open, and nothing beyond it can be read with
// read_committed anyway.
func plan(ctx context.Context, adm *kadm.Client, topic, group string) (map[int32]span, error) {
	tds, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("look up topic %q: %w", topic, err)
	}
	td, ok := tds[topic]
	if !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
		return nil, fmt.Errorf("%w: %q", ErrNoTopic, topic)
	}
	if td.Err != nil {
		return nil, fmt.Errorf("look up topic %q: %w", topic, td.Err)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("list start offsets of %q: %w", topic, err)
	}
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("list end offsets of %q: %w", topic, err)
	}
	var committed kadm.OffsetResponses
	if group != "" {
		// A group that never committed is not found (newer brokers) or
		// has no offsets (older ones): either way, start at the log start.
		committed, err = fetchOffsets(ctx, adm, group)
		if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
			return nil, fmt.Errorf("fetch offsets of group %q: %w", group, err)
		}
	}
	out := make(map[int32]span, len(td.Partitions))
	for p := range td.Partitions {
		lo, ok1 := starts.Lookup(topic, p)
		hi, ok2 := ends.Lookup(topic, p)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("list offsets of %q: partition %d is missing from the answer", topic, p)
		}
		from := lo.Offset
		if c, ok := committed.Lookup(topic, p); ok {
			switch {
			case errors.Is(c.Err, kerr.GroupIDNotFound):
			case c.Err != nil:
				return nil, fmt.Errorf("fetch offsets of group %q: %w", group, c.Err)
			default:
				from = max(from, c.At)
			}
		}
		out[p] = span{from: from, end: hi.Offset}
	}
	return out, nil
}

// remaining is the number of offsets left to read (an upper bound on the
// records: transaction markers take offsets too).
func remaining(spans map[int32]span) int64 {
	var n int64
	for _, s := range spans {
		n += max(s.end-s.from, 0)
	}
	return n
}

// readOpts are the consumer options every reader here needs: only committed
// records, and transaction markers kept so that a partition whose last
// offsets are markers is still seen to reach its end.
func readOpts() []kgo.Opt {
	return []kgo.Opt{kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords()}
}

// ScanOptions says where Scan starts.
type ScanOptions struct {
	// Group, when set, starts each partition at the group's committed offset
	// (where a replay with that group would start) instead of the log start.
	Group string
}

// Scan reads a dead-letter topic to the end it has when Scan starts and
// calls fn for each dead letter (records of aborted transactions and
// transaction markers are not dead letters), partition by partition in
// offset order as fetched. conn are the connection options; the letter is
// only valid during the call.
func Scan(ctx context.Context, conn []kgo.Opt, topic string, o ScanOptions, fn func(*Letter) error) error {
	cl, err := kgo.NewClient(append(slices.Clip(conn), readOpts()...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	spans, err := plan(ctx, kadm.NewClient(cl), topic, o.Group)
	if err != nil {
		return err
	}
	return scan(ctx, cl, topic, spans, func(rec *kgo.Record) error {
		if rec.Attrs.IsControl() {
			return nil
		}
		l := Decode(rec)
		return fn(&l)
	})
}

// scan reads the spans of topic through cl (made with readOpts) and calls
// fn for each record in range, transaction markers included.
func scan(ctx context.Context, cl *kgo.Client, topic string, spans map[int32]span, fn func(*kgo.Record) error) error {
	r := newRanger(topic, spans)
	if r.done() {
		return nil
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: r.offsets()})
	for !r.done() {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fetchErr(fs); err != nil {
			return err
		}
		for rec := range fs.RecordsAll() {
			if !r.take(rec) {
				continue
			}
			if err := fn(rec); err != nil {
				return err
			}
		}
		r.pauseDone(cl)
	}
	return nil
}

// fetchErr returns the first fetch error that should stop a read.
func fetchErr(fs kgo.Fetches) error {
	var ferr error
	fs.EachError(func(t string, p int32, err error) {
		var loss *kgo.ErrDataLoss
		switch {
		case ferr != nil, errors.As(err, &loss):
			// data loss: the client has moved on to what is left
		default:
			ferr = fmt.Errorf("read %s partition %d: %w", t, p, err)
		}
	})
	return ferr
}

// ranger tracks which partitions still have offsets to read before their
// end. It is owned by the goroutine that polls.
type ranger struct {
	topic   string
	spans   map[int32]span
	pending map[int32]bool
	paused  []int32 // reached their end since the last pauseDone
}

func newRanger(topic string, spans map[int32]span) *ranger {
	r := &ranger{topic: topic, spans: spans, pending: map[int32]bool{}}
	for p, s := range spans {
		if s.from < s.end {
			r.pending[p] = true
		}
	}
	return r
}

func (r *ranger) done() bool { return len(r.pending) == 0 }

// offsets are where to start the pending partitions.
func (r *ranger) offsets() map[int32]kgo.Offset {
	m := map[int32]kgo.Offset{}
	for p := range r.pending {
		m[p] = kgo.NewOffset().At(r.spans[p].from)
	}
	return m
}

// take reports whether rec is within its partition's range, and notes the
// partition done when rec is its last offset (or beyond: the offsets before
// were compacted, aborted or are markers).
func (r *ranger) take(rec *kgo.Record) bool {
	if !r.pending[rec.Partition] {
		return false
	}
	end := r.spans[rec.Partition].end
	if rec.Offset+1 >= end {
		delete(r.pending, rec.Partition)
		r.paused = append(r.paused, rec.Partition)
	}
	return rec.Offset < end
}

func (r *ranger) pauseDone(cl *kgo.Client) {
	if len(r.paused) > 0 {
		cl.PauseFetchPartitions(map[string][]int32{r.topic: r.paused})
		r.paused = r.paused[:0]
	}
}

// fetchOffsets fetches a group's committed offsets, retrying the errors a
// broker gives while its group coordinator is still starting (a fresh
// cluster creates __consumer_offsets on the first group request).
func fetchOffsets(ctx context.Context, adm *kadm.Client, group string) (kadm.OffsetResponses, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := adm.FetchOffsets(ctx, group)
		if err == nil {
			resp.Each(func(r kadm.OffsetResponse) {
				if err == nil && r.Err != nil && kerr.IsRetriable(r.Err) {
					err = r.Err
				}
			})
		}
		if err == nil || !kerr.IsRetriable(err) || time.Now().After(deadline) {
			return resp, err
		}
		select {
		case <-ctx.Done():
			return resp, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}
