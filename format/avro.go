package format

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eddyhq/eddy/value"
)

// Avro decodes Confluent-framed Avro records into the slots of wanted
// paths. Schemas are parsed with hamba/avro; the record is then read by a
// program compiled per writer schema and set of wanted paths, which
// converts the wanted values and skips the rest without building a map.
type Avro struct {
	cache  *Cache
	want   *want
	progs  map[int]*avroProg
	lastID int
	last   *avroProg
}

// avroProg is the program for one writer schema id: the top-level op, or
// the error every record with the id gets.
type avroProg struct {
	op  *aop
	err error
}

// NewAvro returns a decoder filling slot i with paths[i] (dotted paths as
// [decode.NewPlan] takes them), fetching writer schemas through c.
func NewAvro(c *Cache, paths [][]string) *Avro {
	return &Avro{cache: c, want: newWant(paths), progs: map[int]*avroProg{}, lastID: -1}
}

// WithTime makes the value at slot the event time: a string that is an RFC
// 3339 timestamp becomes a time, as [decode.Plan.WithTime] does (timestamp
// logical types always do). It returns a.
func (a *Avro) WithTime(slot int) *Avro {
	a.want.markTime(slot)
	return a
}

// Decode reads one framed record; out has one slot per wanted path and is
// reset to nulls first. Strings are copied, so out does not alias b.
func (a *Avro) Decode(b []byte, out []value.Value) error {
	for i := range out {
		out[i] = value.Value{}
	}
	id, payload, err := SchemaID(b)
	if err != nil {
		return err
	}
	p := a.last
	if id != a.lastID {
		if p, err = a.prog(id); err != nil {
			return err
		}
	}
	if p.err != nil {
		return p.err
	}
	r := avroReader{b: payload, out: out, id: id}
	r.field(p.op, 0) // the record itself may be wanted whole (an empty path)
	if r.err == nil && r.i != len(r.b) {
		r.fail(ErrCorrupt, "%d bytes after the record", len(r.b)-r.i)
	}
	if r.err != nil {
		for i := range out {
			out[i] = value.Value{}
		}
	}
	return r.err
}

func (a *Avro) prog(id int) (*avroProg, error) {
	if p, ok := a.progs[id]; ok {
		a.lastID, a.last = id, p
		return p, nil
	}
	s, err := a.cache.Schema(id)
	if err != nil {
		return nil, err // not kept: the cache knows how long an answer holds
	}
	p := &avroProg{}
	p.op, p.err = compileAvro(a.cache, id, s, a.want)
	a.progs[id] = p
	a.lastID, a.last = id, p
	return p, nil
}

func compileAvro(c *Cache, id int, s sr.Schema, w *want) (*aop, error) {
	sch, err := parseAvro(c, id, s)
	if err != nil {
		return nil, err
	}
	cp := avroCompiler{id: id, generic: map[string]*aop{}}
	return cp.wanted(sch, w)
}

// parseAvro parses a registered Avro schema (with its references), which
// must be a record.
func parseAvro(c *Cache, id int, s sr.Schema) (avro.Schema, error) {
	if s.Type != sr.TypeAvro {
		return nil, recordErr(ErrSchema, id, "a %s schema, not Avro", s.Type)
	}
	refs, err := c.references(s)
	if err != nil {
		return nil, wrapSchemaErr(err, id)
	}
	cache := &avro.SchemaCache{}
	for _, r := range refs {
		if _, err := avro.ParseWithCache(r.text, "", cache); err != nil {
			return nil, recordErr(ErrSchema, id, "reference %s: %v", r.name, err)
		}
	}
	sch, err := avro.ParseWithCache(s.Schema, "", cache)
	if err != nil {
		return nil, recordErr(ErrSchema, id, "%v", err)
	}
	if sch.Type() != avro.Record {
		return nil, recordErr(ErrSchema, id, "the schema is a %s, not a record", sch.Type())
	}
	return sch, nil
}

