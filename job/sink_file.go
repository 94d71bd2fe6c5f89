package job

import (
	"context"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
)

// The file kind (pipeline/kind_file.go): JSON Lines rows or dead letters
// in a file cut back to its checkpointed length on a restart, or on
// stdout ("-"), which cannot be.
func init() {
	registerSink(&sinkKind{
		name: "file",
		open: func(_ context.Context, r *runner, t pipeline.Target) (sink.Sink, error) {
			if t.File == "-" {
				r.st.inexact("stdout")
				return sink.NewJSONL("stdout", r.o.Stdout, nil), nil
			}
			if n, ok := r.st.progress(t, false); ok {
				return orNil[sink.Sink](sink.ResumeJSONL(t.File, n))
			}
			return orNil[sink.Sink](sink.OpenJSONL(t.File))
		},
		openDead: func(_ context.Context, r *runner, t pipeline.Target) (sink.DeadLetters, error) {
			if t.File == "-" {
				r.st.inexact("dead letters on stdout")
				return sink.NewDeadFile("stdout", r.o.Stdout, nil), nil
			}
			if n, ok := r.st.progress(t, true); ok {
				return orNil[sink.DeadLetters](sink.ResumeDeadFile(t.File, n))
			}
			return orNil[sink.DeadLetters](sink.OpenDeadFile(t.File))
		},
		describe: func(t pipeline.Target) string {
			if t.File == "-" {
				return "stdout"
			}
			return "file " + abs(t.File)
		},
		writes: func(t pipeline.Target) []output {
			if t.File == "-" {
				return nil
			}
			return []output{{path: t.File, field: "file"}}
		},
	})
}
