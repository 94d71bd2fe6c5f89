package format

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/bufbuild/protocompile"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/eddyhq/eddy/value"
)

// Protobuf decodes Confluent-framed Protobuf records into the slots of
// wanted paths. The registry's schema text is compiled with protocompile
// (imports resolved from the schema's references, the well-known types
// built in); the message indexes of each record select the message. The
// wire format is then read with protowire, guided by the descriptor, into
// the wanted slots; lists, maps and messages wanted whole go through
// dynamicpb and come out as JSON.
type Protobuf struct {
	cache  *Cache
	want   *want
	files  map[int]*protoFile
	progs  map[protoKey]*protoProg
	idx    []int
	lastID int
	lastIx []int
	last   *protoProg
}

type protoFile struct {
	fd  protoreflect.FileDescriptor
	err error
}

type protoKey struct {
	id  int
	idx string // the message indexes, as bytes
}

type protoProg struct {
	msg  *pmsg
	dyn  []dynSlot // slots filled from a dynamicpb message
	desc protoreflect.MessageDescriptor
	err  error
}

// dynSlot is a list, map or message wanted whole: the path of fields (and
// map keys) that leads to it from the top message.
type dynSlot struct {
	slot  int
	steps []dynStep
}

type dynStep struct {
	fd  protoreflect.FieldDescriptor
	key string // for a map: the entry's key, as text
	get bool   // key is set
}

// NewProtobuf returns a decoder filling slot i with paths[i], fetching
// schemas through c.
func NewProtobuf(c *Cache, paths [][]string) *Protobuf {
	return &Protobuf{cache: c, want: newWant(paths), files: map[int]*protoFile{}, progs: map[protoKey]*protoProg{}, lastID: -1}
}

// WithTime makes the value at slot the event time: a string that is an RFC
// 3339 timestamp becomes a time (Timestamp messages always do). It returns p.
func (p *Protobuf) WithTime(slot int) *Protobuf {
	p.want.markTime(slot)
	return p
}

// Decode reads one framed record; out has one slot per wanted path and is
// reset to nulls first. Strings are copied, so out does not alias b.
func (p *Protobuf) Decode(b []byte, out []value.Value) error {
	for i := range out {
		out[i] = value.Value{}
	}
	id, rest, err := SchemaID(b)
	if err != nil {
		return err
	}
	p.idx, rest, err = MessageIndexes(rest, id, p.idx)
	if err != nil {
		return err
	}
	prog := p.last
	if id != p.lastID || !slices.Equal(p.idx, p.lastIx) {
		if prog, err = p.prog(id); err != nil {
			return err
		}
	}
	if prog.err != nil {
		return prog.err
	}
	r := protoReader{out: out, id: id}
	r.message(prog.msg, rest, 0)
	if r.err == nil && len(prog.dyn) > 0 {
		r.dynamic(prog, rest)
	}
	if r.err != nil {
		for i := range out {
			out[i] = value.Value{}
		}
	}
	return r.err
}

func (p *Protobuf) prog(id int) (*protoProg, error) {
	key := protoKey{id, fmt.Sprint(p.idx)}
	if prog, ok := p.progs[key]; ok {
		p.lastID, p.lastIx, p.last = id, append(p.lastIx[:0], p.idx...), prog
		return prog, nil
	}
	f, ok := p.files[id]
	if !ok {
		s, err := p.cache.Schema(id)
		if err != nil {
			return nil, err
		}
		f = &protoFile{}
		f.fd, f.err = compileProto(p.cache, id, s)
		p.files[id] = f
	}
	prog := &protoProg{err: f.err}
	if f.err == nil {
		prog.desc, prog.err = messageAt(f.fd, p.idx, id)
		if prog.err == nil {
			c := protoCompiler{id: id, plain: map[protoreflect.FullName]*pmsg{}}
			prog.msg, prog.err = c.wanted(prog.desc, p.want, nil, &prog.dyn)
			if p.want.slot >= 0 { // the record itself is wanted whole
				prog.dyn = append(prog.dyn, dynSlot{slot: p.want.slot})
			}
		}
	}
	p.progs[key] = prog
	p.lastID, p.lastIx, p.last = id, append(p.lastIx[:0], p.idx...), prog
	return prog, nil
}

