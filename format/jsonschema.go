package format

import (
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eddyhq/eddy/decode"
	"github.com/eddyhq/eddy/value"
)

// JSONSchema decodes Confluent-framed JSON Schema records: the framing is
// checked and stripped, the schema id must be one the registry knows as a
// JSON schema, and the payload, plain JSON, goes to the JSON decoder. The
// payload is not validated against the schema: the producer's serializer
// did that, the pipeline reads only some fields, and the JSON decoder
// already rejects what is not JSON.
type JSONSchema struct {
	cache  *Cache
	plan   *decode.Plan
	ok     map[int]error
	lastID int
}

// NewJSONSchema returns a decoder that fills plan's slots from the payload
// of framed records, fetching schemas through c.
func NewJSONSchema(c *Cache, plan *decode.Plan) *JSONSchema {
	return &JSONSchema{cache: c, plan: plan, ok: map[int]error{}, lastID: -1}
}

// Payload checks the framing and the schema id of b and returns the JSON
// after the framing (for callers that need spans into it).
func (j *JSONSchema) Payload(b []byte) ([]byte, error) {
	id, payload, err := SchemaID(b)
	if err != nil {
		return nil, err
	}
	if id == j.lastID {
		return payload, nil
	}
	err, seen := j.ok[id]
	if !seen {
		var s sr.Schema
		if s, err = j.cache.Schema(id); err != nil {
			return nil, err // the cache decides how long a miss holds
		}
		if s.Type != sr.TypeJSON {
			err = recordErr(ErrSchema, id, "a %s schema, not JSON Schema", s.Type)
		}
		j.ok[id] = err
	}
	if err != nil {
		return nil, err
	}
	j.lastID = id
	return payload, nil
}

// Decode fills out from the record's JSON payload, as [decode.Plan.Decode]
// does; invalid JSON is [ErrCorrupt].
func (j *JSONSchema) Decode(b []byte, out []value.Value) error {
	payload, err := j.Payload(b)
	if err != nil {
		for i := range out {
			out[i] = value.Value{}
		}
		return err
	}
	if err := j.plan.Decode(payload, out, nil); err != nil {
		return &Error{Err: ErrCorrupt, ID: j.lastID, Detail: err.Error()}
	}
	return nil
}
