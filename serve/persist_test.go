package serve

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/value"
)

func TestSaveLoad(t *testing.T) {
	c := &clock{time.Unix(1000, 0)}
	de := value.OfString("DE")
	path := filepath.Join(t.TempDir(), "table")
	a := NewTable(testLayout, TableOptions{Now: c.now})
	for _, r := range []*sink.Row{row("u1", de, 0, 60, 0, 3, 1.5), row("u2", de, 60, 120, 2, 4, 2), row("u3", de, 0, 60, 0, 1, 1)} {
		_ = a.Write(r)
	}
	if err := a.Save(path); err != nil {
		t.Fatal(err)
	}
	c.t = c.t.Add(5 * time.Second)
	b := NewTable(testLayout, TableOptions{Now: c.now})
	_ = b.Write(row("u3", de, 60, 120, 0, 9, 9)) // newer than the saved u3
	n, err := b.Load(path)
	if err != nil || n != 3 {
		t.Fatalf("Load = %d, %v; want 3 entries", n, err)
	}
	for _, tt := range []struct {
		user    string
		wantEnd string
		wantN   float64
	}{{"u1", "1970-01-01T00:01:00.000Z", 3}, {"u2", "1970-01-01T00:02:00.000Z", 4}, {"u3", "1970-01-01T00:02:00.000Z", 9}} {
		m := got(t, b, tt.user, "DE")
		if m == nil || m["window_end"] != tt.wantEnd || m["aggregates"].(map[string]any)["n"] != tt.wantN {
			t.Errorf("%s after Load: %v, want window_end %s n %v", tt.user, m, tt.wantEnd, tt.wantN)
		}
	}
	if m := got(t, b, "u1", "DE"); m["age_ms"] != float64(5000) {
		t.Errorf("u1 age_ms %v after Load, want 5000 (the age is kept)", m["age_ms"])
	}
	if n, err := NewTable(testLayout, TableOptions{}).Load(filepath.Join(t.TempDir(), "none")); n != 0 || err != nil {
		t.Errorf("Load of a missing file = %d, %v; want 0, nil", n, err)
	}
	other := testLayout
	other.Aggregates = []string{"n"}
	if _, err := NewTable(other, TableOptions{}).Load(path); err == nil || !strings.Contains(err.Error(), "saved for keys=user,country aggregates=n,revenue") {
		t.Errorf("Load into another layout: %v", err)
	}
	full, _ := os.ReadFile(path)
	for _, cut := range []int{3, len(tableMagic) + 5, len(full) - 1} {
		p := filepath.Join(t.TempDir(), "cut")
		_ = os.WriteFile(p, full[:cut], 0o644)
		tb := NewTable(testLayout, TableOptions{})
		if n, err := tb.Load(p); err == nil || tb.Len() != 0 {
			t.Errorf("Load of %d of %d bytes = %d, %v, %d entries; want an error and none", cut, len(full), n, err, tb.Len())
		}
	}
}