// compileProto compiles the schema text with its references.
func compileProto(c *Cache, id int, s sr.Schema) (protoreflect.FileDescriptor, error) {
	if s.Type != sr.TypeProtobuf {
		return nil, recordErr(ErrSchema, id, "a %s schema, not Protobuf", s.Type)
	}
	refs, err := c.references(s)
	if err != nil {
		return nil, wrapSchemaErr(err, id)
	}
	name := fmt.Sprintf("eddy-schema-%d.proto", id)
	srcs := map[string]string{name: s.Schema}
	for _, r := range refs {
		srcs[r.name] = r.text
	}
	text := &protocompile.SourceResolver{Accessor: protocompile.SourceAccessorFromMap(srcs)}
	resolve := protocompile.ResolverFunc(func(path string) (protocompile.SearchResult, error) {
		if fdp := encodedDescriptor(srcs[path]); fdp != nil {
			fdp.Name = proto.String(path) // imports name files by reference name
			return protocompile.SearchResult{Proto: fdp}, nil
		}
		return text.FindFileByPath(path)
	})
	comp := protocompile.Compiler{
		Resolver:       protocompile.WithStandardImports(resolve),
		MaxParallelism: 1,
	}
	files, err := comp.Compile(context.Background(), name)
	if err != nil {
		return nil, recordErr(ErrSchema, id, "%v", err)
	}
	return files[0], nil
}

// encodedDescriptor is the FileDescriptorProto of a schema registered as
// a base64-encoded descriptor (Python's ProtobufSerializer does so; Java
// clients register .proto text), or nil when s is not one. .proto text
// cannot be base64: it has spaces, semicolons or braces.
func encodedDescriptor(s string) *descriptorpb.FileDescriptorProto {
	s = strings.TrimSpace(s)
	if s == "" || strings.ContainsAny(s, " \t\n\r;{}") {
		return nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil
	}
	fdp := &descriptorpb.FileDescriptorProto{}
	if err := proto.Unmarshal(b, fdp); err != nil {
		return nil
	}
	return fdp
}

// messageAt follows the message indexes from the file's top-level messages.
func messageAt(fd protoreflect.FileDescriptor, idx []int, id int) (protoreflect.MessageDescriptor, error) {
	msgs := fd.Messages()
	var md protoreflect.MessageDescriptor
	for _, i := range idx {
		if i >= msgs.Len() {
			return nil, recordErr(ErrUnknownSchema, id, "message indexes %v name no message of the schema", idx)
		}
		md = msgs.Get(i)
		msgs = md.Messages()
	}
	if md == nil {
		return nil, recordErr(ErrUnknownSchema, id, "no message indexes")
	}
	return md, nil
}

type wkt uint8

const (
	wktNone wkt = iota
	wktTimestamp
	wktDuration
	wktWrapper
)

func wktOf(md protoreflect.MessageDescriptor) wkt {
	switch md.FullName() {
	case "google.protobuf.Timestamp":
		return wktTimestamp
	case "google.protobuf.Duration":
		return wktDuration
	case "google.protobuf.DoubleValue", "google.protobuf.FloatValue", "google.protobuf.Int64Value",
		"google.protobuf.UInt64Value", "google.protobuf.Int32Value", "google.protobuf.UInt32Value",
		"google.protobuf.BoolValue", "google.protobuf.StringValue", "google.protobuf.BytesValue":
		return wktWrapper
	}
	return wktNone
}

// pmsg reads one message: its fields by number.
type pmsg struct {
	desc     protoreflect.MessageDescriptor
	byNum    []*pfield // by field number, when they are small
	other    map[protowire.Number]*pfield
	defaults []slotDefault // implicit-presence fields wanted: their value when absent
	wkt      wkt
	wanted   bool // has wanted children (else it only validates)
}

type slotDefault struct {
	slot int
	v    value.Value
}

// pfield reads one field.
type pfield struct {
	fd    protoreflect.FieldDescriptor
	kind  protoreflect.Kind
	list  bool
	isMap bool
	slot  int
	time  bool
	msg   *pmsg // message kinds (and map values that are messages)
	keys  []protoMapKey
	utf8  bool // proto3 strings must be valid UTF-8
}

type protoMapKey struct {
	key string
	f   *pfield // the entry's value field, wanted
}

func (m *pmsg) field(n protowire.Number) *pfield {
	if int(n) < len(m.byNum) {
		return m.byNum[n]
	}
	return m.other[n]
}

