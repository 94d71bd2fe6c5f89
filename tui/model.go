package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/source"
)

// Options configures the workbench.
type Options struct {
	// Label names the cluster or input in the status bar.
	Label string
	// Topics lists the cluster's topics; nil hides the topics pane (file input).
	Topics func(ctx context.Context) ([]TopicInfo, error)
	// Open opens a source on a topic or input by name. It runs off the UI goroutine.
	Open func(ctx context.Context, name string) (source.Source, error)
	// Attach is what to attach to at start; "" waits for the user to pick a topic.
	Attach string
	// Plan is the pipeline run over the attached source; nil: tail only.
	Plan *pipeline.Plan
	// PipelineName labels the results pane.
	PipelineName string
	// Logf writes a log line (to a file, never the screen); default: discard.
	Logf func(format string, args ...any)
}

// pane is what the root needs of a sub-model.
type pane interface {
	Title() string
	Update(tea.Msg) tea.Cmd
	View() string
	SetSize(w, h int)
	Keys() []key.Binding // the pane's keys for the footer and help
	Capturing() bool     // true while the pane takes every key (text input)
}

// openedMsg says a source was opened (or failed to open) for an attach.
type openedMsg struct {
	name string
	src  source.Source
	err  error
}

// Model is the root model: it owns the screen, the panes and the running feed.
type Model struct {
	ctx  context.Context
	opts Options
	c    *Common

	panes   []pane
	active  int
	topics  *topicsPane
	records *recordsPane
	results *resultsPane
	dead    *deadPane

	help bool

	feed     *feed
	feedID   int
	attached string
	stats    engine.Stats
	rate     float64 // records in per second, from the last two feed messages
	lastIn   int64
	lastAt   time.Time
	lastErr  string
	finished bool
}

// New returns the workbench's root model. ctx bounds the feeds it starts.
func New(ctx context.Context, opts Options) *Model {
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	c := &Common{Width: 80, Height: 24, Styles: DefaultStyles(), Keys: DefaultKeys()}
	m := &Model{ctx: ctx, opts: opts, c: c}
	m.records = &recordsPane{c: c, sel: -1}
	m.results = &resultsPane{c: c, pipeline: opts.PipelineName}
	m.dead = &deadPane{c: c}
	if opts.Topics != nil {
		m.topics = &topicsPane{c: c, loading: true}
		m.topics.reload = func() tea.Cmd { return listTopics(ctx, opts.Topics) }
		m.panes = append(m.panes, m.topics)
	}
	m.panes = append(m.panes, m.records)
	if opts.Plan != nil {
		m.panes = append(m.panes, m.results, m.dead)
	}
	if opts.Attach != "" && m.topics != nil {
		m.active = 1
	}
	m.resize()
	return m
}

// Init lists topics and attaches to the initial source.
func (m *Model) Init() tea.Cmd {
	var cmds []tea.Cmd
	if m.topics != nil {
		cmds = append(cmds, m.topics.reload())
	}
	if m.opts.Attach != "" {
		cmds = append(cmds, m.open(m.opts.Attach))
	}
	return tea.Batch(cmds...)
}

// open opens a source off the UI goroutine.
func (m *Model) open(name string) tea.Cmd {
	ctx, open := m.ctx, m.opts.Open
	return func() tea.Msg {
		src, err := open(ctx, name)
		return openedMsg{name: name, src: src, err: err}
	}
}

// Stop cancels the running feed.
func (m *Model) Stop() {
	if m.feed != nil {
		m.feed.cancel()
		m.feed = nil
	}
}

func (m *Model) resize() {
	for _, p := range m.panes {
		p.SetSize(m.c.Width, m.bodyHeight())
	}
}

// bodyHeight is the screen minus the tab line, the status bar and the footer.
func (m *Model) bodyHeight() int { return max(m.c.Height-3, 1) }

// Update routes messages: keys to the active pane unless global, feed data
// to the panes that own it.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.c.Width, m.c.Height = msg.Width, msg.Height
		m.resize()
		return m, nil
	case tea.KeyPressMsg:
		return m, m.key(msg)
	case TopicsMsg:
		if msg.Err != nil {
			m.lastErr = msg.Err.Error()
		}
		return m, m.topics.Update(msg)
	case AttachMsg:
		return m, m.open(msg.Name)
	case openedMsg:
		if msg.err != nil {
			m.lastErr = fmt.Sprintf("attach %s: %v", msg.name, msg.err)
			return m, nil
		}
		m.attach(msg.name, msg.src)
		return m, m.feed.wait()
	case FeedMsg:
		return m, m.feedMsg(msg)
	}
	return m, nil
}

// attach replaces the running feed with one on src.
func (m *Model) attach(name string, src source.Source) {
	m.Stop()
	m.feedID++
	m.feed = startFeed(m.ctx, m.feedID, src, m.opts.Plan, m.opts.Logf)
	m.attached, m.finished, m.lastErr = name, false, ""
	m.stats, m.rate, m.lastIn, m.lastAt = engine.Stats{}, 0, 0, time.Time{}
	*m.records = recordsPane{c: m.c, w: m.records.w, h: m.records.h, sel: -1}
	m.results.rows, m.results.total = nil, 0
	m.dead.counts, m.dead.items = nil, nil
	if m.topics != nil {
		m.topics.attached = name
		if m.panes[m.active] == m.topics {
			m.active = 1
		}
	}
	m.opts.Logf("attached to %s", name)
}

