package job

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/eddyhq/eddy/internal/awsconf"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/state"
)

// The kinesis source (pipeline/kind_kinesis.go): a Kinesis data stream,
// its shards as partitions. Kinesis has no consumer group to commit to:
// without a state section a restart starts at start again; with one it
// resumes after each shard's last sequence number handled
// (engine.PartitionState.After) and skips the shards read to their end.
func init() {
	registerSource(&sourceKind{
		name: "kinesis",
		open: func(ctx context.Context, r *runner) (source.Source, bool, error) {
			k := r.p.Source.Kinesis
			cl, err := KinesisClient(ctx, k.Region, k.Endpoint, r.o.AWSProfile)
			if err != nil {
				return nil, false, err
			}
			ks, err := source.OpenKinesis(ctx, cl, source.KinesisOptions{Stream: k.Stream, Start: k.Start, Stop: k.Stop,
				Resume: resumeKinesis(r.st.restored())})
			if err != nil {
				return nil, false, err
			}
			r.closers = append(r.closers, ks.Close)
			return ks, false, nil
		},
		describe: func(s pipeline.Source) string { return "kinesis stream " + s.Kinesis.Stream },
		reads:    func(pipeline.Source) string { return "" },
		group:    func(pipeline.Source) string { return "" },
	})
}

// KinesisClient is a Kinesis client for region and endpoint ("" for the
// defaults) with credentials from the standard chain and profile.
func KinesisClient(ctx context.Context, region, endpoint, profile string) (*kinesis.Client, error) {
	cfg, err := awsconf.Load(ctx, awsconf.Options{Region: region, Endpoint: endpoint, Profile: profile})
	if err != nil {
		return nil, err
	}
	return kinesis.NewFromConfig(cfg), nil
}

// resumeKinesis gives a Kinesis source the shard positions of a checkpoint.
func resumeKinesis(ck *state.Checkpoint) map[source.Partition]source.KinesisResume {
	if ck == nil {
		return nil
	}
	out := map[source.Partition]source.KinesisResume{}
	for _, p := range ck.Engine.Partitions {
		out[source.Partition{Topic: p.Topic, Partition: p.Partition}] = source.KinesisResume{After: p.After, Done: p.Done}
	}
	return out
}
