package pipeline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// flinkGolden compares got with testdata/flink/NAME (rewritten with -update).
func flinkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "flink", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./pipeline -run Flink -update)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (go test ./pipeline -run Flink -update rewrites it):\n%s", path, got)
	}
}

// flinkScript loads a spec and translates it; paths under the repository
// are written as <repo> so the golden files do not depend on the checkout.
func flinkScript(t *testing.T, path string, o FlinkOptions) (string, error) {
	t.Helper()
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	out, err := FlinkSQL(plan, o)
	root, _ := filepath.Abs("..")
	if err != nil {
		return "", err
	}
	return strings.ReplaceAll(out, root, "<repo>"), nil
}

// Every example pipeline: its script, or the refusal naming the construct.
func TestFlinkSQLExamples(t *testing.T) {
	files, err := filepath.Glob("../examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	o := FlinkOptions{Brokers: []string{"kafka-1:9092", "kafka-2:9092"}}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			out, err := flinkScript(t, f, o)
			if err != nil {
				out = "-- refused: " + err.Error() + "\n"
			}
			flinkGolden(t, name+".sql", out)
		})
	}
}

const flinkKafkaSpec = `name: bids
source:
  kafka: {topic: bids, start: "time:2026-01-01T00:00:00Z", stop: caught-up, group: eddy-bids}
time: {field: dateTime, max_out_of_order: 2s, idle_timeout: 5s}
stages:
  - coerce: {auction: int, price: float}
  - filter: 'price > 10.5 && (channel startsWith "A" || url endsWith ".com" || url contains "deal") && _partition != 7'
  - project:
      auction: auction
      channel: 'upper(channel ?? "none")'
      cents: price * 100
      share: price / 3
      rem: auction % 10
      sq: price ** 2
      tag: '_key + ":" + _topic'
      keep: channel in ["Apple", "Google"]
  - window:
      session: {gap: 30s}
      key: [auction, channel]
      aggregate:
        n: count()
        total: sum(cents)
        mean: avg(cents)
        hi: max(sq)
        keys: count_distinct(tag)
        first_share: first(share)
        last_rem: last(rem)
sinks:
  - kafka: {topic: bids.out, key: [auction, channel]}
  - file: "-"
`

