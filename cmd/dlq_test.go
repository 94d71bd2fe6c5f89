package cmd

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/internal/runtest"
	"github.com/eddyhq/eddy/replay"
)

// The orders example of docs/dead-letters.md: one line per cause.
const dlqOrders = `{"ts":"2026-01-01T00:00:01Z","user":"ana","qty":2,"price":"4.50","kg":1.5}
{"ts":"2026-01-01T00:00:02Z","user":"ben","qty":1,"price":"3.00"
{"user":"cem","qty":1,"price":"1.00"}
{"ts":"2026-01-01T00:00:03Z","user":"dan","qty":"two","price":"1.00"}
{"ts":"2026-01-01T00:00:04Z","user":"eve","qty":1,"price":"free"}
{"ts":"2026-01-01T00:00:05Z","user":42,"qty":1,"price":"2.00"}
{"ts":"2026-01-01T00:00:06Z","user":"fay","qty":1,"price":"2.00","kg":"heavy"}
{"ts":"2026-01-01T00:00:12Z","user":"gus","qty":3,"price":"1.00","kg":0.2}
{"ts":"2026-01-01T00:00:07Z","user":"hal","qty":1,"price":"8.00"}
{"ts":"2026-01-01T00:00:13Z","user":"ida","qty":0,"price":"1.00"}
`

const dlqStages = `time: {field: ts}
stages:
  - filter: qty > 0
  - coerce: {price: float}
  - project:
      user: lower(user)
      total: price * qty
`

// A fixed pipeline: the price may be a word, qty is coerced first.
const dlqFixed = `time: {field: ts}
stages:
  - coerce: {qty: int}
  - filter: qty > 0
  - project:
      user: string(user)
      total: qty
`

// dlqTopic fills orders.dlq: eddy's dead letters from a run over the topic
// orders, then one Kafka Connect and one Spring Kafka dead letter as those
// write them (Spring's numbers binary big-endian).
func dlqTopic(t *testing.T) (addr, dir string) {
	t.Helper()
	clearKafkaEnv(t)
	addr = runtest.Cluster(t, "orders", "orders.dlq", "payments")
	dir = t.TempDir()
	runtest.Produce(t, addr, ordersRecords()...)
	spec := runtest.WriteFile(t, dir, "orders.yaml", "name: orders\nsource: {kafka: {topic: orders, stop: caught-up}}\n"+dlqStages+
		"dlq: {kafka: {topic: orders.dlq}}\nsinks:\n  - file: "+filepath.Join(dir, "out.jsonl")+"\n")
	if code, _, stderr := runCLI(t, "", "-b", addr, "run", spec); code != 0 {
		t.Fatalf("run: %d %s", code, stderr)
	}
	be32 := func(n int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(n)) }
	be64 := func(n int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(n)) }
	runtest.Produce(t, addr,
		&kgo.Record{Topic: "orders.dlq", Partition: 0, Key: []byte("p-17"), Value: []byte(`{"payment":17,"amount":"12,50"}`),
			Headers: []kgo.RecordHeader{
				{Key: "__connect.errors.topic", Value: []byte("payments")},
				{Key: "__connect.errors.partition", Value: []byte("1")},
				{Key: "__connect.errors.offset", Value: []byte("5")},
				{Key: "__connect.errors.connector.name", Value: []byte("payments-jdbc-sink")},
				{Key: "__connect.errors.task.id", Value: []byte("0")},
				{Key: "__connect.errors.stage", Value: []byte("VALUE_CONVERTER")},
				{Key: "__connect.errors.class.name", Value: []byte("org.apache.kafka.connect.json.JsonConverter")},
				{Key: "__connect.errors.exception.class.name", Value: []byte("org.apache.kafka.connect.errors.DataException")},
				{Key: "__connect.errors.exception.message", Value: []byte("Converting byte[] to Kafka Connect data failed due to serialization error")},
			}},
		&kgo.Record{Topic: "orders.dlq", Partition: 1, Value: []byte(`{"ts":"2026-01-01T00:00:09Z","user":"ivy","qty":1,"price":"2.00"}`),
			Headers: []kgo.RecordHeader{
				{Key: "kafka_dlt-original-topic", Value: []byte("orders")},
				{Key: "kafka_dlt-original-partition", Value: be32(2)},
				{Key: "kafka_dlt-original-offset", Value: be64(42)},
				{Key: "kafka_dlt-original-timestamp", Value: be64(1767225609000)},
				{Key: "kafka_dlt-original-consumer-group", Value: []byte("billing")},
				{Key: "kafka_dlt-exception-fqcn", Value: []byte("org.springframework.kafka.listener.ListenerExecutionFailedException")},
				{Key: "kafka_dlt-exception-message", Value: []byte("Listener failed; amount missing")},
			}},
		// a Spring record whose partition was written as text: unknown, noted
		&kgo.Record{Topic: "orders.dlq", Partition: 2, Value: []byte(`{"x":1}`),
			Headers: []kgo.RecordHeader{
				{Key: "kafka_dlt-original-topic", Value: []byte("orders")},
				{Key: "kafka_dlt-original-partition", Value: []byte("2")},
				{Key: "kafka_dlt-exception-fqcn", Value: []byte("java.lang.IllegalStateException")},
			}},
		// no dead-letter headers at all
		&kgo.Record{Topic: "orders.dlq", Partition: 0, Value: []byte(`{"stray":true}`)},
		// an eddy dead letter replayed three times already
		&kgo.Record{Topic: "orders.dlq", Partition: 1, Value: []byte(`{"ts":"2026-01-01T00:00:08Z","user":"jo","qty":1,"price":"gratis"}`),
			Headers: []kgo.RecordHeader{
				{Key: "origin", Value: []byte("shop")},
				{Key: "eddy.error", Value: []byte(`price: cannot coerce "gratis" to float`)},
				{Key: "eddy.stage", Value: []byte("1:coerce")},
				{Key: "eddy.source.topic", Value: []byte("orders")},
				{Key: "eddy.source.partition", Value: []byte("0")},
				{Key: "eddy.source.offset", Value: []byte("9")},
				{Key: "eddy.pipeline", Value: []byte("orders")},
				{Key: "eddy.replay.count", Value: []byte("3")},
			}},
	)
	return addr, dir
}