// wrapSchemaErr keeps record and registry errors as they are and makes
// anything else a schema error.
func wrapSchemaErr(err error, id int) error {
	var re *Error
	if errors.As(err, &re) || errors.Is(err, ErrRegistry) {
		return err
	}
	return recordErr(ErrSchema, id, "%v", err)
}

type akind uint8

const (
	aNull akind = iota
	aBool
	aInt // int and long: zigzag varints (narrow: an int, 32 bits)
	aFloat
	aDouble
	aString // string and bytes
	aFixed
	aEnum
	aRecord
	aArray
	aMap
	aUnion
)

// conversions of logical types
type aconv uint8

const (
	cNone aconv = iota
	cTimeMillis
	cTimeMicros
	cTimeNanos
	cDate
	cDecimal
	cUUID
)

// aop reads one value of a writer schema. Ops for values nobody wants are
// shared per named type (so recursive types are finite graphs); ops on a
// wanted path are copies with slots and children set.
type aop struct {
	kind     akind
	conv     aconv
	slot     int  // -1: not stored
	time     bool // RFC 3339 strings become times
	size     int  // fixed
	prec     int  // decimal
	scale    int  // decimal
	symbols  []string
	names    []string // record field names
	fields   []*aop   // record fields, union branches
	elem     *aop     // array items, map values
	keys     []mapKey // map: wanted keys
	deep     bool     // a record, union or map with wanted children
	missing  string   // a union branch lacking a wanted path: its name
	zeroSize bool     // encodes as no bytes (null), so a count is not bounded by bytes
	narrow   bool     // an int, not a long: 32 bits in five bytes at most
}

type mapKey struct {
	key string
	op  *aop
}

type avroCompiler struct {
	id      int
	generic map[string]*aop
}

// plain compiles the op for a value nobody wants (or wanted whole).
func (c *avroCompiler) plain(s avro.Schema) (*aop, error) {
	if ref, ok := s.(*avro.RefSchema); ok {
		s = ref.Schema()
	}
	named, isNamed := s.(avro.NamedSchema)
	if isNamed {
		if op, ok := c.generic[named.FullName()]; ok {
			return op, nil
		}
	}
	op := &aop{slot: -1}
	if isNamed {
		c.generic[named.FullName()] = op // before the fields: recursion ends here
	}
	switch s := s.(type) {
	case *avro.NullSchema:
		op.kind, op.zeroSize = aNull, true
	case *avro.PrimitiveSchema:
		switch s.Type() {
		case avro.Boolean:
			op.kind = aBool
		case avro.Int, avro.Long:
			op.kind, op.narrow = aInt, s.Type() == avro.Int
		case avro.Float:
			op.kind = aFloat
		case avro.Double:
			op.kind = aDouble
		case avro.String, avro.Bytes:
			op.kind = aString
		case avro.Null:
			op.kind, op.zeroSize = aNull, true
		default:
			return nil, recordErr(ErrSchema, c.id, "unsupported type %s", s.Type())
		}
		c.logical(op, s.Logical())
	case *avro.FixedSchema:
		op.kind, op.size = aFixed, s.Size()
		op.zeroSize = s.Size() == 0
		c.logical(op, s.Logical())
	case *avro.EnumSchema:
		op.kind, op.symbols = aEnum, s.Symbols()
	case *avro.RecordSchema:
		op.kind = aRecord
		op.zeroSize = true
		for _, f := range s.Fields() {
			fop, err := c.plain(f.Type())
			if err != nil {
				return nil, err
			}
			op.names = append(op.names, f.Name())
			op.fields = append(op.fields, fop)
			op.zeroSize = op.zeroSize && fop.zeroSize
		}
	case *avro.ArraySchema:
		elem, err := c.plain(s.Items())
		if err != nil {
			return nil, err
		}
		op.kind, op.elem = aArray, elem
	case *avro.MapSchema:
		elem, err := c.plain(s.Values())
		if err != nil {
			return nil, err
		}
		op.kind, op.elem = aMap, elem
	case *avro.UnionSchema:
		op.kind = aUnion
		for _, t := range s.Types() {
			b, err := c.plain(t)
			if err != nil {
				return nil, err
			}
			op.fields = append(op.fields, b)
		}
	default:
		return nil, recordErr(ErrSchema, c.id, "unsupported type %s", s.Type())
	}
	return op, nil
}

