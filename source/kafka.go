package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddyhq/eddy/startpos"
)

// Partition names a topic partition.
type Partition struct {
	Topic     string
	Partition int32
}

// Committer is a source that can record progress: a consumer group's
// committed offsets (the next offset to read per partition).
type Committer interface {
	Commit(ctx context.Context, next map[Partition]int64) error
}

// KafkaOptions says what a Kafka source reads.
type KafkaOptions struct {
	Topics []string
	// Start: earliest (default) | latest | offset:N | last:N (per
	// partition) | time:RFC3339 | time:-15m. With a group, it applies only
	// to partitions without a committed offset.
	Start string
	// Stop: none (default: follow) | caught-up (the high watermarks as of
	// the start) | time:RFC3339 (records after it end the partition).
	Stop  string
	Group string
	// GroupOffsetsOnly reads every partition without joining Group (no
	// rebalances): the group only stores offsets, committed by someone
	// else (eddy run with state: in the sinks' transactions). Partitions
	// start at Resume, else at the group's committed offsets, else at
	// Start. A group with active members is refused.
	GroupOffsetsOnly bool
	// Resume, when set, gives the next offset to read per partition (from a
	// checkpoint); it overrides Start for those partitions. With Group,
	// only with GroupOffsetsOnly.
	Resume map[Partition]int64
	Now    func() time.Time // default time.Now
	// MetadataInterval is how often the topics are listed again while
	// reading: to follow partitions added to them and to fail when one is
	// deleted. Default 5s.
	MetadataInterval time.Duration
}

// defaultMetadataInterval is KafkaOptions.MetadataInterval's default.
const defaultMetadataInterval = 5 * time.Second

// Kafka reads records from Kafka topics with franz-go.
type Kafka struct {
	cl      *kgo.Client
	adm     *kadm.Client
	o       KafkaOptions
	start   startpos.Position
	stopAt  int64 // time:... stop, epoch ms; 0 none
	bounded bool
	end     map[Partition]int64 // high watermarks at start (bounded sources)
	next    map[Partition]int64 // next offset per partition (bounded sources)
	done    map[Partition]bool
	parts   []Partition
	starts  map[Partition]int64 // where each partition started
	pending []Partition         // finished, not yet reported
	free    batchPool

	// topology, owned by Next: the topics' IDs at the start, the
	// partitions known (at the start or found since), when to list the
	// topics again, and how many listings in a row missed each topic
	ids      map[string]kadm.TopicID
	known    map[Partition]bool
	metaDue  time.Time
	missing  map[string]int
	added    map[Partition]int64 // found, not yet reported
	reset    kgo.Offset          // the group's reset offset (group mode)
	directly bool                // partitions assigned by eddy, not by a group

	lagMu sync.Mutex
	catch map[Partition]int64 // high watermarks at the start of partitions not yet read up to them
	hw    map[Partition]int64 // high watermark per partition, from the last fetch
	pos   map[Partition]int64 // next offset per partition after the records handed out
	found []Partition         // partitions found after the start, for Partitions
}

// Lag is how many records the partitions read so far hold beyond what Next
// has handed out, as of the last fetch (an estimate between fetches); it is
// safe to call from any goroutine.
func (k *Kafka) Lag() int64 {
	k.lagMu.Lock()
	defer k.lagMu.Unlock()
	var n int64
	for p, hw := range k.hw {
		if d := hw - k.pos[p]; d > 0 {
			n += d
		}
	}
	return n
}

// PartitionLag is Lag per partition: the records each partition read so
// far holds beyond what Next has handed out, as of the last fetch; safe
// to call from any goroutine.
func (k *Kafka) PartitionLag() map[Partition]int64 {
	k.lagMu.Lock()
	defer k.lagMu.Unlock()
	lag := make(map[Partition]int64, len(k.hw))
	for p, hw := range k.hw {
		lag[p] = max(hw-k.pos[p], 0)
	}
	return lag
}

// CaughtUp reports whether Next has handed out every record each
// partition held at the start (its high watermark then, from the start
// position or the checkpoint on); partitions that started at their end are
// caught up at once. It is safe to call from any goroutine; once true it
// stays true.
func (k *Kafka) CaughtUp() bool {
	k.lagMu.Lock()
	defer k.lagMu.Unlock()
	return len(k.catch) == 0
}

