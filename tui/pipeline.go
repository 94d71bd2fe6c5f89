package tui

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/windows"
)

// ApplyMsg asks the root to run a pipeline in place of the current one.
type ApplyMsg struct {
	Pipeline *pipeline.Pipeline
	Plan     *pipeline.Plan
	What     string // what changed, for the notice
}

// writtenMsg reports a pipeline written to a file.
type writtenMsg struct {
	path   string
	exists bool // not written: the file exists and overwriting was not confirmed
	err    error
}

// loadedMsg carries a pipeline read from a file.
type loadedMsg struct {
	path string
	p    *pipeline.Pipeline
	err  error
}

// check formats p as the YAML that `w` writes and reads it back exactly as
// `eddy run` would, so what the workbench runs is what it saves.
func check(p *pipeline.Pipeline) (*pipeline.Pipeline, *pipeline.Plan, error) {
	q, err := pipeline.Parse("pipeline.yaml", pipeline.Format(p))
	if err != nil {
		return nil, nil, err
	}
	plan, err := pipeline.Compile(q)
	if err != nil {
		return nil, nil, err
	}
	return q, plan, nil
}

// describe is a spec error without the file and line of the generated YAML,
// which the user never sees.
func describe(err error) string {
	var es pipeline.Errors
	var e *pipeline.Error
	var msgs []string
	switch {
	case errors.As(err, &es):
		for _, x := range es {
			msgs = append(msgs, pathMsg(x))
		}
	case errors.As(err, &e):
		msgs = append(msgs, pathMsg(e))
	default:
		return err.Error()
	}
	return strings.Join(msgs, "; ")
}

func pathMsg(e *pipeline.Error) string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// formField is one labelled input of a stage form.
type formField struct {
	label, hint string
	in          input
	only        windows.Type // window fields that apply to one window type; 0: always
	join        string       // join fields that apply to one kind of join (joinInterval, joinWindow); "": always
}

// stageForm adds or edits one stage.
type stageForm struct {
	kind   pipeline.StageKind
	index  int  // the stage edited, or where a new one goes
	isNew  bool // insert at index instead of replacing
	fields []formField
	focus  int
	err    string // why the form's stage does not validate; "" when it does
	// tables are the spec's tables (a lookup form's choices); newTable is
	// the table the lookup's file path declares, nil when it names one
	tables   []pipeline.Table
	newTable *pipeline.Table
}

const (
	windowFieldType = iota // the window form's fields, in order
	windowFieldSize
	windowFieldSlide
	windowFieldGap
	windowFieldKey
	windowFieldAgg
	windowFieldTime
	windowFieldMaxOutOfOrder
)

// newForm builds the form for kind, filled from st when editing.
func newForm(kind pipeline.StageKind, st *pipeline.Stage, p *pipeline.Pipeline, guessTime string) *stageForm {
	f := &stageForm{kind: kind, tables: p.Tables}
	t, tables := p.Time, p.Tables
	add := func(label, hint, val string) {
		f.fields = append(f.fields, formField{label: label, hint: hint, in: newInput(val)})
	}
	switch kind {
	case pipeline.Filter:
		v := ""
		if st != nil {
			v = st.Filter.Src
		}
		add("expression", `e.g. event == "purchase" && amount > 0`, v)
	case pipeline.Coerce:
		var parts []string
		if st != nil {
			for _, c := range st.Coerce {
				parts = append(parts, c.Field+": "+string(c.Type))
			}
		}
		add("fields", "field: int|float|string|bool|timestamp, ...", strings.Join(parts, ", "))
	case pipeline.Project:
		var parts []string
		if st != nil {
			for _, c := range st.Project {
				parts = append(parts, c.Name+": "+c.Expr.Src)
			}
		}
		add("columns", "name: expression; ... e.g. user: user_id; total: amount * qty", strings.Join(parts, "; "))
	case pipeline.Lookup:
		var names []string
		for _, d := range tables {
			names = append(names, d.Name)
		}
		table, on, sel, missing := "", "", "", pipeline.MissingNull
		if len(names) == 1 {
			table = names[0]
		}
		if st != nil && st.Lookup != nil {
			l := st.Lookup
			table, on, sel, missing = l.Table, l.Field+": "+l.Column, strings.Join(l.Select, ", "), l.OnMissing
		}
		hint := "a .jsonl, .csv or .parquet file (declared in tables: by its base name)"
		if len(names) > 0 {
			hint = "one of the spec's tables (" + strings.Join(names, ", ") + ") or a .jsonl, .csv or .parquet file"
		}
		add("table", hint, table)
		add("on", "record_field: key_column, e.g. product_id: id", on)
		add("select", "the table's columns to add, comma-separated", sel)
		add("on missing", "null | drop | dlq: a record whose key the table lacks", missing)
	case pipeline.Window:
		typ, size, slide, gap, keys, aggs := "tumbling", "10s", "", "", "", "n: count()"
		if st != nil && st.Window != nil {
			w := st.Window
			typ = w.Spec.Type.String()
			ms := func(v int64) string {
				if v == 0 {
					return ""
				}
				return pipeline.FormatDuration(time.Duration(v) * time.Millisecond)
			}
			size, slide, gap = ms(w.Spec.Size), ms(w.Spec.Slide), ms(w.Spec.Gap)
			keys = strings.Join(w.Key, ", ")
			var as []string
			for _, a := range w.Aggregates {
				as = append(as, a.Name+": "+a.Src)
			}
			aggs = strings.Join(as, ", ")
		}
		tf, ooo := timeDefaults(t, st == nil, guessTime)
		add("type", "tumbling | hopping | session", typ)
		add("size", "e.g. 10s, 1m (tumbling, hopping)", size)
		f.fields[windowFieldSize].only = windows.TumblingType
		add("slide", "e.g. 5s (hopping)", slide)
		f.fields[windowFieldSlide].only = windows.HoppingType
		add("gap", "e.g. 30s (session)", gap)
		f.fields[windowFieldGap].only = windows.SessionType
		add("key", "fields, comma-separated; empty: one global window", keys)
		add("aggregate", "name: count() | sum(f) | avg(f) | min(f) | max(f) | quantile(f, 0.95) | ...", aggs)
		add("time field", "event-time field (epoch ms or RFC 3339); empty: processing time", tf)
		add("max out of order", "watermark delay, e.g. 2s", ooo)
	case pipeline.Join:
		newJoinForm(f, st, p, guessTime)
	}
	return f
}

