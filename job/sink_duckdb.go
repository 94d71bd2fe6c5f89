package job

import (
	"context"

	"github.com/eddyhq/eddy/duck"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
)

// The duckdb kind (pipeline/kind_duckdb.go): rows appended to a table in
// batches; with a state section each checkpoint commits with a row of
// eddy_progress, and the table, which cannot redo a commit, commits first
// and decides which checkpoint a restart restores.
func init() {
	registerSink(&sinkKind{
		name: "duckdb",
		open: func(_ context.Context, r *runner, t pipeline.Target) (sink.Sink, error) {
			mode := duck.Mode(t.DuckDB.Mode)
			if r.st.restored() != nil {
				mode = duck.Append // the table holds the rows up to the checkpoint
			}
			return orNil[sink.Sink](duck.OpenTable(t.DuckDB.Path, t.DuckDB.Table, duck.Options{Mode: mode, Progress: r.st != nil, BatchRows: t.DuckDB.BatchRows}))
		},
		describe: func(t pipeline.Target) string {
			return "duckdb " + abs(t.DuckDB.Path) + " table " + t.DuckDB.Table
		},
		writes: func(t pipeline.Target) []output {
			return []output{{path: t.DuckDB.Path, field: "duckdb.path", table: t.DuckDB.Table}}
		},
		holdsCheckpoint: true,
		decides:         "at most one duckdb sink or parquet directory with a state section (two of them cannot commit a checkpoint together); write the other from its own pipeline",
	})
}
