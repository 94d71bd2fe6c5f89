package tui

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/NimbleMarkets/ntcharts/v2/canvas/runes"
	tslc "github.com/NimbleMarkets/ntcharts/v2/linechart/timeserieslinechart"
	"github.com/NimbleMarkets/ntcharts/v2/sparkline"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/value"
)

// schema is what the results pane knows of the running pipeline's rows.
type schema struct {
	name     string
	windowed bool
	keys     []string // key columns
	aggs     []string // aggregate columns, in spec order
}

func schemaOf(name string, plan *pipeline.Plan) schema {
	s := schema{name: name}
	if plan == nil || plan.FinalWindow() == nil {
		return s // a window after a join is the plan's only one: FinalWindow
	}
	last := plan.Pipeline.Stages[len(plan.Pipeline.Stages)-1]
	if last.Kind != pipeline.Window {
		// stages after the window (a filter, a top, a project) write
		// rows of their own columns: shown as a table, not charted
		return s
	}
	s.windowed = true
	s.keys = plan.FinalWindow().KeyNames
	for _, a := range last.Window.Aggregates {
		s.aggs = append(s.aggs, a.Name)
	}
	return s
}

// point is one window's aggregates for one key.
type point struct {
	end  int64     // window_end, epoch ms
	vals []float64 // per schema.aggs; NaN when not a number
}

// series is one key's points, oldest first, at most ChartLen.
type series struct {
	label   string
	pts     []point
	touched int64 // update counter when last written
}

// resultsPane shows the last ResultCap result rows of the pipeline, a line
// chart of one aggregate for the top keys, and input and dead-letter rates.
type resultsPane struct {
	c     *Common
	w, h  int
	sch   schema
	rows  []ResultRow
	total int64

	col      int  // selected column (for sorting)
	colOff   int  // first non-key column shown
	sel      int  // selected row of the shown order; -1: none (the newest, or the top when sorted)
	sortBy   int  // column sorted by; -1: arrival order
	desc     bool // sort descending
	chartAgg int  // index into sch.aggs

	series map[string]*series
	clock  int64 // counts series updates, for eviction

	in, dead []float64 // per-second rates, oldest first (set by the root)

	// The chart and sparklines are drawn only when what they show changes:
	// drawing ntcharts' canvas costs milliseconds, a render happens after
	// every message.
	version        int // bumped by every change of data, size or choice
	chartV, sparkV int
	chartW, chartH int
	chartCache     []string
	sparkCache     []string
}

func newResultsPane(c *Common) *resultsPane {
	return &resultsPane{c: c, sortBy: -1, sel: -1, series: map[string]*series{}}
}

func (p *resultsPane) Title() string    { return "Results" }
func (p *resultsPane) SetSize(w, h int) { p.w, p.h = w, h; p.version++ }
func (p *resultsPane) Capturing() bool  { return false }
func (p *resultsPane) Keys() []key.Binding {
	k := p.c.Keys
	return []key.Binding{k.Left, k.Sort, k.Chart, k.Export, k.Copy, scrollHelp}
}

// reset starts over for a newly applied pipeline.
func (p *resultsPane) reset(s schema) {
	*p = resultsPane{c: p.c, w: p.w, h: p.h, sch: s, sortBy: -1, sel: -1, series: map[string]*series{}, in: p.in, dead: p.dead,
		version: p.version + 1}
}

// setRates replaces the sparklines' data.
func (p *resultsPane) setRates(in, dead []float64) {
	p.in, p.dead = in, dead
	p.version++
}

// names are the newest row's columns.
func (p *resultsPane) names() []string {
	if len(p.rows) == 0 {
		return nil
	}
	return p.rows[len(p.rows)-1].Names
}

func (p *resultsPane) Update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	k := p.c.Keys
	n := len(p.names())
	switch {
	case key.Matches(km, k.Left):
		p.col = max(p.col-1, 0)
	case key.Matches(km, k.Right):
		p.col = min(p.col+1, max(n-1, 0))
	case key.Matches(km, k.Sort):
		switch {
		case p.sortBy != p.col:
			p.sortBy, p.desc = p.col, true
		case p.desc:
			p.desc = false
		default:
			p.sortBy = -1
		}
	case key.Matches(km, k.Chart):
		if len(p.sch.aggs) > 0 {
			p.chartAgg = (p.chartAgg + 1) % len(p.sch.aggs)
			p.version++
		}
	case key.Matches(km, k.Copy, k.CopyOther):
		rows := p.sortedRows()
		if len(rows) == 0 {
			return nil
		}
		i := p.sel
		if i < 0 || i >= len(rows) {
			i = len(rows) - 1
		}
		r := rows[i]
		if key.Matches(km, k.CopyOther) && p.col < len(r.Cells) && p.col < len(r.Names) {
			return copyCmd("the cell "+r.Names[p.col], r.Cells[p.col])
		}
		return copyCmd("the row as JSON", string(r.JSON))
	case key.Matches(km, k.Back):
		p.sel = -1
	default:
		// In arrival order the last row means following the newest.
		p.sel, _ = paging(k, km, p.sel, len(p.rows), p.tableRows(), p.sortBy < 0)
	}
	return nil
}

