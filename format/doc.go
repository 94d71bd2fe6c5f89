// Package format decodes records framed for a Confluent-compatible schema
// registry (Avro, Protobuf and JSON Schema) into the slots of a pipeline,
// the way [decode.Plan] does for plain JSON: the pipeline names the field
// paths it reads, each gets a slot, and a decoder fills those slots from a
// record without building a map or going through JSON.
//
// # Framing
//
// A framed record is the magic byte 0, a 4-byte big-endian schema id and
// the payload; Protobuf payloads start with the message indexes that select
// the message in the schema's file ([SchemaID], [MessageIndexes]).
//
// # Schemas
//
// Schemas come from a [Registry] (franz-go's *sr.Client satisfies it; see
// [Config.Client]) through a [Cache]: one fetch per schema id however many
// records and goroutines ask, a failed fetch retried with bounded backoff
// and then reported as [ErrRegistry], which stops the run; a registry hiccup
// never turns records into dead letters.
//
// # Decoders
//
// [NewAvro], [NewProtobuf] and [NewJSONSchema] return decoders for a list of
// wanted paths (those of [decode.Plan], in the same slot order). Each one
// compiles a program per writer schema id the first time it meets the id,
// so records written with different schemas in one stream each decode with
// their own. A decoder is used by one goroutine at a time; the [Cache]
// behind several decoders is safe for concurrent use.
//
// Every failure of a record is an [*Error] wrapping one of [ErrMagic],
// [ErrTruncated], [ErrUnknownSchema], [ErrCorrupt], [ErrMissingField] or
// [ErrSchema]: a dead letter's reason. docs/formats.md has the type mapping.
package format
