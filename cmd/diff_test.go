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
