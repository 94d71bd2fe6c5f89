package tui

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/eddyhq/eddy/decode"
	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/value"
)

// entry is a record in the tail with its top-level JSON fields in order.
type entry struct {
	rec    source.Record
	names  []string
	cells  map[string]string
	passes bool // passes the quick filter
	// Of a decoded topic (Options.Decoder), from the book: the DuckDB
	// types the record's schema declares, for the export, and why a
	// value that is not decoded did not decode.
	types     map[string]string
	undecoded error
}

func newEntry(r source.Record) entry {
	e := entry{rec: r, passes: true}
	e.names, e.cells = fields(r.Value)
	return e
}

// fields returns a JSON object's top-level field names in order and their
// values as cells; nil for anything that is not a valid object. It uses the
// engine's scanner: this runs for every record shown, on the UI goroutine.
func fields(b []byte) ([]string, map[string]string) {
	var names []string
	cells := make(map[string]string, 8)
	err := decode.Fields(b, func(name string, v value.Value) {
		if _, dup := cells[name]; !dup {
			names = append(names, name)
		}
		cells[name] = cell(v)
	})
	if err != nil {
		return nil, nil
	}
	return names, cells
}

// recordsPane is the live tail: a ring of the last TailCap records.
type recordsPane struct {
	c       *Common
	w, h    int
	ring    []entry // oldest first, at most TailCap
	sel     int     // index into the visible (filtered) entries; -1 follows the newest
	raw     bool
	paused  bool
	skipped int64 // records that arrived while paused or beyond TailCap per refresh

	filtering bool   // the filter input is open
	input     input  // what is typed
	expr      string // the applied filter
	matcher   *engine.Matcher
	filterErr error
	parts     map[int32]bool // partitions shown; nil: all

	inspecting bool
	showSchema bool        // i in the inspector: the record's writer schema
	book       *schemaBook // the schema ids of decoded records; nil: none
	colOff     int         // first field column shown (←/→); OFFSET stays

	// sourceOf names the source of a record by its topic or file, with
	// several sources (the _source column); nil: one source.
	sourceOf map[string]string

	start    string // where the attached source started reading
	lastLine int64  // the newest record's line (files)
	seeking  bool   // the seek prompt is open
	seekIn   input
	seekErr  string
}

// seekMsg asks the root to read the attached source from start.
type seekMsg struct{ start string }

// timeFields are the names that likely hold event time, best first.
var timeFields = []string{"ts", "timestamp", "event_time", "time", "date_time", "created_at", "eventTime", "dateTime"}

// timeField guesses the event-time field of the newest records: a field
// with a usual name in the newest JSON object among the last 100 records,
// "" when none has one.
func (p *recordsPane) timeField() string {
	for i := len(p.ring) - 1; i >= max(0, len(p.ring)-100); i-- {
		e := p.ring[i]
		if e.cells == nil {
			continue // not an object (a malformed record, say)
		}
		for _, n := range timeFields {
			if _, ok := e.cells[n]; ok {
				return n
			}
		}
		return ""
	}
	return ""
}

// fieldNames are the top-level fields of the newest record that is an
// object (for --format topics, the decoded record's), for the pipeline
// forms.
func (p *recordsPane) fieldNames() []string {
	for i := len(p.ring) - 1; i >= max(0, len(p.ring)-100); i-- {
		if e := p.ring[i]; e.cells != nil {
			return e.names
		}
	}
	return nil
}

// sourceFields are, with several sources, the top-level fields of each
// source's newest record that is an object (among the last 1,000), in
// the order of names; nil with one source.
func (p *recordsPane) sourceFields(names []string) [][]string {
	if p.sourceOf == nil {
		return nil
	}
	out := make([][]string, len(names))
	left := len(names)
	for i := len(p.ring) - 1; i >= 0 && left > 0; i-- {
		e := p.ring[i]
		if e.cells == nil {
			continue
		}
		j := slices.Index(names, p.sourceOf[e.rec.Topic])
		if j >= 0 && out[j] == nil {
			out[j], left = e.names, left-1
		}
	}
	return out
}

// setFilter applies a quick filter expression ("" clears it).
func (p *recordsPane) setFilter(expr string) error {
	p.input = newInput(expr)
	p.applyFilter()
	if p.filterErr != nil {
		err := p.filterErr
		p.filterErr = nil
		return err
	}
	p.filtering = false
	return nil
}

