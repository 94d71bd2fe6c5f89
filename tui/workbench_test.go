package tui

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/replay"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/value"
)

// windowRows are the result rows of the i-th 10-second window of testSpec
// (n windows from i), three countries each, typed as the engine emits them.
func windowRows(i, n int) []ResultRow {
	var rows []ResultRow
	for w := i; w < i+n; w++ {
		start := t0.Add(time.Duration(w) * 10 * time.Second).UnixMilli()
		for c, country := range []string{"DE", "FR", "US"} {
			orders := int64((w*7+c*3)%11 + 1)
			revenue := float64(orders)*12.5 + float64(c)
			vals := []value.Value{{K: value.String, S: country}, {K: value.Time, I: start}, {K: value.Time, I: start + 10000},
				{K: value.Int, I: orders}, {K: value.Float, F: revenue}}
			r := ResultRow{Names: []string{"country", "window_start", "window_end", "orders", "revenue"}, Vals: vals}
			for _, v := range vals {
				r.Cells = append(r.Cells, cell(v))
			}
			rows = append(rows, r)
		}
	}
	return rows
}

// run runs the commands a key press returned, feeding their messages back
// into the model (as bubbletea would), up to a few rounds.
func runCmd(m *Model, cmd tea.Cmd) {
	for range 5 {
		if cmd == nil {
			return
		}
		msg := cmd()
		if msg == nil {
			return
		}
		if b, ok := msg.(tea.BatchMsg); ok {
			for _, c := range b {
				runCmd(m, c)
			}
			return
		}
		_, cmd = m.Update(msg)
	}
}

func TestPipelinePaneAddFilterApplies(t *testing.T) {
	m := newTestModel(t, 100, 30, false)
	fakeAttach(m, "clicks")
	feedRecords(m, clickRecords(0, 8), t0, engine.Stats{In: 8, Passed: 8})
	_ = m.gotoPane("pipeline")
	if m.plan != nil || len(m.pipe.p.Stages) != 0 {
		t.Fatal("a new workbench should start without stages")
	}
	keys(m, "a", "f")
	if m.pipe.form == nil || m.pipe.form.kind != pipeline.Filter {
		t.Fatal("a f does not open a filter form")
	}
	if !m.pipe.Capturing() {
		t.Fatal("the form does not capture keys")
	}
	// q is typed into the form, not quit
	typeText(m, `event == "purchase" &&`)
	if !strings.Contains(m.pipe.form.err, "stages[0].filter") || !strings.Contains(m.Render(), "✗") {
		t.Fatalf("incomplete expression not reported in place: %q", m.pipe.form.err)
	}
	if cmd := keys(m, "enter"); cmd != nil {
		t.Fatal("enter on an invalid stage returned a command")
	}
	for range 3 {
		keys(m, "backspace")
	}
	if m.pipe.form.err != "" {
		t.Fatalf("valid filter reported: %s", m.pipe.form.err)
	}
	gen := m.gen
	runCmd(m, keys(m, "enter"))
	if m.pipe.form != nil || m.gen != gen+1 || m.plan == nil {
		t.Fatalf("enter did not apply: form=%v gen=%d plan=%v", m.pipe.form != nil, m.gen, m.plan)
	}
	if got := m.plan.Pipeline.Stages[0].Filter.Src; got != `event == "purchase"` {
		t.Errorf("applied filter = %q", got)
	}
	if !strings.Contains(m.status(), "1 stages") || !strings.Contains(m.pipe.View(), "window state and counters restarted") {
		t.Errorf("apply not shown: %s", m.status())
	}
	// Data of the previous generation is ignored once a new one is applied.
	m.Update(FeedMsg{ID: m.feedID, Gen: gen, Read: 20, Stats: engine.Stats{In: 20, Passed: 20}})
	if m.stats.In != 0 {
		t.Errorf("stale generation's stats shown: %+v", m.stats)
	}
	m.Update(FeedMsg{ID: m.feedID, Gen: m.gen, Read: 30, Stats: engine.Stats{In: 10, Passed: 3, Filtered: 7}})
	if m.stats.Filtered != 7 {
		t.Errorf("current generation's stats not shown: %+v", m.stats)
	}
}

