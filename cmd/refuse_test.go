package cmd

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/internal/runtest"
)

// A run whose outputs name its input, or one another, is refused with exit
// 2 before anything is opened: the input keeps its bytes, no output file
// and no state directory is created. Files are compared by identity, so
// ./x/../in.jsonl and a symlink are caught too.
func TestRunRefusesCollidingFiles(t *testing.T) {
	const input = "{\"ts\":1,\"k\":\"a\"}\n{\"ts\":2,\"k\":\"b\"}\n"
	tests := []struct {
		name     string
		spec     string
		args     []string // after the spec
		wantErr  []string // substrings of stderr; "" means the run succeeds
		wantCode int
	}{
		{name: "sink is the input", spec: "source: {file: in.jsonl}\nsinks: [{file: in.jsonl}]\n",
			wantErr: []string{"p.yaml:2: sinks[0].file", "is the input", "source.file", "p.yaml:1"}, wantCode: 2},
		{name: "dlq is the input", spec: "source: {file: in.jsonl}\ndlq: {file: in.jsonl}\n",
			wantErr: []string{"p.yaml:2: dlq.file", "is the input"}, wantCode: 2},
		{name: "--out is the input", spec: "source: {file: in.jsonl}\n", args: []string{"--out", "IN"},
			wantErr: []string{"--out", "is the input", "source.file"}, wantCode: 2},
		{name: "--dlq is --input", spec: "source: {file: other.jsonl}\n", args: []string{"--input", "IN", "--dlq", "IN"},
			wantErr: []string{"--dlq", "is the input (--input"}, wantCode: 2},
		{name: "--stats is the input", spec: "source: {file: in.jsonl}\nsinks: [{file: out.jsonl}]\n", args: []string{"--stats", "IN"},
			wantErr: []string{"--stats", "is the input"}, wantCode: 2},
		{name: "dot-dot path to the input", spec: "source: {file: in.jsonl}\nsinks: [{file: sub/../in.jsonl}]\n",
			wantErr: []string{"p.yaml:2: sinks[0].file", "is the input"}, wantCode: 2},
		{name: "symlink to the input", spec: "source: {file: in.jsonl}\nsinks: [{file: link.jsonl}]\n",
			wantErr: []string{"p.yaml:2: sinks[0].file", "is the input"}, wantCode: 2},
		{name: "duckdb file is the input", spec: "source: {file: in.jsonl}\nsinks: [{duckdb: {path: in.jsonl, table: t}}]\n",
			wantErr: []string{"p.yaml:2: sinks[0].duckdb.path", "is the input"}, wantCode: 2},
		{name: "parquet file is the input", spec: "source: {file: in.jsonl}\nsinks: [{parquet: {path: in.jsonl}}]\n",
			wantErr: []string{"p.yaml:2: sinks[0].parquet.path", "is the input"}, wantCode: 2},
		{name: "two sinks on one new file", spec: "source: {file: in.jsonl}\nsinks:\n  - file: out.jsonl\n  - file: ./out.jsonl\n",
			wantErr: []string{"p.yaml:4: sinks[1].file", "also written by sinks[0].file", "p.yaml:3"}, wantCode: 2},
		{name: "sink and dlq on one new file", spec: "source: {file: in.jsonl}\nsinks: [{file: out.jsonl}]\ndlq: {file: sub/../out.jsonl}\n",
			wantErr: []string{"p.yaml:3: dlq.file", "also written by sinks[0].file"}, wantCode: 2},
		{name: "--out and --dlq on one file", spec: "source: {file: in.jsonl}\n", args: []string{"--out", "OUT", "--dlq", "OUT"},
			wantErr: []string{"--dlq", "also written by --out"}, wantCode: 2},
		{name: "two sinks on one existing file via a symlink", spec: "source: {file: in.jsonl}\nsinks: [{file: old.jsonl}, {file: oldlink.jsonl}]\n",
			wantErr: []string{"sinks[1].file", "also written by sinks[0].file"}, wantCode: 2},
		{name: "duckdb table and a json file on one path", spec: "source: {file: in.jsonl}\nsinks: [{duckdb: {path: out.db, table: t}}, {file: out.db}]\n",
			wantErr: []string{"sinks[1].file", "also written by sinks[0].duckdb.path"}, wantCode: 2},
		{name: "two duckdb sinks on one table", spec: "source: {file: in.jsonl}\nsinks: [{duckdb: {path: out.db, table: t}}, {duckdb: {path: ./out.db, table: t}}]\n",
			wantErr: []string{"sinks[1].duckdb.path", "table \"t\"", "also written by sinks[0].duckdb.path"}, wantCode: 2},
		{name: "two parquet dirs on one directory", spec: "source: {file: in.jsonl}\nsinks: [{parquet: {dir: pq, rotate: '10'}}, {parquet: {dir: ./pq, rotate: '10'}}]\n",
			wantErr: []string{"sinks[1].parquet.dir", "also written by sinks[0].parquet.dir"}, wantCode: 2},
		// legitimate: two tables of one DuckDB database, stdout twice
		{name: "two duckdb tables in one file", spec: "source: {file: in.jsonl}\nsinks: [{duckdb: {path: out.db, table: a}}, {duckdb: {path: out.db, table: b}}]\n"},
		{name: "rows and dead letters on stdout", spec: "source: {file: in.jsonl}\nsinks: [{file: \"-\"}]\ndlq: {file: \"-\"}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			in := runtest.WriteFile(t, dir, "in.jsonl", input)
			runtest.WriteFile(t, dir, "other.jsonl", input)
			old := runtest.WriteFile(t, dir, "old.jsonl", "keep\n")
			if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(filepath.Join(dir, "pq"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(in, filepath.Join(dir, "link.jsonl")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(old, filepath.Join(dir, "oldlink.jsonl")); err != nil {
				t.Fatal(err)
			}
			spec := runtest.WriteFile(t, dir, "p.yaml", tt.spec)
			args := []string{"run", spec}
			for _, a := range tt.args {
				a = strings.NewReplacer("IN", filepath.Join(dir, "sub", "..", "in.jsonl"), "OUT", filepath.Join(dir, "out.jsonl")).Replace(a)
				args = append(args, a)
			}
			code, _, stderr := runCLI(t, "", args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.wantCode, stderr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not contain %q:\n%s", w, stderr)
				}
			}
			if got := readFile(t, in); got != input {
				t.Errorf("the input now holds %q", got)
			}
			if got := readFile(t, old); got != "keep\n" {
				t.Errorf("old.jsonl now holds %q", got)
			}
			if tt.wantCode == 0 {
				if strings.Contains(tt.spec, "table: b") {
					db, err := sql.Open("duckdb", filepath.Join(dir, "out.db"))
					if err != nil {
						t.Fatal(err)
					}
					defer db.Close()
					for _, tb := range []string{"a", "b"} {
						var n int
						if err := db.QueryRow("SELECT count(*) FROM " + tb).Scan(&n); err != nil || n != 2 {
							t.Errorf("table %s: %d rows (%v), want 2", tb, n, err)
						}
					}
				}
				return
			}
			for _, f := range []string{"out.jsonl", "out.db"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
					t.Errorf("%s was created before the refusal", f)
				}
			}
		})
	}
}

