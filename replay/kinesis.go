package replay

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/eddyhq/eddy/internal/pace"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
)

// Reasons a letter of a Kinesis dead-letter stream is skipped.
const (
	SkipNotKinesis   = "origin is not a Kinesis stream"
	SkipNotLetter    = "not a dead letter"
	SkipNoStream     = "target stream does not exist"
	SkipKinesisTopic = "origin is a Kinesis stream (replay it from a Kinesis dead-letter stream)"
)

// KinesisOptions configures RunKinesis.
type KinesisOptions struct {
	Stream string // the dead-letter stream (required)
	// To is ToOriginal (the stream each letter's origin names) or a
	// stream name.
	To     string
	DryRun bool
	Where  *Filter
	// MaxReplays is the replay cap, as Options.MaxReplays; parked letters
	// go to the stream ParkedTopic(Stream), created with one shard when
	// missing.
	MaxReplays int
	// Ledger is the path of the ledger file (required; DefaultLedger).
	Ledger    string
	Rate      float64
	BatchSize int // at most 500, Kinesis's limit per call (default 500)
	Progress  func(Progress)
	// Recovered, when set, is called once a batch an interrupted run left
	// pending is finished, with the records found in the target streams
	// and those put now.
	Recovered func(found, put int)
	// Poll is the pause of the readers after an empty read (default
	// 250 ms).
	Poll time.Duration
}

func (o *KinesisOptions) validate() error {
	switch {
	case o.Stream == "":
		return errors.New("no dead-letter stream")
	case o.To == "":
		return errors.New("no target: set To (ToOriginal or a stream)")
	case o.To == o.Stream:
		return fmt.Errorf("cannot replay %s into itself", o.Stream)
	case o.Ledger == "":
		return errors.New("no ledger file")
	case o.MaxReplays < 0:
		return fmt.Errorf("max replays %d is negative", o.MaxReplays)
	case !(o.Rate >= 0):
		return fmt.Errorf("rate %v is negative", o.Rate)
	case o.BatchSize < 0 || o.BatchSize > sink.KinesisMaxCallRecords:
		return fmt.Errorf("batch size %d is not between 1 and %d", o.BatchSize, sink.KinesisMaxCallRecords)
	}
	return nil
}

// testHookKinesisPut, when set, is called after each PutRecords call of a
// batch that has been taken whole, before the ledger records it; an error
// ends RunKinesis as a crash would.
var testHookKinesisPut func(batch int) error

// krun is one replay from a Kinesis stream, owned by RunKinesis's
// goroutine.
type krun struct {
	cl     *kinesis.Client
	o      *KinesisOptions
	rep    *Report
	led    *Ledger
	parked string
	exists map[string]bool
}

// RunKinesis replays the dead-letter stream o.Stream, every shard until
// caught up, into Kinesis streams, or with o.DryRun reports what a replay
// would do. Progress is kept in the ledger file o.Ledger: each batch is
// written there before its records are put (PutRecords, in order, the
// entries a call rejects sent again) and marked done after, so a run
// after an interrupted one first looks in the target streams for the
// records of the unfinished batch that arrived and puts only the others:
// no letter is lost and none is put twice.
func RunKinesis(ctx context.Context, cl *kinesis.Client, o KinesisOptions) (*Report, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	rep := &Report{Topic: o.Stream, Ledger: o.Ledger, DryRun: o.DryRun}
	defer func() { rep.Elapsed = time.Since(start); rep.Total = max(rep.Total, rep.Done) }()
	if !o.DryRun {
		unlock, err := lockLedger(o.Ledger)
		if err != nil {
			return nil, err
		}
		defer unlock()
	}
	led, err := loadLedger(o.Ledger, o.Stream)
	if err != nil {
		return nil, err
	}
	r := &krun{cl: cl, o: &o, rep: rep, led: led, parked: ParkedTopic(o.Stream), exists: map[string]bool{}}
	if o.To != ToOriginal {
		ok, err := r.streamExists(ctx, o.To)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("%w: kinesis stream %q", ErrNoTopic, o.To)
		}
	}
	if led.Pending != nil && !o.DryRun {
		if err := r.recover(ctx); err != nil {
			return rep, fmt.Errorf("finish the interrupted batch: %w", err)
		}
		if o.Recovered != nil {
			o.Recovered(rep.Recovered, rep.Resent)
		}
	}
	resume := map[source.Partition]source.KinesisResume{}
	for id, seq := range led.After {
		n, err := source.ShardNumber(id)
		if err != nil {
			return nil, fmt.Errorf("replay ledger %s: %w", o.Ledger, err)
		}
		resume[source.Partition{Topic: o.Stream, Partition: n}] = source.KinesisResume{After: seq, Done: led.Done[id]}
	}
	src, err := source.OpenKinesis(ctx, cl, source.KinesisOptions{Stream: o.Stream, Start: "trim_horizon",
		Stop: "caught-up", Resume: resume, Poll: o.Poll})
	if err != nil {
		return nil, err
	}
	defer src.Close()
	return rep, r.loop(ctx, src, start)
}