// ordersRecords are the example's lines on the topic orders, line i in
// partition i%3.
func ordersRecords() []*kgo.Record {
	var recs []*kgo.Record
	for i, l := range strings.Split(strings.TrimSpace(dlqOrders), "\n") {
		recs = append(recs, &kgo.Record{Topic: "orders", Partition: int32(i % 3), Value: []byte(l),
			Headers: []kgo.RecordHeader{{Key: "origin", Value: []byte("shop")}}})
	}
	return recs
}

// tableRow finds the row of a list table whose columns start with cols.
func tableRow(out string, cols ...string) bool {
	re := `(?m)^` + strings.Join(func() []string {
		q := make([]string, len(cols))
		for i, c := range cols {
			q[i] = regexp.QuoteMeta(c)
		}
		return q
	}(), `\s+`)
	return regexp.MustCompile(re).MatchString(out)
}

func TestDlqListAndShowTopic(t *testing.T) {
	addr, _ := dlqTopic(t)
	code, out, stderr := runCLI(t, "", "-b", addr, "dlq", "list", "-t", "orders.dlq")
	if code != 0 {
		t.Fatalf("list: %d %s", code, stderr)
	}
	if !strings.HasPrefix(out, "orders.dlq: 10 dead letters (eddy 6, spring 2, connect 1, unknown 1), 1 replayed before, seen ") {
		t.Errorf("list totals:\n%s", out)
	}
	for _, row := range [][]string{
		{"COUNT", "CLASS", "STAGE", "FIRST", "LAST", "ORIGINS"},
		{"2", "coerce: price: cannot coerce", "1:coerce"},
		{"1", "unknown", "-"},
		{"1", "decode: invalid JSON at byte", "decode"},
		{"1", "filter: invalid operation: string > int", "0:filter"},
		{"1", "project: user: interface conversion: interface {} is int, not string", "2:project"},
		{"1", "time: ts: missing event time", "time"},
		{"1", "org.apache.kafka.connect.errors.DataException", "VALUE_CONVERTER"},
		{"1", "org.springframework.kafka.listener.ListenerExecutionFailedException", "-"},
	} {
		if !tableRow(out, row...) {
			t.Errorf("list lacks row %q:\n%s", row, out)
		}
	}
	if !strings.Contains(out, "payments 1") || !strings.Contains(out, "orders 1") {
		t.Errorf("origin topics missing:\n%s", out)
	}

	code, out, stderr = runCLI(t, "", "-b", addr, "dlq", "show", "-t", "orders.dlq", "--where", `convention == "spring"`)
	if code != 0 {
		t.Fatalf("show: %d %s", code, stderr)
	}
	for _, want := range []string{
		"  (spring)\n",
		"  class     org.springframework.kafka.listener.ListenerExecutionFailedException\n",
		"  origin    orders partition 2 offset 42  2026-01-01T00:00:09.000Z\n",
		"  group     billing\n",
		"  error     Listener failed; amount missing\n",
		"  origin    orders partition ? offset ?\n",
		"  note      kafka_dlt-original-partition: 1 bytes (\"2\"), want 4 (a big-endian int)\n",
		"  note      no kafka_dlt-original-offset header\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}

	code, out, _ = runCLI(t, "", "-b", addr, "dlq", "show", "-t", "orders.dlq", "-f", "json", "-c", "2",
		"--where", `(stage == "1:coerce" && replays == 0) || class contains "DataException"`)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 {
		t.Fatalf("show -f json -c 2: %d\n%s", code, out)
	}
	for _, l := range lines {
		var v struct {
			Convention string
			Class      string
			Origin     struct {
				Topic     *string
				Partition *int32
				Offset    *int64
			}
			Headers []struct{ Key, Value string }
			Value   json.RawMessage
		}
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		switch v.Convention {
		case "eddy":
			if v.Class != "coerce: price: cannot coerce" || *v.Origin.Topic != "orders" || !strings.Contains(string(v.Value), `"price":"free"`) {
				t.Errorf("eddy letter: %s", l)
			}
		case "connect":
			if *v.Origin.Topic != "payments" || *v.Origin.Partition != 1 || *v.Origin.Offset != 5 {
				t.Errorf("connect letter: %s", l)
			}
		default:
			t.Errorf("unexpected letter: %s", l)
		}
	}
	// An expression that fails on some letters skips them, on stderr.
	code, out, stderr = runCLI(t, "", "-b", addr, "dlq", "show", "-t", "orders.dlq", "--where", `value.qty > 1`)
	if code != 0 || !strings.Contains(stderr, "skipped") || strings.Count(out, "(eddy)") != 0 {
		t.Errorf("show --where failing: %d\n%s\n%s", code, out, stderr)
	}
}

// list and show read the dead-letter file `eddy run --dlq` writes, and a
// dry run through a fixed pipeline works on it too.
func TestDlqFile(t *testing.T) {
	dir := t.TempDir()
	in := runtest.WriteFile(t, dir, "orders.jsonl", dlqOrders)
	spec := runtest.WriteFile(t, dir, "orders.yaml", dlqStages+"  - window: {tumbling: 10s, aggregate: {orders: count(), revenue: sum(total)}}\n")
	dead := filepath.Join(dir, "dead.jsonl")
	if code, _, stderr := runCLI(t, "", "run", spec, "--input", in, "--out", filepath.Join(dir, "rows.jsonl"), "--dlq", dead); code != 0 {
		t.Fatalf("run: %d %s", code, stderr)
	}
	code, out, stderr := runCLI(t, "", "dlq", "list", "--file", dead)
	if code != 0 {
		t.Fatalf("list: %d %s", code, stderr)
	}
	if !strings.HasPrefix(out, dead+": 6 dead letters (eddy 6)\n") {
		t.Errorf("list totals:\n%s", out)
	}
	if !tableRow(out, "1", "window: late: event time", "3:window", "-", "-", in+" 1") {
		t.Errorf("list:\n%s", out)
	}
	code, out, _ = runCLI(t, "", "dlq", "show", "--file", dead, "--where", `stage == "decode"`)
	if code != 0 || !strings.Contains(out, dead+" line 1  (eddy)\n") || !strings.Contains(out, "  origin    file "+in+" line 2\n") {
		t.Errorf("show --file:\n%s", out)
	}
	// Lines that are not dead letters are skipped and reported.
	mixed := runtest.WriteFile(t, dir, "mixed.jsonl", "eddy: in=10 passed=2\n"+readFile(t, dead))
	code, out, stderr = runCLI(t, "", "dlq", "list", "--file", mixed, "-f", "json")
	var sum struct {
		Total  int
		Groups []struct{ Class string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &sum) != nil || sum.Total != 6 || len(sum.Groups) != 6 ||
		!strings.Contains(stderr, "skipped 1 lines that are not dead letters") {
		t.Errorf("list -f json of a mixed file: %d\n%s\n%s", code, out, stderr)
	}

	fixed := runtest.WriteFile(t, dir, "fixed.yaml", dlqFixed)
	code, out, stderr = runCLI(t, "", "dlq", "replay", "--file", dead, "--through", fixed, "--dry-run")
	if code != 0 {
		t.Fatalf("dry run: %d %s", code, stderr)
	}
	for _, row := range [][]string{
		{"CLASS", "STAGE", "RECORDS", "PASS", "FILTERED", "FAIL AGAIN", "PARK", "SKIP"},
		{"coerce: price: cannot coerce", "1:coerce", "1", "1", "0", "0", "0", "0"},
		{"filter: invalid operation: string > int", "0:filter", "1", "0", "0", "1", "0", "0"},
		{"project: user: interface conversion: interface {} is int, not string", "2:project", "1", "1", "0", "0", "0", "0"},
		{"decode: invalid JSON at byte", "decode", "1", "0", "0", "1", "0", "0"},
	} {
		if !tableRow(out, row...) {
			t.Errorf("dry run lacks row %q:\n%s", row, out)
		}
	}
	if !strings.Contains(out, "\nwould fail again:\n") || !tableRow(out, "RECORDS", "CLASS", "NOW FAILS AS") ||
		!tableRow(out, "1", "filter: invalid operation: string > int", "coerce: qty: cannot coerce") {
		t.Errorf("dry run does not say how records fail again:\n%s", out)
	}
	if code, _, stderr := runCLI(t, "", "dlq", "replay", "--file", dead); code != 2 || !strings.Contains(stderr, "--dry-run only") {
		t.Errorf("replay --file without --dry-run: %d %s", code, stderr)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDlqReplay(t *testing.T) {
	addr, _ := dlqTopic(t)
	// Dry run first: nothing written, nothing committed.
	code, out, stderr := runCLI(t, "", "-b", addr, "dlq", "replay", "-t", "orders.dlq", "--dry-run")
	if code != 0 {
		t.Fatalf("dry run: %d %s", code, stderr)
	}
	if !strings.Contains(out, "10 dead letters: 8 would be replayed, 1 parked, 1 skipped\n") ||
		!tableRow(out, "coerce: price: cannot coerce", "1:coerce", "2", "1", "1", "0") ||
		!tableRow(out, "unknown", "-", "1", "0", "0", "1") ||
		!strings.Contains(out, "\nskipped:\n  1 no origin topic in the headers\n") ||
		!strings.Contains(out, "parked: 1 at the replay cap of 3 would be parked in orders.dlq.parked\n") {
		t.Errorf("dry run:\n%s", out)
	}
	if n := len(runtest.TopicRecords(t, addr, "orders")); n != 10 {
		t.Errorf("dry run wrote to orders: %d records", n)
	}
	code, out, _ = runCLI(t, "", "-b", addr, "topics", "--groups")
	if code != 0 || strings.Contains(out, "eddy-replay") {
		t.Errorf("dry run left a group:\n%s", out)
	}

	// Replay Spring's records to a named topic (the others are passed over
	// by this group), then everything else to the original topics.
	code, _, stderr = runCLI(t, "", "-b", addr, "dlq", "replay", "-t", "orders.dlq", "--to", "payments",
		"--where", `convention == "spring"`, "--group", "spring-fix")
	if code != 0 || !strings.Contains(stderr, "eddy: replayed 2  (payments 2)\n") || !strings.Contains(stderr, "eddy: skipped  8  (8 not selected by --where)\n") {
		t.Fatalf("replay --to: %d\n%s", code, stderr)
	}
	code, _, stderr = runCLI(t, "", "-b", addr, "dlq", "replay", "-t", "orders.dlq")
	if code != 0 {
		t.Fatalf("replay: %d %s", code, stderr)
	}
	for _, want := range []string{
		"eddy: replayed 8  (orders 7, payments 1)\n",
		"eddy: parked   1  (to orders.dlq.parked: at the replay cap of 3)\n",
		"eddy: skipped  1  (1 no origin topic in the headers)\n",
		"eddy: failed   0\n",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("summary lacks %q:\n%s", want, stderr)
		}
	}
	orders := runtest.TopicRecords(t, addr, "orders")
	if len(orders) != 10+7 {
		t.Fatalf("orders has %d records, want 17", len(orders))
	}
	replayed := 0
	for _, r := range orders {
		h := map[string]string{}
		for _, x := range r.Headers {
			h[x.Key] = string(x.Value)
		}
		if c, ok := h["eddy.replay.count"]; ok {
			replayed++
			if c != "1" || h["eddy.error"] != "" || (h["origin"] != "shop" && len(h) != 1) {
				t.Errorf("replayed record headers: %v", h)
			}
		}
	}
	if replayed != 7 {
		t.Errorf("%d records in orders carry eddy.replay.count, want 7", replayed)
	}
	if parked := runtest.TopicRecords(t, addr, "orders.dlq.parked"); len(parked) != 1 || !strings.Contains(string(parked[0].Value), "gratis") {
		t.Errorf("parked: %d records", len(parked))
	}
	// Run again: nothing left.
	code, _, stderr = runCLI(t, "", "-b", addr, "dlq", "replay", "-t", "orders.dlq")
	if code != 0 || !strings.Contains(stderr, "nothing to replay: group eddy-replay.orders.dlq is at the end of orders.dlq") {
		t.Errorf("second run: %d %s", code, stderr)
	}
}

func TestDlqUsage(t *testing.T) {
	clearKafkaEnv(t)
	addr := runtest.Cluster(t, "d")
	dir := t.TempDir()
	for _, tt := range []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"list neither", []string{"dlq", "list"}, 2, "either a topic"},
		{"list both", []string{"dlq", "list", "-t", "d", "--file", "f"}, 2, "either a topic"},
		{"list bad format", []string{"dlq", "list", "--file", "f", "-f", "xml"}, 2, `-f "xml"`},
		{"list missing file", []string{"dlq", "list", "--file", filepath.Join(dir, "nope")}, 1, "no such file"},
		{"list missing topic", []string{"-b", addr, "dlq", "list", "-t", "nope"}, 1, `topic does not exist: "nope"`},
		{"show bad where", []string{"dlq", "show", "--file", "f", "--where", "class +"}, 2, "--where"},
		{"show negative count", []string{"dlq", "show", "--file", "f", "-c", "-1"}, 2, "-c -1"},
		{"no subcommand", []string{"dlq"}, 2, "list, show or replay"},
		{"replay no topic", []string{"dlq", "replay"}, 2, "-t TOPIC"},
		{"replay to itself", []string{"dlq", "replay", "-t", "d", "--to", "d"}, 2, "dead-letter topic itself"},
		{"replay to and through", []string{"dlq", "replay", "-t", "d", "--to", "x", "--through", "p.yaml"}, 2, "exclude each other"},
		{"replay negative cap", []string{"dlq", "replay", "-t", "d", "--max-replays", "-1"}, 2, "--max-replays -1"},
		{"replay bad batch", []string{"dlq", "replay", "-t", "d", "--batch", "0"}, 2, "--batch 0"},
		{"replay bad where", []string{"dlq", "replay", "-t", "d", "--where", "1 +"}, 2, "--where"},
		{"replay bad pipeline", []string{"dlq", "replay", "-t", "d", "--through", filepath.Join(dir, "nope.yaml")}, 2, "nope.yaml"},
		{"replay create original", []string{"dlq", "replay", "-t", "d", "--create"}, 2, "--create is for a --to topic"},
		{"replay missing topic", []string{"-b", addr, "dlq", "replay", "-t", "nope"}, 1, `topic does not exist: "nope"`},
		{"no brokers", []string{"dlq", "list", "-t", "d"}, 2, "no brokers"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, "", tt.args...)
			if code != tt.wantCode || !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tt.wantCode, tt.wantStderr)
			}
		})
	}
}

