package pipeline

func init() {
	register(&Kind{
		Name: "duckdb", Role: AsSink, Order: 30,
		Doc: "Appends rows to a DuckDB table, created on first use, committed in batches.",
		Fields: []Field{
			{Name: "path", Type: StringValue, Required: true, Path: true,
				Doc: "the database file, relative to the spec's directory"},
			{Name: "table", Type: StringValue, Required: true,
				Doc: "the table"},
			{Name: "mode", Type: StringValue, Default: "append", Values: []string{"append", "replace"},
				Doc: "`replace` drops the table first"},
			{Name: "batch_rows", Type: CountValue, Unit: "rows", DefaultDoc: "122880 (one DuckDB row group)",
				Doc: "rows per committed batch"},
		},
		bind: configIn(func(t *Target) **DuckDBTarget { return &t.DuckDB }),
	})
}
