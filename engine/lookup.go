package engine

import (
	"fmt"

	"github.com/eddyhq/eddy/lookup"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/value"
)

// boundLookup is a lookup step with its table: Cols are the positions of
// the selected columns in the table's rows.
type boundLookup struct {
	keyed *lookup.Keyed
	cols  []int
}

func bindLookups(plan *pipeline.Plan, tables map[string]*lookup.Table) ([]*boundLookup, error) {
	var out []*boundLookup
	for si, st := range plan.Steps {
		op := st.Lookup
		if op == nil {
			continue
		}
		if out == nil {
			out = make([]*boundLookup, len(plan.Steps))
		}
		t := tables[op.Table]
		if t == nil {
			return nil, fmt.Errorf("engine: stages[%d].lookup: table %s is not open", st.Index, op.Table)
		}
		k, err := t.Keyed(op.Column)
		if err != nil {
			return nil, fmt.Errorf("engine: stages[%d].lookup: %w", st.Index, err)
		}
		b := &boundLookup{keyed: k}
		for _, c := range op.Select {
			i, ok := t.Column(c)
			if !ok {
				return nil, fmt.Errorf("engine: stages[%d].lookup: table %s has no column %s", st.Index, op.Table, c)
			}
			b.cols = append(b.cols, i)
		}
		out[si] = b
	}
	return out, nil
}

// lookup runs a lookup step on the current row; false when the record
// ends here (dropped, or a dead letter).
func (e *Engine) lookup(st *pipeline.Step, b *boundLookup, r *source.Record) bool {
	op := st.Lookup
	key := e.row[op.KeySlot]
	trow, ok := b.keyed.Get(key)
	if ok {
		for j, s := range op.Slots {
			e.row[s] = trow[b.cols[j]]
		}
		return true
	}
	switch op.OnMissing {
	case pipeline.MissingDrop:
		e.filtered(st.Index)
		return false
	case pipeline.MissingDLQ:
		e.dead(r, st.Index, "lookup", fmt.Sprintf("lookup_missing: table %s has no row with %s = %s (the record's %s)",
			op.Table, op.Column, value.AppendJSON(nil, key), op.Field))
		return false
	}
	for _, s := range op.Slots {
		e.row[s] = value.Value{}
	}
	return true
}

// checkTables stops the run when a table could not be kept current.
func (e *Engine) checkTables() {
	for _, b := range e.lookups {
		if b == nil || e.err != nil {
			continue
		}
		if err := b.keyed.Table().Err(); err != nil {
			e.err = err
		}
	}
}
