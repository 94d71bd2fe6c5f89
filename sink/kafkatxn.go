package sink

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// HeaderSink marks the rows of a transactional Kafka sink (NewKafkaTxn)
// with its transactional ID, so readers can tell eddy's rows from other
// writers'.
const HeaderSink = "eddy.sink"

// markerPrefix starts the offset-commit metadata that marks a committed
// transaction: "eddy checkpoint=<seq> rows=<rows>".
const markerPrefix = "eddy checkpoint="

// KafkaTxnOptions configures NewKafkaTxn.
type KafkaTxnOptions struct {
	// Group is the consumer group whose offsets each transaction commits,
	// with the marker in their metadata: the source's group, whose offsets
	// then always match the rows read_committed readers see; default the
	// transactional ID, a group of eddy's own that nobody consumes with.
	Group string
	// Redo keeps the open transaction's rows in memory for AppendRedo.
	// Default off.
	Redo bool
}

// txnState is the transactional part of a Kafka sink.
type txnState struct {
	id          string
	group       string
	adm         *kadm.Client
	rows        int64 // rows in committed transactions, as the marker counts them
	pending     int64 // rows in the open transaction
	seq0, rows0 int64 // the marker read when the sink opened
	redo        bool
	log         []byte // the open transaction's rows when redo is set
	ids         map[string]kadm.TopicID
}

var _ Redoer = (*Kafka)(nil)

// NewKafkaTxn writes rows to topic in Kafka transactions through cl, a
// client made with kgo.TransactionalID(id): a transaction stays open
// between two Commits (each checkpoint), and commits, in the same
// transaction, the offsets of o.Group with a marker of the checkpoint
// (its number and the sink's row count) in their metadata. Opening fences
// an earlier producer with the same ID, which aborts its open transaction,
// and reads the marker back (Committed). Close aborts the open transaction
// and closes cl.
func NewKafkaTxn(ctx context.Context, cl *kgo.Client, topic, id string, o KafkaTxnOptions) (*Kafka, error) {
	if o.Group == "" {
		o.Group = id
	}
	k := &Kafka{p: producer{cl: cl, topic: topic, owned: true, kind: kindSink}}
	t := &txnState{id: id, group: o.Group, adm: kadm.NewClient(cl), redo: o.Redo, ids: map[string]kadm.TopicID{}}
	k.txn = t
	if _, _, err := cl.ProducerID(ctx); err != nil {
		return nil, fmt.Errorf("kafka sink %s: initialize the transactional producer %s: %w", topic, id, err)
	}
	if err := t.readMarker(ctx); err != nil {
		return nil, fmt.Errorf("kafka sink %s: read the last commit's marker in group %s: %w", topic, t.group, err)
	}
	t.rows = t.rows0
	if err := cl.BeginTransaction(); err != nil {
		return nil, fmt.Errorf("kafka sink %s: begin a transaction: %w", topic, err)
	}
	return k, nil
}

// readMarker reads the marker of the last committed transaction, waiting
// (up to 2 minutes) for the abort of a fenced producer's transaction.
func (t *txnState) readMarker(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		resp, err := t.adm.FetchOffsets(kadm.RequireStable(ctx), t.group)
		if err == nil {
			err = resp.Error()
		}
		// a fresh cluster creates __consumer_offsets on the first group
		// request: the coordinator is briefly not available
		if errors.Is(err, kerr.UnstableOffsetCommit) || coordinatorBusy(err) {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
				continue
			}
		}
		if errors.Is(err, kerr.GroupIDNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		resp.Each(func(o kadm.OffsetResponse) {
			if seq, rows, ok := parseMarker(o.Metadata); ok && seq > t.seq0 {
				t.seq0, t.rows0 = seq, rows
			}
		})
		return nil
	}
}

func marker(seq, rows int64) string { return fmt.Sprintf("%s%d rows=%d", markerPrefix, seq, rows) }

func parseMarker(s string) (seq, rows int64, ok bool) {
	if !strings.HasPrefix(s, markerPrefix) {
		return 0, 0, false
	}
	_, err := fmt.Sscanf(s, markerPrefix+"%d rows=%d", &seq, &rows)
	return seq, rows, err == nil
}

// Rows returns the rows committed (counted since the sink's first
// checkpointed run) and those in the open transaction.
func (k *Kafka) Rows() int64 {
	if k.txn == nil {
		return k.p.acked()
	}
	return k.txn.rows + k.txn.pending
}

