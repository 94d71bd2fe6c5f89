package pipeline

import (
	"fmt"
	"strings"

	"github.com/eddyhq/eddy/windows"
)

// Segment is the stages between two windows, or after the last one: they
// run over the rows the window before them (From) emits, as records whose
// columns are that window's (keys, window_start, window_end, aggregates)
// in slots 0..len(In)-1 and whose event time is the window's
// window_end minus one millisecond (Flink's window_time), so a window's
// rows fall into the later window that holds its last instant.
//
// The first segment after a join stage (From nil, FromJoin set) runs over
// the join's rows (its select columns, then window_start and window_end
// for a window join); a row's event time is the later of its two rows'
// times for an interval join (the left row's for an unmatched left row)
// and its window's end minus one millisecond for a window join, as
// Flink's DataStream joins stamp their rows (docs/joins.md).
type Segment struct {
	From     *WindowPlan
	FromJoin *JoinPlan
	In       []string // the columns of the rows the segment takes
	Slots    int      // row width
	Steps    []Step   // filter, coerce, project, top and over
	// Window is the window the segment's rows go into; nil when the rows
	// are the output (Output.Names from Output.Slots).
	Window *WindowPlan
	Output Output
}

// TopOp keeps the first K rows of each window in the order of By.
type TopOp struct {
	K    int
	Ties bool
	By   []int // slots
	Desc []bool
	// Names are the By columns, for messages.
	Names []string
}

// OutputNames returns the columns of the rows the plan writes: the last
// window's, the last segment's, or the streamed output's (nil for a raw
// streamed record).
func (p *Plan) OutputNames() []string {
	if n := len(p.After); n > 0 {
		if w := p.After[n-1].Window; w != nil {
			return w.Names
		}
		return p.After[n-1].Output.Names
	}
	if p.Window != nil {
		return p.Window.Names
	}
	return p.Output.Names
}

// FinalWindow returns the last window of the plan (the one whose rows
// are written when no segment follows it), or nil.
func (p *Plan) FinalWindow() *WindowPlan {
	for i := len(p.After) - 1; i >= 0; i-- {
		if p.After[i].Window != nil {
			return p.After[i].Window
		}
	}
	return p.Window
}

// after compiles the stages from index `from` on, which follow the first
// window or the join: a segment per window they feed, and one for the
// output when the last stage is not a window.
func (c *compiler) after(plan *Plan, from int) []Segment {
	p := c.p
	if from >= len(p.Stages) {
		return nil
	}
	if p.Time.AllowedLateness > 0 && plan.Join == nil {
		// (a join emits each row once: its rows are never revised)
		st := p.Stages[from]
		c.errorf(st.Line, fmt.Sprintf("stages[%d].%s", from, st.Kind),
			"stages after a window need time.allowed_lateness 0: a revised window row would be counted again by the stages after it")
	}
	var segs []Segment
	prev := plan.Window
	var seg Segment
	var sc *schema
	if plan.Join != nil {
		seg, sc = c.joinSegment(plan.Join)
	} else {
		seg, sc = c.segment(prev)
	}
	for i := from; i < len(p.Stages); i++ {
		st := p.Stages[i]
		path := fmt.Sprintf("stages[%d].%s", i, st.Kind)
		switch st.Kind {
		case Filter, Coerce, Project:
			step := c.stateless(i, st, path, sc, nil)
			c.noCoords(step, st, path)
			seg.Steps = append(seg.Steps, step)
		case Lookup:
			if prev == nil {
				c.errorf(st.Line, path, "a lookup after a join is not supported yet: put it before the join")
				continue
			}
			c.errorf(st.Line, path, "a lookup after a window is not supported yet: put it before the window")
		case Join:
			if plan.Join != nil {
				c.errorf(st.Line, path, "a pipeline has one join stage")
				continue
			}
			c.errorf(st.Line, path, "a join after a window is not supported yet: a pipeline has a join or windows before it, not both")
		case Top:
			if prev == nil && plan.Join.Window != nil {
				c.errorf(st.Line, path, "a top right after a join ranks the rows of each left row of an interval join: after a window join put a window stage between the join and the top")
				continue
			}
			if prev == nil {
				// the rows of each left row of the interval join
				seg.Steps = append(seg.Steps, Step{Index: i, Kind: Top, Top: c.top(st.Top, path, sc)})
				continue
			}
			if prev.Spec.Type == windows.SessionType {
				c.errorf(st.Line, path, "a top stage ranks the rows of one window, and every session is a window of its own: use tumbling or hopping windows")
			}
			seg.Steps = append(seg.Steps, Step{Index: i, Kind: Top, Top: c.top(st.Top, path, sc)})
		case Over:
			seg.Steps = append(seg.Steps, Step{Index: i, Kind: Over, Over: c.over(st.Over, path, sc)})
		case Window:
			w := c.window(i, st.Window, path, sc)
			seg.Window = w
			seg.Slots = sc.plan.Slots
			segs = append(segs, seg)
			prev = w
			seg, sc = c.segment(w)
		}
	}
	if last := p.Stages[len(p.Stages)-1]; last.Kind != Window {
		seg.Slots = sc.plan.Slots
		seg.Output = Output{Names: sc.names}
		for _, n := range sc.names {
			seg.Output.Slots = append(seg.Output.Slots, sc.slots[n])
		}
		segs = append(segs, seg)
	}
	return segs
}

