package tui

import (
	"context"
	"strconv"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// TopicInfo is one row of the topics pane.
type TopicInfo struct {
	Name       string
	Partitions int
	Messages   int64 // -1: unknown
}

// TopicsMsg carries a topic listing, or the error that prevented it.
type TopicsMsg struct {
	Topics []TopicInfo
	Err    error
}

// AttachMsg asks the root to attach to a topic (or input) by name.
type AttachMsg struct{ Name string }

// listTopics runs list off the UI goroutine.
func listTopics(ctx context.Context, list func(context.Context) ([]TopicInfo, error)) tea.Cmd {
	return func() tea.Msg {
		ts, err := list(ctx)
		return TopicsMsg{Topics: ts, Err: err}
	}
}

// topicsPane lists the cluster's topics; enter attaches.
type topicsPane struct {
	c        *Common
	w, h     int
	topics   []TopicInfo
	sel      int
	err      error
	loading  bool
	attached string
	reload   func() tea.Cmd
}

func (p *topicsPane) Title() string    { return "Topics" }
func (p *topicsPane) SetSize(w, h int) { p.w, p.h = w, h }
func (p *topicsPane) Capturing() bool  { return false }
func (p *topicsPane) Keys() []key.Binding {
	k := p.c.Keys
	enter := k.Enter
	enter.SetHelp("enter", "attach")
	return []key.Binding{k.Up, k.Down, enter, k.Refresh}
}

func (p *topicsPane) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case TopicsMsg:
		p.loading = false
		p.err = msg.Err
		if msg.Err == nil {
			p.topics = msg.Topics
			p.sel = min(p.sel, max(len(p.topics)-1, 0))
		}
	case tea.KeyPressMsg:
		k := p.c.Keys
		switch {
		case key.Matches(msg, k.Up):
			p.sel = max(p.sel-1, 0)
		case key.Matches(msg, k.Down):
			p.sel = min(p.sel+1, max(len(p.topics)-1, 0))
		case key.Matches(msg, k.Top):
			p.sel = 0
		case key.Matches(msg, k.Bottom):
			p.sel = max(len(p.topics)-1, 0)
		case key.Matches(msg, k.Refresh):
			if p.reload != nil {
				p.loading = true
				return p.reload()
			}
		case key.Matches(msg, k.Enter):
			if p.sel < len(p.topics) {
				name := p.topics[p.sel].Name
				return func() tea.Msg { return AttachMsg{Name: name} }
			}
		}
	}
	return nil
}

func (p *topicsPane) View() string {
	var lines []string
	switch {
	case p.err != nil:
		lines = append(lines, p.c.Styles.Error.Render("error: "+p.err.Error()))
	case p.loading && len(p.topics) == 0:
		lines = append(lines, "loading topics…")
	case len(p.topics) == 0:
		lines = append(lines, "no topics")
	}
	rows := make([][]string, len(p.topics))
	for i, t := range p.topics {
		mark := " "
		if t.Name == p.attached {
			mark = "*"
		}
		msgs := "?"
		if t.Messages >= 0 {
			msgs = strconv.FormatInt(t.Messages, 10)
		}
		rows[i] = []string{mark + " " + t.Name, strconv.Itoa(t.Partitions), msgs}
	}
	lo, hi := window(len(rows), p.sel, p.h-len(lines)-1)
	lines = append(lines, table(p.c.Styles, []string{"  TOPIC", "PARTITIONS", "MESSAGES"}, rows[lo:hi], p.w, p.sel-lo)...)
	return block(lines, p.w, p.h)
}