// feedMsg takes in one batch of feed data. It re-arms the feed's Cmd.
func (m *Model) feedMsg(msg FeedMsg) tea.Cmd {
	if msg.ID != m.feedID {
		return nil // from a replaced feed
	}
	m.records.add(msg.Records, msg.Dropped)
	m.results.add(msg.Rows)
	m.dead.add(msg.Counts, msg.Dead)
	if !m.lastAt.IsZero() {
		if d := msg.At.Sub(m.lastAt).Seconds(); d > 0 {
			m.rate = float64(msg.Stats.In-m.lastIn) / d
		}
	}
	m.lastIn, m.lastAt = msg.Stats.In, msg.At
	m.stats = msg.Stats
	if msg.Err != nil {
		m.lastErr = msg.Err.Error()
		m.opts.Logf("feed %s: %v", m.attached, msg.Err)
	}
	if msg.Done {
		m.finished, m.rate = true, 0
		return nil
	}
	if m.feed != nil {
		return m.feed.wait()
	}
	return nil
}

func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := m.c.Keys
	p := m.panes[m.active]
	if msg.String() == "ctrl+c" {
		m.Stop()
		return tea.Quit
	}
	if p.Capturing() {
		return p.Update(msg)
	}
	if m.help {
		if key.Matches(msg, k.Help, k.Back) {
			m.help = false
		} else if key.Matches(msg, k.Quit) {
			m.Stop()
			return tea.Quit
		}
		return nil
	}
	switch {
	case key.Matches(msg, k.Quit):
		m.Stop()
		return tea.Quit
	case key.Matches(msg, k.Help):
		m.help = true
	case key.Matches(msg, k.Next):
		m.active = (m.active + 1) % len(m.panes)
	case key.Matches(msg, k.Prev):
		m.active = (m.active + len(m.panes) - 1) % len(m.panes)
	default:
		return p.Update(msg)
	}
	return nil
}

// View draws tabs, the active pane (or help), the status bar and the footer.
func (m *Model) View() tea.View {
	v := tea.NewView(m.Render())
	v.AltScreen = true
	v.WindowTitle = "eddy"
	return v
}

// Render is the screen as a string, exactly Width×Height cells.
func (m *Model) Render() string {
	s, w := m.c.Styles, m.c.Width
	var tabs []string
	for i, p := range m.panes {
		if i == m.active {
			tabs = append(tabs, s.ActiveTab.Render("["+p.Title()+"]"))
		} else {
			tabs = append(tabs, s.Tab.Render(" "+p.Title()+" "))
		}
	}
	head := fit(s.Title.Render("eddy")+" "+strings.Join(tabs, " "), w)
	body := m.panes[m.active].View()
	if m.help {
		body = block(m.helpLines(), w, m.bodyHeight())
	}
	return strings.Join([]string{head, body, s.Status.Render(fit(m.status(), w)), fit(m.footer(), w)}, "\n")
}

// status is the status bar's text.
func (m *Model) status() string {
	src := m.attached
	if src == "" {
		src = "(not attached)"
	}
	if m.opts.Label != "" {
		src = m.opts.Label + " " + src
	}
	st := m.stats
	parts := []string{src, human(m.rate) + " ev/s"}
	if m.opts.Plan != nil {
		parts = append(parts, fmt.Sprintf("in %d passed %d filtered %d dead %d late %d", st.In, st.Passed, st.Filtered, st.Dead, st.Late))
	} else {
		parts = append(parts, fmt.Sprintf("in %d", st.In))
	}
	if m.finished {
		parts = append(parts, "ended")
	}
	if m.lastErr != "" {
		parts = append(parts, "error: "+m.lastErr)
	}
	return " " + strings.Join(parts, " │ ")
}

// human formats a rate with k/M suffixes.
func human(f float64) string {
	switch {
	case f >= 1e6:
		return fmt.Sprintf("%.1fM", f/1e6)
	case f >= 1e3:
		return fmt.Sprintf("%.1fk", f/1e3)
	}
	return fmt.Sprintf("%.0f", f)
}

func (m *Model) footer() string {
	k := m.c.Keys
	if m.help {
		return helpLine(m.c.Styles, []key.Binding{k.Back, k.Quit})
	}
	p := m.panes[m.active]
	if p.Capturing() {
		return helpLine(m.c.Styles, p.Keys())
	}
	return helpLine(m.c.Styles, append(p.Keys(), k.Next, k.Help, k.Quit))
}

// helpLines is the help overlay: every key, global and per pane.
func (m *Model) helpLines() []string {
	k := m.c.Keys
	line := func(b key.Binding) string {
		h := b.Help()
		return fmt.Sprintf("  %-10s %s", h.Key, h.Desc)
	}
	out := []string{m.c.Styles.Title.Render("Keys"), "", "global"}
	for _, b := range []key.Binding{k.Next, k.Prev, k.Help, k.Back, k.Quit} {
		out = append(out, line(b))
	}
	if m.topics != nil {
		out = append(out, "topics")
		out = append(out, line(k.Up), line(k.Down), "  enter      attach to the topic", line(k.Refresh))
	}
	out = append(out, "records",
		"  /          quick filter (an expression; enter applies, empty clears)",
		"  r          raw values / columns", "  space      pause / resume the tail",
		"  enter      inspect the record; esc back", "  ↑/k ↓/j    select; G or esc follows the newest",
		fmt.Sprintf("caps: tail %d records, results %d rows, dead-letter list %d", TailCap, ResultCap, DeadCap))
	return out
}
