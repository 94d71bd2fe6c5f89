package job

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/internal/runtest"
)

// TestAfterWindowFaults fails runs of a pipeline with stages after its
// window (a filter of the window's rows, a second window over them and a
// top) between the steps of its checkpoints, with the windows in memory
// and in Pebble, then lets a run finish: the rows, the dead letters and
// the counters must be the uninterrupted run's.
func TestAfterWindowFaults(t *testing.T) {
	base := t.TempDir()
	in := filepath.Join(base, "bids.jsonl")
	runtest.GenBids(t, in, 40000)
	spec := func(backend string) string {
		return `source: {file: ` + in + `}
time: {field: dateTime, max_out_of_order: 1s}
stages:
  - filter: price > 500
  - window:
      tumbling: 2s
      key: [auction]
      aggregate: {n: count(), hi: max(price)}
  - filter: n >= 2
  - window:
      hopping: {size: 10s, slide: 5s}
      key: [n]
      aggregate: {auctions: count(), best: max(hi)}
  - top: {k: 3, by: auctions desc, ties: true}
sinks:
  - file: out.jsonl
dlq: {file: dead.jsonl}
state: {dir: st, checkpoint_every: 20ms` + backend + `}
`
	}
	t.Setenv("GOMEMLIMIT", "off")
	ref, wantStats := referenceRun(t, base, spec(""))
	if data, _ := os.ReadFile(filepath.Join(ref, "out.jsonl")); strings.Count(string(data), "\n") < 10 {
		t.Fatalf("the uninterrupted run wrote %d rows: the test proves little", strings.Count(string(data), "\n"))
	}
	for _, tt := range []struct{ name, backend string }{
		{"memory", ""},
		{"pebble", ", backend: pebble, memory_limit: 128MiB"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(base, tt.name)
			os.Mkdir(dir, 0o755)
			stderr := failingRuns(t, runtest.WriteFile(t, dir, "p.yaml", spec(tt.backend)), "sync", "save", "sync", "save")
			if got := runtest.StatsLine(stderr); got != wantStats {
				t.Errorf("final counters %q, want %q", got, wantStats)
			}
			runtest.SameFiles(t, ref, dir)
		})
	}
}
