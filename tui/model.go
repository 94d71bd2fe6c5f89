package tui

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/lookup"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/startpos"
)

// Options configures the workbench.
type Options struct {
	// Label names the cluster or input in the status bar.
	Label string
	// Brokers are the cluster's bootstrap servers, written into saved
	// pipelines' Kafka source so `eddy run FILE` finds the cluster; nil for files.
	Brokers []string
	// Topics lists the cluster's topics; nil hides the topics pane (file input).
	Topics func(ctx context.Context) ([]TopicInfo, error)
	// Groups lists the cluster's consumer groups' lag per partition, for
	// :groups; nil without a cluster. It runs off the UI goroutine.
	Groups func(ctx context.Context) ([]GroupLag, error)
	// Open opens a source on a topic or input by name, reading from start
	// (earliest, latest, offset:N, last:N, time:...; "" for the default).
	// It runs off the UI goroutine.
	Open func(ctx context.Context, name, start string) (source.Source, error)
	// OpenKafka opens the Kafka source of a pipeline's sources section
	// as eddy run reads it: its topics from its start until its stop, on
	// the workbench's cluster. Nil: each topic through Open, followed.
	// It runs off the UI goroutine.
	OpenKafka func(ctx context.Context, k pipeline.KafkaSource) (source.Source, error)
	// Attach is what to attach to at start; "" waits for the user to pick a topic.
	Attach string
	// Start is where attaching starts reading ("" lets Open choose).
	Start string
	// File is set when Attach is a JSON Lines file rather than a topic.
	File bool
	// Pipeline is the pipeline to run at start; nil starts with no stages.
	Pipeline *pipeline.Pipeline
	// PipelinePath is the file Pipeline came from; w proposes it.
	PipelinePath string
	// Logf writes a log line (to a file, never the screen); default: discard.
	Logf func(format string, args ...any)
	// OnPublished, when set, is told what the running pipeline's engine
	// published (the counters, by stage and sink, and the watermarks) and
	// the source's lag per partition (nil: not a Kafka source) each time
	// the feed reports them (on the program's goroutine): eddy tui
	// --metrics serves them.
	OnPublished func(engine.Published, map[source.Partition]int64)
	// Dead-letter actions (replay, topics); nil hides them. See [DeadOps].
	Dead *DeadOps
	// Format is the format of the attached records' values (avro,
	// protobuf, json-schema or raw; "" for JSON), which pipelines saved
	// here name. Decoder then makes, for each opened source, a decoder
	// of a value into the JSON of the whole record (format.WholeJSON):
	// the panes and the pipeline see the decoded fields. Fatal tells the
	// decoder's errors that end the feed (the registry is down) from
	// those of one record, whose value is then kept as it came (the
	// records pane and the inspector say why it did not decode).
	Format  string
	Decoder func() (func([]byte) ([]byte, error), error)
	Fatal   func(error) bool
	// Types, with Decoder, makes for each opened source a function that
	// gives the DuckDB types a framed value's schema declares
	// (format.DuckTypes): the x export of the records then keeps them
	// (DECIMAL, STRUCT, LIST, MAP), as eddy export does. Nil: the
	// export types columns by their values alone.
	Types func() func([]byte) (map[string]string, error)
	// Schema describes a writer schema by id for the record inspector
	// (subject versions, type, text); nil shows the ids alone. It runs
	// on the feed's goroutine, once per id.
	Schema func(ctx context.Context, id int) (SchemaInfo, error)
	// Tables opens the reference tables of a pipeline's lookup stages as
	// eddy run does (job.OpenTables), each time a pipeline declaring
	// tables is applied; close is called when it is replaced or the feed
	// ends. It runs on the feed's goroutine. Nil: such a pipeline fails
	// with "table X is not open".
	Tables TablesFunc
}

// TablesFunc opens the tables p's lookup stages read.
type TablesFunc func(ctx context.Context, p *pipeline.Pipeline) (tables map[string]*lookup.Table, close func() error, err error)

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
	name, start string
	src         source.Source
	view        *tailView // decodes the tail's records; nil: none
	err         error
	// sources are the pipeline's sources that src merges (a pipeline
	// with a sources section); nil: src is the topic or file name.
	sources []pipeline.NamedSource
}

