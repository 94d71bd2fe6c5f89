package sink

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/value"
)

const kindSink = "kafka sink"

// producer wraps an async franz-go producer: writes are produced without
// waiting, failures are remembered and reported by the next call, and Flush
// waits until everything produced so far is acknowledged.
type producer struct {
	cl    *kgo.Client
	owned bool
	topic string
	kind  string // for messages: "kafka sink" or "kafka dead-letter topic"
	mu    sync.Mutex
	err   error
	n     int64 // acknowledged records
}

func (p *producer) produce(r *kgo.Record) error {
	if err := p.failed(); err != nil {
		return err
	}
	p.cl.Produce(context.Background(), r, func(_ *kgo.Record, err error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if err != nil && p.err == nil {
			p.err = fmt.Errorf("produce to %s: %w", p.topic, err)
		}
		if err == nil {
			p.n++
		}
	})
	return nil
}

func (p *producer) acked() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

func (p *producer) failed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Flush waits for every record produced so far to be acknowledged.
func (p *producer) Flush(ctx context.Context) error {
	if err := p.cl.Flush(ctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			n := p.cl.BufferedProduceRecords()
			return fmt.Errorf("%s %q: flush: %d records not acknowledged in time (%w); check that the brokers are up and reachable (not paused, partitioned or overloaded), then run again", p.kind, p.topic, n, err)
		}
		return fmt.Errorf("%s %q: flush: %w", p.kind, p.topic, err)
	}
	return p.failed()
}

func (p *producer) close() error {
	err := p.Flush(context.Background())
	if p.owned {
		p.cl.Close()
	}
	return err
}

// Kafka writes rows as JSON record values to a topic, keyed by the row's
// Key (see the pipeline's sink key fields).
type Kafka struct {
	p    producer
	txn  *txnState // nil: no transactions (NewKafka)
	avro *AvroRows // nil: JSON values
}

// NewKafka writes to topic through cl. With owned, Close closes cl.
func NewKafka(cl *kgo.Client, topic string, owned bool) *Kafka {
	return &Kafka{p: producer{cl: cl, topic: topic, owned: owned, kind: kindSink}}
}

// WithAvro makes the sink write Avro values framed for a schema registry
// (format: avro) instead of JSON. It returns k.
func (k *Kafka) WithAvro(a *AvroRows) *Kafka {
	k.avro = a
	return k
}

// Transactional reports whether the sink writes in transactions
// (NewKafkaTxn).
func (k *Kafka) Transactional() bool { return k.txn != nil }

// Write produces one row (asynchronously; see Flush).
func (k *Kafka) Write(r *Row) error {
	val := r.JSON
	if k.avro != nil {
		b, err := k.avro.Encode(r)
		if err != nil {
			return fmt.Errorf("kafka sink %s: %w", k.p.topic, err)
		}
		val = b
	}
	rec := &kgo.Record{Topic: k.p.topic, Value: append([]byte(nil), val...)}
	if r.Key != nil {
		rec.Key = append([]byte(nil), r.Key...)
	}
	if t := k.txn; t != nil {
		rec.Headers = []kgo.RecordHeader{{Key: HeaderSink, Value: []byte(t.id)}}
		t.pending++
		if t.redo {
			t.logRow(rec.Key, rec.Value)
		}
	}
	return k.p.produce(rec)
}

// Flush waits until every row written is acknowledged.
func (k *Kafka) Flush(ctx context.Context) error { return k.p.Flush(ctx) }

// Close flushes and closes; a transactional sink aborts its open
// transaction (what it holds is after the last checkpoint).
func (k *Kafka) Close() error {
	if k.txn == nil {
		return k.p.close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := k.p.cl.AbortBufferedRecords(ctx)
	if err == nil {
		err = k.p.cl.EndTransaction(ctx, kgo.TryAbort)
	}
	k.p.cl.Close()
	if err != nil {
		return fmt.Errorf("kafka sink %s: abort the open transaction: %w", k.p.topic, err)
	}
	return nil
}

// KafkaDead writes dead letters to a topic: the original key, value and
// headers, plus eddy.* headers with the error and origin (all values are
// UTF-8 strings; format in docs/dead-letters.md).
type KafkaDead struct {
	p        producer
	pipeline string
}

// NewKafkaDead writes dead letters of the named pipeline to topic.
func NewKafkaDead(cl *kgo.Client, topic, pipeline string, owned bool) *KafkaDead {
	return &KafkaDead{p: producer{cl: cl, topic: topic, owned: owned, kind: "kafka dead-letter topic"}, pipeline: pipeline}
}

// The eddy.* dead-letter headers.
const (
	HeaderError           = "eddy.error"
	HeaderStage           = "eddy.stage"
	HeaderSourceTopic     = "eddy.source.topic"
	HeaderSourcePartition = "eddy.source.partition"
	HeaderSourceOffset    = "eddy.source.offset"
	HeaderSourceSequence  = "eddy.source.sequence" // Kinesis sources
	HeaderSourceTimestamp = "eddy.source.timestamp"
	HeaderSourceFile      = "eddy.source.file"
	HeaderSourceLine      = "eddy.source.line"
	HeaderPipeline        = "eddy.pipeline"
	HeaderReplayCount     = "eddy.replay.count"
)

// StageLabel is the eddy.stage value: "2:filter", or "decode"/"time" for the
// steps before the stages.
func StageLabel(index int, kind string) string {
	if index < 0 {
		return kind
	}
	return strconv.Itoa(index) + ":" + kind
}

// WriteDead produces one dead letter.
func (k *KafkaDead) WriteDead(d *DeadLetter) error {
	rec := &kgo.Record{Topic: k.p.topic, Key: clone(d.Key), Value: clone(d.Value)}
	replay := "0"
	for _, h := range d.Headers {
		if h.Key == HeaderReplayCount {
			replay = string(h.Value)
			continue
		}
		if strings.HasPrefix(h.Key, "eddy.") {
			continue // replaced by this failure's headers
		}
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: h.Key, Value: clone(h.Value)})
	}
	add := func(k, v string) { rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)}) }
	add(HeaderError, d.Error)
	add(HeaderStage, StageLabel(d.StageIndex, d.StageKind))
	o := &d.Origin
	if o.IsFile {
		add(HeaderSourceFile, o.File)
		add(HeaderSourceLine, strconv.FormatInt(o.Line, 10))
	} else {
		add(HeaderSourceTopic, o.Topic)
		add(HeaderSourcePartition, strconv.Itoa(int(o.Partition)))
		if o.Seq != "" {
			add(HeaderSourceSequence, o.Seq)
		} else {
			add(HeaderSourceOffset, strconv.FormatInt(o.Offset, 10))
		}
		if o.Timestamp != 0 {
			add(HeaderSourceTimestamp, value.FormatTime(o.Timestamp))
		}
	}
	add(HeaderPipeline, k.pipeline)
	add(HeaderReplayCount, replay)
	return k.p.produce(rec)
}

// Flush waits until every dead letter written is acknowledged.
func (k *KafkaDead) Flush(ctx context.Context) error { return k.p.Flush(ctx) }

// Close flushes and closes.
func (k *KafkaDead) Close() error { return k.p.close() }

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}
