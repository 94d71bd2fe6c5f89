package pipeline

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/eddyhq/eddy/windows"
)

// NamedSource is one source of the sources section.
type NamedSource struct {
	Name string
	Source
}

// The types of a join stage.
const (
	JoinInner = "inner"
	JoinLeft  = "left" // left outer
)

// JoinStage is a stream–stream interval join (see docs/joins.md): the
// stage's input records from other sources are the left rows, the records
// of source With the right rows; a left row at tl and a right row at tr
// with equal keys join when tl BETWEEN tr + Lower AND tr + Upper.
type JoinStage struct {
	With         string
	Left, Right  []string // key fields, pairwise equal
	Lower, Upper time.Duration
	Type         string // JoinInner (default) or JoinLeft
	// Window, instead of Lower and Upper, makes it a window join: rows
	// join when they are in the same tumbling or hopping window.
	Window *windows.Spec
	// Until bounds each pair by a time field of one of its rows: FIELD
	// (of the left row) for right.t <= left.FIELD, WITH.FIELD for
	// left.t <= right.FIELD; "" for none. An interval join only.
	Until       string
	UntilLine   int
	Select      []JoinColumn
	Line        int
	WithLine    int
	OnLine      int
	BetweenLine int
	SelectLine  int
}

// JoinColumn is one output column of a join: Field of the left row, or of
// the right row when Right.
type JoinColumn struct {
	Name  string
	Field string
	Right bool
	Line  int
}

// SourceNames returns the names of the spec's sources: those of the
// sources section, or nil with a single source.
func (p *Pipeline) SourceNames() []string {
	var out []string
	for _, s := range p.Sources {
		out = append(out, s.Name)
	}
	return out
}

// AllBounded reports whether every source ends.
func (p *Pipeline) AllBounded() bool {
	if len(p.Sources) == 0 {
		return p.Source.Bounded()
	}
	for _, s := range p.Sources {
		if !s.Bounded() {
			return false
		}
	}
	return true
}

// JoinStage returns the join stage and its index, or nil.
func (p *Pipeline) JoinStage() (*JoinStage, int) {
	for i := range p.Stages {
		if p.Stages[i].Kind == Join {
			return p.Stages[i].Join, i
		}
	}
	return nil, -1
}

// sources decodes the sources section: a mapping of name to source entry.
func (ps *parser) sources(n *yaml.Node, path string) []NamedSource {
	n = deref(n)
	if n.Kind != yaml.MappingNode || len(n.Content) == 0 {
		ps.errorf(n, path, "must be a mapping of source name to source, e.g. bids: {file: bids.jsonl}")
		return nil
	}
	var out []NamedSource
	ps.named(n, path, "source", func(name string, v *yaml.Node, sp string) {
		ns := NamedSource{Name: name}
		ps.source(&ns.Source, v, sp)
		if ns.Source == (Source{Line: ns.Line}) {
			ps.errorf(v, sp, "needs one of %s", orList(kindNames(Kinds(AsSource))))
		}
		if ns.File == "-" {
			ps.errorf(v, join(sp, "file"), "stdin cannot be one of several sources")
		}
		if ns.Line == 0 {
			ns.Line = v.Line
		}
		out = append(out, ns)
	})
	return out
}

