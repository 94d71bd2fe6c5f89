package replay

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/internal/pace"
	"github.com/eddyhq/eddy/lookup"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
)

const (
	// ToOriginal as Options.To replays each record to the topic its headers
	// name.
	ToOriginal = "original"
	// DefaultMaxReplays is the replay cap `eddy dlq replay` uses.
	DefaultMaxReplays = 3
	// DefaultBatchSize is the most records one transaction holds.
	DefaultBatchSize = 500
	// instanceID makes the replay a static member of its group, so a run
	// started after a killed one takes over at once instead of waiting for
	// the dead member's session to time out. Two runs with the same group
	// fence each other (and so do their transactional IDs).
	instanceID = "eddy-replay"
)

// ErrInterrupted is returned (wrapped) when the context ends a replay
// before it is complete; what was committed stays committed, and running
// the replay again resumes after it.
var ErrInterrupted = errors.New("replay interrupted")

// DefaultGroup is the consumer group a replay of topic keeps its progress in.
func DefaultGroup(topic string) string { return "eddy-replay." + topic }

// ParkedTopic is where records that reached the replay cap go.
func ParkedTopic(topic string) string { return topic + ".parked" }

// TransactionalID is the transactional ID of a replay with group.
func TransactionalID(group string) string { return "eddy-replay." + group }

// Through runs dead letters through a pipeline instead of producing them.
type Through struct {
	Plan *pipeline.Plan
	// OpenSink and OpenDead open the pipeline's sinks and its dead letters
	// (t is nil when the spec has none) that are not Kafka topics on the
	// dead-letter topic's cluster: files, stdout, stderr, other clusters.
	// Replay writes Kafka targets that name no brokers and no config
	// itself, inside its transactions. Neither is called on a dry run.
	OpenSink func(t pipeline.Target) (sink.Sink, error)
	OpenDead func(t *pipeline.Target) (sink.DeadLetters, error)
	// Tables are the open reference tables of the lookup stages
	// (job.OpenTables; the caller closes them); nil for none.
	Tables map[string]*lookup.Table
}

// Options configures Run.
type Options struct {
	Topic string // the dead-letter topic (required)
	// To is ToOriginal or a topic name; unused with Through.
	To string
	// Create creates the To topic when it does not exist (as many
	// partitions as the dead-letter topic, the broker's replication).
	// Without it a missing To topic is asked for as a producer does, so a
	// cluster that creates topics on first use creates it, and one that
	// does not refuses the replay. A dry run creates nothing.
	Create  bool
	Through *Through
	// DryRun writes nothing and commits nothing; the report says what a
	// replay would do now (starting at the group's committed offsets).
	DryRun bool
	// Where, when set, picks the records to replay; the others are
	// skipped (and, on a real run, passed over for good by the group).
	Where *Filter
	// MaxReplays is the replay cap: a record whose eddy.replay.count is
	// at least MaxReplays is parked in ParkedTopic(Topic), unchanged.
	// 0 parks every record; `eddy dlq replay` uses DefaultMaxReplays.
	MaxReplays int
	// Group keeps the progress (default DefaultGroup(Topic)).
	Group string
	// Rate limits records per second (0: no limit).
	Rate float64
	// BatchSize is the most records per transaction (default
	// DefaultBatchSize; with Rate, also at most a quarter second's worth).
	BatchSize int
	// Progress, when set, is called on Run's goroutine after each
	// committed transaction.
	Progress func(Progress)
}

func (o *Options) validate() error {
	switch {
	case o.Topic == "":
		return errors.New("no dead-letter topic")
	case o.Through == nil && o.To == "":
		return errors.New("no target: set To (ToOriginal or a topic)")
	case o.Through == nil && o.To == o.Topic:
		return fmt.Errorf("cannot replay %s into itself", o.Topic)
	case o.MaxReplays < 0:
		return fmt.Errorf("max replays %d is negative", o.MaxReplays)
	case !(o.Rate >= 0):
		return fmt.Errorf("rate %v is negative", o.Rate)
	case o.BatchSize < 0:
		return fmt.Errorf("batch size %d is negative", o.BatchSize)
	}
	return nil
}