// windowType is what the window form's type field names.
func (f *stageForm) windowType() windows.Type {
	switch strings.TrimSpace(f.fields[windowFieldType].in.String()) {
	case "hopping":
		return windows.HoppingType
	case "session":
		return windows.SessionType
	}
	return windows.TumblingType
}

// applies reports whether field i matters for the form as filled in.
func (f *stageForm) applies(i int) bool {
	if j := f.fields[i].join; j != "" {
		return f.joinKind() == j
	}
	o := f.fields[i].only
	if o == 0 {
		return true
	}
	t := f.windowType()
	if i == windowFieldSize {
		return t != windows.SessionType
	}
	return o == t
}

// splitTop splits s at sep outside parentheses, brackets and quotes.
func splitTop(s string, sep rune) []string {
	var out []string
	depth, start := 0, 0
	var quote rune
	for i, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '"' || r == '\'' || r == '`':
			quote = r
		case r == '(' || r == '[' || r == '{':
			depth++
		case r == ')' || r == ']' || r == '}':
			depth--
		case r == sep && depth <= 0:
			out = append(out, s[start:i])
			start = i + len(string(r))
		}
	}
	out = append(out, s[start:])
	var kept []string
	for _, x := range out {
		if x = strings.TrimSpace(x); x != "" {
			kept = append(kept, x)
		}
	}
	return kept
}

// pairs reads "name: value" items separated by sep.
func pairs(s string, sep rune, what string) ([][2]string, error) {
	var out [][2]string
	for _, item := range splitTop(s, sep) {
		name, val, ok := strings.Cut(item, ":")
		if !ok {
			return nil, fmt.Errorf("%q: want %s", item, what)
		}
		out = append(out, [2]string{strings.TrimSpace(name), strings.TrimSpace(val)})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("give at least one %s", what)
	}
	return out, nil
}

