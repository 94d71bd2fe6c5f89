package cmd

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/internal/runtest"
)

func TestDiff(t *testing.T) {
	dir := t.TempDir()
	runtest.WriteFile(t, dir, "in.jsonl", `{"u":"a","n":1,"ts":1000}`+"\n"+`{"u":"b","n":5,"ts":2000}`+"\n"+`{"u":"a","n":4,"ts":3000}`+"\n")
	old := runtest.WriteFile(t, dir, "old.yaml", "source: {file: in.jsonl}\ntime: {field: ts}\nstages:\n  - window: {tumbling: 10s, key: u, aggregate: {c: count()}}\n")
	new := runtest.WriteFile(t, dir, "new.yaml", "source: {file: in.jsonl}\ntime: {field: ts}\nstages:\n  - filter: 'n > 1'\n  - window: {tumbling: 10s, key: u, aggregate: {c: count()}}\n")
	code, out, stderr := runCLI(t, "", "diff", old, new)
	if code != 0 || !strings.Contains(out, "window rows matched by u, window_start, window_end: 1 same, 1 changed, 0 added, 0 removed") ||
		!strings.Contains(out, `~ u="a" window_start="1970-01-01T00:00:00.000Z" window_end="1970-01-01T00:00:10.000Z"  c: 2 → 1`) {
		t.Errorf("diff: %d %s\n%s", code, stderr, out)
	}
	code, out, _ = runCLI(t, "", "diff", old, new, "--json", "--exit-code")
	var res struct {
		Records int
		Same    int
		Changed []struct{ Columns []string }
	}
	if err := json.Unmarshal([]byte(out), &res); code != 1 || err != nil || res.Records != 3 || res.Same != 1 || len(res.Changed) != 1 || res.Changed[0].Columns[0] != "c" {
		t.Errorf("diff --json --exit-code: %d %v %+v\n%s", code, err, res, out)
	}
	if code, _, stderr := runCLI(t, "", "diff", old, old, "--exit-code"); code != 0 {
		t.Errorf("no difference: %d %s", code, stderr)
	}
	code, out, _ = runCLI(t, `{"u":"z","n":9,"ts":1}`+"\n", "diff", old, new, "--input", "-")
	if code != 0 || !strings.Contains(out, "over 1 records") || !strings.Contains(out, "1 same") {
		t.Errorf("diff --input -: %d\n%s", code, out)
	}
	if code, _, stderr := runCLI(t, "", "diff", old, filepath.Join(dir, "nope.yaml")); code != 2 || !strings.Contains(stderr, "nope.yaml") {
		t.Errorf("missing spec: %d %s", code, stderr)
	}
}

// TestDiffLookup: eddy diff opens the tables of each spec's lookup stages
// as eddy run does, so the joined fields are compared.
func TestDiffLookup(t *testing.T) {
	dir := t.TempDir()
	runtest.WriteFile(t, dir, "in.jsonl", `{"u":"a","p":1}`+"\n"+`{"u":"b","p":2}`+"\n"+`{"u":"c","p":9}`+"\n")
	runtest.WriteFile(t, dir, "products.jsonl", `{"id":1,"name":"pen"}`+"\n"+`{"id":2,"name":"ink"}`+"\n")
	head := "source: {file: in.jsonl}\ntables:\n  products: {file: products.jsonl}\nstages:\n"
	old := runtest.WriteFile(t, dir, "old.yaml", head+"  - lookup: {table: products, on: {p: id}, select: [name]}\n")
	new := runtest.WriteFile(t, dir, "new.yaml", head+"  - lookup: {table: products, on: {p: id}, select: [name], on_missing: drop}\n")
	code, out, stderr := runCLI(t, "", "diff", old, new, "--json")
	var res struct {
		Records, Same int
		Removed       []map[string]any
	}
	if err := json.Unmarshal([]byte(out), &res); code != 0 || err != nil || res.Records != 3 || res.Same != 2 ||
		len(res.Removed) != 1 || res.Removed[0]["u"] != "c" || res.Removed[0]["name"] != nil {
		t.Fatalf("diff with a lookup: %d %v %+v\n%s\n%s", code, err, res, out, stderr)
	}
	if !strings.Contains(stderr, "table products: 2 rows") {
		t.Errorf("the tables' memory is not reported: %s", stderr)
	}
	plain := runtest.WriteFile(t, dir, "plain.yaml", "source: {file: in.jsonl}\n")
	code, out, stderr = runCLI(t, "", "diff", plain, old, "--json")
	var added struct{ Added []map[string]any }
	if err := json.Unmarshal([]byte(out), &added); code != 0 || err != nil || len(added.Added) != 3 ||
		added.Added[0]["name"] != "pen" || added.Added[1]["name"] != "ink" {
		t.Errorf("the joined fields: %d %v %+v\n%s", code, err, added, stderr)
	}
}