func (k *Kafka) noteProgress(fetches kgo.Fetches) {
	k.lagMu.Lock()
	defer k.lagMu.Unlock()
	if k.hw == nil {
		k.hw, k.pos = map[Partition]int64{}, map[Partition]int64{}
	}
	defer func() {
		for p, e := range k.catch {
			if k.pos[p] >= e {
				delete(k.catch, p)
			}
		}
	}()
	fetches.EachPartition(func(f kgo.FetchTopicPartition) {
		p := Partition{f.Topic, f.Partition}
		if f.HighWatermark > 0 {
			k.hw[p] = f.HighWatermark
		}
		if n := len(f.Records); n > 0 {
			k.pos[p] = f.Records[n-1].Offset + 1
		}
	})
}

// Partitions lists every partition of the topics as of the start, and
// those added to them since that Next has reported (Batch.Added). It is
// safe to call from any goroutine.
func (k *Kafka) Partitions() []Partition {
	k.lagMu.Lock()
	defer k.lagMu.Unlock()
	if len(k.found) == 0 {
		return k.parts
	}
	return append(slices.Clip(k.parts), k.found...)
}

// StartOffsets returns the offset each partition started at (without a
// group or with GroupOffsetsOnly; with a group joined, the group's
// committed offsets take over).
func (k *Kafka) StartOffsets() map[Partition]int64 { return k.starts }

func (k *Kafka) finish(p Partition) {
	if !k.done[p] {
		k.done[p] = true
		k.pending = append(k.pending, p)
	}
}

