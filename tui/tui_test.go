package tui

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/source"
)

var update = flag.Bool("update", false, "rewrite the golden screens in testdata")

// press turns a key name into a key press as bubbletea would deliver it.
func press(s string) tea.KeyPressMsg {
	switch s {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "shift+tab":
		return tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(s)[0]
	return tea.KeyPressMsg{Code: r, Text: s}
}

// typeText sends each rune of s as a key press.
func typeText(m *Model, s string) {
	for _, r := range s {
		m.Update(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

func keys(m *Model, ks ...string) tea.Cmd {
	var cmd tea.Cmd
	for _, k := range ks {
		_, cmd = m.Update(press(k))
	}
	return cmd
}

func TestKeyNames(t *testing.T) {
	for _, k := range []string{"enter", "esc", "tab", "shift+tab", "space", "up", "ctrl+c", "/", "q"} {
		if got := press(k).String(); got != k {
			t.Errorf("press(%q).String() = %q", k, got)
		}
	}
}

// newTestModel is a workbench with a cluster and a pipeline, attached to a
// synthetic feed (no goroutines): tests send FeedMsgs themselves.
func newTestModel(t testing.TB, w, h int, withPlan bool) *Model {
	t.Helper()
	opts := Options{
		Label:  "localhost:9092",
		Topics: func(context.Context) ([]TopicInfo, error) { return nil, nil },
		Open:   func(context.Context, string, string) (source.Source, error) { return nil, io.EOF },
	}
	if withPlan {
		opts.Pipeline = testPlan(t).Pipeline
	}
	m := New(context.Background(), opts)
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	m.Update(TopicsMsg{Topics: []TopicInfo{{"clicks", 3, 12000}, {"nexmark.bids", 6, 480000}, {"sensors", 1, -1}}})
	return m
}

const testSpec = `name: purchases
source:
  file: clicks.jsonl
time:
  field: ts
stages:
  - filter: 'event == "purchase"'
  - coerce: {amount: float}
  - window:
      tumbling: 10s
      key: [country]
      aggregate:
        orders: count()
        revenue: sum(amount)
sinks:
  - file: "-"
`

func testPlan(t testing.TB) *pipeline.Plan {
	t.Helper()
	p, err := pipeline.Parse("test.yaml", []byte(testSpec))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := pipeline.Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

// fakeAttach attaches the model to name without starting a feed.
func fakeAttach(m *Model, name string) {
	m.Stop()
	m.feedID++
	m.attached, m.lag = name, -1
	m.topics.attached = name
	m.active = 1
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func clickRecords(from, n int) []source.Record {
	events := []string{"view", "purchase", "view", "cart"}
	countries := []string{"DE", "FR", "US"}
	var rs []source.Record
	for i := from; i < from+n; i++ {
		v := fmt.Sprintf(`{"ts":%d,"user_id":"u%d","event":%q,"country":%q,"amount":%d}`,
			t0.UnixMilli()+int64(i)*250, i%7, events[i%4], countries[i%3], 5+i%20)
		rs = append(rs, source.Record{Topic: "clicks", Partition: int32(i % 3), Offset: int64(i / 3),
			Timestamp: t0.UnixMilli() + int64(i)*250, Key: []byte(fmt.Sprintf("u%d", i%7)), Value: []byte(v),
			Headers: []source.Header{{Key: "trace", Value: []byte(fmt.Sprintf("t-%d", i))}}})
	}
	return rs
}

func feedRecords(m *Model, rs []source.Record, at time.Time, st engine.Stats) {
	m.Update(FeedMsg{ID: m.feedID, Gen: m.gen, At: at, Records: rs, Stats: st, Read: st.In, Lag: -1})
}

func TestTopicsPaneAttach(t *testing.T) {
	m := newTestModel(t, 80, 24, false)
	if got := len(m.topics.topics); got != 3 {
		t.Fatalf("topics = %d", got)
	}
	cmd := keys(m, "down", "enter")
	if cmd == nil {
		t.Fatal("enter gave no command")
	}
	if msg, ok := cmd().(AttachMsg); !ok || msg.Name != "nexmark.bids" {
		t.Fatalf("enter = %#v, want attach to nexmark.bids", msg)
	}
	keys(m, "up", "up")
	if m.topics.sel != 0 {
		t.Errorf("sel = %d after up past the top", m.topics.sel)
	}
	m.Update(TopicsMsg{Err: fmt.Errorf("list topics: broken")})
	if !strings.Contains(m.topics.View(), "error: list topics: broken") {
		t.Error("listing error not shown in the pane")
	}
}

func TestGlobalKeys(t *testing.T) {
	m := newTestModel(t, 80, 24, true)
	if len(m.panes) != 5 {
		t.Fatalf("panes = %d, want topics, records, pipeline, results, dead letters", len(m.panes))
	}
	keys(m, "tab")
	if m.active != 1 {
		t.Errorf("tab: active = %d", m.active)
	}
	keys(m, "shift+tab", "shift+tab")
	if m.active != 4 {
		t.Errorf("shift+tab twice: active = %d", m.active)
	}
	keys(m, "?")
	if !m.help || !strings.Contains(m.Render(), "/ filter") {
		t.Error("? does not show help")
	}
	keys(m, "esc")
	if m.help {
		t.Error("esc does not close help")
	}
	if cmd := keys(m, "q"); cmd == nil || cmd() != tea.Quit() {
		t.Error("q does not quit")
	}
}

func TestRecordsPane(t *testing.T) {
	m := newTestModel(t, 80, 24, false)
	fakeAttach(m, "clicks")
	feedRecords(m, clickRecords(0, 8), t0, engine.Stats{In: 8, Passed: 8})
	p := m.records
	if len(p.ring) != 8 {
		t.Fatalf("ring = %d", len(p.ring))
	}
	if cols := columns(p.ring, p.visible()); strings.Join(cols, ",") != "ts,user_id,event,country,amount" {
		t.Errorf("columns = %v", cols)
	}
	keys(m, "r")
	if !p.raw || !strings.Contains(p.View(), `"event":"purchase"`) {
		t.Error("r does not show raw values")
	}
	keys(m, "r")

	// pause: records arriving are skipped and counted
	keys(m, "space")
	feedRecords(m, clickRecords(8, 4), t0.Add(time.Second), engine.Stats{In: 12, Passed: 12})
	if !p.paused || len(p.ring) != 8 || p.skipped != 4 {
		t.Errorf("paused=%v ring=%d skipped=%d", p.paused, len(p.ring), p.skipped)
	}
	keys(m, "space")

	// a bad filter stays open with its error; q is typed, not quit
	keys(m, "/")
	typeText(m, "amount >")
	if cmd := keys(m, "enter"); cmd != nil {
		t.Error("enter on a bad filter returned a command")
	}
	if !p.filtering || p.filterErr == nil || !strings.Contains(m.Render(), "error:") {
		t.Fatalf("bad filter: filtering=%v err=%v", p.filtering, p.filterErr)
	}
	keys(m, "backspace")
	typeText(m, `>= 10 && event == "view" || country == "q"`)
	keys(m, "enter")
	if p.filtering || p.filterErr != nil || p.expr == "" {
		t.Fatalf("good filter: filtering=%v err=%v expr=%q", p.filtering, p.filterErr, p.expr)
	}
	for _, i := range p.visible() {
		if !strings.Contains(string(p.ring[i].rec.Value), `"view"`) {
			t.Errorf("filter let through %s", p.ring[i].rec.Value)
		}
	}
	if n := len(p.visible()); n == 0 || n == len(p.ring) {
		t.Errorf("filter kept %d of %d", n, len(p.ring))
	}
	// ctrl+c quits even while typing a filter
	if cmd := keys(m, "/", "ctrl+c"); cmd == nil || cmd() != tea.Quit() {
		t.Error("ctrl+c does not quit from the filter input")
	}
}

func TestRecordsFilterClearAndInspect(t *testing.T) {
	m := newTestModel(t, 80, 24, false)
	fakeAttach(m, "clicks")
	feedRecords(m, clickRecords(0, 8), t0, engine.Stats{In: 8})
	p := m.records
	keys(m, "/")
	typeText(m, `event == "cart"`)
	keys(m, "enter", "/")
	for range len(p.input.r) {
		keys(m, "backspace")
	}
	keys(m, "enter")
	if p.matcher != nil || len(p.visible()) != 8 {
		t.Errorf("empty filter: matcher=%v visible=%d", p.matcher, len(p.visible()))
	}
	keys(m, "up", "enter")
	if !p.inspecting {
		t.Fatal("enter does not inspect")
	}
	v := m.Render()
	for _, want := range []string{"partition 1  offset 2", `key "u0"`, `trace: "t-7"`, `"event": "cart"`, "timestamp 2026-03-01T12:00:01.75Z"} {
		if !strings.Contains(v, want) {
			t.Errorf("inspector lacks %q:\n%s", want, v)
		}
	}
	keys(m, "esc")
	if p.inspecting {
		t.Error("esc does not leave the inspector")
	}
	keys(m, "esc")
	if p.sel != -1 {
		t.Error("esc does not return to following")
	}
}

func TestRecordsRingBounded(t *testing.T) {
	m := newTestModel(t, 80, 24, false)
	fakeAttach(m, "clicks")
	for i := range 3 {
		feedRecords(m, clickRecords(i*700, 700), t0, engine.Stats{})
	}
	if n := len(m.records.ring); n != TailCap {
		t.Fatalf("ring = %d, want %d", n, TailCap)
	}
	if last := m.records.ring[TailCap-1].rec.Offset; last != 2099/3 {
		t.Errorf("newest offset = %d", last)
	}
}

func TestStaleFeedIgnored(t *testing.T) {
	m := newTestModel(t, 80, 24, false)
	fakeAttach(m, "clicks")
	old := m.feedID
	fakeAttach(m, "sensors")
	m.Update(FeedMsg{ID: old, Records: clickRecords(0, 3)})
	if len(m.records.ring) != 0 {
		t.Error("a replaced feed's records were shown")
	}
}

func TestStatusResultsDead(t *testing.T) {
	m := newTestModel(t, 100, 24, true)
	fakeAttach(m, "clicks")
	feedRecords(m, nil, t0, engine.Stats{In: 100})
	m.Update(FeedMsg{ID: m.feedID, Gen: m.gen, Read: 1100, Lag: -1, At: t0.Add(time.Second),
		Stats:  engine.Stats{In: 1100, Passed: 500, Filtered: 590, Dead: 8, Late: 2, Rows: 2},
		Rows:   []ResultRow{{Names: []string{"country", "orders"}, Cells: []string{"DE", "3"}}},
		Counts: map[DeadKey]int64{{"coerce: amount: cannot coerce", "2:coerce"}: 8},
		Dead:   []DeadItem{{DeadKey: DeadKey{"coerce: amount: cannot coerce", "2:coerce"}, Error: `amount: cannot coerce "x" to float`, Origin: "clicks/1@7"}},
	})
	st := m.status()
	for _, want := range []string{"in 1100 passed 500 filtered 590 dead 8 late 2", "1.0k ev/s", "clicks"} {
		if !strings.Contains(st, want) {
			t.Errorf("status %q lacks %q", st, want)
		}
	}
	if m.results.total != 1 || m.dead.counts[DeadKey{"coerce: amount: cannot coerce", "2:coerce"}] != 8 {
		t.Errorf("results=%d dead=%v", m.results.total, m.dead.counts)
	}
	m.Update(FeedMsg{ID: m.feedID, At: t0.Add(2 * time.Second), Done: true, Err: fmt.Errorf("boom")})
	if st := m.status(); !strings.Contains(st, "ended") || !strings.Contains(st, "error: boom") {
		t.Errorf("status after end = %q", st)
	}
}

// TestFeedRunsPipeline runs a real feed (goroutines, engine) over a file.
func TestTUIFeedRunsPipeline(t *testing.T) {
	var b strings.Builder
	for _, r := range clickRecords(0, 200) {
		b.Write(r.Value)
		b.WriteByte('\n')
	}
	b.WriteString("not json\n")
	src := Pace(source.NewReader("clicks.jsonl", strings.NewReader(b.String())), 20000)
	f := startFeed(context.Background(), 1, src, 0, testPlan(t), nil, nil, t.Logf)
	var recs, rows int
	var dead int64
	var last FeedMsg
	for m := range f.ch {
		recs += len(m.Records)
		rows += len(m.Rows)
		for _, n := range m.Counts {
			dead += n
		}
		last = m
	}
	if !last.Done || last.Err != nil {
		t.Fatalf("last message: done=%v err=%v", last.Done, last.Err)
	}
	st := last.Stats
	if st.In != 201 || st.In != st.Passed+st.Filtered+st.Dead+st.Late || st.Dead != 1 || dead != 1 {
		t.Errorf("stats %+v, dead letters %d", st, dead)
	}
	if recs != 201 || rows == 0 {
		t.Errorf("records %d, rows %d", recs, rows)
	}
}

func TestFeedPanicBecomesError(t *testing.T) {
	f := startFeed(context.Background(), 1, panicSource{}, 0, nil, nil, nil, t.Logf)
	var last FeedMsg
	for m := range f.ch {
		last = m
	}
	if last.Err == nil || !strings.Contains(last.Err.Error(), "panicked") {
		t.Fatalf("err = %v", last.Err)
	}
}

type panicSource struct{}

func (panicSource) Next(context.Context) (*source.Batch, error) { panic("kaput") }
func (panicSource) Release(*source.Batch)                       {}
func (panicSource) Bounded() bool                               { return true }
func (panicSource) Close() error                                { return nil }

// golden compares the screen, without escape codes, with testdata/name.golden.
// testdata is the golden files' directory, also for a test that changed
// its working directory.
var testdata, _ = filepath.Abs("testdata")

func golden(t *testing.T, name, screen string) {
	t.Helper()
	got := ansi.Strip(screen)
	lines := strings.Split(got, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	got = strings.Join(lines, "\n") + "\n"
	path := filepath.Join(testdata, name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./tui -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run go test ./tui -update to accept):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

func TestTUIGoldenScreens(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 36}} {
		w, h := size[0], size[1]
		shot := func(m *Model, name string) {
			t.Helper()
			s := m.Render()
			if n := strings.Count(s, "\n") + 1; n != h {
				t.Errorf("%s: %d lines, want %d", name, n, h)
			}
			for i, l := range strings.Split(ansi.Strip(s), "\n") {
				if n := len([]rune(l)); n > w {
					t.Errorf("%s: line %d is %d wide", name, i, n)
				}
			}
			golden(t, fmt.Sprintf("%s-%dx%d", name, w, h), s)
		}
		m := newTestModel(t, w, h, true)
		shot(m, "topics")
		keys(m, "?")
		shot(m, "help")
		keys(m, "esc")

		fakeAttach(m, "clicks")
		feedRecords(m, clickRecords(0, 40), t0, engine.Stats{In: 40, Passed: 20, Filtered: 19, Dead: 1})
		shot(m, "records")
		keys(m, "r")
		shot(m, "records-raw")
		keys(m, "r", "/")
		typeText(m, "amount >")
		keys(m, "enter")
		shot(m, "records-filter-error")
		keys(m, "esc", "up", "up", "enter")
		shot(m, "inspect")
		keys(m, "esc", "tab")
		shot(m, "pipeline")
		keys(m, "e")
		shot(m, "pipeline-edit-filter")
		keys(m, "esc", "down", "down", "e")
		shot(m, "pipeline-edit-window")
		keys(m, "tab")
		typeText(m, "x")
		shot(m, "pipeline-form-error")
		keys(m, "esc", "a")
		shot(m, "pipeline-add")
		keys(m, "esc", ":")
		typeText(m, "so")
		shot(m, "palette")
		keys(m, "esc", "tab")

		m.Update(FeedMsg{ID: m.feedID, Gen: m.gen, Read: 2040, Lag: -1, At: t0.Add(time.Second), Stats: engine.Stats{In: 2040, Passed: 1000, Filtered: 1030, Dead: 10, Rows: 3},
			Rows:   windowRows(0, 6),
			Counts: map[DeadKey]int64{{"decode: invalid JSON at byte", "decode"}: 4, {"coerce: amount: cannot coerce", "2:coerce"}: 6},
			Dead: []DeadItem{
				{DeadKey: DeadKey{"decode: invalid JSON at byte", "decode"}, Error: "invalid JSON at byte 3: unexpected end", Origin: "clicks/0@17", Value: "{\"ts"},
				{DeadKey: DeadKey{"coerce: amount: cannot coerce", "2:coerce"}, Error: `amount: cannot coerce "x" to float`, Origin: "clicks/2@9", Value: `{"amount":"x"}`},
			}})
		for i := range 5 {
			m.Update(FeedMsg{ID: m.feedID, Gen: m.gen, Read: 2040 + int64(i+1)*1000, Lag: -1, At: t0.Add(time.Duration(i+2) * time.Second),
				Stats: engine.Stats{In: 2040 + int64(i+1)*1000, Dead: 10 + int64(i)}, Rows: windowRows(i+6, 1)})
		}
		shot(m, "results")
		keys(m, "right", "right", "right", "s")
		shot(m, "results-sorted")
		keys(m, "tab")
		shot(m, "dead")
	}
}
