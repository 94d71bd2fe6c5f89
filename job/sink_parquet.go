package job

import (
	"context"

	"github.com/eddyhq/eddy/duck"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
)

// The parquet kind (pipeline/kind_parquet.go): one file written at the
// end (path), which neither a state section nor a consumer group can
// make durable in time, or rolling files in a directory (dir), kept
// after a restart (at-least-once).
func init() {
	registerSink(&sinkKind{
		name: "parquet",
		open: func(_ context.Context, r *runner, t pipeline.Target) (sink.Sink, error) {
			pq := t.Parquet // checkRun refused a path with a group or state
			rows, every, _ := pipeline.ParseRotate(pq.Rotate)
			path := pq.Path
			if pq.Dir != "" {
				path = pq.Dir
			}
			w, err := duck.OpenParquet(path, duck.ParquetOptions{Dir: pq.Dir != "", RotateRows: rows, RotateEvery: every})
			if err != nil {
				return nil, err
			}
			r.st.inexact("parquet:" + path)
			return w, nil
		},
		describe: func(t pipeline.Target) string {
			if t.Parquet.Dir != "" {
				return "parquet dir " + abs(t.Parquet.Dir) + " rotate " + t.Parquet.Rotate
			}
			return "parquet " + abs(t.Parquet.Path)
		},
		writes: func(t pipeline.Target) []output {
			if t.Parquet.Dir != "" {
				return []output{{path: t.Parquet.Dir, field: "parquet.dir", dir: true}}
			}
			return []output{{path: t.Parquet.Path, field: "parquet.path"}}
		},
		refuseState: func(t pipeline.Target) (string, string) {
			if t.Parquet.Path == "" {
				return "", ""
			}
			return "parquet.path", "writes its file only at the end, with the rows of this process only, so a run restarted from a checkpoint would lose the rows before it; use parquet {dir, rotate} with state"
		},
		refuseGroup: func(t pipeline.Target) (string, string) {
			if t.Parquet.Path == "" {
				return "", ""
			}
			return "parquet.path", "writes its file only at the end, so offsets of a consumer group could be committed before rows are durable; use parquet {dir, rotate} with a group"
		},
	})
}
