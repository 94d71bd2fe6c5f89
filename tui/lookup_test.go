package tui

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
