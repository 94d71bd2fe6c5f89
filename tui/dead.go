package tui

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/replay"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/value"
)

// DeadOps are the dead-letter actions that need the cluster. cmd fills
// them with the workbench's connection; nil fields hide the action.
type DeadOps struct {
	// Scan reads a dead-letter topic to the end it has now (replay.Scan).
	Scan func(ctx context.Context, topic string, fn func(*replay.Letter) error) error
	// Replay runs a guarded replay or dry run (replay.Run).
	Replay func(ctx context.Context, o replay.Options) (*replay.Report, error)
	// Produce sends one record and waits for its acknowledgement.
	Produce func(ctx context.Context, rec *kgo.Record) error
}

// letterOf is a live dead letter as replay sees dead letters read from a topic.
func letterOf(d *sink.DeadLetter, class, stage string) replay.Letter {
	l := replay.Letter{Key: clone(d.Key), Value: clone(d.Value), Convention: replay.Eddy,
		Error: d.Error, Class: class, Stage: stage, Timestamp: d.Origin.Timestamp}
	o := d.Origin
	if o.IsFile {
		line := o.Line
		l.Origin = replay.Origin{File: o.File, Line: &line}
	} else {
		p, off := o.Partition, o.Offset
		l.Origin = replay.Origin{Topic: o.Topic, Partition: &p, Offset: &off}
		if o.Timestamp != 0 {
			ts := o.Timestamp
			l.Origin.Timestamp = &ts
		}
	}
	for _, h := range d.Headers {
		l.Headers = append(l.Headers, kgo.RecordHeader{Key: h.Key, Value: clone(h.Value)})
		if h.Key == sink.HeaderReplayCount {
			l.Replays, _ = strconv.Atoi(string(h.Value))
		}
	}
	return l
}

// itemOf formats a letter for the list.
func itemOf(l replay.Letter) DeadItem {
	it := DeadItem{DeadKey: DeadKey{Class: l.Class, Stage: l.Stage}, Error: l.Error,
		Value: value.Abbrev(printable(string(l.Value)), 200), L: l}
	o := l.Origin
	switch {
	case o.File != "" && o.Line != nil:
		it.Origin = fmt.Sprintf("%s:%d", o.File, *o.Line)
	case o.Topic != "" && o.Partition != nil && o.Offset != nil:
		it.Origin = fmt.Sprintf("%s/%d@%d", o.Topic, *o.Partition, *o.Offset)
	case o.Topic != "":
		it.Origin = o.Topic + " (partition, offset unknown)"
	default:
		it.Origin = "unknown"
	}
	if it.Stage == "" {
		it.Stage = "-"
	}
	return it
}

// Messages of the dead-letter pane's commands.
type (
	deadLoadedMsg struct {
		topic  string
		items  []DeadItem
		counts map[DeadKey]int64
		n      int64
		err    error
	}
	deadReportMsg struct {
		what string // "dry run" or "replay"
		rep  *replay.Report
		err  error
	}
	deadSentMsg struct {
		topic string
		err   error
	}
	// editedMsg carries a value edited in $EDITOR.
	editedMsg struct {
		value []byte
		err   error
	}
)

// editExternally opens value in $VISUAL or $EDITOR on a temporary file; the
// terminal is handed to the editor and back (tea.ExecProcess).
func editExternally(value []byte) tea.Cmd {
	return func() tea.Msg {
		editor := cmp.Or(os.Getenv("VISUAL"), os.Getenv("EDITOR"))
		if editor == "" {
			return editedMsg{err: errors.New("set $EDITOR (or $VISUAL) to edit in an editor; enter sends the inline edit")}
		}
		f, err := os.CreateTemp("", "eddy-letter-*.json")
		if err != nil {
			return editedMsg{err: err}
		}
		var pretty bytes.Buffer
		if json.Indent(&pretty, value, "", "  ") != nil {
			pretty.Reset()
			pretty.Write(value)
		}
		pretty.WriteByte('\n')
		_, err = f.Write(pretty.Bytes())
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			_ = os.Remove(f.Name())
			return editedMsg{err: err}
		}
		args := strings.Fields(editor)
		c := exec.Command(args[0], append(args[1:], f.Name())...)
		return tea.ExecProcess(c, func(err error) tea.Msg {
			defer os.Remove(f.Name())
			if err != nil {
				return editedMsg{err: fmt.Errorf("%s: %w", editor, err)}
			}
			b, err := os.ReadFile(f.Name())
			return editedMsg{value: bytes.TrimSpace(b), err: err}
		})()
	}
}

