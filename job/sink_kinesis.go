package job

import (
	"context"
	"strings"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
)

// The kinesis sink and dead-letter kind (pipeline/kind_kinesis.go): rows
// put into a stream with PutRecords. Kinesis has no transactions: after a
// restart from a checkpoint the rows since it are put again
// (at-least-once, named in the run's delivery notice).
func init() {
	registerSink(&sinkKind{
		name: "kinesis",
		open: func(ctx context.Context, r *runner, t pipeline.Target) (sink.Sink, error) {
			k := t.Kinesis
			cl, err := KinesisClient(ctx, k.Region, k.Endpoint, r.o.AWSProfile)
			if err != nil {
				return nil, err
			}
			r.kinesisAtLeastOnce("kinesis:" + k.Stream)
			return sink.NewKinesis(cl, k.Stream), nil
		},
		openDead: func(ctx context.Context, r *runner, t pipeline.Target) (sink.DeadLetters, error) {
			k := t.Kinesis
			cl, err := KinesisClient(ctx, k.Region, k.Endpoint, r.o.AWSProfile)
			if err != nil {
				return nil, err
			}
			r.kinesisAtLeastOnce("dlq:kinesis:" + k.Stream)
			return sink.NewKinesisDead(cl, k.Stream), nil
		},
		describe: func(t pipeline.Target) string {
			return "kinesis stream " + t.Kinesis.Stream + " key " + strings.Join(t.Kinesis.Key, ",")
		},
		label: func(t pipeline.Target) string {
			return withPart("kinesis stream "+t.Kinesis.Stream, "key", strings.Join(t.Kinesis.Key, ","))
		},
	})
}

// kinesisAtLeastOnce names a destination that a restart writes again.
func (r *runner) kinesisAtLeastOnce(name string) {
	if r.st != nil {
		r.st.inexact(name)
		return
	}
	r.atLeastOnce = append(r.atLeastOnce, name)
}
