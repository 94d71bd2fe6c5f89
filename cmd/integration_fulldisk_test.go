//go:build integration

package cmd

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/internal/runtest"
)

// TestIntegrationDuckDBFullDisk is issue 12's reproduction without fault
// points: the DuckDB sink on a small tmpfs, the state and the other outputs
// elsewhere. Two runs fail when the tmpfs fills; once it is made larger, a
// third run must restore and end with the outputs of an uninterrupted run.
// It needs root (mount); it is skipped elsewhere.
func TestIntegrationDuckDBFullDisk(t *testing.T) {
	base := t.TempDir()
	small := filepath.Join(base, "small")
	os.Mkdir(small, 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", small).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", small).Run() })
	in := filepath.Join(base, "bids.jsonl")
	runtest.GenBids(t, in, 300_000)
	spec := func(dir, duck string) string {
		os.MkdirAll(dir, 0o755)
		s := strings.Replace(runtest.StateSpec("source: {file: "+in+"}"), "path: out.duckdb", "path: "+duck, 1)
		return runtest.WriteFile(t, dir, "p.yaml", s)
	}
	ref := filepath.Join(base, "ref")
	code, _, stderr := runCLI(t, "", "run", spec(ref, filepath.Join(ref, "out.duckdb")))
	if code != 0 {
		t.Fatalf("uninterrupted run: exit %d\n%s", code, stderr)
	}
	wantStats := runtest.StatsLine(stderr)
	dir := filepath.Join(base, "run")
	p := spec(dir, filepath.Join(small, "out.duckdb"))
	for i := range 2 {
		code, _, stderr := runCLI(t, "", "run", p)
		t.Logf("run %d on the full tmpfs: exit %d\n%s", i+1, code, stderr)
		if code != 1 {
			t.Fatalf("run %d on a 1 MiB tmpfs: exit %d, want 1 (the test proves nothing)", i+1, code)
		}
	}
	if out, err := exec.Command("mount", "-o", "remount,size=256m", small).CombinedOutput(); err != nil {
		t.Fatalf("remount: %v %s", err, out)
	}
	code, _, stderr = runCLI(t, "", "run", p)
	if code != 0 {
		t.Fatalf("the run with room again: exit %d\n%s", code, stderr)
	}
	if got := runtest.StatsLine(stderr); got != wantStats {
		t.Errorf("final counters %q, want %q", got, wantStats)
	}
	runtest.SameFiles(t, ref, dir)
	want, got := runtest.TableRows(t, filepath.Join(ref, "out.duckdb"), "bids"), runtest.TableRows(t, filepath.Join(small, "out.duckdb"), "bids")
	if !slices.Equal(got, want) {
		t.Errorf("DuckDB table: %d rows, want the %d of the uninterrupted run", len(got), len(want))
	}
}
