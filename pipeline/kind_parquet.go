package pipeline

import "strings"

func init() {
	register(&Kind{
		Name: "parquet", Role: AsSink, Order: 40,
		Doc: "Writes rows to one Parquet file when the run ends (`path`), or to rolling files in a directory (`dir`), on local disk or in S3 (`s3://BUCKET/KEY`, uploaded whole: an object appears only when complete).",
		Fields: []Field{
			{Name: "path", Type: StringValue, Path: true,
				Doc: "the one file, relative to the spec's directory, or `s3://BUCKET/KEY`; give `path` or `dir`"},
			{Name: "dir", Type: StringValue, Path: true,
				Doc: "the directory of rolling files, named so they sort, or `s3://BUCKET/PREFIX/`"},
			{Name: "rotate", Type: StringValue, Check: checkRotate, DefaultDoc: "at the end only",
				Doc: "with `dir`: a new file every N rows (`100000`) or every duration (`1m`)"},
			{Name: "endpoint", Type: StringValue, DefaultDoc: "AWS's S3 endpoint",
				Doc: "with `s3://`: the URL of an S3-compatible store or an emulator"},
			{Name: "region", Type: StringValue, DefaultDoc: "`AWS_REGION` or the profile's region",
				Doc: "with `s3://`: the bucket's region"},
			{Name: "path_style", Type: BoolValue,
				Doc: "with `s3://`: address buckets as `ENDPOINT/BUCKET/KEY` (most S3-compatible stores) instead of `BUCKET.ENDPOINT/KEY`"},
		},
		Check: checkAs(func(pq *ParquetTarget, e Entry) {
			switch {
			case (pq.Path == "") == (pq.Dir == ""):
				e.Errorf("", "needs exactly one of path (one file) or dir (rolling files)")
			case pq.Rotate != "" && pq.Dir == "":
				e.Errorf("rotate", "needs dir (rolling files), not path")
			case (pq.Endpoint != "" || pq.Region != "" || pq.PathStyle) && !strings.HasPrefix(pq.Path+pq.Dir, "s3://"):
				e.Errorf("", "endpoint, region and path_style go with an s3:// path or dir")
			case strings.HasPrefix(pq.Path, "s3://") && (len(pq.Path) <= len("s3://") || strings.HasSuffix(pq.Path, "/") || !strings.Contains(pq.Path[len("s3://"):], "/")):
				e.Errorf("path", "%q: want s3://BUCKET/KEY (one object; a prefix goes in dir)", pq.Path)
			case strings.HasPrefix(pq.Dir, "s3://") && strings.TrimPrefix(strings.SplitN(pq.Dir[len("s3://"):], "/", 2)[0], "") == "":
				e.Errorf("dir", "%q: want s3://BUCKET/PREFIX/", pq.Dir)
			}
		}),
		bind: configIn(func(t *Target) **ParquetTarget { return &t.Parquet }),
	})
}

func checkRotate(s string) error {
	_, _, err := ParseRotate(s)
	return err
}
