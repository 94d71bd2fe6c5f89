package tui

import (
	"context"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/source"
)

// decoded is a source whose values are decoded into the JSON of whole
// records (Options.Decoder): the records pane, the quick filter and the
// pipeline then see decoded fields. A value that does not decode is kept
// as it came (the pipeline makes it a dead letter: not JSON); an error
// that fatal says is the registry's own ends the feed.
type decoded struct {
	source.Source
	decode func([]byte) ([]byte, error)
	fatal  func(error) bool
}

func (d *decoded) Next(ctx context.Context) (*source.Batch, error) {
	b, err := d.Source.Next(ctx)
	if err != nil || b == nil {
		return b, err
	}
	for i := range b.Records {
		r := &b.Records[i]
		if r.Value == nil {
			continue // a tombstone
		}
		v, err := d.decode(r.Value)
		if err != nil {
			if d.fatal != nil && d.fatal(err) {
				d.Source.Release(b)
				return nil, err
			}
			continue
		}
		// the decoder reuses its buffer; the source keeps its own
		r.Value = append([]byte(nil), v...)
	}
	return b, nil
}

// runnable is the plan the feed runs: over decoded records (Options.Decoder
// set) the pipeline reads JSON, whatever format the spec it saves names.
func (m *Model) runnable(plan *pipeline.Plan) *pipeline.Plan {
	if m.opts.Decoder == nil {
		return plan
	}
	return overJSON(plan)
}

// overJSON is plan reading JSON records.
func overJSON(plan *pipeline.Plan) *pipeline.Plan {
	if plan == nil || plan.Pipeline == nil || plan.Pipeline.Format == "json" {
		return plan
	}
	cp, p := *plan, *plan.Pipeline
	p.Format = "json"
	cp.Pipeline = &p
	return &cp
}