// segment starts the segment fed by w's rows: its schema is w's columns.
func (c *compiler) segment(w *WindowPlan) (Segment, *schema) {
	scratch := &Plan{Slots: len(w.Names)}
	sc := &schema{plan: scratch, names: append([]string(nil), w.Names...), slots: map[string]int{},
		what: fmt.Sprintf("the rows of the window at stages[%d]", w.Index)}
	for i, n := range w.Names {
		sc.slots[n] = i
	}
	return Segment{From: w, In: w.Names}, sc
}

// joinSegment starts the segment fed by the join's rows: its schema is
// the join's columns.
func (c *compiler) joinSegment(jp *JoinPlan) (Segment, *schema) {
	scratch := &Plan{Slots: len(jp.Names)}
	sc := &schema{plan: scratch, names: append([]string(nil), jp.Names...), slots: map[string]int{},
		what: fmt.Sprintf("the rows of the join at stages[%d]", jp.Index)}
	for i, n := range jp.Names {
		sc.slots[n] = i
	}
	return Segment{FromJoin: jp, In: jp.Names}, sc
}

// noCoords refuses record coordinates after a window: its rows are not
// records of the source.
func (c *compiler) noCoords(step Step, st Stage, path string) {
	progs := []*Program{step.Filter}
	for _, p := range step.Project {
		progs = append(progs, p.Prog)
	}
	for _, p := range progs {
		if p == nil {
			continue
		}
		for _, v := range p.Vars {
			if v.Coord != NoCoord {
				c.errorf(st.Line, path, "%s is a record coordinate: the rows after a window or a join are their results, not source records", v.Name)
			}
		}
	}
}

func (c *compiler) top(t *TopStage, path string, sc *schema) *TopOp {
	if t == nil || t.K < 1 {
		c.errorf(0, path, "a top stage needs k ≥ 1 and by")
		return &TopOp{K: 1}
	}
	op := &TopOp{K: t.K, Ties: t.Ties}
	for i, o := range t.By {
		slot, ok := sc.resolve(o.Field)
		if !ok {
			c.errorf(t.ByLine, fmt.Sprintf("%s.by[%d]", path, i), "%s", sc.unknown(o.Field))
			continue
		}
		op.By = append(op.By, slot)
		op.Desc = append(op.Desc, o.Desc)
		op.Names = append(op.Names, o.Field)
	}
	return op
}

// Order renders a top stage's by as written: "num desc, auction".
func (t *TopStage) Order() string {
	parts := make([]string, len(t.By))
	for i, o := range t.By {
		parts[i] = o.Field
		if o.Desc {
			parts[i] += " desc"
		}
	}
	return strings.Join(parts, ", ")
}
