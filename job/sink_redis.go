package job

import (
	"context"
	"strconv"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
)

// The redis kind (pipeline/kind_redis.go, docs/serving.md): the latest
// window per key as one hash, written newer-wins on the server, so a rerun
// from a checkpoint rewrites what is there with the same values.
func init() {
	registerSink(&sinkKind{
		name: "redis",
		open: func(ctx context.Context, r *runner, t pipeline.Target) (sink.Sink, error) {
			l, err := sink.LayoutOf(r.p)
			if err != nil {
				return nil, err
			}
			return orNil[sink.Sink](sink.NewRedis(ctx, t.Redis, sink.ServingOptions{Layout: l}))
		},
		describe: func(t pipeline.Target) string {
			return "redis " + t.Redis.Addr + " db " + strconv.Itoa(t.Redis.DB) + " prefix " + t.Redis.Prefix
		},
	})
}
