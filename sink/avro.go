package sink

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eddyhq/eddy/value"
)

// Registrar registers a schema under a subject and returns its id;
// franz-go's *sr.Client satisfies it.
type Registrar interface {
	RegisterSchema(ctx context.Context, subject string, s sr.Schema, id, version int) (int, error)
}

// AvroRows encodes rows as Avro records framed for a schema registry (the
// magic byte, the schema id, the binary record), for a Kafka sink's
// format: avro. The schema is derived from the rows: a record of the row's
// fields in order, each a union of null and the types its values had —
// long (a time as timestamp-millis), double, boolean or string (JSON
// values as their text) — with default null. A row with a field or a type
// not seen before extends the schema (a new field, a new branch of its
// union: what a reader of the new schema reads old records with, so
// BACKWARD compatible), which is registered once under the subject before
// the row is encoded. An int in a field with a double branch and no long
// one is written as a double. A registry that refuses the schema (HTTP
// 409) fails the write with the registry's reason.
type AvroRows struct {
	reg     Registrar
	subject string
	name    string // the record's name
	timeout time.Duration

	fields []*avroField
	byName map[string]*avroField
	ids    map[string]int // schema text → id, so each schema registers once
	id     int            // the current schema's id; 0 before the first row
	text   string

	names []string      // the Names of the last row, and for each the field
	order []*avroField  // the last row's fields in row order
	vals  []value.Value // per schema field: this row's value
	buf   []byte
}

// avroField is one field of the derived schema and the branches of its
// union after null, in the order first seen.
type avroField struct {
	name     string
	index    int
	branches []avroBranch
}

type avroBranch uint8

const (
	avroLong avroBranch = iota + 1
	avroTimestamp
	avroDouble
	avroBoolean
	avroString
)

var avroName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// NewAvroRows encodes rows for subject (a topic's TOPIC-value), with
// schemas registered through reg. The record is named after the topic.
func NewAvroRows(reg Registrar, subject, topic string) *AvroRows {
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			return r
		}
		return '_'
	}, topic)
	if name == "" || name[0] >= '0' && name[0] <= '9' {
		name = "_" + name
	}
	return &AvroRows{reg: reg, subject: subject, name: name, timeout: 30 * time.Second,
		byName: map[string]*avroField{}, ids: map[string]int{}}
}

// Schema is the current schema's text and id (0 before the first row).
func (a *AvroRows) Schema() (string, int) { return a.text, a.id }

