package tui

import (
	"strings"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// choice is one answer to a question: the key that picks it and what it does.
type choice struct {
	key, desc string
	do        func() tea.Cmd
}

// question is a modal the root shows over the active pane: nothing else
// takes keys until one of its choices, esc or ctrl+c answers it. Its text
// is wrapped, never cut, however narrow the screen.
type question struct {
	text    string
	choices []choice
	// cancel is what esc (and any key that is no choice) does; nil: a
	// "cancelled" notice.
	cancel func() tea.Cmd
}

// ask opens a question.
func (m *Model) ask(q *question) { m.question = q }

// answer takes a key while a question is open.
func (m *Model) answer(km tea.KeyPressMsg) tea.Cmd {
	q := m.question
	for _, c := range q.choices {
		if km.String() == c.key {
			m.question = nil
			return c.do()
		}
	}
	m.question = nil
	if q.cancel != nil {
		return q.cancel()
	}
	m.note("cancelled", false)
	return nil
}

// questionLines draws the open question as a box w cells wide: the text
// wrapped, then one line per choice.
func (m *Model) questionLines(w int) []string {
	s := m.c.Styles
	q := m.question
	inner := max(w-4, 10)
	bar := "┌" + strings.Repeat("─", max(w-2, 0)) + "┐"
	out := []string{bar}
	row := func(text string) string {
		return "│ " + fit(text, inner) + " │"
	}
	for _, l := range wrap(q.text, inner) {
		out = append(out, row(s.Title.Render(l)))
	}
	var keys []string
	for _, c := range q.choices {
		keys = append(keys, c.key+" "+c.desc)
	}
	keys = append(keys, "esc cancel")
	for _, l := range wrap(strings.Join(keys, " · "), inner) {
		out = append(out, row(l))
	}
	return append(out, "└"+strings.Repeat("─", max(w-2, 0))+"┘")
}

// wrapStyled is wrap with each line rendered in st.
func wrapStyled(st lipgloss.Style, text string, w int) []string {
	lines := wrap(text, w)
	for i, l := range lines {
		lines[i] = st.Render(l)
	}
	return lines
}

// wrap breaks text into lines of at most w cells, at spaces where it can
// and inside words where it must; it never drops a character.
func wrap(text string, w int) []string {
	if w <= 0 {
		w = 1
	}
	return strings.Split(ansi.Wrap(text, w, ""), "\n")
}