// handle takes the messages the pane owns besides keys; none yet.
func (p *recordsPane) handle(tea.Msg) (tea.Cmd, bool) { return nil, false }

func (p *recordsPane) Title() string    { return "Records" }
func (p *recordsPane) SetSize(w, h int) { p.w, p.h = w, h }
func (p *recordsPane) Capturing() bool  { return p.filtering || p.seeking }

func (p *recordsPane) Keys() []key.Binding {
	k := p.c.Keys
	if p.filtering || p.seeking {
		return []key.Binding{key.NewBinding(key.WithHelp("enter", "apply")), key.NewBinding(key.WithHelp("esc", "cancel"))}
	}
	if p.inspecting {
		if p.book != nil {
			return []key.Binding{k.Back, key.NewBinding(key.WithKeys("i"), key.WithHelp("i", "schema"))}
		}
		return []key.Binding{k.Back}
	}
	pause := k.Pause
	if p.paused {
		pause.SetHelp("space", "resume")
	}
	enter := k.Enter
	enter.SetHelp("enter", "inspect")
	return []key.Binding{k.Filter, k.Raw, pause, k.Seek, enter, k.Export, k.Copy, k.Left, scrollHelp}
}

// visible returns the indexes of the entries that pass the filter.
func (p *recordsPane) visible() []int {
	v := make([]int, 0, len(p.ring))
	for i, e := range p.ring {
		if e.passes {
			v = append(v, i)
		}
	}
	return v
}

func (p *recordsPane) match(e *entry) {
	e.passes = p.parts == nil || (!e.rec.File && p.parts[e.rec.Partition])
	if !e.passes {
		return
	}
	if p.matcher != nil {
		ok, err := p.matcher.Match(&e.rec)
		e.passes = ok && err == nil
	}
}

// add appends records to the ring unless paused.
func (p *recordsPane) add(rs []source.Record, dropped int64) {
	if p.paused {
		p.skipped += int64(len(rs)) + dropped
		return
	}
	p.skipped += dropped
	if n := len(rs); n > 0 && rs[n-1].File {
		p.lastLine = rs[n-1].Offset
	}
	es := make([]entry, len(rs))
	for i, r := range rs {
		es[i] = newEntry(r)
		if p.book != nil {
			be := p.book.entry(&r)
			es[i].types, es[i].undecoded = be.types, be.err
			if be.err != nil {
				// a value that is JSON already still did not decode: the
				// pipeline makes it a dead letter, the row shows why
				es[i].names, es[i].cells = nil, nil
			}
		}
		p.match(&es[i])
	}
	if p.sel >= 0 {
		// Keep the selection on the same record as old ones fall out.
		before := len(p.visible())
		p.ring = keepLast(p.ring, TailCap, es...)
		p.sel = max(0, p.sel-(before+countPass(es)-len(p.visible())))
		return
	}
	p.ring = keepLast(p.ring, TailCap, es...)
}

func countPass(es []entry) int {
	n := 0
	for _, e := range es {
		if e.passes {
			n++
		}
	}
	return n
}