// deadPane shows dead letters, live from the running pipeline or read
// from a dead-letter topic (:dlq TOPIC): counts by class and stage, the
// list, a letter's detail, and the dry-run, replay and edit-then-replay
// actions.
type deadPane struct {
	c    *Common
	w, h int
	ops  *DeadOps
	plan func() *pipeline.Plan // the running pipeline, for dry runs

	topic  string // "" live; else the dead-letter topic read
	n      int64  // letters counted (complete, unlike items)
	counts map[DeadKey]int64
	items  []DeadItem
	sel    int // index into items; -1 follows the newest
	detail bool
	colOff int // first list column shown after ORIGIN (←/→)
	page   int // list rows of the last drawn view (PgUp/PgDn)

	busy    string   // what runs now
	report  []string // the last action's result
	confirm string   // the question awaiting y/n
	onYes   func() tea.Cmd
	editing bool
	edit    input
	editErr string
}

func newDeadPane(c *Common, ops *DeadOps) *deadPane {
	return &deadPane{c: c, ops: ops, sel: -1, plan: func() *pipeline.Plan { return nil }}
}

func (p *deadPane) Title() string    { return "Dead letters" }
func (p *deadPane) SetSize(w, h int) { p.w, p.h = w, h }
func (p *deadPane) Capturing() bool  { return p.editing || p.confirm != "" }
func (p *deadPane) Keys() []key.Binding {
	k := p.c.Keys
	switch {
	case p.confirm != "":
		return []key.Binding{key.NewBinding(key.WithHelp("y", "yes")), key.NewBinding(key.WithHelp("n/esc", "no"))}
	case p.editing:
		return []key.Binding{key.NewBinding(key.WithHelp("enter", "check and send")), key.NewBinding(key.WithHelp("ctrl+o", "$EDITOR")), key.NewBinding(key.WithHelp("esc", "cancel"))}
	case p.detail:
		return []key.Binding{k.Back, k.EditReplay}
	}
	enter := k.Enter
	enter.SetHelp("enter", "detail")
	return []key.Binding{enter, k.DryRun, k.Replay, k.EditReplay, k.Left, scrollHelp}
}

// reset empties the live view for a new pipeline; a topic view stays.
func (p *deadPane) reset() {
	if p.topic != "" {
		return
	}
	p.counts, p.items, p.n, p.sel, p.detail = nil, nil, 0, -1, false
}

func (p *deadPane) add(counts map[DeadKey]int64, items []DeadItem) {
	if p.topic != "" {
		return
	}
	if p.counts == nil {
		p.counts = map[DeadKey]int64{}
	}
	for k, n := range counts {
		p.counts[k] += n
		p.n += n
	}
	before := len(p.items)
	p.items = keepLast(p.items, DeadCap, items...)
	if p.sel >= 0 {
		p.sel = max(0, p.sel-(before+len(items)-len(p.items)))
	}
}

// load reads a dead-letter topic off the UI goroutine.
func (p *deadPane) load(ctx context.Context, topic string) (tea.Cmd, error) {
	if p.ops == nil || p.ops.Scan == nil {
		return nil, fmt.Errorf("dlq needs a cluster")
	}
	scan := p.ops.Scan
	p.busy, p.report = "reading "+topic+"…", nil
	return func() tea.Msg {
		m := deadLoadedMsg{topic: topic, counts: map[DeadKey]int64{}}
		m.err = scan(ctx, topic, func(l *replay.Letter) error {
			c := *l
			c.Key, c.Value = clone(l.Key), clone(l.Value)
			c.Headers = slices.Clone(l.Headers)
			it := itemOf(c)
			m.counts[it.DeadKey]++
			m.n++
			m.items = keepLast(m.items, DeadCap, it)
			return nil
		})
		return m
	}, nil
}

