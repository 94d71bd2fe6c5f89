package job

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/internal/runtest"
)

// TestWorkersFaults fails runs on two and three workers between a
// checkpoint's steps and in a restart's roll back, then lets one finish
// on as many workers: the file sink, the dead letters and the counters
// must equal an uninterrupted run's on one worker, in memory and with one
// Pebble store per worker (a cache far smaller than the open windows).
func TestWorkersFaults(t *testing.T) {
	base := t.TempDir()
	in := filepath.Join(base, "bids.jsonl")
	runtest.GenBids(t, in, 40000)
	spec := func(pebble bool) string {
		s := strings.Replace(runtest.StateSpec("source: {file: "+in+"}"), "  - duckdb: {path: out.duckdb, table: bids, batch_rows: 300}\n", "", 1)
		if pebble {
			s = strings.Replace(s, "checkpoint_every: 20ms}", "checkpoint_every: 20ms, backend: pebble, memory_limit: 256MiB}", 1)
		}
		return s
	}
	t.Setenv("GOMEMLIMIT", "off")
	ref, wantStats := referenceRun(t, base, spec(false))
	for _, tt := range []struct {
		workers int
		pebble  bool
		fails   []string
	}{
		{2, false, []string{"sync", "save", "sync", "save"}},
		{3, false, []string{"save", "sync", "save"}},
		{2, true, []string{"sync", "save", "save"}},
		{3, true, []string{"save", "sync"}},
	} {
		name := fmt.Sprintf("%d workers, pebble %v", tt.workers, tt.pebble)
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(base, fmt.Sprintf("w%d-%v", tt.workers, tt.pebble))
			os.Mkdir(dir, 0o755)
			path := runtest.WriteFile(t, dir, "p.yaml", spec(tt.pebble))
			o := Options{Workers: tt.workers}
			for _, fail := range tt.fails {
				err, stderr, fired := faultRunOn(t, path, fail, o)
				if !fired || err == nil || !strings.Contains(err.Error(), "injected fault after "+fail) {
					t.Fatalf("the run failing after %q: fired %v, error %v\n%s", fail, fired, err, stderr)
				}
			}
			err, stderr, _ := faultRunOn(t, path, "", o)
			if err != nil {
				t.Fatalf("the run after the failures: %v\n%s", err, stderr)
			}
			if got := runtest.StatsLine(stderr); got != wantStats {
				t.Errorf("final counters %q, want %q", got, wantStats)
			}
			runtest.SameFiles(t, ref, dir)
			if _, err := os.Stat(filepath.Join(dir, "st", fmt.Sprintf("windows.%d", tt.workers-1), "live")); tt.pebble && err != nil {
				t.Errorf("no store of the last worker: %v", err)
			}
			// another number of workers is refused, with the number to use
			for _, n := range []int{1, tt.workers + 1} {
				err, stderr, _ = faultRunOn(t, path, "", Options{Workers: n})
				if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("--workers %d", tt.workers)) {
					t.Errorf("resuming on %d workers: %v\n%s", n, err, stderr)
				}
			}
		})
	}
}
