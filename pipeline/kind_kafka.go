package pipeline

func init() {
	brokers := Field{Name: "brokers", Type: ListValue,
		Doc: "the bootstrap brokers"}
	config := Field{Name: "config", Type: StringValue, Path: true,
		Doc: "a Java client properties file, relative to the spec's directory"}

	source := brokers
	source.DefaultDoc = "`--brokers`, `EDDY_BROKERS` or `bootstrap.servers` in `--kafka-config`"
	register(&Kind{
		Name: "kafka", Role: AsSource, Order: 20,
		Doc: "Reads topics from a Kafka cluster, following them (or up to a stop position), with offsets committed to a consumer group when one is named.",
		Fields: []Field{
			source,
			{Name: "topic", Type: ListValue, Required: true, NonEmpty: true, Plural: "topics", Go: "Topics",
				Doc: "the topic to read"},
			{Name: "topics", Type: ListValue, NonEmpty: true,
				Doc: "the topics to read, instead of `topic`"},
			{Name: "start", Type: StringValue, Default: "earliest", Check: checkStart,
				Doc: "where each partition starts: `earliest`, `latest`, `offset:N`, `last:N`, `time:RFC3339` or `time:-15m`"},
			{Name: "stop", Type: StringValue, Default: "none", Check: checkStop,
				Doc: "where reading ends: `none` (follow), `caught-up` or `time:RFC3339`"},
			{Name: "group", Type: StringValue, DefaultDoc: "none: commits nothing",
				Doc: "the consumer group that offsets are committed to"},
			config,
		},
		bind: configIn(func(s *Source) **KafkaSource { return &s.Kafka }),
	})

	target := brokers
	target.DefaultDoc = "the source's cluster"
	register(&Kind{
		Name: "kafka", Role: AsSink | AsDeadLetter, Order: 20,
		Doc: "Produces each row (or dead letter) as a record to a Kafka topic, created if the cluster allows it.",
		Fields: []Field{
			target,
			{Name: "topic", Type: StringValue, Required: true, NonEmpty: true,
				Doc: "the topic to write"},
			{Name: "key", Type: ListValue, Roles: AsSink, DefaultDoc: "no key",
				Doc: "output fields whose values form the record key"},
			config,
		},
		bind: configIn(func(t *Target) **KafkaTarget { return &t.Kafka }),
	})
}