// handle takes the pane's command results.
func (p *deadPane) handle(msg tea.Msg) (tea.Cmd, bool) {
	switch msg := msg.(type) {
	case deadLoadedMsg:
		p.busy = ""
		if msg.err != nil {
			p.report = []string{"error: read " + msg.topic + ": " + msg.err.Error()}
			return nil, true
		}
		p.topic, p.items, p.counts, p.n, p.sel, p.detail = msg.topic, msg.items, msg.counts, msg.n, -1, false
		p.report = []string{fmt.Sprintf("read %d dead letters from %s (esc: back to the live pipeline's)", msg.n, msg.topic)}
		return nil, true
	case deadReportMsg:
		p.busy = ""
		p.report = reportLines(msg.what, msg.rep, msg.err)
		return nil, true
	case editedMsg:
		if msg.err != nil {
			p.editErr = msg.err.Error()
			return nil, true
		}
		v := msg.value
		var compact bytes.Buffer
		if json.Compact(&compact, v) == nil {
			v = compact.Bytes()
		}
		p.editing, p.editErr = true, ""
		p.edit = newInput(string(v))
		if !json.Valid(v) {
			p.editErr = "not valid JSON: fix it (ctrl+o edits again)"
		}
		return nil, true
	case deadSentMsg:
		p.busy = ""
		if msg.err != nil {
			p.report = []string{"error: send to " + msg.topic + ": " + msg.err.Error()}
		} else {
			p.report = []string{"sent the edited record to " + msg.topic}
		}
		return nil, true
	}
	return nil, false
}

// reportLines summarises a replay or dry run per error class.
func reportLines(what string, rep *replay.Report, err error) []string {
	var out []string
	if err != nil {
		out = append(out, "error: "+what+": "+err.Error())
	}
	if rep == nil {
		return out
	}
	c := rep.Count
	if rep.Through {
		out = append(out, fmt.Sprintf("%s through the pipeline: %d letters: %d would pass, %d filtered, %d fail again, %d late, %d parked, %d skipped",
			what, rep.Letters, c[replay.Passed], c[replay.Filtered], c[replay.Dead], c[replay.Late], c[replay.Parked], c[replay.Skipped]))
	} else {
		verb := "replayed"
		if rep.DryRun {
			verb = "would replay"
		}
		out = append(out, fmt.Sprintf("%s: %d letters: %s %d, parked %d, skipped %d, failed %d",
			what, rep.Letters, verb, c[replay.Replayed], c[replay.Parked], c[replay.Skipped], rep.Failed))
	}
	for _, cc := range rep.Classes() {
		line := fmt.Sprintf("  %5d  %-10s %s", cc.Count, cc.Stage, cc.Class)
		if rep.Through {
			line += fmt.Sprintf(" → pass %d, fail again %d", cc.By[replay.Passed]+cc.By[replay.Filtered], cc.By[replay.Dead]+cc.By[replay.Late])
		}
		out = append(out, line)
	}
	for _, r := range replay.SortedKeys(rep.Skips) {
		out = append(out, fmt.Sprintf("  skipped %d: %s", rep.Skips[r], r))
	}
	return out
}

func (p *deadPane) selected() (DeadItem, bool) {
	if len(p.items) == 0 {
		return DeadItem{}, false
	}
	i := p.sel
	if i < 0 || i >= len(p.items) {
		i = len(p.items) - 1
	}
	return p.items[i], true
}

func (p *deadPane) Update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyPressMsg)
	if !ok {
		if p.editing {
			p.edit.update(msg)
		}
		return nil
	}
	k := p.c.Keys
	if p.confirm != "" {
		yes := p.onYes
		p.confirm, p.onYes = "", nil
		if km.String() == "y" && yes != nil {
			return yes()
		}
		p.report = []string{"cancelled"}
		return nil
	}
	if p.editing {
		switch km.String() {
		case "esc":
			p.editing = false
		case "enter":
			return p.sendEdited()
		case "ctrl+o":
			return editExternally([]byte(p.edit.String()))
		default:
			p.edit.update(km)
			p.editErr = ""
		}
		return nil
	}
	if sel, ok := paging(k, km, p.sel, len(p.items), p.page, true); ok {
		p.sel = sel
		return nil
	}
	switch {
	case key.Matches(km, k.Left):
		p.colOff = max(p.colOff-1, 0)
	case key.Matches(km, k.Right):
		p.colOff++ // STAGE, ERROR, VALUE scroll, ORIGIN stays; clamped when drawn
	case key.Matches(km, k.Enter):
		if len(p.items) > 0 {
			if p.sel < 0 {
				p.sel = len(p.items) - 1
			}
			p.detail = true
		}
	case key.Matches(km, k.Back):
		switch {
		case p.detail:
			p.detail = false
		case p.topic != "":
			p.topic = ""
			p.reset()
			p.report = []string{"showing the live pipeline's dead letters"}
		default:
			p.sel = -1
		}
	case key.Matches(km, k.DryRun):
		return p.dryRun()
	case key.Matches(km, k.Replay):
		return p.askReplay()
	case key.Matches(km, k.EditReplay):
		it, ok := p.selected()
		if !ok {
			return nil
		}
		if p.ops == nil || p.ops.Produce == nil {
			p.report = []string{"edit and replay needs a cluster"}
			return nil
		}
		if it.L.Origin.Topic == "" {
			p.report = []string{"this letter's origin is not a topic (" + it.Origin + "): nothing to replay it to"}
			return nil
		}
		p.editing, p.editErr = true, ""
		p.edit = newInput(string(it.L.Value))
	}
	return nil
}