func (m *pmsg) set(n protowire.Number, f *pfield) {
	if n < 256 {
		for int(n) >= len(m.byNum) {
			m.byNum = append(m.byNum, nil)
		}
		m.byNum[n] = f
		return
	}
	if m.other == nil {
		m.other = map[protowire.Number]*pfield{}
	}
	m.other[n] = f
}

type protoCompiler struct {
	id    int
	plain map[protoreflect.FullName]*pmsg
}

// plainMsg is the reader of a message nobody reads into: it validates.
func (c *protoCompiler) plainMsg(md protoreflect.MessageDescriptor) *pmsg {
	if m, ok := c.plain[md.FullName()]; ok {
		return m
	}
	m := &pmsg{desc: md, wkt: wktOf(md)}
	c.plain[md.FullName()] = m
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		m.set(fd.Number(), c.plainField(fd))
	}
	return m
}

func (c *protoCompiler) plainField(fd protoreflect.FieldDescriptor) *pfield {
	f := &pfield{fd: fd, kind: fd.Kind(), list: fd.IsList(), isMap: fd.IsMap(), slot: -1,
		utf8: fd.Kind() == protoreflect.StringKind && fd.Syntax() == protoreflect.Proto3}
	if md := fd.Message(); md != nil {
		f.msg = c.plainMsg(md)
	}
	return f
}

// wanted compiles the reader of a message with wanted children; dyn
// collects the children wanted whole that dynamicpb fills.
func (c *protoCompiler) wanted(md protoreflect.MessageDescriptor, w *want, path []dynStep, dyn *[]dynSlot) (*pmsg, error) {
	base := c.plainMsg(md)
	m := &pmsg{desc: md, wkt: base.wkt, byNum: slices.Clone(base.byNum), wanted: true}
	if base.other != nil {
		m.other = map[protowire.Number]*pfield{}
		for k, v := range base.other {
			m.other[k] = v
		}
	}
	seen := map[protowire.Number]string{}
	for _, cw := range w.children {
		fd := md.Fields().ByName(protoreflect.Name(cw.name))
		if fd == nil {
			fd = md.Fields().ByJSONName(cw.name)
		}
		if fd == nil {
			return nil, recordErr(ErrMissingField, c.id, "%q is not a field of %s", cw.path, md.FullName())
		}
		if other, ok := seen[fd.Number()]; ok {
			return nil, recordErr(ErrSchema, c.id, "paths %q and %q name the same field (by its proto and its JSON name)", other, cw.path)
		}
		seen[fd.Number()] = cw.path
		f, err := c.wantedField(fd, cw, append(slices.Clip(path), dynStep{fd: fd}), dyn)
		if err != nil {
			return nil, err
		}
		m.set(fd.Number(), f)
		if cw.slot >= 0 && !fd.HasPresence() && !fd.IsList() && !fd.IsMap() && f.slot >= 0 {
			m.defaults = append(m.defaults, slotDefault{cw.slot, protoScalar(fd, fd.Default())})
		}
	}
	return m, nil
}

func (c *protoCompiler) wantedField(fd protoreflect.FieldDescriptor, w *want, path []dynStep, dyn *[]dynSlot) (*pfield, error) {
	f := *c.plainField(fd)
	f.time = w.time
	whole := fd.IsList() || fd.IsMap() || fd.Message() != nil && wktOf(fd.Message()) == wktNone
	if w.slot >= 0 {
		if whole {
			*dyn = append(*dyn, dynSlot{slot: w.slot, steps: path})
		} else {
			f.slot = w.slot
		}
	}
	if len(w.children) == 0 {
		return &f, nil
	}
	switch {
	case fd.IsMap():
		vfd := fd.MapValue()
		for _, cw := range w.children {
			step := slices.Clone(path)
			step[len(step)-1] = dynStep{fd: fd, key: cw.name, get: true}
			vf, err := c.wantedField(vfd, cw, step, dyn)
			if err != nil {
				return nil, err
			}
			f.keys = append(f.keys, protoMapKey{cw.name, vf})
		}
	case fd.IsList():
		return nil, recordErr(ErrMissingField, c.id, "%q: %q is a repeated field; paths cannot go into its items", w.children[0].path, w.path)
	case fd.Message() != nil:
		m, err := c.wanted(fd.Message(), w, path, dyn)
		if err != nil {
			return nil, err
		}
		f.msg = m
	default:
		return nil, recordErr(ErrMissingField, c.id, "%q: %q is a %s, not a message", w.children[0].path, w.path, fd.Kind())
	}
	return &f, nil
}