// build turns the form into a stage and the pipeline's time settings.
func (f *stageForm) build(t pipeline.Time) (pipeline.Stage, pipeline.Time, error) {
	val := func(i int) string { return strings.TrimSpace(f.fields[i].in.String()) }
	st := pipeline.Stage{Kind: f.kind}
	switch f.kind {
	case pipeline.Filter:
		if val(0) == "" {
			return st, t, errors.New("expression: type a condition, e.g. amount > 0")
		}
		st.Filter = pipeline.Expr{Src: val(0)}
	case pipeline.Coerce:
		ps, err := pairs(val(0), ',', "field: type")
		if err != nil {
			return st, t, fmt.Errorf("fields: %w", err)
		}
		for _, p := range ps {
			st.Coerce = append(st.Coerce, pipeline.FieldType{Field: p[0], Type: pipeline.Type(p[1])})
		}
	case pipeline.Project:
		ps, err := pairs(val(0), ';', "name: expression")
		if err != nil {
			return st, t, fmt.Errorf("columns: %w", err)
		}
		for _, p := range ps {
			st.Project = append(st.Project, pipeline.Column{Name: p[0], Expr: pipeline.Expr{Src: p[1]}})
		}
	case pipeline.Lookup:
		l := &pipeline.LookupStage{Select: splitTop(val(2), ','), OnMissing: val(3)}
		var err error
		if l.Table, f.newTable, err = tableFor(val(0), f.tables); err != nil {
			return st, t, err
		}
		on, err := pairs(val(1), ',', "record_field: key_column")
		if err != nil || len(on) != 1 {
			return st, t, errors.New("on: want one record_field: key_column, e.g. product_id: id")
		}
		l.Field, l.Column = on[0][0], on[0][1]
		if len(l.Select) == 0 {
			return st, t, errors.New("select: name at least one column of the table")
		}
		switch l.OnMissing {
		case "":
			l.OnMissing = pipeline.MissingNull
		case pipeline.MissingNull, pipeline.MissingDrop, pipeline.MissingDLQ:
		default:
			return st, t, fmt.Errorf("on missing: want null, drop or dlq, not %q", l.OnMissing)
		}
		st.Lookup = l
	case pipeline.Window:
		w := &pipeline.WindowStage{}
		dur := func(i int) (int64, error) {
			d, err := time.ParseDuration(val(i))
			if err != nil || d <= 0 {
				return 0, fmt.Errorf("%s: want a positive duration like 10s or 1m, not %q", f.fields[i].label, val(i))
			}
			return d.Milliseconds(), nil
		}
		var err error
		switch typ := val(windowFieldType); typ {
		case "tumbling", "":
			w.Spec.Type = windows.TumblingType
			w.Spec.Size, err = dur(windowFieldSize)
		case "hopping":
			w.Spec.Type = windows.HoppingType
			if w.Spec.Size, err = dur(windowFieldSize); err == nil {
				w.Spec.Slide, err = dur(windowFieldSlide)
			}
		case "session":
			w.Spec.Type = windows.SessionType
			w.Spec.Gap, err = dur(windowFieldGap)
		default:
			err = fmt.Errorf("type: want tumbling, hopping or session, not %q", typ)
		}
		if err != nil {
			return st, t, err
		}
		w.Key = splitTop(val(windowFieldKey), ',')
		as, err := pairs(val(windowFieldAgg), ',', "name: function(field)")
		if err != nil {
			return st, t, fmt.Errorf("aggregate: %w", err)
		}
		for _, a := range as {
			w.Aggregates = append(w.Aggregates, pipeline.Aggregate{Name: a[0], Src: a[1]})
		}
		st.Window = w
		if t, err = f.buildTime(t, windowFieldTime, windowFieldMaxOutOfOrder); err != nil {
			return st, t, err
		}
	case pipeline.Join:
		j, t2, err := f.buildJoin(t)
		if err != nil {
			return st, t, err
		}
		st.Join, t = j, t2
	}
	return st, t, nil
}

// buildTime reads the time field and the watermark delay of a form's
// fields field and delay into t.
func (f *stageForm) buildTime(t pipeline.Time, field, delay int) (pipeline.Time, error) {
	t.Field = strings.TrimSpace(f.fields[field].in.String())
	t.MaxOutOfOrder = 0
	if s := strings.TrimSpace(f.fields[delay].in.String()); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return t, fmt.Errorf("max out of order: want a duration like 2s, not %q", s)
		}
		t.MaxOutOfOrder = d
	}
	return t, nil
}

// pipelinePane is the stage list of the pipeline the workbench runs, with
// forms to add and edit stages and prompts to write and open specs.
type pipelinePane struct {
	c    *Common
	w, h int

	p        *pipeline.Pipeline // what runs (as checked); never nil
	sel      int
	applied  string   // notice of the last apply
	warnings []string // the running pipeline's warnings (unseen fields)
	lastPath string   // last written or opened file
	note     string   // result of the last write/open, or a refusal
	noteErr  bool

	choosing bool       // picking the kind of stage to add
	form     *stageForm // nil: no form open

	prompt      string // "write" or "open" while a path prompt is open
	path        input
	promptErr   string
	confirmPath string // the path whose overwrite awaits y/n
	confirmDel  int    // 1 + the index of the stage whose deletion awaits y/n; 0: none

	saved string // stagesKey of the pipeline as last written or opened

	guessTime func() string   // a likely event-time field of the attached records
	fields    func() []string // the attached records' top-level fields (decoded ones too)
	// sourceFields are, with several sources, each named source's fields
	sourceFields func(names []string) [][]string
}

func newPipelinePane(c *Common, p *pipeline.Pipeline, path string) *pipelinePane {
	if p == nil {
		p = &pipeline.Pipeline{Name: "workbench", Format: "json", Late: "dlq", Time: pipeline.Time{IdleTimeout: 30 * time.Second}}
	}
	return &pipelinePane{c: c, p: p, lastPath: path, saved: stagesKey(p), guessTime: func() string { return "" }}
}

// stagesKey is what of a pipeline the user edits in the pane (its stages
// and time settings), as YAML: the source, sinks and dead letters follow
// the attached topic and are not changes of the user's.
func stagesKey(p *pipeline.Pipeline) string {
	return string(pipeline.Format(&pipeline.Pipeline{Name: p.Name, Stages: p.Stages, Time: p.Time, Late: p.Late, Format: p.Format}))
}

