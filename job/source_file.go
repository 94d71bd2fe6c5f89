package job

import (
	"context"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/source"
)

// The file source (pipeline/kind_file.go): JSON Lines from a file, sought
// to the checkpoint's position on a restart, or from stdin ("-"), which
// cannot be resumed.
func init() {
	registerSource(&sourceKind{
		name: "file",
		open: func(_ context.Context, r *runner) (source.Source, bool, error) {
			file := r.p.Source.File
			if file == "-" {
				return source.NewReader("-", r.o.Stdin), false, nil
			}
			fs, err := source.OpenFile(file)
			if err != nil {
				return nil, false, err
			}
			r.closers = append(r.closers, fs.Close)
			if ck := r.st.restored(); ck != nil {
				if err := fs.Seek(ck.Engine.File); err != nil {
					return nil, false, err
				}
			}
			return fs, false, nil
		},
		describe: func(s pipeline.Source) string { return "file " + abs(s.File) },
		reads: func(s pipeline.Source) string {
			if s.File == "-" {
				return ""
			}
			return s.File
		},
		group: func(pipeline.Source) string { return "" },
		refuseState: func(s pipeline.Source) string {
			if s.File == "-" {
				return "cannot resume stdin after a restart"
			}
			return ""
		},
	})
}