func (c *avroCompiler) logical(op *aop, l avro.LogicalSchema) {
	if l == nil {
		return
	}
	switch l.Type() {
	case avro.TimestampMillis, avro.LocalTimestampMillis:
		op.conv = cTimeMillis
	case avro.TimestampMicros, avro.LocalTimestampMicros:
		op.conv = cTimeMicros
	case "timestamp-nanos", "local-timestamp-nanos":
		op.conv = cTimeNanos
	case avro.Date:
		op.conv = cDate
	case avro.UUID:
		op.conv = cUUID
	case avro.Decimal:
		if d, ok := l.(*avro.DecimalLogicalSchema); ok {
			op.conv, op.prec, op.scale = cDecimal, d.Precision(), d.Scale()
		}
	}
	if op.kind == aInt && (op.conv == cUUID || op.conv == cDecimal) ||
		op.kind != aInt && (op.conv == cTimeMillis || op.conv == cTimeMicros || op.conv == cTimeNanos || op.conv == cDate) {
		op.conv = cNone // a logical type on the wrong type is ignored, as the spec says
	}
}

// wanted compiles the op for a value on a wanted path.
func (c *avroCompiler) wanted(s avro.Schema, w *want) (*aop, error) {
	base, err := c.plain(s)
	if err != nil {
		return nil, err
	}
	if w.slot < 0 && len(w.children) == 0 {
		return base, nil
	}
	op := *base
	op.slot, op.time = w.slot, w.time
	if len(w.children) == 0 {
		return &op, nil
	}
	if ref, ok := s.(*avro.RefSchema); ok {
		s = ref.Schema()
	}
	switch s := s.(type) {
	case *avro.RecordSchema:
		op.deep = true
		op.fields = append([]*aop(nil), base.fields...)
		for _, cw := range w.children {
			i := -1
			for j, f := range s.Fields() {
				if f.Name() == cw.name {
					i = j
				}
			}
			if i < 0 {
				return nil, recordErr(ErrMissingField, c.id, "%q", cw.path)
			}
			f, err := c.wanted(s.Fields()[i].Type(), cw)
			if err != nil {
				return nil, err
			}
			op.fields[i] = f
		}
	case *avro.MapSchema:
		op.deep = true
		for _, cw := range w.children {
			f, err := c.wanted(s.Values(), cw)
			if err != nil {
				return nil, err
			}
			op.keys = append(op.keys, mapKey{cw.name, f})
		}
	case *avro.UnionSchema:
		op.deep = true
		op.fields = append([]*aop(nil), base.fields...)
		found := false
		var first error
		for i, t := range s.Types() {
			if t.Type() == avro.Null {
				continue
			}
			f, err := c.wanted(t, w)
			if errors.Is(err, ErrMissingField) {
				if first == nil {
					first = err
				}
				m := *op.fields[i]
				m.missing = err.(*Error).Detail
				op.fields[i] = &m
				continue
			}
			if err != nil {
				return nil, err
			}
			found = true
			op.fields[i] = f
		}
		if !found && first != nil {
			return nil, first
		}
	default:
		return nil, recordErr(ErrMissingField, c.id, "%q: %q is a %s, not a record", w.children[0].path, w.path, s.Type())
	}
	return &op, nil
}

// maxAvroDepth bounds nesting so a hostile recursive record cannot exhaust
// the stack.
const maxAvroDepth = 1000

// maxZeroSizeItems bounds the items of an array or map of nulls, which
// take no bytes, so a block count cannot spin.
const maxZeroSizeItems = 1 << 20

type avroReader struct {
	b   []byte
	i   int
	out []value.Value
	id  int
	err error
}

func (r *avroReader) fail(reason error, format string, args ...any) {
	if r.err == nil {
		r.err = recordErr(reason, r.id, format, args...)
	}
}