// unsaved reports whether the stages differ from what was last written or
// opened (a new workbench's empty pipeline counts as saved).
func (p *pipelinePane) unsaved() bool { return stagesKey(p.p) != p.saved }

// markSaved records the running pipeline as written or opened.
func (p *pipelinePane) markSaved() { p.saved = stagesKey(p.p) }

// changeSummary names the unsaved pipeline for the quit question.
func (p *pipelinePane) changeSummary() string {
	n := len(p.p.Stages)
	what := fmt.Sprintf("%d stages", n)
	if n == 1 {
		what = "1 stage"
	}
	if p.lastPath != "" {
		return what + ", last saved to " + p.lastPath
	}
	return what + ", never saved"
}

func (p *pipelinePane) Title() string    { return "Pipeline" }
func (p *pipelinePane) SetSize(w, h int) { p.w, p.h = w, h }
func (p *pipelinePane) Capturing() bool {
	return p.choosing || p.form != nil || p.prompt != "" || p.confirmPath != "" || p.confirmDel > 0
}

func (p *pipelinePane) Keys() []key.Binding {
	k := p.c.Keys
	switch {
	case p.choosing:
		if len(p.p.Sources) > 1 {
			return []key.Binding{key.NewBinding(key.WithHelp("f/c/p/w/l/j", "filter/coerce/project/window/lookup/join")), key.NewBinding(key.WithHelp("esc", "cancel"))}
		}
		return []key.Binding{key.NewBinding(key.WithHelp("f/c/p/w/l", "filter/coerce/project/window/lookup")), key.NewBinding(key.WithHelp("esc", "cancel"))}
	case p.form != nil:
		return []key.Binding{key.NewBinding(key.WithHelp("tab/↑↓", "field")), key.NewBinding(key.WithHelp("enter", "apply")), key.NewBinding(key.WithHelp("esc", "cancel"))}
	case p.confirmPath != "":
		return []key.Binding{key.NewBinding(key.WithHelp("y", "overwrite")), key.NewBinding(key.WithHelp("n/esc", "cancel"))}
	case p.confirmDel > 0:
		return []key.Binding{key.NewBinding(key.WithHelp("y", "delete")), key.NewBinding(key.WithHelp("n/esc", "keep it"))}
	case p.prompt != "":
		return []key.Binding{key.NewBinding(key.WithHelp("enter", p.prompt)), key.NewBinding(key.WithHelp("esc", "cancel"))}
	}
	return []key.Binding{k.Add, k.Edit, k.Delete, k.MoveUp, k.MoveDown, k.Write, k.Open}
}

// stageLine is a one-line summary of a stage.
func stageLine(st pipeline.Stage) string {
	switch st.Kind {
	case pipeline.Filter:
		return st.Filter.Src
	case pipeline.Coerce:
		var parts []string
		for _, c := range st.Coerce {
			parts = append(parts, c.Field+": "+string(c.Type))
		}
		return strings.Join(parts, ", ")
	case pipeline.Project:
		var parts []string
		for _, c := range st.Project {
			parts = append(parts, c.Name+": "+c.Expr.Src)
		}
		return strings.Join(parts, "; ")
	case pipeline.Window:
		w := st.Window
		var s string
		ms := func(v int64) string { return pipeline.FormatDuration(time.Duration(v) * time.Millisecond) }
		switch w.Spec.Type {
		case windows.TumblingType:
			s = "tumbling " + ms(w.Spec.Size)
		case windows.HoppingType:
			s = "hopping " + ms(w.Spec.Size) + " every " + ms(w.Spec.Slide)
		case windows.SessionType:
			s = "session gap " + ms(w.Spec.Gap)
		}
		if len(w.Key) > 0 {
			s += " by " + strings.Join(w.Key, ", ")
		}
		var as []string
		for _, a := range w.Aggregates {
			as = append(as, a.Name+": "+a.Src)
		}
		return s + " → " + strings.Join(as, ", ")
	case pipeline.Lookup:
		l := st.Lookup
		s := fmt.Sprintf("%s on %s = %s → %s", l.Table, l.Field, l.Column, strings.Join(l.Select, ", "))
		if l.OnMissing != "" && l.OnMissing != pipeline.MissingNull {
			s += " (missing: " + l.OnMissing + ")"
		}
		return s
	case pipeline.Join:
		return joinLine(st.Join)
	case pipeline.Top:
		t := st.Top
		s := fmt.Sprintf("first %d by %s per window", t.K, t.Order())
		if t.Ties {
			s += ", with ties"
		}
		return s
	}
	return ""
}