// noticeMsg shows a line in the status bar for a while.
type noticeMsg struct {
	text string
	err  bool
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
	pipe    *pipelinePane
	results *resultsPane
	dead    *deadPane

	help          bool
	helpTop       int    // first help line shown
	palette       *input // nil: closed
	palErr        string
	question      *question    // nil: no modal question open
	quitting      bool         // the open question asks to quit with unsaved changes
	sized         map[pane]int // the height each pane was last given
	exportResults bool         // the palette's export command writes the results, not the records

	feed     *feed
	feedID   int
	attached string
	start    string
	gen      int            // generation of the applied pipeline
	plan     *pipeline.Plan // the applied pipeline; nil: no stages yet
	stats    engine.Stats
	rate     float64 // records read per second, from the last two feed messages
	lastRead int64
	lastAt   time.Time
	lag      int64
	lastDead int64 // dead letters of this generation at the last message
	bucketAt time.Time
	inBucket float64
	deadBkt  float64
	lastErr  string
	notice   string
	noticeAt time.Time
	finished bool
	now      func() time.Time

	// defaultTargets: the pipeline's sinks and dead letters are the
	// workbench's defaults, which follow the attached topic or file.
	defaultTargets bool
	view           *tailView // the attached source's tail decoder (Options.Decoder); nil: none
	// multi: what runs reads the pipeline's sources section, every source
	// merged as eddy run merges them (source.Merge), not an attached
	// topic or file; attached is then their label.
	multi bool
}