// dryRun runs the letters through the running pipeline (or, without one,
// checks where a replay would send them), writing nothing.
func (p *deadPane) dryRun() tea.Cmd {
	plan := p.plan()
	o := replay.Options{Topic: p.topic, MaxReplays: replay.DefaultMaxReplays, To: replay.ToOriginal}
	if plan != nil && len(plan.Pipeline.Stages) > 0 {
		o.Through, o.To = &replay.Through{Plan: plan}, ""
	}
	p.busy = "dry run…"
	if p.topic != "" {
		if p.ops == nil || p.ops.Replay == nil {
			return nil
		}
		run := p.ops.Replay
		o.DryRun = true
		return func() tea.Msg {
			rep, err := run(context.Background(), o)
			return deadReportMsg{what: "dry run of " + o.Topic, rep: rep, err: err}
		}
	}
	letters := make([]replay.Letter, len(p.items))
	for i, it := range p.items {
		letters[i] = it.L
	}
	return func() tea.Msg {
		rep, err := replay.DryRunLetters(o, func(fn func(*replay.Letter) error) error {
			for i := range letters {
				if err := fn(&letters[i]); err != nil {
					return err
				}
			}
			return nil
		})
		return deadReportMsg{what: fmt.Sprintf("dry run of the %d kept live dead letters", len(letters)), rep: rep, err: err}
	}
}

// askReplay asks to replay the dead-letter topic, saying what will happen.
func (p *deadPane) askReplay() tea.Cmd {
	if p.topic == "" {
		p.report = []string{"replay works on a dead-letter topic: load one with :dlq TOPIC (the live pipeline's dead letters are previews; E fixes and sends one)"}
		return nil
	}
	if p.ops == nil || p.ops.Replay == nil {
		return nil
	}
	o := replay.Options{Topic: p.topic, To: replay.ToOriginal, MaxReplays: replay.DefaultMaxReplays}
	p.confirm = fmt.Sprintf("replay the %d dead letters of %s to their original topics? At %d replays a letter goes to %s; progress is kept in group %s. y/n",
		p.n, p.topic, o.MaxReplays, replay.ParkedTopic(p.topic), replay.DefaultGroup(p.topic))
	run := p.ops.Replay
	p.onYes = func() tea.Cmd {
		p.busy = "replaying " + p.topic + "…"
		return func() tea.Msg {
			rep, err := run(context.Background(), o)
			return deadReportMsg{what: "replay of " + o.Topic, rep: rep, err: err}
		}
	}
	return nil
}

// sendEdited checks the edited value and asks before sending it.
func (p *deadPane) sendEdited() tea.Cmd {
	it, ok := p.selected()
	if !ok {
		p.editing = false
		return nil
	}
	v := []byte(strings.TrimSpace(p.edit.String()))
	if !json.Valid(v) {
		var x any
		err := json.Unmarshal(v, &x)
		p.editErr = "not valid JSON: " + err.Error()
		return nil
	}
	p.editing = false
	l := it.L
	l.Value = v
	topic := l.Origin.Topic
	rec := replay.ReplayRecord(&l, topic)
	p.confirm = fmt.Sprintf("send the edited record to %s (eddy.replay.count=%d)? y/n", topic, l.Replays+1)
	produce := p.ops.Produce
	p.onYes = func() tea.Cmd {
		p.busy = "sending…"
		return func() tea.Msg {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			return deadSentMsg{topic: topic, err: produce(ctx, rec)}
		}
	}
	return nil
}

