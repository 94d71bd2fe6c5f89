//go:build integration

package cmd

// The parity test of issue 16 on a real Flink: each pipeline runs through
// `eddy run` over a topic on the real broker (scripts/kafka.sh) and through
// `eddy deploy` on a real Flink session cluster and SQL Gateway
// (scripts/flink.sh) over the same topic, and the rows Flink writes to the
// sink topic, read back with kcat, must be the rows eddy wrote.
//
//	export $(scripts/kafka.sh up) $(scripts/flink.sh up)
//	go test -tags integration -count=1 -run IntegrationFlink ./cmd/ -v
//
// EDDY_TEST_FLINK_SHORT=1 runs the first three pipelines, the idle
// partitions, the joins and every fourth expression form only (CI).

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/fixtures"
	"github.com/eddyhq/eddy/internal/flinkgw"
	"github.com/eddyhq/eddy/internal/runtest"
)

// flinkCase is one pipeline of the parity test; the fixture is nexmark
// bids with the given disorder.
type flinkCase struct {
	name     string
	spec     string
	disorder time.Duration
	sample   bool // deploy --sample: no coerce, types from the topic
	// idle: the topic has four partitions and every record goes to
	// partitions 0 and 1 (by auction), so two stay silent.
	idle bool
}

var flinkCases = []flinkCase{
	{name: "tumbling-keyed-filter-coerce", spec: `time: {field: dateTime, max_out_of_order: 50ms}
stages:
  - coerce: {auction: int, price: int}
  - filter: price > 1000 && channel != "Baidu"
  - window:
      tumbling: 100ms
      key: [channel]
      aggregate: {n: count(), total: sum(price), mean: avg(price), hi: max(price), lo: min(price), bidders: count_distinct(bidder)}
`},
	{name: "hopping-keyed", spec: `time: {field: dateTime}
stages:
  - coerce: {auction: int, price: int}
  - window:
      hopping: {size: 400ms, slide: 100ms}
      key: auction
      aggregate: {n: count(), hi: max(price)}
`},
	{name: "session-keyed", spec: `time: {field: dateTime}
stages:
  - coerce: {auction: int, price: int}
  - window:
      session: {gap: 20ms}
      key: [auction]
      aggregate: {n: count(), total: sum(price)}
`},
	{name: "tumbling-unkeyed", spec: `time: {field: dateTime}
stages:
  - coerce: {price: float}
  - window:
      tumbling: 250ms
      aggregate: {n: count(), total: sum(price), mean: avg(price), n_extra: count(extra)}
`},
	{name: "hopping-unkeyed-filter", spec: `time: {field: dateTime, max_out_of_order: 10ms}
stages:
  - coerce: {price: int}
  - filter: price % 3 == 0 || channel in ["Apple", "Google"]
  - window:
      hopping: {size: 1s, slide: 250ms}
      aggregate: {n: count(), hi: max(price)}
`},
	{name: "session-unkeyed", spec: `time: {field: dateTime}
stages:
  - coerce: {price: int}
  - filter: price > 90000
  - window:
      session: {gap: 5ms}
      aggregate: {n: count(), lo: min(price)}
`},
	{name: "session-two-keys", spec: `time: {field: dateTime}
stages:
  - coerce: {auction: int, bidder: int, price: int}
  - window:
      session: {gap: 50ms}
      key: [auction, channel]
      aggregate: {n: count(), bidders: count_distinct(bidder)}
`},
	{name: "project-expressions", spec: `time: {field: dateTime}
stages:
  - coerce: {price: int}
  - project:
      ch: 'lower(channel) + "!"'
      big: price >= 50000
      half: price / 2
      web: 'url contains "deal" ? "deal" : (url startsWith "https" ? "https" : "other")'
  - window:
      tumbling: 200ms
      key: [ch]
      aggregate: {n: count(), half_total: sum(half), webs: count_distinct(web), bigs: count_distinct(big)}
`},
	{name: "sampled-types", sample: true, spec: `time: {field: dateTime}
stages:
  - filter: price > 1000
  - window:
      tumbling: 500ms
      key: auction
      aggregate: {n: count(), hi: max(price), mean: avg(price), total: sum(price)}
`},
	{name: "disorder-within-bound", disorder: 40 * time.Millisecond, spec: `time: {field: dateTime, max_out_of_order: 60ms}
stages:
  - coerce: {auction: int, price: int}
  - window:
      tumbling: 100ms
      key: [auction]
      aggregate: {n: count(), hi: max(price)}
`},
	{name: "idle-partitions", idle: true, spec: `time: {field: dateTime, max_out_of_order: 50ms, idle_timeout: 200ms}
stages:
  - coerce: {auction: int, price: int}
  - window:
      tumbling: 200ms
      key: auction
      aggregate: {n: count(), hi: max(price)}
`},
	{name: "disorder-hopping-session", disorder: 20 * time.Millisecond, spec: `time: {field: dateTime, max_out_of_order: 25ms}
stages:
  - coerce: {price: int}
  - window:
      hopping: {size: 300ms, slide: 150ms}
      key: channel
      aggregate: {n: count(), total: sum(price)}
`},
}