func (o *Options) group() string {
	if o.Group != "" {
		return o.Group
	}
	return DefaultGroup(o.Topic)
}

func (o *Options) batchSize() int {
	n := cmp.Or(o.BatchSize, DefaultBatchSize)
	if o.Rate > 0 {
		n = min(n, max(1, int(o.Rate/4))) // about four commits a second
	}
	return n
}

// Progress is reported after each committed transaction.
type Progress struct {
	Done, Total int64 // offsets read and committed / to read at the start
	Replayed    int   // records replayed (produced, or run through the pipeline)
	Parked      int
	Skipped     int
	Elapsed     time.Duration
}

// Outcome is what a replay did (or, on a dry run, would do) with a record.
type Outcome int

const (
	Replayed Outcome = iota // produced to its target
	Parked                  // at the cap: produced to the parked topic
	Skipped                 // not replayed (see Report.Skips)
	Passed                  // through a pipeline: reached the window or the sinks
	Filtered                // through a pipeline: dropped by a filter
	Dead                    // through a pipeline: failed again
	Late                    // through a pipeline: late for every window
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"replayed", "parked", "skipped", "passed", "filtered", "dead", "late"}

func (o Outcome) String() string { return outcomeNames[o] }

// Reasons a record is skipped.
const (
	SkipNotSelected = "not selected by --where"
	SkipWhereFailed = "--where could not be evaluated"
	SkipNoOrigin    = "no origin topic in the headers"
	SkipFileOrigin  = "origin is a file, not a topic"
	SkipSelf        = "origin topic is the dead-letter topic"
	SkipNoTopic     = "target topic does not exist"
)

// ClassCount is what happened to the dead letters of one class and stage.
type ClassCount struct {
	Class, Stage string
	Count        int
	By           [numOutcomes]int
	// Again counts, for records that failed again through a pipeline (Dead
	// or Late), the class of the new failure.
	Again map[string]int
}

// Report is what a replay did, or would do on a dry run. Only committed
// transactions are counted, except Failed.
type Report struct {
	Topic, Group string
	// Ledger is, for a replay from a Kinesis stream, the ledger file.
	Ledger  string
	DryRun  bool
	Through bool
	Total   int64 // offsets to read at the start (an upper bound on records)
	Done    int64 // offsets read and committed (dry run: read)
	Letters int   // dead letters read
	Count   [numOutcomes]int
	// Failed counts the records of a transaction that was aborted (they
	// stay in the dead-letter topic, uncommitted, for the next run).
	Failed   int
	Skips    map[string]int // per reason
	WhereErr error          // the first --where evaluation error
	Targets  map[string]int // records produced per topic (replayed and parked)
	// Missing is the To topic when it did not exist at the start;
	// Created says the replay had it created (Options.Create, or the
	// cluster on first use).
	Missing string
	Created bool
	// Outside lists pipeline targets written outside the transactions:
	// after an interrupted replay they may hold rows written twice.
	Outside []string
	Elapsed time.Duration
	// Recovered and Resent are, for a replay from a Kinesis stream that
	// finished a batch an interrupted run left pending, the records of
	// that batch found in the target streams and those put again.
	Recovered, Resent int

	classes map[groupKey]*ClassCount
}

// Replayed is the number of records replayed: produced to a target, or run
// through the pipeline (whatever its verdict).
func (r *Report) Replayed() int {
	return r.Count[Replayed] + r.Count[Passed] + r.Count[Filtered] + r.Count[Dead] + r.Count[Late]
}

// Classes returns the per-class counts, largest first.
func (r *Report) Classes() []*ClassCount {
	cs := slices.Collect(maps.Values(r.classes))
	slices.SortFunc(cs, func(a, b *ClassCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Class, b.Class), cmp.Compare(a.Stage, b.Stage))
	})
	return cs
}