func (p *deadPane) View() string {
	s := p.c.Styles
	src := "the running pipeline's dead letters (previews: nothing is written)"
	if p.topic != "" {
		src = "dead-letter topic " + p.topic
	}
	lines := []string{s.Dim.Render(fmt.Sprintf("%s · %d letters (last %d listed)", src, p.n, DeadCap))}
	if p.busy != "" {
		lines = append(lines, p.busy)
	}
	// The question, the edit's error and the report wrap: a prompt is
	// never cut, however narrow the screen.
	var tail []string
	wrapped := func(st lipgloss.Style, text string) { tail = append(tail, wrapStyled(st, text, p.w)...) }
	switch {
	case p.confirm != "":
		wrapped(s.Error, p.confirm)
	case p.editing:
		wrapped(lipgloss.NewStyle(), "edit the value (JSON) here or in $EDITOR (ctrl+o); enter checks it:")
		tail = append(tail, p.edit.view(true))
		if p.editErr != "" {
			wrapped(s.Error, "error: "+p.editErr)
		}
	default:
		for _, r := range p.report {
			wrapped(lipgloss.NewStyle(), r)
		}
	}
	tail = tail[:min(len(tail), max(p.h-2, 1))]
	if p.detail {
		if it, ok := p.selected(); ok {
			lines = append(lines, letterDetail(it)...)
			return block(append(lines, tail...), p.w, p.h)
		}
	}
	if len(p.counts) == 0 {
		lines = append(lines, "no dead letters")
		return block(append(lines, tail...), p.w, p.h)
	}
	keys := make([]DeadKey, 0, len(p.counts))
	for k := range p.counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b DeadKey) int {
		return cmp.Or(cmp.Compare(p.counts[b], p.counts[a]), cmp.Compare(a.Class, b.Class), cmp.Compare(a.Stage, b.Stage))
	})
	room := p.h - len(lines) - len(tail)
	half := max(3, room/3)
	var rows [][]string
	for _, k := range keys[:min(len(keys), half-1)] {
		rows = append(rows, []string{strconv.FormatInt(p.counts[k], 10), k.Stage, k.Class})
	}
	lines = append(lines, table(s, []string{"COUNT", "STAGE", "CLASS"}, rows, p.w, -1)...)
	left := p.h - len(lines) - len(tail) - 1
	sel := p.sel
	if sel < 0 {
		sel = len(p.items) - 1
	}
	lo, hi := window(len(p.items), sel, left)
	var list [][]string
	for _, it := range p.items[lo:hi] {
		list = append(list, []string{it.Origin, it.Stage, it.Error, it.Value})
	}
	mark := -1
	if p.sel >= 0 {
		mark = p.sel - lo
	}
	p.page = left - 1
	t, sh := scrolled(s, []string{"ORIGIN", "STAGE", "ERROR", "VALUE"}, list, p.w, mark, colView{Frozen: 1, First: p.colOff})
	p.colOff = sh.First
	if more := sh.more(); more != "" {
		lines[0] += s.Dim.Render(" · " + more)
	}
	lines = append(lines, t...)
	out := block(lines, p.w, p.h-len(tail))
	if len(tail) == 0 {
		return out
	}
	return out + "\n" + block(tail, p.w, len(tail))
}

// letterDetail is one dead letter with everything known of its origin.
func letterDetail(it DeadItem) []string {
	l := it.L
	out := []string{"", "error   " + it.Error, "class   " + it.Class, "stage   " + it.Stage, "origin  " + it.Origin}
	if l.Origin.Timestamp != nil {
		out = append(out, "origin time "+time.UnixMilli(*l.Origin.Timestamp).UTC().Format(time.RFC3339Nano))
	}
	if l.Convention != replay.Unknown {
		out = append(out, "convention "+string(l.Convention))
	}
	if l.Pipeline != "" {
		out = append(out, "pipeline "+l.Pipeline)
	}
	if l.Replays > 0 {
		out = append(out, fmt.Sprintf("replayed %d times", l.Replays))
	}
	for _, n := range l.Notes {
		out = append(out, "note: "+n)
	}
	if l.Key != nil {
		out = append(out, "key     "+strconv.Quote(string(l.Key)))
	}
	if len(l.Headers) > 0 {
		out = append(out, "headers")
		for _, h := range l.Headers {
			out = append(out, fmt.Sprintf("  %s: %q", h.Key, h.Value))
		}
	}
	out = append(out, "value")
	var b strings.Builder
	if json.Valid(l.Value) {
		var x any
		_ = json.Unmarshal(l.Value, &x)
		pretty, _ := json.MarshalIndent(x, "  ", "  ")
		b.Write(pretty)
	} else {
		b.WriteString(strconv.Quote(string(l.Value)))
	}
	return append(out, strings.Split("  "+b.String(), "\n")...)
}