// New returns the workbench's root model. ctx bounds the feeds it starts.
func New(ctx context.Context, opts Options) *Model {
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	c := &Common{Width: 80, Height: 24, Styles: DefaultStyles(), Keys: DefaultKeys()}
	m := &Model{ctx: ctx, opts: opts, c: c, start: opts.Start, now: time.Now}
	m.records = &recordsPane{c: c, sel: -1}
	if opts.Decoder != nil {
		m.records.book = newSchemaBook()
	}
	m.pipe = newPipelinePane(c, opts.Pipeline, opts.PipelinePath)
	m.pipe.guessTime = func() string { return m.records.timeField() }
	m.pipe.fields = m.records.fieldNames
	m.pipe.sourceFields = func(names []string) [][]string { return m.records.sourceFields(names) }
	m.results = newResultsPane(c)
	m.dead = newDeadPane(c, opts.Dead)
	m.dead.plan = func() *pipeline.Plan { return m.plan }
	if opts.Topics != nil {
		m.topics = &topicsPane{c: c, loading: true}
		m.topics.reload = func() tea.Cmd { return listTopics(ctx, opts.Topics) }
		m.panes = append(m.panes, m.topics)
	}
	m.panes = append(m.panes, m.records, m.pipe, m.results, m.dead)
	if opts.Pipeline != nil {
		if q, plan, err := check(opts.Pipeline); err == nil {
			m.pipe.p, m.plan, m.gen = q, plan, 1
			m.pipe.markSaved()
			m.results.reset(schemaOf(q.Name, plan))
		} else {
			m.lastErr = describe(err)
		}
	}
	if (opts.Attach != "" || len(m.pipe.p.Sources) > 0) && m.topics != nil {
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
	switch {
	case len(m.pipe.p.Sources) > 0:
		cmds = append(cmds, m.openSources(m.pipe.p))
	case m.opts.Attach != "":
		cmds = append(cmds, m.open(m.opts.Attach, m.start))
	}
	return tea.Batch(cmds...)
}

// open opens a source off the UI goroutine.
func (m *Model) open(name, start string) tea.Cmd {
	ctx, open, o, book := m.ctx, m.opts.Open, m.opts, m.records.book
	return func() tea.Msg {
		src, err := open(ctx, name, start)
		var view *tailView
		if err == nil {
			src, view, err = withView(o, book, src)
		}
		return openedMsg{name: name, start: start, src: src, view: view, err: err}
	}
}

// withView makes the tail decoder of a source just opened when the
// workbench decodes values (Options.Decoder); src is closed if it fails.
func withView(o Options, book *schemaBook, src source.Source) (source.Source, *tailView, error) {
	if o.Decoder == nil {
		return src, nil, nil
	}
	view := &tailView{fatal: o.Fatal, book: book, schema: o.Schema}
	var err error
	if view.decode, err = o.Decoder(); err != nil {
		src.Close()
		return nil, nil, err
	}
	if o.Types != nil {
		view.types = o.Types()
	}
	return src, view, nil
}

// Stop cancels the running feed.
func (m *Model) Stop() {
	if m.feed != nil {
		m.feed.cancel()
		m.feed = nil
	}
}

func (m *Model) resize() {
	if m.sized == nil {
		m.sized = map[pane]int{}
	}
	for _, p := range m.panes {
		p.SetSize(m.c.Width, m.bodyHeight())
		m.sized[p] = m.bodyHeight()
	}
}

// sizeActive gives the active pane h lines (fewer than the body while a
// message wraps above the status bar), telling it only when that changes.
func (m *Model) sizeActive(h int) {
	p := m.panes[m.active]
	if m.sized[p] != h {
		p.SetSize(m.c.Width, h)
		m.sized[p] = h
	}
}

// quit leaves the workbench, asking first when the pipeline has changes
// that were not written to a file. A second ctrl+c while asking quits.
func (m *Model) quit() tea.Cmd {
	if !m.quitting && m.pipe.unsaved() {
		m.quitting = true
		m.ask(&question{
			text: fmt.Sprintf("The pipeline has changes that are not written to a file (%s). Quit and lose them? (n, then w in the Pipeline pane, writes them)", m.pipe.changeSummary()),
			choices: []choice{
				{key: "y", desc: "quit without saving", do: func() tea.Cmd { m.Stop(); return tea.Quit }},
				{key: "n", desc: "stay", do: func() tea.Cmd { m.note("not quit: the pipeline is still unsaved (w writes it)", false); return nil }},
			},
			cancel: func() tea.Cmd { m.note("not quit: the pipeline is still unsaved (w writes it)", false); return nil },
		})
		return nil
	}
	m.Stop()
	return tea.Quit
}

// bodyHeight is the screen minus the tab line, the status bar and the footer.
func (m *Model) bodyHeight() int { return max(m.c.Height-3, 1) }

func (m *Model) note(text string, isErr bool) {
	m.notice, m.noticeAt = text, m.now()
	if isErr {
		m.lastErr = text
		m.opts.Logf("error: %s", text)
	}
}

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
	case tea.PasteMsg:
		if m.palette != nil {
			m.palette.update(msg)
			return m, nil
		}
		return m, m.panes[m.active].Update(msg)
	case TopicsMsg:
		if msg.Err != nil {
			m.lastErr = msg.Err.Error()
		}
		if m.topics == nil {
			return m, nil
		}
		return m, m.topics.Update(msg)
	case topicsTickMsg:
		if m.topics == nil {
			return m, nil
		}
		m.topics.ticking = false
		return m, m.topics.reload()
	case AttachMsg:
		if err := m.attachable(); err != nil {
			m.note(err.Error(), true)
			return m, nil
		}
		return m, m.open(msg.Name, m.start)
	case openedMsg:
		if msg.err != nil {
			m.note(fmt.Sprintf("attach %s: %v", msg.name, msg.err), true)
			return m, nil
		}
		m.view = msg.view
		m.multi = msg.sources != nil
		m.records.sourceOf = sourceNames(msg.sources)
		m.attach(msg.name, msg.start, msg.src)
		return m, m.feed.wait()
	case FeedMsg:
		return m, m.feedMsg(msg)
	case ApplyMsg:
		m.apply(msg.Pipeline, msg.Plan, msg.What)
		return m, m.restartIfEnded()
	case DiffMsg:
		m.showDiff(msg)
		return m, nil
	case groupsMsg:
		m.showGroups(msg)
		return m, nil
	case openSpecMsg:
		return m, m.openSpec(msg)
	case noticeMsg:
		m.note(msg.text, msg.err)
		return m, nil
	case exportProbeMsg:
		return m, m.probed(msg)
	case writtenMsg, loadedMsg:
		return m, m.pipe.Update(msg)
	case seekMsg:
		return m, m.seek(msg.start)
	}
	if cmd, ok := m.dead.handle(msg); ok {
		return m, cmd
	}
	if cmd, ok := m.records.handle(msg); ok {
		return m, cmd
	}
	return m, nil
}

