package tui

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
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
	PageUp, PageDown                                           key.Binding
	Raw, Pause, Filter, Refresh, Seek, Export                  key.Binding
	Palette, Add, Edit, Delete, MoveUp, MoveDown, Write, Open  key.Binding
	Left, Right, Sort, Chart                                   key.Binding
	DryRun, Replay, EditReplay                                 key.Binding
	Copy, CopyOther                                            key.Binding
}

// DefaultKeys returns the k9s/lazygit-style keys.
func DefaultKeys() KeyMap {
	b := func(help, desc string, keys ...string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return KeyMap{
		Quit:     b("q", "quit", "q", "ctrl+c"),
		Help:     b("?", "help", "?"),
		Next:     b("tab", "next pane", "tab"),
		Prev:     b("shift+tab", "prev pane", "shift+tab"),
		Back:     b("esc", "back", "esc"),
		Enter:    b("enter", "open", "enter"),
		Up:       b("↑/k", "up", "up", "k"),
		Down:     b("↓/j", "down", "down", "j"),
		Top:      b("g", "oldest", "g", "home"),
		Bottom:   b("G", "newest", "G", "end"),
		PageUp:   b("pgup", "page up", "pgup", "ctrl+b"),
		PageDown: b("pgdn", "page down", "pgdown", "ctrl+f"),
		Raw:      b("r", "raw", "r"),
		Pause:    b("space", "pause", "space"),
		Filter:   b("/", "filter", "/"),
		Refresh:  b("R", "reload", "R"),
		Seek:     b("s", "seek", "s"),
		Export:   b("x", "export", "x"),

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

		Copy:      b("y", "copy", "y"),
		CopyOther: b("Y", "copy key/cell", "Y"),
	}
}

// scrollHelp names the keys every table scrolls with, in footers.
var scrollHelp = key.NewBinding(key.WithHelp("↑↓/pgup/pgdn/g/G", "scroll"))

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
	lines, _ := scrolled(s, header, rows, w, sel, colView{})
	return lines
}

// colView says which columns a scrolled table shows: the first Frozen ones
// always (the key columns), then the others from the First-th of them on.
type colView struct{ Frozen, First int }

// shown is what a scrolled table drew: how many columns there are past
// the frozen ones, the first and the last of them drawn whole.
type shown struct{ Scrollable, First, Last int }

// more says which way there are columns out of sight ("" when none are).
func (sh shown) more() string {
	var parts []string
	if sh.First > 0 {
		parts = append(parts, "←")
	}
	if sh.Last < sh.Scrollable-1 {
		parts = append(parts, "→")
	}
	if len(parts) == 0 {
		return ""
	}
	return fmt.Sprintf("columns %d-%d of %d (%s more)", sh.First+1, sh.Last+1, sh.Scrollable, strings.Join(parts, " "))
}

// colWidth caps a column's width: one long cell must not push the others
// out of sight.
const colWidth = 30

// widths are the columns' natural widths, capped when they do not fit.
func widths(header []string, rows [][]string, w int) []int {
	ws := make([]int, len(header))
	for i, h := range header {
		ws[i] = lipgloss.Width(h)
	}
	for _, r := range rows {
		for i := range min(len(r), len(ws)) {
			ws[i] = max(ws[i], lipgloss.Width(r[i]))
		}
	}
	// When the columns do not fit, every one but the last is capped; the
	// last takes what is left.
	total := 2 * (len(ws) - 1)
	for _, wd := range ws {
		total += wd
	}
	if total > w {
		for i := range ws[:len(ws)-1] {
			ws[i] = min(ws[i], colWidth)
		}
	}
	return ws
}

// scrolled is table with the columns c picks: the frozen columns, then
// the others from c.First (clamped to the last one) on, as far as w goes.
func scrolled(s Styles, header []string, rows [][]string, w, sel int, c colView) ([]string, shown) {
	if len(header) == 0 {
		return nil, shown{}
	}
	// Scrolled no further than the last column needs: while one column
	// less to the left still shows the last one whole, show it.
	for c.First > 0 {
		if _, sh := layout(header, rows, w, colView{c.Frozen, c.First - 1}); sh.Last < sh.Scrollable-1 {
			break
		}
		c.First--
	}
	return drawTable(s, header, rows, w, sel, c)
}

// layout is what scrolled shows with c, without drawing it.
func layout(header []string, rows [][]string, w int, c colView) ([]string, shown) {
	return drawTable(Styles{}, header, rows, w, -1, c)
}

