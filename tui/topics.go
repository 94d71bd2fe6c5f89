package tui

import (
	"context"
	"strconv"
	"strings"
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

	searching bool   // the / input is open
	search    input  // what is typed
	query     string // the search that narrows the list ("" shows every topic)
}

// shown are the topics whose names contain the search, any case.
func (p *topicsPane) shown() []TopicInfo {
	if p.query == "" {
		return p.topics
	}
	q := strings.ToLower(p.query)
	var out []TopicInfo
	for _, t := range p.topics {
		if strings.Contains(strings.ToLower(t.Name), q) {
			out = append(out, t)
		}
	}
	return out
}

func (p *topicsPane) Title() string    { return "Topics" }
func (p *topicsPane) SetSize(w, h int) { p.w, p.h = w, h }
func (p *topicsPane) Capturing() bool  { return p.searching }
func (p *topicsPane) Keys() []key.Binding {
	k := p.c.Keys
	if p.searching {
		return []key.Binding{key.NewBinding(key.WithHelp("enter", "keep the search")), key.NewBinding(key.WithHelp("↑↓", "select")), key.NewBinding(key.WithHelp("esc", "clear"))}
	}
	enter := k.Enter
	enter.SetHelp("enter", "attach")
	search := k.Filter
	search.SetHelp("/", "search")
	return []key.Binding{k.Up, k.Down, enter, search, k.Refresh}
}

// searchKey edits the search; the list narrows as it is typed.
func (p *topicsPane) searchKey(km tea.KeyPressMsg) {
	switch km.String() {
	case "esc":
		p.searching, p.query = false, ""
	case "enter":
		p.searching = false
	case "up":
		p.sel = max(p.sel-1, 0)
	case "down":
		p.sel = min(p.sel+1, max(len(p.shown())-1, 0))
	default:
		p.search.update(km)
		p.query = strings.TrimSpace(p.search.String())
		p.sel = 0
	}
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
	case tea.PasteMsg:
		if p.searching {
			p.search.update(msg)
			p.query, p.sel = strings.TrimSpace(p.search.String()), 0
		}
	case tea.KeyPressMsg:
		if p.searching {
			p.searchKey(msg)
			return nil
		}
		k := p.c.Keys
		shown := p.shown()
		switch {
		case key.Matches(msg, k.Filter):
			p.searching, p.search = true, newInput(p.query)
		case key.Matches(msg, k.Back):
			p.query, p.sel = "", 0
		case key.Matches(msg, k.Up):
			p.sel = max(p.sel-1, 0)
		case key.Matches(msg, k.Down):
			p.sel = min(p.sel+1, max(len(shown)-1, 0))
		case key.Matches(msg, k.Top):
			p.sel = 0
		case key.Matches(msg, k.Bottom):
			p.sel = max(len(shown)-1, 0)
		case key.Matches(msg, k.Refresh):
			if p.reload != nil {
				p.loading = true
				return p.reload()
			}
		case key.Matches(msg, k.Enter):
			if p.sel < len(shown) {
				name := shown[p.sel].Name
				return func() tea.Msg { return AttachMsg{Name: name} }
			}
		}
	}
	return nil
}

func (p *topicsPane) searchCount(n int) string {
	return "  (" + strconv.Itoa(n) + " of " + strconv.Itoa(len(p.topics)) + " topics)"
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
		lines = append(lines, wrapStyled(p.c.Styles.Error, "error: "+p.err.Error(), p.w)...)
	case p.loading && len(p.topics) == 0:
		lines = append(lines, "loading topics…")
	case len(p.topics) == 0:
		lines = append(lines, "no topics")
	}
	shown := p.shown()
	switch {
	case p.searching:
		lines = append(lines, "/"+p.search.view(true)+p.c.Styles.Dim.Render(p.searchCount(len(shown))))
	case p.query != "":
		lines = append(lines, p.c.Styles.Dim.Render("search: "+p.query+p.searchCount(len(shown))+" · esc shows all"))
	}
	p.sel = min(p.sel, max(len(shown)-1, 0))
	rows := make([][]string, len(shown))
	for i, t := range shown {
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