// kbatch is the batch being gathered.
type kbatch struct {
	after    map[string]string
	done     map[string]bool
	entries  []Entry
	verdicts []verdict
	read     int64
}

func (r *krun) loop(ctx context.Context, src *source.Kinesis, start time.Time) error {
	o := r.o
	size := cmp.Or(o.BatchSize, sink.KinesisMaxCallRecords)
	if o.Rate > 0 {
		size = min(size, max(1, int(o.Rate/4)))
	}
	lim := pace.New(o.Rate, 0)
	b := r.newBatch()
	batches := 0
	flush := func() error {
		if o.DryRun || (b.read == 0 && len(b.done) == len(r.led.Done)) {
			return nil
		}
		batches++
		if err := r.commit(ctx, b, batches); err != nil {
			r.rep.Failed += len(b.verdicts)
			return err
		}
		if o.Progress != nil {
			o.Progress(r.rep.progress(start))
		}
		b = r.newBatch()
		return nil
	}
	for {
		kb, err := src.Next(ctx)
		switch {
		case errors.Is(err, io.EOF):
			return flush()
		case ctx.Err() != nil:
			return fmt.Errorf("%w: %d records replayed, %d parked before it; run the same command again to resume", ErrInterrupted, r.rep.Replayed(), r.rep.Count[Parked])
		case err != nil:
			return err
		}
		for i := range kb.Records {
			rec := &kb.Records[i]
			l := letterOf(rec)
			v, e, err := r.decide(ctx, &l)
			if err != nil {
				src.Release(kb)
				return err
			}
			if e != nil && !o.DryRun {
				if err := lim.Wait(ctx); err != nil {
					src.Release(kb)
					return fmt.Errorf("%w: %d records replayed before it", ErrInterrupted, r.rep.Replayed())
				}
				b.entries = append(b.entries, *e)
			}
			b.verdicts = append(b.verdicts, v)
			b.after[sink.ShardID(rec.Partition)] = rec.Seq
			b.read++
			if o.DryRun {
				r.rep.Done++
				r.rep.apply(v)
				b.verdicts, b.read = b.verdicts[:0], 0
				continue
			}
			if len(b.entries) == size || b.read == int64(10*size) {
				if err := flush(); err != nil {
					src.Release(kb)
					return err
				}
			}
		}
		for _, p := range kb.Finished {
			b.done[sink.ShardID(p.Partition)] = true
		}
		src.Release(kb)
		if !o.DryRun && (len(kb.Finished) > 0 || len(b.entries) > 0) {
			// commit at the end of each read too, so progress is kept while
			// the stream is read slowly
			if err := flush(); err != nil {
				return err
			}
		}
	}
}

func (r *krun) newBatch() *kbatch {
	b := &kbatch{after: maps.Clone(r.led.After), done: maps.Clone(r.led.Done)}
	if b.after == nil {
		b.after = map[string]string{}
	}
	if b.done == nil {
		b.done = map[string]bool{}
	}
	return b
}

// letterOf decodes a record of a Kinesis dead-letter stream (a dead
// letter's JSON object, as in a dead-letter file).
func letterOf(rec *source.Record) Letter {
	l, err := parseFileLine(rec.Topic, 0, rec.Value)
	if err != nil {
		l = Letter{Convention: Unknown, Class: string(Unknown), Value: rec.Value}
		l.note("not a dead letter: %v", err)
	}
	l.Topic, l.Partition, l.Offset, l.InFile, l.Timestamp = rec.Topic, rec.Partition, 0, false, rec.Timestamp
	l.dlqKey = string(rec.Key)
	l.rawData = append([]byte(nil), rec.Value...)
	return l
}