// OpenKafka connects with conn (connection options from kcfg) and starts
// consuming. Unknown topics are an error: reading never creates topics.
func OpenKafka(ctx context.Context, conn []kgo.Opt, o KafkaOptions) (*Kafka, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Start == "" {
		o.Start = "earliest"
	}
	start, err := startpos.Parse(o.Start)
	if err != nil {
		return nil, fmt.Errorf("kafka source: %w", err)
	}
	if o.Stop == "" {
		o.Stop = "none"
	}
	if o.MetadataInterval <= 0 {
		o.MetadataInterval = defaultMetadataInterval
	}
	if len(o.Topics) == 0 {
		return nil, errors.New("kafka source: no topic")
	}
	k := &Kafka{o: o, start: start, bounded: o.Stop != "none", done: map[Partition]bool{}}
	if ts, ok := strings.CutPrefix(o.Stop, "time:"); ok {
		t, err := startpos.TimeMillis(ts, o.Now())
		if err != nil {
			return nil, fmt.Errorf("kafka source stop: %w", err)
		}
		k.stopAt = t
	}
	admCl, err := kgo.NewClient(conn...)
	if err != nil {
		return nil, err
	}
	adm := kadm.NewClient(admCl)
	fail := func(err error) (*Kafka, error) {
		admCl.Close()
		return nil, err
	}
	topics, err := adm.ListTopics(ctx, o.Topics...)
	if err != nil {
		return fail(fmt.Errorf("list topics: %w", err))
	}
	for _, t := range o.Topics {
		if d, ok := topics[t]; !ok || d.Err != nil {
			return fail(fmt.Errorf("topic %q does not exist", t))
		}
	}
	ends, err := adm.ListEndOffsets(ctx, o.Topics...)
	if err != nil {
		return fail(fmt.Errorf("list end offsets: %w", err))
	}
	if err := ends.Error(); err != nil {
		return fail(fmt.Errorf("list end offsets: %w", err))
	}
	starts, firstOffsets, err := k.startOffsets(ctx, adm, ends)
	if err != nil {
		return fail(err)
	}
	if len(o.Resume) > 0 && o.Group != "" && !o.GroupOffsetsOnly {
		return fail(errors.New("kafka source: resuming from a checkpoint with a consumer group needs GroupOffsetsOnly"))
	}
	if o.GroupOffsetsOnly && o.Group != "" {
		if err := k.groupStarts(ctx, adm, starts); err != nil {
			return fail(err)
		}
	}
	if len(o.Resume) > 0 {
		// a checkpoint records every partition its run knew: one it does
		// not name was added to the topic later, after the run started,
		// and is read from its earliest record
		for p := range starts {
			if _, ok := o.Resume[p]; !ok {
				starts[p] = firstOffsets[p]
			}
		}
	}
	for p, off := range o.Resume {
		if _, ok := starts[p]; !ok {
			continue
		}
		if e := ends[p.Topic][p.Partition].Offset; off > e {
			return fail(fmt.Errorf("resume %s/%d at offset %d: the partition ends at %d (was the topic recreated?)", p.Topic, p.Partition, off, e))
		}
		starts[p] = off
	}
	opts := append([]kgo.Opt{}, conn...)
	opts = append(opts, kgo.FetchMaxWait(250*time.Millisecond), kgo.FetchMaxBytes(64<<20))
	if o.Group != "" && !o.GroupOffsetsOnly {
		// a 10 s session (default 45 s) lets a restarted run take over its
		// partitions soon after a crash
		k.reset = resetOffset(start, o.Now)
		opts = append(opts, kgo.ConsumerGroup(o.Group), kgo.ConsumeTopics(o.Topics...),
			kgo.SessionTimeout(10*time.Second), kgo.HeartbeatInterval(time.Second),
			kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(k.reset),
			// the group sees added partitions when the client's metadata
			// is refreshed, as often as eddy lists the topics itself
			kgo.MetadataMinAge(min(o.MetadataInterval, 5*time.Second)), kgo.MetadataMaxAge(o.MetadataInterval),
			kgo.AdjustFetchOffsetsFn(k.newPartitionsFromStart))
		committed, err := adm.FetchOffsets(ctx, o.Group)
		if err == nil {
			committed.Each(func(r kadm.OffsetResponse) {
				if r.Err == nil && r.At >= 0 {
					if _, ok := starts[Partition{r.Topic, r.Partition}]; ok {
						starts[Partition{r.Topic, r.Partition}] = r.At
					}
				}
			})
		}
	} else {
		k.directly = true
		parts := map[string]map[int32]kgo.Offset{}
		for p, off := range starts {
			if parts[p.Topic] == nil {
				parts[p.Topic] = map[int32]kgo.Offset{}
			}
			parts[p.Topic][p.Partition] = kgo.NewOffset().At(off)
		}
		opts = append(opts, kgo.ConsumePartitions(parts))
	}
	k.starts = starts
	k.catch = map[Partition]int64{}
	for p, s := range starts {
		if e := ends[p.Topic][p.Partition].Offset; s < e {
			k.catch[p] = e
		}
	}
	k.known, k.missing, k.ids = map[Partition]bool{}, map[string]int{}, map[string]kadm.TopicID{}
	for p := range starts {
		k.parts = append(k.parts, p)
		k.known[p] = true
	}
	for _, t := range o.Topics {
		k.ids[t] = topics[t].ID
	}
	k.metaDue = time.Now().Add(o.MetadataInterval)
	sort.Slice(k.parts, func(i, j int) bool {
		a, b := k.parts[i], k.parts[j]
		return a.Topic < b.Topic || a.Topic == b.Topic && a.Partition < b.Partition
	})
	if o.Stop == "caught-up" || k.stopAt != 0 {
		k.end, k.next = map[Partition]int64{}, map[Partition]int64{}
		for _, p := range k.parts {
			s := starts[p]
			e := ends[p.Topic][p.Partition].Offset
			k.end[p], k.next[p] = e, s
			if s >= e && (o.Stop == "caught-up" || k.stopAt <= o.Now().UnixMilli()) {
				k.finish(p)
			}
		}
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fail(err)
	}
	k.cl, k.adm = cl, adm
	return k, nil
}

// coordinatorRetry calls f until it does not fail with an error a group
// coordinator gives while it moves or starts (a fresh cluster creates
// __consumer_offsets on the first group request), for up to 30 s.
func coordinatorRetry(ctx context.Context, f func() error) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		err := f()
		if !errors.Is(err, kerr.CoordinatorNotAvailable) && !errors.Is(err, kerr.CoordinatorLoadInProgress) &&
			!errors.Is(err, kerr.NotCoordinator) && !errors.Is(err, kerr.UnstableOffsetCommit) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// groupStarts refuses a group with active members and starts the