// maxProtoDepth bounds message nesting, as proto-go's default does.
const maxProtoDepth = 10000

type protoReader struct {
	out []value.Value
	id  int
	err error
}

func (r *protoReader) fail(reason error, format string, args ...any) {
	if r.err == nil {
		r.err = recordErr(reason, r.id, format, args...)
	}
}

func (r *protoReader) wireErr(n int, what string) {
	err := protowire.ParseError(n)
	reason := ErrCorrupt
	if errors.Is(err, io.ErrUnexpectedEOF) {
		reason = ErrTruncated
	}
	r.fail(reason, "%s: %v", what, err)
}

// message reads the fields of one message in b.
func (r *protoReader) message(m *pmsg, b []byte, depth int) {
	if depth > maxProtoDepth {
		r.fail(ErrCorrupt, "messages nest deeper than %d", maxProtoDepth)
		return
	}
	for _, d := range m.defaults {
		if r.out[d.slot].IsNull() {
			r.out[d.slot] = d.v
		}
	}
	for len(b) > 0 && r.err == nil {
		num, typ, n := consumeTag(b)
		if n < 0 {
			r.wireErr(n, "field tag")
			return
		}
		b = b[n:]
		f := m.field(num)
		if f == nil || !r.wireMatches(f, typ) {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				r.wireErr(n, fmt.Sprintf("field %d", num))
				return
			}
			b = b[n:]
			continue
		}
		n = r.field(f, typ, b, depth)
		if r.err != nil {
			return
		}
		b = b[n:]
	}
}

// wireMatches reports whether typ is how f is encoded; a field that comes
// with another wire type is an unknown field, as proto-go has it.
func (r *protoReader) wireMatches(f *pfield, typ protowire.Type) bool {
	want := wireType(f.kind)
	if typ == want {
		return true
	}
	return f.list && typ == protowire.BytesType && want != protowire.BytesType && want != protowire.StartGroupType
}

func wireType(k protoreflect.Kind) protowire.Type {
	switch k {
	case protoreflect.BoolKind, protoreflect.EnumKind, protoreflect.Int32Kind, protoreflect.Sint32Kind,
		protoreflect.Uint32Kind, protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Uint64Kind:
		return protowire.VarintType
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
		return protowire.Fixed32Type
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
		return protowire.Fixed64Type
	case protoreflect.GroupKind:
		return protowire.StartGroupType
	}
	return protowire.BytesType
}

// field reads one occurrence of f and returns the bytes it took.
func (r *protoReader) field(f *pfield, typ protowire.Type, b []byte, depth int) int {
	if f.list && typ == protowire.BytesType && wireType(f.kind) != protowire.BytesType {
		// packed scalars: validate them
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			r.wireErr(n, f.fd.TextName())
			return 0
		}
		et := wireType(f.kind)
		for len(v) > 0 {
			k := protowire.ConsumeFieldValue(1, et, v)
			if k < 0 {
				r.wireErr(k, f.fd.TextName())
				return 0
			}
			v = v[k:]
		}
		return n
	}
	if f.kind == protoreflect.GroupKind {
		n := protowire.ConsumeFieldValue(f.fd.Number(), typ, b)
		if n < 0 {
			r.wireErr(n, f.fd.TextName())
		}
		return n
	}
	if f.isMap {
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			r.wireErr(n, f.fd.TextName())
			return 0
		}
		r.mapEntry(f, v, depth)
		return n
	}
	if f.msg != nil {
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			r.wireErr(n, f.fd.TextName())
			return 0
		}
		if f.msg.wkt != wktNone && f.slot >= 0 {
			val := r.wellKnown(f.msg, v, depth)
			if r.err == nil {
				r.out[f.slot] = val
			}
			if !f.msg.wanted {
				return n
			}
		}
		r.message(f.msg, v, depth+1)
		return n
	}
	val, n := r.scalar(f, typ, b)
	if n >= 0 && f.slot >= 0 && r.err == nil {
		r.out[f.slot] = val
	}
	return n
}