func (p *recordsPane) Update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyPressMsg)
	if !ok {
		if p.filtering {
			p.input.update(msg)
		} else if p.seeking {
			p.seekIn.update(msg)
		}
		return nil
	}
	k := p.c.Keys
	if p.filtering {
		switch km.String() {
		case "esc":
			p.filtering, p.filterErr = false, nil
		case "enter":
			p.applyFilter()
		default:
			p.input.update(km)
		}
		return nil
	}
	if p.seeking {
		switch km.String() {
		case "esc":
			p.seeking = false
		case "enter":
			start := strings.TrimSpace(p.seekIn.String())
			if err := validStart(start, len(p.ring) > 0 && p.ring[0].rec.File); err != nil {
				p.seekErr = err.Error()
				return nil
			}
			p.seeking = false
			return func() tea.Msg { return seekMsg{start} }
		default:
			p.seekIn.update(km)
			p.seekErr = ""
		}
		return nil
	}
	if p.inspecting {
		if key.Matches(km, k.Back, k.Enter) {
			p.inspecting, p.showSchema = false, false
		} else if km.String() == "i" && p.book != nil {
			p.showSchema = !p.showSchema
		}
		return nil
	}
	n := len(p.visible())
	switch {
	case key.Matches(km, k.Filter):
		p.filtering, p.input = true, newInput(p.expr)
	case key.Matches(km, k.Seek):
		p.seeking, p.seekErr = true, ""
		p.seekIn = newInput(p.start)
	case key.Matches(km, k.Raw):
		p.raw = !p.raw
	case key.Matches(km, k.Pause):
		p.paused = !p.paused
	case key.Matches(km, k.Enter):
		if n > 0 {
			if p.sel < 0 {
				p.sel = n - 1
			}
			p.inspecting = true
		}
	case key.Matches(km, k.Copy, k.CopyOther):
		vis := p.visible()
		if len(vis) == 0 {
			return nil
		}
		i := p.sel
		if i < 0 || i >= len(vis) {
			i = len(vis) - 1
		}
		r := p.ring[vis[i]].rec
		at := fmt.Sprintf("%s/%d@%d", r.Topic, r.Partition, r.Offset)
		if r.File {
			at = fmt.Sprintf("%s line %d", r.Topic, r.Offset)
		}
		if key.Matches(km, k.CopyOther) {
			return copyCmd("the key of "+at, string(r.Key))
		}
		return copyCmd("the value of "+at, string(r.Value))
	case key.Matches(km, k.Left):
		p.colOff = max(p.colOff-1, 0)
	case key.Matches(km, k.Right):
		p.colOff++ // clamped when drawn: no further than the last column needs
	case key.Matches(km, k.Back):
		p.sel = -1
	default:
		// the last row means following the newest again
		p.sel, _ = paging(k, km, p.sel, n, p.h-4, true)
	}
	return nil
}

// setPartitions shows only the records of the listed partitions
// ("0,2"; "" shows all again).
func (p *recordsPane) setPartitions(list string) error {
	var parts map[int32]bool
	if list = strings.TrimSpace(list); list != "" {
		parts = map[int32]bool{}
		for _, f := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' }) {
			n, err := strconv.ParseInt(f, 10, 32)
			if err != nil || n < 0 {
				return fmt.Errorf("partition %q: want a partition number (0, 1, …), a list (0,2), or nothing for all", f)
			}
			parts[int32(n)] = true
		}
	}
	p.parts = parts
	for i := range p.ring {
		p.match(&p.ring[i])
	}
	p.sel = -1
	return nil
}

// partList is the partition filter as typed back ("0,2").
func (p *recordsPane) partList() string {
	ns := make([]int, 0, len(p.parts))
	for n := range p.parts {
		ns = append(ns, int(n))
	}
	slices.Sort(ns)
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = strconv.Itoa(n)
	}
	return strings.Join(out, ",")
}

// applyFilter compiles the typed expression; an error stays in place.
func (p *recordsPane) applyFilter() {
	in := strings.TrimSpace(p.input.String())
	if in == "" {
		p.matcher, p.expr, p.filterErr, p.filtering = nil, "", nil, false
	} else {
		m, err := engine.NewMatcher(in)
		if err != nil {
			p.filterErr = errors.New(strings.TrimPrefix(err.Error(), "--where: "))
			return
		}
		p.matcher, p.expr, p.filterErr, p.filtering = m, in, nil, false
	}
	for i := range p.ring {
		p.match(&p.ring[i])
	}
	p.sel = -1
}

func (p *recordsPane) selected() (entry, bool) {
	v := p.visible()
	if len(v) == 0 {
		return entry{}, false
	}
	i := p.sel
	if i < 0 || i >= len(v) {
		i = len(v) - 1
	}
	return p.ring[v[i]], true
}

