package duck

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// An exactly-once directory: files stay pending until Commit names them
// after the checkpoint; a run killed mid-interval (Abort) leaves nothing
// visible, a commit cut short (parts without the marker) is removed when
// the directory is opened again, and the restarted run's commit of the
// same checkpoint writes the same names; a reset state numbers after the
// earlier parts.
func TestParquetExactly(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "out")
	o := ParquetOptions{Dir: true, RotateRows: 3, Exactly: true}
	write := func(p *Parquet, from, to int) {
		for i := from; i < to; i++ {
			writeJSON(t, p, fmt.Sprintf(`{"i":%d}`, i))
		}
	}
	commit := func(p *Parquet, seq int64) {
		t.Helper()
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if err := p.Commit(ctx, seq, nil); err != nil {
			t.Fatal(err)
		}
	}
	p := openParquet(t, dir, o)
	if r, s := p.Committed(); r != 0 || s != 0 || !p.Transactional() {
		t.Fatalf("fresh: Committed %d %d, Transactional %v", r, s, p.Transactional())
	}
	commit(p, 1) // the first checkpoint, before any row
	write(p, 0, 4)
	same(t, "before the commit", names(t, dir), []string{MarkerName, "part-pending-000.parquet.tmp"})
	if p.Rows() != 4 {
		t.Errorf("Rows = %d, want 4", p.Rows())
	}
	commit(p, 2)
	write(p, 4, 6)
	if err := p.Abort(); err != nil { // killed: the rows since #2 are lost
		t.Fatal(err)
	}
	same(t, "after the kill", names(t, dir), []string{MarkerName, "part-000002-000.parquet", "part-000002-001.parquet"})

	// a commit of #3 cut short: one part without the marker
	if err := os.WriteFile(filepath.Join(dir, "part-000003-000.parquet"), []byte("half a commit"), 0o644); err != nil {
		t.Fatal(err)
	}
	p = openParquet(t, dir, o)
	if r, s := p.Committed(); r != 4 || s != 2 {
		t.Errorf("Committed = %d rows at #%d, want 4 at #2", r, s)
	}
	same(t, "reopened", names(t, dir), []string{MarkerName, "part-000002-000.parquet", "part-000002-001.parquet"})
	write(p, 4, 7)
	commit(p, 3)
	closeTable(t, p)
	want := []string{MarkerName, "part-000002-000.parquet", "part-000002-001.parquet", "part-000003-000.parquet"}
	same(t, "restarted", names(t, dir), want)
	db := openRead(t, "")
	same(t, "rows", dump(t, db, fmt.Sprintf("SELECT count(*), count(DISTINCT i), min(i), max(i) FROM read_parquet('%s/*.parquet')", dir)), []string{"7|7|0|6"})

	// a state started over numbers its checkpoints from 1 again
	p = openParquet(t, dir, o)
	commit(p, 1)
	write(p, 100, 101)
	commit(p, 2)
	closeTable(t, p)
	same(t, "after a reset", names(t, dir), append(want, "part-000005-000.parquet"))
	if b, _ := os.ReadFile(filepath.Join(dir, MarkerName)); string(b) != `{"rows":8,"checkpoint":2,"base":3,"last":5}` {
		t.Errorf("marker %s", b)
	}
}