// join decodes a join stage.
func (ps *parser) join(n *yaml.Node, path string) *JoinStage {
	j := &JoinStage{Line: n.Line, Type: JoinInner}
	has := map[string]bool{}
	ps.fields(n, path, []string{"with", "on", "between", "window", "until", "type", "select"}, func(k string, v *yaml.Node) {
		kp := join(path, k)
		has[k] = true
		switch k {
		case "with":
			j.With, _ = ps.str(v, kp)
			j.WithLine = v.Line
		case "on":
			j.OnLine = v.Line
			ps.pairs(v, kp, func(l, r *yaml.Node) {
				if !validPath(l.Value) {
					ps.errorf(l, kp, "invalid field name %q", l.Value)
				}
				if !validPath(r.Value) {
					ps.errorf(r, join(kp, l.Value), "invalid field name %q", r.Value)
				}
				j.Left = append(j.Left, l.Value)
				j.Right = append(j.Right, r.Value)
			})
		case "between":
			j.BetweenLine = v.Line
			v = deref(v)
			if v.Kind != yaml.SequenceNode || len(v.Content) != 2 {
				ps.errorf(v, kp, "must be [LOWER, UPPER], two durations: left.t BETWEEN right.t + LOWER AND right.t + UPPER, e.g. [-10s, 5s]")
				return
			}
			var d [2]time.Duration
			for i, c := range v.Content {
				cp := fmt.Sprintf("%s[%d]", kp, i)
				s, ok := ps.str(c, cp)
				if !ok {
					continue
				}
				x, err := time.ParseDuration(s)
				switch {
				case err != nil:
					ps.errorf(c, cp, "invalid duration %q (Go syntax, may be negative: -10s, 0s, 1m30s)", s)
				case x%time.Millisecond != 0:
					ps.errorf(c, cp, "must be a whole number of milliseconds")
				}
				d[i] = x
			}
			if d[0] > d[1] {
				ps.errorf(v, kp, "the lower bound %v is above the upper bound %v", d[0], d[1])
			}
			j.Lower, j.Upper = d[0], d[1]
		case "window":
			j.BetweenLine = v.Line
			j.Window = ps.joinWindow(v, kp)
		case "until":
			j.UntilLine = v.Line
			if s, ok := ps.str(v, kp); ok {
				if !validPath(s) {
					ps.errorf(v, kp, "invalid field name %q", s)
				}
				j.Until = s
			}
		case "type":
			if s, ok := ps.str(v, kp); ok {
				if s != JoinInner && s != JoinLeft {
					ps.errorf(v, kp, "must be inner or left, not %q", s)
				}
				j.Type = s
			}
		case "select":
			j.SelectLine = v.Line
			j.Select = ps.joinSelect(v, kp)
		}
	})
	if deref(n).Kind == yaml.MappingNode {
		for _, k := range []string{"with", "on", "select"} {
			if !has[k] {
				ps.errorf(n, join(path, k), "is required")
			}
		}
		if has["between"] == has["window"] {
			ps.errorf(n, path, "needs exactly one of between (an interval join) or window (a window join)")
		}
		if has["until"] && has["window"] {
			ps.errorf(n, join(path, "until"), "bounds the pairs of an interval join (between), not of a window join")
		}
	}
	return j
}

// joinWindow decodes the window of a window join: {tumbling: SIZE} or
// {hopping: {size: SIZE, slide: SLIDE}}.
func (ps *parser) joinWindow(n *yaml.Node, path string) *windows.Spec {
	sp := &windows.Spec{}
	kinds := 0
	ps.fields(n, path, []string{"tumbling", "hopping"}, func(k string, v *yaml.Node) {
		kp := join(path, k)
		kinds++
		switch k {
		case "tumbling":
			sp.Type = windows.TumblingType
			sp.Size = ps.duration(v, kp, true).Milliseconds()
		case "hopping":
			sp.Type = windows.HoppingType
			ps.fields(v, kp, []string{"size", "slide"}, func(k string, v *yaml.Node) {
				d := ps.duration(v, join(kp, k), true).Milliseconds()
				if k == "size" {
					sp.Size = d
				} else {
					sp.Slide = d
				}
			})
		}
	})
	if deref(n).Kind == yaml.MappingNode {
		if kinds != 1 {
			ps.errorf(n, path, "needs exactly one of tumbling or hopping, e.g. window: {tumbling: 10s}")
		} else if err := sp.Validate(); err != nil && sp.Size > 0 {
			ps.errorf(n, path, "%v", err)
		}
	}
	return sp
}

