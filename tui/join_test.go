package tui

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/eddyhq/eddy/job"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/source"
)

// drive runs cmd and what the messages it leads to return, feeding the
// model, until a feed ends or nothing is left to run.
func drive(t *testing.T, m *Model, cmd tea.Cmd) {
	t.Helper()
	for cmd != nil {
		switch msg := cmd().(type) {
		case nil:
			return
		case tea.BatchMsg:
			for _, c := range msg {
				drive(t, m, c)
			}
			return
		case FeedMsg:
			_, cmd = m.Update(msg)
			if msg.Err != nil {
				t.Fatalf("feed: %v", msg.Err)
			}
			if msg.Done {
				return
			}
		default:
			_, cmd = m.Update(msg)
		}
	}
}

// joinFiles writes auctions, bids and persons of a small generated
// auction site into dir: bids of auctions 1–10, of which only 1–8 exist,
// each bid 0–6 s after its auction opened or before, by bidders 0–4 of
// whom 0–2 are persons.
func joinFiles(t *testing.T, dir string) (bids, auctions, persons string) {
	t.Helper()
	var a, b, p strings.Builder
	base := int64(1_700_000_000_000)
	for i := 1; i <= 8; i++ {
		fmt.Fprintf(&a, `{"id":%d,"seller":"s%d","dateTime":%d}`+"\n", i, i%3, base+int64(i)*1000)
	}
	for i := range 40 {
		auction := i%10 + 1
		fmt.Fprintf(&b, `{"auction":%d,"bidder":%d,"price":%d,"dateTime":%d}`+"\n",
			auction, i%5, 100+i*7%50, base+int64(auction)*1000+int64(i%4)*2000-1000)
	}
	for i := range 3 {
		fmt.Fprintf(&p, `{"id":%d,"name":"p%d"}`+"\n", i, i)
	}
	write := func(name, s string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	return write("bids.jsonl", b.String()), write("auctions.jsonl", a.String()), write("persons.jsonl", p.String())
}

// TestWorkbenchJoinSourcesSavedRunsTheSame: the workbench opens a spec
// with a sources section and runs over both files merged (Records name
// each record's _source); a lookup from a file and then a join are added
// from their forms, the join form offering each source's fields and the
// looked-up ones; the rows it shows are the rows eddy run's job writes
// from the YAML w saved, in the same order, with the same counters.
func TestWorkbenchJoinSourcesSavedRunsTheSame(t *testing.T) {
	for _, tc := range []struct {
		name, join, between, window, typ string
		after                            bool // a filter and a window of the joined rows
	}{
		{"interval left", "interval", "-1s, 3s", "", "left", false},
		{"window inner", "window", "", "tumbling 4s", "inner", false},
		{"interval left then filter and window", "interval", "-1s, 3s", "", "left", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// in the files' directory: the golden screen shows their paths
			t.Chdir(t.TempDir())
			bids, auctions, persons := joinFiles(t, ".")
			out, spec := "out.jsonl", "join.yaml"
			src := fmt.Sprintf("name: join\nsources:\n  bids: {file: %s}\n  auctions: {file: %s}\nsinks:\n  - file: %s\ndlq: {file: dead.jsonl}\n",
				bids, auctions, out)
			if err := os.WriteFile(spec, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			p, err := pipeline.Load(spec)
			if err != nil {
				t.Fatal(err)
			}
			m := New(context.Background(), Options{Label: "files", Pipeline: p, PipelinePath: spec, Tables: jobTables})
			defer m.Stop()
			m.now = func() time.Time { return t0 }
			m.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
			drive(t, m, m.Init())
			if !m.multi || m.stats.In != 48 {
				t.Fatalf("opened sources: multi %v, counters %+v; want 48 records in", m.multi, m.stats)
			}
			if v := ansi.Strip(m.Render()); !regexp.MustCompile(`(?m)^_source +POS +`).MatchString(v) || !regexp.MustCompile(`(?m)^bids +L\d+ `).MatchString(v) {
				t.Errorf("Records do not show each record's source:\n%s", v)
			}

			_ = m.gotoPane("pipeline")
			keys(m, "a", "l")
			typeText(m, persons)
			keys(m, "tab")
			typeText(m, "bidder: id")
			keys(m, "tab")
			typeText(m, "name")
			drive(t, m, keys(m, "enter"))
			if m.pipe.form != nil {
				t.Fatalf("the lookup form did not apply: %s", m.pipe.form.err)
			}
			if tb := m.pipe.p.Tables; len(tb) != 1 || tb[0].Name != "persons" || tb[0].File != persons {
				t.Fatalf("the lookup's file is not declared as table persons: %+v", tb)
			}

			keys(m, "a", "j")
			f := m.pipe.form
			if f == nil || f.kind != pipeline.Join || f.fields[joinFieldWith].in.String() != "auctions" {
				t.Fatalf("a j: form %+v", f)
			}
			v := ansi.Strip(m.Render())
			for _, want := range []string{"fields of bids: auction, bidder, price, dateTime", "fields of auctions: id, seller, dateTime", "fields joined by lookups: name"} {
				if !strings.Contains(v, want) {
					t.Errorf("the join form does not offer %q:\n%s", want, v)
				}
			}
			set := func(i int, s string) {
				f.fields[i].in = newInput(s)
				m.pipe.validate()
			}
			set(joinFieldOn, "auction: id")
			set(joinFieldKind, tc.join)
			if tc.between != "" {
				set(joinFieldBetween, tc.between)
			} else {
				set(joinFieldWindow, tc.window)
			}
			set(joinFieldType, tc.typ)
			set(joinFieldSelect, "auction, price, name, auctions.seller, auction_time: auctions.dateTime")
			set(joinFieldTime, "dateTime")
			// the bids are up to 15 s out of order: within the delay nothing is
			// late, so which file the merge reads first does not matter
			set(joinFieldMaxOutOfOrder, "20s")
			if !tc.after {
				golden(t, "pipeline-join-"+strings.ReplaceAll(tc.name, " ", "-")+"-100x30", m.Render())
			}
			drive(t, m, keys(m, "enter"))
			if m.pipe.form != nil {
				t.Fatalf("the join form did not apply: %s", m.pipe.form.err)
			}
			if tc.after {
				// the join is selected: a filter goes after it, offered the
				// joined rows' fields, then a window of them
				m.pipe.sel = 1
				keys(m, "a", "f")
				if v := ansi.Strip(m.Render()); !strings.Contains(v, "fields of the joined rows: auction, price, name, seller, auction_time") {
					t.Errorf("the filter after the join is not offered the joined rows' fields:\n%s", v)
				}
				typeText(m, "seller != nil && price > 100")
				drive(t, m, keys(m, "enter"))
				if m.pipe.form != nil {
					t.Fatalf("the filter after the join did not apply: %s", m.pipe.form.err)
				}
				keys(m, "a", "w")
				f := m.pipe.form
				if f == nil || f.index != 3 {
					t.Fatalf("a w after the join: form %+v", f)
				}
				for i, v := range map[int]string{windowFieldType: "tumbling", windowFieldSize: "4s", windowFieldKey: "seller",
					windowFieldAgg: "n: count(), top: max(price), who: first(name)"} {
					f.fields[i].in = newInput(v)
				}
				m.pipe.validate()
				drive(t, m, keys(m, "enter"))
				if m.pipe.form != nil {
					t.Fatalf("the window after the join did not apply: %s", m.pipe.form.err)
				}
				if ks := kinds(m.pipe.p); ks != "lookup join filter window" {
					t.Fatalf("stages %s, want lookup join filter window", ks)
				}
			}
			rows := m.results.rows
			if len(rows) == 0 {
				t.Fatal("the join gave no rows in the workbench")
			}
			drive(t, m, keys(m, "w", "enter"))
			if m.pipe.unsaved() || m.pipe.noteErr {
				t.Fatalf("w did not write %s: %s", spec, m.pipe.note)
			}

			// the saved YAML, run as eddy run runs it
			saved, err := pipeline.Load(spec)
			if err != nil {
				t.Fatalf("the saved spec does not load: %v", err)
			}
			var stderr bytes.Buffer
			j, err := job.Open(context.Background(), saved, job.Options{Stdout: &stderr, Stderr: &stderr})
			if err != nil {
				t.Fatal(err)
			}
			st, err := j.Run(context.Background())
			if cerr := j.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.Fatalf("run: %v\n%s", err, stderr.String())
			}
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			want := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
			var got []string
			for _, r := range rows {
				got = append(got, string(r.JSON))
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("workbench rows differ from eddy run's:\n--- workbench\n%s\n--- eddy run\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if w := m.stats; w.In != st.In || w.Passed != st.Passed || w.Filtered != st.Filtered || w.Dead != st.Dead || w.Late != st.Late || w.Rows != st.Rows {
				t.Errorf("counters: workbench %+v, eddy run %+v", w, st)
			}
		})
	}
}

// TestJoinFormErrors: each field of the join form that does not read
// says which and why, and the compiler's reasons show as they come.
func TestJoinFormErrors(t *testing.T) {
	base := map[int]string{joinFieldWith: "auctions", joinFieldOn: "auction: id", joinFieldKind: "interval",
		joinFieldBetween: "0s, 10s", joinFieldWindow: "tumbling 10s", joinFieldType: "inner",
		joinFieldSelect: "auction, auctions.seller", joinFieldTime: "dateTime", joinFieldMaxOutOfOrder: "1s"}
	for _, tc := range []struct {
		field int
		val   string
		want  string // "" valid
	}{
		{-1, "", ""},
		{joinFieldWith, "", "with: name the source of the right rows"},
		{joinFieldWith, "people", `unknown source "people" (the sources section has bids, auctions)`},
		{joinFieldOn, "auction", `on: "auction": want left_field: right_field`},
		{joinFieldKind, "window", ""},        // its window: tumbling 10s
		{joinFieldWindow, "hopping 10s", ""}, // not read by an interval join
		{joinFieldKind, "regular", `join: want interval or window, not "regular"`},
		{joinFieldBetween, "10s", "between: want LOWER, UPPER"},
		{joinFieldBetween, "10s, 0s", "between: the lower bound 10s is above the upper bound 0s"},
		{joinFieldBetween, "1x, 2s", `between: "1x" is not a duration`},
		{joinFieldType, "outer", `type: want inner or left, not "outer"`},
		{joinFieldSelect, "", "select: name the output columns"},
		{joinFieldSelect, "auction, auction", `duplicate output field "auction"`},
		{joinFieldTime, "", "a join needs event time: set time.field"},
		{joinFieldMaxOutOfOrder, "soon", `max out of order: want a duration like 2s, not "soon"`},
	} {
		t.Run(fmt.Sprintf("%d=%s", tc.field, tc.val), func(t *testing.T) {
			p, err := pipeline.Parse("j.yaml", []byte("sources:\n  bids: {file: bids.jsonl}\n  auctions: {file: auctions.jsonl}\n"))
			if err != nil {
				t.Fatal(err)
			}
			pp := newPipelinePane(&Common{Styles: DefaultStyles(), Keys: DefaultKeys()}, p, "")
			pp.choosing = true
			pp.Update(press("j"))
			f := pp.form
			if f == nil {
				t.Fatal("j opens no join form")
			}
			for i, v := range base {
				f.fields[i].in = newInput(v)
			}
			if tc.field >= 0 {
				f.fields[tc.field].in = newInput(tc.val)
			}
			q, _ := pp.validate()
			if tc.want == "" {
				if q == nil {
					t.Fatalf("valid form refused: %s", f.err)
				}
				return
			}
			if q != nil || !strings.Contains(f.err, tc.want) {
				t.Errorf("error %q, want %q", f.err, tc.want)
			}
		})
	}
	t.Run("window", func(t *testing.T) {
		for _, tc := range []struct{ in, want string }{
			{"tumbling 10s", ""}, {"hopping 10s 5s", ""}, {"hopping 5s 10s", "slide must not exceed size"},
			{"session 10s", "want tumbling SIZE or hopping SIZE SLIDE"}, {"tumbling 0s", "positive duration"},
		} {
			_, err := parseJoinWindow(tc.in)
			if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.want)
			}
		}
	})
}