// hasWindow reports whether p ends with a window stage.
func (p *pipelinePane) hasWindow() bool {
	st := p.p.Stages
	return len(st) > 0 && st[len(st)-1].Kind == pipeline.Window
}

// joinAt is the index of p's join stage, or -1. Stages before it see the
// records of every source, stages after it the joined rows.
func (p *pipelinePane) joinAt() int {
	_, i := p.p.JoinStage()
	return i
}

// withStages is a copy of the pipeline with other stages and time settings.
func (p *pipelinePane) withStages(stages []pipeline.Stage, t pipeline.Time) *pipeline.Pipeline {
	q := *p.p
	q.Stages = stages
	q.Time = t
	return &q
}

// validate checks the open form against the whole pipeline; it returns the
// checked pipeline and plan when valid.
func (p *pipelinePane) validate() (*pipeline.Pipeline, *pipeline.Plan) {
	f := p.form
	st, t, err := f.build(p.p.Time)
	if err != nil {
		f.err = err.Error()
		return nil, nil
	}
	stages := slices.Clone(p.p.Stages)
	if f.isNew {
		stages = slices.Insert(stages, f.index, st)
	} else {
		stages[f.index] = st
	}
	with := p.withStages(stages, t)
	if f.newTable != nil {
		with.Tables = append(slices.Clone(with.Tables), *f.newTable)
	}
	q, plan, err := check(with)
	if err != nil {
		f.err = describe(err)
		return nil, nil
	}
	f.err = ""
	return q, plan
}

// apply checks q and asks the root to run it.
func (p *pipelinePane) apply(q *pipeline.Pipeline, what string) tea.Cmd {
	checked, plan, err := check(q)
	if err != nil {
		p.note, p.noteErr = describe(err), true
		return nil
	}
	return func() tea.Msg { return ApplyMsg{Pipeline: checked, Plan: plan, What: what} }
}

// setApplied records that q now runs.
func (p *pipelinePane) setApplied(q *pipeline.Pipeline, what string, at time.Time) {
	p.p = q
	p.sel = min(p.sel, max(len(q.Stages)-1, 0))
	p.applied = fmt.Sprintf("%s · applied %s · window state and counters restarted", what, at.Format("15:04:05"))
	p.warnings = nil
}

func (p *pipelinePane) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case writtenMsg:
		switch {
		case msg.exists:
			p.confirmPath = msg.path
		case msg.err != nil:
			p.note, p.noteErr = msg.err.Error(), true
		default:
			p.lastPath = msg.path
			p.markSaved()
			p.note, p.noteErr = "wrote "+msg.path+" · run it headless: eddy run "+shellQuote(msg.path), false
		}
		return nil
	case loadedMsg:
		if msg.err != nil {
			p.note, p.noteErr = describe(msg.err), true
			return nil
		}
		p.lastPath = msg.path
		p.note, p.noteErr = "opened "+msg.path, false
		return func() tea.Msg { return openSpecMsg{path: msg.path, p: msg.p} }
	}
	km, ok := msg.(tea.KeyPressMsg)
	if !ok {
		if p.form != nil || p.prompt != "" {
			return p.typed(msg)
		}
		return nil
	}
	switch {
	case p.choosing:
		return p.choose(km)
	case p.form != nil:
		return p.formKey(km)
	case p.confirmPath != "":
		path := p.confirmPath
		p.confirmPath = ""
		if km.String() == "y" {
			return writeSpec(path, pipeline.Format(p.p), true)
		}
		p.note, p.noteErr = "not written", false
		return nil
	case p.confirmDel > 0:
		i := p.confirmDel - 1
		p.confirmDel = 0
		if km.String() != "y" || i >= len(p.p.Stages) {
			p.note, p.noteErr = "not deleted", false
			return nil
		}
		what := fmt.Sprintf("deleted stage %d:%s", i, p.p.Stages[i].Kind)
		return p.apply(p.withStages(slices.Delete(slices.Clone(p.p.Stages), i, i+1), p.p.Time), what)
	case p.prompt != "":
		return p.promptKey(km)
	}
	k := p.c.Keys
	n := len(p.p.Stages)
	switch {
	case key.Matches(km, k.Up):
		p.sel = max(p.sel-1, 0)
	case key.Matches(km, k.Down):
		p.sel = min(p.sel+1, max(n-1, 0))
	case key.Matches(km, k.Add):
		p.choosing, p.note = true, ""
	case key.Matches(km, k.Edit), key.Matches(km, k.Enter):
		if p.sel < n && p.p.Stages[p.sel].Kind == pipeline.Top {
			p.note = "a top stage has no form yet: edit it in the spec file"
			return nil
		}
		if p.sel < n {
			st := p.p.Stages[p.sel]
			p.form = newForm(st.Kind, &st, p.p, "")
			p.form.index = p.sel
			p.validate()
		}
	case key.Matches(km, k.Delete):
		if p.sel < n {
			p.confirmDel, p.note = p.sel+1, ""
		}
	case key.Matches(km, k.MoveUp), key.Matches(km, k.MoveDown):
		to := p.sel - 1
		if key.Matches(km, k.MoveDown) {
			to = p.sel + 1
		}
		if p.sel >= n || to < 0 || to >= n {
			return nil
		}
		// a stage may cross the join (before it, it takes every source's
		// records; after it, the joined rows), as far as check allows
		if p.p.Stages[p.sel].Kind == pipeline.Window || p.p.Stages[to].Kind == pipeline.Window {
			p.note, p.noteErr = "the window stage stays last", true
			return nil
		}
		stages := slices.Clone(p.p.Stages)
		stages[p.sel], stages[to] = stages[to], stages[p.sel]
		what := fmt.Sprintf("moved stage %d:%s to %d", p.sel, p.p.Stages[p.sel].Kind, to)
		p.sel = to
		return p.apply(p.withStages(stages, p.p.Time), what)
	case key.Matches(km, k.Write):
		p.prompt, p.promptErr = "write", ""
		p.path = newInput(p.defaultPath())
	case key.Matches(km, k.Open):
		p.prompt, p.promptErr = "open", ""
		p.path = newInput(p.lastPath)
	}
	return nil
}

