package cmd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/eddyhq/eddy/format"
	"github.com/eddyhq/eddy/internal/runtest"
	"github.com/eddyhq/eddy/tui"
)

// driver runs a workbench as bubbletea does: every command on a goroutine
// of its own, their messages handled one at a time by the test goroutine.
type driver struct {
	t    *testing.T
	m    *tui.Model
	msgs chan tea.Msg
	ctx  context.Context
}

func newDriver(t *testing.T, m *tui.Model) *driver {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	d := &driver{t: t, m: m, msgs: make(chan tea.Msg, 64), ctx: ctx}
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 36})
	d.run(m.Init())
	return d
}

func (d *driver) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	go func() {
		msg := cmd()
		if b, ok := msg.(tea.BatchMsg); ok {
			for _, c := range b {
				d.run(c)
			}
			return
		}
		if msg == nil {
			return
		}
		select {
		case d.msgs <- msg:
		case <-d.ctx.Done():
		}
	}()
}

func (d *driver) screen() string { return ansi.Strip(d.m.Render()) }

// press sends keys: names like "enter", "tab", or text typed rune by rune.
func (d *driver) press(ks ...string) {
	for _, k := range ks {
		var msg tea.KeyPressMsg
		switch k {
		case "enter":
			msg = tea.KeyPressMsg{Code: tea.KeyEnter}
		case "tab":
			msg = tea.KeyPressMsg{Code: tea.KeyTab}
		case "shift+tab":
			msg = tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}
		case "esc":
			msg = tea.KeyPressMsg{Code: tea.KeyEscape}
		case "ctrl+u":
			msg = tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl}
		default:
			for _, r := range k {
				_, cmd := d.m.Update(tea.KeyPressMsg{Code: r, Text: string(r)})
				d.run(cmd)
			}
			continue
		}
		_, cmd := d.m.Update(msg)
		d.run(cmd)
	}
}

// until handles messages until cond holds for the screen.
func (d *driver) until(what string, cond func(string) bool) string {
	d.t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		if s := d.screen(); cond(s) {
			return s
		}
		select {
		case msg := <-d.msgs:
			_, cmd := d.m.Update(msg)
			d.run(cmd)
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			d.t.Fatalf("timed out waiting for %s; screen:\n%s", what, d.screen())
		}
	}
}

func (d *driver) untilText(s string) string {
	d.t.Helper()
	return d.until(fmt.Sprintf("%q", s), func(sc string) bool { return strings.Contains(sc, s) })
}

var statusRe = regexp.MustCompile(`in (\d+) (?:passed|ok) (\d+) (?:filtered|filt) (\d+) dead (\d+) late (\d+)`)

// counters reads the status bar's counters.
func counters(s string) (in, passed, filtered, dead, late int) {
	m := statusRe.FindStringSubmatch(s)
	if m == nil {
		return -1, -1, -1, -1, -1
	}
	n := func(i int) int { v, _ := strconv.Atoi(m[i]); return v }
	return n(1), n(2), n(3), n(4), n(5)
}

// clickBatch is n click records from event time base, spaced 100 ms, with
// one malformed record; every third event is a purchase.
func clickBatch(from, n int, base time.Time) []*kgo.Record {
	var recs []*kgo.Record
	for i := from; i < from+n; i++ {
		ev := []string{"view", "cart", "purchase"}[i%3]
		v := fmt.Sprintf(`{"ts":%d,"user_id":"u%d","event":%q,"country":%q,"amount":%d}`,
			base.Add(time.Duration(i)*100*time.Millisecond).UnixMilli(), i%5, ev, []string{"DE", "FR"}[i%2], 1+i%9)
		recs = append(recs, &kgo.Record{Topic: "clicks", Partition: int32(i % 3), Value: []byte(v)})
	}
	recs = append(recs, &kgo.Record{Topic: "clicks", Partition: 0, Value: []byte(`{"ts":`)})
	return recs
}