// frozen is how many leading columns stay in sight when the others
// scroll: the window's key columns.
func (p *resultsPane) frozen() int {
	names := p.names()
	n := 0
	for n < len(names) && slices.Contains(p.sch.keys, names[n]) {
		n++
	}
	return n
}

// chartHeight is the lines the chart takes (0: no chart).
func (p *resultsPane) chartHeight() int {
	if p.sch.windowed && len(p.sch.aggs) > 0 {
		return max(min(p.h/2, 14), 5)
	}
	return 0
}

// tableRows is how many rows the table shows: the pane less the head
// line, the chart, the sparklines and the table's header.
func (p *resultsPane) tableRows() int {
	return max(p.h-1-p.chartHeight()-2-1, 1)
}

// sortByName sorts by a column by name (the palette's sort command).
func (p *resultsPane) sortByName(name string, desc bool) error {
	i := slices.Index(p.names(), name)
	if i < 0 {
		return fmt.Errorf("no column %q (columns: %s)", name, strings.Join(p.names(), ", "))
	}
	p.col, p.sortBy, p.desc = i, i, desc
	return nil
}

// chartByName picks the charted aggregate by name.
func (p *resultsPane) chartByName(name string) error {
	i := slices.Index(p.sch.aggs, name)
	if i < 0 {
		return fmt.Errorf("no aggregate %q (aggregates: %s)", name, strings.Join(p.sch.aggs, ", "))
	}
	p.chartAgg = i
	p.version++
	return nil
}

func (p *resultsPane) add(rows []ResultRow) {
	if len(rows) > 0 {
		p.version++
	}
	p.total += int64(len(rows))
	before := len(p.rows)
	p.rows = keepLast(p.rows, ResultCap, rows...)
	if p.sel >= 0 && p.sortBy < 0 {
		// keep the selection on the same row as old ones fall out
		p.sel = max(p.sel-(before+len(rows)-len(p.rows)), 0)
	}
	if p.sch.windowed {
		for _, r := range rows {
			p.track(r)
		}
	}
}

// number reads a value as a float for the chart.
func number(v value.Value) float64 {
	switch v.K {
	case value.Int:
		return float64(v.I)
	case value.Float:
		return v.F
	}
	return math.NaN()
}

// track adds a window row to its key's series; a revision of a window
// replaces its point.
func (p *resultsPane) track(r ResultRow) {
	end := slices.Index(r.Names, "window_end")
	if end < 0 || end >= len(r.Vals) || r.Vals[end].K != value.Time {
		return
	}
	var label []string
	for _, k := range p.sch.keys {
		if i := slices.Index(r.Names, k); i >= 0 {
			label = append(label, r.Cells[i])
		}
	}
	lb := strings.Join(label, "/")
	if lb == "" {
		lb = "(all)"
	}
	pt := point{end: r.Vals[end].I, vals: make([]float64, len(p.sch.aggs))}
	for j, a := range p.sch.aggs {
		pt.vals[j] = math.NaN()
		if i := slices.Index(r.Names, a); i >= 0 && i < len(r.Vals) {
			pt.vals[j] = number(r.Vals[i])
		}
	}
	s := p.series[lb]
	if s == nil {
		if len(p.series) >= ChartKeys {
			p.evict()
		}
		s = &series{label: lb}
		p.series[lb] = s
	}
	p.clock++
	s.touched = p.clock
	if n := len(s.pts); n > 0 && s.pts[n-1].end == pt.end {
		s.pts[n-1] = pt
		return
	}
	s.pts = keepLast(s.pts, ChartLen, pt)
}

func (p *resultsPane) evict() {
	var old *series
	for _, s := range p.series {
		if old == nil || s.touched < old.touched {
			old = s
		}
	}
	delete(p.series, old.label)
}