// deleteQuestion asks before deleting stage i, saying what is lost.
func (p *pipelinePane) deleteQuestion(i int) string {
	st := p.p.Stages[i]
	q := fmt.Sprintf("delete stage %d:%s (%s)? ", i, st.Kind, stageLine(st))
	if p.hasWindow() {
		q += "The running pipeline restarts: the state of the windows still open is discarded and the counters start at zero. "
	} else {
		q += "The running pipeline restarts with the counters at zero. "
	}
	return q + "y deletes · n/esc keeps it"
}

// defaultPath is where w proposes to write.
func (p *pipelinePane) defaultPath() string {
	if p.lastPath != "" {
		return p.lastPath
	}
	name := p.p.Name
	if name == "" {
		name = "pipeline"
	}
	return name + ".yaml"
}

func (p *pipelinePane) choose(km tea.KeyPressMsg) tea.Cmd {
	kinds := map[string]pipeline.StageKind{"f": pipeline.Filter, "c": pipeline.Coerce, "p": pipeline.Project, "w": pipeline.Window, "l": pipeline.Lookup}
	if len(p.p.Sources) > 1 {
		kinds["j"] = pipeline.Join // a join reads the records of two sources
	}
	if km.String() == "esc" {
		p.choosing = false
		return nil
	}
	kind, ok := kinds[km.String()]
	if !ok {
		return nil
	}
	p.choosing = false
	n := len(p.p.Stages)
	at := min(p.sel+1, n)
	switch {
	case kind == pipeline.Join && p.joinAt() >= 0, kind == pipeline.Window && p.hasWindow():
		p.note, p.noteErr = "the pipeline has a "+string(kind)+" stage already: select it and press e to edit it", true
		return nil
	case kind == pipeline.Join && p.hasWindow():
		p.note, p.noteErr = "a join goes before the window (a window's rows cannot be joined)", true
		return nil
	case kind == pipeline.Window || kind == pipeline.Join:
		at = n // a window stays last; a join goes after the stages of both sources' records
	case p.hasWindow():
		at = min(at, n-1) // the window stays last
	}
	if n == 0 {
		at = 0
	}
	p.form = newForm(kind, nil, p.p, p.guessTime())
	p.form.index, p.form.isNew = at, true
	p.validate()
	return nil
}

func (p *pipelinePane) formKey(km tea.KeyPressMsg) tea.Cmd {
	f := p.form
	move := func(d int) {
		for range len(f.fields) {
			f.focus = (f.focus + d + len(f.fields)) % len(f.fields)
			if f.applies(f.focus) {
				return
			}
		}
	}
	switch km.String() {
	case "esc":
		p.form = nil
		return nil
	case "tab", "down":
		move(1)
		return nil
	case "shift+tab", "up":
		move(-1)
		return nil
	case "enter":
		q, _ := p.validate()
		if q == nil {
			return nil
		}
		what := fmt.Sprintf("edited stage %d:%s", f.index, f.kind)
		if f.isNew {
			what = fmt.Sprintf("added stage %d:%s", f.index, f.kind)
			p.sel = f.index
		}
		p.form = nil
		return p.apply(q, what)
	}
	return p.typed(km)
}

// typed sends an editing key or paste to the focused input and revalidates.
func (p *pipelinePane) typed(msg tea.Msg) tea.Cmd {
	if p.form != nil {
		if p.form.fields[p.form.focus].in.update(msg) {
			p.validate()
		}
		return nil
	}
	if p.prompt != "" {
		p.path.update(msg)
	}
	return nil
}