// Encode returns the framed Avro record of r, valid until the next call.
func (a *AvroRows) Encode(r *Row) ([]byte, error) {
	if len(r.Names) == 0 || len(r.Names) != len(r.Vals) {
		return nil, errors.New("format avro: the rows have no named fields (records passed through as they came); add a project stage or a window")
	}
	changed, err := a.fit(r)
	if err != nil {
		return nil, err
	}
	if changed || a.id == 0 {
		if err := a.register(); err != nil {
			return nil, err
		}
	}
	for i := range a.vals {
		a.vals[i] = value.Value{}
	}
	for i, f := range a.order {
		a.vals[f.index] = r.Vals[i]
	}
	b := append(a.buf[:0], 0, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(b[1:], uint32(a.id))
	for i, f := range a.fields {
		b = f.append(b, a.vals[i])
	}
	a.buf = b
	return b, nil
}

// fit maps the row's names to schema fields and extends the schema for
// new fields and types; changed reports an extension.
func (a *AvroRows) fit(r *Row) (changed bool, err error) {
	if !sameNames(a.names, r.Names) {
		a.order = a.order[:0]
		for _, n := range r.Names {
			f := a.byName[n]
			if f == nil {
				if !avroName.MatchString(n) {
					return false, fmt.Errorf("format avro: field name %q is not an Avro name (letters, digits and _, not first a digit): rename it in a project stage", n)
				}
				f = &avroField{name: n, index: len(a.fields)}
				a.fields = append(a.fields, f)
				a.byName[n] = f
				a.vals = append(a.vals, value.Value{})
				changed = true
			}
			a.order = append(a.order, f)
		}
		a.names = r.Names
	}
	for i, f := range a.order {
		if b, ok := f.branchFor(r.Vals[i]); ok && b != 0 {
			f.branches = append(f.branches, b)
			changed = true
		}
	}
	return changed, nil
}

func sameNames(a, b []string) bool {
	if len(a) != len(b) || len(a) == 0 {
		return false
	}
	if &a[0] == &b[0] {
		return true
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// kindBranch is the branch a value of kind k is written as by default.
func kindBranch(v value.Value) avroBranch {
	switch v.K {
	case value.Int:
		return avroLong
	case value.Time:
		return avroTimestamp
	case value.Float:
		return avroDouble
	case value.Bool:
		return avroBoolean
	case value.Null:
		return 0
	}
	return avroString // strings, and JSON as its text
}

// branchFor reports the branch to add for v (0: none needed).
func (f *avroField) branchFor(v value.Value) (avroBranch, bool) {
	want := kindBranch(v)
	if want == 0 || f.pick(want) >= 0 {
		return 0, false
	}
	return want, true
}

// pick is the union index (after null) that a value of branch want is
// written as, or -1: long and timestamp stand for each other (both are
// Avro longs), and an int goes into a double branch.
func (f *avroField) pick(want avroBranch) int {
	alt := avroBranch(0)
	switch want {
	case avroLong:
		alt = avroTimestamp
	case avroTimestamp:
		alt = avroLong
	}
	for i, b := range f.branches {
		if b == want || b == alt {
			return i
		}
	}
	if want == avroLong {
		for i, b := range f.branches {
			if b == avroDouble {
				return i
			}
		}
	}
	return -1
}

// append writes v as the field's union: the branch index, then the value.
func (f *avroField) append(b []byte, v value.Value) []byte {
	want := kindBranch(v)
	if want == 0 {
		return binary.AppendVarint(b, 0) // null
	}
	i := f.pick(want)
	b = binary.AppendVarint(b, int64(i+1))
	switch f.branches[i] {
	case avroLong, avroTimestamp:
		return binary.AppendVarint(b, v.I)
	case avroDouble:
		x := v.F
		if v.K == value.Int {
			x = float64(v.I)
		}
		return binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	case avroBoolean:
		if v.I != 0 {
			return append(b, 1)
		}
		return append(b, 0)
	}
	s := v.S
	b = binary.AppendVarint(b, int64(len(s)))
	return append(b, s...)
}

// schemaText is the Avro schema of the fields so far.
func (a *AvroRows) schemaText() string {
	type field struct {
		Name    string `json:"name"`
		Type    []any  `json:"type"`
		Default any    `json:"default"`
	}
	fs := make([]field, 0, len(a.fields))
	for _, f := range a.fields {
		types := []any{"null"}
		for _, b := range f.branches {
			switch b {
			case avroLong:
				types = append(types, "long")
			case avroTimestamp:
				types = append(types, map[string]string{"type": "long", "logicalType": "timestamp-millis"})
			case avroDouble:
				types = append(types, "double")
			case avroBoolean:
				types = append(types, "boolean")
			case avroString:
				types = append(types, "string")
			}
		}
		if len(f.branches) == 0 {
			types = append(types, "string") // only nulls so far
		}
		fs = append(fs, field{Name: f.name, Type: types})
	}
	b, _ := json.Marshal(map[string]any{"type": "record", "name": a.name, "namespace": "eddy", "fields": fs})
	return string(b)
}

func (a *AvroRows) register() error {
	text := a.schemaText()
	if id, ok := a.ids[text]; ok {
		a.id, a.text = id, text
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	id, err := a.reg.RegisterSchema(ctx, a.subject, sr.Schema{Schema: text, Type: sr.TypeAvro}, -1, -1)
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && re.StatusCode == 409 {
			return fmt.Errorf("format avro: the schema registry refuses the schema for subject %s (HTTP 409, incompatible with the subject's versions): %s; schema %s", a.subject, re.Message, text)
		}
		return fmt.Errorf("format avro: register the schema for subject %s: %w", a.subject, err)
	}
	a.ids[text], a.id, a.text = id, id, text
	return nil
}