// partitions the group has committed offsets for there.
func (k *Kafka) groupStarts(ctx context.Context, adm *kadm.Client, starts map[Partition]int64) error {
	g := k.o.Group
	var ds kadm.DescribedGroups
	err := coordinatorRetry(ctx, func() error {
		var err error
		if ds, err = adm.DescribeGroups(ctx, g); err == nil {
			err = ds.Error()
		}
		return err
	})
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return fmt.Errorf("describe consumer group %s: %w", g, err)
	}
	if d, ok := ds[g]; ok && len(d.Members) > 0 {
		return fmt.Errorf("consumer group %s has %d active member(s): with a state section eddy reads every partition itself and only stores offsets in the group, so it must be the group's only user; stop the other consumers or use another group", g, len(d.Members))
	}
	if len(k.o.Resume) > 0 {
		return nil // positions come from the checkpoint
	}
	var committed kadm.OffsetResponses
	err = coordinatorRetry(ctx, func() error {
		var err error
		if committed, err = adm.FetchOffsets(kadm.RequireStable(ctx), g); err == nil {
			err = committed.Error()
		}
		return err
	})
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return fmt.Errorf("fetch the offsets of consumer group %s: %w", g, err)
	}
	committed.Each(func(r kadm.OffsetResponse) {
		p := Partition{r.Topic, r.Partition}
		if _, ok := starts[p]; ok && r.Err == nil && r.At >= 0 {
			starts[p] = r.At
		}
	})
	return nil
}

// resetOffset is where the group client starts a partition with no
// committed offset.
func resetOffset(start startpos.Position, now func() time.Time) kgo.Offset {
	switch start.Kind {
	case startpos.Latest:
		return kgo.NewOffset().AtEnd()
	case startpos.Offset:
		return kgo.NewOffset().At(start.N)
	case startpos.Last:
		return kgo.NewOffset().AtEnd().Relative(-start.N)
	case startpos.Time:
		return kgo.NewOffset().AfterMilli(start.Millis(now()))
	}
	return kgo.NewOffset().AtStart()
}

// startOffsets computes where each partition starts, and returns its
// earliest offset too.
func (k *Kafka) startOffsets(ctx context.Context, adm *kadm.Client, ends kadm.ListedOffsets) (map[Partition]int64, map[Partition]int64, error) {
	o := k.o
	firsts, err := adm.ListStartOffsets(ctx, o.Topics...)
	if err == nil {
		err = firsts.Error()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("list start offsets: %w", err)
	}
	var after kadm.ListedOffsets
	if k.start.Kind == startpos.Time {
		if after, err = adm.ListOffsetsAfterMilli(ctx, k.start.Millis(o.Now()), o.Topics...); err == nil {
			err = after.Error()
		}
		if err != nil {
			return nil, nil, fmt.Errorf("list offsets by time: %w", err)
		}
	}
	out, firstOf := map[Partition]int64{}, map[Partition]int64{}
	ends.Each(func(e kadm.ListedOffset) {
		if e.Partition < 0 {
			return
		}
		p := Partition{e.Topic, e.Partition}
		first := firsts[e.Topic][e.Partition].Offset
		at := int64(-1)
		if o, ok := after.Lookup(e.Topic, e.Partition); ok {
			at = o.Offset
		}
		out[p] = k.start.Resolve(first, e.Offset, at)
		firstOf[p] = first
	})
	return out, firstOf, nil
}

// Bounded reports whether the source ends (stop is not none).
func (k *Kafka) Bounded() bool { return k.bounded }

// Release returns a batch for reuse.
func (k *Kafka) Release(b *Batch) {
	k.free.put(b)
}