func (p *pipelinePane) promptKey(km tea.KeyPressMsg) tea.Cmd {
	switch km.String() {
	case "esc":
		p.prompt = ""
		return nil
	case "enter":
		path := strings.TrimSpace(p.path.String())
		if path == "" {
			p.promptErr = "give a file name"
			return nil
		}
		what := p.prompt
		p.prompt = ""
		if what == "write" {
			return writeSpec(path, pipeline.Format(p.p), path == p.lastPath)
		}
		return loadSpec(path)
	}
	return p.typed(km)
}

// writeSpec writes a spec atomically (temporary file, then rename) off the
// UI goroutine; without overwrite an existing file is left alone.
func writeSpec(path string, data []byte, overwrite bool) tea.Cmd {
	return func() tea.Msg {
		if !overwrite {
			if _, err := os.Stat(path); err == nil {
				return writtenMsg{path: path, exists: true}
			}
		}
		dir := filepath.Dir(path)
		tmp, err := os.CreateTemp(dir, ".eddy-*.yaml")
		if err != nil {
			return writtenMsg{path: path, err: fmt.Errorf("write %s: %w", path, err)}
		}
		_, err = tmp.Write(data)
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Chmod(tmp.Name(), 0o644)
		}
		if err == nil {
			err = os.Rename(tmp.Name(), path)
		}
		if err != nil {
			_ = os.Remove(tmp.Name())
			return writtenMsg{path: path, err: fmt.Errorf("write %s: %w", path, err)}
		}
		return writtenMsg{path: path}
	}
}

// loadSpec reads a pipeline file off the UI goroutine.
func loadSpec(path string) tea.Cmd {
	return func() tea.Msg {
		p, err := pipeline.Load(path)
		if err == nil {
			_, err = pipeline.Compile(p)
		}
		return loadedMsg{path: path, p: p, err: err}
	}
}

// openSpecMsg asks the root to run a pipeline opened from a file.
type openSpecMsg struct {
	path string
	p    *pipeline.Pipeline
}

