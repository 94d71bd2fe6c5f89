package tui

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/job"
	"github.com/eddyhq/eddy/lookup"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/source"
)

// jobTables opens tables as eddy tui does (cmd/workbench.go).
func jobTables(ctx context.Context, p *pipeline.Pipeline) (map[string]*lookup.Table, func() error, error) {
	t, err := job.OpenTables(ctx, p, job.Options{})
	if err != nil {
		return nil, nil, err
	}
	return t.Map(), t.Close, nil
}

// TestWorkbenchLookup: a pipeline with a lookup runs in the workbench
// over a real feed, the tables opened through Options.Tables: its rows
// carry the joined fields; without an opener it fails as it would have.
func TestWorkbenchLookup(t *testing.T) {
	dir := t.TempDir()
	table := filepath.Join(dir, "products.jsonl")
	if err := os.WriteFile(table, []byte(`{"id":1,"name":"pen"}`+"\n"+`{"id":2,"name":"ink"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := "name: orders\nsource: {file: orders.jsonl}\ntables:\n  products: {file: " + table + "}\n" +
		"stages:\n  - lookup: {table: products, on: {p: id}, select: [name]}\n  - filter: name != \"ink\"\nsinks:\n  - file: \"-\"\n"
	for _, tc := range []struct {
		name   string
		tables TablesFunc
		want   string // the rows' names, or the feed's error
	}{
		{"tables opened", jobTables, "pen,null"},
		{"no opener", nil, "table products is not open"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := pipeline.Parse(filepath.Join(dir, "orders.yaml"), []byte(spec))
			if err != nil {
				t.Fatal(err)
			}
			m := newTestModel(t, 100, 30, false)
			m.opts.Tables = tc.tables
			m.opts.Pipeline = p
			if q, plan, err := check(p); err != nil {
				t.Fatal(err)
			} else {
				m.pipe.p, m.plan, m.gen = q, plan, 1
			}
			m.attach("orders", "earliest", source.NewReader("orders.jsonl", strings.NewReader(`{"o":1,"p":1}`+"\n"+`{"o":2,"p":2}`+"\n"+`{"o":3,"p":7}`+"\n")))
			wait := m.feed.wait()
			var errText string
			for {
				msg, ok := wait().(FeedMsg)
				if !ok {
					break
				}
				m.Update(msg)
				if msg.Err != nil {
					errText = msg.Err.Error()
				}
				if msg.Done {
					break
				}
			}
			var got []string
			for _, r := range m.results.rows {
				for i, n := range r.Names {
					if n == "name" {
						got = append(got, r.Cells[i])
					}
				}
			}
			if tc.tables == nil {
				if !strings.Contains(errText, tc.want) {
					t.Errorf("feed error %q, want %q", errText, tc.want)
				}
				return
			}
			if errText != "" || strings.Join(got, ",") != tc.want {
				t.Errorf("joined names %q (error %q), want %q", got, errText, tc.want)
			}
			if st := m.stats; st.In != 3 || st.Passed != 2 || st.Filtered != 1 {
				t.Errorf("counters %+v: want in=3 passed=2 filtered=1", st)
			}
		})
	}
}

// TestPipelinePaneLookupForm: with tables in the spec, a l adds a lookup
// stage from a form; the joined columns are offered to the next stage's
// form; without tables, the form asks for a file.
func TestPipelinePaneLookupForm(t *testing.T) {
	m := newTestModel(t, 100, 30, false)
	m.now = func() time.Time { return t0 } // the golden screen shows when the stage was applied
	fakeAttach(m, "orders")
	_ = m.gotoPane("pipeline")
	keys(m, "a", "l")
	if m.pipe.form == nil || !strings.Contains(m.pipe.form.err, "table: give the path of a .jsonl, .csv or .parquet file") {
		t.Fatalf("a l without tables: form %+v", m.pipe.form)
	}
	keys(m, "esc")
	p, err := pipeline.Parse("orders.yaml", []byte("source: {file: orders.jsonl}\ntables:\n  products: {file: products.jsonl}\n"))
	if err != nil {
		t.Fatal(err)
	}
	m.pipe.p = p
	keys(m, "a")
	if v := m.Render(); !strings.Contains(v, "l  lookup") {
		t.Errorf("the add menu does not offer lookup:\n%s", v)
	}
	keys(m, "l")
	golden(t, "pipeline-add-lookup-100x30", m.Render())
	f := m.pipe.form
	if f == nil || f.kind != pipeline.Lookup || f.fields[0].in.String() != "products" || f.fields[3].in.String() != "null" {
		t.Fatalf("a l: form %+v", f)
	}
	keys(m, "tab")
	typeText(m, "p: id")
	keys(m, "tab")
	typeText(m, "name, price")
	keys(m, "tab")
	typeText(m, "x")
	m.pipe.validate()
	if !strings.Contains(f.err, "on missing: want null, drop or dlq") {
		t.Errorf("bad on missing: %q", f.err)
	}
	keys(m, "backspace")
	runCmd(m, keys(m, "enter"))
	if m.pipe.form != nil {
		t.Fatalf("the form did not apply: %s", m.pipe.form.err)
	}
	st := m.pipe.p.Stages
	if len(st) != 1 || st[0].Lookup == nil || st[0].Lookup.Field != "p" || st[0].Lookup.Column != "id" ||
		strings.Join(st[0].Lookup.Select, ",") != "name,price" || stageLine(st[0]) != "products on p = id → name, price" {
		t.Fatalf("stages %+v", st)
	}
	keys(m, "a", "f")
	golden(t, "pipeline-add-after-lookup-100x30", m.Render())
	if v := m.Render(); !strings.Contains(v, "fields joined by lookups: name, price") {
		t.Errorf("the filter form does not offer the joined fields:\n%s", v)
	}
	keys(m, "esc", "e")
	if f := m.pipe.form; f == nil || f.kind != pipeline.Lookup || f.fields[1].in.String() != "p: id" || f.fields[2].in.String() != "name, price" {
		t.Errorf("e on the lookup: form %+v", f)
	}
}
