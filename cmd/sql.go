package cmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/eddyhq/eddy/pipeline"
)

func newSQLCmd() *cobra.Command {
	var dialect, table string
	c := &cobra.Command{
		Use:   "sql PIPELINE.yaml [--dialect duckdb] [--table raw]",
		Short: "Print the SQL that computes a pipeline's windows over an exported table",
		Long: `sql prints one DuckDB query that computes the rows of the pipeline's window
stage over a raw table written by "eddy export" (columns _topic, _partition,
_offset, _timestamp, _key, then the record's top-level fields): the key
columns, window_start and window_end as TIMESTAMP, revision (always 0) when
the pipeline has allowed lateness, then the aggregates, ordered by
window_end, window_start and the keys, as "eddy run" writes them.

The query gives the same rows as the engine when no record is late: SQL sees
the whole table and has no watermark, so late records are not dropped and
no revisions are emitted. Records the engine sends to the dead letters at run
time are not modelled exactly (a coerce that fails drops the record; a
filter error or an aggregate input that is not a number does not). quantile
is exact in SQL (the value at rank floor(q·(n−1))); the engine's estimate
is within 1 %.
first/last break event-time ties by _partition and _offset.

Translated: filter, coerce and project stages whose expressions use
top-level field names, the coordinates (_topic, _partition, _offset,
_timestamp, _key), literals, == != < > <= >= && || ! + - * / % ** ?? in
[...], contains, startsWith, endsWith, ?: and upper()/lower(); tumbling,
hopping and session windows on event time; every aggregate. Anything else
(dotted paths, other functions, processing time, no window stage) is an
error naming the stage and the construct, with exit status 2.`,
		Example: `  eddy export --input bids.jsonl --duckdb bids.duckdb --table raw
  eddy sql pipeline.yaml --dialect duckdb --table raw > q.sql
  duckdb bids.duckdb < q.sql`,
		Args: exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			p, err := pipeline.Load(args[0])
			if err != nil {
				return usageError{err}
			}
			plan, err := pipeline.Compile(p)
			if err != nil {
				return usageError{err}
			}
			q, err := pipeline.SQL(plan, table, dialect)
			if err != nil {
				return usageError{err}
			}
			_, err = fmt.Fprintln(c.OutOrStdout(), q+";")
			return err
		},
	}
	c.Flags().StringVar(&dialect, "dialect", "duckdb", "SQL `DIALECT` (duckdb is the only one)")
	c.Flags().StringVar(&table, "table", "raw", "the exported raw `TABLE` to read")
	return c
}