func (r *Report) progress(start time.Time) Progress {
	return Progress{Done: r.Done, Total: r.Total, Replayed: r.Replayed(), Parked: r.Count[Parked],
		Skipped: r.Count[Skipped], Elapsed: time.Since(start)}
}

// verdict is the decision on one record, applied to the report once its
// transaction commits.
type verdict struct {
	class, stage string
	outcome      Outcome
	reason       string // Skipped
	target       string // Replayed, Parked: the topic
	again        string // Dead, Late: the new failure's class
}

func (r *Report) apply(v verdict) {
	if r.classes == nil {
		r.classes = map[groupKey]*ClassCount{}
		r.Skips = map[string]int{}
		r.Targets = map[string]int{}
	}
	r.Letters++
	r.Count[v.outcome]++
	k := groupKey{v.class, v.stage}
	c := r.classes[k]
	if c == nil {
		c = &ClassCount{Class: v.class, Stage: v.stage, Again: map[string]int{}}
		r.classes[k] = c
	}
	c.Count++
	c.By[v.outcome]++
	switch v.outcome {
	case Skipped:
		r.Skips[v.reason]++
	case Replayed, Parked:
		r.Targets[v.target]++
	case Dead, Late:
		c.Again[v.again]++
	}
}

// selects reports whether the filter w (nil: all) picks the letter; when
// not, v is the skip, and the first evaluation error is kept.
func (r *Report) selects(w *Filter, l *Letter, v *verdict) bool {
	if w == nil {
		return true
	}
	ok, err := w.Match(l)
	switch {
	case err != nil:
		if r.WhereErr == nil {
			r.WhereErr = err
		}
		v.outcome, v.reason = Skipped, SkipWhereFailed
		return false
	case !ok:
		v.outcome, v.reason = Skipped, SkipNotSelected
		return false
	}
	return true
}

// ReplayRecord is the record a dead letter is replayed as: its key, value
// and non-dead-letter headers, eddy.replay.count set to one more than
// before, and the origin's timestamp when the headers give it (else the
// dead letter's).
func ReplayRecord(l *Letter, topic string) *kgo.Record {
	rec := &kgo.Record{Topic: topic, Key: l.Key, Value: l.Value}
	switch {
	case l.Origin.Timestamp != nil:
		rec.Timestamp = time.UnixMilli(*l.Origin.Timestamp)
	case l.Timestamp != 0:
		rec.Timestamp = time.UnixMilli(l.Timestamp)
	}
	for _, h := range l.Headers {
		if !IsDeadLetterHeader(h.Key) {
			rec.Headers = append(rec.Headers, h)
		}
	}
	rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: sink.HeaderReplayCount, Value: strconv.AppendInt(nil, int64(l.Replays)+1, 10)})
	return rec
}

// ParkRecord is the dead letter unchanged, addressed to the parked topic.
func ParkRecord(l *Letter, parked string) *kgo.Record {
	rec := &kgo.Record{Topic: parked, Key: l.Key, Value: l.Value, Headers: l.Headers}
	if l.Timestamp != 0 {
		rec.Timestamp = time.UnixMilli(l.Timestamp)
	}
	return rec
}

// run is one replay; it is owned by the goroutine that called Run.
type run struct {
	o      *Options
	rep    *Report
	adm    *kadm.Client // nil for files: topics are not checked
	parked string
	exists map[string]bool
	eng    *engine.Engine
	tap    *deadTap
	erec   source.Record
}

