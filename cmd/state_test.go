package cmd

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/internal/runtest"
)

func TestRunStateRefusals(t *testing.T) {
	dir := t.TempDir()
	runtest.WriteFile(t, dir, "in.jsonl", `{"ts":1000,"k":"a"}`+"\n"+`{"ts":25000,"k":"b"}`+"\n")
	spec := func(window string) string {
		return "name: refusals\nsource: {file: in.jsonl}\ntime: {field: ts}\nstages:\n  - window: {tumbling: " + window +
			", key: [k], aggregate: {n: count()}}\nsinks: [{file: out.jsonl}]\nstate: {dir: st}\n"
	}
	p := runtest.WriteFile(t, dir, "p.yaml", spec("10s"))
	if code, _, stderr := runCLI(t, "", "run", p); code != 0 {
		t.Fatalf("first run: %d %s", code, stderr)
	}
	out1, _ := os.ReadFile(filepath.Join(dir, "out.jsonl"))

	t.Run("inspect", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "", "state", "inspect", filepath.Join(dir, "st"))
		if code != 0 {
			t.Fatalf("inspect: %d %s", code, stderr)
		}
		for _, want := range []string{"pipeline:         refusals", "watermark:        end of input", "open windows:     0",
			"counters:         in=2 passed=2 filtered=0 dead=0 late=0 rows=2", "file position:    byte 41, after line 2",
			"sink:             file " + filepath.Join(dir, "out.jsonl") + ": 196 bytes", "dead letters:     stderr: at-least-once"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("inspect lacks %q:\n%s", want, stdout)
			}
		}
	})
	t.Run("inspect --json", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "", "state", "inspect", "--json", filepath.Join(dir, "st"))
		if code != 0 {
			t.Fatalf("inspect --json: %d %s", code, stderr)
		}
		var in inspection
		if err := json.Unmarshal([]byte(stdout), &in); err != nil {
			t.Fatalf("inspect --json: %v\n%s", err, stdout)
		}
		if in.Pipeline != "refusals" || in.Seq < 2 || in.Stats.In != 2 || len(in.Partitions) != 1 || in.Partitions[0].Next != 3 ||
			in.File == nil || in.File.Line != 2 || len(in.Sinks) != 1 || !in.Sinks[0].Exact || in.Watermark == nil || *in.Watermark != "end of input" {
			t.Errorf("inspect --json = %+v", in)
		}
	})
	t.Run("a finished run run again writes nothing more", func(t *testing.T) {
		code, _, stderr := runCLI(t, "", "run", p)
		out2, _ := os.ReadFile(filepath.Join(dir, "out.jsonl"))
		if code != 0 || !bytes.Equal(out1, out2) || !strings.Contains(stderr, "eddy: in=2 passed=2") {
			t.Errorf("rerun: %d %s\n%s", code, stderr, out2)
		}
	})
	t.Run("changed pipeline", func(t *testing.T) {
		runtest.WriteFile(t, dir, "p.yaml", spec("20s"))
		code, _, stderr := runCLI(t, "", "run", p)
		if code != 2 || !strings.Contains(stderr, `was written by a different pipeline, so it cannot be restored:
  stages[0].window changed: was "tumbling(10s)", now "tumbling(20s)"
run with --reset-state to discard the state and start over`) {
			t.Errorf("changed window: exit %d\n%s", code, stderr)
		}
		code, _, stderr = runCLI(t, "", "run", "--reset-state", p)
		if code != 0 || !strings.Contains(stderr, "eddy: in=2 passed=2 filtered=0 dead=0 late=0 rows=2") {
			t.Errorf("--reset-state: exit %d\n%s", code, stderr)
		}
	})
	t.Run("corrupt state", func(t *testing.T) {
		ms, _ := filepath.Glob(filepath.Join(dir, "st", "MANIFEST-*"))
		for _, m := range ms {
			os.WriteFile(m, []byte("not a manifest"), 0o644)
		}
		code, _, stderr := runCLI(t, "", "run", p)
		if code != 1 || !strings.Contains(stderr, "corrupt state") {
			t.Errorf("corrupt state: exit %d\n%s", code, stderr)
		}
		if code, _, stderr := runCLI(t, "", "state", "inspect", filepath.Join(dir, "st")); code != 1 || !strings.Contains(stderr, "corrupt state") {
			t.Errorf("inspect of corrupt state: exit %d\n%s", code, stderr)
		}
	})
	t.Run("stdin", func(t *testing.T) {
		code, _, stderr := runCLI(t, "", "run", "--input", "-", p)
		if code != 2 || !strings.Contains(stderr, "state: cannot resume stdin after a restart") {
			t.Errorf("stdin with state: exit %d\n%s", code, stderr)
		}
	})
	t.Run("two duckdb sinks", func(t *testing.T) {
		q := runtest.WriteFile(t, dir, "g.yaml", strings.Replace(spec("10s"), "[{file: out.jsonl}]", "[{duckdb: {path: a.duckdb, table: a}}, {duckdb: {path: b.duckdb, table: b}}]", 1))
		code, _, stderr := runCLI(t, "", "run", q)
		if code != 2 || !strings.Contains(stderr, "duckdb: at most one duckdb sink or parquet directory with a state section") {
			t.Errorf("two duckdb sinks with state: exit %d\n%s", code, stderr)
		}
	})
	t.Run("parquet file", func(t *testing.T) {
		q := runtest.WriteFile(t, dir, "pq.yaml", strings.Replace(strings.Replace(spec("10s"), "[{file: out.jsonl}]", "[{parquet: {path: out.parquet}}]", 1), "dir: st", "dir: st3", 1))
		code, _, stderr := runCLI(t, "", "run", q)
		if code != 2 || !strings.Contains(stderr, "use parquet {dir, rotate} with state") {
			t.Errorf("parquet path with state: exit %d\n%s", code, stderr)
		}
	})
	t.Run("pebble backend", func(t *testing.T) {
		// a state written with the windows in memory is not read as a store
		m := runtest.WriteFile(t, dir, "m.yaml", strings.Replace(spec("10s"), "state: {dir: st}", "state: {dir: stm}", 1))
		if code, _, stderr := runCLI(t, "", "run", m); code != 0 {
			t.Fatalf("memory backend: exit %d\n%s", code, stderr)
		}
		q := runtest.WriteFile(t, dir, "q.yaml", strings.Replace(spec("10s"), "state: {dir: st}", "state: {dir: stm, backend: pebble}", 1))
		code, _, stderr := runCLI(t, "", "run", q)
		if code != 2 || !strings.Contains(stderr, `state.backend added: "pebble"`) {
			t.Errorf("backend changed to pebble: exit %d\n%s", code, stderr)
		}
	})
}
