package pipeline

func init() {
	register(&Kind{
		Name: "prometheus", Role: AsSink, Order: 70,
		Doc: "Sends each aggregate of a window row as a sample to a Prometheus remote-write endpoint (series `PREFIX_AGGREGATE`).",
		Fields: []Field{
			{Name: "remote_write", Type: StringValue, Required: true, NonEmpty: true,
				Doc: "the receiver, e.g. `http://HOST:9090/api/v1/write`"},
			{Name: "prefix", Type: StringValue, DefaultDoc: "the pipeline's name",
				Doc: "the metric name's prefix"},
			{Name: "batch_rows", Type: CountValue, Unit: "rows", DefaultDoc: "2000",
				Doc: "rows per request"},
		},
		bind: configIn(func(t *Target) **PrometheusTarget { return &t.Prometheus }),
	})
}
