package duck

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/value"
)

// TestProgress checks a transactional table (Options.Progress): rows are
// committed only by Commit, with the row count and the checkpoint's number
// in ProgressTable; Close rolls back what no Commit committed.
func TestProgress(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.duckdb")
	ctx := context.Background()
	open := func(mode Mode) *Table {
		tb, err := OpenTable(path, "rows", Options{Mode: mode, Progress: true, BatchRows: 2})
		if err != nil {
			t.Fatal(err)
		}
		return tb
	}
	row := func(n int) *sink.Row {
		return &sink.Row{Names: []string{"n"}, Vals: []value.Value{value.OfInt(int64(n))}, JSON: fmt.Appendf(nil, `{"n":%d}`, n)}
	}
	committed := func(tb *Table, wantRows, wantSeq int64) {
		t.Helper()
		if rows, seq := tb.Committed(); rows != wantRows || seq != wantSeq {
			t.Errorf("Committed = %d, %d; want %d, %d", rows, seq, wantRows, wantSeq)
		}
	}
	tb := open(Append)
	committed(tb, 0, 0)
	for i := 1; i <= 3; i++ {
		tb.Write(row(i))
	}
	if err := tb.Flush(ctx); err != nil { // commits nothing
		t.Fatal(err)
	}
	if tb.Rows() != 3 {
		t.Errorf("Rows = %d, want 3", tb.Rows())
	}
	if err := tb.Commit(ctx, 7, nil); err != nil {
		t.Fatal(err)
	}
	tb.Write(row(4)) // after the last commit: rolled back by Close
	if tb.Rows() != 4 {
		t.Errorf("Rows = %d, want 4", tb.Rows())
	}
	if err := tb.Close(); err != nil {
		t.Fatal(err)
	}

	tb = open(Append)
	committed(tb, 3, 7)
	tb.Write(row(5))
	if err := tb.Commit(ctx, 8, nil); err != nil {
		t.Fatal(err)
	}
	tb.Close()
	db := openRead(t, path)
	if got, want := dump(t, db, "SELECT n FROM rows ORDER BY n"), []string{"1", "2", "3", "5"}; !reflect.DeepEqual(got, want) {
		t.Errorf("rows %v, want %v", got, want)
	}
	if got := dump(t, db, "SELECT rows, checkpoint FROM "+ProgressTable+" WHERE table_name = 'rows'"); !reflect.DeepEqual(got, []string{"4|8"}) {
		t.Errorf("progress row %v, want 4, 8", got)
	}
	db.Close()

	tb = open(Replace)
	committed(tb, 0, 0)
	tb.Close()
}
