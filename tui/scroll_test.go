package tui

import (
	"fmt"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/source"
)

// wideRecords have more fields than 80 columns show; the last is "zeta".
func wideRecords(n int) []source.Record {
	var rs []source.Record
	for i := range n {
		v := fmt.Sprintf(`{"id":%d,"alpha":"alpha-value-%04d","bravo":"bravo-value-%04d","charlie":"charlie-%04d","delta":"delta-value-%04d","echo":"echo-value-%04d","zeta":"z-%04d"}`,
			i, i, i, i, i, i, i)
		rs = append(rs, source.Record{Topic: "wide", Partition: 0, Offset: int64(i), Value: []byte(v)})
	}
	return rs
}

func screen(m *Model) string { return ansi.Strip(m.Render()) }

// row is the screen line that begins with prefix ("" if none).
func row(s, prefix string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

func TestRecordsScroll(t *testing.T) {
	m := newTestModel(t, 80, 24, false)
	fakeAttach(m, "wide")
	feedRecords(m, wideRecords(300), t0, engine.Stats{In: 300})
	s := screen(m)
	if row(s, "0/299 ") == "" || row(s, "0/0 ") != "" || strings.Contains(s, "zeta") {
		t.Fatalf("the newest rows and the first columns should show:\n%s", s)
	}
	if !strings.Contains(s, "columns 1-") || !strings.Contains(s, "→ more") {
		t.Errorf("hidden columns are not told:\n%s", s)
	}
	// g: the oldest, selected and in sight
	keys(m, "g")
	if s = screen(m); row(s, "0/0 ") == "" || m.records.sel != 0 {
		t.Fatalf("g does not reach the oldest row:\n%s", s)
	}
	// PgDn moves a page and keeps the selection in sight
	keys(m, "pgdown")
	if m.records.sel < 10 || row(screen(m), fmt.Sprintf("0/%d ", m.records.sel)) == "" {
		t.Fatalf("pgdown: selection %d not shown:\n%s", m.records.sel, screen(m))
	}
	keys(m, "pgup")
	if m.records.sel != 0 {
		t.Errorf("pgup back: selection %d, want 0", m.records.sel)
	}
	// → until the last column shows; OFFSET stays
	for range 10 {
		keys(m, "right")
	}
	s = screen(m)
	if !strings.Contains(s, "zeta") || !strings.Contains(row(s, "OFFSET"), "OFFSET") || !strings.Contains(row(s, "0/0 "), "z-0000") {
		t.Fatalf("→ does not reach the last column with OFFSET kept:\n%s", s)
	}
	golden(t, "records-scrolled-80x24", m.Render())
	keys(m, "left", "left", "left", "left", "left", "left", "left", "left", "left", "left")
	if s = screen(m); !strings.Contains(row(s, "OFFSET"), "alpha") {
		t.Errorf("← does not scroll back:\n%s", s)
	}
	keys(m, "G")
	if m.records.sel != -1 || row(screen(m), "0/299 ") == "" {
		t.Errorf("G does not follow the newest again")
	}
}

func TestMalformedRecordDoesNotWidenColumns(t *testing.T) {
	m := newTestModel(t, 120, 36, false)
	fakeAttach(m, "clicks")
	rs := clickRecords(0, 10)
	before := func() string {
		feedRecords(m, rs, t0, engine.Stats{In: 10})
		return row(screen(m), "OFFSET")
	}()
	bad := source.Record{Topic: "clicks", Partition: 1, Offset: 99, Value: []byte(`{"ts":` + strings.Repeat("9", 80) + `,"broken`)}
	feedRecords(m, []source.Record{bad}, t0, engine.Stats{In: 11})
	s := screen(m)
	if got := row(s, "OFFSET"); got != before {
		t.Errorf("a malformed record moved the columns:\nbefore %q\nafter  %q", before, got)
	}
	if l := row(s, "1/99 "); !strings.Contains(l, "⚠ malformed") || strings.Contains(l, "999999") {
		t.Errorf("the malformed record is not marked: %q", l)
	}
}

func TestResultsScroll(t *testing.T) {
	m := newTestModel(t, 80, 24, true)
	fakeAttach(m, "clicks")
	m.Update(FeedMsg{ID: m.feedID, Gen: m.gen, Rows: windowRows(0, 10)}) // 30 rows
	_ = m.gotoPane("results")
	s := screen(m)
	if strings.Contains(s, "12:00:00.000Z") {
		t.Fatalf("the oldest window shows before scrolling:\n%s", s)
	}
	keys(m, "g")
	if s = screen(m); !strings.Contains(s, "2026-03-01T12:00:00.000Z") || m.results.sel != 0 {
		t.Fatalf("g does not reach the oldest row:\n%s", s)
	}
	keys(m, "pgdown", "down")
	if sel := m.results.sel; sel < 2 {
		t.Errorf("pgdown down: selection %d", sel)
	}
	// → to the last column: the key column stays, the picked one shows
	for range 4 {
		keys(m, "right")
	}
	s = screen(m)
	head := row(s, "country")
	if !strings.Contains(head, "[revenue]") {
		t.Fatalf("→ does not bring the last column in sight with the key kept:\n%s", s)
	}
	golden(t, "results-scrolled-80x24", m.Render())
	keys(m, "G")
	if m.results.sel != -1 {
		t.Errorf("G selection %d, want -1 (the newest)", m.results.sel)
	}
}

func TestDeadScrollUnderReport(t *testing.T) {
	m := newTestModel(t, 80, 24, true)
	fakeAttach(m, "clicks")
	var items []DeadItem
	for i := range 60 {
		items = append(items, DeadItem{DeadKey: DeadKey{"decode: invalid JSON", "decode"}, Error: "invalid JSON at byte 3",
			Origin: fmt.Sprintf("clicks/0@%d", i), Value: `{"ts`})
	}
	m.Update(FeedMsg{ID: m.feedID, Gen: m.gen, Counts: map[DeadKey]int64{{"decode: invalid JSON", "decode"}: 60}, Dead: items})
	_ = m.gotoPane("dead")
	// a dry-run report takes lines at the bottom
	runCmd(m, keys(m, "D"))
	if len(m.dead.report) == 0 {
		t.Fatal("no dry-run report")
	}
	keys(m, "g")
	if s := screen(m); row(s, "clicks/0@0 ") == "" {
		t.Fatalf("g: the oldest letter is not shown:\n%s", s)
	}
	for range 3 {
		keys(m, "pgdown")
	}
	sel := m.dead.sel
	if s := screen(m); sel <= 0 || row(s, fmt.Sprintf("clicks/0@%d ", sel)) == "" || !strings.Contains(s, "dry run") {
		t.Fatalf("selection %d is not in sight above the report:\n%s", sel, s)
	}
	golden(t, "dead-scrolled-80x24", m.Render())
}