// sourceFor is the pipeline source that the attached topic or file gives.
func (m *Model) sourceFor(base pipeline.Source) pipeline.Source {
	if m.attached == "" || m.multi {
		return base
	}
	if m.opts.File {
		return pipeline.Source{File: m.attached}
	}
	src, _ := pipeline.NewSource("kafka") // the kind's defaults: start earliest, stop none
	k := *src.Kafka
	if base.Kafka != nil {
		k = *base.Kafka
	}
	k.Topics = []string{m.attached}
	if len(k.Brokers) == 0 {
		k.Brokers = m.opts.Brokers
	}
	return pipeline.Source{Kafka: &k}
}

// attach replaces the running feed with one on src; the applied pipeline
// runs over it from the start (window state is empty).
func (m *Model) attach(name, start string, src source.Source) {
	m.Stop()
	m.feedID++
	m.attached, m.start, m.finished, m.lastErr = name, start, false, ""
	m.stats, m.rate, m.lastRead, m.lastAt, m.lastDead, m.lag = engine.Stats{}, 0, 0, time.Time{}, 0, -1
	*m.records = recordsPane{c: m.c, w: m.records.w, h: m.records.h, sel: -1, raw: m.records.raw,
		matcher: m.records.matcher, expr: m.records.expr, parts: m.records.parts, start: start, book: m.records.book,
		sourceOf: m.records.sourceOf}
	// The saved pipeline reads what is attached; a pipeline begun here
	// writes rows to stdout and dead letters beside its input.
	p := *m.pipe.p
	p.Source = m.sourceFor(p.Source)
	if m.opts.Format != "" {
		p.Format = m.opts.Format // the saved pipeline reads the topic as it is
	}
	if !m.multi && (m.defaultTargets || (m.opts.Pipeline == nil && p.Sinks == nil && p.DLQ == nil)) {
		m.defaultTargets = true
		p.Sinks = []pipeline.Target{{File: "-"}}
		if m.opts.File {
			p.DLQ = &pipeline.Target{File: strings.TrimSuffix(name, filepath.Ext(name)) + ".dead.jsonl"}
		} else {
			p.DLQ = &pipeline.Target{Kafka: &pipeline.KafkaTarget{Topic: name + ".dlq"}}
		}
	}
	if q, plan, err := check(&p); err == nil {
		m.pipe.p, m.plan = q, plan
	} else {
		m.pipe.p = &p
	}
	m.results.reset(schemaOf(m.pipe.p.Name, m.plan))
	m.dead.reset()
	m.feed = startFeed(m.ctx, m.feedID, src, m.gen, m.runnable(m.plan), m.opts.Tables, m.view, m.opts.Logf)
	if m.topics != nil {
		m.topics.attached = name
		if m.panes[m.active] == m.topics {
			m.active = 1
		}
	}
	m.opts.Logf("attached to %s from %q", name, start)
}

// apply runs a checked pipeline in place of the current one. The consumer
// keeps its position; window state and the counters start over.
func (m *Model) apply(p *pipeline.Pipeline, plan *pipeline.Plan, what string) {
	m.gen++
	m.plan = plan
	m.pipe.setApplied(p, what, m.now())
	m.results.reset(schemaOf(p.Name, plan))
	m.dead.reset()
	m.stats, m.lastDead = engine.Stats{}, 0
	if m.feed != nil && !m.finished {
		m.feed.swap(m.gen, m.runnable(plan))
	}
	m.note(what+": running now, window state restarted", false)
	m.opts.Logf("applied pipeline generation %d: %s", m.gen, what)
}

// restartIfEnded reopens a bounded input that has ended so a newly applied
// pipeline runs over it.
func (m *Model) restartIfEnded() tea.Cmd {
	switch {
	case m.finished && m.multi:
		return m.openSources(m.pipe.p)
	case m.finished && m.attached != "":
		return m.open(m.attached, m.start)
	}
	return nil
}

