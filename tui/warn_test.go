package tui

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/source"
)

// TestFeedWarnsOfUnseenField: the engine's warning about a field no
// record has reaches the feed's message for its generation, and the
// workbench shows it in the status line and, wrapped, in the Pipeline pane.
func TestFeedWarnsOfUnseenField(t *testing.T) {
	p, err := pipeline.Parse("w.yaml", []byte("stages: [{filter: 'amout > 0'}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := pipeline.Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	h := &hub{}
	swaps := make(chan swapReq, 1)
	swaps <- swapReq{gen: 1, plan: plan}
	src := source.NewReader("in", strings.NewReader(`{"amount":1}`+"\n"+`{"amount":2}`+"\n"))
	if err := run(context.Background(), src, h, swaps, nil, nil); err != nil {
		t.Fatal(err)
	}
	var msg FeedMsg
	h.drain(&msg)
	if len(msg.Warnings) != 1 || !strings.Contains(msg.Warnings[0], "field amout is in none of the first 2 records") {
		t.Fatalf("warnings %q", msg.Warnings)
	}

	m := newTestModel(t, 80, 24, false)
	fakeAttach(m, "clicks")
	m.Update(FeedMsg{ID: m.feedID, Gen: m.gen, Read: 2, Stats: engine.Stats{In: 2, Dead: 2}, Warnings: msg.Warnings})
	if !strings.Contains(m.status(), "warning: field amout") {
		t.Errorf("status does not show the warning: %s", m.status())
	}
	_ = m.gotoPane("pipeline")
	view := m.pipe.View()
	if !strings.Contains(view, "is it misspelt?") {
		t.Errorf("the Pipeline pane does not show the whole warning:\n%s", view)
	}
}

func TestRoundFloat(t *testing.T) {
	for _, tt := range []struct {
		f    float64
		want string
	}{
		{507.835551, "507.836"}, {457.03999999999996, "457.04"}, {0.000123456789, "0.000123"},
		{1234567.891, "1234568"}, {-2.5, "-2.5"}, {0, "0"}, {99999.94, "99999.9"}, {0.1 + 0.2, "0.3"},
	} {
		if got := roundFloat(tt.f); got != tt.want {
			t.Errorf("roundFloat(%v) = %s, want %s", tt.f, got, tt.want)
		}
	}
}

// TestDiffCommand: :diff compares the saved pipeline with the running one
// over the tail's records and shows the changed windows in a box.
func TestDiffCommand(t *testing.T) {
	m := newTestModel(t, 120, 36, false)
	fakeAttach(m, "clicks")
	feedRecords(m, clickRecords(0, 40), t0, engine.Stats{In: 40, Passed: 40})
	if _, err := m.run("diff"); err == nil || !strings.Contains(err.Error(), "never written or opened") {
		t.Fatalf(":diff without a saved pipeline: %v", err)
	}
	spec := func(filter string) string {
		return "time: {field: ts}\nstages:\n  - filter: '" + filter + "'\n  - window: {tumbling: 5s, key: country, aggregate: {n: count()}}\n"
	}
	path := filepath.Join(t.TempDir(), "saved.yaml")
	if err := os.WriteFile(path, []byte(spec("true")), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.Parse("new.yaml", []byte(spec(`event == "purchase"`)))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := pipeline.Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	m.Update(ApplyMsg{Pipeline: p, Plan: plan, What: "test"})
	m.pipe.lastPath = path
	cmd, err := m.run("diff")
	if err != nil || cmd == nil {
		t.Fatalf(":diff: %v", err)
	}
	msg, ok := cmd().(DiffMsg)
	if !ok || msg.Err != nil || msg.Records != 40 {
		t.Fatalf("diff message %+v", msg)
	}
	m.Update(msg)
	if m.question == nil || !strings.Contains(m.question.text, "over the 40 records of the tail: window rows by country, window_start, window_end:") ||
		!strings.Contains(m.question.text, "~ country=") || !strings.Contains(m.question.text, " → ") {
		t.Fatalf("no diff box: %+v", m.question)
	}
	// only purchases remain: every window with a view changes its count
	if len(msg.Res.Changed) == 0 || msg.Res.OldStats.Filtered != 0 || msg.Res.NewStats.Filtered == 0 {
		t.Errorf("diff %+v", msg.Res)
	}
}

// TestCopy: y copies the selected record's value and Y its key in
// Records; in Results y copies the row as JSON and Y the selected cell,
// each through the terminal's clipboard, with a notice.
func TestCopy(t *testing.T) {
	m := newTestModel(t, 120, 36, false)
	fakeAttach(m, "clicks")
	recs := clickRecords(0, 5)
	feedRecords(m, recs, t0, engine.Stats{In: 5, Passed: 5})
	_ = m.gotoPane("records")
	run := func(cmd tea.Cmd) (clip, notice string) {
		if cmd == nil {
			t.Fatal("no command")
		}
		b, ok := cmd().(tea.BatchMsg)
		if !ok {
			t.Fatal("not a batch")
		}
		for _, c := range b {
			switch msg := c().(type) {
			case noticeMsg:
				notice = msg.text
			default:
				clip = fmt.Sprint(msg)
			}
		}
		return clip, notice
	}
	clip, notice := run(keys(m, "y"))
	if clip != string(recs[4].Value) || !strings.Contains(notice, "copied the value of clicks/1@1") {
		t.Errorf("y: clipboard %q, notice %q", clip, notice)
	}
	if clip, _ := run(keys(m, "Y")); clip != string(recs[4].Key) {
		t.Errorf("Y: clipboard %q, want the key %q", clip, recs[4].Key)
	}
}

// TestGroupsCommand: :groups sums each group's lag per topic, :groups G
// lists its partitions, in a box.
func TestGroupsCommand(t *testing.T) {
	m := newTestModel(t, 120, 36, false)
	lags := []GroupLag{
		{Group: "billing", State: "Stable", Members: 1, Topic: "orders", Partition: 0, Committed: 10, End: 15, Lag: 5, Member: "c1 /10.0.0.1"},
		{Group: "billing", State: "Stable", Members: 1, Topic: "orders", Partition: 1, Committed: -1, End: 7, Lag: 7},
		{Group: "audit", State: "Empty", Topic: "orders", Partition: 0, Committed: 15, End: 15, Lag: 0},
	}
	m.opts.Groups = func(context.Context) ([]GroupLag, error) { return lags, nil }
	for _, tt := range []struct {
		arg  string
		want []string
	}{
		{"", []string{"consumer groups", "billing  Stable, 1 members  orders  12", "audit    Empty, 0 members   orders  0"}},
		{"billing", []string{"group billing", "orders  0          10         15   5    c1 /10.0.0.1", "orders  1          -          7    7    -"}},
		{"nope", []string{`no group "nope"`}},
	} {
		cmd, err := m.run(strings.TrimSpace("groups " + tt.arg))
		if err != nil {
			t.Fatal(err)
		}
		m.Update(cmd())
		if m.question == nil {
			t.Fatalf(":groups %s: no box", tt.arg)
		}
		for _, w := range tt.want {
			if !strings.Contains(m.question.text, w) {
				t.Errorf(":groups %s: box lacks %q:\n%s", tt.arg, w, m.question.text)
			}
		}
		m.question = nil
	}
}

// TestAttachCompletesTopics: tab after :attach completes the cluster's
// topic names, as far as they agree.
func TestAttachCompletesTopics(t *testing.T) {
	m := newTestModel(t, 120, 36, false)
	keys(m, ":")
	typeText(m, "attach cl")
	keys(m, "tab")
	if got := m.palette.String(); got != "attach clicks " {
		t.Errorf("tab: %q", got)
	}
	m.Update(TopicsMsg{Topics: []TopicInfo{{"orders", 3, 1}, {"orders.dlq", 3, 1}, {"payments", 1, 1}}})
	m.palette.set("attach or")
	keys(m, "tab")
	if got := m.palette.String(); got != "attach orders" {
		t.Errorf("tab over orders, orders.dlq: %q", got)
	}
}
