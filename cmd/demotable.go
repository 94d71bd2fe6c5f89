package cmd

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/x/term"

	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/value"
)

// liveTable prints rows as aligned lines as they arrive.
type liveTable struct {
	mu     sync.Mutex
	w      io.Writer
	header bool
	widths []int
}

func (t *liveTable) Write(r *sink.Row) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.header {
		t.widths = make([]int, len(r.Names))
		for i, n := range r.Names {
			t.widths[i] = max(len(n), 8)
			if strings.HasPrefix(n, "window_") {
				t.widths[i] = 8 // printed as times of day
			}
		}
		t.line(r.Names)
		t.header = true
	}
	cells := make([]string, len(r.Vals))
	for i, v := range r.Vals {
		cells[i] = demoCell(v)
	}
	t.line(cells)
	return nil
}

func (t *liveTable) line(cells []string) {
	var b strings.Builder
	for i, c := range cells {
		if i > 0 {
			b.WriteString("  ")
		}
		fmt.Fprintf(&b, "%*s", t.widths[i], c)
	}
	fmt.Fprintln(t.w, b.String())
}

func (t *liveTable) note(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintln(t.w, s)
}

func (t *liveTable) Close() error { return nil }

func demoCell(v value.Value) string {
	switch v.K {
	case value.Float:
		return strconv.FormatFloat(v.F, 'f', 2, 64)
	case value.String:
		return v.S
	case value.Time:
		return time.UnixMilli(v.I).UTC().Format("15:04:05")
	}
	return string(value.AppendJSON(nil, v))
}

// isTerminal reports whether w is a terminal. A character device is not
// enough: /dev/null is one too.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(f.Fd())
}
