package job

import (
	"context"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
)

// The prometheus kind (pipeline/kind_prometheus.go, docs/serving.md):
// samples by remote write. Prometheus keeps a series' first sample at a
// time, so a rerun from a checkpoint resends what it already holds and the
// sink skips the samples it refuses as duplicates.
func init() {
	registerSink(&sinkKind{
		name: "prometheus",
		open: func(ctx context.Context, r *runner, t pipeline.Target) (sink.Sink, error) {
			l, err := sink.LayoutOf(r.p)
			if err != nil {
				return nil, err
			}
			return orNil[sink.Sink](sink.NewPrometheus(ctx, t.Prometheus, sink.ServingOptions{Layout: l}))
		},
		describe: func(t pipeline.Target) string {
			return "prometheus " + t.Prometheus.RemoteWrite + " prefix " + t.Prometheus.Prefix
		},
		label: func(t pipeline.Target) string {
			return withPart("prometheus "+t.Prometheus.RemoteWrite, "prefix", t.Prometheus.Prefix)
		},
	})
}