// scalar reads a scalar field's value.
func (r *protoReader) scalar(f *pfield, typ protowire.Type, b []byte) (value.Value, int) {
	var v protoreflect.Value
	var n int
	switch typ {
	case protowire.VarintType:
		var u uint64
		u, n = protowire.ConsumeVarint(b)
		if n < 0 {
			break
		}
		switch f.kind {
		case protoreflect.BoolKind:
			v = protoreflect.ValueOfBool(u != 0)
		case protoreflect.EnumKind:
			v = protoreflect.ValueOfEnum(protoreflect.EnumNumber(int32(u)))
		case protoreflect.Int32Kind:
			v = protoreflect.ValueOfInt32(int32(u))
		case protoreflect.Sint32Kind:
			v = protoreflect.ValueOfInt32(int32(protowire.DecodeZigZag(u & math.MaxUint32)))
		case protoreflect.Uint32Kind:
			v = protoreflect.ValueOfUint32(uint32(u))
		case protoreflect.Int64Kind:
			v = protoreflect.ValueOfInt64(int64(u))
		case protoreflect.Sint64Kind:
			v = protoreflect.ValueOfInt64(protowire.DecodeZigZag(u))
		case protoreflect.Uint64Kind:
			v = protoreflect.ValueOfUint64(u)
		}
	case protowire.Fixed32Type:
		var u uint32
		u, n = protowire.ConsumeFixed32(b)
		if n < 0 {
			break
		}
		switch f.kind {
		case protoreflect.Fixed32Kind:
			v = protoreflect.ValueOfUint32(u)
		case protoreflect.Sfixed32Kind:
			v = protoreflect.ValueOfInt32(int32(u))
		case protoreflect.FloatKind:
			v = protoreflect.ValueOfFloat32(math.Float32frombits(u))
		}
	case protowire.Fixed64Type:
		var u uint64
		u, n = protowire.ConsumeFixed64(b)
		if n < 0 {
			break
		}
		switch f.kind {
		case protoreflect.Fixed64Kind:
			v = protoreflect.ValueOfUint64(u)
		case protoreflect.Sfixed64Kind:
			v = protoreflect.ValueOfInt64(int64(u))
		case protoreflect.DoubleKind:
			v = protoreflect.ValueOfFloat64(math.Float64frombits(u))
		}
	default: // bytes and strings
		var s []byte
		s, n = protowire.ConsumeBytes(b)
		if n < 0 {
			break
		}
		if f.utf8 && !utf8.Valid(s) {
			r.fail(ErrCorrupt, "field %s: invalid UTF-8", f.fd.TextName())
			return value.Value{}, n
		}
		if f.slot < 0 {
			return value.Value{}, n
		}
		if f.time {
			if ms, ok := value.ParseTime(s); ok {
				return value.OfTime(ms), n
			}
		}
		return value.OfString(string(s)), n
	}
	if n < 0 {
		r.wireErr(n, f.fd.TextName())
		return value.Value{}, n
	}
	if f.slot < 0 {
		return value.Value{}, n
	}
	return protoScalar(f.fd, v), n
}

// protoScalar converts a scalar: integers to Int (uint64 above the int64
// range to Float), enums to their name (an unknown number to Int).
func protoScalar(fd protoreflect.FieldDescriptor, v protoreflect.Value) value.Value {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return value.OfBool(v.Bool())
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return value.OfString(string(ev.Name()))
		}
		return value.OfInt(int64(v.Enum()))
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return value.OfInt(v.Int())
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		if u := v.Uint(); u > math.MaxInt64 {
			return value.OfFloat(float64(u))
		}
		return value.OfInt(int64(v.Uint()))
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return value.OfFloat(v.Float())
	case protoreflect.StringKind:
		return value.OfString(v.String())
	case protoreflect.BytesKind:
		return value.OfString(string(v.Bytes()))
	}
	return value.Value{}
}