func flinkIdleCase() flinkCase {
	for _, c := range flinkCases {
		if c.idle {
			return c
		}
	}
	panic("no idle-partitions case")
}

func TestIntegrationFlinkParity(t *testing.T) {
	env := itSetup(t)
	gateway := os.Getenv("EDDY_TEST_FLINK_GATEWAY")
	if gateway == "" {
		t.Skip("EDDY_TEST_FLINK_GATEWAY is not set; start Flink with: export $(scripts/flink.sh up)")
	}
	cases := flinkCases
	if os.Getenv("EDDY_TEST_FLINK_SHORT") != "" {
		// the first three, and the idle partitions (CI)
		cases = append(cases[:3:3], flinkIdleCase())
	}
	adm := itAdmin(t, env.brokers)
	dir := t.TempDir()
	type input struct {
		disorder time.Duration
		idle     bool
	}
	topics := map[input]string{}
	for _, c := range cases {
		in := input{c.disorder, c.idle}
		if _, ok := topics[in]; ok {
			continue
		}
		lines := genLines(t, "nexmark", fixtures.Options{Count: 3000, Seed: 16, Only: "bids", Disorder: c.disorder})
		topic := itName(fmt.Sprintf("flink.bids.%d", c.disorder.Milliseconds()))
		// eddy produce keeps each partition in the order of the lines
		// (kcat's producer may reorder a batch it retries, which would
		// make records late)
		if !c.idle {
			itCreateTopic(t, adm, topic)
			if code, _, stderr := runCLI(t, strings.Join(lines, "\n")+"\n", "produce", "-b", env.brokers, "-t", topic, "--key", "auction"); code != 0 {
				t.Fatalf("produce: %d %s", code, stderr)
			}
		} else {
			topic += ".idle"
			itCreateTopics(t, adm, 4, topic)
			var parts [2][]string
			for _, l := range lines {
				var b map[string]any
				if err := json.Unmarshal([]byte(l), &b); err != nil {
					t.Fatal(err)
				}
				p := crc32.ChecksumIEEE([]byte(fmt.Sprint(b["auction"]))) % 2
				parts[p] = append(parts[p], l)
			}
			for p, ls := range parts {
				if code, _, stderr := runCLI(t, strings.Join(ls, "\n")+"\n", "produce", "-b", env.brokers, "-t", topic, "--key", "auction", "-p", fmt.Sprint(p)); code != 0 {
					t.Fatalf("produce: %d %s", code, stderr)
				}
			}
		}
		topics[in] = topic
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			topic := topics[input{c.disorder, c.idle}]
			spec := fmt.Sprintf("name: %s\nsource:\n  kafka: {topic: %s, stop: caught-up}\n%s", c.name, topic, c.spec)
			path := runtest.WriteFile(t, dir, c.name+".yaml", spec+"sinks:\n  - file: \"-\"\n")
			var extra []string
			if c.sample {
				extra = append(extra, "--sample", "500")
			}
			flinkSameRows(t, env, gateway, c.name, path, extra...)
		})
	}
}