func shellQuote(s string) string {
	if strings.ContainsAny(s, " '\"$\\`!*?") {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	return s
}

func (p *pipelinePane) View() string {
	s := p.c.Styles
	src := "no source yet: attach to a topic"
	switch {
	case len(p.p.Sources) > 0:
		src = describeSources(p.p.Sources)
	case p.p.Source.Kafka != nil:
		src = "source kafka " + strings.Join(p.p.Source.Kafka.Topics, ",")
	case p.p.Source.File != "":
		src = "source file " + p.p.Source.File
	}
	tm := "processing time"
	if p.p.Time.Field != "" {
		tm = "event time " + p.p.Time.Field
		if p.p.Time.MaxOutOfOrder > 0 {
			tm += ", max out of order " + pipeline.FormatDuration(p.p.Time.MaxOutOfOrder)
		}
	}
	name := p.p.Name
	if name == "" {
		name = "(unnamed)"
	}
	lines := []string{s.Dim.Render(fmt.Sprintf("pipeline %s · %s · %s", name, src, tm))}
	if p.applied != "" {
		lines = append(lines, wrapStyled(s.Dim, p.applied, p.w)...)
	}
	for _, w := range p.warnings {
		// wrapped, not cut: the field name is what the user needs to read
		lines = append(lines, wrapStyled(s.Error, "warning: "+w, p.w)...)
	}
	switch {
	case p.form != nil:
		return block(append(lines, p.formView()...), p.w, p.h)
	case p.choosing:
		lines = append(lines, "", s.Title.Render("add a stage:"),
			"  f  filter   keep records for which an expression is true",
			"  c  coerce   convert fields to int, float, string, bool or timestamp",
			"  p  project  compute the output fields",
			"  w  window   aggregate in tumbling, hopping or session windows",
			"  l  lookup   add the columns of a table's row (a table of the spec, a file)")
		if len(p.p.Sources) > 1 {
			lines = append(lines, "  j  join     join the records of two sources (interval or window join)")
		}
		switch {
		case p.hasWindow():
			lines = append(lines, s.Dim.Render("  (new stages go before the window stage)"))
		case p.joinAt() >= 0:
			lines = append(lines, s.Dim.Render("  (new stages go after the selected one; after the join they take the joined rows)"))
		}
		return block(lines, p.w, p.h)
	}
	lines = append(lines, "")
	if len(p.p.Stages) == 0 {
		hint := "press a to add a filter, coerce, project, window or lookup stage; o opens a pipeline file"
		if len(p.p.Sources) > 1 {
			hint = "press a to add a stage, j in its menu a join of two sources; o opens a pipeline file"
		}
		lines = append(lines, "no stages: every record passes.", hint)
	} else {
		rows := make([][]string, len(p.p.Stages))
		for i, st := range p.p.Stages {
			// numbered as the spec's stages[i] and the dead letters' "i:kind"
			rows[i] = []string{fmt.Sprint(i), string(st.Kind), stageLine(st)}
		}
		sel := p.sel
		lines = append(lines, table(s, []string{"#", "STAGE", "DEFINITION"}, rows, p.w, sel)...)
	}
	lines = append(lines, "")
	// Questions and notes wrap: a prompt is never cut.
	wrapped := func(st lipgloss.Style, text string) { lines = append(lines, wrapStyled(st, text, p.w)...) }
	switch {
	case p.confirmPath != "":
		wrapped(s.Error, p.confirmPath+" exists: overwrite it? y/n")
	case p.confirmDel > 0:
		wrapped(s.Error, p.deleteQuestion(p.confirmDel-1))
	case p.prompt != "":
		lines = append(lines, p.prompt+" pipeline file: "+p.path.view(true))
		if p.promptErr != "" {
			wrapped(s.Error, "error: "+p.promptErr)
		}
	case p.note != "":
		if p.noteErr {
			wrapped(s.Error, "error: "+p.note)
		} else {
			wrapped(lipgloss.NewStyle(), p.note)
		}
	}
	// The YAML that w writes, as far as it fits.
	if left := p.h - len(lines) - 2; left > 2 {
		lines = append(lines, s.Header.Render("YAML (w writes this; eddy run accepts it unchanged)"))
		y := strings.Split(strings.TrimRight(string(pipeline.Format(p.p)), "\n"), "\n")
		if len(y) > left {
			y = append(y[:left-1], "…")
		}
		for _, l := range y {
			lines = append(lines, s.Dim.Render(l))
		}
	}
	return block(lines, p.w, p.h)
}

// joinedBefore lists the columns the lookup stages before stage i add to
// the records, for the forms of the stages after them.
func (p *pipelinePane) joinedBefore(i int) []string {
	var out []string
	for _, st := range p.p.Stages[:min(i, len(p.p.Stages))] {
		if st.Kind == pipeline.Lookup && st.Lookup != nil {
			for _, c := range st.Lookup.Select {
				if !slices.Contains(out, c) {
					out = append(out, c)
				}
			}
		}
	}
	return out
}

// formView draws the open form: every field, the focused one with a
// cursor, and the validation result in place.
func (p *pipelinePane) formView() []string {
	s := p.c.Styles
	f := p.form
	verb := "edit stage " + fmt.Sprint(f.index)
	if f.isNew {
		verb = "new stage " + fmt.Sprint(f.index)
	}
	lines := []string{"", s.Title.Render(fmt.Sprintf("%s:%s", verb, f.kind))}
	ji := p.joinAt()
	switch {
	case ji >= 0 && f.index > ji:
		// after the join: the joined rows' columns (a window join adds
		// the window's bounds)
		j := p.p.Stages[ji].Join
		var cols []string
		for _, c := range j.Select {
			cols = append(cols, c.Name)
		}
		if j.Window != nil {
			cols = append(cols, "window_start", "window_end")
		}
		lines = append(lines, wrapStyled(s.Dim, "fields of the joined rows: "+strings.Join(cols, ", "), p.w)...)
	case len(p.p.Sources) > 0 && p.sourceFields != nil:
		// several sources: each one's fields, and _source to tell them apart
		names := p.p.SourceNames()
		for i, fs := range p.sourceFields(names) {
			if len(fs) > 0 {
				lines = append(lines, wrapStyled(s.Dim, "fields of "+names[i]+": "+strings.Join(fs, ", "), p.w)...)
			}
		}
		lines = append(lines, wrapStyled(s.Dim, "_source is the record's source: "+strings.Join(names, ", "), p.w)...)
	case p.fields != nil:
		if names := p.fields(); len(names) > 0 {
			lines = append(lines, wrapStyled(s.Dim, "fields of the attached records: "+strings.Join(names, ", "), p.w)...)
		}
	}
	if joined := p.joinedBefore(f.index); len(joined) > 0 && (ji < 0 || f.index <= ji) {
		lines = append(lines, wrapStyled(s.Dim, "fields joined by lookups: "+strings.Join(joined, ", "), p.w)...)
	}
	width := 0
	for _, fl := range f.fields {
		width = max(width, len(fl.label))
	}
	for i, fl := range f.fields {
		if !f.applies(i) {
			continue
		}
		label := fmt.Sprintf("  %-*s  ", width, fl.label)
		if i == f.focus {
			lines = append(lines, s.Key.Render("> "+label[2:])+fl.in.view(true))
			lines = append(lines, s.Dim.Render(strings.Repeat(" ", width+4)+fl.hint))
		} else {
			lines = append(lines, label+fl.in.view(false))
		}
	}
	lines = append(lines, "")
	if f.err != "" {
		lines = append(lines, wrapStyled(s.Error, "✗ "+f.err, p.w)...)
	} else {
		lines = append(lines, "✓ valid · enter applies it to the running pipeline")
	}
	return lines
}
