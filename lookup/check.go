package lookup

import (
	"fmt"
	"slices"
	"strings"

	"github.com/eddyhq/eddy/pipeline"
)

// Needs lists, per table, the key columns and all the columns p's lookup
// stages read, as Options.Keys and Options.Need.
func Needs(p *pipeline.Pipeline) (keys, need map[string][]string) {
	keys, need = map[string][]string{}, map[string][]string{}
	add := func(m map[string][]string, t, c string) {
		if !slices.Contains(m[t], c) {
			m[t] = append(m[t], c)
		}
	}
	for _, st := range p.Stages {
		if l := st.Lookup; l != nil {
			add(keys, l.Table, l.Column)
			add(need, l.Table, l.Column)
			for _, c := range l.Select {
				add(need, l.Table, c)
			}
		}
	}
	return keys, need
}

// Check reports each lookup of p that names a column its table does not
// have, at the stage's line, as pipeline.Errors.
func Check(p *pipeline.Pipeline, tables map[string]*Table) error {
	var errs pipeline.Errors
	for i, st := range p.Stages {
		l := st.Lookup
		if l == nil {
			continue
		}
		path := fmt.Sprintf("stages[%d].lookup", i)
		t := tables[l.Table]
		if t == nil {
			errs = append(errs, &pipeline.Error{File: p.File, Line: l.TableLine, Path: path + ".table", Msg: fmt.Sprintf("table %q is not open", l.Table)})
			continue
		}
		have := strings.Join(t.Columns(), ", ")
		if _, ok := t.Column(l.Column); !ok {
			errs = append(errs, &pipeline.Error{File: p.File, Line: l.OnLine, Path: path + ".on." + l.Field,
				Msg: fmt.Sprintf("unknown column %q: table %s has %s", l.Column, l.Table, have)})
		}
		for j, c := range l.Select {
			if _, ok := t.Column(c); !ok {
				errs = append(errs, &pipeline.Error{File: p.File, Line: l.SelectLine, Path: fmt.Sprintf("%s.select[%d]", path, j),
					Msg: fmt.Sprintf("unknown column %q: table %s has %s", c, l.Table, have)})
			}
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}