func (r *avroReader) long() int64 {
	if r.i < len(r.b) && r.b[r.i] < 0x80 {
		c := r.b[r.i]
		r.i++
		return int64(c>>1) ^ -int64(c&1)
	}
	u, k := binary.Uvarint(r.b[r.i:])
	if k <= 0 {
		if k == 0 {
			r.fail(ErrTruncated, "a number is cut off at byte %d", r.i)
		} else {
			r.fail(ErrCorrupt, "a number at byte %d overflows 64 bits", r.i)
		}
		r.i = len(r.b)
		return 0
	}
	r.i += k
	return int64(u>>1) ^ -int64(u&1)
}

// int reads an Avro int: a zigzag varint of 32 bits, five bytes at most.
// A longer or wider one is corrupt, not a long to accept: readers that
// follow the specification (hamba/avro, Java's) refuse it too.
func (r *avroReader) int() int64 {
	start := r.i
	n := r.long()
	if r.err == nil && (r.i-start > 5 || n != int64(int32(n))) {
		r.fail(ErrCorrupt, "an int at byte %d does not fit 32 bits", start)
	}
	return n
}

// number reads an int or a long, as op says.
func (r *avroReader) number(op *aop) int64 {
	if op.narrow {
		return r.int()
	}
	return r.long()
}

// bytes reads a length-prefixed string or bytes, pointing into the record.
func (r *avroReader) bytes() []byte {
	n := r.long()
	if r.err != nil {
		return nil
	}
	if n < 0 {
		r.fail(ErrCorrupt, "negative length %d at byte %d", n, r.i)
		return nil
	}
	if n > int64(len(r.b)-r.i) {
		r.fail(ErrTruncated, "a length of %d with %d bytes left", n, len(r.b)-r.i)
		r.i = len(r.b)
		return nil
	}
	s := r.b[r.i : r.i+int(n)]
	r.i += int(n)
	return s
}

func (r *avroReader) fixed(n int) []byte {
	if n > len(r.b)-r.i {
		r.fail(ErrTruncated, "a fixed of %d bytes with %d left", n, len(r.b)-r.i)
		r.i = len(r.b)
		return nil
	}
	s := r.b[r.i : r.i+n]
	r.i += n
	return s
}

// record reads a record with wanted fields into the slots.
func (r *avroReader) record(op *aop, depth int) {
	for _, f := range op.fields {
		if r.err != nil {
			return
		}
		r.field(f, depth+1)
	}
}

// field reads one value: into its slot, into its children, or skipped.
func (r *avroReader) field(op *aop, depth int) {
	if depth > maxAvroDepth {
		r.fail(ErrCorrupt, "nesting deeper than %d", maxAvroDepth)
		return
	}
	switch {
	case op.missing != "":
		r.fail(ErrMissingField, "%s", op.missing)
	case op.deep:
		r.deep(op, depth)
	case op.slot >= 0:
		v := r.value(op, op.time, depth)
		if r.err == nil {
			r.out[op.slot] = v
		}
	default:
		r.skip(op, depth)
	}
}

// deep reads a value with wanted children; it may be wanted whole too.
func (r *avroReader) deep(op *aop, depth int) {
	start := r.i
	switch op.kind {
	case aRecord:
		r.record(op, depth)
	case aUnion:
		b := r.branch(op)
		if b == nil {
			return
		}
		if b.deep || b.missing != "" {
			r.field(b, depth+1)
		} else {
			r.skip(b, depth+1) // null: the children stay null
		}
	case aMap:
		r.blocks(op, depth, func() {
			k := r.bytes()
			for _, mk := range op.keys {
				if r.err == nil && string(k) == mk.key {
					r.field(mk.op, depth+1)
					return
				}
			}
			r.skip(op.elem, depth+1)
		})
	}
	if op.slot >= 0 && r.err == nil {
		end := r.i
		r.i = start
		v := r.value(op, op.time, depth)
		r.i = end
		if r.err == nil {
			r.out[op.slot] = v
		}
	}
}

