package pipeline

func init() {
	register(&Kind{
		Name: "parquet", Role: AsSink, Order: 40,
		Doc: "Writes rows to one Parquet file when the run ends (`path`), or to rolling files in a directory (`dir`).",
		Fields: []Field{
			{Name: "path", Type: StringValue, Path: true,
				Doc: "the one file, relative to the spec's directory; give `path` or `dir`"},
			{Name: "dir", Type: StringValue, Path: true,
				Doc: "the directory of rolling files, named so they sort"},
			{Name: "rotate", Type: StringValue, Check: checkRotate, DefaultDoc: "at the end only",
				Doc: "with `dir`: a new file every N rows (`100000`) or every duration (`1m`)"},
		},
		Check: checkAs(func(pq *ParquetTarget, e Entry) {
			switch {
			case (pq.Path == "") == (pq.Dir == ""):
				e.Errorf("", "needs exactly one of path (one file) or dir (rolling files)")
			case pq.Rotate != "" && pq.Dir == "":
				e.Errorf("rotate", "needs dir (rolling files), not path")
			}
		}),
		bind: configIn(func(t *Target) **ParquetTarget { return &t.Parquet }),
	})
}

func checkRotate(s string) error {
	_, _, err := ParseRotate(s)
	return err
}