func TestProgressBar(t *testing.T) {
	var b strings.Builder
	if p := newProgressBar(&b); p.on {
		t.Fatal("progress drawn to something that is not a terminal")
	}
	p := &progressBar{w: &b, on: true}
	p.update(replay.Progress{Done: 150, Total: 600, Replayed: 140, Parked: 4, Skipped: 6, Elapsed: 500 * time.Millisecond})
	p.clear()
	want := "\r\x1b[K[=======                       ]  25%  150/600  300/s  ETA 2s  replayed 140 parked 4 skipped 6\r\x1b[K"
	if b.String() != want {
		t.Errorf("progress\n got %q\nwant %q", b.String(), want)
	}
}

// TestDlqReplayThroughLookup: dlq replay --through opens the pipeline's
// tables as eddy run does: an order whose product was missing from the
// catalogue is replayed once the catalogue has it, with its joined name.
func TestDlqReplayThroughLookup(t *testing.T) {
	clearKafkaEnv(t)
	addr := runtest.Cluster(t, "orders", "orders.dlq")
	dir := t.TempDir()
	products := runtest.WriteFile(t, dir, "products.jsonl", `{"id":1,"name":"pen"}`+"\n")
	runtest.Produce(t, addr, &kgo.Record{Topic: "orders", Value: []byte(`{"o":1,"p":1}`)}, &kgo.Record{Topic: "orders", Value: []byte(`{"o":2,"p":2}`)})
	spec := func(name, out string) string {
		return runtest.WriteFile(t, dir, name, "name: orders\nsource: {kafka: {topic: orders, stop: caught-up}}\n"+
			"tables:\n  products: {file: "+products+"}\n"+
			"stages:\n  - lookup: {table: products, on: {p: id}, select: [name], on_missing: dlq}\n"+
			"dlq: {kafka: {topic: orders.dlq}}\nsinks:\n  - file: "+filepath.Join(dir, out)+"\n")
	}
	if code, _, stderr := runCLI(t, "", "-b", addr, "run", spec("run.yaml", "out.jsonl")); code != 0 {
		t.Fatalf("run: %d %s", code, stderr)
	}
	if got := readFile(t, filepath.Join(dir, "out.jsonl")); got != `{"o":1,"p":1,"name":"pen"}`+"\n" {
		t.Fatalf("run wrote %q", got)
	}
	runtest.WriteFile(t, dir, "products.jsonl", `{"id":1,"name":"pen"}`+"\n"+`{"id":2,"name":"ink"}`+"\n")
	code, _, stderr := runCLI(t, "", "-b", addr, "dlq", "replay", "-t", "orders.dlq", "--through", spec("fixed.yaml", "fixed.jsonl"))
	if code != 0 || !strings.Contains(stderr, "eddy: table products: 2 rows") {
		t.Fatalf("replay --through: %d %s", code, stderr)
	}
	if got := readFile(t, filepath.Join(dir, "fixed.jsonl")); got != `{"o":2,"p":2,"name":"ink"}`+"\n" {
		t.Errorf("replay --through wrote %q, want the order with its product's name", got)
	}
}