// joinSelect decodes the select list of a join: each item a field (FIELD
// of the left row, WITH.FIELD of the right row), named after its last
// part, or a one-pair mapping NAME: FIELD.
func (ps *parser) joinSelect(n *yaml.Node, path string) []JoinColumn {
	n = deref(n)
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		ps.errorf(n, path, "must be a list of fields, e.g. [auction, price, auctions.seller, {auction_category: auctions.category}]")
		return nil
	}
	var out []JoinColumn
	for i, c := range n.Content {
		cp := fmt.Sprintf("%s[%d]", path, i)
		c = deref(c)
		var name, field string
		switch {
		case c.Kind == yaml.ScalarNode && c.Tag != "!!null":
			field = c.Value
			name = field[strings.LastIndexByte(field, '.')+1:]
		case c.Kind == yaml.MappingNode && len(c.Content) == 2 && deref(c.Content[1]).Kind == yaml.ScalarNode:
			name, field = c.Content[0].Value, deref(c.Content[1]).Value
		default:
			ps.errorf(c, cp, "must be a field or a pair NAME: FIELD")
			continue
		}
		if !validPath(field) {
			ps.errorf(c, cp, "invalid field name %q", field)
			continue
		}
		if !validName(name) {
			ps.errorf(c, cp, "invalid output field name %q", name)
			continue
		}
		out = append(out, JoinColumn{Name: name, Field: field, Line: c.Line})
	}
	return out
}

// JoinPlan is the compiled join stage. The engine keeps, per row, the
// values of LeftSlots (left rows) or RightSlots (right rows), keyed by
// the values of LeftKeys or RightKeys.
type JoinPlan struct {
	Index        int
	With         int // the right source, an index in Pipeline.Sources
	Lower, Upper int64
	Outer        bool
	LeftKeys     []int
	RightKeys    []int
	LeftSlots    []int
	RightSlots   []int
	// Cols are the output columns, Names theirs: Cols[i] is the value at
	// Pos of the left row's values, or of the right row's when Right.
	Cols  []JoinCol
	Names []string
	// Window is the window of a window join (nil: an interval join): each
	// row is added once per window it is in, its key extended with the
	// window's start, and the rows get window_start and window_end last.
	Window *windows.Spec
	// UntilSlot is the slot of until's field (-1: none), a field of the
	// right rows when UntilRight, else of the left rows.
	UntilSlot  int
	UntilRight bool
}

// JoinCol is one output column of a join.
type JoinCol struct {
	Right bool
	Pos   int
}

// join compiles a join stage (the stages after it are Plan.After).
func (c *compiler) join(index int, j *JoinStage, path string, sc *schema) *JoinPlan {
	p := c.p
	jp := &JoinPlan{Index: index, With: -1, Lower: j.Lower.Milliseconds(), Upper: j.Upper.Milliseconds(), Outer: j.Type == JoinLeft, UntilSlot: -1}
	switch {
	case len(p.Sources) == 0:
		c.errorf(j.WithLine, join(path, "with"), "a join needs a sources section with the source %q and another", j.With)
	default:
		jp.With = slices.IndexFunc(p.Sources, func(s NamedSource) bool { return s.Name == j.With })
		if jp.With < 0 {
			c.errorf(j.WithLine, join(path, "with"), "unknown source %q (the sources section has %s)", j.With, strings.Join(p.SourceNames(), ", "))
		} else if len(p.Sources) < 2 {
			c.errorf(j.WithLine, join(path, "with"), "source %q is the only source: there are no left rows", j.With)
		}
	}
	if p.Time.Field == "" {
		c.errorf(j.Line, path, "a join needs event time: set time.field")
	}
	for i := range j.Left {
		for _, side := range []struct {
			name  string
			keys  *[]int
			field string
		}{{"left", &jp.LeftKeys, j.Left[i]}, {"right", &jp.RightKeys, j.Right[i]}} {
			slot, ok := sc.resolve(side.field)
			if !ok {
				c.errorf(j.OnLine, join(path, "on"), "%s", sc.unknown(side.field))
			}
			*side.keys = append(*side.keys, slot)
		}
	}
	seen := map[string]bool{}
	for i, col := range j.Select {
		cp := fmt.Sprintf("%s.select[%d]", path, i)
		if seen[col.Name] {
			c.errorf(col.Line, cp, "duplicate output field %q", col.Name)
		}
		seen[col.Name] = true
		field, right := col.Field, false
		if f, ok := strings.CutPrefix(field, j.With+"."); ok {
			field, right = f, true
		}
		slot, ok := sc.resolve(field)
		if !ok {
			c.errorf(col.Line, cp, "%s", sc.unknown(field))
		}
		jc := JoinCol{Right: right}
		if right {
			jc.Pos = len(jp.RightSlots)
			jp.RightSlots = append(jp.RightSlots, slot)
		} else {
			jc.Pos = len(jp.LeftSlots)
			jp.LeftSlots = append(jp.LeftSlots, slot)
		}
		jp.Cols = append(jp.Cols, jc)
		jp.Names = append(jp.Names, col.Name)
	}
	if j.Until != "" {
		field, right := j.Until, false
		if f, ok := strings.CutPrefix(field, j.With+"."); ok {
			field, right = f, true
		}
		slot, ok := sc.resolve(field)
		if !ok {
			c.errorf(j.UntilLine, join(path, "until"), "%s", sc.unknown(field))
		}
		jp.UntilSlot, jp.UntilRight = slot, right
	}
	if w := j.Window; w != nil {
		// rows in one window are less than its size apart
		jp.Window = w
		jp.Lower, jp.Upper = -(w.Size - 1), w.Size-1
		for _, n := range []string{"window_start", "window_end"} {
			if seen[n] {
				c.errorf(j.SelectLine, join(path, "select"), "%s is a column of a window join's rows: name the selected field otherwise", n)
			}
			jp.Names = append(jp.Names, n)
		}
	}
	return jp
}

