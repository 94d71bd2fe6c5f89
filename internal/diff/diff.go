// Package diff runs two versions of a pipeline over the same records and
// compares their results, for eddy diff: what a change would do before it
// is deployed. Window results are matched by their key columns and window
// bounds (the last revision of each counts); other rows, which have no
// identity, are compared as multisets of whole rows.
package diff

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/format"
	"github.com/eddyhq/eddy/lookup"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/value"
)

// Row is one result row: its columns in order, values as JSON; or, for a
// pipeline that writes records as they came, the record (Raw).
type Row struct {
	Names []string
	Vals  []string // JSON text of each value
	Raw   []byte
}

// Object writes the row as a JSON object, in column order.
func (r Row) Object() []byte {
	if r.Raw != nil {
		return r.Raw
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, n := range r.Names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(value.AppendString(nil, n))
		b.WriteByte(':')
		b.WriteString(r.Vals[i])
	}
	b.WriteByte('}')
	return b.Bytes()
}

// MarshalJSON writes the row as its object.
func (r Row) MarshalJSON() ([]byte, error) { return r.Object(), nil }

// Change is a window result whose values differ: the identity columns
// (keys and window bounds) are equal, Columns names those that changed.
type Change struct {
	Old, New Row
	Columns  []string
}

// Result is the comparison of two runs.
type Result struct {
	Windowed           bool     // rows were matched by key and window
	Identity           []string // the matching columns (windowed)
	Added, Removed     []Row
	Changed            []Change
	Same               int
	OldStats, NewStats engine.Stats
}

// Differs says whether the runs' results differ.
func (r *Result) Differs() bool {
	return len(r.Added)+len(r.Removed)+len(r.Changed) > 0
}

// Run runs old and new over the recorded input and compares their rows.
func Run(ctx context.Context, old, new *pipeline.Plan, in *Recording) (*Result, error) {
	return RunWith(ctx, old, new, in, [2]Inputs{})
}

// Inputs are what a pipeline reads besides its records: the zero value
// is none.
type Inputs struct {
	// Schemas is the schema cache of a registry format (avro, protobuf,
	// json-schema); nil for json.
	Schemas *format.Cache
	// Tables are the open reference tables of the lookup stages
	// (job.OpenTables); nil for none.
	Tables map[string]*lookup.Table
}

// RunWith is Run with the inputs of old and new.
func RunWith(ctx context.Context, old, new *pipeline.Plan, in *Recording, inputs [2]Inputs) (*Result, error) {
	a, err := collect(ctx, old, in, inputs[0])
	if err != nil {
		return nil, fmt.Errorf("old pipeline: %w", err)
	}
	b, err := collect(ctx, new, in, inputs[1])
	if err != nil {
		return nil, fmt.Errorf("new pipeline: %w", err)
	}
	res := &Result{OldStats: a.stats, NewStats: b.stats}
	ida, idb := identity(old), identity(new)
	if ida != nil && slices.Equal(ida, idb) {
		res.Windowed, res.Identity = true, ida
		compareKeyed(res, a.rows, b.rows, len(ida))
	} else {
		compareBags(res, a.rows, b.rows)
	}
	return res, nil
}

// identity names the columns that identify a window result: the keys and
// the window bounds of the last window; nil for a pipeline without a
// window, or whose rows come out of stages after its last window (a
// filter, a top, a project: compared as bags).
func identity(p *pipeline.Plan) []string {
	if p.Window == nil {
		return nil
	}
	if st := p.Pipeline.Stages; st[len(st)-1].Kind != pipeline.Window {
		return nil
	}
	return append(slices.Clone(p.FinalWindow().KeyNames), "window_start", "window_end")
}

type run struct {
	rows  []Row
	stats engine.Stats
}

// collector is the engine's sink: it keeps every row written.
type collector struct{ rows *[]Row }

func (c collector) Write(r *sink.Row) error {
	row := Row{}
	if len(r.Names) == 0 { // a raw record
		row.Raw = slices.Clone(r.JSON)
	} else {
		row.Names = slices.Clone(r.Names)
		for _, v := range r.Vals {
			row.Vals = append(row.Vals, string(value.AppendJSON(nil, v)))
		}
	}
	*c.rows = append(*c.rows, row)
	return nil
}

func (collector) Close() error { return nil }

func collect(ctx context.Context, p *pipeline.Plan, in *Recording, x Inputs) (*run, error) {
	src := in.Source()
	r := &run{}
	e, err := engine.New(p, engine.Options{Sinks: []sink.Sink{collector{&r.rows}}, Schemas: x.Schemas, Tables: x.Tables})
	if err != nil {
		return nil, err
	}
	defer e.Close()
	if err := engine.Run(ctx, src, e); err != nil {
		return nil, err
	}
	r.stats = e.Stats()
	return r, nil
}

// col returns the value of column name in r and whether r has it.
func (r Row) col(name string) (string, bool) {
	i := slices.Index(r.Names, name)
	if i < 0 {
		return "", false
	}
	return r.Vals[i], true
}

// idOf is r's identity as a string key.
func idOf(r Row, id []string) string {
	var b strings.Builder
	for _, n := range id {
		v, _ := r.col(n)
		b.WriteString(v)
		b.WriteByte(0)
	}
	return b.String()
}

// final keeps the last row of each identity (a later revision replaces an
// earlier one), in the order identities first appear.
func final(rows []Row, id []string) (map[string]Row, []string) {
	m := map[string]Row{}
	var order []string
	for _, r := range rows {
		k := idOf(r, id)
		if _, ok := m[k]; !ok {
			order = append(order, k)
		}
		m[k] = r
	}
	return m, order
}

func compareKeyed(res *Result, a, b []Row, nid int) {
	id := res.Identity
	ma, oa := final(a, id)
	mb, ob := final(b, id)
	for _, k := range oa {
		ra := ma[k]
		rb, ok := mb[k]
		if !ok {
			res.Removed = append(res.Removed, ra)
			continue
		}
		var changed []string
		for _, n := range union(ra.Names, rb.Names) {
			if n == "revision" || slices.Contains(id, n) {
				continue
			}
			va, oka := ra.col(n)
			vb, okb := rb.col(n)
			if va != vb || oka != okb {
				changed = append(changed, n)
			}
		}
		if len(changed) > 0 {
			res.Changed = append(res.Changed, Change{Old: ra, New: rb, Columns: changed})
		} else {
			res.Same++
		}
	}
	for _, k := range ob {
		if _, ok := ma[k]; !ok {
			res.Added = append(res.Added, mb[k])
		}
	}
}

// union is a's names, then b's that a lacks.
func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, n := range b {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

func compareBags(res *Result, a, b []Row) {
	count := map[string]int{}
	for _, r := range b {
		count[string(r.Object())]++
	}
	for _, r := range a {
		k := string(r.Object())
		if count[k] > 0 {
			count[k]--
			res.Same++
			continue
		}
		res.Removed = append(res.Removed, r)
	}
	for _, r := range b {
		k := string(r.Object())
		if count[k] > 0 {
			count[k]--
			res.Added = append(res.Added, r)
		}
	}
}