func (r *avroReader) branch(op *aop) *aop {
	n := r.long()
	if r.err != nil {
		return nil
	}
	if n < 0 || n >= int64(len(op.fields)) {
		r.fail(ErrCorrupt, "union branch %d of %d", n, len(op.fields))
		return nil
	}
	return op.fields[n]
}

// blocks reads the blocks of an array or map, calling item for each item.
func (r *avroReader) blocks(op *aop, depth int, item func()) {
	total := 0
	for r.err == nil {
		n := r.long()
		if r.err != nil || n == 0 {
			return
		}
		if n < 0 {
			if n == math.MinInt64 {
				r.fail(ErrCorrupt, "block count %d", n)
				return
			}
			n = -n
			r.long() // the block's size in bytes
		}
		// each item takes a byte at least, unless it is null
		if op.elem.zeroSize && int64(total)+n > maxZeroSizeItems {
			r.fail(ErrCorrupt, "more than %d items that take no bytes", maxZeroSizeItems)
			return
		}
		if !op.elem.zeroSize && n > int64(len(r.b)-r.i) {
			r.fail(ErrTruncated, "a block of %d items with %d bytes left", n, len(r.b)-r.i)
			return
		}
		total += int(n)
		for range n {
			if r.err != nil {
				return
			}
			item()
		}
	}
}

func (r *avroReader) skip(op *aop, depth int) {
	if depth > maxAvroDepth {
		r.fail(ErrCorrupt, "nesting deeper than %d", maxAvroDepth)
		return
	}
	switch op.kind {
	case aNull:
	case aBool:
		if b := r.fixed(1); r.err == nil && b[0] > 1 {
			r.fail(ErrCorrupt, "boolean byte 0x%02x", b[0])
		}
	case aInt:
		r.number(op)
	case aEnum:
		r.int()
	case aFloat:
		r.fixed(4)
	case aDouble:
		r.fixed(8)
	case aString:
		r.bytes()
	case aFixed:
		r.fixed(op.size)
	case aRecord:
		for _, f := range op.fields {
			if r.err != nil {
				return
			}
			r.skip(f, depth+1)
		}
	case aArray:
		r.blocks(op, depth, func() { r.skip(op.elem, depth+1) })
	case aMap:
		r.blocks(op, depth, func() {
			r.bytes()
			r.skip(op.elem, depth+1)
		})
	case aUnion:
		if b := r.branch(op); b != nil {
			r.skip(b, depth+1)
		}
	}
}

// value reads a value as a value.Value: scalars as themselves, records,
// arrays and maps as JSON text.
func (r *avroReader) value(op *aop, asTime bool, depth int) value.Value {
	switch op.kind {
	case aNull:
		return value.Value{}
	case aBool:
		b := r.fixed(1)
		if r.err != nil {
			return value.Value{}
		}
		if b[0] > 1 {
			r.fail(ErrCorrupt, "boolean byte 0x%02x", b[0])
		}
		return value.OfBool(b[0] == 1)
	case aInt:
		n := r.number(op)
		switch op.conv {
		case cTimeMillis:
			return value.OfTime(n)
		case cTimeMicros:
			return value.OfTime(floorDiv(n, 1000))
		case cTimeNanos:
			return value.OfTime(floorDiv(n, 1_000_000))
		case cDate:
			if n > math.MaxInt64/86_400_000 || n < math.MinInt64/86_400_000 {
				r.fail(ErrCorrupt, "date %d days out of range", n)
				return value.Value{}
			}
			return value.OfTime(n * 86_400_000)
		}
		return value.OfInt(n)
	case aFloat:
		b := r.fixed(4)
		if r.err != nil {
			return value.Value{}
		}
		return value.OfFloat(float64(math.Float32frombits(binary.LittleEndian.Uint32(b))))
	case aDouble:
		b := r.fixed(8)
		if r.err != nil {
			return value.Value{}
		}
		return value.OfFloat(math.Float64frombits(binary.LittleEndian.Uint64(b)))
	case aString, aFixed:
		var b []byte
		if op.kind == aString {
			b = r.bytes()
		} else {
			b = r.fixed(op.size)
		}
		if r.err != nil {
			return value.Value{}
		}
		switch op.conv {
		case cDecimal:
			return decimalValue(b, op.prec, op.scale)
		case cUUID:
			if op.kind == aFixed && len(b) == 16 {
				return value.OfString(formatUUID(b))
			}
		}
		if asTime {
			if ms, ok := value.ParseTime(b); ok {
				return value.OfTime(ms)
			}
		}
		return value.OfString(string(b))
	case aEnum:
		n := r.int()
		if r.err != nil {
			return value.Value{}
		}
		if n < 0 || n >= int64(len(op.symbols)) {
			r.fail(ErrCorrupt, "enum index %d of %d symbols", n, len(op.symbols))
			return value.Value{}
		}
		return value.OfString(op.symbols[n])
	case aUnion:
		b := r.branch(op)
		if b == nil {
			return value.Value{}
		}
		return r.value(b, asTime, depth+1)
	}
	// records, arrays and maps: JSON
	buf := r.appendJSON(nil, op, depth)
	if r.err != nil {
		return value.Value{}
	}
	return value.OfJSON(string(buf))
}