// Committed returns the marker read when the sink opened.
func (k *Kafka) Committed() (rows, seq int64) {
	if k.txn == nil {
		return 0, 0
	}
	return k.txn.rows0, k.txn.seq0
}

// Progress returns the rows acknowledged (without transactions) or
// committed.
func (k *Kafka) Progress() int64 {
	if k.txn == nil {
		return k.p.acked()
	}
	return k.txn.rows
}

// Commit waits for every row of the open transaction to be acknowledged,
// commits the offsets (the sink topic's partition 0 at 0 when nil) of
// the sink's group with the marker (Rows(), seq) in the transaction,
// commits it and begins the next. An empty transaction commits nothing:
// the marker stays, and its row count still matches (for the source's
// group the offsets are committed outside a transaction, so they follow
// the checkpoints).
func (k *Kafka) Commit(ctx context.Context, seq int64, offsets map[string]map[int32]int64) error {
	t := k.txn
	if t == nil {
		return errors.New("kafka sink: Commit without transactions")
	}
	if offsets == nil {
		offsets = map[string]map[int32]int64{k.p.topic: {0: 0}}
	}
	meta := marker(seq, t.rows+t.pending)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if t.pending == 0 {
		if t.group == t.id {
			return nil
		}
		if err := commitGroup(ctx, t.adm, t.group, offsets, meta); err != nil {
			return fmt.Errorf("kafka sink %s: %w", k.p.topic, err)
		}
		return nil
	}
	if err := k.Flush(ctx); err != nil {
		return err
	}
	if err := k.commitOffsets(ctx, offsets, meta); err != nil {
		return fmt.Errorf("kafka sink %s: commit the offsets of group %s in the transaction: %w", k.p.topic, t.group, err)
	}
	if err := k.p.cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return fmt.Errorf("kafka sink %s: commit the transaction: %w", k.p.topic, err)
	}
	t.rows += t.pending
	t.pending = 0
	t.log = t.log[:0]
	if err := k.p.cl.BeginTransaction(); err != nil {
		return fmt.Errorf("kafka sink %s: begin a transaction: %w", k.p.topic, err)
	}
	return nil
}

// commitGroup commits offsets for group outside a transaction, as a
// standalone committer (generation -1), which an empty group accepts.
func commitGroup(ctx context.Context, adm *kadm.Client, group string, offsets map[string]map[int32]int64, meta string) error {
	os := kadm.Offsets{}
	for topic, ps := range offsets {
		for p, at := range ps {
			os.Add(kadm.Offset{Topic: topic, Partition: p, At: at, LeaderEpoch: -1, Metadata: meta})
		}
	}
	var err error
	for {
		var resp kadm.OffsetResponses
		if resp, err = adm.CommitOffsets(ctx, group, os); err == nil {
			err = resp.Error()
		}
		if !coordinatorBusy(err) || ctx.Err() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("commit the offsets of group %s: %w", group, err)
	}
	return nil
}

// GroupOffsets commits a consumer group's offsets at each checkpoint,
// outside any transaction, with the checkpoint's marker in their metadata:
// for a source group when no Kafka sink commits them in its transaction.
// It holds no rows.
type GroupOffsets struct {
	Adm   *kadm.Client
	Group string
}

var _ Transactional = (*GroupOffsets)(nil)

// Rows returns 0.
func (g *GroupOffsets) Rows() int64 { return 0 }

// Committed returns 0, 0: there are no rows to count.
func (g *GroupOffsets) Committed() (rows, seq int64) { return 0, 0 }

// Commit commits offsets for the group (nothing when nil).
func (g *GroupOffsets) Commit(ctx context.Context, seq int64, offsets map[string]map[int32]int64) error {
	if len(offsets) == 0 {
		return nil
	}
	return commitGroup(ctx, g.Adm, g.Group, offsets, marker(seq, 0))
}

