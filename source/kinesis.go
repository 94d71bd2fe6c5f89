package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/eddyhq/eddy/startpos"
)

// KinesisOptions says what a Kinesis source reads.
type KinesisOptions struct {
	Stream string
	// Start is where reading starts (ParseKinesisStart): trim_horizon
	// (default), latest, at_timestamp:RFC3339|-15m or at_sequence:SEQ.
	Start string
	// Stop: none (default: follow) | caught-up (a shard ends when a read
	// finds nothing more and the shard is not behind its latest record).
	Stop string
	// Resume, when set (from a checkpoint), gives per shard where a
	// restarted run carries on; the shards it does not name start at
	// trim_horizon when their parents are in it, else at Start.
	Resume map[Partition]KinesisResume
	Now    func() time.Time // default time.Now
	// Poll is the pause after a read that found nothing (default 250ms;
	// Kinesis allows five reads a second per shard).
	Poll time.Duration
	// Limit is the most records a read returns (default 10000, Kinesis's
	// maximum).
	Limit int32
}

// KinesisResume is a shard's position in a checkpoint.
type KinesisResume struct {
	After string // the sequence number of the last record handled; "" none
	Done  bool   // read to its end (a closed shard) or caught up
}

// KinesisStart is a parsed start position.
type KinesisStart struct {
	Type types.ShardIteratorType
	At   time.Time // AT_TIMESTAMP
	Seq  string    // AT_SEQUENCE_NUMBER
}

// KinesisStartForms lists the start positions, for error messages.
const KinesisStartForms = "trim_horizon, latest, at_timestamp:RFC3339, at_timestamp:-15m or at_sequence:SEQUENCE"

// ParseKinesisStart parses a start position; relative times are from now.
func ParseKinesisStart(s string, now time.Time) (KinesisStart, error) {
	switch {
	case s == "" || s == "trim_horizon":
		return KinesisStart{Type: types.ShardIteratorTypeTrimHorizon}, nil
	case s == "latest":
		return KinesisStart{Type: types.ShardIteratorTypeLatest}, nil
	case strings.HasPrefix(s, "at_timestamp:"):
		ms, err := startpos.TimeMillis(strings.TrimPrefix(s, "at_timestamp:"), now)
		if err != nil {
			return KinesisStart{}, fmt.Errorf("invalid start %q: %w", s, err)
		}
		return KinesisStart{Type: types.ShardIteratorTypeAtTimestamp, At: time.UnixMilli(ms).UTC()}, nil
	case strings.HasPrefix(s, "at_sequence:"):
		seq := strings.TrimPrefix(s, "at_sequence:")
		if _, ok := new(big.Int).SetString(seq, 10); !ok || seq == "" || seq[0] == '-' || seq[0] == '+' {
			return KinesisStart{}, fmt.Errorf("invalid start %q: the sequence number is not a decimal number", s)
		}
		return KinesisStart{Type: types.ShardIteratorTypeAtSequenceNumber, Seq: seq}, nil
	}
	return KinesisStart{}, fmt.Errorf("invalid start %q (%s)", s, KinesisStartForms)
}

// ShardNumber is the number of a shard ID (shardId-000000000003 is 3),
// the partition number eddy gives the shard.
func ShardNumber(id string) (int32, error) {
	digits, ok := strings.CutPrefix(id, "shardId-")
	n, err := strconv.ParseInt(digits, 10, 32)
	if !ok || err != nil || n < 0 {
		return 0, fmt.Errorf("shard %q: not a shard ID of the form shardId-NNNNNNNNNNNN", id)
	}
	return int32(n), nil
}

// kshard is a shard of the stream as listed.
type kshard struct {
	id       string
	num      int32
	parents  []string
	startSeq string
	endSeq   string // "" while the shard is open
}

// kread is what a shard's reader hands Next: records, or the shard's end.
type kread struct {
	shard   *kshard
	records []types.Record
	end     bool // closed and read to its end, or caught up (stop)
	err     error
}