// flinkSameRows runs the spec at path through eddy run and through eddy
// deploy on Flink (writing to a sink topic read back with kcat) and
// requires the same rows, sorted.
func flinkSameRows(t *testing.T, env itEnv, gateway, name, path string, deployArgs ...string) {
	t.Helper()
	code, out, stderr := runCLI(t, "", "run", path, "-b", env.brokers)
	if code != 0 {
		t.Fatalf("eddy run: %d %s", code, stderr)
	}
	want := flinkRows(t, out)
	if len(want) == 0 {
		t.Fatalf("eddy run wrote no rows (%s)", stderr)
	}
	if st := itStatsLine(t, stderr); st.Late != 0 {
		t.Fatalf("eddy run found %d late records; the fixture must have none", st.Late)
	}
	sink := itName("flink.out." + name)
	args := append([]string{"deploy", path, "--flink", gateway, "-b", env.brokers, "--sink-topic", sink, "--parallelism", "2"}, deployArgs...)
	code, jobOut, stderr := runCLI(t, "", args...)
	if code != 0 {
		t.Fatalf("eddy deploy: %d %s", code, stderr)
	}
	job := strings.TrimSpace(jobOut)
	status := flinkWaitJob(t, gateway, job)
	if status != "FINISHED" {
		t.Fatalf("job %s ended %s", job, status)
	}
	got := flinkRows(t, itKcat(t, nil, "-b", env.brokers, "-C", "-t", sink, "-e", "-q", "-f", "%s\n"))
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Flink's rows differ from eddy's: %d rows vs %d\n%s", len(got), len(want), flinkDiff(want, got))
	}
}

// Joins of two topics on Flink (issue 19 item 7; in the short set too):
// bids with their auctions as an interval left join and as a tumbling
// window join, through eddy run and through eddy deploy, the same rows
// (sorted: Flink emits each pair when it completes). The coerce types
// the selected numbers, which Flink would otherwise write as text.
func TestIntegrationFlinkJoin(t *testing.T) {
	env := itSetup(t)
	gateway := os.Getenv("EDDY_TEST_FLINK_GATEWAY")
	if gateway == "" {
		t.Skip("EDDY_TEST_FLINK_GATEWAY is not set; start Flink with: export $(scripts/flink.sh up)")
	}
	adm := itAdmin(t, env.brokers)
	dir := t.TempDir()
	var sources strings.Builder
	sources.WriteString("sources:\n")
	for _, only := range []string{"bids", "auctions"} {
		lines := genLines(t, "nexmark", fixtures.Options{Count: 2000, Seed: 19, Only: only})
		topic := itName("flink.join." + only)
		itCreateTopic(t, adm, topic)
		if code, _, stderr := runCLI(t, strings.Join(lines, "\n")+"\n", "produce", "-b", env.brokers, "-t", topic); code != 0 {
			t.Fatalf("produce: %d %s", code, stderr)
		}
		fmt.Fprintf(&sources, "  %s: {kafka: {topic: %s, stop: caught-up}}\n", only, topic)
	}
	head := sources.String() + "time: {field: dateTime, max_out_of_order: 1s}\nstages:\n  - coerce: {auction: int, id: int, price: int, seller: int, category: int}\n"
	specs := []struct{ name, stages string }{
		{"join-interval-left", `  - filter: _source == "auctions" || price > 1000
  - join: {with: auctions, on: {auction: id}, between: [1s, 10s], type: left, select: [auction, price, dateTime, auctions.seller, {auction_time: auctions.dateTime}]}
`},
		{"join-window-tumbling", `  - join: {with: auctions, on: {auction: id}, window: {tumbling: 2s}, select: [auction, price, {category: auctions.category}]}
`},
	}
	for _, c := range specs {
		t.Run(c.name, func(t *testing.T) {
			path := runtest.WriteFile(t, dir, c.name+".yaml", "name: "+c.name+"\n"+head+c.stages+"sinks:\n  - file: \"-\"\n")
			flinkSameRows(t, env, gateway, c.name, path)
		})
	}
}

