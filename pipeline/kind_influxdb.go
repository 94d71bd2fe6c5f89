package pipeline

func init() {
	register(&Kind{
		Name: "influxdb", Role: AsSink, Order: 60,
		Doc: "Writes each window row as an InfluxDB point (line protocol over HTTP, API v1 with `db` or v2 with `org`, `bucket` and `token`).",
		Fields: []Field{
			{Name: "url", Type: StringValue, Go: "URL", Required: true, NonEmpty: true,
				Doc: "the server, `http://HOST:PORT`"},
			{Name: "db", Type: StringValue, Go: "DB",
				Doc: "API v1: the database; give `db`, or `org` and `bucket`"},
			{Name: "org", Type: StringValue,
				Doc: "API v2: the organization"},
			{Name: "bucket", Type: StringValue,
				Doc: "API v2: the bucket"},
			{Name: "token", Type: StringValue, DefaultDoc: "none",
				Doc: "API v2: the token (`Authorization: Token …`)"},
			{Name: "measurement", Type: StringValue, DefaultDoc: "the pipeline's name",
				Doc: "the measurement of the points"},
			{Name: "batch_rows", Type: CountValue, Unit: "rows", DefaultDoc: "5000",
				Doc: "points per request"},
			{Name: "flush", Type: StringValue, Default: "1s", Check: checkPositiveDuration,
				Doc: "a partial batch is sent once its first point is this old"},
		},
		Check: checkAs(func(in *InfluxDBTarget, e Entry) {
			v2 := in.Org != "" || in.Bucket != "" || in.Token != ""
			switch {
			case in.DB != "" && v2:
				e.Errorf("", "needs db (API v1) or org, bucket and token (API v2), not both")
			case in.DB == "" && !v2:
				e.Errorf("", "needs db (API v1) or org and bucket (API v2)")
			case v2 && (in.Org == "" || in.Bucket == ""):
				e.Errorf("", "API v2 needs both org and bucket")
			}
		}),
		bind: configIn(func(t *Target) **InfluxDBTarget { return &t.InfluxDB }),
	})
}