func drawTable(s Styles, header []string, rows [][]string, w, sel int, c colView) ([]string, shown) {
	frozen := min(c.Frozen, len(header))
	sh := shown{Scrollable: len(header) - frozen}
	sh.First = max(min(c.First, sh.Scrollable-1), 0)
	all := len(header)
	pick := func(r []string) []string {
		out := make([]string, 0, all)
		for i := range all {
			if i < frozen || i >= frozen+sh.First {
				if i < len(r) {
					out = append(out, r[i])
				} else {
					out = append(out, "")
				}
			}
		}
		return out
	}
	header = pick(header)
	picked := make([][]string, len(rows))
	for i, r := range rows {
		picked[i] = pick(r)
	}
	ws := widths(header, picked, w)
	used := -2
	sh.Last = sh.First - 1
	for i, wd := range ws {
		used += 2 + wd
		if used > w {
			break
		}
		if i >= frozen {
			sh.Last = sh.First + i - frozen
		}
	}
	if sh.Scrollable == 0 {
		sh.Last = -1
	}
	line := func(cells []string) string {
		var b strings.Builder
		used := 0
		for i, wd := range ws {
			if used >= w {
				break
			}
			if i > 0 {
				b.WriteString("  ")
				used += 2
			}
			wd = min(wd, max(w-used, 1))
			b.WriteString(fit(cells[i], wd))
			used += wd
		}
		return b.String()
	}
	out := []string{s.Header.Render(line(header))}
	for i, r := range picked {
		l := fit(line(r), w)
		if i == sel {
			l = s.Selected.Render(l)
		}
		out = append(out, l)
	}
	return out, sh
}

// scrollTo returns the first scrollable column to show so that column col
// (counted among all) is in sight, moving the view as little as it can.
func scrollTo(header []string, rows [][]string, w int, c colView, col int) int {
	if col < c.Frozen {
		return c.First
	}
	i := col - c.Frozen
	if i < c.First {
		return i
	}
	for first := c.First; first <= i; first++ {
		if _, sh := layout(header, rows, w, colView{c.Frozen, first}); sh.Last >= i {
			return first
		}
	}
	return i
}

// paging moves a selection (-1: none yet, meaning the newest at the
// bottom) by the keys every table shares: ↑/↓ one row, PgUp/PgDn a page,
// g/G the first and the last. It returns the new selection and whether the
// key was one of these; follow tells that the last row means "follow the
// newest" (-1).
func paging(k KeyMap, km tea.KeyPressMsg, sel, n, page int, follow bool) (int, bool) {
	if n == 0 {
		return sel, key.Matches(km, k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom)
	}
	cur := sel
	if cur < 0 || cur >= n {
		cur = n - 1
	}
	page = max(page, 1)
	switch {
	case key.Matches(km, k.Up):
		if sel < 0 {
			cur = n - 1 // the first up selects the newest
		} else {
			cur--
		}
	case key.Matches(km, k.Down):
		if sel < 0 {
			return sel, true
		}
		cur++
	case key.Matches(km, k.PageUp):
		cur -= page
	case key.Matches(km, k.PageDown):
		if sel < 0 {
			return sel, true
		}
		cur += page
	case key.Matches(km, k.Top):
		cur = 0
	case key.Matches(km, k.Bottom):
		cur = n - 1
		if follow {
			return -1, true
		}
	default:
		return sel, false
	}
	cur = max(min(cur, n-1), 0)
	if follow && cur == n-1 && !key.Matches(km, k.Up) {
		return -1, true
	}
	return cur, true
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

// copyCmd puts text on the terminal's clipboard (OSC 52, which tmux and
// most terminals pass on) and says what was copied.
func copyCmd(what, text string) tea.Cmd {
	return tea.Batch(tea.SetClipboard(text), func() tea.Msg {
		return noticeMsg{text: fmt.Sprintf("copied %s (%d bytes) to the clipboard", what, len(text))}
	})
}

// printable is s for a terminal cell: control characters (C0, DEL, C1)
// and invalid UTF-8 bytes as \xNN, so that a record's bytes (an
// undecodable binary value, a hostile one) never reach the terminal as
// escape sequences; everything else as it is.
func printable(s string) string {
	ok := true
	for _, r := range s {
		if r < 0x20 || r >= 0x7f && r <= 0x9f || r == utf8.RuneError {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x20 || r >= 0x7f && r <= 0x9f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}
