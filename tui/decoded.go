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

// tailView decodes the records' values into the JSON of whole records
// (Options.Decoder) before the hub and the engine see them: the records
// pane, the quick filter, the forms, the x export and the pipeline then
// see decoded fields. A value that does not decode is kept as it came, and
// why in the book; the feed makes it a dead letter of the decode stage
// with the decoder's reason, as eddy run does, without giving it to the
// engine. An error that fatal says is the registry's own ends the feed.
// It runs on the feed's goroutine.
type tailView struct {
	decode func([]byte) ([]byte, error)
	fatal  func(error) bool
	book   *schemaBook // nil: schema ids, types and failures are not kept
	schema func(context.Context, int) (SchemaInfo, error)
	types  func([]byte) (map[string]string, error) // nil: no declared types
	bad    []undecoded                             // the last batch's values that did not decode
	arena  []byte                                  // the last batch's decoded values
}

// undecoded is a record of a batch whose value did not decode.
type undecoded struct {
	i   int // its index in the batch
	err error
}

// batch decodes the values of rs in place and returns those that did not
// decode, in order. The decoded values lie in an arena reused by the next
// call (the batch's own bytes stay the source's): the feed handles a
// batch whole before the next, and the hub, the rows and the dead letters
// keep copies.
func (d *tailView) batch(ctx context.Context, rs []source.Record) ([]undecoded, error) {
	if d == nil || d.decode == nil {
		return nil, nil
	}
	d.bad, d.arena = d.bad[:0], d.arena[:0]
	kept := len(rs) - TailCap // the book keeps what the tail may show: the hub keeps no more of a batch
	for i := range rs {
		r := &rs[i]
		if r.Value == nil {
			continue // a tombstone
		}
		book := d.book
		if i < kept {
			book = nil
		}
		if book != nil {
			book.note(ctx, r, d.schema, d.types)
		}
		v, err := d.decode(r.Value)
		if err != nil {
			if d.fatal != nil && d.fatal(err) {
				return nil, err
			}
			if book != nil {
				book.failed(r, err)
			}
			d.bad = append(d.bad, undecoded{i, err})
			continue
		}
		// the decoder reuses its buffer
		at := len(d.arena)
		d.arena = append(d.arena, v...)
		r.Value = d.arena[at:len(d.arena):len(d.arena)]
	}
	return d.bad, nil
}

// withoutUndecoded is rs less the records of bad (rs itself when none;
// else a copy in buf).
func withoutUndecoded(rs []source.Record, bad []undecoded, buf []source.Record) []source.Record {
	if len(bad) == 0 {
		return rs
	}
	out := buf[:0]
	j := 0
	for i := range rs {
		if j < len(bad) && bad[j].i == i {
			j++
			continue
		}
		out = append(out, rs[i])
	}
	return out
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

// schemaBook remembers, for the records decoded lately, their writer
// schema id, the DuckDB types the schema declares (Options.Types) and, for
// those that did not decode, why (the feed's goroutine writes, the UI's
// reads); and what Options.Schema said about each id, fetched once per id
// on the feed's goroutine.
type schemaBook struct {
	mu sync.Mutex
	// ids holds the newest records (up to bookCap), old the bookCap
	// before them: when ids is full it becomes old, dropping old whole,
	// so no record is ever deleted one by one.
	ids, old map[recKey]bookEntry
	info     map[int]schemaAnswer
}

// bookEntry is what the book knows of one record.
type bookEntry struct {
	id     int
	framed bool              // id is the value's schema id
	types  map[string]string // shared by the records of one schema
	err    error             // the decoder's, for a value that did not decode
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
	return &schemaBook{ids: map[recKey]bookEntry{}, info: map[int]schemaAnswer{}}
}

// note records r's schema id (from its framed value) and the types its
// schema declares (types nil: none), and fetches the schema's description
// the first time the id is seen.
func (b *schemaBook) note(ctx context.Context, r *source.Record, fetch func(context.Context, int) (SchemaInfo, error), types func([]byte) (map[string]string, error)) {
	id, _, err := format.SchemaID(r.Value)
	if err != nil {
		return
	}
	e := bookEntry{id: id, framed: true}
	if types != nil {
		e.types, _ = types(r.Value) // an error here is the decoder's too, kept by failed
	}
	b.mu.Lock()
	b.put(recKey{r.Topic, r.Partition, r.Offset}, e)
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

// put sets what the book knows of a record, keeping the last bookCap to
// 2×bookCap records; b.mu is held.
func (b *schemaBook) put(k recKey, e bookEntry) {
	if _, ok := b.ids[k]; !ok && len(b.ids) >= bookCap {
		b.old, b.ids = b.ids, make(map[recKey]bookEntry, bookCap)
	}
	b.ids[k] = e
}

// get is what the book knows of a record; b.mu is held.
func (b *schemaBook) get(k recKey) bookEntry {
	if e, ok := b.ids[k]; ok {
		return e
	}
	return b.old[k]
}

// failed records why r's value did not decode.
func (b *schemaBook) failed(r *source.Record, err error) {
	k := recKey{r.Topic, r.Partition, r.Offset}
	b.mu.Lock()
	e := b.get(k)
	e.err = err
	b.put(k, e)
	b.mu.Unlock()
}

// entry is what the book knows of r (the zero entry when nothing).
func (b *schemaBook) entry(r *source.Record) bookEntry {
	if b == nil {
		return bookEntry{}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.get(recKey{r.Topic, r.Partition, r.Offset})
}

// lookup is the schema of a record shown in the tail, if it was framed.
func (b *schemaBook) lookup(r *source.Record) (id int, a schemaAnswer, ok bool) {
	if b == nil {
		return 0, a, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.get(recKey{r.Topic, r.Partition, r.Offset})
	if !e.framed {
		return 0, a, false
	}
	return e.id, b.info[e.id], true
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
