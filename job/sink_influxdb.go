package job

import (
	"context"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
)

// The influxdb kind (pipeline/kind_influxdb.go, docs/serving.md): one point
// per row, timestamped window_end, so a rerun from a checkpoint overwrites
// the same points.
func init() {
	registerSink(&sinkKind{
		name: "influxdb",
		open: func(ctx context.Context, r *runner, t pipeline.Target) (sink.Sink, error) {
			l, err := sink.LayoutOf(r.p)
			if err != nil {
				return nil, err
			}
			return orNil[sink.Sink](sink.NewInfluxDB(ctx, t.InfluxDB, sink.ServingOptions{Layout: l}))
		},
		describe: func(t pipeline.Target) string {
			in := t.InfluxDB
			return "influxdb " + in.URL + " db " + in.DB + " org " + in.Org + " bucket " + in.Bucket + " measurement " + in.Measurement
		},
		label: func(t pipeline.Target) string {
			in := t.InfluxDB
			return withPart(withPart(withPart(withPart("influxdb "+in.URL, "db", in.DB), "org", in.Org), "bucket", in.Bucket),
				"measurement", in.Measurement)
		},
	})
}