// top is the TopK series by the charted aggregate in the latest window,
// then by their last value.
func (p *resultsPane) top() []*series {
	var all []*series
	var latest int64
	for _, s := range p.series {
		if len(s.pts) == 0 {
			continue
		}
		all = append(all, s)
		latest = max(latest, s.pts[len(s.pts)-1].end)
	}
	last := func(s *series) float64 {
		v := s.pts[len(s.pts)-1].vals[p.chartAgg]
		if math.IsNaN(v) {
			return math.Inf(-1)
		}
		return v
	}
	slices.SortFunc(all, func(a, b *series) int {
		ra, rb := a.pts[len(a.pts)-1].end == latest, b.pts[len(b.pts)-1].end == latest
		if ra != rb {
			if ra {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(last(b), last(a)); c != 0 {
			return c
		}
		return cmp.Compare(a.label, b.label)
	})
	return all[:min(len(all), TopK)]
}

// chartColors tell the series apart; the legend names them in text too.
var chartColors = []string{"12", "10", "11", "13", "14"}

// chart draws the line chart of the charted aggregate for the top keys.
func (p *resultsPane) chart(w, h int) []string {
	agg := p.sch.aggs[p.chartAgg]
	top := p.top()
	if len(top) == 0 {
		return []string{p.c.Styles.Dim.Render(fmt.Sprintf("chart of %s: waiting for the first window to close", agg))}
	}
	minT, maxT := int64(math.MaxInt64), int64(math.MinInt64)
	minV, maxV := math.Inf(1), math.Inf(-1)
	for _, s := range top {
		for _, pt := range s.pts {
			v := pt.vals[p.chartAgg]
			if math.IsNaN(v) {
				continue
			}
			minT, maxT = min(minT, pt.end), max(maxT, pt.end)
			minV, maxV = min(minV, v), max(maxV, v)
		}
	}
	legend := make([]string, 0, len(top))
	for i, s := range top {
		mark := lipgloss.NewStyle().Foreground(lipgloss.Color(chartColors[i%len(chartColors)])).Render("━" + strconv.Itoa(i+1))
		legend = append(legend, fmt.Sprintf("%s %s %s", mark, s.label, fmtNum(s.pts[len(s.pts)-1].vals[p.chartAgg])))
	}
	head := fmt.Sprintf("%s per window, top %d keys · c: next aggregate · ", agg, len(top)) + strings.Join(legend, "  ")
	if minT > maxT { // no numbers
		return []string{head, p.c.Styles.Dim.Render(agg + " has no numeric values to chart")}
	}
	if minT == maxT {
		minT -= 1000
	}
	if minV == maxV {
		minV, maxV = minV-1, maxV+1
	}
	if minV > 0 {
		minV = 0
	}
	tmin, tmax := time.UnixMilli(minT).UTC(), time.UnixMilli(maxT).UTC()
	c := tslc.New(w, h-1,
		tslc.WithTimeRange(tmin, tmax), tslc.WithYRange(minV, maxV),
		tslc.WithXLabelFormatter(func(_ int, v float64) string { return time.Unix(int64(v), 0).UTC().Format("15:04:05") }),
		tslc.WithYLabelFormatter(func(_ int, v float64) string { return fmtNum(v) }),
		tslc.WithXYSteps(2, 2),
	)
	c.SetViewTimeAndYRange(tmin, tmax, minV, maxV)
	var names []string
	for i, s := range top {
		name := strconv.Itoa(i) + s.label
		names = append(names, name)
		c.SetDataSetStyle(name, lipgloss.NewStyle().Foreground(lipgloss.Color(chartColors[i%len(chartColors)])))
		c.SetDataSetLineStyle(name, []runes.LineStyle{runes.ThinLineStyle, runes.ArcLineStyle}[i%2])
		for _, pt := range s.pts {
			if v := pt.vals[p.chartAgg]; !math.IsNaN(v) {
				c.PushDataSet(name, tslc.TimePoint{Time: time.UnixMilli(pt.end).UTC(), Value: v})
			}
		}
	}
	c.DrawBrailleDataSets(names)
	return append([]string{head}, strings.Split(c.View(), "\n")...)
}

// fmtNum formats a chart number compactly.
func fmtNum(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return "-"
	case a >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', 1, 64) + "M"
	case a >= 1e4:
		return strconv.FormatFloat(v/1e3, 'f', 1, 64) + "k"
	case a == math.Trunc(a):
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// spark draws a one-line sparkline of the last w samples with a label.
func spark(label string, data []float64, w int, unit string) string {
	cur := 0.0
	if len(data) > 0 {
		cur = data[len(data)-1]
	}
	tail := fmt.Sprintf(" %s%s", human(cur), unit)
	lw := len(label) + 1
	sw := max(w-lw-len(tail), 1)
	sl := sparkline.New(sw, 1)
	start := max(0, len(data)-sw)
	sl.PushAll(data[start:])
	sl.Draw()
	return label + " " + sl.View() + tail
}

// sortedRows is the kept rows, in arrival order or sorted by a column.
func (p *resultsPane) sortedRows() []ResultRow {
	if p.sortBy < 0 {
		return p.rows
	}
	names := p.names()
	if p.sortBy >= len(names) {
		return p.rows
	}
	col := names[p.sortBy]
	rows := slices.Clone(p.rows)
	get := func(r ResultRow) (value.Value, string) {
		i := slices.Index(r.Names, col)
		if i < 0 {
			return value.Value{}, ""
		}
		if i < len(r.Vals) {
			return r.Vals[i], r.Cells[i]
		}
		return value.Value{K: value.String, S: r.Cells[i]}, r.Cells[i]
	}
	slices.SortStableFunc(rows, func(a, b ResultRow) int {
		va, sa := get(a)
		vb, sb := get(b)
		c := value.Compare(va, vb)
		if c == 0 {
			c = cmp.Compare(sa, sb)
		}
		if p.desc {
			return -c
		}
		return c
	})
	return rows
}

func (p *resultsPane) View() string {
	s := p.c.Styles
	if p.sch.name == "" && len(p.rows) == 0 {
		return block([]string{"no pipeline yet: open the Pipeline pane (tab) and press a to add stages, or o to open a file"}, p.w, p.h)
	}
	head := fmt.Sprintf("pipeline %s · %d rows (last %d kept)", p.sch.name, p.total, ResultCap)
	names := p.names()
	if p.sortBy >= 0 && p.sortBy < len(names) {
		dir := "↑"
		if p.desc {
			dir = "↓"
		}
		head += fmt.Sprintf(" · sorted by %s %s", names[p.sortBy], dir)
	}
	lines := []string{s.Dim.Render(head)}
	if p.sparkV != p.version || p.sparkCache == nil {
		p.sparkCache = []string{spark("in  ", p.in, p.w, "/s"), spark("dead", p.dead, p.w, "/s")}
		p.sparkV = p.version
	}
	sparks := p.sparkCache
	chartH := p.chartHeight()
	tableH := p.h - 1 - chartH - len(sparks)
	if len(p.rows) == 0 {
		msg := "no rows yet: rows appear as windows close"
		if !p.sch.windowed {
			msg = "no rows yet: records that pass every stage appear here"
		}
		lines = append(lines, msg)
		lines = append(lines, make([]string, max(tableH-1, 0))...)
	} else {
		rows := p.sortedRows()
		sel := p.sel
		if sel >= len(rows) {
			sel = len(rows) - 1
		}
		lo, hi := window(len(rows), sel, tableH-1)
		if p.sortBy >= 0 && sel < 0 {
			lo, hi = 0, min(len(rows), tableH-1)
		}
		cells := make([][]string, 0, hi-lo)
		for _, r := range rows[lo:hi] {
			row := make([]string, len(names))
			for i, n := range names {
				if j := slices.Index(r.Names, n); j >= 0 && j < len(r.Cells) {
					row[i] = r.Cells[j]
				}
			}
			cells = append(cells, row)
		}
		header := slices.Clone(names)
		if p.col < len(header) {
			header[p.col] = "[" + header[p.col] + "]"
		}
		// The key columns stay; the others scroll to keep the picked
		// column in sight.
		view := colView{Frozen: p.frozen(), First: p.colOff}
		view.First = scrollTo(header, cells, p.w, view, p.col)
		mark := -1
		if sel >= 0 {
			mark = sel - lo
		}
		t, sh := scrolled(s, header, cells, p.w, mark, view)
		p.colOff = sh.First
		if more := sh.more(); more != "" {
			lines[0] += s.Dim.Render(" · " + more)
		}
		lines = append(lines, t...)
		lines = append(lines, make([]string, max(tableH-len(t), 0))...)
	}
	if chartH > 0 {
		if p.chartV != p.version || p.chartW != p.w || p.chartH != chartH || p.chartCache == nil {
			p.chartCache, p.chartV, p.chartW, p.chartH = p.chart(p.w, chartH), p.version, p.w, chartH
		}
		ch := p.chartCache
		lines = append(lines, ch...)
		lines = append(lines, make([]string, max(chartH-len(ch), 0))...)
	}
	return block(append(lines, sparks...), p.w, p.h)
}
