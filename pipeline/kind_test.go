package pipeline_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/pipeline"
)

// TestKindErrors holds the messages of the source, sink and dlq entries,
// which the parser derives from the kinds' declarations: every error
// (not only the first), with file, line and field path.
func TestKindErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"source with two kinds", spec("source:", "  file: in.jsonl", "  kafka: {topic: a}"),
			[]string{"p.yaml:2: source: needs exactly one of file, kafka or kinesis"}},
		{"source not a mapping", spec("source: in.jsonl"),
			[]string{"p.yaml:1: source: must be a mapping with keys file, kafka, kinesis"}},
		{"source file not a string", spec("source: {file: [a]}"),
			[]string{"p.yaml:1: source.file: must be a string"}},
		{"kafka source without topic", spec("source:", "  kafka: {group: g}"),
			[]string{"p.yaml:2: source.kafka.topic: is required"}},
		{"kafka source with topic and topics", spec("source:", "  kafka:", "    topic: a", "    topics: [b]"),
			[]string{"p.yaml:4: source.kafka.topics: give topic or topics, not both"}},
		{"kafka source unknown key", spec("source:", "  kafka: {topic: a, key: k}"),
			[]string{"p.yaml:2: source.kafka.key: unknown key (expected one of: brokers, topic, topics, start, stop, group, config, registry)"}},
		{"kafka source stop", spec("source:", "  kafka: {topic: a, stop: later}"),
			[]string{`p.yaml:2: source.kafka.stop: invalid stop "later" (none, caught-up or time:RFC3339)`}},
		{"kafka source brokers", spec("source:", "  kafka: {topic: a, brokers: {x: y}}"),
			[]string{"p.yaml:2: source.kafka.brokers: must be a string or a list of strings"}},
		{"registry not a mapping", spec("source:", "  kafka: {topic: a, registry: http://sr}"),
			[]string{"p.yaml:2: source.kafka.registry: must be a mapping with keys url, user, password, token, tls"}},
		{"registry unknown key and bad bool", spec("source:", "  kafka:", "    topic: a", "    registry:", "      urls: x", "      tls: {insecure: maybe}"),
			[]string{"p.yaml:5: source.kafka.registry.urls: unknown key (expected one of: url, user, password, token, tls)",
				`p.yaml:6: source.kafka.registry.tls.insecure: must be true or false, not "maybe"`}},
		{"dlq of a sink kind", spec("dlq:", "  duckdb: {path: d.db, table: t}"),
			[]string{"p.yaml:2: dlq.duckdb: dead letters go to a file, kafka or kinesis, not duckdb"}},
		{"dlq with a sink's key", spec("dlq:", "  kafka: {topic: d, key: k}"),
			[]string{"p.yaml:2: dlq.kafka.key: unknown key (expected one of: brokers, topic, config)"}},
		{"dlq empty", spec("dlq: {}"),
			[]string{"p.yaml:1: dlq: needs one of file, kafka, kinesis, duckdb, parquet, redis, influxdb or prometheus"}},
		{"dlq empty file", spec(`dlq: {file: ""}`),
			[]string{`p.yaml:1: dlq.file: must not be empty (use "-" for stdout)`}},
		{"sink not a mapping", spec("sinks:", "  - out.jsonl"),
			[]string{"p.yaml:2: sinks[0]: must be a mapping with keys file, kafka, kinesis, duckdb, parquet, redis, influxdb, prometheus"}},
		{"sink unknown kind", spec("sinks:", "  - s3: {bucket: b}"),
			[]string{"p.yaml:2: sinks[0].s3: unknown key (expected one of: file, kafka, kinesis, duckdb, parquet, redis, influxdb, prometheus)",
				"p.yaml:2: sinks[0]: needs one of file, kafka, kinesis, duckdb, parquet, redis, influxdb or prometheus"}},
		{"kafka sink without topic", spec("sinks:", "  - kafka: {key: [user]}"),
			[]string{"p.yaml:2: sinks[0].kafka.topic: is required"}},
		{"kafka sink unknown key", spec("sinks:", "  - kafka: {topic: t, group: g}"),
			[]string{"p.yaml:2: sinks[0].kafka.group: unknown key (expected one of: brokers, topic, key, format, config)"}},
		{"duckdb sink without path and table", spec("sinks:", "  - duckdb: {mode: replace}"),
			[]string{"p.yaml:2: sinks[0].duckdb.path: is required", "p.yaml:2: sinks[0].duckdb.table: is required"}},
		{"duckdb sink mode", spec("sinks:", "  - duckdb:", "      path: d.db", "      table: t", "      mode: upsert"),
			[]string{`p.yaml:5: sinks[0].duckdb.mode: must be append or replace, not "upsert"`}},
		{"duckdb sink batch_rows", spec("sinks:", "  - duckdb: {path: d.db, table: t, batch_rows: many}"),
			[]string{`p.yaml:2: sinks[0].duckdb.batch_rows: must be a positive number of rows, not "many"`}},
		{"parquet sink with path and dir", spec("sinks:", "  - parquet: {path: a.parquet, dir: out}"),
			[]string{"p.yaml:2: sinks[0].parquet: needs exactly one of path (one file) or dir (rolling files)"}},
		{"parquet sink with neither", spec("sinks:", "  - parquet: {}"),
			[]string{"p.yaml:2: sinks[0].parquet: needs exactly one of path (one file) or dir (rolling files)"}},
		{"parquet rotate without dir", spec("sinks:", "  - parquet:", "      path: a.parquet", "      rotate: 1m"),
			[]string{"p.yaml:4: sinks[0].parquet.rotate: needs dir (rolling files), not path"}},
		{"parquet rotate", spec("sinks:", "  - parquet: {dir: out, rotate: -5}"),
			[]string{"p.yaml:2: sinks[0].parquet.rotate: rotate -5: the row count must be positive"}},
		{"redis sink without addr", spec("sinks:", "  - redis: {prefix: p, ttl: 0s}"),
			[]string{"p.yaml:2: sinks[0].redis.ttl: must be > 0", "p.yaml:2: sinks[0].redis.addr: is required"}},
		{"redis sink tls", spec("sinks:", "  - redis: {addr: h:1, tls: yes}"),
			[]string{`p.yaml:2: sinks[0].redis.tls: must be false or true, not "yes"`}},
		{"influxdb sink with neither db nor bucket", spec("sinks:", "  - influxdb: {url: http://h:8086}"),
			[]string{"p.yaml:2: sinks[0].influxdb: needs db (API v1) or org and bucket (API v2)"}},
		{"influxdb sink with both", spec("sinks:", "  - influxdb: {url: http://h:8086, db: d, bucket: b, org: o}"),
			[]string{"p.yaml:2: sinks[0].influxdb: needs db (API v1) or org, bucket and token (API v2), not both"}},
		{"influxdb v2 without org", spec("sinks:", "  - influxdb: {url: http://h:8086, bucket: b, token: t}"),
			[]string{"p.yaml:2: sinks[0].influxdb: API v2 needs both org and bucket"}},
		{"prometheus sink without remote_write", spec("sinks:", "  - prometheus: {prefix: p}"),
			[]string{"p.yaml:2: sinks[0].prometheus.remote_write: is required"}},
		{"two sinks, two problems", spec("sinks:", "  - kafka: {}", "  - parquet: {dir: out, rotate: often}"),
			[]string{"p.yaml:2: sinks[0].kafka.topic: is required",
				`p.yaml:3: sinks[1].parquet.rotate: rotate "often": want a row count (100000) or a positive duration (1m)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pipeline.Parse("p.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("Parse succeeded, want %q", tt.want)
			}
			if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", err, strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestKindDefaults checks that absent fields take the declared defaults
// and that the kinds are listed in their declared order.
func TestKindDefaults(t *testing.T) {
	p, err := pipeline.Parse("p.yaml", []byte(spec(
		"source: {kafka: {topic: a}}",
		"sinks:",
		"  - duckdb: {path: d.db, table: t}",
	)))
	if err != nil {
		t.Fatal(err)
	}
	if k := p.Source.Kafka; k.Start != "earliest" || k.Stop != "none" {
		t.Errorf("kafka source start, stop = %q, %q; want earliest, none", k.Start, k.Stop)
	}
	if d := p.Sinks[0].DuckDB; d.Mode != "append" || d.BatchRows != 0 {
		t.Errorf("duckdb mode, batch_rows = %q, %d; want append, 0", d.Mode, d.BatchRows)
	}
	src, ok := pipeline.NewSource("kafka")
	if !ok || !reflect.DeepEqual(*src.Kafka, pipeline.KafkaSource{Start: "earliest", Stop: "none"}) {
		t.Errorf("NewSource(kafka) = %+v, %v", src.Kafka, ok)
	}
	if _, ok := pipeline.NewSource("duckdb"); ok {
		t.Error("NewSource(duckdb) found a source kind")
	}
	for _, tt := range []struct {
		role pipeline.Role
		want string
	}{
		{pipeline.AsSource, "file kafka kinesis"},
		{pipeline.AsSink, "file kafka kinesis duckdb parquet redis influxdb prometheus"},
		{pipeline.AsDeadLetter, "file kafka kinesis"},
	} {
		var names []string
		for _, k := range pipeline.Kinds(tt.role) {
			names = append(names, k.Name)
		}
		if got := strings.Join(names, " "); got != tt.want {
			t.Errorf("Kinds(%d) = %s, want %s", tt.role, got, tt.want)
		}
	}
}

// TestKindOf checks that the kind an entry holds is found by its config,
// and that an entry with none is of the kind written as a scalar (file).
func TestKindOf(t *testing.T) {
	tests := []struct {
		holder any
		role   pipeline.Role
		want   string
	}{
		{&pipeline.Source{File: "in.jsonl"}, pipeline.AsSource, "file"},
		{&pipeline.Source{Kafka: &pipeline.KafkaSource{}}, pipeline.AsSource, "kafka"},
		{&pipeline.Target{File: "-"}, pipeline.AsSink, "file"},
		{&pipeline.Target{}, pipeline.AsSink, "file"},
		{&pipeline.Target{Kafka: &pipeline.KafkaTarget{}}, pipeline.AsDeadLetter, "kafka"},
		{&pipeline.Target{DuckDB: &pipeline.DuckDBTarget{}}, pipeline.AsSink, "duckdb"},
		{&pipeline.Target{Parquet: &pipeline.ParquetTarget{}}, pipeline.AsSink, "parquet"},
		// a dead-letter entry cannot hold a sink-only kind
		{&pipeline.Target{DuckDB: &pipeline.DuckDBTarget{}}, pipeline.AsDeadLetter, "file"},
	}
	for _, tt := range tests {
		if k := pipeline.KindOf(tt.holder, tt.role); k == nil || k.Name != tt.want {
			t.Errorf("KindOf(%+v, %d) = %v, want %s", tt.holder, tt.role, k, tt.want)
		}
	}
}
