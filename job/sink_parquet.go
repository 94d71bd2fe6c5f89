package job

import (
	"context"

	"github.com/eddyhq/eddy/duck"
	"github.com/eddyhq/eddy/internal/s3store"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
)

// The parquet kind (pipeline/kind_parquet.go): one file written at the
// end (path), which neither a state section nor a consumer group can
// make durable in time, or rolling files in a directory (dir): with a
// state section named and made visible at each checkpoint with a marker
// (duck/parquet_exact.go), so the directory, which cannot redo a commit,
// decides which checkpoint a restart restores; without one kept after a
// restart (at-least-once).
func init() {
	registerSink(&sinkKind{
		name: "parquet",
		open: func(ctx context.Context, r *runner, t pipeline.Target) (sink.Sink, error) {
			pq := t.Parquet // checkRun refused a path with a group or state
			rows, every, _ := pipeline.ParseRotate(pq.Rotate)
			path := pq.Path
			if pq.Dir != "" {
				path = pq.Dir
			}
			// with state a directory commits its files at checkpoints
			// (checkRun refused a single file with state)
			o := duck.ParquetOptions{Dir: pq.Dir != "", RotateRows: rows, RotateEvery: every, Exactly: r.st != nil && pq.Dir != ""}
			var w sink.Sink
			if s3store.IsURL(path) {
				loc, err := s3store.ParseURL(path)
				if err != nil {
					return nil, specErr(err)
				}
				st, err := s3store.Open(ctx, s3store.Options{Region: pq.Region, Endpoint: pq.Endpoint, PathStyle: pq.PathStyle, Profile: r.o.AWSProfile})
				if err != nil {
					return nil, err
				}
				if w, err = s3store.OpenParquet(ctx, st, loc, pq.Dir != "", o); err != nil {
					return nil, err
				}
			} else {
				p, err := duck.OpenParquet(path, o)
				if err != nil {
					return nil, err
				}
				w = p
			}
			if !o.Exactly {
				r.st.inexact("parquet:" + path)
			}
			return w, nil
		},
		describe: func(t pipeline.Target) string {
			if t.Parquet.Dir != "" {
				return "parquet dir " + absOrURL(t.Parquet.Dir) + " rotate " + t.Parquet.Rotate
			}
			return "parquet " + absOrURL(t.Parquet.Path)
		},
		writes: func(t pipeline.Target) []output {
			if s3store.IsURL(t.Parquet.Path + t.Parquet.Dir) {
				return nil // an object store: no file of this machine
			}
			if t.Parquet.Dir != "" {
				return []output{{path: t.Parquet.Dir, field: "parquet.dir", dir: true}}
			}
			return []output{{path: t.Parquet.Path, field: "parquet.path"}}
		},
		holdsCheckpoint: true,
		decides:         "at most one duckdb sink or parquet directory with a state section (two of them cannot commit a checkpoint together); write the other from its own pipeline",
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

// absOrURL is abs for a file, and an s3:// URL as it is.
func absOrURL(path string) string {
	if s3store.IsURL(path) {
		return path
	}
	return abs(path)
}