// Refusals that depend on the state section carry the spec's file and line,
// and none of them creates the state directory.
func TestRunRefusesWithState(t *testing.T) {
	tests := []struct {
		name    string
		spec    string
		args    []string
		wantErr string
	}{
		{name: "parquet path with state",
			spec:    "source: {file: in.jsonl}\nsinks:\n  - parquet: {path: out.parquet}\nstate: {dir: st}\n",
			wantErr: "p.yaml:3: sinks[0].parquet.path: writes its file only at the end"},
		{name: "two duckdb sinks with state",
			spec:    "source: {file: in.jsonl}\nsinks:\n  - duckdb: {path: a.db, table: t}\n  - duckdb: {path: b.db, table: t}\nstate: {dir: st}\n",
			wantErr: "p.yaml:4: sinks[1].duckdb: at most one duckdb sink or parquet directory with a state section"},
		{name: "stdin with state",
			spec:    "source: {file: \"-\"}\nstate: {dir: st}\n",
			wantErr: "p.yaml:1: source.file: cannot resume stdin after a restart"},
		{name: "--input - with state",
			spec:    "source: {file: in.jsonl}\nstate: {dir: st}\n",
			args:    []string{"--input", "-"},
			wantErr: "p.yaml:2: state: cannot resume stdin after a restart (--input -)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			runtest.WriteFile(t, dir, "in.jsonl", "{\"a\":1}\n")
			spec := runtest.WriteFile(t, dir, "p.yaml", tt.spec)
			code, _, stderr := runCLI(t, "", append([]string{"run", spec}, tt.args...)...)
			if code != 2 {
				t.Fatalf("exit %d, want 2; stderr:\n%s", code, stderr)
			}
			if !strings.Contains(stderr, spec[:len(spec)-len("p.yaml")]+tt.wantErr) {
				t.Errorf("stderr does not contain %q:\n%s", tt.wantErr, stderr)
			}
			if _, err := os.Stat(filepath.Join(dir, "st")); err == nil {
				t.Errorf("the state directory was created before the refusal")
			}
		})
	}
}