// TestWorkbenchBuildsPipelineOnKafka is the tour of the tmux end-to-end
// test, in process against kfake: attach, add a filter and see the
// counters react, add a window and see rows and the chart, write the
// pipeline and run it with eddy run.
// clickCluster is a kfake cluster whose topic clicks holds clickBatch(0,
// 60, base), and the options of a workbench on it.
func clickCluster(t *testing.T, base time.Time) (addr string, opts tui.Options) {
	addr = newKafka(t, "clicks")
	runtest.Produce(t, addr, clickBatch(0, 60, base)...)
	conn := []kgo.Opt{kgo.SeedBrokers(addr)}
	cl, err := kgo.NewClient(conn...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return addr, tui.Options{Label: addr, Brokers: []string{addr}, Start: "earliest",
		Topics: topicLister(kadm.NewClient(cl)), Open: kafkaOpener(conn)}
}

func TestWorkbenchBuildsPipelineOnKafka(t *testing.T) {
	base := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	addr, opts := clickCluster(t, base)
	dir := t.TempDir()
	m := tui.New(context.Background(), opts)
	defer m.Stop()
	d := newDriver(t, m)
	d.untilText("clicks")
	d.press("enter")
	d.until("in 61, 60 passed, 1 dead", func(s string) bool {
		in, passed, filtered, dead, _ := counters(s)
		return in == 61 && passed == 60 && filtered == 0 && dead == 1
	})

	// a filter: records produced from now on go through it
	d.press("tab", "a", "f", `event == "purchase"`, "enter")
	d.untilText("added stage 0:filter")
	runtest.Produce(t, addr, clickBatch(60, 30, base)...)
	s := d.until("the filter's counters", func(s string) bool { in, _, _, _, _ := counters(s); return in == 31 })
	in, passed, filtered, dead, late := counters(s)
	if passed != 10 || filtered != 20 || dead != 1 || in != passed+filtered+dead+late {
		t.Fatalf("after the filter: in %d passed %d filtered %d dead %d late %d", in, passed, filtered, dead, late)
	}

	// a window: rows and a chart once windows close
	d.press("a", "w", "tab", "ctrl+u", "1s", "tab", "country", "tab", "ctrl+u", "orders: count(), revenue: sum(amount)")
	d.untilText("valid · enter applies")
	d.press("enter")
	d.untilText("added stage 1:window")
	runtest.Produce(t, addr, clickBatch(90, 60, base)...)
	d.press("tab")
	s = d.untilText("orders per window, top 2 keys")
	for _, want := range []string{"[Results]", "window_start", "DE", "FR", "└"} {
		if !strings.Contains(s, want) {
			t.Errorf("results lack %q:\n%s", want, s)
		}
	}

	// write it; eddy run accepts the file as written
	path := filepath.Join(dir, "built.yaml")
	d.press("shift+tab", "w", "ctrl+u", path, "enter")
	d.untilText("wrote " + path)
	spec, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"topic: clicks", addr, `filter: event == "purchase"`, "tumbling: 1s", "field: ts"} {
		if !strings.Contains(string(spec), want) {
			t.Errorf("written spec lacks %q:\n%s", want, spec)
		}
	}
	// run it over the topic up to now (stop: caught-up from the command line's view is
	// not a flag, so read a copy of the topic as a file)
	var lines bytes.Buffer
	for _, r := range clickBatch(0, 150, base) {
		lines.Write(r.Value)
		lines.WriteByte('\n')
	}
	input := filepath.Join(dir, "clicks.jsonl")
	if err := os.WriteFile(input, lines.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "rows.jsonl")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"run", path, "--input", input, "--out", out, "--dlq", filepath.Join(dir, "dead.jsonl")},
		strings.NewReader(""), &stdout, &stderr)
	if code != 0 {
		t.Fatalf("eddy run exit %d: %s", code, stderr.String())
	}
	rows, _ := os.ReadFile(out)
	if n := bytes.Count(rows, []byte("\n")); n == 0 || !bytes.Contains(rows, []byte(`"orders":`)) {
		t.Errorf("eddy run wrote %d rows:\n%s", n, rows)
	}
}

