package pipeline

import "fmt"

func checkSinkFormat(s string) error {
	if s != "json" && s != "avro" {
		return fmt.Errorf("unsupported format %q (json or avro)", s)
	}
	return nil
}

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
			{Name: "registry", Type: MappingValue, DefaultDoc: "`--schema-registry`, `schema.registry.url` in `config`, `EDDY_SCHEMA_REGISTRY`",
				Doc: "the schema registry of the `avro`, `protobuf` and `json-schema` formats ([formats.md](formats.md))",
				Sub: []Field{
					{Name: "url", Type: StringValue, NonEmpty: true, Go: "URL", Doc: "the registry's URL (Apicurio: `…/apis/ccompat/v7`)"},
					{Name: "user", Type: StringValue, Doc: "basic auth user, or `user:password`"},
					{Name: "password", Type: StringValue, Doc: "basic auth password"},
					{Name: "token", Type: StringValue, Doc: "a bearer token, instead of basic auth"},
					{Name: "tls", Type: MappingValue, Go: "TLS", Doc: "TLS files for an https URL", Sub: []Field{
						{Name: "ca", Type: StringValue, Path: true, Go: "CA", Doc: "PEM certificates to trust instead of the system's"},
						{Name: "cert", Type: StringValue, Path: true, Doc: "client certificate (PEM), with `key`"},
						{Name: "key", Type: StringValue, Path: true, Doc: "the client certificate's key (PEM)"},
						{Name: "insecure", Type: BoolValue, Doc: "accept any server certificate"},
					}},
				}},
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
			{Name: "format", Type: StringValue, Roles: AsSink, Default: "json", Check: checkSinkFormat,
				Doc: "the record values: `json`, or `avro` framed for the schema registry (subject `TOPIC-value`, schema derived from the rows; [formats.md](formats.md#writing-avro))"},
			config,
		},
		bind: configIn(func(t *Target) **KafkaTarget { return &t.Kafka }),
	})
}
