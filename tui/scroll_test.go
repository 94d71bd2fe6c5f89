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

// recRow is the Records line of partition p, offset off ("" if none).
func recRow(s string, p, off int) string {
	for _, l := range strings.Split(s, "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == fmt.Sprint(p) && f[1] == fmt.Sprint(off) {
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
	if recRow(s, 0, 299) == "" || recRow(s, 0, 0) != "" || strings.Contains(s, "zeta") {
		t.Fatalf("the newest rows and the first columns should show:\n%s", s)
	}
	if !strings.Contains(s, "columns 1-") || !strings.Contains(s, "→ more") {
		t.Errorf("hidden columns are not told:\n%s", s)
	}
	// g: the oldest, selected and in sight
	keys(m, "g")
	if s = screen(m); recRow(s, 0, 0) == "" || m.records.sel != 0 {
		t.Fatalf("g does not reach the oldest row:\n%s", s)
	}
	// PgDn moves a page and keeps the selection in sight
	keys(m, "pgdown")
	if m.records.sel < 10 || recRow(screen(m), 0, m.records.sel) == "" {
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
	if !strings.Contains(s, "zeta") || !strings.Contains(row(s, "P "), "OFFSET") || !strings.Contains(recRow(s, 0, 0), "z-0000") {
		t.Fatalf("→ does not reach the last column with OFFSET kept:\n%s", s)
	}
	golden(t, "records-scrolled-80x24", m.Render())
	keys(m, "left", "left", "left", "left", "left", "left", "left", "left", "left", "left")
	if s = screen(m); !strings.Contains(row(s, "P "), "alpha") {
		t.Errorf("← does not scroll back:\n%s", s)
	}
	keys(m, "G")
	if m.records.sel != -1 || recRow(screen(m), 0, 299) == "" {
		t.Errorf("G does not follow the newest again")
	}
}

func TestMalformedRecordDoesNotWidenColumns(t *testing.T) {
	m := newTestModel(t, 120, 36, false)
	fakeAttach(m, "clicks")
	rs := clickRecords(0, 10)
	before := func() string {
		feedRecords(m, rs, t0, engine.Stats{In: 10})
		return row(screen(m), "P ")
	}()
	bad := source.Record{Topic: "clicks", Partition: 1, Offset: 99, Value: []byte(`{"ts":` + strings.Repeat("9", 80) + `,"broken`)}
	feedRecords(m, []source.Record{bad}, t0, engine.Stats{In: 11})
	s := screen(m)
	if got := row(s, "P "); got != before {
		t.Errorf("a malformed record moved the columns:\nbefore %q\nafter  %q", before, got)
	}
	if l := recRow(s, 1, 99); !strings.Contains(l, "⚠ malformed") || strings.Contains(l, "999999") {
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

func TestTopicsSearch(t *testing.T) {
	m := newTestModel(t, 80, 24, false)
	keys(m, "/")
	if !m.topics.searching {
		t.Fatal("/ does not open the search")
	}
	typeText(m, "BID")
	s := screen(m)
	if !strings.Contains(s, "nexmark.bids") || strings.Contains(s, "sensors") || !strings.Contains(s, "(1 of 3 topics)") {
		t.Fatalf("the search does not narrow the list:\n%s", s)
	}
	keys(m, "enter") // keeps the search; enter again attaches to the match
	var attached string
	m.topics.reload = nil
	if cmd := keys(m, "enter"); cmd != nil {
		if a, ok := cmd().(AttachMsg); ok {
			attached = a.Name
		}
	}
	if attached != "nexmark.bids" {
		t.Errorf("enter on the match attaches to %q", attached)
	}
	keys(m, "esc")
	if s := screen(m); !strings.Contains(s, "sensors") || strings.Contains(s, "search:") {
		t.Errorf("esc does not show every topic again:\n%s", s)
	}
}

func TestRecordsPartitionFilterAndMeta(t *testing.T) {
	m := newTestModel(t, 120, 36, false)
	fakeAttach(m, "clicks")
	rs := clickRecords(0, 30)
	rs[4].Key = []byte("bad\x00key")
	feedRecords(m, rs, t0, engine.Stats{In: 30})
	s := screen(m)
	if h := row(s, "P "); !strings.Contains(h, "OFFSET") || !strings.Contains(h, "KEY") || !strings.Contains(h, "TIME") {
		t.Fatalf("no partition, key and time columns: %q", h)
	}
	if l := recRow(s, int(rs[4].Partition), int(rs[4].Offset)); !strings.Contains(l, `"bad\x00key"`) || !strings.Contains(l, "12:00:01.000") {
		t.Errorf("key not quoted or time not shown: %q", l)
	}
	keys(m, ":")
	typeText(m, "partition 0,2")
	keys(m, "enter")
	if m.palette != nil {
		t.Fatalf(":partition 0,2 refused: %s", m.palErr)
	}
	s = screen(m)
	if recRow(s, 1, 3) != "" || recRow(s, 0, 3) == "" || recRow(s, 2, 3) == "" || !strings.Contains(s, "partition 0,2") {
		t.Fatalf("partition 1 still shown, or 0 and 2 not:\n%s", s)
	}
	if n := len(m.records.visible()); n != 20 {
		t.Errorf("%d records pass the partition filter, want 20", n)
	}
	keys(m, ":")
	typeText(m, "partition x")
	keys(m, "enter")
	if !strings.Contains(m.palErr, `partition "x"`) {
		t.Errorf("a bad partition is not refused: %q", m.palErr)
	}
	m.palErr = ""
	m.palette.set("partition")
	keys(m, "enter")
	if n := len(m.records.visible()); n != 30 || m.records.parts != nil {
		t.Errorf(":partition with no list shows %d records, want all 30", n)
	}
}

func TestResultsSelectionStaysOnItsRow(t *testing.T) {
	m := newTestModel(t, 120, 36, true)
	fakeAttach(m, "clicks")
	m.Update(FeedMsg{ID: m.feedID, Gen: m.gen, Rows: windowRows(0, ResultCap/3)}) // 498 rows
	_ = m.gotoPane("results")
	keys(m, "g", "down", "down")
	want := m.results.rows[m.results.sel].Cells
	m.Update(FeedMsg{ID: m.feedID, Gen: m.gen, Rows: windowRows(ResultCap/3, 1)}) // 3 more: 1 falls out
	if got := m.results.rows[m.results.sel].Cells; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("the selection moved from %v to %v as old rows fell out", want, got)
	}
}
