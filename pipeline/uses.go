package pipeline

import "fmt"

// UsedBy names the stages that read input slot slot (a filter or project
// expression, a coerce, a project copy, a window key or aggregate), as
// spec paths: stages[0].filter, stages[2].window.key. The time field is
// "time.field".
func (p *Plan) UsedBy(slot int) []string {
	var uses []string
	if p.TimeSlot == slot {
		uses = append(uses, "time.field")
	}
	reads := func(prog *Program) bool {
		if prog == nil {
			return false
		}
		for _, v := range prog.Vars {
			if v.Coord == NoCoord && v.Slot == slot {
				return true
			}
		}
		return false
	}
	for _, st := range p.Steps {
		at := func(what string) { uses = append(uses, fmt.Sprintf("stages[%d].%s", st.Index, what)) }
		switch st.Kind {
		case Filter:
			if reads(st.Filter) {
				at("filter")
			}
		case Coerce:
			for _, c := range st.Coerce {
				if c.Slot == slot {
					at("coerce." + c.Field)
				}
			}
		case Project:
			for _, op := range st.Project {
				if reads(op.Prog) || (op.Prog == nil && op.From == slot) {
					at("project." + op.Name)
				}
			}
		case Lookup:
			if st.Lookup.KeySlot == slot {
				at("lookup.on")
			}
		}
	}
	if w := p.Window; w != nil {
		for _, k := range w.Keys {
			if k == slot {
				uses = append(uses, fmt.Sprintf("stages[%d].window.key", w.Index))
			}
		}
		for _, a := range w.Aggs {
			if a.Arg == slot {
				uses = append(uses, fmt.Sprintf("stages[%d].window.aggregate.%s", w.Index, a.Name))
			}
		}
	}
	return uses
}