// decide says what to do with one letter and returns the entry to put
// (nil for none).
func (r *krun) decide(ctx context.Context, l *Letter) (verdict, *Entry, error) {
	v := verdict{class: l.Class, stage: l.Stage}
	o := r.o
	if l.Convention == Unknown {
		v.outcome, v.reason = Skipped, SkipNotLetter
		return v, nil, nil
	}
	if !r.rep.selects(o.Where, l, &v) {
		return v, nil, nil
	}
	count := l.Replays
	if org := &l.Origin; org.Kinesis() && org.Partition != nil {
		if n, ok := r.led.Replayed[RecordPos(org.Topic, sink.ShardID(*org.Partition), org.Sequence)]; ok {
			count = max(count, n)
		}
	}
	if count >= o.MaxReplays {
		v.outcome, v.target = Parked, r.parked
		return v, &Entry{Stream: r.parked, Key: partitionKey([]byte(l.dlqKey), l), Data: l.raw(), Count: count}, nil
	}
	target := o.To
	if target == ToOriginal {
		switch {
		case l.Origin.File != "":
			v.outcome, v.reason = Skipped, SkipFileOrigin
			return v, nil, nil
		case !l.Origin.Kinesis():
			v.outcome, v.reason = Skipped, SkipNotKinesis
			return v, nil, nil
		}
		target = l.Origin.Topic
		if target == o.Stream {
			v.outcome, v.reason = Skipped, SkipSelf
			return v, nil, nil
		}
	}
	ok, err := r.streamExists(ctx, target)
	if err != nil {
		return v, nil, err
	}
	if !ok {
		v.outcome, v.reason = Skipped, SkipNoStream+" ("+target+")"
		return v, nil, nil
	}
	v.outcome, v.target = Replayed, target
	e := &Entry{Stream: target, Key: partitionKey(l.Key, l), Data: l.Value, Count: count + 1}
	if org := &l.Origin; org.Kinesis() && org.Topic == target && org.Partition != nil {
		e.OriginShard, e.OriginSeq = sink.ShardID(*org.Partition), org.Sequence
	}
	return v, e, nil
}

// partitionKey is the key a record is put with: key (the letter's record
// key, which for a Kinesis origin is its partition key), else the origin
// as the Kinesis dead-letter sink keys letters.
func partitionKey(key []byte, l *Letter) string {
	if len(key) > 0 {
		return string(key)
	}
	o := &l.Origin
	switch {
	case o.File != "":
		return o.File
	case o.Partition != nil:
		return fmt.Sprintf("%s/%d", o.Topic, *o.Partition)
	}
	return cmp.Or(o.Topic, "-")
}

// streamExists looks a stream up once per run.
func (r *krun) streamExists(ctx context.Context, stream string) (bool, error) {
	if ok, seen := r.exists[stream]; seen {
		return ok, nil
	}
	_, err := r.cl.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(stream)})
	var nf *types.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		r.exists[stream] = false
		return false, nil
	case err != nil:
		return false, fmt.Errorf("look up kinesis stream %q: %w", stream, err)
	}
	r.exists[stream] = true
	return true, nil
}

// ensureParked creates the parked stream (one shard) when missing and
// waits until it is active.
func (r *krun) ensureParked(ctx context.Context) error {
	ok, err := r.streamExists(ctx, r.parked)
	if err != nil || ok {
		return err
	}
	_, err = r.cl.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(r.parked), ShardCount: aws.Int32(1)})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create kinesis stream %q: %w", r.parked, err)
	}
	w := kinesis.NewStreamExistsWaiter(r.cl)
	if err := w.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(r.parked)}, 2*time.Minute); err != nil {
		return fmt.Errorf("create kinesis stream %q: %w", r.parked, err)
	}
	r.exists[r.parked] = true
	return nil
}

// commit writes the batch to the ledger as pending, puts its records and
// marks it done.
func (r *krun) commit(ctx context.Context, b *kbatch, n int) error {
	led := r.led
	counts := map[string]int{}
	for _, v := range b.verdicts {
		counts[v.outcome.String()]++
	}
	if len(b.entries) > 0 {
		for _, e := range b.entries {
			if e.Stream == r.parked {
				if err := r.ensureParked(ctx); err != nil {
					return err
				}
				break
			}
		}
		now := time.Now().UTC()
		led.Pending = &Pending{Since: now.Add(-ClockMargin), Started: now, After: b.after, Done: b.done,
			Entries: b.entries, Counts: counts}
		if err := led.save(r.o.Ledger); err != nil {
			led.Pending = nil
			return err
		}
		if err := r.put(ctx, led.Pending.Entries); err != nil {
			return err
		}
		if testHookKinesisPut != nil {
			if err := testHookKinesisPut(n); err != nil {
				return err
			}
		}
	}
	if err := r.finish(&Pending{After: b.after, Done: b.done, Entries: b.entries, Counts: counts}); err != nil {
		return err
	}
	for _, v := range b.verdicts {
		r.rep.apply(v)
	}
	r.rep.Done += b.read
	return nil
}

// finish records a batch as done: the positions, the records put and the
// totals, in one save.
func (r *krun) finish(p *Pending) error {
	led := r.led
	if led.Pending != nil {
		p = led.Pending
	}
	led.After, led.Done = p.After, p.Done
	for _, e := range p.Entries {
		if e.Pos == "" {
			continue
		}
		led.Replayed[e.Pos] = e.Count
		i := strings.LastIndexByte(e.Pos, '/')
		if tip, seq := e.Pos[:i], e.Pos[i+1:]; compareSeq(seq, led.Tips[tip]) > 0 {
			led.Tips[tip] = seq
		}
	}
	for k, n := range p.Counts {
		led.Totals[k] += n
	}
	led.Pending = nil
	return led.save(r.o.Ledger)
}

