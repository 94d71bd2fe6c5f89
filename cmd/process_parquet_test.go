//go:build process || integration

package cmd

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/internal/runtest"
)

// parquetStateSpec is runtest.StateSpec with a Parquet directory (rotated
// every 200 rows) in place of the DuckDB table: the directory decides the
// checkpoint a restart restores.
func parquetStateSpec(source, dir string) string {
	return strings.Replace(runtest.StateSpec(source), "  - duckdb: {path: out.duckdb, table: bids, batch_rows: 300}\n",
		"  - parquet: {dir: "+dir+", rotate: 200}\n", 1)
}

var exactPart = regexp.MustCompile(`^part-\d{6}-\d{3}\.parquet$`)

// parquetDirRows returns the rows of every part in dir, sorted, and fails
// on a name other than a committed part's or the marker.
func parquetDirRows(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	parts := 0
	for _, e := range entries {
		switch name := e.Name(); {
		case name == "_eddy_progress.json":
		case exactPart.MatchString(name):
			parts++
		default:
			t.Errorf("%s in %s: not a committed part", name, dir)
		}
	}
	if parts == 0 {
		t.Fatalf("no parts in %s", dir)
	}
	return runtest.TableRows(t, "", fmt.Sprintf("read_parquet('%s')", filepath.Join(dir, "part-*.parquet")))
}

// TestRunKilledParquet kills `eddy run` with SIGKILL at random moments
// over a file, restarts it until it finishes, and requires the Parquet
// directory (committed at checkpoints) to hold exactly the rows of an
// uninterrupted run, each once, in committed parts only, beside the file
// sink and dead letters as in TestRunKilledResumesExactlyOnce.
func TestRunKilledParquet(t *testing.T) {
	bin := buildEddy(t)
	base := t.TempDir()
	input := filepath.Join(base, "bids.jsonl")
	runtest.GenBids(t, input, 150_000)
	spec := parquetStateSpec("source: {file: "+input+"}", "out.pq")

	ref, wantStats := referenceRun(t, bin, base, spec)
	final := size(filepath.Join(ref, "out.jsonl"))
	want := parquetDirRows(t, filepath.Join(ref, "out.pq"))
	if lines := runtest.SortedFile(t, filepath.Join(ref, "out.jsonl")); len(want) != len(lines) || len(want) < 1000 {
		t.Fatalf("the reference directory holds %d rows, its file sink %d", len(want), len(lines))
	}
	for seed := uint64(1); seed <= uint64(killSeeds(3)); seed++ {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			dir := killedRun(t, bin, base, fmt.Sprintf("run%d", seed), spec, seed+40, final, wantStats)
			runtest.SameFiles(t, ref, dir)
			if got := parquetDirRows(t, filepath.Join(dir, "out.pq")); !slices.Equal(got, want) {
				t.Errorf("the Parquet directory holds %d rows, want the uninterrupted run's %d", len(got), len(want))
			}
		})
	}
}
