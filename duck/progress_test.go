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

// TestProgress checks the row count kept with the rows (Options.Progress)
// and that Skip drops the rows a restarted run writes again.
func TestProgress(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.duckdb")
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
	tb := open(Append)
	for i := 1; i <= 3; i++ {
		tb.Write(row(i))
	}
	// rows 1 and 2 are committed by the batch of 2; 3 waits
	if tb.Progress() != 2 {
		t.Errorf("Progress = %d, want 2", tb.Progress())
	}
	tb.Flush(context.Background())
	checkpoint := tb.Progress()
	tb.Write(row(4))
	tb.Write(row(5)) // committed after the "checkpoint"
	tb.Close()
	if checkpoint != 3 {
		t.Fatalf("Progress at the checkpoint = %d, want 3", checkpoint)
	}

	tb = open(Append)
	if tb.Progress() != 5 {
		t.Fatalf("Progress after reopening = %d, want 5", tb.Progress())
	}
	tb.Skip(tb.Progress() - checkpoint)
	tb.Write(row(4)) // the replay writes 4 again
	if tb.Progress() != 4 {
		// a checkpoint taken now must not cover row 5, which the engine has not reached
		t.Errorf("Progress while skipping = %d, want 4", tb.Progress())
	}
	for i := 5; i <= 6; i++ { // and 5 again
		tb.Write(row(i))
	}
	tb.Close()
	db := openRead(t, path)
	if got, want := dump(t, db, "SELECT n FROM rows ORDER BY n"), []string{"1", "2", "3", "4", "5", "6"}; !reflect.DeepEqual(got, want) {
		t.Errorf("rows %v, want %v", got, want)
	}
	if got := dump(t, db, "SELECT rows FROM "+ProgressTable+" WHERE table_name = 'rows'"); !reflect.DeepEqual(got, []string{"6"}) {
		t.Errorf("progress row %v, want 6", got)
	}
	db.Close()

	tb = open(Replace)
	if tb.Progress() != 0 {
		t.Errorf("Progress after replace = %d, want 0", tb.Progress())
	}
	tb.Close()
}