func (p *recordsPane) View() string {
	s := p.c.Styles
	var top []string
	state := fmt.Sprintf("%d records (last %d kept)", len(p.ring), TailCap)
	if p.start != "" {
		state += " · from " + p.start
	}
	if p.paused {
		state += " · PAUSED"
		if p.skipped > 0 {
			state += fmt.Sprintf(" (%d skipped)", p.skipped)
		}
	}
	if p.raw {
		state += " · raw"
	}
	if p.expr != "" {
		state += " · filter: " + p.expr
	}
	if p.parts != nil {
		state += " · partition " + p.partList()
	}
	top = append(top, s.Dim.Render(state))
	// Prompts and errors wrap: none is cut at the edge.
	if p.filtering {
		top = append(top, "/"+p.input.view(true))
		if p.filterErr != nil {
			top = append(top, wrapStyled(s.Error, "error: "+p.filterErr.Error(), p.w)...)
		}
	}
	if p.seeking {
		top = append(top, wrapStyled(s.Dim, "seek to earliest | latest | offset:N | last:N | time:RFC3339 | time:-5m", p.w)...)
		top = append(top, "seek to: "+p.seekIn.view(true))
		if p.seekErr != "" {
			top = append(top, wrapStyled(s.Error, "error: "+p.seekErr, p.w)...)
		}
	}
	if p.inspecting {
		if e, ok := p.selected(); ok {
			lines := inspect(e)
			if p.sourceOf != nil {
				lines = append([]string{"source " + p.sourceOf[e.rec.Topic]}, lines...)
			}
			if sl := p.book.schemaLines(&e.rec, p.showSchema); sl != nil {
				// after the coordinates, timestamp, key and headers, before the value
				at := len(lines)
				for i, l := range lines {
					if l == "value" {
						at = i
					}
				}
				lines = append(lines[:at:at], append(sl, lines[at:]...)...)
			}
			return block(append(top, lines...), p.w, p.h)
		}
	}
	if len(p.ring) == 0 {
		top = append(top, "waiting for records…")
		return block(top, p.w, p.h)
	}
	v := p.visible()
	sel := p.sel
	if sel < 0 || sel >= len(v) {
		sel = len(v) - 1
	}
	lo, hi := window(len(v), sel, p.h-len(top)-1)
	var lines []string
	if p.raw {
		lines = append(lines, s.Header.Render(fit("OFFSET    VALUE", p.w)))
		for i := lo; i < hi; i++ {
			e := p.ring[v[i]]
			l := fit(fmt.Sprintf("%-8s  %s", coord(e.rec), printable(string(e.rec.Value))), p.w)
			if i == sel && p.sel >= 0 {
				l = s.Selected.Render(l)
			}
			lines = append(lines, l)
		}
	} else {
		cols := columns(p.ring, v[lo:hi])
		mc := metaColumns(p.ring, v[lo:hi])
		if p.sourceOf != nil {
			mc = meta{names: []string{"_source", "POS"}, frozen: 2, sources: p.sourceOf}
		}
		header := append(slices.Clone(mc.names), cols...)
		if len(cols) == 0 {
			header = append(header, "VALUE") // every record shown is malformed
		}
		// A malformed record is marked in the first field's column, cut to
		// the width the other records give it: a long broken value must
		// not widen the column and push the others away (enter or r shows
		// it whole).
		markW := lipgloss.Width(header[len(mc.names)])
		if len(cols) == 0 {
			markW = p.w // the only column: the reasons show whole
		}
		for i := lo; i < hi; i++ {
			if e := p.ring[v[i]]; e.cells != nil && len(cols) > 0 {
				markW = max(markW, lipgloss.Width(e.cells[cols[0]]))
			} else if e.undecoded != nil {
				// the decoder's reason shows, up to a bound
				markW = max(markW, min(reasonW, lipgloss.Width(undecodedMark+e.undecoded.Error())))
			}
		}
		mark1 := ansi.Truncate(malformedMark, max(markW, 2), "…")
		rows := make([][]string, 0, hi-lo)
		for i := lo; i < hi; i++ {
			e := p.ring[v[i]]
			row := mc.cells(e.rec)
			if e.cells == nil {
				mark := mark1
				if e.undecoded != nil {
					mark = ansi.Truncate(undecodedMark+e.undecoded.Error(), max(markW, 2), "…")
				}
				rows = append(rows, append(row, mark))
				continue
			}
			for _, c := range cols {
				row = append(row, e.cells[c])
			}
			rows = append(rows, row)
		}
		mark := -1
		if p.sel >= 0 {
			mark = sel - lo
		}
		var sh shown
		lines, sh = scrolled(s, header, rows, p.w, mark, colView{Frozen: mc.frozen, First: p.colOff})
		p.colOff = sh.First
		if more := sh.more(); more != "" {
			top[0] += s.Dim.Render(" · " + more)
		}
	}
	return block(append(top, lines...), p.w, p.h)
}

// meta are the columns of a record's own coordinates before its fields:
// LINE for a file; P (partition) and OFFSET, then KEY and TIME when any
// record shown has a key or a timestamp, for a topic. The first (LINE, or
// P and OFFSET) stay when the others scroll.
type meta struct {
	names        []string
	frozen       int
	file         bool
	key, created bool
	// sources, with several sources, names each record's source first
	// (_source), before its position (L12, or partition/offset)
	sources map[string]string
}