// remapJoin maps the join's slots with m (see remapJoined).
func (jp *JoinPlan) remap(m func(*int)) {
	for _, l := range [][]int{jp.LeftKeys, jp.RightKeys, jp.LeftSlots, jp.RightSlots} {
		for i := range l {
			m(&l[i])
		}
	}
	if jp.UntilSlot >= 0 {
		m(&jp.UntilSlot)
	}
}

// checkSources checks a sources section: every source a Kafka topic or a
// file, each topic or file read by one source only (records are told
// apart by topic and partition).
func (c *compiler) checkSources() {
	seen := map[string]string{}
	for _, s := range c.p.Sources {
		path := "sources." + s.Name
		var reads []string
		switch {
		case s.Kafka != nil:
			reads = s.Kafka.Topics
		case s.File != "":
			reads = []string{s.File}
		default:
			c.errorf(s.Line, path, "only file and kafka sources can be one of several sources")
			continue
		}
		for _, r := range reads {
			if other, ok := seen[r]; ok {
				c.errorf(s.Line, path, "%s is read by source %s too: each topic or file is read by one source", r, other)
			}
			seen[r] = s.Name
		}
	}
}

func formatSources(srcs []NamedSource) *yaml.Node {
	m := mapping()
	for _, ns := range srcs {
		n := formatSource(ns.Source)
		if n == nil {
			n = mapping().Node
		}
		n.Style = yaml.FlowStyle
		m.add(ns.Name, n)
	}
	return m.Node
}

func formatJoin(j *JoinStage) *yaml.Node {
	m := mapping()
	if j == nil {
		return m.Node
	}
	m.add("with", scalar(j.With))
	on := mapping()
	for i := range j.Left {
		on.add(j.Left[i], scalar(j.Right[i]))
	}
	on.Style = yaml.FlowStyle
	m.add("on", on.Node)
	if w := j.Window; w != nil {
		m.add("window", formatJoinWindow(w))
	} else {
		m.add("between", list([]string{FormatDuration(j.Lower), FormatDuration(j.Upper)}))
	}
	if j.Until != "" {
		m.add("until", scalar(j.Until))
	}
	if j.Type != "" && j.Type != JoinInner {
		m.add("type", scalar(j.Type))
	}
	sel := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, c := range j.Select {
		if c.Name == c.Field[strings.LastIndexByte(c.Field, '.')+1:] {
			sel.Content = append(sel.Content, scalar(c.Field))
			continue
		}
		p := mapping()
		p.add(c.Name, scalar(c.Field))
		p.Style = yaml.FlowStyle
		sel.Content = append(sel.Content, p.Node)
	}
	m.add("select", sel)
	return m.Node
}

func formatJoinWindow(w *windows.Spec) *yaml.Node {
	m := mapping()
	addAligned(m, *w)
	m.Style = yaml.FlowStyle
	return m.Node
}
