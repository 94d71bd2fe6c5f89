package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// Caps on what the workbench keeps; see the package documentation.
const (
	TailCap   = 1000 // records in the tail
	ResultCap = 500  // result rows
	DeadCap   = 200  // dead letters in the list
	ChartKeys = 200  // keys whose series the chart keeps (least recently updated dropped)
	ChartLen  = 120  // points per series
	SparkLen  = 120  // seconds of input and dead-letter rate
	TopK      = 5    // keys drawn in the chart
	Refresh   = 15   // UI updates per second from a feed, at most
)

// Common is what every pane shares: the screen size given to panes, styles and keys.
type Common struct {
	Width, Height int
	Styles        Styles
	Keys          KeyMap
}

// Styles are the workbench's lipgloss styles. Colours are hints only: every
// state is also shown by text, so the screen reads the same under NO_COLOR.
type Styles struct {
	Title, ActiveTab, Tab, Header, Selected, Status, Error, Dim, Key lipgloss.Style
}

// DefaultStyles returns the workbench's styles.
func DefaultStyles() Styles {
	return Styles{
		Title:     lipgloss.NewStyle().Bold(true),
		ActiveTab: lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("12")),
		Tab:       lipgloss.NewStyle().Foreground(lipgloss.Color("8")),
		Header:    lipgloss.NewStyle().Bold(true).Underline(true),
		Selected:  lipgloss.NewStyle().Reverse(true),
		Status:    lipgloss.NewStyle().Foreground(lipgloss.Color("15")).Background(lipgloss.Color("4")),
		Error:     lipgloss.NewStyle().Foreground(lipgloss.Color("9")),
		Dim:       lipgloss.NewStyle().Foreground(lipgloss.Color("8")),
		Key:       lipgloss.NewStyle().Bold(true),
	}
}

// KeyMap holds the global keys and the keys panes share.
type KeyMap struct {
	Quit, Help, Next, Prev, Back, Enter, Up, Down, Top, Bottom key.Binding
	Raw, Pause, Filter, Refresh, Seek, Export                  key.Binding
	Palette, Add, Edit, Delete, MoveUp, MoveDown, Write, Open  key.Binding
	Left, Right, Sort, Chart                                   key.Binding
	DryRun, Replay, EditReplay                                 key.Binding
}

// DefaultKeys returns the k9s/lazygit-style keys.
func DefaultKeys() KeyMap {
	b := func(help, desc string, keys ...string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return KeyMap{
		Quit:    b("q", "quit", "q", "ctrl+c"),
		Help:    b("?", "help", "?"),
		Next:    b("tab", "next pane", "tab"),
		Prev:    b("shift+tab", "prev pane", "shift+tab"),
		Back:    b("esc", "back", "esc"),
		Enter:   b("enter", "open", "enter"),
		Up:      b("↑/k", "up", "up", "k"),
		Down:    b("↓/j", "down", "down", "j"),
		Top:     b("g", "oldest", "g", "home"),
		Bottom:  b("G", "newest", "G", "end"),
		Raw:     b("r", "raw", "r"),
		Pause:   b("space", "pause", "space"),
		Filter:  b("/", "filter", "/"),
		Refresh: b("R", "reload", "R"),
		Seek:    b("s", "seek", "s"),
		Export:  b("x", "export", "x"),

		Palette:  b(":", "command", ":"),
		Add:      b("a", "add stage", "a"),
		Edit:     b("e", "edit", "e"),
		Delete:   b("d", "delete", "d"),
		MoveUp:   b("K", "move up", "K"),
		MoveDown: b("J", "move down", "J"),
		Write:    b("w", "write", "w"),
		Open:     b("o", "open", "o"),

		Left:  b("←/h", "column", "left", "h"),
		Right: b("→/l", "column", "right", "l"),
		Sort:  b("s", "sort", "s"),
		Chart: b("c", "chart", "c"),

		DryRun:     b("D", "dry run", "D"),
		Replay:     b("P", "replay", "P"),
		EditReplay: b("E", "edit+replay", "E"),
	}
}

// fit cuts or pads s to exactly w cells.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	s = ansi.Truncate(s, w, "…")
	if n := lipgloss.Width(s); n < w {
		s += strings.Repeat(" ", w-n)
	}
	return s
}

// block cuts lines to w cells and pads or cuts them to h lines.
func block(lines []string, w, h int) string {
	out := make([]string, h)
	for i := range out {
		if i < len(lines) {
			out[i] = fit(lines[i], w)
		} else {
			out[i] = strings.Repeat(" ", max(w, 0))
		}
	}
	return strings.Join(out, "\n")
}

// helpLine renders bindings as "key desc · key desc".
func helpLine(s Styles, bs []key.Binding) string {
	parts := make([]string, 0, len(bs))
	for _, b := range bs {
		h := b.Help()
		parts = append(parts, s.Key.Render(h.Key)+" "+h.Desc)
	}
	return strings.Join(parts, " · ")
}

// table renders rows under a header with column widths fitted to w; cells
// wider than a column are cut with "…". sel is the selected row, -1 for none.
func table(s Styles, header []string, rows [][]string, w, sel int) []string {
	if len(header) == 0 {
		return nil
	}
	widths := make([]int, len(header))
	for i, h := range header {
		widths[i] = lipgloss.Width(h)
	}
	for _, r := range rows {
		for i := range min(len(r), len(widths)) {
			widths[i] = max(widths[i], lipgloss.Width(r[i]))
		}
	}
	// When the columns do not fit, every one but the last is capped; the
	// last takes what is left.
	total := 2 * (len(widths) - 1)
	for _, wd := range widths {
		total += wd
	}
	if total > w {
		for i := range widths[:len(widths)-1] {
			widths[i] = min(widths[i], 30)
		}
	}
	line := func(cells []string) string {
		var b strings.Builder
		used := 0
		for i, wd := range widths {
			if used >= w {
				break
			}
			if i > 0 {
				b.WriteString("  ")
				used += 2
			}
			c := ""
			if i < len(cells) {
				c = cells[i]
			}
			wd = min(wd, max(w-used, 1))
			b.WriteString(fit(c, wd))
			used += wd
		}
		return b.String()
	}
	out := []string{s.Header.Render(line(header))}
	for i, r := range rows {
		l := fit(line(r), w)
		if i == sel {
			l = s.Selected.Render(l)
		}
		out = append(out, l)
	}
	return out
}

// window returns the range [lo, hi) of n items that shows sel within h lines.
func window(n, sel, h int) (lo, hi int) {
	if h <= 0 || n == 0 {
		return 0, 0
	}
	if n <= h {
		return 0, n
	}
	lo = max(0, min(sel-h/2, n-h))
	if sel < 0 {
		lo = n - h
	}
	return lo, lo + h
}