// flinkWaitJob follows a job with `eddy deploy --status` until it is no
// longer running (the source is bounded: stop: caught-up).
func flinkWaitJob(t *testing.T, gateway, job string) string {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		code, out, stderr := runCLI(t, "", "deploy", "--status", job, "--flink", gateway)
		if code != 0 {
			t.Fatalf("deploy --status: %d %s", code, stderr)
		}
		f := strings.Split(strings.TrimSpace(out), "\t")
		if len(f) < 2 || f[0] != job {
			t.Fatalf("deploy --status printed %q", out)
		}
		switch f[1] {
		case "FINISHED", "FAILED", "CANCELED":
			return f[1]
		}
		if time.Now().After(deadline) {
			runCLI(t, "", "deploy", "--cancel", job, "--flink", gateway)
			t.Fatalf("job %s still %s after 3 minutes", job, f[1])
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// flinkRows normalizes JSON rows for comparison: numbers as float64 (Flink
// writes an integral DOUBLE as 5.0, eddy as 5), keys sorted, rows sorted
// (Flink's parallel windows come in no fixed order).
func flinkRows(t *testing.T, text string) []string {
	t.Helper()
	var rows []string
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("row %q: %v", l, err)
		}
		b, _ := json.Marshal(m) // map keys are sorted; numbers are float64
		rows = append(rows, string(b))
	}
	sort.Strings(rows)
	return rows
}

func flinkDiff(want, got []string) string {
	w := map[string]int{}
	for _, r := range want {
		w[r]++
	}
	for _, r := range got {
		w[r]--
	}
	var b strings.Builder
	n := 0
	for r, c := range w {
		if c != 0 && n < 10 {
			fmt.Fprintf(&b, "  %+d %s\n", -c, r)
			n++
		}
	}
	return b.String()
}

// Every translated expression form against Flink on edge values: each
// expression runs in `eddy run` over a file and through the script's
// translation in a Flink batch query over the same values.
func TestIntegrationFlinkExpressions(t *testing.T) {
	gateway := os.Getenv("EDDY_TEST_FLINK_GATEWAY")
	if gateway == "" {
		t.Skip("EDDY_TEST_FLINK_GATEWAY is not set; start Flink with: export $(scripts/flink.sh up)")
	}
	gw, err := flinkgw.New(gateway)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	// a, b numbers; s, u strings; each record one bucket of edge values
	records := []string{
		`{"t":0,"a":7,"b":2,"s":"Hello","u":"he"}`,
		`{"t":1,"a":-7,"b":2,"s":"hello world","u":"world"}`,
		`{"t":2,"a":0,"b":5,"s":"","u":""}`,
		`{"t":3,"a":10,"b":10,"s":"x","u":"xy"}`,
		`{"t":4,"a":3,"b":4,"s":"abc","u":"c"}`,
	}
	exprs := []string{
		"a + b", "a - b", "a * b", "a / b", "a % b", "a ** 2", "-a",
		"a > b", "a >= b", "a < b", "a <= b", "a == b", "a != b",
		"a > 2 && b < 5", "a > 2 || b > 5", "!(a > b)",
		"a in [7, 10]", `s in ["x", "abc"]`,
		"s contains u", "s startsWith u", "s endsWith u", "upper(s)", "lower(s)",
		`s + "!"`, `a > 0 ? "pos" : "nonpos"`, `s == "" ? 1 : 2`,
	}
	short := os.Getenv("EDDY_TEST_FLINK_SHORT") != ""
	for i, e := range exprs {
		if short && i%4 != 0 {
			continue // the short set: every fourth form
		}
		t.Run(fmt.Sprintf("%02d", i), func(t *testing.T) {
			in := runtest.WriteFile(t, dir, fmt.Sprintf("in%d.jsonl", i), strings.Join(records, "\n")+"\n")
			spec := fmt.Sprintf("source: {file: %s}\ntime: {field: t}\nstages:\n  - coerce: {a: int, b: int}\n  - project: {v: '%s', t: t}\n  - window: {tumbling: 1ms, key: [v], aggregate: {n: count()}}\nsinks:\n  - file: \"-\"\n", in, e)
			path := runtest.WriteFile(t, dir, fmt.Sprintf("e%d.yaml", i), spec)
			code, out, stderr := runCLI(t, "", "run", path)
			if code != 0 {
				t.Fatalf("eddy run: %s", stderr)
			}
			var want []string
			for _, r := range flinkRows(t, out) {
				var m map[string]any
				_ = json.Unmarshal([]byte(r), &m)
				b, _ := json.Marshal(m["v"])
				want = append(want, fmt.Sprintf("%s@%s", m["window_start"], b))
			}
			sort.Strings(want)
			code, script, stderr := runCLI(t, "", "sql", path, "--dialect", "flink")
			if code != 0 {
				t.Fatalf("eddy sql: %s", stderr)
			}
			sess, err := gw.Open(ctx, "eddy test", map[string]string{"execution.runtime-mode": "batch"})
			if err != nil {
				t.Fatal(err)
			}
			defer sess.Close(ctx)
			var got []string
			for _, st := range flinkgw.Split(script) {
				if strings.HasPrefix(st, "INSERT") {
					// the window rows the INSERT reads, queried instead
					st = "SELECT `window_start`, `v` " + st[strings.Index(st, "FROM (\n"):]
				} else if strings.HasPrefix(st, "SET 'pipeline.auto-watermark") {
					continue
				}
				r, err := sess.Execute(ctx, st)
				if err != nil {
					t.Fatalf("%s: %v", firstWords(st), err)
				}
				if strings.HasPrefix(st, "SELECT") {
					for _, row := range r.Rows {
						b, _ := json.Marshal(row[1])
						var v any
						_ = json.Unmarshal(b, &v)
						b, _ = json.Marshal(v)
						got = append(got, fmt.Sprintf("%s@%s", row[0], b))
					}
				}
			}
			sort.Strings(got)
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("%s: Flink %v, eddy %v", e, got, want)
			}
		})
	}
}

