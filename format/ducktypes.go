package format

import (
	"fmt"
	"strings"

	"github.com/hamba/avro/v2"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// DuckTypes returns a function that gives, for one framed record of kind
// (avro or protobuf), the DuckDB column types its schema declares for the
// top-level fields that eddy's values cannot type by themselves: Avro
// decimals as DECIMAL(p,s), records and Protobuf messages as STRUCT,
// arrays and repeated fields as LIST, maps as MAP(VARCHAR, …). Other fields
// are not in the map (their values' kinds type them). The map of a schema
// is made once and the same map is returned for every record of that
// schema, so a caller can tell a schema change by the map. It returns nil
// for other kinds. The function is not safe for concurrent use.
func DuckTypes(c *Cache, kind string) func(b []byte) (map[string]string, error) {
	switch kind {
	case "avro":
		byID := map[int]map[string]string{}
		return func(b []byte) (map[string]string, error) {
			id, _, err := SchemaID(b)
			if err != nil {
				return nil, err
			}
			if m, ok := byID[id]; ok {
				return m, nil
			}
			s, err := c.Schema(id)
			if err != nil {
				return nil, err
			}
			m := map[string]string{}
			if sch, err := parseAvro(c, id, s); err == nil {
				for _, f := range sch.(*avro.RecordSchema).Fields() {
					if t, ok := avroDuckTop(f.Type()); ok {
						m[f.Name()] = t
					}
				}
			}
			byID[id] = m
			return m, nil
		}
	case "protobuf":
		type key struct {
			id  int
			idx string
		}
		byKey := map[key]map[string]string{}
		var idx []int
		return func(b []byte) (map[string]string, error) {
			id, rest, err := SchemaID(b)
			if err != nil {
				return nil, err
			}
			if idx, _, err = MessageIndexes(rest, id, idx); err != nil {
				return nil, err
			}
			k := key{id, fmt.Sprint(idx)}
			if m, ok := byKey[k]; ok {
				return m, nil
			}
			s, err := c.Schema(id)
			if err != nil {
				return nil, err
			}
			m := map[string]string{}
			if fd, err := compileProto(c, id, s); err == nil {
				if md, err := messageAt(fd, idx, id); err == nil {
					fs := md.Fields()
					for i := range fs.Len() {
						f := fs.Get(i)
						if f.IsList() || f.IsMap() || f.Kind() == protoreflect.MessageKind && !wellKnown(f.Message()) {
							m[string(f.Name())] = protoDuck(f, 0)
						}
					}
				}
			}
			byKey[k] = m
			return m, nil
		}
	}
	return nil
}

// maxNest bounds the nesting of the types made from a schema: a recursive
// type is JSON below it.
const maxNest = 16

// avroDuckTop is the declared type of a top-level field, when it is a
// decimal, a record, an array or a map (or a union of one with null).
func avroDuckTop(s avro.Schema) (string, bool) {
	s = avroUnwrap(s)
	switch t := s.(type) {
	case *avro.RecordSchema, *avro.ArraySchema, *avro.MapSchema:
		return avroDuck(s, 0), true
	case avro.LogicalTypeSchema:
		if d, ok := t.Logical().(*avro.DecimalLogicalSchema); ok && decimalFits(d) {
			return avroDuck(s, 0), true
		}
	}
	return "", false
}

// avroUnwrap resolves references and a union of null and one type.
func avroUnwrap(s avro.Schema) avro.Schema {
	if r, ok := s.(*avro.RefSchema); ok {
		s = r.Schema()
	}
	if u, ok := s.(*avro.UnionSchema); ok && u.Nullable() {
		for _, t := range u.Types() {
			if t.Type() != avro.Null {
				return avroUnwrap(t)
			}
		}
	}
	return s
}

// decimalFits reports whether DuckDB's DECIMAL holds the decimal (its
// precision is at most 38 digits).
func decimalFits(d *avro.DecimalLogicalSchema) bool {
	return d.Precision() >= 1 && d.Precision() <= 38 && d.Scale() >= 0 && d.Scale() <= d.Precision()
}

// avroDuck is the DuckDB type of the JSON eddy writes for a value of s.
func avroDuck(s avro.Schema, depth int) string {
	if depth > maxNest {
		return "JSON"
	}
	s = avroUnwrap(s)
	if l, ok := s.(avro.LogicalTypeSchema); ok && l.Logical() != nil {
		switch l.Logical().Type() {
		case avro.Decimal:
			if d, ok := l.Logical().(*avro.DecimalLogicalSchema); ok && decimalFits(d) {
				return fmt.Sprintf("DECIMAL(%d,%d)", d.Precision(), d.Scale())
			}
			return "VARCHAR"
		case avro.TimestampMillis, avro.TimestampMicros, avro.LocalTimestampMillis, avro.LocalTimestampMicros,
			"timestamp-nanos", "local-timestamp-nanos", avro.Date:
			if s.Type() == avro.Long || s.Type() == avro.Int {
				return "TIMESTAMP"
			}
		}
	}
	switch s := s.(type) {
	case *avro.RecordSchema:
		if len(s.Fields()) == 0 {
			return "JSON"
		}
		parts := make([]string, 0, len(s.Fields()))
		for _, f := range s.Fields() {
			parts = append(parts, duckIdent(f.Name())+" "+avroDuck(f.Type(), depth+1))
		}
		return "STRUCT(" + strings.Join(parts, ", ") + ")"
	case *avro.ArraySchema:
		return avroDuck(s.Items(), depth+1) + "[]"
	case *avro.MapSchema:
		return "MAP(VARCHAR, " + avroDuck(s.Values(), depth+1) + ")"
	case *avro.UnionSchema:
		return "JSON" // several branches: each value its own shape
	}
	switch s.Type() {
	case avro.Boolean:
		return "BOOLEAN"
	case avro.Int, avro.Long:
		return "BIGINT"
	case avro.Float, avro.Double:
		return "DOUBLE"
	case avro.Null:
		return "JSON"
	}
	return "VARCHAR" // string, bytes, fixed, enum, uuid
}

// protoDuck is the DuckDB type of the JSON eddy writes for field f (the
// list or map itself, not an element, when f is repeated).
func protoDuck(f protoreflect.FieldDescriptor, depth int) string {
	if depth > maxNest {
		return "JSON"
	}
	switch {
	case f.IsMap():
		return "MAP(VARCHAR, " + protoDuck(f.MapValue(), depth+1) + ")"
	case f.IsList():
		return protoDuckScalar(f, depth) + "[]"
	}
	return protoDuckScalar(f, depth)
}

func protoDuckScalar(f protoreflect.FieldDescriptor, depth int) string {
	switch f.Kind() {
	case protoreflect.BoolKind:
		return "BOOLEAN"
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Uint32Kind, protoreflect.Fixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return "BIGINT"
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return "UBIGINT"
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return "DOUBLE"
	case protoreflect.MessageKind, protoreflect.GroupKind:
		md := f.Message()
		if md.FullName() == "google.protobuf.Timestamp" {
			return "TIMESTAMP"
		}
		if wellKnown(md) || md.Fields().Len() == 0 {
			return "JSON"
		}
		fs := md.Fields()
		parts := make([]string, 0, fs.Len())
		for i := range fs.Len() {
			g := fs.Get(i)
			parts = append(parts, duckIdent(string(g.Name()))+" "+protoDuck(g, depth+1))
		}
		return "STRUCT(" + strings.Join(parts, ", ") + ")"
	}
	return "VARCHAR" // string, bytes, enum
}

// wellKnown reports whether md is one of the google.protobuf types that
// protojson writes in their own JSON form (a Timestamp as RFC 3339 text, a
// wrapper as its value, a Struct as an object…), not as a message.
func wellKnown(md protoreflect.MessageDescriptor) bool {
	return md.ParentFile() != nil && md.ParentFile().Package() == "google.protobuf"
}

// duckIdent quotes a DuckDB identifier.
func duckIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