// TestJoinRules: j is offered only with several sources; e edits a join
// in its form; stages (a window among them) may follow the join and are
// offered the joined rows' fields; one join, not after a window;
// attaching one topic, seeking and :diff are refused while the pipeline
// reads several sources.
func TestJoinRules(t *testing.T) {
	m := newTestModel(t, 100, 30, false)
	fakeAttach(m, "clicks")
	_ = m.gotoPane("pipeline")
	keys(m, "a")
	if strings.Contains(m.Render(), "j  join") {
		t.Error("j join is offered with one source")
	}
	keys(m, "j")
	if m.pipe.form != nil {
		t.Fatal("j opened a join form with one source")
	}
	keys(m, "esc")

	p, err := pipeline.Parse("j.yaml", []byte("sources:\n  bids: {file: bids.jsonl}\n  auctions: {file: auctions.jsonl}\n"+
		"time: {field: dateTime}\nstages:\n  - join: {with: auctions, on: {auction: id}, between: [0s, 1s], select: [auction]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	m.pipe.p, m.multi = p, true
	keys(m, "e")
	if f := m.pipe.form; f == nil || f.kind != pipeline.Join || f.fields[joinFieldOn].in.String() != "auction: id" ||
		f.fields[joinFieldBetween].in.String() != "0s, 1s" || f.fields[joinFieldSelect].in.String() != "auction" || f.err != "" {
		t.Fatalf("e on the join: form %+v", f)
	}
	keys(m, "esc", "a")
	if v := m.Render(); !strings.Contains(v, "j  join") || !strings.Contains(v, "after the join they take the joined rows") {
		t.Errorf("the add menu with a join:\n%s", v)
	}
	keys(m, "w")
	if f := m.pipe.form; f == nil || f.kind != pipeline.Window || f.index != 1 || !strings.Contains(m.Render(), "fields of the joined rows: auction") {
		t.Fatalf("a window after a join: form %+v\n%s", f, m.Render())
	}
	keys(m, "esc", "a", "j")
	if m.pipe.form != nil || !strings.Contains(m.pipe.note, "has a join stage already") {
		t.Errorf("a second join: note %q", m.pipe.note)
	}
	keys(m, "a", "f")
	if f := m.pipe.form; f == nil || f.index != 1 || !strings.Contains(m.Render(), "fields of the joined rows: auction") {
		t.Fatalf("a filter after the selected join: form %+v", f)
	}
	keys(m, "esc")
	// a join after a window is refused
	pw, err := pipeline.Parse("w.yaml", []byte("sources:\n  bids: {file: bids.jsonl}\n  auctions: {file: auctions.jsonl}\n"+
		"time: {field: dateTime}\nstages:\n  - window: {tumbling: 1s, aggregate: {n: count()}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	m.pipe.p = pw
	keys(m, "a", "j")
	if m.pipe.form != nil || !strings.Contains(m.pipe.note, "a join goes before the window") {
		t.Errorf("a join after a window: form %v, note %q", m.pipe.form != nil, m.pipe.note)
	}
	m.pipe.p = p
	if err := m.attachable(); err == nil || !strings.Contains(err.Error(), "several sources (bids, auctions)") {
		t.Errorf("attach while reading several sources: %v", err)
	}
	if cmd := m.seek("earliest"); cmd != nil || !strings.Contains(m.lastErr, "several sources") {
		t.Errorf("seek while reading several sources: %q", m.lastErr)
	}
	if _, m.plan, err = check(p); err != nil {
		t.Fatal(err)
	}
	if _, err := m.diffTail("old.yaml"); err == nil || !strings.Contains(err.Error(), "diff replays one source") {
		t.Errorf(":diff while reading several sources: %v", err)
	}
}

// TestWorkbenchOpensSourcesSpec: :open of a spec with a sources section
// reads every source merged in place of the attached file, and :open of
// a spec of one source goes back to the file.
func TestWorkbenchOpensSourcesSpec(t *testing.T) {
	t.Chdir(t.TempDir())
	bids, auctions, _ := joinFiles(t, ".")
	for name, spec := range map[string]string{
		"join.yaml": fmt.Sprintf("sources:\n  bids: {file: %s}\n  auctions: {file: %s}\n", bids, auctions),
		"one.yaml":  fmt.Sprintf("source: {file: %s}\nstages:\n  - filter: price > 120\n", bids),
	} {
		if err := os.WriteFile(name, []byte(spec), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m := New(context.Background(), Options{Label: "file", Attach: bids, File: true, Start: "earliest",
		Open: func(context.Context, string, string) (source.Source, error) { return source.OpenFile(bids) }})
	defer m.Stop()
	m.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
	drive(t, m, m.Init())
	if m.multi || m.stats.In != 40 {
		t.Fatalf("attached to the file: multi %v, %+v", m.multi, m.stats)
	}
	data, err := os.ReadFile(bids)
	if err != nil {
		t.Fatal(err)
	}
	var dear int64 // the bids the filter keeps
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var b struct{ Price int }
		if err := json.Unmarshal([]byte(l), &b); err != nil {
			t.Fatal(err)
		}
		if b.Price > 120 {
			dear++
		}
	}
	for _, tc := range []struct {
		spec        string
		multi       bool
		in, passed  int64
		attached    string
		sourceShown bool
	}{
		{"join.yaml", true, 48, 48, "sources bids,auctions", true},
		{"one.yaml", false, 40, dear, bids, false},
	} {
		keys(m, ":")
		typeText(m, "open "+tc.spec)
		drive(t, m, keys(m, "enter"))
		if m.multi != tc.multi || m.attached != tc.attached || m.stats.In != tc.in || m.stats.Passed != tc.passed {
			t.Errorf("open %s: multi %v attached %q %+v; want %v %q in=%d passed=%d", tc.spec, m.multi, m.attached, m.stats, tc.multi, tc.attached, tc.in, tc.passed)
		}
		_ = m.gotoPane("records")
		if got := strings.Contains(ansi.Strip(m.Render()), "_source"); got != tc.sourceShown {
			t.Errorf("open %s: _source shown %v", tc.spec, got)
		}
	}
}

// TestTableFor: a lookup form's table is one of the spec's tables or a
// file, which declares a table named after it.
func TestTableFor(t *testing.T) {
	declared := []pipeline.Table{{Name: "products", File: "products.jsonl"}}
	for _, tc := range []struct {
		text, name, file, err string // file: the table added; "" none
	}{
		{"products", "products", "", ""},
		{"products.jsonl", "products", "", ""},
		{"data/users-2026.csv", "users_2026", "data/users-2026.csv", ""},
		{"2026.parquet", "t_2026", "2026.parquet", ""},
		{"other/products.csv", "", "", "the spec's table products reads something else than other/products.csv"},
		{"users", "", "", `"users" is neither a table of the spec (products) nor a .jsonl, .csv or .parquet file`},
		{"", "", "", "name one of the spec's tables (products) or give a file"},
	} {
		name, add, err := tableFor(tc.text, declared)
		file := ""
		if add != nil {
			file = add.File
			if add.Name != name {
				t.Errorf("%q: table %q declared as %q", tc.text, name, add.Name)
			}
		}
		if name != tc.name || file != tc.file || (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: %q %q %v; want %q %q %q", tc.text, name, file, err, tc.name, tc.file, tc.err)
		}
	}
	if _, _, err := tableFor("", nil); err == nil || !strings.Contains(err.Error(), "give the path of a .jsonl, .csv or .parquet file") {
		t.Errorf("no tables, nothing typed: %v", err)
	}
}

// kinds lists p's stage kinds.
func kinds(p *pipeline.Pipeline) string {
	var out []string
	for _, st := range p.Stages {
		out = append(out, string(st.Kind))
	}
	return strings.Join(out, " ")
}
