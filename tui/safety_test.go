package tui

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/replay"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/value"
)

// exportVia runs an export typed on the command line that x opened.
func exportVia(t *testing.T, m *Model, line string) {
	t.Helper()
	keys(m, "x")
	if m.palette == nil {
		t.Fatal("x does not open the command line")
	}
	m.palette.set(line)
	runCmd(m, keys(m, "enter"))
}

func count(t *testing.T, db, q string) int {
	t.Helper()
	conn, err := sql.Open("duckdb", db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var n int
	if err := conn.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func TestExportRecordsSkipsMalformed(t *testing.T) {
	db := filepath.Join(t.TempDir(), "x.duckdb")
	m := newTestModel(t, 120, 36, false)
	fakeAttach(m, "clicks")
	rs := clickRecords(0, 30)
	// two malformed records in the middle of the tail: cut JSON and an array
	rs[10].Value = []byte(`{"ts`)
	rs[20].Value = []byte(`[1,2]`)
	feedRecords(m, rs, t0, engine.Stats{In: 30})
	exportVia(t, m, "export duckdb "+db+" recs")
	want := fmt.Sprintf("wrote 28 rows to %s, table recs (2 malformed skipped); first malformed: clicks/%d offset %d:",
		db, rs[10].Partition, rs[10].Offset)
	if !strings.HasPrefix(m.notice, want) || m.lastErr != "" {
		t.Fatalf("notice = %q (err %q), want it to begin %q", m.notice, m.lastErr, want)
	}
	if n := count(t, db, "SELECT count(*) FROM recs"); n != 28 {
		t.Errorf("recs has %d rows, want 28 (every record but the malformed ones)", n)
	}
	// the message is long: it wraps above the status bar, whole
	if v := ansi.Strip(m.Render()); !strings.Contains(strings.ReplaceAll(v, "\n", ""), "(2 malformed skipped)") {
		t.Errorf("the export's message is not on the screen:\n%s", v)
	}
	// parquet too
	pq := filepath.Join(t.TempDir(), "r.parquet")
	exportVia(t, m, "export parquet "+pq)
	if !strings.HasPrefix(m.notice, "wrote 28 rows to "+pq+" (2 malformed skipped)") {
		t.Errorf("parquet notice = %q (err %q)", m.notice, m.lastErr)
	}
}

// otherRows are result rows of another pipeline: other columns.
func otherRows(n int) []ResultRow {
	var rows []ResultRow
	for i := range n {
		vals := []value.Value{{K: value.String, S: fmt.Sprintf("u%d", i)}, {K: value.Int, I: int64(i)}}
		rows = append(rows, ResultRow{Names: []string{"user_id", "clicks"}, Vals: vals, Cells: []string{cell(vals[0]), cell(vals[1])}})
	}
	return rows
}

func TestExportResultsAsksBeforeMixing(t *testing.T) {
	db := filepath.Join(t.TempDir(), "r.duckdb")
	m := newTestModel(t, 120, 36, true)
	fakeAttach(m, "clicks")
	m.Update(FeedMsg{ID: m.feedID, Gen: m.gen, Rows: windowRows(0, 2)})
	_ = m.gotoPane("results")
	exportVia(t, m, "export duckdb "+db+" res")
	if m.question != nil || !strings.HasPrefix(m.notice, "wrote 6 rows to "+db+", table res") {
		t.Fatalf("a new table is written without asking: notice %q, err %q", m.notice, m.lastErr)
	}

	// twice: the same columns, so append, replace or a new table
	exportVia(t, m, "export duckdb "+db+" res")
	if m.question == nil {
		t.Fatal("a second export into the table does not ask")
	}
	if got := choiceKeys(m.question); got != "a r t" {
		t.Errorf("choices %q, want a r t", got)
	}
	runCmd(m, keys(m, "a"))
	if n := count(t, db, "SELECT count(*) FROM res"); n != 12 {
		t.Errorf("after append res has %d rows, want 12", n)
	}
	exportVia(t, m, "export duckdb "+db+" res")
	runCmd(m, keys(m, "r"))
	if n := count(t, db, "SELECT count(*) FROM res"); n != 6 || !strings.Contains(m.notice, "table replaced") {
		t.Errorf("after replace res has %d rows (notice %q), want 6", n, m.notice)
	}

	// another pipeline's rows: append is not offered, a refused key writes nothing
	m.results.reset(schema{name: "other"})
	m.results.add(otherRows(4))
	exportVia(t, m, "export duckdb "+db+" res")
	if m.question == nil || choiceKeys(m.question) != "r t" || !strings.Contains(m.question.text, "other columns (user_id, clicks)") {
		t.Fatalf("question for other columns: %+v", m.question)
	}
	runCmd(m, keys(m, "a"))
	if m.question != nil || count(t, db, "SELECT count(*) FROM res") != 6 || !strings.Contains(m.notice, "nothing written") {
		t.Fatalf("a (not offered) wrote or did not cancel: notice %q", m.notice)
	}
	exportVia(t, m, "export duckdb "+db+" res")
	runCmd(m, keys(m, "t"))
	if n := count(t, db, "SELECT count(*) FROM res_2"); n != 4 || !strings.Contains(m.notice, "table res_2") {
		t.Errorf("new table res_2 has %d rows (notice %q), want 4", n, m.notice)
	}
	if n := count(t, db, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'res'"); n != 5 {
		t.Errorf("res has %d columns, want its own 5: schemas were mixed", n)
	}
}

func choiceKeys(q *question) string {
	var ks []string
	for _, c := range q.choices {
		ks = append(ks, c.key)
	}
	return strings.Join(ks, " ")
}

func isQuit(cmd tea.Cmd) bool {
	if cmd == nil {
		return false
	}
	_, ok := cmd().(tea.QuitMsg)
	return ok
}

func TestQuitGuardsUnsavedPipeline(t *testing.T) {
	m := newTestModel(t, 80, 24, false)
	fakeAttach(m, "clicks")
	if !isQuit(keys(m, "q")) {
		t.Fatal("q with nothing to lose does not quit")
	}
	m = newTestModel(t, 80, 24, false)
	fakeAttach(m, "clicks")
	_ = m.gotoPane("pipeline")
	keys(m, "a", "f")
	typeText(m, `event == "purchase"`)
	runCmd(m, keys(m, "enter"))
	if len(m.pipe.p.Stages) != 1 || !m.pipe.unsaved() {
		t.Fatal("the added stage is not an unsaved change")
	}
	if cmd := keys(m, "q"); cmd != nil || m.question == nil {
		t.Fatal("q with an unsaved pipeline does not ask")
	}
	if v := ansi.Strip(m.Render()); !strings.Contains(v, "Quit and lose them?") || !strings.Contains(v, "y quit without saving") {
		t.Errorf("the question is not on the screen:\n%s", v)
	}
	if cmd := keys(m, "n"); isQuit(cmd) || m.question != nil {
		t.Fatal("n quits or leaves the question open")
	}
	// :quit asks too; y quits
	keys(m, ":")
	typeText(m, "quit")
	keys(m, "enter")
	if m.question == nil {
		t.Fatal(":quit does not ask")
	}
	if !isQuit(keys(m, "y")) {
		t.Fatal("y does not quit")
	}
	// ctrl+c asks, a second ctrl+c quits
	m.question = nil
	if isQuit(keys(m, "ctrl+c")) || m.question == nil {
		t.Fatal("ctrl+c with an unsaved pipeline does not ask")
	}
	if !isQuit(keys(m, "ctrl+c")) {
		t.Fatal("a second ctrl+c does not quit")
	}
	// after w the pipeline is saved: q quits at once
	m = newTestModel(t, 80, 24, false)
	fakeAttach(m, "clicks")
	_ = m.gotoPane("pipeline")
	keys(m, "a", "f")
	typeText(m, "amount > 1")
	runCmd(m, keys(m, "enter"))
	path := filepath.Join(t.TempDir(), "p.yaml")
	keys(m, "w")
	m.pipe.path.set(path)
	runCmd(m, keys(m, "enter"))
	if m.pipe.unsaved() {
		t.Fatalf("written to %s but still unsaved (note %q)", path, m.pipe.note)
	}
	if !isQuit(keys(m, "q")) {
		t.Fatal("q after w does not quit")
	}
}

// TestPromptGoldenScreens shows that questions, prompts and long messages
// are shown whole at the sizes people use: wrapped, never cut with "…".
func TestPromptGoldenScreens(t *testing.T) {
	long := "wrote 998 rows to /home/someone/exports/eddy-records.duckdb, table records (2 malformed skipped); first malformed: clicks/0 offset 17: invalid JSON at byte 3: unexpected end of input"
	for _, size := range [][2]int{{80, 24}, {120, 36}} {
		w, h := size[0], size[1]
		shot := func(m *Model, name string, wants ...string) {
			t.Helper()
			s := m.Render()
			if n := strings.Count(s, "\n") + 1; n != h {
				t.Errorf("%s: %d lines, want %d", name, n, h)
			}
			plain := ansi.Strip(s)
			for i, l := range strings.Split(plain, "\n") {
				if n := len([]rune(l)); n > w {
					t.Errorf("%s: line %d is %d wide", name, i, n)
				}
			}
			// wrapping breaks lines at spaces and hyphens: compare without them
			joined := strings.Join(strings.Fields(strings.ReplaceAll(plain, "│", "")), "")
			for _, want := range wants {
				if !strings.Contains(joined, strings.Join(strings.Fields(want), "")) {
					t.Errorf("%s at %dx%d: %q is not shown whole", name, w, h, want)
				}
			}
			golden(t, fmt.Sprintf("%s-%dx%d", name, w, h), s)
		}
		m := newTestModel(t, w, h, true)
		fakeAttach(m, "clicks")
		feedRecords(m, clickRecords(0, 40), t0, engine.Stats{In: 40, Passed: 20, Filtered: 19, Dead: 1})
		m.note(long, false)
		shot(m, "message-wraps", long)
		m.notice = ""

		// the seek prompt: its hint wraps, the typed position is not pushed off
		keys(m, "s")
		shot(m, "seek-prompt", "seek to earliest | latest | offset:N | last:N | time:RFC3339 | time:-5m")
		keys(m, "esc")

		// the replay prompt of a dead-letter topic
		_ = m.gotoPane("dead")
		m.dead.ops = &DeadOps{Replay: func(context.Context, replay.Options) (*replay.Report, error) { return &replay.Report{}, nil }}
		m.dead.topic, m.dead.n = "clicks.dlq", 3
		keys(m, "P")
		shot(m, "replay-prompt", m.dead.confirm)
		keys(m, "n")

		// a stage's deletion
		_ = m.gotoPane("pipeline")
		m.pipe.sel = 2
		keys(m, "d")
		shot(m, "delete-stage-prompt", m.pipe.deleteQuestion(2))
		keys(m, "n")

		// the export question
		db := filepath.Join(t.TempDir(), "r.duckdb")
		m.Update(FeedMsg{ID: m.feedID, Gen: m.gen, Rows: windowRows(0, 2)})
		_ = m.gotoPane("results")
		exportVia(t, m, "export duckdb "+db+" results")
		m.results.reset(schema{name: "other"})
		m.results.add(otherRows(4))
		exportVia(t, m, "export duckdb "+db+" results")
		text := strings.ReplaceAll(m.question.text, db, "DB")
		m.question.text = text // the temporary path differs from run to run
		m.notice = ""
		shot(m, "export-question", text, "r replace (drops its 6 rows)", "t new table results_2")
		keys(m, "esc")

		// quit with unsaved changes
		m.pipe.saved = ""
		keys(m, "q")
		m.notice = ""
		shot(m, "quit-question", m.question.text)
	}
}

// TestHostileBytesNeverReachTheTerminal: a record's bytes (a binary value
// that did not decode, or one made to attack the terminal) show as \xNN in
// the raw view and the dead-letter list, never as control characters.
func TestHostileBytesNeverReachTheTerminal(t *testing.T) {
	hostile := []string{"\x1b]52;c;aGk=\x07", "\x00\x00\x00\x00c\x02\x04", "\u009b2J", "\xff\x1b[2J", `{"a":"\u009b2J"}`}
	m := newTestModel(t, 120, 36, false)
	fakeAttach(m, "clicks")
	var rs []source.Record
	var dead []DeadItem
	for i, h := range hostile {
		rs = append(rs, source.Record{Topic: "clicks", Offset: int64(i), Value: []byte(h)})
		dead = append(dead, itemOf(replay.Letter{Value: []byte(h), Class: "decode: x", Stage: "decode", Error: "x"}))
	}
	feedRecords(m, rs, t0, engine.Stats{In: 5})
	m.Update(FeedMsg{ID: m.feedID, Gen: m.gen, At: t0, Dead: dead, Counts: map[DeadKey]int64{dead[0].DeadKey: 5}, Lag: -1})
	cells := m.Render() // the last record's field a, decoded: a C1 control
	keys(m, "enter")
	inspector := m.Render()
	keys(m, "esc", "r")
	raw := m.Render()
	_ = m.gotoPane("dead")
	edit := newInput(hostile[0]) // E on a letter prefills its value
	edit.pos = 3
	for name, screen := range map[string]string{"raw view": raw, "dead letters": m.Render(), "an input": edit.view(true) + edit.view(false)} {
		if name == "an input" {
			screen += cells + inspector
		}
		for _, bad := range []string{"\x1b]", "\x07", "\x00", "\u009b", "\x1b[2J", "\xff"} {
			if strings.Contains(screen, bad) {
				t.Errorf("%s: %q reaches the terminal", name, bad)
			}
		}
		if !strings.Contains(ansi.Strip(screen), `\x1b]52;c;aGk=\x07`) {
			t.Errorf("%s does not show the bytes escaped:\n%s", name, ansi.Strip(screen))
		}
	}
}
