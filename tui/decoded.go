package tui

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/eddyhq/eddy/format"
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
	book   *schemaBook // nil: schema ids are not kept
	schema func(context.Context, int) (SchemaInfo, error)
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
		if d.book != nil {
			d.book.note(ctx, r, d.schema)
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

// SchemaInfo describes a writer schema for the record inspector
// (Options.Schema): its id, the subject versions that hold it ("bids-value
// v2"), its type and its text.
type SchemaInfo struct {
	ID       int
	Versions []string
	Type     string
	Text     string
}

// schemaBook remembers the writer schema id of the records decoded lately
// (the feed's goroutine writes, the UI's reads) and what Options.Schema
// said about each id, fetched once per id on the feed's goroutine.
type schemaBook struct {
	mu    sync.Mutex
	ids   map[recKey]int
	order []recKey // oldest first, at most bookCap
	info  map[int]schemaAnswer
}

type recKey struct {
	topic     string
	partition int32
	offset    int64
}

type schemaAnswer struct {
	info SchemaInfo
	err  error
}

// bookCap bounds the records remembered: more than the tail shows.
const bookCap = 4 * TailCap

func newSchemaBook() *schemaBook {
	return &schemaBook{ids: map[recKey]int{}, info: map[int]schemaAnswer{}}
}

// note records r's schema id (from its framed value) and fetches the
// schema's description the first time the id is seen.
func (b *schemaBook) note(ctx context.Context, r *source.Record, fetch func(context.Context, int) (SchemaInfo, error)) {
	id, _, err := format.SchemaID(r.Value)
	if err != nil {
		return
	}
	k := recKey{r.Topic, r.Partition, r.Offset}
	b.mu.Lock()
	if _, ok := b.ids[k]; !ok {
		b.order = append(b.order, k)
		if len(b.order) > bookCap {
			delete(b.ids, b.order[0])
			b.order = append(b.order[:0], b.order[1:]...)
		}
	}
	b.ids[k] = id
	_, known := b.info[id]
	b.mu.Unlock()
	if known || fetch == nil {
		return
	}
	info, err := fetch(ctx, id)
	b.mu.Lock()
	b.info[id] = schemaAnswer{info, err}
	b.mu.Unlock()
}

// lookup is the schema of a record shown in the tail, if it was framed.
func (b *schemaBook) lookup(r *source.Record) (id int, a schemaAnswer, ok bool) {
	if b == nil {
		return 0, a, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	id, ok = b.ids[recKey{r.Topic, r.Partition, r.Offset}]
	if ok {
		a = b.info[id]
	}
	return id, a, ok
}

// schemaLines are the inspector's lines about r's writer schema: a
// summary, and with full the schema's text (i).
func (b *schemaBook) schemaLines(r *source.Record, full bool) []string {
	id, a, ok := b.lookup(r)
	if !ok {
		return nil
	}
	line := fmt.Sprintf("schema id %d", id)
	switch {
	case a.err != nil:
		line += "  (" + a.err.Error() + ")"
	case len(a.info.Versions) > 0:
		line += "  " + strings.Join(a.info.Versions, ", ")
	}
	if a.info.Type != "" {
		line += "  " + a.info.Type
	}
	if !full {
		return []string{line + "  (i: show the schema)"}
	}
	lines := []string{line, "schema"}
	var buf bytes.Buffer
	if json.Indent(&buf, []byte(a.info.Text), "  ", "  ") == nil {
		return append(lines, strings.Split("  "+buf.String(), "\n")...)
	}
	for _, l := range strings.Split(a.info.Text, "\n") {
		lines = append(lines, "  "+l)
	}
	return lines
}