// wellKnown reads a Timestamp (a time), a Duration (Int milliseconds) or a
// wrapper (its value).
func (r *protoReader) wellKnown(m *pmsg, b []byte, depth int) value.Value {
	var secs, nanos int64
	var inner value.Value
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 {
			r.wireErr(n, string(m.desc.FullName()))
			return value.Value{}
		}
		b = b[n:]
		f := m.field(num)
		if f == nil || !r.wireMatches(f, typ) {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				r.wireErr(n, string(m.desc.FullName()))
				return value.Value{}
			}
			b = b[n:]
			continue
		}
		wf := *f
		wf.slot = 0 // read the value
		v, n := r.scalar(&wf, typ, b)
		if r.err != nil {
			return value.Value{}
		}
		b = b[n:]
		switch {
		case m.wkt == wktWrapper:
			inner = v
		case num == 1:
			secs = v.I
		case num == 2:
			nanos = v.I
		}
	}
	switch m.wkt {
	case wktTimestamp:
		return value.OfTime(secs*1000 + floorDiv(nanos, 1_000_000))
	case wktDuration:
		return value.OfInt(secs*1000 + nanos/1_000_000)
	}
	if inner.IsNull() {
		inner = protoScalar(m.desc.Fields().ByNumber(1), m.desc.Fields().ByNumber(1).Default())
	}
	return inner
}

// mapEntry reads one entry of a map: its key, and its value into the child
// wanted for that key.
func (r *protoReader) mapEntry(f *pfield, b []byte, depth int) {
	var key []byte
	var keyVal value.Value
	var val []byte
	valTyp := protowire.Type(-1)
	kf, vf := f.msg.field(1), f.msg.field(2)
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 {
			r.wireErr(n, f.fd.TextName())
			return
		}
		b = b[n:]
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			r.wireErr(m, f.fd.TextName())
			return
		}
		switch {
		case num == 1 && kf != nil && r.wireMatches(kf, typ):
			key = b[:m]
			k := *kf
			k.slot = 0
			keyVal, _ = r.scalar(&k, typ, key)
		case num == 2 && vf != nil && r.wireMatches(vf, typ):
			val, valTyp = b[:m], typ
		}
		if r.err != nil {
			return
		}
		b = b[m:]
	}
	var target *pfield
	if len(f.keys) > 0 {
		ks := mapKeyText(keyVal, kf)
		for _, mk := range f.keys {
			if mk.key == ks {
				target = mk.f
			}
		}
	}
	if target == nil {
		target = vf
	}
	if val == nil {
		if target != nil && target.slot >= 0 && target.msg == nil {
			r.out[target.slot] = protoScalar(target.fd, target.fd.Default())
		}
		return
	}
	r.field(target, valTyp, val, depth+1)
}

func mapKeyText(v value.Value, kf *pfield) string {
	if kf == nil {
		return ""
	}
	if v.IsNull() {
		v = protoScalar(kf.fd, kf.fd.Default())
	}
	switch v.K {
	case value.String:
		return v.S
	case value.Bool:
		return strconv.FormatBool(v.I != 0)
	case value.Float:
		return strconv.FormatFloat(v.F, 'f', -1, 64)
	}
	return strconv.FormatInt(v.I, 10)
}

// unmarshalDynamic is proto.Unmarshal into a dynamicpb message, with a
// panic of the library on hostile bytes turned into an error: protobuf-go
// v1.36.12 panics ("cannot convert nil to map key") on some corrupt map
// entries (FuzzProtobuf's seed 65b4b2cf8fee4920), and a record must be a
// dead letter, never a crash.
func unmarshalDynamic(b []byte, m *dynamicpb.Message) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("protobuf: %v", p)
		}
	}()
	return proto.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(b, m)
}

// dynamic fills the slots of lists, maps and messages wanted whole from a
// dynamicpb message of the record.
func (r *protoReader) dynamic(prog *protoProg, b []byte) {
	m := dynamicpb.NewMessage(prog.desc)
	if err := unmarshalDynamic(b, m); err != nil {
		r.fail(ErrCorrupt, "%v", err)
		return
	}
	for _, d := range prog.dyn {
		if len(d.steps) == 0 { // the record itself (an empty path)
			buf, err := appendProtoMessage(nil, m.ProtoReflect())
			if err != nil {
				r.fail(ErrCorrupt, "%v", err)
				return
			}
			r.out[d.slot] = value.OfJSON(string(buf))
			continue
		}
		cur := m.ProtoReflect()
		var v protoreflect.Value
		var fd protoreflect.FieldDescriptor
		ok := true
		for i, st := range d.steps {
			if cur == nil {
				ok = false
				break
			}
			fd = st.fd
			if !fd.IsList() && !fd.IsMap() && fd.Message() != nil && !cur.Has(fd) {
				ok = false
				break
			}
			v = cur.Get(fd)
			if st.get {
				mk, found := protoMapKeyOf(fd, st.key)
				if !found || !v.Map().Has(mk) {
					ok = false
					break
				}
				v = v.Map().Get(mk)
				fd = fd.MapValue()
			}
			if i < len(d.steps)-1 {
				cur = v.Message()
			}
		}
		if !ok {
			continue
		}
		buf, err := appendProtoJSON(nil, fd, v, fd.IsList(), fd.IsMap())
		if err != nil {
			r.fail(ErrCorrupt, "%v", err)
			return
		}
		r.out[d.slot] = value.OfJSON(string(buf))
	}
}