// Kafka sinks with key fields, appended (kafka) and with allowed lateness
// (upsert-kafka): the records Flink writes, key and value byte for byte,
// are the records eddy writes.
func TestIntegrationFlinkKeyedSinks(t *testing.T) {
	env := itSetup(t)
	gateway := os.Getenv("EDDY_TEST_FLINK_GATEWAY")
	if gateway == "" {
		t.Skip("EDDY_TEST_FLINK_GATEWAY is not set; start Flink with: export $(scripts/flink.sh up)")
	}
	adm := itAdmin(t, env.brokers)
	topic := itName("flink.keyed")
	itCreateTopic(t, adm, topic)
	lines := genLines(t, "nexmark", fixtures.Options{Count: 2000, Seed: 5, Only: "bids"})
	if code, _, stderr := runCLI(t, strings.Join(lines, "\n")+"\n", "produce", "-b", env.brokers, "-t", topic, "--key", "auction"); code != 0 {
		t.Fatalf("produce: %d %s", code, stderr)
	}
	dir := t.TempDir()
	for _, late := range []string{"", ", allowed_lateness: 1s"} {
		name := "append"
		if late != "" {
			name = "upsert"
		}
		t.Run(name, func(t *testing.T) {
			spec := func(sink string) string {
				return fmt.Sprintf(`name: keyed-%s
source:
  kafka: {topic: %s, stop: caught-up}
time: {field: dateTime%s}
stages:
  - coerce: {auction: int, price: int}
  - window:
      tumbling: 500ms
      key: [auction, channel]
      aggregate: {n: count(), hi: max(price)}
sinks:
  - kafka: {topic: %s, key: [auction, channel]}
`, name, topic, late, sink)
			}
			eddySink, flinkSink := itName("flink.keyed.eddy"), itName("flink.keyed.flink")
			code, _, stderr := runCLI(t, "", "run", runtest.WriteFile(t, dir, name+"-eddy.yaml", spec(eddySink)), "-b", env.brokers)
			if code != 0 {
				t.Fatalf("eddy run: %d %s", code, stderr)
			}
			code, jobOut, stderr := runCLI(t, "", "deploy", runtest.WriteFile(t, dir, name+"-flink.yaml", spec(flinkSink)), "--flink", gateway, "-b", env.brokers)
			if code != 0 {
				t.Fatalf("eddy deploy: %d %s", code, stderr)
			}
			if st := flinkWaitJob(t, gateway, strings.TrimSpace(jobOut)); st != "FINISHED" {
				t.Fatalf("job ended %s", st)
			}
			read := func(topic string) []string {
				out := strings.Split(strings.TrimSpace(itKcat(t, nil, "-b", env.brokers, "-C", "-t", topic, "-e", "-q", "-f", "%k\t%s\n")), "\n")
				sort.Strings(out)
				return out
			}
			want, got := read(eddySink), read(flinkSink)
			if len(want) < 100 || strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("Flink wrote %d records, eddy %d; first: %q vs %q", len(got), len(want), got[0], want[0])
			}
		})
	}
}