func metaColumns(ring []entry, idx []int) meta {
	m := meta{names: []string{"LINE"}, frozen: 1, file: len(idx) > 0 && ring[idx[0]].rec.File}
	if m.file {
		return m
	}
	m.names, m.frozen = []string{"P", "OFFSET"}, 2
	for _, i := range idx {
		r := ring[i].rec
		m.key = m.key || r.Key != nil
		m.created = m.created || r.Timestamp != 0
	}
	if m.key {
		m.names = append(m.names, "KEY")
	}
	if m.created {
		m.names = append(m.names, "TIME")
	}
	return m
}

// cells are a record's meta cells.
func (m meta) cells(r source.Record) []string {
	if m.sources != nil {
		return []string{m.sources[r.Topic], coord(r)}
	}
	if m.file {
		return []string{coord(r)}
	}
	out := []string{strconv.Itoa(int(r.Partition)), strconv.FormatInt(r.Offset, 10)}
	if m.key {
		out = append(out, keyCell(r.Key))
	}
	if m.created {
		ts := ""
		if r.Timestamp != 0 {
			ts = time.UnixMilli(r.Timestamp).UTC().Format("15:04:05.000")
		}
		out = append(out, ts)
	}
	return out
}

// keyCell shows a record key as text, quoted when it is not printable
// UTF-8 so that no two keys look alike.
func keyCell(k []byte) string {
	if k == nil {
		return ""
	}
	if utf8.Valid(k) && strconv.CanBackquote(string(k)) && !strings.ContainsAny(string(k), "`\"") {
		return string(k)
	}
	return strconv.Quote(string(k))
}

// malformedMark stands in a Records row for a record that is not a JSON
// object; undecodedMark, before the decoder's reason, for a value of a
// --format topic that did not decode.
const (
	malformedMark = "⚠ malformed"
	undecodedMark = "⚠ "
	reasonW       = 48 // the most a reason widens the first field's column
)

// columns are the field names of the shown entries, in first-seen order.
func columns(ring []entry, idx []int) []string {
	seen := map[string]bool{}
	var cols []string
	for _, i := range idx {
		for _, n := range ring[i].names {
			if !seen[n] {
				seen[n] = true
				cols = append(cols, n)
			}
		}
	}
	return cols
}

// coord is a record's short position: partition/offset, or the line of a file.
func coord(r source.Record) string {
	if r.File {
		return "L" + strconv.FormatInt(r.Offset, 10)
	}
	return fmt.Sprintf("%d/%d", r.Partition, r.Offset)
}

// inspect is the detail view of one record.
func inspect(e entry) []string {
	r := e.rec
	lines := []string{}
	if r.File {
		lines = append(lines, fmt.Sprintf("file %s  line %d", r.Topic, r.Offset))
	} else {
		lines = append(lines, fmt.Sprintf("topic %s  partition %d  offset %d", r.Topic, r.Partition, r.Offset))
	}
	ts := "unknown"
	if r.Timestamp != 0 {
		ts = time.UnixMilli(r.Timestamp).UTC().Format(time.RFC3339Nano)
	}
	lines = append(lines, "timestamp "+ts)
	if r.Key == nil {
		lines = append(lines, "key (none)")
	} else {
		lines = append(lines, "key "+strconv.Quote(string(r.Key)))
	}
	if len(r.Headers) == 0 {
		lines = append(lines, "headers (none)")
	} else {
		lines = append(lines, "headers")
		for _, h := range r.Headers {
			lines = append(lines, fmt.Sprintf("  %s: %q", h.Key, h.Value))
		}
	}
	if e.undecoded != nil {
		lines = append(lines, "not decoded: "+e.undecoded.Error())
	}
	lines = append(lines, "value")
	var buf bytes.Buffer
	if json.Indent(&buf, r.Value, "  ", "  ") == nil {
		for _, l := range strings.Split("  "+buf.String(), "\n") {
			lines = append(lines, printable(l)) // JSON strings may hold C1 controls
		}
	} else {
		lines = append(lines, "  "+strconv.Quote(string(r.Value)))
	}
	return lines
}

// orderedFields is a JSON object's top-level fields and their cells in
// order; anything else is one "value" cell.
func orderedFields(b []byte) ([]string, []string) {
	names, cells := fields(b)
	if names == nil {
		return []string{"value"}, []string{printable(string(b))}
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = cells[n]
	}
	return names, out
}
