package windows

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateCompat = flag.Bool("update-compat", false, "rewrite testdata/compat-*: the snapshots and rows of this version")

// TestSnapshotCompat restores snapshots written by an earlier version of
// the operator (testdata/compat-NAME.snap, from before the aggregates'
// state moved from one struct per aggregate to per-entry arrays) and
// checks that the rows after the restore are those the earlier version
// emitted (testdata/compat-NAME.rows): a state directory written before an
// upgrade restores after it. -update-compat rewrites both with this
// version's bytes, which then stand for the format from here on.
func TestSnapshotCompat(t *testing.T) {
	for _, sc := range testSpecs {
		name := strings.ReplaceAll(sc.name, " ", "-")
		t.Run(name, func(t *testing.T) {
			evs := randomStream(11, 800)
			var rows []string
			newOp := func() *Operator {
				op, err := New(Config{Window: sc.spec, Keys: []int{0}, Aggs: allAggs, Lateness: sc.lateness,
					Emit: func(r *Result) { rows = append(rows, fmtRow(r)) }})
				if err != nil {
					t.Fatal(err)
				}
				return op
			}
			snapFile := filepath.Join("testdata", "compat-"+name+".snap")
			rowsFile := filepath.Join("testdata", "compat-"+name+".rows")
			op := newOp()
			wm := Watermark{OutOfOrder: 1000}
			feed(t, op, &wm, evs[:400])
			if *updateCompat {
				snap := op.AppendSnapshot(nil)
				op.Close()
				rows = rows[:0]
				op = newOp()
				if err := op.Restore(snap); err != nil {
					t.Fatal(err)
				}
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(snapFile, snap, 0o644); err != nil {
					t.Fatal(err)
				}
			} else {
				snap, err := os.ReadFile(snapFile)
				if err != nil {
					t.Fatal(err)
				}
				rows = rows[:0]
				op = newOp()
				if err := op.Restore(snap); err != nil {
					t.Fatalf("restoring %s: %v", snapFile, err)
				}
			}
			feed(t, op, &wm, evs[400:])
			op.Flush()
			got := []byte(strings.Join(rows, "\n") + "\n")
			if *updateCompat {
				if err := os.WriteFile(rowsFile, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(rowsFile)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) < 20 {
				t.Fatalf("only %d rows after the restore: the stream does not exercise anything", len(rows))
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("rows after restoring %s differ from %s\n%s", snapFile, rowsFile,
					firstDiff(strings.Split(string(got), "\n"), strings.Split(string(want), "\n")))
			}
		})
	}
}