// openSpec runs a pipeline opened from a file, attaching to its topic when
// it reads one other than the attached one.
func (m *Model) openSpec(msg openSpecMsg) tea.Cmd {
	p := *msg.p
	m.defaultTargets = false
	if len(p.Sources) > 0 {
		// its sources are read anew, whichever ran before
		checked, plan, err := check(&p)
		if err != nil {
			m.note("open "+msg.path+": "+describe(err), true)
			return nil
		}
		m.apply(checked, plan, "opened "+msg.path)
		m.pipe.markSaved()
		return m.openSources(checked)
	}
	reattach := false
	if m.multi {
		// back to one source: the file the workbench was opened on, or the
		// spec's topic of the cluster (else none until one is attached)
		m.Stop()
		m.multi, m.attached, m.records.sourceOf = false, "", nil
		if m.opts.File {
			m.attached, reattach = m.opts.Attach, true
		}
	}
	other := ""
	if k := p.Source.Kafka; k != nil && len(k.Topics) == 1 && m.topics != nil && k.Topics[0] != m.attached {
		other = k.Topics[0] // attaching sets the source
	} else {
		p.Source = m.sourceFor(p.Source)
	}
	checked, plan, err := check(&p)
	if err != nil {
		m.note("open "+msg.path+": "+describe(err), true)
		return nil
	}
	m.apply(checked, plan, "opened "+msg.path)
	m.pipe.markSaved()
	if other != "" {
		return m.open(other, m.start)
	}
	if reattach {
		return m.open(m.attached, m.start)
	}
	return m.restartIfEnded()
}

// seek reattaches to the current topic or file from another position.
func (m *Model) seek(start string) tea.Cmd {
	if m.multi {
		m.note("seek: a pipeline of several sources reads each from its own start (the spec's kafka start; a file from its first line)", true)
		return nil
	}
	if m.attached == "" {
		m.note("seek: attach to a topic first", true)
		return nil
	}
	if err := validStart(start, m.opts.File); err != nil {
		m.note("seek: "+err.Error(), true)
		return nil
	}
	m.note("seeking to "+start+": the pipeline restarts from there", false)
	return m.open(m.attached, start)
}

// validStart checks a seek position.
func validStart(s string, file bool) error {
	p, err := startpos.Parse(s)
	if err != nil {
		return err
	}
	if file && p.Kind != startpos.Earliest && p.Kind != startpos.Offset {
		return fmt.Errorf("a file seeks to earliest or offset:LINE, not %q", s)
	}
	return nil
}