// Kinesis reads a Kinesis data stream with the AWS SDK. Each shard is a
// partition (Topic the stream, Partition the shard's number, Seq the
// sequence number); one goroutine per shard being read calls GetRecords
// and hands the results to Next, which owns the shard bookkeeping: a
// shard closed by a reshard is read to its end before its children
// start (Batch.Finished, Batch.Added).
type Kinesis struct {
	cl    *kinesis.Client
	o     KinesisOptions
	start KinesisStart

	ctx    context.Context // the readers' context, cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	ch     chan kread

	// owned by Next
	shards  map[string]*kshard
	done    map[string]bool // nothing (more) to read
	ended   map[string]bool // read to the end (in this run or before the checkpoint)
	reading map[string]bool
	free    batchPool
	closed  bool

	mu    sync.Mutex
	parts []Partition // shards read (at the start and added), for Partitions
}

// OpenKinesis lists the stream's shards and starts reading those whose
// parents are read (or were before the start position).
func OpenKinesis(ctx context.Context, cl *kinesis.Client, o KinesisOptions) (*Kinesis, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Stop == "" {
		o.Stop = "none"
	}
	if o.Stop != "none" && o.Stop != "caught-up" {
		return nil, fmt.Errorf("kinesis source: invalid stop %q (none or caught-up)", o.Stop)
	}
	if o.Poll <= 0 {
		o.Poll = 250 * time.Millisecond
	}
	if o.Limit <= 0 {
		o.Limit = 10000
	}
	if o.Stream == "" {
		return nil, errors.New("kinesis source: no stream")
	}
	start, err := ParseKinesisStart(o.Start, o.Now())
	if err != nil {
		return nil, fmt.Errorf("kinesis source: %w", err)
	}
	k := &Kinesis{cl: cl, o: o, start: start, ch: make(chan kread, 4),
		shards: map[string]*kshard{}, done: map[string]bool{}, ended: map[string]bool{}, reading: map[string]bool{}}
	k.ctx, k.cancel = context.WithCancel(context.Background())
	if err := k.list(ctx); err != nil {
		k.cancel()
		return nil, err
	}
	if len(k.shards) == 0 {
		k.cancel()
		return nil, fmt.Errorf("kinesis stream %q has no shards", o.Stream)
	}
	k.skipBefore()
	for _, s := range k.sorted() {
		if k.o.Resume != nil {
			// a shard that was caught up (stop) may have more now
			if r, ok := k.o.Resume[k.part(s)]; ok && r.Done && s.endSeq != "" {
				k.done[s.id], k.ended[s.id] = true, true
			}
		}
	}
	k.startReady(nil)
	return k, nil
}

