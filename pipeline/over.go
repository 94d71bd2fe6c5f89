package pipeline

import (
	"fmt"
	"strconv"

	"github.com/eddyhq/eddy/windows"
	"go.yaml.in/yaml/v3"
)

// Over is the stage that adds, to each row, aggregates over the last rows
// of its key (SQL's OVER (PARTITION BY key ROWS BETWEEN N PRECEDING AND
// CURRENT ROW)).
const Over StageKind = "over"

// OverStage is `over: {key: [...], rows: N, aggregate: {name: f(field)}}`
// (see docs/pipeline.md, "Stages after a window"): each row is passed on
// with its aggregates over the N rows of its key before it and itself, in
// the order the rows reach the stage.
type OverStage struct {
	Key        []string
	Rows       int
	Aggregates []Aggregate
	Line       int
	KeyLine    int
	RowsLine   int
}

// MaxOverRows bounds over.rows: each key holds that many rows' values.
const MaxOverRows = 10_000

// OverOp is a compiled over stage.
type OverOp struct {
	Keys []int // slots
	Rows int   // the rows before the current one
	Aggs []OverAgg
}

// OverAgg is one aggregate of an over stage: Func of the value in Arg (-1
// for count()) over the window of rows, written to Slot.
type OverAgg struct {
	Name string
	Func windows.Func
	Arg  int
	Slot int
}

func (ps *parser) over(n *yaml.Node, path string) *OverStage {
	o := &OverStage{Line: n.Line}
	has := map[string]bool{}
	ps.fields(n, path, []string{"key", "rows", "aggregate"}, func(k string, v *yaml.Node) {
		kp := join(path, k)
		has[k] = true
		switch k {
		case "key":
			o.Key, o.KeyLine = ps.keyList(v, kp, validName)
		case "rows":
			o.RowsLine = v.Line
			s, ok := ps.str(v, kp)
			if !ok {
				return
			}
			r, err := strconv.Atoi(s)
			if err != nil || r < 0 || r > MaxOverRows {
				ps.errorf(v, kp, "must be a whole number from 0 to %d (the rows before the current one), not %q", MaxOverRows, s)
				return
			}
			o.Rows = r
		case "aggregate":
			ps.pairs(v, kp, func(key, val *yaml.Node) {
				ap := join(kp, key.Value)
				a, err := parseAggregate(key.Value, val.Value)
				if err != nil {
					ps.errorf(val, ap, "%v", err)
					return
				}
				switch a.Func {
				case windows.Count, windows.Sum, windows.Avg, windows.Min, windows.Max:
				default:
					ps.errorf(val, ap, "an over stage takes count, sum, avg, min or max, not %s", a.Func)
					return
				}
				if !validName(key.Value) {
					ps.errorf(key, ap, "invalid output field name %q", key.Value)
				}
				a.Line = val.Line
				o.Aggregates = append(o.Aggregates, a)
			})
		}
	})
	if deref(n).Kind == yaml.MappingNode {
		for _, k := range []string{"rows", "aggregate"} {
			if !has[k] {
				ps.errorf(n, join(path, k), "is required")
			}
		}
	}
	return o
}

// over compiles an over stage against the segment's schema: its
// aggregates are new columns after the row's.
func (c *compiler) over(o *OverStage, path string, sc *schema) *OverOp {
	op := &OverOp{}
	if o == nil {
		return op
	}
	op.Rows = o.Rows
	for i, f := range o.Key {
		slot, ok := sc.resolve(f)
		if !ok {
			c.errorf(o.KeyLine, fmt.Sprintf("%s.key[%d]", path, i), "%s", sc.unknown(f))
			continue
		}
		op.Keys = append(op.Keys, slot)
	}
	for _, a := range o.Aggregates {
		ap := join(join(path, "aggregate"), a.Name)
		oa := OverAgg{Name: a.Name, Func: a.Func, Arg: -1}
		if a.Field != "" {
			slot, ok := sc.resolve(a.Field)
			if !ok {
				c.errorf(a.Line, ap, "%s", sc.unknown(a.Field))
				continue
			}
			oa.Arg = slot
		}
		if _, dup := sc.slots[a.Name]; dup {
			c.errorf(a.Line, ap, "%s already has a column %s: name the aggregate otherwise", sc.what, a.Name)
			continue
		}
		oa.Slot = sc.plan.Slots
		sc.plan.Slots++
		sc.names = append(sc.names, a.Name)
		sc.slots[a.Name] = oa.Slot
		op.Aggs = append(op.Aggs, oa)
	}
	return op
}