func TestPipelinePaneWindowFormAndMoves(t *testing.T) {
	m := newTestModel(t, 100, 30, false)
	fakeAttach(m, "clicks")
	feedRecords(m, clickRecords(0, 8), t0, engine.Stats{In: 8, Passed: 8})
	_ = m.gotoPane("pipeline")
	keys(m, "a", "w")
	f := m.pipe.form
	if f == nil || f.fields[windowFieldTime].in.String() != "ts" {
		t.Fatalf("window form does not guess the time field ts: %+v", f)
	}
	// hopping shows slide; a slide above the size is rejected in place
	f.fields[windowFieldType].in.set("hopping")
	f.fields[windowFieldSize].in.set("10s")
	f.fields[windowFieldSlide].in.set("20s")
	f.fields[windowFieldKey].in.set("country")
	f.fields[windowFieldAgg].in.set("orders: count(), p: quantile(amount, 0.9)")
	m.pipe.validate()
	if !f.applies(windowFieldSlide) || f.applies(windowFieldGap) || !strings.Contains(f.err, "slide") {
		t.Fatalf("hopping form: slide applies=%v gap applies=%v err=%q", f.applies(windowFieldSlide), f.applies(windowFieldGap), f.err)
	}
	f.fields[windowFieldSlide].in.set("5s")
	runCmd(m, keys(m, "enter"))
	if m.plan == nil || m.plan.Window == nil || m.plan.Window.Spec.Slide != 5000 || m.plan.Pipeline.Time.Field != "ts" {
		t.Fatalf("window not applied: %+v", m.plan)
	}
	if !m.results.sch.windowed || strings.Join(m.results.sch.aggs, ",") != "orders,p" {
		t.Errorf("results schema = %+v", m.results.sch)
	}
	// a second window is refused; new stages go before the window
	keys(m, "a", "w")
	if m.pipe.form != nil || !strings.Contains(m.pipe.note, "window stage already") {
		t.Fatalf("second window: form=%v note=%q", m.pipe.form != nil, m.pipe.note)
	}
	keys(m, "a", "c")
	typeText(m, "amount: float")
	runCmd(m, keys(m, "enter"))
	if kinds := stageKinds(m.pipe.p); kinds != "coerce,window" {
		t.Fatalf("stages = %s", kinds)
	}
	keys(m, "a", "f")
	typeText(m, "amount > 1")
	runCmd(m, keys(m, "enter"))
	if kinds := stageKinds(m.pipe.p); kinds != "coerce,filter,window" {
		t.Fatalf("stages = %s", kinds)
	}
	// K moves the filter up; moving the window is refused
	m.pipe.sel = 1
	runCmd(m, keys(m, "K"))
	if kinds := stageKinds(m.pipe.p); kinds != "filter,coerce,window" {
		t.Fatalf("after K: %s", kinds)
	}
	m.pipe.sel = 2
	runCmd(m, keys(m, "K"))
	if kinds := stageKinds(m.pipe.p); kinds != "filter,coerce,window" || !m.pipe.noteErr {
		t.Fatalf("window moved: %s", kinds)
	}
	// d asks first, saying the window state goes; n keeps the stage
	m.pipe.sel = 0
	runCmd(m, keys(m, "d"))
	if v := ansi.Strip(m.Render()); !strings.Contains(v, "delete stage 0:filter (") || !strings.Contains(v, "the state of the windows") {
		t.Fatalf("d does not ask:\n%s", v)
	}
	runCmd(m, keys(m, "n"))
	if kinds := stageKinds(m.plan.Pipeline); kinds != "filter,coerce,window" || !strings.Contains(m.pipe.View(), "not deleted") {
		t.Fatalf("after d n: %s", kinds)
	}
	runCmd(m, keys(m, "d", "y"))
	if kinds := stageKinds(m.pipe.p); kinds != "coerce,window" || stageKinds(m.plan.Pipeline) != "coerce,window" {
		t.Fatalf("after d y: %s", kinds)
	}
	// e edits the selected stage in place
	m.pipe.sel = 0
	keys(m, "e")
	m.pipe.form.fields[0].in.set("amount: int")
	m.pipe.validate()
	runCmd(m, keys(m, "enter"))
	if got := m.plan.Pipeline.Stages[0].Coerce[0].Type; got != pipeline.TInt {
		t.Errorf("edited coerce type = %s", got)
	}
}