// Next polls the next batch of records.
func (k *Kafka) Next(ctx context.Context) (*Batch, error) {
	for {
		if k.bounded && k.allDone() && len(k.pending) == 0 {
			return nil, io.EOF
		}
		if !time.Now().Before(k.metaDue) {
			if err := k.refresh(ctx); err != nil {
				return nil, err
			}
			k.metaDue = time.Now().Add(k.o.MetadataInterval)
		}
		if len(k.pending) > 0 || len(k.added) > 0 {
			b := &Batch{Finished: k.pending, Added: k.added}
			k.pending, k.added = nil, nil
			return b, nil
		}
		// the poll waits no longer than the next listing of the topics: a
		// deleted topic stalls the fetches without an error
		pctx, cancel := context.WithDeadline(ctx, k.metaDue)
		fetches := k.cl.PollFetches(pctx)
		cancel()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if fetches.IsClientClosed() {
			return nil, io.EOF
		}
		var ferr error
		fetches.EachError(func(t string, p int32, err error) {
			if ferr != nil || transient(err) || errors.Is(err, context.DeadlineExceeded) {
				return
			}
			if t == "" {
				ferr = fmt.Errorf("kafka: %w", err)
			} else {
				ferr = fmt.Errorf("fetch %s/%d: %w", t, p, err)
			}
		})
		if ferr != nil {
			return nil, ferr
		}
		k.noteProgress(fetches)
		b := k.free.get()
		fetches.EachRecord(func(r *kgo.Record) {
			p := Partition{r.Topic, r.Partition}
			if k.done[p] {
				return
			}
			ts := r.Timestamp.UnixMilli()
			if k.stopAt != 0 && ts > k.stopAt {
				k.finish(p)
				k.cl.PauseFetchPartitions(map[string][]int32{r.Topic: {r.Partition}})
				return
			}
			if k.end != nil {
				if r.Offset >= k.end[p] && k.o.Stop == "caught-up" {
					k.finish(p)
					return
				}
				k.next[p] = r.Offset + 1
				defer func() {
					if k.next[p] >= k.end[p] && k.o.Stop == "caught-up" {
						k.finish(p)
					}
				}()
			}
			rec := Record{Key: r.Key, Value: r.Value, Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Timestamp: ts}
			if len(r.Headers) > 0 {
				rec.Headers = make([]Header, len(r.Headers))
				for i, h := range r.Headers {
					rec.Headers[i] = Header{Key: h.Key, Value: h.Value}
				}
			}
			b.Records = append(b.Records, rec)
		})
		b.Finished = append(b.Finished[:0], k.pending...)
		k.pending = k.pending[:0]
		if len(b.Records) > 0 || len(b.Finished) > 0 {
			return b, nil
		}
		k.Release(b)
	}
}

