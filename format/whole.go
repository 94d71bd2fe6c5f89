package format

import (
	"fmt"

	"github.com/eddyhq/eddy/value"
)

// Kinds are the record formats other than JSON: those a registry serves
// schemas for, and raw (no schema: the value as one string field).
var Kinds = []string{"avro", "protobuf", "json-schema", "raw"}

// WholeJSON returns a function that decodes one framed record of kind
// (avro, protobuf, json-schema or raw) into the JSON text of the whole record,
// for eddy tail and export: Avro unions as their branch's value and
// logical types as their values; Protobuf as protojson with proto field
// names; JSON Schema records with their framing stripped; raw values as
// {"value": "the bytes"} (c may be nil for raw). The function is
// not safe for concurrent use.
func WholeJSON(c *Cache, kind string) (func(b []byte) ([]byte, error), error) {
	out := make([]value.Value, 1)
	var dec interface {
		Decode(b []byte, out []value.Value) error
	}
	switch kind {
	case "avro":
		dec = NewAvro(c, [][]string{{}})
	case "protobuf":
		dec = NewProtobuf(c, [][]string{{}})
	case "json-schema":
		j := NewJSONSchema(c, nil)
		return j.Payload, nil
	case "raw":
		dec, _ = NewRaw([][]string{{}})
	default:
		return nil, fmt.Errorf("unknown format %q (want avro, protobuf, json-schema or raw)", kind)
	}
	var buf []byte
	return func(b []byte) ([]byte, error) {
		if err := dec.Decode(b, out); err != nil {
			return nil, err
		}
		buf = value.AppendJSON(buf[:0], out[0])
		return buf, nil
	}, nil
}
