package serve

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/value"
)

// TestStateRoundTrip: RestoreState puts back exactly the entries
// AppendState took (what a later write changed is gone), with their ages,
// and refuses another layout or damaged bytes whole.
func TestStateRoundTrip(t *testing.T) {
	c := &clock{time.Unix(1000, 0)}
	de := value.OfString("DE")
	a := NewTable(testLayout, TableOptions{Now: c.now})
	for _, r := range []*sink.Row{row("u1", de, 0, 60, 0, 3, 1.5), row("u2", de, 60, 120, 2, 4, 2), row("u3", de, 0, 60, 0, 1, 1)} {
		_ = a.Write(r)
	}
	st := a.AppendState(nil)
	_ = a.Write(row("u3", de, 60, 120, 0, 9, 9)) // after the checkpoint
	_ = a.Write(row("u4", de, 60, 120, 0, 9, 9))
	c.t = c.t.Add(5 * time.Second)
	if err := a.RestoreState(st); err != nil {
		t.Fatal(err)
	}
	if a.Len() != 3 {
		t.Errorf("%d entries after RestoreState, want the 3 of the state", a.Len())
	}
	for _, tt := range []struct {
		user    string
		wantEnd string
		wantN   float64
	}{{"u1", "1970-01-01T00:01:00.000Z", 3}, {"u2", "1970-01-01T00:02:00.000Z", 4}, {"u3", "1970-01-01T00:01:00.000Z", 1}} {
		m := got(t, a, tt.user, "DE")
		if m == nil || m["window_end"] != tt.wantEnd || m["aggregates"].(map[string]any)["n"] != tt.wantN {
			t.Errorf("%s after RestoreState: %v, want window_end %s n %v", tt.user, m, tt.wantEnd, tt.wantN)
		}
	}
	if m := got(t, a, "u4", "DE"); m != nil {
		t.Errorf("u4, written after the state was taken, is served: %v", m)
	}
	if m := got(t, a, "u1", "DE"); m["age_ms"] != float64(5000) {
		t.Errorf("u1 age_ms %v after RestoreState, want 5000 (the age is kept)", m["age_ms"])
	}
	// the same layout in another table (a restarted process) holds the same
	b := NewTable(testLayout, TableOptions{Now: c.now})
	if err := b.RestoreState(st); err != nil || b.Len() != 3 {
		t.Errorf("a second table after RestoreState: %v, %d entries; want 3", err, b.Len())
	}
	for _, u := range []string{"u1", "u2", "u3"} {
		if g, w := got(t, b, u, "DE"), got(t, a, u, "DE"); fmt.Sprint(g) != fmt.Sprint(w) {
			t.Errorf("%s in a second table: %v, want %v", u, g, w)
		}
	}
	other := testLayout
	other.Aggregates = []string{"n"}
	if err := NewTable(other, TableOptions{}).RestoreState(st); err == nil || !strings.Contains(err.Error(), "saved for keys=user,country aggregates=n,revenue") {
		t.Errorf("RestoreState into another layout: %v", err)
	}
	for _, cut := range []int{3, len(tableMagic) + 5, len(st) - 1} {
		tb := NewTable(testLayout, TableOptions{})
		_ = tb.Write(row("u9", de, 0, 60, 0, 1, 1))
		if err := tb.RestoreState(st[:cut]); err == nil || tb.Len() != 0 {
			t.Errorf("RestoreState of %d of %d bytes = %v, %d entries; want an error and none", cut, len(st), err, tb.Len())
		}
	}
	if err := NewTable(testLayout, TableOptions{}).RestoreState(NewTable(testLayout, TableOptions{}).AppendState(nil)); err != nil {
		t.Errorf("RestoreState of an empty table's state: %v", err)
	}
}

// FuzzRestoreState: any bytes are restored or refused with an error,
// never a panic, and what is restored is taken again unchanged.
func FuzzRestoreState(f *testing.F) {
	a := NewTable(testLayout, TableOptions{})
	_ = a.Write(row("u1", value.OfString("DE"), 0, 60, 0, 3, 1.5))
	f.Add(a.AppendState(nil))
	f.Add([]byte(tableMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		tb := NewTable(testLayout, TableOptions{})
		if err := tb.RestoreState(b); err != nil {
			if tb.Len() != 0 {
				t.Fatalf("%d entries after a refused state", tb.Len())
			}
			return
		}
		again := NewTable(testLayout, TableOptions{})
		if err := again.RestoreState(tb.AppendState(nil)); err != nil || again.Len() != tb.Len() {
			t.Fatalf("the restored state taken again: %v, %d entries of %d", err, again.Len(), tb.Len())
		}
	})
}
