package job

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/state"
)

// The kafka sink and dead-letter kind (pipeline/kind_kafka.go): records
// produced to a topic; with a state section in transactions committed at
// each checkpoint with its marker, redone after a restart when the crash
// came between the first sink's commit and this one's.
func init() {
	registerSink(&sinkKind{
		name: "kafka",
		open: func(ctx context.Context, r *runner, t pipeline.Target) (sink.Sink, error) {
			avro, err := r.avroRows(t.Kafka)
			if err != nil {
				return nil, err
			}
			if r.st != nil {
				k, err := r.st.openKafka(ctx, r, t)
				if err != nil {
					return nil, err
				}
				return k.WithAvro(avro), nil
			}
			cl, err := r.producer(ctx, t.Kafka)
			if err != nil {
				return nil, err
			}
			r.atLeastOnce = append(r.atLeastOnce, "kafka:"+t.Kafka.Topic)
			return sink.NewKafka(cl, t.Kafka.Topic, true).WithAvro(avro), nil
		},
		openDead: func(ctx context.Context, r *runner, t pipeline.Target) (sink.DeadLetters, error) {
			cl, err := r.producer(ctx, t.Kafka)
			if err != nil {
				return nil, err
			}
			r.atLeastOnce = append(r.atLeastOnce, "dlq:"+t.Kafka.Topic)
			return sink.NewKafkaDead(cl, t.Kafka.Topic, r.p.Name, true), nil
		},
		describe: func(t pipeline.Target) string {
			return "kafka topic " + t.Kafka.Topic + " key " + strings.Join(t.Kafka.Key, ",")
		},
		label: func(t pipeline.Target) string {
			return withPart("kafka topic "+t.Kafka.Topic, "key", strings.Join(t.Kafka.Key, ","))
		},
		holdsCheckpoint: true,
	})
}

// openKafka opens a Kafka sink that writes in transactions committed at
// each checkpoint with the checkpoint's marker. The first Kafka sink on the
// source's cluster commits the source group's offsets in its transactions;
// the sinks that commit after another (a DuckDB table, an earlier Kafka
// sink) keep their open transaction's rows for the checkpoint (Redo).
func (s *stateRun) openKafka(ctx context.Context, r *runner, t pipeline.Target) (*sink.Kafka, error) {
	name := describeTarget(t)
	cfg, err := r.targetConfig(t.Kafka)
	if err != nil {
		return nil, err
	}
	// one transactional ID per pipeline and sink: a restarted run fences
	// the killed one and aborts its open transaction
	id := fmt.Sprintf("eddy-state.%s.%s", s.cp.Meta.Fingerprint, state.Fingerprint([]state.Field{{Name: "sink", Value: name}}))
	timeout := min(max(time.Minute, 3*r.p.State.CheckpointEvery), 15*time.Minute)
	cl, err := r.producer(ctx, t.Kafka, kgo.TransactionalID(id), kgo.TransactionTimeout(timeout))
	if err != nil {
		return nil, err
	}
	o := sink.KafkaTxnOptions{Redo: s.deciders > 0 || s.redoers > 0}
	if g := r.p.Source.Kafka; g != nil && g.Group != "" && !s.groupInTxn && cfg == r.srcCfg {
		o.Group, s.groupInTxn = g.Group, true
	}
	s.redoers++
	k, err := sink.NewKafkaTxn(ctx, cl, t.Kafka.Topic, id, o)
	if err != nil {
		cl.Close()
		return nil, err
	}
	return k, nil
}