// Run replays the dead-letter topic o.Topic up to the end it has when Run
// starts, or with o.DryRun reports what a replay would do. conn are the
// connection options. The report counts what was committed, also when an
// error (for example ErrInterrupted) ends the run.
func Run(ctx context.Context, conn []kgo.Opt, o Options) (*Report, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	rep := &Report{Topic: o.Topic, Group: o.group(), DryRun: o.DryRun, Through: o.Through != nil}
	admCl, err := kgo.NewClient(conn...)
	if err != nil {
		return nil, err
	}
	defer admCl.Close()
	r := &run{o: &o, rep: rep, adm: kadm.NewClient(admCl), parked: ParkedTopic(o.Topic), exists: map[string]bool{}}
	spans, err := plan(ctx, r.adm, o.Topic, rep.Group)
	if err != nil {
		return nil, err
	}
	rep.Total = remaining(spans)
	if o.Through == nil && o.To != ToOriginal {
		ok, err := r.topicExists(ctx, o.To)
		if err != nil {
			return nil, err
		}
		if !ok {
			rep.Missing = o.To
		}
	}
	if testHookPlanned != nil {
		testHookPlanned()
	}
	defer func() { rep.Elapsed = time.Since(start) }()
	if o.DryRun {
		return rep, r.dryRun(ctx, conn, spans)
	}
	if rep.Total == 0 {
		return rep, nil
	}
	if rep.Missing != "" {
		if err := r.createTarget(ctx, admCl, o.To, len(spans)); err != nil {
			return nil, err
		}
		rep.Created = true
	}
	return rep, r.transact(ctx, conn, spans, start)
}

