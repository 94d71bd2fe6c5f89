package engine

import (
	"fmt"

	"github.com/eddyhq/eddy/decode"
	"github.com/eddyhq/eddy/format"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/value"
)

// decoder fills the input slots from a record's value. spans, when not
// nil, receives where each top-level value lies in the JSON (raw output).
type decoder interface {
	Decode(b []byte, out []value.Value, spans []decode.Span) error
}

// slotDecoder adapts the format package's decoders, which keep no spans.
type slotDecoder interface {
	Decode(b []byte, out []value.Value) error
}

type noSpans struct{ d slotDecoder }

func (n noSpans) Decode(b []byte, out []value.Value, _ []decode.Span) error {
	return n.d.Decode(b, out)
}

// newDecoder chooses the decoder for the plan's format. Formats read
// through a schema registry need schemas (job builds the cache).
func newDecoder(plan *pipeline.Plan, schemas *format.Cache) (decoder, error) {
	f := plan.Pipeline.Format
	if f == "" || f == "json" {
		d := decode.NewPlan(plan.Input)
		if plan.TimeSlot >= 0 {
			d.WithTime(plan.TimeSlot)
		}
		return d, nil
	}
	if f == "raw" {
		if plan.Output.Raw && plan.Window == nil {
			return nil, fmt.Errorf("format raw: records pass through as they came only as JSON; add a project stage (e.g. project: {line: value}) or a window")
		}
		d, err := format.NewRaw(plan.Input)
		if err != nil {
			return nil, err
		}
		return noSpans{d}, nil
	}
	if schemas == nil {
		return nil, fmt.Errorf("format %s needs a schema registry (--schema-registry, source.kafka.registry, schema.registry.url or EDDY_SCHEMA_REGISTRY)", f)
	}
	if plan.Output.Raw && plan.Window == nil {
		return nil, fmt.Errorf("format %s: records cannot pass through unchanged; add a project stage or a window", f)
	}
	switch f {
	case "avro":
		d := format.NewAvro(schemas, plan.Input)
		if plan.TimeSlot >= 0 {
			d.WithTime(plan.TimeSlot)
		}
		return noSpans{d}, nil
	case "protobuf":
		d := format.NewProtobuf(schemas, plan.Input)
		if plan.TimeSlot >= 0 {
			d.WithTime(plan.TimeSlot)
		}
		return noSpans{d}, nil
	case "json-schema":
		d := decode.NewPlan(plan.Input)
		if plan.TimeSlot >= 0 {
			d.WithTime(plan.TimeSlot)
		}
		return noSpans{format.NewJSONSchema(schemas, d)}, nil
	}
	return nil, fmt.Errorf("unknown format %q", f)
}