// TestWorkbenchReplaysDeadLetterTopic reads a dead-letter topic into the
// pane, dry-runs it, replays it after the confirmation, and replays nothing
// the second time.
func TestWorkbenchReplaysDeadLetterTopic(t *testing.T) {
	addr := newKafka(t, "clicks", "clicks.dlq")
	var letters []*kgo.Record
	for i := range 4 {
		letters = append(letters, &kgo.Record{Topic: "clicks.dlq", Partition: int32(i % 3),
			Value: []byte(fmt.Sprintf(`{"ts":1,"event":"purchase","amount":"x%d"}`, i)),
			Headers: []kgo.RecordHeader{
				{Key: "eddy.error", Value: []byte(`amount: cannot coerce "x" to float`)},
				{Key: "eddy.stage", Value: []byte("1:coerce")},
				{Key: "eddy.source.topic", Value: []byte("clicks")},
				{Key: "eddy.source.partition", Value: []byte(strconv.Itoa(i % 3))},
				{Key: "eddy.source.offset", Value: []byte(strconv.Itoa(i))},
			}})
	}
	runtest.Produce(t, addr, letters...)
	conn := []kgo.Opt{kgo.SeedBrokers(addr)}
	cl, err := kgo.NewClient(conn...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	m := tui.New(context.Background(), tui.Options{Label: addr, Start: "earliest", Topics: topicLister(kadm.NewClient(cl)),
		Open: kafkaOpener(conn), Dead: deadOps(conn, cl)})
	defer m.Stop()
	d := newDriver(t, m)
	d.untilText("clicks.dlq")
	d.press(":", "dlq clicks.dlq", "enter")
	s := d.untilText("read 4 dead letters from clicks.dlq")
	if !strings.Contains(s, "1:coerce") || !strings.Contains(s, "clicks/0@0") {
		t.Fatalf("dead-letter topic not listed:\n%s", s)
	}
	d.press("D")
	d.untilText("would replay 4")
	if got := len(consumeAll(t, addr, "clicks")); got != 0 {
		t.Fatalf("dry run wrote %d records", got)
	}
	d.press("P")
	d.untilText("replay the 4 dead letters of clicks.dlq to their original topics?")
	d.press("y")
	d.untilText("replayed 4")
	back := consumeAll(t, addr, "clicks")
	if len(back) != 4 {
		t.Fatalf("clicks holds %d replayed records, want 4", len(back))
	}
	for _, r := range back {
		count := ""
		for _, h := range r.Headers {
			if h.Key == "eddy.replay.count" {
				count = string(h.Value)
			}
		}
		if count != "1" {
			t.Errorf("replayed record has eddy.replay.count %q", count)
		}
	}
	// a second replay finds nothing new
	d.press("P")
	d.untilText("replay the 4 dead letters")
	d.press("y")
	d.untilText("replayed 0")
	if got := len(consumeAll(t, addr, "clicks")); got != 4 {
		t.Errorf("second replay: clicks holds %d records, want 4", got)
	}
}

// TestWorkbenchAvroExportKeepsTypes: over an Avro topic (kfake, srfake),
// the workbench's x export of the records keeps the schema's types as eddy
// export does: a long as BIGINT, a timestamp-millis as TIMESTAMP, a decimal
// as DECIMAL(p,s) with its exact value, a record as a STRUCT, an array as a
// LIST, a map as a MAP, read back from the DuckDB and Parquet files. A
// value that does not decode shows why, in its row and in the inspector,
// is a dead letter of the decode stage, and is left out of the export.
func TestWorkbenchAvroExportKeepsTypes(t *testing.T) {
	addr := newKafka(t, "orders")
	reg := srfake.New()
	defer reg.Close()
	schema := `{"type":"record","name":"Order","fields":[
		{"name":"id","type":"long"},
		{"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},
		{"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":20,"scale":4}},
		{"name":"who","type":{"type":"record","name":"Who","fields":[{"name":"city","type":"string"}]}},
		{"name":"items","type":{"type":"array","items":"long"}},
		{"name":"attrs","type":{"type":"map","values":"double"}}]}`
	reg.SeedSchema("orders-value", 1, 3, sr.Schema{Schema: schema, Type: sr.TypeAvro})
	s := avro.MustParse(schema)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var recs []*kgo.Record
	for i := range 3 {
		amount, _ := new(big.Rat).SetString(fmt.Sprintf("1234567890123456.789%d", i))
		payload, err := avro.Marshal(s, map[string]any{"id": int64(100 + i), "at": base.Add(time.Duration(i) * time.Second),
			"amount": amount, "who": map[string]any{"city": fmt.Sprintf("c%d", i)}, "items": []int64{int64(i), 7}, "attrs": map[string]any{"a": float64(i) + 0.5}})
		if err != nil {
			t.Fatal(err)
		}
		var h sr.ConfluentHeader
		v, _ := h.AppendEncode(nil, 3, nil)
		recs = append(recs, &kgo.Record{Topic: "orders", Partition: 0, Value: append(v, payload...)})
	}
	var h sr.ConfluentHeader
	unknown, _ := h.AppendEncode(nil, 99, nil)
	recs = append(recs, &kgo.Record{Topic: "orders", Partition: 0, Value: []byte(`{"id":9}`)},
		&kgo.Record{Topic: "orders", Partition: 0, Value: append(unknown, 2, 4)})
	runtest.Produce(t, addr, recs...)

	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rc, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts := tui.Options{Label: addr, Start: "earliest", Topics: topicLister(kadm.NewClient(cl)), Open: kafkaOpener([]kgo.Opt{kgo.SeedBrokers(addr)})}
	decodeOptions(&opts, format.NewCache(ctx, rc, format.CacheOptions{}), rc, "avro")
	m := tui.New(ctx, opts)
	defer m.Stop()
	d := newDriver(t, m)
	d.untilText("orders")
	d.press("enter")
	sc := d.untilText("5 records")
	for _, want := range []string{"c2", "⚠ wrong magic byte: 0x7b, wan", "⚠ unknown schema id (schema i", "in 5 passed 3 filtered 0 dead 2"} {
		if !strings.Contains(sc, want) {
			t.Errorf("records pane lacks %q:\n%s", want, sc)
		}
	}
	d.press("enter") // the newest record: the one of an unknown schema
	if sc := d.untilText("not decoded: "); !strings.Contains(sc, "not decoded: unknown schema id (schema id 99): the registry does not know it") {
		t.Errorf("inspector:\n%s", sc)
	}
	d.press("esc")

	db := filepath.Join(t.TempDir(), "w.duckdb")
	d.press("x", "ctrl+u", "export duckdb "+db+" orders", "enter")
	sc = d.untilText("wrote 3 rows")
	// the notice wraps where the temporary path's length puts its words
	if words := strings.Join(strings.Fields(sc), " "); !strings.Contains(words, "(2 not decoded skipped);") || !strings.Contains(words, "first not decoded: orders/0 offset 3: wrong magic byte") {
		t.Errorf("notice:\n%s", sc)
	}
	pq := filepath.Join(t.TempDir(), "w.parquet")
	d.press("x", "ctrl+u", "export parquet "+pq, "enter")
	d.untilText("wrote 3 rows to " + pq)
	for _, from := range []string{"orders", fmt.Sprintf("read_parquet('%s')", pq)} {
		if got := queryDB(t, db, `SELECT typeof(id) || ' | ' || typeof("at") || ' | ' || typeof(amount) || ' | ' || typeof(who) || ' | ' || typeof(items) || ' | ' || typeof(attrs) FROM `+from+` LIMIT 1`); got !=
			"BIGINT | TIMESTAMP | DECIMAL(20,4) | STRUCT(city VARCHAR) | BIGINT[] | MAP(VARCHAR, DOUBLE)" {
			t.Errorf("%s: types %s", from, got)
		}
		got := queryDB(t, db, `SELECT string_agg(id || ' ' || strftime("at", '%H:%M:%S') || ' ' || amount::VARCHAR || ' ' || who.city || ' ' || items[1] || ' ' || attrs['a'], '; ' ORDER BY id) FROM `+from)
		if want := "100 00:00:00 1234567890123456.7890 c0 0 0.5; 101 00:00:01 1234567890123456.7891 c1 1 1.5; 102 00:00:02 1234567890123456.7892 c2 2 2.5"; got != want {
			t.Errorf("%s: rows:\n got %s\nwant %s", from, got, want)
		}
	}
	// exact: the decimals sum as a DECIMAL
	if got := queryDB(t, db, `SELECT sum(amount)::VARCHAR FROM orders`); got != "3703703670370370.3673" {
		t.Errorf("sum %s", got)
	}

	// the two are dead letters of the decode stage, with the decoder's reasons
	d.press("tab", "tab", "tab")
	sc = d.untilText("[Dead letters]")
	for _, want := range []string{"decode: unknown schema id", "decode: wrong magic byte"} {
		if !strings.Contains(sc, want) {
			t.Errorf("dead letters lack %q:\n%s", want, sc)
		}
	}
}

// TestWorkbenchMetricsByStage: the workbench's --metrics serves what eddy
// run --metrics does for its running pipeline: the totals, the counts by
// stage, the rows by sink, the lag by partition; scraped over HTTP, they are the status bar's
// counters, and they follow an edit (a new pipeline counts from zero).
func TestWorkbenchMetricsByStage(t *testing.T) {
	base := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	addr, opts := clickCluster(t, base)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	maddr := ln.Addr().String()
	ln.Close()
	stop, err := serveWorkbenchMetrics(maddr, io.Discard, &opts)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	scrape := func() map[string]float64 {
		t.Helper()
		resp, err := http.Get("http://" + maddr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got := map[string]float64{}
		for _, l := range strings.Split(string(b), "\n") {
			if i := strings.LastIndexByte(l, ' '); strings.HasPrefix(l, "eddy_") && i > 0 {
				v, _ := strconv.ParseFloat(l[i+1:], 64)
				got[l[:i]] = v
			}
		}
		return got
	}
	m := tui.New(context.Background(), opts)
	defer m.Stop()
	d := newDriver(t, m)
	d.untilText("clicks")
	d.press("enter")
	d.until("in 61", func(s string) bool { in, _, _, _, _ := counters(s); return in == 61 })
	const src = `{kind="source",pipeline="workbench",stage="source"}`
	got := scrape()
	for k, want := range map[string]float64{
		`eddy_records_in_total{pipeline="workbench"}`:                                   61,
		`eddy_records_dead_total{pipeline="workbench"}`:                                 1,
		"eddy_stage_records_in_total" + src:                                             61,
		"eddy_stage_records_dead_total" + src:                                           1,
		"eddy_stage_records_passed_total" + src:                                         60,
		`eddy_sink_rows_total{kind="results",pipeline="workbench",sink="0"}`:            60,
		`eddy_partition_lag_records{partition="1",pipeline="workbench",topic="clicks"}`: 0, // read to its end
	} {
		if v, ok := got[k]; !ok || v != want {
			t.Errorf("before the edit: %s = %v (%v), want %v", k, v, ok, want)
		}
	}

	d.press("tab", "a", "f", `event == "purchase"`, "enter")
	d.untilText("added stage 0:filter")
	runtest.Produce(t, addr, clickBatch(60, 30, base)...)
	s := d.until("the filter's counters", func(s string) bool { in, _, _, _, _ := counters(s); return in == 31 })
	in, passed, filtered, dead, _ := counters(s)
	const filter = `{kind="filter",pipeline="workbench",stage="0"}`
	got = scrape()
	for k, want := range map[string]int{
		`eddy_records_in_total{pipeline="workbench"}`:                        in,
		`eddy_records_passed_total{pipeline="workbench"}`:                    passed,
		`eddy_records_filtered_total{pipeline="workbench"}`:                  filtered,
		"eddy_stage_records_in_total" + src:                                  in,
		"eddy_stage_records_dead_total" + src:                                dead,
		"eddy_stage_records_passed_total" + src:                              in - dead,
		"eddy_stage_records_in_total" + filter:                               in - dead,
		"eddy_stage_records_filtered_total" + filter:                         filtered,
		"eddy_stage_records_passed_total" + filter:                           passed,
		`eddy_sink_rows_total{kind="results",pipeline="workbench",sink="0"}`: passed,
	} {
		if v, ok := got[k]; !ok || v != float64(want) {
			t.Errorf("after the edit: %s = %v (%v), want %d", k, v, ok, want)
		}
	}
	if passed != 10 || filtered != 20 || dead != 1 {
		t.Errorf("status bar: passed %d filtered %d dead %d", passed, filtered, dead)
	}
	if _, ok := got[`eddy_watermark_delay_seconds{pipeline="workbench"}`]; !ok {
		t.Errorf("no watermark delay:\n%v", got)
	}
}