// put sends the entries that have no position yet, in order, per stream
// in calls of at most 500 records and 5 MiB; the entries a call rejects
// are sent again with backoff. Each entry taken gets its position.
func (r *krun) put(ctx context.Context, entries []Entry) error {
	var todo []int
	for i := range entries {
		if entries[i].Pos == "" {
			todo = append(todo, i)
		}
	}
	backoff := 100 * time.Millisecond
	var last error
	for attempt := 0; len(todo) > 0; attempt++ {
		if attempt == 10 {
			return fmt.Errorf("put replayed records: %d not taken after %d calls: %w", len(todo), attempt, last)
		}
		if attempt > 0 {
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return ctx.Err()
			}
			backoff = min(2*backoff, 5*time.Second)
		}
		var again []int
		for len(todo) > 0 {
			call := callOf(entries, todo)
			in := &kinesis.PutRecordsInput{StreamName: aws.String(entries[call[0]].Stream)}
			for _, i := range call {
				in.Records = append(in.Records, types.PutRecordsRequestEntry{Data: entries[i].Data, PartitionKey: aws.String(entries[i].Key)})
			}
			todo = todo[len(call):]
			out, err := r.cl.PutRecords(context.WithoutCancel(ctx), in)
			if err != nil {
				var nf *types.ResourceNotFoundException
				if errors.As(err, &nf) {
					return fmt.Errorf("kinesis stream %s not found", aws.ToString(in.StreamName))
				}
				last = err
				again = append(again, call...)
				continue
			}
			for j, res := range out.Records {
				if res.ErrorCode != nil {
					last = fmt.Errorf("%s: %s", aws.ToString(res.ErrorCode), aws.ToString(res.ErrorMessage))
					again = append(again, call[j])
					continue
				}
				e := &entries[call[j]]
				e.Pos = RecordPos(e.Stream, aws.ToString(res.ShardId), aws.ToString(res.SequenceNumber))
			}
		}
		todo = again
	}
	return nil
}

// callOf is the first call of todo: the entries in a row for one stream,
// at most 500 and 5 MiB.
func callOf(entries []Entry, todo []int) []int {
	stream := entries[todo[0]].Stream
	size := 0
	for n, i := range todo {
		e := &entries[i]
		s := len(e.Data) + len(e.Key)
		if e.Stream != stream || n == sink.KinesisMaxCallRecords || (n > 0 && size+s > sink.KinesisMaxCallBytes) {
			return todo[:n]
		}
		size += s
	}
	return todo
}

// recover finishes the batch an interrupted run left pending: the target
// streams are read from the batch's start until caught up, the records
// that arrived are matched to its entries, and the others are put.
func (r *krun) recover(ctx context.Context) error {
	p := r.led.Pending
	if wait := time.Until(p.Started.Add(Settle)); wait > 0 {
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	streams := map[string]bool{}
	for _, e := range p.Entries {
		streams[e.Stream] = true
	}
	for stream := range streams {
		if ok, err := r.streamExists(ctx, stream); err != nil || !ok {
			if err == nil {
				err = fmt.Errorf("kinesis stream %s not found", stream)
			}
			return err
		}
		// shards the replay put to before are read after the highest
		// sequence number it got there, the others from the batch's start
		resume := map[source.Partition]source.KinesisResume{}
		for tip, seq := range r.led.Tips {
			st, shard, _ := strings.Cut(tip, "/")
			if num, err := source.ShardNumber(shard); st == stream && err == nil {
				resume[source.Partition{Topic: stream, Partition: num}] = source.KinesisResume{After: seq}
			}
		}
		src, err := source.OpenKinesis(ctx, r.cl, source.KinesisOptions{Stream: stream, Resume: resume,
			Start: "at_timestamp:" + p.Since.Format(time.RFC3339Nano), Stop: "caught-up", Poll: r.o.Poll})
		if err != nil {
			return err
		}
		var recs []arrived
		for {
			kb, err := src.Next(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				src.Close()
				return err
			}
			for _, rec := range kb.Records {
				recs = append(recs, arrived{stream: stream, shard: sink.ShardID(rec.Partition), seq: rec.Seq,
					key: string(rec.Key), data: append([]byte(nil), rec.Value...)})
			}
			src.Release(kb)
		}
		src.Close()
		r.rep.Recovered += p.match(r.led.Replayed, recs)
	}
	if err := r.put(ctx, p.Entries); err != nil {
		return err
	}
	r.rep.Resent = len(p.Entries) - r.rep.Recovered
	return r.finish(p)
}

// raw is the dead letter as stored (a Kinesis dead-letter stream's
// record), for parking it unchanged.
func (l *Letter) raw() []byte {
	if l.rawData != nil {
		return l.rawData
	}
	return l.Value
}
