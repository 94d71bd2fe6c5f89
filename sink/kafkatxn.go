package sink

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// HeaderSink marks the rows of a transactional Kafka sink (NewKafkaTxn)
// with its transactional ID, so a restarted run can tell its own committed
// rows from other writers' when it counts what to skip.
const HeaderSink = "eddy.sink"

// txnState is the transactional part of a Kafka sink.
type txnState struct {
	id        string
	adm       *kadm.Client
	rows      int64           // rows in committed transactions
	pending   int64           // rows in the open transaction
	positions map[int32]int64 // the topic's end offsets after the commit of base rows
	base      int64           // this sink's rows committed up to positions
	skip      int64
	consume   []kgo.Opt // connection options for counting on resume
}

// NewKafkaTxn writes rows to topic in Kafka transactions through cl, a
// client made with kgo.TransactionalID(id): a transaction stays open
// between two calls of Sync (each checkpoint), which commits it. Readers
// with read_committed isolation see a row only once its checkpoint is
// durable or, after a crash between the commit and the checkpoint, the
// restarted run skips it (Resume). conn are connection options for the
// client Resume reads the topic with. Close aborts the open transaction
// and closes cl.
func NewKafkaTxn(ctx context.Context, cl *kgo.Client, topic, id string, conn []kgo.Opt) (*Kafka, error) {
	k := &Kafka{p: producer{cl: cl, topic: topic, owned: true}}
	k.txn = &txnState{id: id, adm: kadm.NewClient(cl), consume: conn}
	if err := k.txn.endOffsets(ctx, topic); err != nil {
		return nil, err
	}
	if err := cl.BeginTransaction(); err != nil {
		return nil, fmt.Errorf("kafka sink %s: begin a transaction: %w", topic, err)
	}
	return k, nil
}

func (t *txnState) endOffsets(ctx context.Context, topic string) error {
	ends, err := t.adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("kafka sink %s: list end offsets: %w", topic, err)
	}
	t.positions = map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { t.positions[o.Partition] = o.Offset })
	return nil
}

// Positions returns, per partition, the topic's end offsets after a
// commit, and base, the number of this sink's rows committed up to them
// (nil for a sink without transactions). With Progress they go into a
// checkpoint and back into Resume.
func (k *Kafka) Positions() (positions map[int32]int64, base int64) {
	if k.txn == nil {
		return nil, 0
	}
	return k.txn.positions, k.txn.base
}

// Progress returns the rows handed to the sink that are in committed
// transactions: while a restarted sink still skips rows committed before
// the restart, only those skipped so far count.
func (k *Kafka) Progress() int64 {
	if k.txn == nil {
		return k.p.acked()
	}
	return k.txn.rows - k.txn.skip
}

// Sync commits the open transaction (after waiting for every row of it to
// be acknowledged) and begins the next one.
func (k *Kafka) Sync() error {
	t := k.txn
	if t == nil {
		return k.Flush(context.Background())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := k.Flush(ctx); err != nil {
		return err
	}
	if err := k.p.cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return fmt.Errorf("kafka sink %s: commit the transaction: %w", k.p.topic, err)
	}
	t.rows += t.pending
	t.pending = 0
	if t.skip == 0 {
		// while skipping nothing new is produced: the positions of the
		// restart stay right, with their base
		if err := t.endOffsets(ctx, k.p.topic); err != nil {
			return err
		}
		t.base = t.rows
	}
	if err := k.p.cl.BeginTransaction(); err != nil {
		return fmt.Errorf("kafka sink %s: begin a transaction: %w", k.p.topic, err)
	}
	return nil
}

// Resume prepares a transactional sink for a run restarted from a
// checkpoint that recorded progress, positions and base (see Positions):
// it counts this sink's rows committed after positions, so base + that
// many are in the topic, and skips the rows beyond progress that the
// replay writes again (a crash came between a commit and its checkpoint).
func (k *Kafka) Resume(ctx context.Context, progress, base int64, positions map[int32]int64) error {
	t := k.txn
	if t == nil {
		return errors.New("kafka sink: Resume without transactions")
	}
	ends, err := t.adm.ListCommittedOffsets(ctx, k.p.topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("kafka sink %s: list committed offsets: %w", k.p.topic, err)
	}
	from := map[int32]kgo.Offset{}
	last := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		start, ok := positions[o.Partition]
		if !ok {
			start = 0
		}
		if start < o.Offset {
			from[o.Partition] = kgo.NewOffset().At(start)
			last[o.Partition] = o.Offset - 1
		}
	})
	var extra int64
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if len(from) > 0 {
		opts := append(append([]kgo.Opt{}, t.consume...),
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{k.p.topic: from}),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return fmt.Errorf("kafka sink %s: %w", k.p.topic, err)
		}
		defer cl.Close()
		for len(last) > 0 {
			fs := cl.PollFetches(ctx)
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("kafka sink %s: count rows committed after the checkpoint: %w", k.p.topic, err)
			}
			var ferr error
			fs.EachError(func(_ string, _ int32, err error) { ferr = err })
			if ferr != nil {
				return fmt.Errorf("kafka sink %s: count rows committed after the checkpoint: %w", k.p.topic, ferr)
			}
			fs.EachRecord(func(r *kgo.Record) {
				end, ok := last[r.Partition]
				if !ok {
					return
				}
				if !r.Attrs.IsControl() && r.Offset <= end && ownRecord(r, t.id) {
					extra++
				}
				if r.Offset >= end {
					delete(last, r.Partition)
				}
			})
		}
	}
	total := base + extra
	if total < progress {
		return fmt.Errorf("kafka sink %s: %d of this sink's rows are committed, fewer than the %d of the checkpoint: records were deleted since", k.p.topic, total, progress)
	}
	t.rows, t.skip = total, total-progress
	t.positions, t.base = positions, base
	return nil
}

func ownRecord(r *kgo.Record, id string) bool {
	for _, h := range r.Headers {
		if h.Key == HeaderSink {
			return string(h.Value) == id
		}
	}
	return false
}