// DryRunLetters reports what a replay of the letters read would do; read
// calls its argument for each letter (e.g. with ReadFile). Target topics
// are not checked (there is no cluster).
func DryRunLetters(o Options, read func(fn func(*Letter) error) error) (*Report, error) {
	o.DryRun = true
	if o.Topic == "" {
		o.Topic = "-"
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	rep := &Report{Topic: o.Topic, DryRun: true, Through: o.Through != nil}
	r := &run{o: &o, rep: rep, parked: ParkedTopic(o.Topic)}
	if err := r.openDry(); err != nil {
		return nil, err
	}
	err := read(func(l *Letter) error { return r.dryOne(context.Background(), l) })
	if err == nil {
		err = r.finishDry()
	}
	rep.Elapsed = time.Since(start)
	return rep, err
}

// dryRun reads the spans as a replay would and decides on each letter.
func (r *run) dryRun(ctx context.Context, conn []kgo.Opt, spans map[int32]span) error {
	if err := r.openDry(); err != nil {
		return err
	}
	cl, err := kgo.NewClient(append(slices.Clip(conn), readOpts()...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	err = scan(ctx, cl, r.o.Topic, spans, func(rec *kgo.Record) error {
		if rec.Attrs.IsControl() {
			r.rep.Done++
			return nil
		}
		l := Decode(rec)
		return r.dryOne(ctx, &l)
	})
	if err != nil {
		return err
	}
	return r.finishDry()
}

// openDry builds the engine of a dry run through a pipeline: no sinks, and
// dead letters only counted.
func (r *run) openDry() error {
	if r.o.Through == nil {
		return nil
	}
	r.tap = &deadTap{}
	eng, err := engine.New(r.o.Through.Plan, engine.Options{Dead: r.tap, Tables: r.o.Through.Tables})
	r.eng = eng
	return err
}

func (r *run) dryOne(ctx context.Context, l *Letter) error {
	r.rep.Done++
	v, _, err := r.decide(ctx, l)
	if err == nil {
		r.rep.apply(v)
	}
	return err
}

func (r *run) finishDry() error {
	if r.eng == nil {
		return nil
	}
	return r.eng.Finish()
}

// topicExists looks a topic up once per run.
func (r *run) topicExists(ctx context.Context, topic string) (bool, error) {
	if r.adm == nil {
		return true, nil
	}
	if ok, seen := r.exists[topic]; seen {
		return ok, nil
	}
	tds, err := r.adm.ListTopics(ctx, topic)
	if err != nil {
		return false, fmt.Errorf("look up topic %q: %w", topic, err)
	}
	td, ok := tds[topic]
	switch {
	case !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition):
		ok = false
	case td.Err != nil:
		return false, fmt.Errorf("look up topic %q: %w", topic, td.Err)
	}
	r.exists[topic] = ok
	return ok, nil
}

// decide says what to do with one letter and returns the record to produce
// (nil for none). Through a pipeline, the letter is run through the engine
// here (inside the open transaction on a real run).
func (r *run) decide(ctx context.Context, l *Letter) (verdict, *kgo.Record, error) {
	v := verdict{class: l.Class, stage: l.Stage}
	o := r.o
	if !r.rep.selects(o.Where, l, &v) {
		return v, nil, nil
	}
	if l.Replays >= o.MaxReplays {
		v.outcome, v.target = Parked, r.parked
		return v, ParkRecord(l, r.parked), nil
	}
	if r.eng != nil {
		out, again, err := r.through(l)
		v.outcome, v.again = out, again
		return v, nil, err
	}
	target := o.To
	if target == ToOriginal {
		target = l.Origin.Topic
		switch {
		case target == "" && l.Origin.File != "":
			v.outcome, v.reason = Skipped, SkipFileOrigin
			return v, nil, nil
		case target == "":
			v.outcome, v.reason = Skipped, SkipNoOrigin
			return v, nil, nil
		case target == o.Topic:
			v.outcome, v.reason = Skipped, SkipSelf
			return v, nil, nil
		case l.Origin.Kinesis():
			v.outcome, v.reason = Skipped, SkipKinesisTopic
			return v, nil, nil
		}
		ok, err := r.topicExists(ctx, target)
		if err != nil {
			return v, nil, err
		}
		if !ok {
			v.outcome, v.reason = Skipped, SkipNoTopic+" ("+target+")"
			return v, nil, nil
		}
	}
	v.outcome, v.target = Replayed, target
	return v, ReplayRecord(l, target), nil
}

// through runs one letter through the pipeline and returns the verdict
// from the engine's counters.
func (r *run) through(l *Letter) (Outcome, string, error) {
	rec := ReplayRecord(l, l.Origin.Topic)
	e := &r.erec
	*e = source.Record{Key: rec.Key, Value: rec.Value, Headers: e.Headers[:0],
		Topic: l.Topic, Partition: l.Partition, Offset: l.Offset, Timestamp: rec.Timestamp.UnixMilli()}
	if rec.Timestamp.IsZero() {
		e.Timestamp = 0
	}
	switch o := &l.Origin; {
	case o.File != "" && o.Line != nil:
		e.Topic, e.Offset, e.Partition, e.File = o.File, *o.Line, 0, true
	case o.Topic != "" && o.Partition != nil && o.Offset != nil:
		e.Topic, e.Partition, e.Offset = o.Topic, *o.Partition, *o.Offset
	}
	for _, h := range rec.Headers {
		e.Headers = append(e.Headers, source.Header{Key: h.Key, Value: h.Value})
	}
	before := r.eng.Stats()
	r.tap.last = ""
	if err := r.eng.Process([]source.Record{*e}); err != nil {
		return 0, "", err
	}
	after := r.eng.Stats()
	switch {
	case after.Passed > before.Passed:
		return Passed, "", nil
	case after.Filtered > before.Filtered:
		return Filtered, "", nil
	case after.Late > before.Late:
		return Late, cmp.Or(r.tap.last, "late (dropped)"), nil
	}
	return Dead, r.tap.last, nil
}

// deadTap passes dead letters on and remembers the class of the last one.
type deadTap struct {
	next sink.DeadLetters // nil: discard
	last string
}

func (t *deadTap) WriteDead(d *sink.DeadLetter) error {
	t.last = Class(d.StageKind, d.Error)
	if t.next == nil {
		return nil
	}
	return t.next.WriteDead(d)
}

func (t *deadTap) Flush(ctx context.Context) error {
	if f, ok := t.next.(sink.Flusher); ok {
		return f.Flush(ctx)
	}
	return nil
}

func (t *deadTap) Close() error {
	if t.next == nil {
		return nil
	}
	return t.next.Close()
}

// sameCluster reports whether a pipeline's Kafka target is on the
// dead-letter topic's cluster (it names no brokers and no config).
func sameCluster(k *pipeline.KafkaTarget) bool {
	return k != nil && len(k.Brokers) == 0 && k.Config == ""
}

// openThrough builds the engine of a real run: Kafka targets on this
// cluster are written through the transactional client cl.
func (r *run) openThrough(cl *kgo.Client) (closeAll func() error, err error) {
	th := r.o.Through
	p := th.Plan.Pipeline
	var closers []func() error
	closeAll = func() error {
		var errs []error
		for i := len(closers) - 1; i >= 0; i-- {
			errs = append(errs, closers[i]())
		}
		closers = nil
		return errors.Join(errs...)
	}
	defer func() {
		if err != nil {
			closeAll()
		}
	}()
	var sinks []sink.Sink
	for _, t := range p.Sinks {
		var s sink.Sink
		if sameCluster(t.Kafka) {
			s = sink.NewKafka(cl, t.Kafka.Topic, false)
		} else {
			if s, err = th.OpenSink(t); err != nil {
				return nil, err
			}
			r.rep.Outside = append(r.rep.Outside, targetName(t))
		}
		closers = append(closers, s.Close)
		sinks = append(sinks, s)
	}
	r.tap = &deadTap{}
	if t := p.DLQ; t != nil && sameCluster(t.Kafka) {
		r.tap.next = sink.NewKafkaDead(cl, t.Kafka.Topic, p.Name, false)
	} else {
		if r.tap.next, err = th.OpenDead(t); err != nil {
			return nil, err
		}
		if t != nil {
			r.rep.Outside = append(r.rep.Outside, "dlq "+targetName(*t))
		}
	}
	closers = append(closers, r.tap.Close)
	r.eng, err = engine.New(th.Plan, engine.Options{Sinks: sinks, Dead: r.tap, Tables: th.Tables})
	return closeAll, err
}

func targetName(t pipeline.Target) string {
	if t.Kafka != nil {
		return "kafka:" + t.Kafka.Topic
	}
	return "file:" + t.File
}

// testHookPlanned, when set, is called once Run knows where it stops.
var testHookPlanned func()

// testHookBeforeEnd, when set, is called before each transaction ends; an
// error ends Run at once as a crash would: the transaction is left open
// and the group is not left.
var testHookBeforeEnd func(txn int) error

// promises collects produce results; promises run on the client's
// goroutines.
type promises struct {
	mu    sync.Mutex
	first error
	n     int
}

func (p *promises) done(r *kgo.Record, err error) {
	if err == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.first == nil {
		p.first = fmt.Errorf("produce to %s: %w", r.Topic, err)
	}
	p.n++
}

func (p *promises) err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.first
}

// transact is the real replay: per batch, one transaction with the
// produced records and the consumed offsets.
func (r *run) transact(ctx context.Context, conn []kgo.Opt, spans map[int32]span, start time.Time) (err error) {
	o, rep := r.o, r.rep
	txnTimeout := time.Minute
	oneTxn := o.Through != nil && o.Through.Plan.Window != nil
	if oneTxn {
		// Window rows come out when windows close, at the end: the whole
		// replay is one transaction so rows and offsets commit together.
		txnTimeout = 10 * time.Minute
	}
	// RequireStableFetchOffsets is not set: franz-go always requires
	// stable offsets now (the option is a deprecated no-op).
	opts := append(slices.Clip(conn), readOpts()...)
	opts = append(opts,
		kgo.TransactionalID(TransactionalID(rep.Group)),
		kgo.TransactionTimeout(txnTimeout),
		kgo.ConsumerGroup(rep.Group),
		kgo.ConsumeTopics(o.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.InstanceID(instanceID),
	)
	if o.Through != nil {
		// As in eddy run, a pipeline's Kafka sinks and dead-letter topic
		// are created when the cluster allows it.
		opts = append(opts, kgo.AllowAutoTopicCreation())
	}
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return err
	}
	crashed := false
	defer func() {
		sess.Close()
		if crashed || (err != nil && !errors.Is(err, ErrInterrupted)) {
			// A failed run may have been fenced by a newer run with this
			// group, whose member has the same instance ID: leaving would
			// remove that one. The member left behind times out or is
			// replaced by the next run.
			return
		}
		// A static member does not leave on Close: leave explicitly so the
		// group is empty (and its offsets can be reset) right away.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		r.adm.LeaveGroup(lctx, kadm.LeaveGroup(rep.Group).InstanceIDs(instanceID).Reason("eddy dlq replay finished"))
	}()
	cl := sess.Client()
	// Initialising the producer fences an earlier run with this group and
	// aborts the transaction it left open.
	if _, _, err := cl.ProducerID(ctx); err != nil {
		return fmt.Errorf("start transactional producer %s: %w", TransactionalID(rep.Group), err)
	}
	closeAll := func() error { return nil }
	if o.Through != nil {
		if closeAll, err = r.openThrough(cl); err != nil {
			return err
		}
	}
	defer func() {
		if cerr := closeAll(); err == nil && !crashed {
			err = cerr
		}
	}()

	rg := newRanger(o.Topic, spans)
	var idle []int32
	for p := range spans {
		if !rg.pending[p] {
			idle = append(idle, p)
		}
	}
	if len(idle) > 0 {
		cl.PauseFetchPartitions(map[string][]int32{o.Topic: idle})
	}

	// What the transactions commit: per partition, the offset after the
	// last record handled. The session would commit the offset after the
	// last record polled, which can be beyond the end this run stops at.
	handled := map[int32]kgo.EpochOffset{}
	clamp := func(req *kmsg.TxnOffsetCommitRequest) error {
		topics := req.Topics[:0]
		for _, t := range req.Topics {
			if t.Topic != o.Topic {
				continue
			}
			parts := t.Partitions[:0]
			for _, p := range t.Partitions {
				if h, ok := handled[p.Partition]; ok {
					p.Offset, p.LeaderEpoch = h.Offset, h.Epoch
					parts = append(parts, p)
				}
			}
			if len(parts) > 0 {
				t.Partitions = parts
				topics = append(topics, t)
			}
		}
		req.Topics = topics
		return nil
	}
	endCtx := func() (context.Context, context.CancelFunc) {
		// Ending is never cancelled half-way (that can leave the client in
		// an unknown state); it is bounded instead.
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		return kgo.PreTxnCommitFnContext(c, clamp), cancel
	}
	abort := func() {
		c, cancel := endCtx()
		defer cancel()
		sess.End(c, kgo.TryAbort)
	}

	lim := pace.New(o.Rate, 0)
	recCtx := context.WithoutCancel(ctx)
	var (
		inTxn    bool
		txns     int
		verdicts []verdict
		done     int64 // offsets handled in the open transaction
		prom     = &promises{}
		parkedOK bool
	)
	interrupted := func() error {
		if inTxn {
			abort()
		}
		return fmt.Errorf("%w: %d records replayed, %d parked before it; run the same command again to resume", ErrInterrupted, rep.Replayed(), rep.Count[Parked])
	}
	failed := func(err error) error {
		rep.Failed += len(verdicts)
		if inTxn {
			abort()
		}
		return err
	}
	for !rg.done() {
		fs := sess.PollRecords(ctx, o.batchSize())
		if ctx.Err() != nil {
			return interrupted()
		}
		if err := fetchErr(fs); err != nil {
			return failed(err)
		}
		var work []*kgo.Record
		for rec := range fs.RecordsAll() {
			if rg.take(rec) {
				work = append(work, rec)
			}
		}
		rg.pauseDone(cl)
		if len(work) == 0 {
			continue
		}
		if !inTxn {
			if err := sess.Begin(); err != nil {
				return failed(fmt.Errorf("begin transaction: %w", err))
			}
			inTxn = true
		}
		for _, rec := range work {
			if ctx.Err() != nil {
				return interrupted()
			}
			if !rec.Attrs.IsControl() {
				l := Decode(rec)
				v, out, err := r.decide(ctx, &l)
				if err != nil {
					return failed(err)
				}
				if out != nil {
					if err := lim.Wait(ctx); err != nil {
						return interrupted()
					}
					if v.outcome == Parked && !parkedOK {
						if err := r.ensureParked(ctx, len(spans)); err != nil {
							return failed(err)
						}
						parkedOK = true
					}
					cl.Produce(recCtx, out, prom.done)
				}
				verdicts = append(verdicts, v)
			}
			handled[rec.Partition] = kgo.EpochOffset{Epoch: rec.LeaderEpoch, Offset: rec.Offset + 1}
			done++
		}
		if oneTxn && !rg.done() {
			continue
		}
		if r.eng != nil {
			if oneTxn {
				if err := r.eng.Finish(); err != nil {
					return failed(err)
				}
			}
			if err := r.eng.Flush(recCtx); err != nil {
				return failed(err)
			}
		}
		if err := cl.Flush(recCtx); err != nil {
			return failed(fmt.Errorf("flush: %w", err))
		}
		if err := prom.err(); err != nil {
			return failed(err)
		}
		txns++
		if testHookBeforeEnd != nil {
			if err := testHookBeforeEnd(txns); err != nil {
				crashed = true
				return err
			}
		}
		c, cancel := endCtx()
		committed, err := sess.End(c, kgo.TryCommit)
		cancel()
		inTxn = false
		if err != nil || !committed {
			rep.Failed += len(verdicts)
			if err == nil {
				err = errors.New("the group rebalanced (is another replay with this group running?)")
			}
			return fmt.Errorf("transaction aborted, its %d records are left for the next run: %w", len(verdicts), err)
		}
		for _, v := range verdicts {
			rep.apply(v)
		}
		rep.Done += done
		verdicts, done = verdicts[:0], 0
		if o.Progress != nil {
			o.Progress(rep.progress(start))
		}
	}
	return nil
}

// createTarget makes a missing --to topic exist: created with Create, or
// else asked for in a metadata request that allows auto-creation, as kcat
// and the Java producer do, so that a cluster which creates topics on
// first use (auto.create.topics.enable) does; one that does not is named
// in the error.
func (r *run) createTarget(ctx context.Context, cl *kgo.Client, topic string, partitions int) error {
	if r.o.Create {
		_, err := r.adm.CreateTopic(ctx, int32(max(partitions, 1)), -1, nil, topic)
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create topic %q: %w", topic, err)
		}
		r.exists[topic] = true
		return nil
	}
	req := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, t)
	req.AllowAutoTopicCreation = true
	for try := 0; try < 10; try++ {
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return fmt.Errorf("look up topic %q: %w", topic, err)
		}
		if len(resp.Topics) == 1 {
			switch err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); {
			case err == nil && len(resp.Topics[0].Partitions) > 0:
				r.exists[topic] = true
				return nil
			case errors.Is(err, kerr.UnknownTopicOrPartition):
				return fmt.Errorf("%w: %q, and the cluster does not create topics on first use: create it, or pass --create", ErrNoTopic, topic)
			}
		}
		// being created (LEADER_NOT_AVAILABLE): ask again
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(100*(try+1)) * time.Millisecond):
		}
	}
	return fmt.Errorf("%w: %q: the cluster did not finish creating it in time", ErrNoTopic, topic)
}

// ensureParked creates the parked topic when it does not exist, with as
// many partitions as the dead-letter topic and the broker's replication.
func (r *run) ensureParked(ctx context.Context, partitions int) error {
	ok, err := r.topicExists(ctx, r.parked)
	if err != nil || ok {
		return err
	}
	_, err = r.adm.CreateTopic(ctx, int32(partitions), -1, nil, r.parked)
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create topic %q: %w", r.parked, err)
	}
	r.exists[r.parked] = true
	return nil
}
