package tui

import (
	"context"
	"strconv"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// TopicInfo is one row of the topics pane.
type TopicInfo struct {
	Name       string
	Partitions int
	Messages   int64 // -1: unknown
}

// TopicsEvery is how often the topics pane lists the topics again, for
// their message counts and rates.
const TopicsEvery = 2 * time.Second

// topicsTickMsg asks for the next listing.
type topicsTickMsg struct{}

// TopicsMsg carries a topic listing, or the error that prevented it.
type TopicsMsg struct {
	Topics []TopicInfo
	Err    error
	At     time.Time // when the listing was taken
}

// AttachMsg asks the root to attach to a topic (or input) by name.
type AttachMsg struct{ Name string }

// listTopics runs list off the UI goroutine.
func listTopics(ctx context.Context, list func(context.Context) ([]TopicInfo, error)) tea.Cmd {
	return func() tea.Msg {
		ts, err := list(ctx)
		return TopicsMsg{Topics: ts, Err: err, At: time.Now()}
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
	rates    map[string]float64 // messages per second between the last two listings
	prev     map[string]int64
	prevAt   time.Time
	ticking  bool // a relisting is scheduled
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
			p.rate(msg)
		}
		if p.ticking {
			return nil
		}
		p.ticking = true
		return tea.Tick(TopicsEvery, func(time.Time) tea.Msg { return topicsTickMsg{} })
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

// rate works out each topic's messages per second since the last listing.
func (p *topicsPane) rate(msg TopicsMsg) {
	if p.prev != nil && !msg.At.IsZero() {
		if d := msg.At.Sub(p.prevAt).Seconds(); d > 0 {
			p.rates = map[string]float64{}
			for _, t := range msg.Topics {
				if old, ok := p.prev[t.Name]; ok && t.Messages >= 0 && old >= 0 {
					p.rates[t.Name] = float64(max(t.Messages-old, 0)) / d
				}
			}
		}
	}
	p.prev, p.prevAt = map[string]int64{}, msg.At
	for _, t := range msg.Topics {
		p.prev[t.Name] = t.Messages
	}
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
		rate := "-"
		if r, ok := p.rates[t.Name]; ok {
			rate = human(r) + "/s"
		}
		rows[i] = []string{mark + " " + t.Name, strconv.Itoa(t.Partitions), msgs, rate}
	}
	lo, hi := window(len(rows), p.sel, p.h-len(lines)-3)
	lines = append(lines, table(p.c.Styles, []string{"  TOPIC", "PARTITIONS", "MESSAGES", "RATE"}, rows[lo:hi], p.w, p.sel-lo)...)
	if len(p.topics) > 0 {
		lines = append(lines, "", p.c.Styles.Dim.Render("enter tails a topic · then tab to Pipeline: a adds a stage, w saves it"))
	}
	return block(lines, p.w, p.h)
}