// feedMsg takes in one batch of feed data. It re-arms the feed's Cmd.
func (m *Model) feedMsg(msg FeedMsg) tea.Cmd {
	if msg.ID != m.feedID {
		return nil // from a replaced feed
	}
	m.records.add(msg.Records, msg.Dropped)
	if !m.lastAt.IsZero() {
		if d := msg.At.Sub(m.lastAt).Seconds(); d > 0 {
			m.rate = float64(msg.Read-m.lastRead) / d
		}
	}
	m.inBucket += float64(msg.Read - m.lastRead)
	m.lastRead, m.lastAt, m.lag = msg.Read, msg.At, msg.Lag
	if msg.Gen == m.gen {
		m.results.add(msg.Rows)
		m.dead.add(msg.Counts, msg.Dead)
		m.deadBkt += float64(max(msg.Stats.Dead-m.lastDead, 0))
		m.stats, m.lastDead = msg.Stats, msg.Stats.Dead
		if m.opts.OnPublished != nil {
			m.opts.OnPublished(msg.Published, msg.PartitionLag)
		}
		for _, w := range msg.Warnings {
			m.pipe.warnings = append(m.pipe.warnings, w)
			m.note("warning: "+w, false)
			m.opts.Logf("pipeline warning: %s", w)
		}
	}
	m.sample(msg.At)
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

// sample closes a one-second bucket of the rate sparklines.
func (m *Model) sample(at time.Time) {
	if m.bucketAt.IsZero() {
		m.bucketAt = at
		return
	}
	if d := at.Sub(m.bucketAt); d >= time.Second {
		s := d.Seconds()
		m.results.setRates(keepLast(m.results.in, SparkLen, m.inBucket/s), keepLast(m.results.dead, SparkLen, m.deadBkt/s))
		m.inBucket, m.deadBkt, m.bucketAt = 0, 0, at
	}
}

func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := m.c.Keys
	if msg.String() == "ctrl+c" {
		if m.quitting {
			m.Stop()
			return tea.Quit
		}
		m.palette = nil
		return m.quit()
	}
	if m.question != nil {
		m.quitting = false
		return m.answer(msg)
	}
	if m.palette != nil {
		return m.paletteKey(msg)
	}
	p := m.panes[m.active]
	if p.Capturing() {
		return p.Update(msg)
	}
	if m.help {
		switch {
		case key.Matches(msg, k.Help, k.Back):
			m.help, m.helpTop = false, 0
		case key.Matches(msg, k.Down):
			m.helpTop++
		case key.Matches(msg, k.Up):
			m.helpTop = max(m.helpTop-1, 0)
		case key.Matches(msg, k.Quit):
			return m.quit()
		}
		return nil
	}
	switch {
	case key.Matches(msg, k.Quit):
		return m.quit()
	case key.Matches(msg, k.Help):
		m.help = true
	case key.Matches(msg, k.Palette):
		in := newInput("")
		m.palette, m.palErr, m.exportResults = &in, "", p == m.results
	case key.Matches(msg, k.Next):
		m.active = (m.active + 1) % len(m.panes)
	case key.Matches(msg, k.Prev):
		m.active = (m.active + len(m.panes) - 1) % len(m.panes)
	case key.Matches(msg, k.Export) && (p == m.records || p == m.results):
		return m.startExport(p == m.results)
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
	head := fit(s.Title.Render("eddy")+" "+strings.Join(tabs, ""), w)
	// A notice or an error that does not fit in the status bar moves to
	// lines of its own above it, wrapped: a message is never cut.
	base, msgs := m.statusParts()
	status := " " + strings.Join(append(slices.Clip(base), msgs...), " │ ")
	var msgLines []string
	if lipgloss.Width(status) > w && len(msgs) > 0 {
		if status = " " + strings.Join(base, " │ "); lipgloss.Width(status) > w {
			status = " " + strings.Join(m.compactStatus(base, w), " │ ")
		}
		for _, t := range msgs {
			st := s.Dim
			if strings.HasPrefix(t, "error: ") {
				st = s.Error
			}
			for _, l := range wrap(t, w) {
				msgLines = append(msgLines, st.Render(l))
			}
		}
		msgLines = msgLines[:min(len(msgLines), max(m.bodyHeight()-3, 1))]
	} else if lipgloss.Width(status) > w {
		status = " " + strings.Join(m.compactStatus(base, w), " │ ")
	}
	bh := m.bodyHeight() - len(msgLines)
	m.sizeActive(bh)
	body := m.panes[m.active].View()
	switch {
	case m.help:
		lines := m.helpLines()
		m.helpTop = max(min(m.helpTop, len(lines)-bh), 0)
		body = block(lines[m.helpTop:], w, bh)
	case m.question != nil:
		body = overlay(body, m.questionLines(w), w, bh)
	case m.palette != nil:
		body = overlay(body, m.paletteLines(), w, bh)
	}
	out := []string{head, body}
	out = append(out, msgLines...)
	return strings.Join(append(out, s.Status.Render(fit(status, w)), fit(m.footer(), w)), "\n")
}

// overlay draws lines over the bottom of a body of h lines.
func overlay(body string, over []string, w, h int) string {
	lines := strings.Split(body, "\n")
	for len(lines) < h {
		lines = append(lines, "")
	}
	lines = lines[:h]
	copy(lines[max(len(lines)-len(over), 0):], over[max(len(over)-h, 0):])
	return block(lines, w, h)
}

// status is the status bar's text with its notice and error, as it reads
// when nothing needs to wrap.
func (m *Model) status() string {
	base, msgs := m.statusParts()
	return " " + strings.Join(append(base, msgs...), " │ ")
}

// statusParts are the status bar's fields and, apart, the current notice
// and the last error.
func (m *Model) statusParts() (base, msgs []string) {
	src := m.attached
	if src == "" {
		src = "(not attached)"
	}
	if m.opts.Label != "" && m.c.Width >= 110 {
		src = m.opts.Label + " " + src
	}
	st := m.stats
	parts := []string{src}
	switch {
	case m.lag >= 0 && m.attached != "":
		parts = append(parts, fmt.Sprintf("lag %d", m.lag))
	case m.records.lastLine > 0 && !m.multi: // several files: no one line
		parts = append(parts, fmt.Sprintf("line %d", m.records.lastLine))
	}
	parts = append(parts, human(m.rate)+" ev/s",
		fmt.Sprintf("in %d passed %d filtered %d dead %d late %d", st.In, st.Passed, st.Filtered, st.Dead, st.Late))
	switch n := len(m.pipe.p.Stages); {
	case n == 0:
		parts = append(parts, "no stages")
	case m.plan != nil && (m.plan.Window != nil || m.plan.Join != nil):
		parts = append(parts, fmt.Sprintf("%d stages, %d rows", n, st.Rows))
	default:
		parts = append(parts, fmt.Sprintf("%d stages", n))
	}
	if m.finished {
		parts = append(parts, "ended")
	}
	if m.notice != "" && m.now().Sub(m.noticeAt) < 5*time.Second && m.notice != m.lastErr {
		msgs = append(msgs, m.notice)
	}
	if m.lastErr != "" {
		msgs = append(msgs, "error: "+m.lastErr)
	}
	return parts, msgs
}

// compactStatus shortens the status fields until they fit w (the
// counters' short labels, then the stage count, the rate and the lag or
// line go), so the counters are read whole rather than cut with "…".
func (m *Model) compactStatus(base []string, w int) []string {
	fits := func(p []string) bool { return 1+lipgloss.Width(strings.Join(p, " │ ")) <= w }
	out := slices.Clone(base)
	st := m.stats
	for i, p := range out {
		if strings.HasPrefix(p, "in ") {
			out[i] = fmt.Sprintf("in %d ok %d filt %d dead %d late %d", st.In, st.Passed, st.Filtered, st.Dead, st.Late)
		}
		if strings.HasSuffix(p, " rows") && strings.Contains(p, " stages, ") {
			out[i] = p[strings.Index(p, ", ")+2:]
		}
	}
	drop := func(match func(string) bool) {
		if !fits(out) {
			out = slices.DeleteFunc(out, match)
		}
	}
	drop(func(p string) bool { return strings.HasSuffix(p, " ev/s") }) // the Records pane charts it
	drop(func(p string) bool { return strings.HasPrefix(p, "lag ") || strings.HasPrefix(p, "line ") })
	return out
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
	if m.question != nil {
		var bs []key.Binding
		for _, c := range m.question.choices {
			bs = append(bs, key.NewBinding(key.WithHelp(c.key, c.desc)))
		}
		return helpLine(m.c.Styles, append(bs, key.NewBinding(key.WithHelp("esc", "cancel"))))
	}
	if m.palette != nil {
		return helpLine(m.c.Styles, []key.Binding{key.NewBinding(key.WithHelp("enter", "run")), key.NewBinding(key.WithHelp("tab", "complete")), key.NewBinding(key.WithHelp("esc", "cancel"))})
	}
	p := m.panes[m.active]
	if p.Capturing() {
		return helpLine(m.c.Styles, p.Keys())
	}
	// The pane's keys first; on a narrow screen the last of them give way
	// so that help and quit stay visible.
	own := p.Keys()
	global := []key.Binding{k.Next, k.Palette, k.Help, k.Quit}
	for {
		line := helpLine(m.c.Styles, append(slices.Clip(own), global...))
		if lipgloss.Width(line) <= m.c.Width || len(own) == 0 {
			if len(own) == 0 && lipgloss.Width(line) > m.c.Width {
				return helpLine(m.c.Styles, []key.Binding{k.Help, k.Quit})
			}
			return line
		}
		own = own[:len(own)-1]
	}
}

// helpLines is the help overlay: every key, global and per pane, and the
// commands.
func (m *Model) helpLines() []string {
	t := m.c.Styles.Title.Render
	out := []string{t("Keys") + " (esc closes · ↑↓ scroll)",
		"global    tab/shift+tab pane · : command · ? help · esc back · q quit"}
	if m.topics != nil {
		out = append(out, "topics    ↑↓ select · enter attach · / search · R reload")
	}
	out = append(out,
		"records   / filter · r raw · space pause · s seek · enter inspect",
		"          x export · ↑↓ pgup/pgdn select · g oldest · G newest · ←→ columns",
		"pipeline  a add · e edit · d delete · K/J move · w write · o open",
		"          form: tab/↑↓ field · enter apply (live) · esc cancel",
		"results   ←→ column · s sort (desc, asc, off) · c chart · x export",
		"          ↑↓ pgup/pgdn g/G rows (key columns stay when the others scroll)",
		"dead      ↑↓ pgup/pgdn g/G · ←→ columns · enter detail · D dry run",
		"          P replay · E edit+replay",
		t("Commands")+" (: opens, tab completes)")
	for _, c := range commands {
		out = append(out, fmt.Sprintf("  %-16s %s", c.usage, c.desc))
	}
	return append(out, fmt.Sprintf("caps: tail %d · results %d · chart %d keys × %d · dead %d",
		TailCap, ResultCap, ChartKeys, ChartLen, DeadCap))
}