// commitOffsets adds the group to the open transaction and commits the
// offsets in it (AddOffsetsToTxn and TxnOffsetCommit, as a standalone
// producer: generation -1, no member, the way Kafka Streams and Flink
// commit offsets they track themselves). The transaction has produced
// rows, so EndTransaction will send its EndTxn.
func (k *Kafka) commitOffsets(ctx context.Context, offsets map[string]map[int32]int64, meta string) error {
	t := k.txn
	pid, epoch, err := k.p.cl.ProducerID(ctx)
	if err != nil {
		return err
	}
	add := kmsg.NewPtrAddOffsetsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch, add.Group = t.id, pid, epoch, t.group
	for {
		resp, err := add.RequestWith(ctx, k.p.cl)
		if err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		if (errors.Is(err, kerr.ConcurrentTransactions) || coordinatorBusy(err)) && ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if err != nil {
			return fmt.Errorf("add offsets to the transaction: %w", err)
		}
		break
	}
	if err := t.topicIDs(ctx, offsets); err != nil {
		return err
	}
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch, req.Generation = t.id, t.group, pid, epoch, -1
	for topic, ps := range offsets {
		rt := kmsg.NewTxnOffsetCommitRequestTopic()
		rt.Topic, rt.TopicID = topic, t.ids[topic]
		for p, at := range ps {
			rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = p, at, -1, &meta
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	for {
		resp, err := req.RequestWith(ctx, k.p.cl)
		if err != nil {
			return err
		}
		busy := false
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				err := kerr.ErrorForCode(rp.ErrorCode)
				if coordinatorBusy(err) && ctx.Err() == nil {
					busy = true
				} else if err != nil {
					return fmt.Errorf("%s/%d: %w", rt.Topic, rp.Partition, err)
				}
			}
		}
		if !busy {
			return nil
		}
		time.Sleep(50 * time.Millisecond) // the same offsets again: idempotent
	}
}

// coordinatorBusy reports an error a group or transaction coordinator gives
// while it starts or moves (a fresh cluster creates its internal topics on
// the first request): worth retrying.
func coordinatorBusy(err error) bool {
	return errors.Is(err, kerr.CoordinatorNotAvailable) || errors.Is(err, kerr.CoordinatorLoadInProgress) || errors.Is(err, kerr.NotCoordinator)
}

// topicIDs looks up the IDs of the topics of offsets (TxnOffsetCommit v6
// names topics by ID).
func (t *txnState) topicIDs(ctx context.Context, offsets map[string]map[int32]int64) error {
	var missing []string
	for topic := range offsets {
		if _, ok := t.ids[topic]; !ok {
			missing = append(missing, topic)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	td, err := t.adm.ListTopics(ctx, missing...)
	if err != nil {
		return fmt.Errorf("look up topics %v: %w", missing, err)
	}
	for _, topic := range missing {
		d, ok := td[topic]
		if !ok || d.Err != nil {
			return fmt.Errorf("topic %q is not in the sink's cluster", topic)
		}
		t.ids[topic] = d.ID
	}
	return nil
}

// AppendRedo appends the open transaction's rows (kept only with
// KafkaTxnOptions.Redo) to b.
func (k *Kafka) AppendRedo(b []byte) []byte {
	if k.txn == nil {
		return b
	}
	return append(b, k.txn.log...)
}

// logRow keeps r for AppendRedo: the key's length + 1 (0 for none), the
// key, the value's length and the value, as uvarints and bytes.
func (t *txnState) logRow(key, val []byte) {
	if key == nil {
		t.log = binary.AppendUvarint(t.log, 0)
	} else {
		t.log = binary.AppendUvarint(t.log, uint64(len(key))+1)
		t.log = append(t.log, key...)
	}
	t.log = binary.AppendUvarint(t.log, uint64(len(val)))
	t.log = append(t.log, val...)
}

// Redo writes the rows that AppendRedo encoded in the open transaction and
// commits them with seq: a restarted run does so when the crash came after
// the checkpoint was stored but before this sink committed it.
func (k *Kafka) Redo(ctx context.Context, rows []byte, seq int64, offsets map[string]map[int32]int64) error {
	for len(rows) > 0 {
		var r Row
		n, w := binary.Uvarint(rows)
		if w <= 0 || uint64(len(rows)-w) < max(n, 1)-1 {
			return fmt.Errorf("kafka sink %s: redo rows are damaged", k.p.topic)
		}
		rows = rows[w:]
		if n > 0 {
			r.Key, rows = rows[:n-1], rows[n-1:]
		}
		n, w = binary.Uvarint(rows)
		if w <= 0 || uint64(len(rows)-w) < n {
			return fmt.Errorf("kafka sink %s: redo rows are damaged", k.p.topic)
		}
		r.JSON, rows = rows[w:w+int(n)], rows[w+int(n):]
		if err := k.Write(&r); err != nil {
			return err
		}
	}
	return k.Commit(ctx, seq, offsets)
}