// appendJSON appends a value as JSON: unions as their branch's value,
// bytes as strings, logical types as their value.Value does.
func (r *avroReader) appendJSON(dst []byte, op *aop, depth int) []byte {
	if depth > maxAvroDepth {
		r.fail(ErrCorrupt, "nesting deeper than %d", maxAvroDepth)
		return dst
	}
	switch op.kind {
	case aRecord:
		dst = append(dst, '{')
		for i, f := range op.fields {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = value.AppendString(dst, op.names[i])
			dst = append(dst, ':')
			dst = r.appendJSON(dst, f, depth+1)
			if r.err != nil {
				return dst
			}
		}
		return append(dst, '}')
	case aArray:
		dst = append(dst, '[')
		first := true
		r.blocks(op, depth, func() {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = r.appendJSON(dst, op.elem, depth+1)
		})
		return append(dst, ']')
	case aMap:
		dst = append(dst, '{')
		first := true
		r.blocks(op, depth, func() {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = value.AppendString(dst, string(r.bytes()))
			dst = append(dst, ':')
			dst = r.appendJSON(dst, op.elem, depth+1)
		})
		return append(dst, '}')
	case aUnion:
		if b := r.branch(op); b != nil {
			return r.appendJSON(dst, b, depth+1)
		}
		return dst
	}
	return value.AppendJSON(dst, r.value(op, false, depth))
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// decimalValue converts a two's-complement big-endian unscaled value: an
// Int when the scale is 0 and it fits 64 bits; a Float when the precision
// is at most 15 digits (then the double's shortest form is the decimal's
// digits, so nothing shown is lost); else the exact digits as a String.
func decimalValue(b []byte, prec, scale int) value.Value {
	u := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		u.Sub(u, new(big.Int).Lsh(big.NewInt(1), uint(len(b))*8))
	}
	if scale == 0 && u.IsInt64() {
		return value.OfInt(u.Int64())
	}
	text := decimalText(u, scale)
	if prec <= 15 {
		if f, err := strconv.ParseFloat(text, 64); err == nil {
			return value.OfFloat(f)
		}
	}
	return value.OfString(text)
}

// decimalText writes unscaled × 10^-scale with exactly scale fraction digits.
func decimalText(u *big.Int, scale int) string {
	s := new(big.Int).Abs(u).String()
	neg := u.Sign() < 0
	if scale > 0 {
		if len(s) <= scale {
			s = fmt.Sprintf("%0*s", scale+1, s)
		}
		s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	} else if scale < 0 {
		s += fmt.Sprintf("%0*d", -scale, 0)
	}
	if neg {
		s = "-" + s
	}
	return s
}

func formatUUID(b []byte) string {
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hex[c>>4], hex[c&0xf])
	}
	return string(out)
}