// refresh lists the topics: a topic gone for two listings in a row, or
// created again under the same name, is an error naming it; partitions
// added to a topic are read from their earliest offset and reported in the
// next batch's Added. A listing that fails (a broker restarting) is
// skipped: the fetches say more.
func (k *Kafka) refresh(ctx context.Context) error {
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	topics, err := k.adm.ListTopics(lctx, k.o.Topics...)
	if err != nil {
		return nil
	}
	var fresh []Partition
	for _, t := range k.o.Topics {
		d, ok := topics[t]
		if !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition) || errors.Is(d.Err, kerr.UnknownTopicID) {
			// one listing may come from a broker that has not heard of the
			// topic yet; two in a row mean it is gone
			if k.missing[t]++; k.missing[t] >= 2 {
				return fmt.Errorf("topic %q was deleted while it was being read", t)
			}
			continue
		}
		k.missing[t] = 0
		if d.Err != nil {
			continue
		}
		if id := k.ids[t]; id != (kadm.TopicID{}) && d.ID != (kadm.TopicID{}) && d.ID != id {
			return fmt.Errorf("topic %q was deleted and created again while it was being read: its offsets start over", t)
		}
		for _, pd := range d.Partitions.Sorted() {
			if p := (Partition{t, pd.Partition}); !k.known[p] {
				fresh = append(fresh, p)
			}
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	return k.follow(lctx, fresh)
}

// follow starts reading partitions added to the topics since the start,
// from their earliest offset: every record in them was written after the
// run started. With stop: caught-up they are not read: they held nothing
// at the start.
func (k *Kafka) follow(ctx context.Context, fresh []Partition) error {
	if k.o.Stop == "caught-up" {
		for _, p := range fresh {
			k.known[p] = true
		}
		return nil
	}
	firsts := map[Partition]int64{}
	if k.directly || k.stopAt != 0 {
		var names []string
		for _, p := range fresh {
			if !slices.Contains(names, p.Topic) {
				names = append(names, p.Topic)
			}
		}
		lows, err := k.adm.ListStartOffsets(ctx, names...)
		if err == nil {
			err = lows.Error()
		}
		if err != nil {
			return nil // listed again next time
		}
		var highs kadm.ListedOffsets
		if k.stopAt != 0 {
			if highs, err = k.adm.ListEndOffsets(ctx, names...); err == nil {
				err = highs.Error()
			}
			if err != nil {
				return nil
			}
		}
		for _, p := range fresh {
			lo, ok := lows.Lookup(p.Topic, p.Partition)
			if !ok {
				return nil // not led yet: listed again next time
			}
			firsts[p] = lo.Offset
			if k.stopAt != 0 {
				hi, _ := highs.Lookup(p.Topic, p.Partition)
				k.end[p], k.next[p] = hi.Offset, lo.Offset
			}
		}
	}
	if k.added == nil {
		k.added = map[Partition]int64{}
	}
	add := map[string]map[int32]kgo.Offset{}
	for _, p := range fresh {
		k.known[p] = true
		off, ok := firsts[p]
		if !ok {
			off = -1 // a group member: the group says where it starts
		}
		k.added[p] = off
		if k.directly {
			if add[p.Topic] == nil {
				add[p.Topic] = map[int32]kgo.Offset{}
			}
			add[p.Topic][p.Partition] = kgo.NewOffset().At(off)
		}
		if k.stopAt != 0 && k.next[p] >= k.end[p] && k.stopAt <= k.o.Now().UnixMilli() {
			k.finish(p)
		}
	}
	if len(add) > 0 {
		k.cl.AddConsumePartitions(add)
	}
	k.lagMu.Lock()
	k.found = append(k.found, fresh...)
	k.lagMu.Unlock()
	return nil
}

// newPartitionsFromStart, run by the group client when partitions are
// assigned, starts a partition added since the start that has no committed
// offset at its earliest record instead of at the start option (latest
// would skip what was written before the group saw it).
func (k *Kafka) newPartitionsFromStart(_ context.Context, offs map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	for t, ps := range offs {
		for p, off := range ps {
			if _, ok := k.starts[Partition{t, p}]; !ok && off == k.reset {
				ps[p] = kgo.NewOffset().AtStart()
			}
		}
	}
	return offs, nil
}

// Transient reports whether err (from a fetch or a commit) is one that
// goes away by itself: group session trouble, retriable broker errors, and
// lost or refused connections during a broker restart.
func Transient(err error) bool { return transient(err) }

// transient reports whether a fetch error is one the client recovers from
// by itself (it keeps retrying): group session trouble, retriable broker
// errors, and lost connections during a broker restart.
func transient(err error) bool {
	var gs *kgo.ErrGroupSession
	var ne net.Error
	return errors.Is(err, context.Canceled) || errors.As(err, &gs) || kerr.IsRetriable(err) ||
		errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)
}

func (k *Kafka) allDone() bool {
	if k.end == nil {
		return false
	}
	for p := range k.end {
		if !k.done[p] {
			return false
		}
	}
	return true
}

// Commit commits the next offsets to read for the group (no-op without a
// group). It is synchronous: on return the offsets are stored.
func (k *Kafka) Commit(ctx context.Context, next map[Partition]int64) error {
	if k.o.Group == "" || len(next) == 0 {
		return nil
	}
	offs := map[string]map[int32]kgo.EpochOffset{}
	for p, o := range next {
		if offs[p.Topic] == nil {
			offs[p.Topic] = map[int32]kgo.EpochOffset{}
		}
		offs[p.Topic][p.Partition] = kgo.EpochOffset{Epoch: -1, Offset: o}
	}
	var cerr error
	k.cl.CommitOffsetsSync(ctx, offs, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			cerr = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if e := kerr.ErrorForCode(p.ErrorCode); e != nil && cerr == nil {
					cerr = fmt.Errorf("commit %s/%d: %w", t.Topic, p.Partition, e)
				}
			}
		}
	})
	return cerr
}

// Close leaves the group (if any) and closes the clients.
func (k *Kafka) Close() error {
	k.cl.Close()
	k.adm.Close()
	return nil
}