func stageKinds(p *pipeline.Pipeline) string {
	var ks []string
	for _, st := range p.Stages {
		ks = append(ks, string(st.Kind))
	}
	return strings.Join(ks, ",")
}

func TestPipelineWriteAndOpen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "saved.yaml")
	m := newTestModel(t, 100, 30, true)
	fakeAttach(m, "clicks")
	_ = m.gotoPane("pipeline")
	keys(m, "w")
	m.pipe.path.set(path)
	runCmd(m, keys(m, "enter"))
	if !strings.Contains(m.pipe.note, "wrote "+path) {
		t.Fatalf("note = %q", m.pipe.note)
	}
	p, err := pipeline.Load(path)
	if err != nil {
		t.Fatalf("eddy run would refuse the written file: %v", err)
	}
	if _, err := pipeline.Compile(p); err != nil {
		t.Fatal(err)
	}
	if stageKinds(p) != "filter,coerce,window" || p.Time.Field != "ts" {
		t.Errorf("written pipeline: %s time %q", stageKinds(p), p.Time.Field)
	}
	// Writing to another existing file asks first.
	other := filepath.Join(dir, "other.yaml")
	if err := os.WriteFile(other, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	keys(m, "w")
	m.pipe.path.set(other)
	runCmd(m, keys(m, "enter"))
	if m.pipe.confirmPath != other {
		t.Fatalf("no overwrite question for %s", other)
	}
	runCmd(m, keys(m, "n"))
	if b, _ := os.ReadFile(other); string(b) != "keep me" {
		t.Fatal("n overwrote the file")
	}
	// o opens a spec and runs it
	spec := filepath.Join(dir, "open.yaml")
	if err := os.WriteFile(spec, []byte("name: opened\nsource: {file: x.jsonl}\nstages:\n  - filter: 'amount > 3'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	keys(m, "o")
	m.pipe.path.set(spec)
	runCmd(m, keys(m, "enter"))
	if m.plan == nil || m.plan.Pipeline.Name != "opened" || stageKinds(m.pipe.p) != "filter" {
		t.Fatalf("open did not apply: %+v", m.pipe.p)
	}
	// an invalid file is reported with its file and line, and nothing changes
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("stages:\n  - filter: 'amount >'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gen := m.gen
	keys(m, "o")
	m.pipe.path.set(bad)
	runCmd(m, keys(m, "enter"))
	if m.gen != gen || !m.pipe.noteErr || !strings.Contains(m.pipe.note, "stages[0].filter") {
		t.Errorf("bad spec: gen %d→%d note %q", gen, m.gen, m.pipe.note)
	}
}

func TestSplitTopAndPairs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		sep  rune
		want string
	}{
		{"a: count(), b: quantile(x, 0.9)", ',', "a: count()|b: quantile(x, 0.9)"},
		{`n: "a,b"; m: x`, ';', `n: "a,b"|m: x`},
		{"x: f(a; b); y: 1", ';', "x: f(a; b)|y: 1"},
		{" , ,", ',', ""},
	} {
		if got := strings.Join(splitTop(tc.in, tc.sep), "|"); got != tc.want {
			t.Errorf("splitTop(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if _, err := pairs("amount float", ',', "field: type"); err == nil {
		t.Error("a pair without a colon was accepted")
	}
	ps, err := pairs("t: a ? b : c", ';', "name: expression")
	if err != nil || ps[0][1] != "a ? b : c" {
		t.Errorf("pairs kept %v, %v", ps, err)
	}
}

func TestInputEditing(t *testing.T) {
	in := newInput("amount")
	for _, k := range []string{"home", "right", "right"} {
		in.update(press(k))
	}
	in.update(tea.KeyPressMsg{Code: 'X', Text: "X"})
	in.update(tea.PasteMsg{Content: "y\nz"})
	if got := in.String(); got != "amXy zount" {
		t.Fatalf("edit = %q", got)
	}
	in.update(tea.KeyPressMsg{Code: 'w', Mod: tea.ModCtrl})
	if got := in.String(); got != "amXy ount" {
		t.Fatalf("ctrl+w = %q", got)
	}
	in.update(tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl})
	if in.String() != "" || in.view(true) != "█" {
		t.Fatalf("ctrl+u left %q", in.String())
	}
}

func TestResultsSortAndChart(t *testing.T) {
	m := newTestModel(t, 120, 36, true)
	fakeAttach(m, "clicks")
	m.Update(FeedMsg{ID: m.feedID, Gen: m.gen, Rows: windowRows(0, 4)})
	r := m.results
	if err := r.sortByName("orders", true); err != nil {
		t.Fatal(err)
	}
	rows := r.sortedRows()
	for i := 1; i < len(rows); i++ {
		if rows[i-1].Vals[3].I < rows[i].Vals[3].I {
			t.Fatalf("not sorted by orders descending at %d", i)
		}
	}
	if err := r.sortByName("nope", false); err == nil {
		t.Error("sorting by an unknown column was accepted")
	}
	top := r.top()
	if len(top) != 3 {
		t.Fatalf("top = %d series", len(top))
	}
	// the latest window decides the order
	last := windowRows(3, 1)
	for i := 1; i < len(top); i++ {
		if top[i-1].pts[len(top[i-1].pts)-1].vals[0] < top[i].pts[len(top[i].pts)-1].vals[0] {
			t.Errorf("top keys not ordered by the latest orders: %v", last)
		}
	}
	// a revision of a window replaces its point
	rev := windowRows(3, 1)
	rev[0].Vals[3] = value.Value{K: value.Int, I: 1000}
	m.Update(FeedMsg{ID: m.feedID, Gen: m.gen, Rows: rev[:1]})
	de := r.series["DE"]
	if len(de.pts) != 4 || de.pts[3].vals[0] != 1000 {
		t.Errorf("revision: %d points, last %v", len(de.pts), de.pts[len(de.pts)-1].vals)
	}
	view := ansi.Strip(r.View())
	for _, want := range []string{"orders per window, top 3 keys", "DE 1000", "in ", "dead"} {
		if !strings.Contains(view, want) {
			t.Errorf("results view lacks %q:\n%s", want, view)
		}
	}
	_ = m.gotoPane("results")
	keys(m, "c")
	if r.sch.aggs[r.chartAgg] != "revenue" || !strings.Contains(ansi.Strip(r.View()), "revenue per window") {
		t.Error("c does not chart the next aggregate")
	}
}

func TestChartMemoryBounded(t *testing.T) {
	m := newTestModel(t, 80, 24, true)
	fakeAttach(m, "clicks")
	r := m.results
	for w := range ChartLen + 30 {
		var rows []ResultRow
		for k := range ChartKeys + 10 {
			row := windowRows(w, 1)[0]
			row.Cells[0] = fmt.Sprintf("k%d", (k+w)%(ChartKeys+50))
			rows = append(rows, row)
		}
		r.add(rows)
	}
	if len(r.series) > ChartKeys {
		t.Errorf("%d series kept, cap %d", len(r.series), ChartKeys)
	}
	for _, s := range r.series {
		if len(s.pts) > ChartLen {
			t.Fatalf("%d points kept, cap %d", len(s.pts), ChartLen)
		}
	}
	if len(r.rows) != ResultCap {
		t.Errorf("%d rows kept, cap %d", len(r.rows), ResultCap)
	}
	if got := fmtNum(math.NaN()); got != "-" {
		t.Errorf("fmtNum(NaN) = %q", got)
	}
}

func TestPaletteCommands(t *testing.T) {
	m := newTestModel(t, 100, 30, true)
	fakeAttach(m, "clicks")
	m.Update(FeedMsg{ID: m.feedID, Gen: m.gen, Rows: windowRows(0, 2)})
	for _, tc := range []struct{ line, wantErr string }{
		{"frobnicate", "unknown command"},
		{"seek sideways", "want earliest"},
		{"seek offset:x", "with a number"},
		{"sort nope", `no column "nope"`},
		{"chart country", `no aggregate "country"`},
		{"export csv x", "usage: export"},
		{"pane nowhere", `no pane "nowhere"`},
		{"filter amount >", "does not compile"},
	} {
		keys(m, ":")
		typeText(m, tc.line)
		keys(m, "enter")
		if m.palette == nil || !strings.Contains(m.palErr, tc.wantErr) {
			t.Errorf("%q: palette open=%v err=%q, want %q", tc.line, m.palette != nil, m.palErr, tc.wantErr)
		}
		keys(m, "esc")
	}
	keys(m, ":")
	typeText(m, "sor")
	keys(m, "tab")
	typeText(m, "revenue asc")
	keys(m, "enter")
	if m.palette != nil || m.panes[m.active] != m.results || !strings.Contains(m.results.View(), "sorted by revenue ↑") {
		t.Fatalf("sort command: palette=%v err=%q", m.palette != nil, m.palErr)
	}
	keys(m, ":")
	typeText(m, "seek time:-5m")
	_, cmd := m.Update(press("enter"))
	if cmd == nil || m.palette != nil {
		t.Fatal("seek did not reopen the source")
	}
	if msg, ok := cmd().(openedMsg); !ok || msg.start != "time:-5m" {
		t.Fatalf("seek opened %#v", msg)
	}
	if cmd := keys(m, ":", "q", "enter"); cmd == nil || cmd() != tea.Quit() {
		t.Error(":q does not quit")
	}
}

func TestSeekFromRecordsPane(t *testing.T) {
	m := newTestModel(t, 100, 30, false)
	fakeAttach(m, "clicks")
	feedRecords(m, clickRecords(0, 4), t0, engine.Stats{In: 4})
	keys(m, "s")
	if !m.records.seeking {
		t.Fatal("s does not open the seek prompt")
	}
	keys(m, "ctrl+u")
	m.records.seekIn.set("middle")
	keys(m, "enter")
	if m.records.seekErr == "" {
		t.Fatal("a bad position was accepted")
	}
	m.records.seekIn.set("offset:42")
	cmd := keys(m, "enter")
	if cmd == nil {
		t.Fatal("no seek command")
	}
	m.Update(cmd())
	if !strings.Contains(m.notice, "seeking to offset:42") {
		t.Errorf("notice = %q", m.notice)
	}
}

func TestFileSeekPositions(t *testing.T) {
	for _, tc := range []struct {
		start string
		file  bool
		ok    bool
	}{
		{"earliest", true, true}, {"offset:10", true, true}, {"latest", true, false}, {"time:-1m", true, false},
		{"earliest", false, true}, {"latest", false, true}, {"last:5", false, true}, {"offset:3", false, true},
		{"time:2026-01-01T00:00:00Z", false, true}, {"time:yesterday", false, false}, {"last:-1", false, false},
	} {
		if err := validStart(tc.start, tc.file); (err == nil) != tc.ok {
			t.Errorf("validStart(%q, file=%v) = %v", tc.start, tc.file, err)
		}
	}
	var b strings.Builder
	for _, r := range clickRecords(0, 20) {
		b.Write(r.Value)
		b.WriteByte('\n')
	}
	src := From(source.NewReader("c.jsonl", strings.NewReader(b.String())), 15)
	var lines []int64
	for {
		bt, err := src.Next(context.Background())
		if err != nil {
			break
		}
		for _, r := range bt.Records {
			lines = append(lines, r.Offset)
		}
		src.Release(bt)
	}
	if len(lines) != 6 || lines[0] != 15 {
		t.Errorf("From(15) read lines %v", lines)
	}
}

// TestFeedSwapKeepsSource swaps the pipeline of a running feed: the source
// is not reopened (no record is read twice), each generation's counters
// account for every record it saw, and rows follow the new pipeline.
func TestFeedSwapKeepsSource(t *testing.T) {
	var b strings.Builder
	for _, r := range clickRecords(0, 4000) {
		b.Write(r.Value)
		b.WriteByte('\n')
	}
	src := Pace(source.NewReader("clicks.jsonl", strings.NewReader(b.String())), 8000)
	first := testPlan(t)
	f := startFeed(context.Background(), 1, src, 1, first, nil, nil, t.Logf)
	p := *first.Pipeline
	p.Stages = p.Stages[:1] // the filter only: rows are the passing records
	_, second, err := check(&p)
	if err != nil {
		t.Fatal(err)
	}
	var read, gen2In, since int64
	var gen1 engine.Stats
	swapped := false
	rows2 := 0
	for m := range f.ch {
		read = m.Read
		switch m.Gen {
		case 1:
			gen1 = m.Stats
			if !swapped && m.Stats.In > 1000 {
				f.swap(2, second)
				swapped = true
			}
		case 2:
			gen2In, since = m.Stats.In, m.Since
			st := m.Stats
			if st.In != st.Passed+st.Filtered+st.Dead+st.Late {
				t.Fatalf("generation 2 does not account: %+v", st)
			}
			for _, r := range m.Rows {
				if len(r.Names) == 0 || r.Names[0] != "ts" {
					t.Fatalf("generation 2 row is not a record: %v", r.Names)
				}
				rows2++
			}
		}
	}
	if !swapped || rows2 == 0 {
		t.Fatalf("swapped=%v rows2=%d", swapped, rows2)
	}
	// Generation 1 handled every record read before the swap (at least what
	// it last reported), generation 2 every one after: none twice, none lost.
	if read != 4000 || since+gen2In != 4000 || since < gen1.In {
		t.Errorf("read %d; generation 1 reported %d, the swap came after %d, generation 2 saw %d", read, gen1.In, since, gen2In)
	}
}

func TestDeadPaneDetailDryRunAndEdit(t *testing.T) {
	m := newTestModel(t, 100, 30, true)
	fakeAttach(m, "clicks")
	var sent []string
	m.dead.ops = &DeadOps{Produce: func(_ context.Context, rec *kgo.Record) error {
		sent = append(sent, rec.Topic+" "+string(rec.Value))
		return nil
	}}
	d := &sink.DeadLetter{Error: `amount: cannot coerce "x" to float`, StageIndex: 1, StageKind: "coerce",
		Origin: sink.Origin{Topic: "clicks", Partition: 2, Offset: 9, Timestamp: t0.UnixMilli()},
		Value:  []byte(`{"ts":1,"event":"purchase","country":"DE","amount":"x"}`)}
	it := itemOf(letterOf(d, replay.Class("coerce", d.Error), "2:coerce"))
	m.Update(FeedMsg{ID: m.feedID, Gen: m.gen, Counts: map[DeadKey]int64{it.DeadKey: 1}, Dead: []DeadItem{it}})
	_ = m.gotoPane("dead")
	keys(m, "enter")
	view := ansi.Strip(m.dead.View())
	for _, want := range []string{"origin  clicks/2@9", "stage   2:coerce", `"amount": "x"`} {
		if !strings.Contains(view, want) {
			t.Errorf("detail lacks %q:\n%s", want, view)
		}
	}
	// dry run through the running pipeline: still fails at coerce
	runCmd(m, keys(m, "D"))
	if rep := strings.Join(m.dead.report, "\n"); !strings.Contains(rep, "1 fail again") {
		t.Errorf("dry run report:\n%s", rep)
	}
	// edit: invalid JSON is refused in place, a fix is sent after y
	keys(m, "E")
	if !m.dead.editing {
		t.Fatal("E does not open the editor")
	}
	m.dead.edit.set(`{"amount": 3`)
	keys(m, "enter")
	if !strings.Contains(m.dead.editErr, "not valid JSON") || len(sent) != 0 {
		t.Fatalf("invalid JSON: err=%q sent=%v", m.dead.editErr, sent)
	}
	m.dead.edit.set(`{"ts":1,"event":"purchase","country":"DE","amount":3}`)
	keys(m, "enter")
	if !strings.Contains(m.dead.confirm, "send the edited record to clicks") {
		t.Fatalf("confirm = %q", m.dead.confirm)
	}
	runCmd(m, keys(m, "y"))
	if len(sent) != 1 || !strings.Contains(sent[0], `"amount":3`) || !strings.HasPrefix(sent[0], "clicks ") {
		t.Fatalf("sent %v", sent)
	}
	// the live letters are previews: P explains instead of replaying
	keys(m, "esc", "P")
	if !strings.Contains(strings.Join(m.dead.report, " "), "dlq TOPIC") {
		t.Errorf("P on live letters: %v", m.dead.report)
	}
}

func TestExportRecordsAndResultsToDuckDB(t *testing.T) {
	dir := t.TempDir()
	m := newTestModel(t, 100, 30, true)
	fakeAttach(m, "clicks")
	feedRecords(m, clickRecords(0, 30), t0, engine.Stats{In: 30})
	m.Update(FeedMsg{ID: m.feedID, Gen: m.gen, Rows: windowRows(0, 2)})
	db := filepath.Join(dir, "x.duckdb")
	keys(m, "x")
	if m.palette == nil || !strings.HasPrefix(m.palette.String(), "export duckdb") {
		t.Fatal("x does not ask where to export")
	}
	m.palette.set("export duckdb " + db + " recs")
	runCmd(m, keys(m, "enter"))
	if want := "wrote 30 rows to " + db + ", table recs"; m.notice != want {
		t.Fatalf("notice = %q (err %q), want %q", m.notice, m.lastErr, want)
	}
	// again: the coordinates dedupe, nothing is added
	keys(m, "x")
	m.palette.set("export duckdb " + db + " recs")
	runCmd(m, keys(m, "enter"))
	if want := "wrote 0 rows to " + db + ", table recs (30 already there)"; m.notice != want {
		t.Fatalf("notice = %q (err %q), want %q", m.notice, m.lastErr, want)
	}
	_ = m.gotoPane("results")
	keys(m, "x")
	m.palette.set("export duckdb " + db + " res")
	runCmd(m, keys(m, "enter"))
	if !strings.HasPrefix(m.notice, "wrote 6 rows") {
		t.Fatalf("notice = %q (err %q)", m.notice, m.lastErr)
	}
	pq := filepath.Join(dir, "res.parquet")
	keys(m, "x")
	m.palette.set("export parquet " + pq)
	runCmd(m, keys(m, "enter"))
	conn, err := sql.Open("duckdb", db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var n, offs int
	if err := conn.QueryRow(`SELECT count(*), count(DISTINCT (_partition, _offset)) FROM recs`).Scan(&n, &offs); err != nil {
		t.Fatal(err)
	}
	if n != 30 || offs != 30 {
		t.Errorf("recs: %d rows, %d distinct coordinates; want 30", n, offs)
	}
	var typ string
	if err := conn.QueryRow(`SELECT data_type FROM information_schema.columns WHERE table_name = 'res' AND column_name = 'window_end'`).Scan(&typ); err != nil || typ != "TIMESTAMP" {
		t.Errorf("res.window_end is %q (%v)", typ, err)
	}
	var sum float64
	if err := conn.QueryRow(`SELECT sum(orders) FROM read_parquet('` + pq + `')`).Scan(&sum); err != nil {
		t.Fatal(err)
	}
	var want int64
	for _, r := range windowRows(0, 2) {
		want += r.Vals[3].I
	}
	if int64(sum) != want {
		t.Errorf("parquet sum(orders) = %v, want %d", sum, want)
	}
}

func TestDeadLetterEditInEditor(t *testing.T) {
	dir := t.TempDir()
	// an "editor" that fixes the amount in the file it is given
	ed := filepath.Join(dir, "fix.sh")
	if err := os.WriteFile(ed, []byte("#!/bin/sh\nsed -i 's/\"x\"/3/' \"$1\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VISUAL", "")
	t.Setenv("EDITOR", "")
	if msg := editExternally([]byte(`{"a":1}`))().(editedMsg); msg.err == nil || !strings.Contains(msg.err.Error(), "$EDITOR") {
		t.Fatalf("no editor: %+v", msg)
	}
	t.Setenv("EDITOR", ed)
	// tea.ExecProcess hands the terminal to the editor: run it in a program
	em := &editorModel{cmd: editExternally([]byte(`{"amount":"x"}`))}
	prog := tea.NewProgram(em, tea.WithInput(nil), tea.WithOutput(io.Discard), tea.WithoutRenderer())
	if _, err := prog.Run(); err != nil {
		t.Fatal(err)
	}
	if em.got.err != nil || string(em.got.value) != "{\n  \"amount\": 3\n}" {
		t.Fatalf("editor result: %q, %v", em.got.value, em.got.err)
	}
	m := newTestModel(t, 100, 30, true)
	p := m.dead
	p.handle(editedMsg{value: []byte("{\n  \"amount\": 3\n}")})
	if !p.editing || p.edit.String() != `{"amount":3}` || p.editErr != "" {
		t.Fatalf("edited value: editing=%v %q err %q", p.editing, p.edit.String(), p.editErr)
	}
	p.handle(editedMsg{value: []byte(`{"amount":`)})
	if !strings.Contains(p.editErr, "not valid JSON") {
		t.Fatalf("invalid edit: %q", p.editErr)
	}
}

// editorModel runs one command and keeps the editedMsg it ends with.
type editorModel struct {
	cmd tea.Cmd
	got editedMsg
}

func (e *editorModel) Init() tea.Cmd { return e.cmd }
func (e *editorModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if m, ok := msg.(editedMsg); ok {
		e.got = m
		return e, tea.Quit
	}
	return e, nil
}
func (e *editorModel) View() tea.View { return tea.NewView("") }

func TestDefaultTargetsFollowTheAttachedTopic(t *testing.T) {
	m := newTestModel(t, 100, 30, false)
	m.attach("clicks", "earliest", emptySource{})
	if d := m.pipe.p.DLQ; d == nil || d.Kafka == nil || d.Kafka.Topic != "clicks.dlq" || len(m.pipe.p.Sinks) != 1 || m.pipe.p.Sinks[0].File != "-" {
		t.Fatalf("defaults for clicks: dlq %+v sinks %+v", m.pipe.p.DLQ, m.pipe.p.Sinks)
	}
	m.attach("payments", "earliest", emptySource{})
	if d := m.pipe.p.DLQ; d.Kafka.Topic != "payments.dlq" || m.pipe.p.Source.Kafka.Topics[0] != "payments" {
		t.Fatalf("defaults for payments: dlq %+v source %+v", d.Kafka, m.pipe.p.Source.Kafka)
	}
	m.Stop()
	// a pipeline given at start keeps its own targets
	m = newTestModel(t, 100, 30, true)
	m.attach("clicks", "earliest", emptySource{})
	if m.pipe.p.DLQ != nil || m.pipe.p.Sinks[0].File != "-" || m.pipe.p.Source.Kafka == nil {
		t.Fatalf("given pipeline: dlq %+v sinks %+v", m.pipe.p.DLQ, m.pipe.p.Sinks)
	}
	m.Stop()
}

type emptySource struct{}

func (emptySource) Next(ctx context.Context) (*source.Batch, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (emptySource) Release(*source.Batch) {}
func (emptySource) Bounded() bool         { return false }
func (emptySource) Close() error          { return nil }

func TestOpenSpecOfAnotherTopicAttachesToIt(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "pay.yaml")
	if err := os.WriteFile(spec, []byte("name: pay\nsource: {kafka: {topic: payments, start: latest}}\nstages:\n  - filter: 'amount > 100'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := newTestModel(t, 100, 30, false)
	fakeAttach(m, "clicks")
	_ = m.gotoPane("pipeline")
	keys(m, "o")
	m.pipe.path.set(spec)
	cmd := keys(m, "enter") // loads the file
	_, cmd = m.Update(cmd())
	_, cmd = m.Update(cmd()) // runs it
	if m.plan == nil || m.plan.Pipeline.Name != "pay" {
		t.Fatalf("not applied: %+v", m.pipe.p)
	}
	msg, ok := cmd().(openedMsg)
	if !ok || msg.name != "payments" {
		t.Fatalf("did not attach to payments: %#v", msg)
	}
}

// TestCellInvalidUTF8Distinct: result keys that differ only in invalid
// UTF-8 look different in the results table.
func TestCellInvalidUTF8Distinct(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want string
	}{
		{"a\xff", `a\xff`},
		{"a\xfe", `a\xfe`},
		{`a\xff`, `a\\xff`},
		{"a\uFFFD", "a\uFFFD"},
		{"plain", "plain"},
	} {
		if got := cell(value.OfString(tt.in)); got != tt.want {
			t.Errorf("cell(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