// list reads the stream's shards (all of them, closed ones included).
func (k *Kinesis) list(ctx context.Context) error {
	in := &kinesis.ListShardsInput{StreamName: aws.String(k.o.Stream)}
	for {
		out, err := k.cl.ListShards(ctx, in)
		if err != nil {
			var nf *types.ResourceNotFoundException
			if errors.As(err, &nf) {
				return fmt.Errorf("kinesis stream %q not found", k.o.Stream)
			}
			return fmt.Errorf("kinesis stream %q: list shards: %w", k.o.Stream, err)
		}
		for _, sh := range out.Shards {
			id := aws.ToString(sh.ShardId)
			if k.shards[id] != nil {
				if sh.SequenceNumberRange != nil && sh.SequenceNumberRange.EndingSequenceNumber != nil {
					k.shards[id].endSeq = *sh.SequenceNumberRange.EndingSequenceNumber
				}
				continue
			}
			num, err := ShardNumber(id)
			if err != nil {
				return fmt.Errorf("kinesis stream %q: %w", k.o.Stream, err)
			}
			s := &kshard{id: id, num: num}
			for _, p := range []*string{sh.ParentShardId, sh.AdjacentParentShardId} {
				if p != nil && *p != "" {
					s.parents = append(s.parents, *p)
				}
			}
			if r := sh.SequenceNumberRange; r != nil {
				s.startSeq = aws.ToString(r.StartingSequenceNumber)
				s.endSeq = aws.ToString(r.EndingSequenceNumber)
			}
			k.shards[id] = s
		}
		if out.NextToken == nil {
			return nil
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
}

func (k *Kinesis) sorted() []*kshard {
	out := make([]*kshard, 0, len(k.shards))
	for _, s := range k.shards {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *kshard) int { return int(a.num - b.num) })
	return out
}

func (k *Kinesis) part(s *kshard) Partition { return Partition{Topic: k.o.Stream, Partition: s.num} }

// skipBefore marks done, on a fresh start, the shards that hold nothing
// at or after the start position: closed shards for latest, and for
// at_sequence the closed shards that end before the sequence number.
// Their children then start as the lineage requires.
func (k *Kinesis) skipBefore() {
	if k.o.Resume != nil {
		return
	}
	var seq *big.Int
	if k.start.Type == types.ShardIteratorTypeAtSequenceNumber {
		seq, _ = new(big.Int).SetString(k.start.Seq, 10)
	}
	for _, s := range k.shards {
		if s.endSeq == "" {
			continue
		}
		switch {
		case k.start.Type == types.ShardIteratorTypeLatest:
			k.done[s.id] = true
		case seq != nil:
			if end, ok := new(big.Int).SetString(s.endSeq, 10); ok && end.Cmp(seq) < 0 {
				k.done[s.id] = true
			}
		}
	}
}

// startReady starts a reader on each shard not done nor read whose
// parents are done (or unknown: past the stream's retention), and adds
// the shards started to added when it is not nil.
func (k *Kinesis) startReady(added map[Partition]int64) {
	for _, s := range k.sorted() {
		if k.done[s.id] || k.reading[s.id] {
			continue
		}
		ready := true
		child := false
		for _, p := range s.parents {
			if k.shards[p] != nil {
				child = child || k.ended[p]
				if !k.done[p] {
					ready = false
				}
			}
		}
		if !ready {
			continue
		}
		in := k.iteratorInput(s, child)
		k.reading[s.id] = true
		k.mu.Lock()
		k.parts = append(k.parts, k.part(s))
		k.mu.Unlock()
		if added != nil {
			added[k.part(s)] = -1
		}
		k.wg.Add(1)
		go k.read(s, in)
	}
}

// iteratorInput is where shard s starts: after its checkpointed
// position, at the start of a child of a shard read to its end
// (at_timestamp still applies to it), else at the start position (so a
// restart computes latest and a relative at_timestamp anew for a shard
// that had delivered nothing by the checkpoint).
func (k *Kinesis) iteratorInput(s *kshard, child bool) *kinesis.GetShardIteratorInput {
	in := &kinesis.GetShardIteratorInput{StreamName: aws.String(k.o.Stream), ShardId: aws.String(s.id)}
	if r, ok := k.o.Resume[k.part(s)]; ok && r.After != "" {
		in.ShardIteratorType, in.StartingSequenceNumber = types.ShardIteratorTypeAfterSequenceNumber, aws.String(r.After)
		return in
	}
	st := k.start
	if child {
		// a child's records all follow its parents'
		if st.Type != types.ShardIteratorTypeAtTimestamp {
			st = KinesisStart{Type: types.ShardIteratorTypeTrimHorizon}
		}
	}
	if st.Type == types.ShardIteratorTypeAtSequenceNumber {
		// the sequence number belongs to one shard: the others start
		// at their beginning unless they hold only later records
		seq, _ := new(big.Int).SetString(st.Seq, 10)
		first, ok := new(big.Int).SetString(s.startSeq, 10)
		if !ok || first.Cmp(seq) > 0 {
			st = KinesisStart{Type: types.ShardIteratorTypeTrimHorizon}
		}
	}
	in.ShardIteratorType = st.Type
	switch st.Type {
	case types.ShardIteratorTypeAtTimestamp:
		in.Timestamp = aws.Time(st.At)
	case types.ShardIteratorTypeAtSequenceNumber:
		in.StartingSequenceNumber = aws.String(st.Seq)
	}
	return in
}

// Backoff bounds of the readers: throttling waits from minBackoff,
// doubling to maxBackoff, for as long as it lasts; other failures (after
// the SDK's own retries) are retried maxFailures times before the source
// fails naming them.
const (
	minBackoff  = 200 * time.Millisecond
	maxBackoff  = 5 * time.Second
	maxFailures = 5
)

// read runs on its own goroutine, reading one shard until its end, the
// stop, an error it gives up on, or Close.
func (k *Kinesis) read(s *kshard, in *kinesis.GetShardIteratorInput) {
	defer k.wg.Done()
	ctx := k.ctx
	send := func(r kread) bool {
		select {
		case k.ch <- r:
			return true
		case <-ctx.Done():
			return false
		}
	}
	var it *string
	last := ""
	backoff, failures := minBackoff, 0
	// retry says whether to try again after err, waiting as it must
	retry := func(op string, err error) bool {
		var thr *types.ProvisionedThroughputExceededException
		var lim *types.LimitExceededException
		throttled := errors.As(err, &thr) || errors.As(err, &lim)
		if !throttled {
			failures++
			if failures > maxFailures {
				send(kread{shard: s, err: fmt.Errorf("kinesis stream %q shard %s: %s: %w", k.o.Stream, s.id, op, err)})
				return false
			}
		}
		if !sleepCtx(ctx, backoff) {
			return false
		}
		backoff = min(2*backoff, maxBackoff)
		return true
	}
	for {
		if it == nil {
			if last != "" {
				in.ShardIteratorType, in.StartingSequenceNumber, in.Timestamp = types.ShardIteratorTypeAfterSequenceNumber, aws.String(last), nil
			}
			out, err := k.cl.GetShardIterator(ctx, in)
			if err != nil {
				if ctx.Err() != nil || !retry("get shard iterator", err) {
					return
				}
				continue
			}
			it = out.ShardIterator
			if it == nil {
				send(kread{shard: s, end: true})
				return
			}
		}
		out, err := k.cl.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it, Limit: aws.Int32(k.o.Limit)})
		if err != nil {
			var exp *types.ExpiredIteratorException
			if errors.As(err, &exp) {
				it = nil // a new one after the last record read
				continue
			}
			if ctx.Err() != nil || !retry("get records", err) {
				return
			}
			continue
		}
		backoff, failures = minBackoff, 0
		if n := len(out.Records); n > 0 {
			last = aws.ToString(out.Records[n-1].SequenceNumber)
			if !send(kread{shard: s, records: out.Records}) {
				return
			}
		}
		it = out.NextShardIterator
		if it == nil {
			send(kread{shard: s, end: true}) // closed and read to its end
			return
		}
		if len(out.Records) == 0 {
			if k.o.Stop == "caught-up" && aws.ToInt64(out.MillisBehindLatest) == 0 {
				send(kread{shard: s, end: true})
				return
			}
			if !sleepCtx(ctx, k.o.Poll) {
				return
			}
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Next returns the records of one read of one shard, or a shard's end
// with the children it lets start; io.EOF when no shard is left to read
// (with stop caught-up: a followed stream always has open shards).
func (k *Kinesis) Next(ctx context.Context) (*Batch, error) {
	for {
		if len(k.reading) == 0 {
			return nil, io.EOF
		}
		var r kread
		select {
		case r = <-k.ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if r.err != nil {
			return nil, r.err
		}
		b := k.free.get()
		if r.end {
			delete(k.reading, r.shard.id)
			k.done[r.shard.id] = true
			b.Finished = append(b.Finished, k.part(r.shard))
			k.ended[r.shard.id] = true
			// the children of a closed shard: listed again, as the
			// listing at the start may predate the reshard
			if err := k.list(ctx); err != nil {
				k.Release(b)
				return nil, err
			}
			added := map[Partition]int64{}
			k.startReady(added)
			if len(added) > 0 {
				b.Added = added
			}
			return b, nil
		}
		for i := range r.records {
			rec := &r.records[i]
			var ts int64
			if rec.ApproximateArrivalTimestamp != nil {
				ts = rec.ApproximateArrivalTimestamp.UnixMilli()
			}
			b.Records = append(b.Records, Record{Key: []byte(aws.ToString(rec.PartitionKey)), Value: rec.Data,
				Topic: k.o.Stream, Partition: r.shard.num, Seq: aws.ToString(rec.SequenceNumber), Timestamp: ts})
		}
		return b, nil
	}
}

// Partitions lists the shards read so far (at the start and added since):
// each holds the watermark until it has records, goes idle or ends.
func (k *Kinesis) Partitions() []Partition {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.parts)
}

// StartOffsets registers the shards read from the start (offsets -1: a
// shard's position is its sequence number, engine.PartitionState.After),
// so that a checkpoint taken before they deliver records names them.
func (k *Kinesis) StartOffsets() map[Partition]int64 {
	out := map[Partition]int64{}
	for _, p := range k.Partitions() {
		out[p] = -1
	}
	return out
}

// Release returns a batch for reuse.
func (k *Kinesis) Release(b *Batch) { k.free.put(b) }

// Bounded reports whether reading ends (stop caught-up).
func (k *Kinesis) Bounded() bool { return k.o.Stop != "none" }

// Close stops the readers.
func (k *Kinesis) Close() error {
	if k.closed {
		return nil
	}
	k.closed = true
	k.cancel()
	k.wg.Wait()
	return nil
}
