package engine

import (
	"errors"
	"fmt"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/source"
)

// Matcher evaluates one filter expression against records, with the same
// field and coordinate rules as a pipeline's filter stage (`eddy tail
// --where`, `eddy export --where`). Not safe for concurrent use.
type Matcher struct{ e *Engine }

// NewMatcher compiles a filter expression. Errors name the expression.
func NewMatcher(expr string) (*Matcher, error) {
	p := &pipeline.Pipeline{File: "--where", Format: "json", Late: "dlq",
		Stages: []pipeline.Stage{{Kind: pipeline.Filter, Filter: pipeline.Expr{Src: expr, Line: 1, Column: 1}}}}
	plan, err := pipeline.Compile(p)
	if err != nil {
		var es pipeline.Errors
		if errors.As(err, &es) {
			for _, e := range es {
				e.Line, e.Path = 0, ""
			}
		}
		return nil, err
	}
	e, err := New(plan, Options{})
	if err != nil {
		return nil, err
	}
	return &Matcher{e: e}, nil
}

// Match reports whether the record passes the filter. A record whose value
// is not a JSON object, or on which the expression fails, is an error.
func (m *Matcher) Match(r *source.Record) (bool, error) {
	e := m.e
	if err := e.dec.Decode(r.Value, e.row[:e.nIn], nil); err != nil {
		return false, err
	}
	res, err := e.eval(e.plan.Steps[0].Filter, r)
	if err != nil {
		return false, err
	}
	b, ok := res.(bool)
	if !ok {
		return false, fmt.Errorf("filter returned %s, not a boolean", typeName(res))
	}
	return b, nil
}
