package job

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
)

// The kafka source (pipeline/kind_kafka.go): topics of a cluster, which
// is also the cluster of the sinks that name none. With a state section a
// group is not joined: eddy assigns itself every partition, resumes at the
// checkpoint's offsets and commits them to the group with the checkpoints,
// in the first Kafka sink's transaction or after the commits.
func init() {
	registerSource(&sourceKind{
		name: "kafka",
		connect: func(ctx context.Context, r *runner) error {
			k := r.p.Source.Kafka
			cfg, err := r.cluster(k.Brokers, k.Config)
			if err != nil {
				return err
			}
			r.srcCfg = cfg
			ping, err := cfg.Client(ctx, 10*time.Second)
			if err != nil {
				return err
			}
			ping.Close()
			// once connected, so that a failure is the only line it prints
			in := cfg.Get("bootstrap.servers")
			if r.o.Brokers != "" && len(k.Brokers) > 0 && strings.Join(k.Brokers, ",") != r.o.Brokers {
				in += " (from -b; the spec names " + strings.Join(k.Brokers, ",") + ")"
			}
			fmt.Fprintf(r.o.Stderr, "eddy: reading %s from %s\n", strings.Join(k.Topics, ","), in)
			return nil
		},
		open: func(ctx context.Context, r *runner) (source.Source, bool, error) {
			k := r.p.Source.Kafka
			if r.st != nil && k.Group != "" && !r.st.groupInTxn {
				cl, err := r.srcCfg.Client(ctx, 10*time.Second)
				if err != nil {
					return nil, false, err
				}
				r.closers = append(r.closers, func() error { cl.Close(); return nil })
				r.st.cp.Group = &sink.GroupOffsets{Adm: kadm.NewClient(cl), Group: k.Group}
			}
			conn, err := r.srcCfg.Opts()
			if err != nil {
				return nil, false, specErr(err)
			}
			ks, err := source.OpenKafka(ctx, conn, source.KafkaOptions{Topics: k.Topics, Start: k.Start, Stop: k.Stop, Group: k.Group,
				GroupOffsetsOnly: r.st != nil, Resume: resumeOffsets(r.st.restored())})
			if err != nil {
				return nil, false, err
			}
			r.closers = append(r.closers, ks.Close)
			// with state the group's offsets are committed with the checkpoints
			return ks, k.Group != "" && r.st == nil, nil
		},
		describe: func(s pipeline.Source) string {
			topics := slices.Clone(s.Kafka.Topics)
			slices.Sort(topics)
			return "kafka topics " + strings.Join(topics, ",")
		},
		reads:   func(pipeline.Source) string { return "" },
		group:   func(s pipeline.Source) string { return s.Kafka.Group },
		offsets: true,
	})
}