func protoMapKeyOf(fd protoreflect.FieldDescriptor, s string) (protoreflect.MapKey, bool) {
	kfd := fd.MapKey()
	switch kfd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(s).MapKey(), true
	case protoreflect.BoolKind:
		b, err := strconv.ParseBool(s)
		return protoreflect.ValueOfBool(b).MapKey(), err == nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		u, err := strconv.ParseUint(s, 10, 32)
		return protoreflect.ValueOfUint32(uint32(u)).MapKey(), err == nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		u, err := strconv.ParseUint(s, 10, 64)
		return protoreflect.ValueOfUint64(u).MapKey(), err == nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		i, err := strconv.ParseInt(s, 10, 32)
		return protoreflect.ValueOfInt32(int32(i)).MapKey(), err == nil
	}
	i, err := strconv.ParseInt(s, 10, 64)
	return protoreflect.ValueOfInt64(i).MapKey(), err == nil
}

var protoJSON = protojson.MarshalOptions{UseProtoNames: true}

// appendProtoJSON appends v (of field fd) as JSON: lists and maps element
// by element (map keys sorted), messages through protojson, compacted
// (protojson varies its spacing on purpose), scalars as their value.Value.
func appendProtoJSON(dst []byte, fd protoreflect.FieldDescriptor, v protoreflect.Value, list, isMap bool) ([]byte, error) {
	var err error
	switch {
	case list:
		l := v.List()
		dst = append(dst, '[')
		for i := range l.Len() {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = appendProtoJSON(dst, fd, l.Get(i), false, false); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case isMap:
		mp := v.Map()
		keys := make([]protoreflect.MapKey, 0, mp.Len())
		mp.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
			keys = append(keys, k)
			return true
		})
		slices.SortFunc(keys, func(a, b protoreflect.MapKey) int {
			return strings.Compare(mapKeyString(a), mapKeyString(b))
		})
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = value.AppendString(dst, mapKeyString(k))
			dst = append(dst, ':')
			if dst, err = appendProtoJSON(dst, fd.MapValue(), mp.Get(k), false, false); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case fd.Message() != nil && wktOf(fd.Message()) == wktNone:
		return appendProtoMessage(dst, v.Message())
	case fd.Message() != nil:
		b, err := protoJSON.Marshal(v.Message().Interface())
		if err != nil {
			return dst, err
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, b); err != nil {
			return dst, err
		}
		return append(dst, buf.Bytes()...), nil
	}
	return value.AppendJSON(dst, protoScalar(fd, v)), nil
}

// appendProtoMessage appends a message as a JSON object of its fields in
// declaration order, by their proto names, with the values eddy decodes
// them to (64-bit integers as numbers, enums by name, well-known types as
// protojson writes them); a field with presence that is not set is left
// out, one without presence is written with its value (the default).
func appendProtoMessage(dst []byte, m protoreflect.Message) ([]byte, error) {
	fields := m.Descriptor().Fields()
	dst = append(dst, '{')
	first := true
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.HasPresence() && !m.Has(fd) {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = value.AppendString(dst, string(fd.Name()))
		dst = append(dst, ':')
		var err error
		if dst, err = appendProtoJSON(dst, fd, m.Get(fd), fd.IsList(), fd.IsMap()); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

func mapKeyString(k protoreflect.MapKey) string { return k.Value().String() }

// consumeTag is protowire.ConsumeTag refusing field numbers above the
// largest valid one, as proto-go does.
func consumeTag(b []byte) (protowire.Number, protowire.Type, int) {
	num, typ, n := protowire.ConsumeTag(b)
	if n >= 0 && num > protowire.MaxValidNumber {
		return 0, 0, -2 // protowire's "invalid field number"
	}
	return num, typ, n
}
