package format

import (
	"fmt"
	"strings"

	"github.com/eddyhq/eddy/value"
)

// RawField is the one field of a record read with format raw: the value's
// bytes as a string.
const RawField = "value"

// Raw decodes records of format raw: no schema and no framing, the whole
// value is one string field, [RawField]. Log lines, CSV or any text that is
// not JSON can then be filtered, parsed with expressions and windowed. An
// empty path (the record itself) is the JSON object {"value": "..."}.
type Raw struct {
	slots []rawSlot
}

type rawSlot struct {
	slot  int
	whole bool
}

// NewRaw returns a raw decoder for the wanted paths; a path other than
// value (or value's own fields, which a string has not) is an error.
func NewRaw(paths [][]string) (*Raw, error) {
	r := &Raw{}
	for i, p := range paths {
		switch {
		case len(p) == 0:
			r.slots = append(r.slots, rawSlot{slot: i, whole: true})
		case len(p) == 1 && p[0] == RawField:
			r.slots = append(r.slots, rawSlot{slot: i})
		default:
			return nil, fmt.Errorf("format raw: a record has one field, %s (its bytes as a string), not %s", RawField, strings.Join(p, "."))
		}
	}
	return r, nil
}

// Decode fills the slots from b; it never fails.
func (r *Raw) Decode(b []byte, out []value.Value) error {
	if len(r.slots) == 0 {
		return nil
	}
	s := string(b)
	for _, sl := range r.slots {
		if sl.whole {
			j := append([]byte(`{"`+RawField+`":`), value.AppendString(nil, s)...)
			out[sl.slot] = value.OfJSON(string(append(j, '}')))
		} else {
			out[sl.slot] = value.OfString(s)
		}
	}
	return nil
}

// NeedsRegistry reports whether records of format kind are framed for a
// schema registry (avro, protobuf, json-schema; not json or raw).
func NeedsRegistry(kind string) bool {
	return kind == "avro" || kind == "protobuf" || kind == "json-schema"
}