// A Kafka pipeline with every expression form, SASL over TLS from the client
// config (secrets redacted), and a keyed Kafka sink.
func TestFlinkSQLKafka(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bids.yaml")
	if err := os.WriteFile(path, []byte(flinkKafkaSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	o := FlinkOptions{
		Brokers: []string{"kafka:9093"},
		Properties: map[string]string{
			"security.protocol":       "SASL_SSL",
			"sasl.mechanism":          "SCRAM-SHA-512",
			"sasl.jaas.config":        `org.apache.kafka.common.security.scram.ScramLoginModule required username="eddy" password="s3cret";`,
			"ssl.truststore.location": "/etc/kafka/ca.pem",
			"ssl.truststore.type":     "PEM",
		},
		Redact:             true,
		Parallelism:        4,
		CheckpointInterval: 10e9,
	}
	out, err := flinkScript(t, path, o)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "s3cret") {
		t.Error("the password is in the redacted script")
	}
	flinkGolden(t, "kafka-sasl.sql", out)

	// unredacted, the password is there (deploy sends it)
	o.Redact = false
	out, err = flinkScript(t, path, o)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `password="s3cret"`) {
		t.Error("the unredacted script has no password")
	}

	// with allowed lateness, keyed Kafka sinks are upsert-kafka tables
	late := strings.Replace(flinkKafkaSpec, "idle_timeout: 5s", "idle_timeout: 5s, allowed_lateness: 1m", 1)
	if err := os.WriteFile(path, []byte(late), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = flinkScript(t, path, FlinkOptions{Brokers: []string{"kafka:9092"}, SinkTopic: "rows"})
	if err != nil {
		t.Fatal(err)
	}
	flinkGolden(t, "kafka-upsert.sql", out)
}

// Constructs without a translation are refused with the stage, the
// expression or construct, and why.
func TestFlinkSQLRefusals(t *testing.T) {
	base := func(time, stages string) string {
		return "source:\n  kafka: {topic: t}\ntime: " + time + "\nstages:\n" + stages
	}
	win := "  - window: {tumbling: 1s, aggregate: {n: count()}}\n"
	two := "sources:\n  a: {file: a.jsonl}\n  b: {file: b.jsonl}\ntime: {field: ts}\nstages:\n"
	cases := []struct{ name, spec string }{
		{"processing time", "source:\n  kafka: {topic: t}\nstages:\n" + win},
		{"no window", base("{field: ts}", "  - filter: a > 1\n")},
		{"hop not a multiple", base("{field: ts}", "  - window: {hopping: {size: 1s, slide: 300ms}, aggregate: {n: count()}}\n")},
		{"quantile", base("{field: ts}", "  - window: {tumbling: 1s, aggregate: {p: 'quantile(x, 0.9)'}}\n")},
		{"dotted path in filter", base("{field: ts}", "  - filter: a.b > 1\n"+win)},
		{"function call", base("{field: ts}", "  - filter: len(s) > 1\n"+win)},
		{"headers", base("{field: ts}", "  - filter: _headers != nil\n"+win)},
		{"array literal", base("{field: ts}", "  - project: {v: '[1, 2]'}\n"+win)},
		{"in with a field", base("{field: ts}", "  - filter: a in b\n"+win)},
		{"coerce timestamp", base("{field: ts}", "  - coerce: {u: timestamp}\n"+win)},
		{"coerce after project", base("{field: ts}", "  - project: {a: a}\n  - coerce: {a: int}\n"+win)},
		{"dotted time field", base("{field: a.ts}", win)},
		{"coordinate as key", base("{field: ts}", "  - window: {tumbling: 1s, key: _partition, aggregate: {n: count()}}\n")},
		{"relative start", "source:\n  kafka: {topic: t, start: 'time:-15m'}\ntime: {field: ts}\nstages:\n" + win},
		{"offset start", "source:\n  kafka: {topic: t, start: 'offset:5'}\ntime: {field: ts}\nstages:\n" + win},
		{"avro without a registry", "source:\n  kafka: {topic: t}\nformat: avro\ntime: {field: ts}\nstages:\n" + win},
		{"avro with registry TLS", "source:\n  kafka: {topic: t, registry: {url: 'https://r:8081', tls: {ca: ca.pem}}}\nformat: avro\ntime: {field: ts}\nstages:\n" + win},
		{"protobuf", "source:\n  kafka: {topic: t, registry: {url: 'http://r:8081'}}\nformat: protobuf\ntime: {field: ts}\nstages:\n" + win},
		{"stdin", "source:\n  file: '-'\ntime: {field: ts}\nstages:\n" + win},
		{"coordinate from a file", "source:\n  file: in.jsonl\ntime: {field: ts}\nstages:\n  - filter: _offset > 3\n" + win},
		{"a stage after a join", two + "  - join: {with: b, on: {k: k}, between: [0s, 1s], select: [k, v]}\n  - window: {tumbling: 1s, key: [k], aggregate: {n: count()}}\n"},
		{"until", two + "  - join: {with: b, on: {k: k}, between: [0s, 1h], until: b.expires, select: [k, v]}\n"},
	}
	var b strings.Builder
	dir := t.TempDir()
	for i, c := range cases {
		path := filepath.Join(dir, "p.yaml")
		if err := os.WriteFile(path, []byte(c.spec+"sinks:\n  - file: '-'\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := Load(path)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		plan, err := Compile(p)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		_, err = FlinkSQL(plan, FlinkOptions{Brokers: []string{"k:9092"}})
		if err == nil {
			t.Errorf("%s: translated, want a refusal", c.name)
			continue
		}
		var se *SQLError
		if !asSQLError(err, &se) {
			t.Errorf("%s: %T %v, want an *SQLError", c.name, err, err)
		}
		b.WriteString("-- " + c.name + "\n" + strings.ReplaceAll(err.Error(), dir, "<dir>") + "\n")
		if i < len(cases)-1 {
			b.WriteString("\n")
		}
	}
	flinkGolden(t, "refusals.txt", b.String())
}

const flinkAvroSpec = `name: bids-avro
source:
  kafka: {topic: bids.avro, stop: caught-up, registry: {url: "http://registry:8081/apis/ccompat/v7", user: "eddy:s3cret"}}
format: avro
time: {field: dateTime, max_out_of_order: 1s, idle_timeout: 2s}
stages:
  - coerce: {auction: int, price: int}
  - filter: price > 1000
  - window:
      tumbling: 10s
      key: [channel]
      aggregate: {n: count(), total: sum(price), mean: avg(price)}
sinks:
  - file: "-"
`

// format: avro is Flink's avro-confluent with the registry's URL and
// credentials (redacted for printing); the options' registry (the flag and
// environment, merged by the command) wins over the spec's.
func TestFlinkSQLAvro(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bids.yaml")
	if err := os.WriteFile(path, []byte(flinkAvroSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	o := FlinkOptions{Brokers: []string{"kafka:9092"}, Redact: true}
	out, err := flinkScript(t, path, o)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "s3cret") {
		t.Error("the registry password is in the redacted script")
	}
	flinkGolden(t, "avro-confluent.sql", out)

	o.Redact = false
	o.Registry = &Registry{URL: "http://other:8081", Token: "tok"}
	out, err = flinkScript(t, path, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"'value.avro-confluent.url' = 'http://other:8081'", "'value.avro-confluent.bearer-auth.token' = 'tok'"} {
		if !strings.Contains(out, want) {
			t.Errorf("the script with the options' registry has no %s", want)
		}
	}
	if strings.Contains(out, "registry:8081") || strings.Contains(out, "user-info") {
		t.Error("the spec's registry is in the script although the options name one")
	}
}

func asSQLError(err error, se **SQLError) bool {
	e, ok := err.(*SQLError)
	*se = e
	return ok
}

// The interval literals are exact for any duration in milliseconds.
func TestFlinkInterval(t *testing.T) {
	for _, c := range []struct {
		ms   int64
		want string
	}{
		{1, "INTERVAL '0 00:00:00.001' DAY TO SECOND(3)"},
		{10_001, "INTERVAL '0 00:00:10.001' DAY TO SECOND(3)"},
		{90 * 60_000, "INTERVAL '0 01:30:00.000' DAY TO SECOND(3)"},
		{3*86_400_000 + 1, "INTERVAL '3 00:00:00.001' DAY TO SECOND(3)"},
		{120 * 86_400_000, "INTERVAL '120 00:00:00.000' DAY(3) TO SECOND(3)"},
	} {
		if got := flinkInterval(c.ms); got != c.want {
			t.Errorf("flinkInterval(%d) = %s, want %s", c.ms, got, c.want)
		}
	}
}

func TestFlinkSampleTypes(t *testing.T) {
	vals := [][]byte{
		[]byte(`{"i": 1, "f": 1.5, "mix": 2, "s": "a", "b": true, "o": {"x": 1}, "n": null, "clash": 1}`),
		[]byte(`{"i": -7, "f": 2, "mix": 2.5, "s": "b", "b": false, "o": [1], "n": null, "clash": "one"}`),
		[]byte(`not json`),
		[]byte(`{"big": 1e3, "huge": 123456789012345678901}`),
	}
	got := FlinkSampleTypes(vals)
	want := map[string]string{"i": "BIGINT", "f": "DOUBLE", "mix": "DOUBLE", "s": "STRING", "b": "BOOLEAN",
		"o": "STRING", "clash": "STRING", "big": "DOUBLE", "huge": "DOUBLE"}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %q, want %q", k, got[k], w)
		}
	}
	if _, ok := got["n"]; ok {
		t.Errorf("a field only ever null got a type: %q", got["n"])
	}
}

// Sampled types replace guessed ones, type the window's keys and sinks, and
// give way to coerce stages.
func TestFlinkSQLSampled(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.yaml")
	spec := "source:\n  kafka: {topic: t}\ntime: {field: ts}\nstages:\n  - coerce: {c: float}\n  - filter: a > 1\n  - window: {tumbling: 1s, key: k, aggregate: {hi: max(a), lo: min(c)}}\nsinks:\n  - kafka: {topic: out}\n"
	if err := os.WriteFile(path, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := flinkScript(t, path, FlinkOptions{Brokers: []string{"k:9092"}, Sampled: map[string]string{"a": "BIGINT", "k": "BIGINT", "c": "BIGINT", "ts": "BIGINT"}, SampleSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"  `ts` STRING,", "  `a` BIGINT,", "  `k` BIGINT,", "  `c` DOUBLE,", "inferred from 10 sampled records: a BIGINT, k BIGINT", "  `hi` BIGINT,", "  `lo` DOUBLE\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("script lacks %q", want)
		}
	}
	if strings.Contains(out, "guessed") {
		t.Error("a sampled column is called guessed")
	}
}

// Joins of several sources (issue 19 item 7): an interval join of two
// topics with a project before it and a negative lower bound, window
// joins (tumbling left, hopping inner) of files; and the refusals.
func TestFlinkSQLJoin(t *testing.T) {
	dir := t.TempDir()
	kafka := "sources:\n  bids: {kafka: {topic: bids, stop: caught-up}}\n  auctions: {kafka: {topic: auctions, brokers: [k2:9092]}}\ntime: {field: dateTime, max_out_of_order: 2s, allowed_lateness: 1s}\n"
	files := "sources:\n  persons: {file: persons.jsonl}\n  auctions: {file: auctions.jsonl}\ntime: {field: dateTime}\n"
	specs := []struct{ name, spec string }{
		{"join-interval-inner", kafka + `stages:
  - coerce: {price: int}
  - project:
      k: '_source == "bids" ? auction : id'
      p: price
      who: bidder ?? seller
  - filter: '_source == "auctions" || p > 100'
  - join: {with: auctions, on: {k: k}, between: [-5s, 1m], select: [k, p, {seller: auctions.who}]}
sinks:
  - kafka: {topic: out, key: [k]}
`},
		{"join-window-tumbling-left", files + `stages:
  - filter: _source == "persons" || reserve > 1000
  - join: {with: auctions, on: {id: seller}, window: {tumbling: 10s}, type: left, select: [id, name, {auction: auctions.id}]}
`},
		{"join-window-hopping", files + `stages:
  - join: {with: auctions, on: {id: seller, state: category}, window: {hopping: {size: 10s, slide: 5s}}, select: [id, _source, auctions.reserve]}
`},
	}
	o := FlinkOptions{Brokers: []string{"kafka-1:9092"}}
	for _, c := range specs {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.name+".yaml")
			if err := os.WriteFile(path, []byte(c.spec), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := flinkScript(t, path, o)
			if err != nil {
				t.Fatal(err)
			}
			flinkGolden(t, c.name+".sql", strings.ReplaceAll(out, dir, "<dir>"))
		})
	}
	refusals := []struct{ name, spec, want string }{
		{"coordinate", files + "stages:\n  - filter: _offset > 1\n  - join: {with: auctions, on: {id: seller}, between: [0s, 1s], select: [id]}\n",
			"p.yaml:6: stages[0].filter: cannot translate to SQL: the coordinate _offset"},
		{"hop not a multiple", files + "stages:\n  - join: {with: auctions, on: {id: seller}, window: {hopping: {size: 10s, slide: 3s}}, select: [id]}\n",
			"p.yaml:6: stages[0].join.window.hopping: cannot translate to SQL: size 10s is not a multiple of slide 3s"},
		{"dotted select", files + "stages:\n  - join: {with: auctions, on: {id: seller}, between: [0s, 1s], select: [id, auctions.a.b]}\n",
			`p.yaml:6: stages[0].join.select[1]: cannot translate to SQL: dotted path "a.b"`},
		{"sources without a join", files + "stages:\n  - window: {tumbling: 1s, aggregate: {n: count()}}\n",
			"p.yaml:2: sources: cannot translate to SQL: several sources without a join stage"},
	}
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			p, err := Parse("p.yaml", []byte(c.spec))
			if err != nil {
				t.Fatal(err)
			}
			plan, err := Compile(p)
			if err != nil {
				t.Fatal(err)
			}
			_, err = FlinkSQL(plan, o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
	p, err := Parse("p.yaml", []byte(specs[1].spec))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := FlinkSQL(plan, FlinkOptions{Topic: "t"}); err == nil || !strings.Contains(err.Error(), "--topic replaces the one source") {
		t.Errorf("--topic with sources: %v", err)
	}
}
