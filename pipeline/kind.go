package pipeline

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// Role is where a kind may appear in a spec.
type Role uint8

// The roles. A kind declares the set it serves.
const (
	AsSource     Role = 1 << iota // the source
	AsSink                        // an entry of sinks
	AsDeadLetter                  // the dlq
)

// ValueType is how a kind's field is written in a spec.
type ValueType string

// The value types.
const (
	StringValue ValueType = "string"
	ListValue   ValueType = "string or list" // a string or a list of strings
	CountValue  ValueType = "positive integer"
	BoolValue   ValueType = "boolean"
	// MappingValue is a nested mapping of the Field's Sub fields, held in
	// a pointer to a struct (nil when the key is absent).
	MappingValue ValueType = "mapping"
)

// Field is one key of a kind's spec entry.
type Field struct {
	Name string
	Type ValueType
	// Default is the value taken when the key is absent, as a spec writes
	// it; Format leaves a field out when it holds its default.
	Default string
	// DefaultDoc is what the reference says of the default when Default is
	// "" but absence still means something ("the source's cluster").
	DefaultDoc string
	Required   bool
	NonEmpty   bool     // an empty value (or list entry) is an error at its line
	Values     []string // the allowed values; nil: any
	Unit       string   // CountValue: what is counted, for messages ("rows")
	Path       bool     // a file path: Load resolves it against the spec's directory
	// Plural names the field that holds the same values written as a list:
	// Format writes one value under Name and others under Plural (topic,
	// topics); a spec gives one of the two.
	Plural string
	Roles  Role               // the roles the key is allowed in; 0: every role of its kind
	Go     string             // the Go struct field it decodes into; "": Name in CamelCase
	Check  func(string) error // further checks of a String value; the error is the message
	Doc    string             // one line for the reference table
	Sub    []Field            // MappingValue: the nested keys
}

// Kind is one kind of source, sink or dead-letter target: the key that
// names it in a spec entry (file, kafka, duckdb, parquet), the fields under
// it, and its documentation. Each kind declares itself in a kind_NAME.go
// file and registers itself from init; the parser, [Format], [Load], the
// workbench and the reference tables in docs/pipeline.md read the registry.
type Kind struct {
	Name  string
	Role  Role // AsSource, or AsSink and/or AsDeadLetter
	Order int  // the kind's place in lists and messages, lowest first
	Doc   string
	// Value is the kind's one field when the kind is written as a scalar
	// (file: PATH); nil for a kind written as a mapping of Fields.
	Value  *Field
	Fields []Field
	// Check runs checks across fields once the fields have decoded from a
	// mapping; cfg is what the kind's binding holds (e.g. *ParquetTarget).
	Check func(cfg any, e Entry)
	bind  binding
}

// binding stores a kind's decoded config in a Source or Target (the
// holder) and reads it back.
type binding struct {
	put func(holder any) any // makes the config in the holder and returns a pointer to it
	get func(holder any) any // the pointer, or nil when the holder does not hold this kind
}

// configIn binds a kind written as a mapping to the pointer field f
// selects in its holder H (Source or Target).
func configIn[H, C any](f func(*H) **C) binding {
	return binding{
		put: func(h any) any { p := f(h.(*H)); *p = new(C); return *p },
		get: func(h any) any {
			if p := *f(h.(*H)); p != nil {
				return p
			}
			return nil
		},
	}
}

// valueIn binds a kind written as a scalar to the string field f selects.
func valueIn[H any](f func(*H) *string) binding {
	p := func(h any) any { return f(h.(*H)) }
	return binding{put: p, get: p}
}

// checkAs adapts a typed cross-field check to [Kind.Check].
func checkAs[C any](f func(*C, Entry)) func(any, Entry) {
	return func(cfg any, e Entry) { f(cfg.(*C), e) }
}

var registry []*Kind

// register adds a kind. A kind that does not match its Go type is a
// programming error, caught by any test of the package.
func register(k *Kind) {
	for _, o := range registry {
		if o.Name == k.Name && o.Role&k.Role != 0 {
			panic(fmt.Sprintf("pipeline: kind %s registered twice for one role", k.Name))
		}
	}
	if err := k.validate(); err != nil {
		panic(fmt.Sprintf("pipeline: kind %s: %v", k.Name, err))
	}
	registry = append(registry, k)
	slices.SortStableFunc(registry, func(a, b *Kind) int { return cmp.Compare(a.Order, b.Order) })
}

// Kinds lists the kinds that serve any of the roles in r, in order.
func Kinds(r Role) []*Kind {
	var out []*Kind
	for _, k := range registry {
		if k.Role&r != 0 {
			out = append(out, k)
		}
	}
	return out
}

// LookupKind finds the kind named name that serves any of the roles in r.
func LookupKind(r Role, name string) (*Kind, bool) {
	for _, k := range Kinds(r) {
		if k.Name == name {
			return k, true
		}
	}
	return nil, false
}

// FieldsFor lists the kind's fields allowed in role r, in order.
func (k *Kind) FieldsFor(r Role) []Field {
	if k.Value != nil {
		return []Field{*k.Value}
	}
	var out []Field
	for _, f := range k.Fields {
		if f.Roles == 0 || f.Roles&r != 0 {
			out = append(out, f)
		}
	}
	return out
}

func (f Field) goName() string {
	if f.Go != "" {
		return f.Go
	}
	var b strings.Builder
	for _, part := range strings.Split(f.Name, "_") {
		if part != "" {
			r := []rune(part)
			b.WriteRune(unicode.ToUpper(r[0]))
			b.WriteString(string(r[1:]))
		}
	}
	return b.String()
}

func (f Field) goType() reflect.Type {
	switch f.Type {
	case ListValue:
		return reflect.TypeFor[[]string]()
	case CountValue:
		return reflect.TypeFor[int]()
	case BoolValue:
		return reflect.TypeFor[bool]()
	}
	return reflect.TypeFor[string]()
}

// checkFields checks that struct type t has a Go field of the right type
// for each of fields, recursing into mappings.
func checkFields(t reflect.Type, fields []Field) error {
	for _, f := range fields {
		sf, ok := t.FieldByName(f.goName())
		if f.Type == MappingValue {
			if !ok || sf.Type.Kind() != reflect.Pointer || sf.Type.Elem().Kind() != reflect.Struct {
				return fmt.Errorf("field %s: %s has no field %s of type pointer to struct", f.Name, t, f.goName())
			}
			if err := checkFields(sf.Type.Elem(), f.Sub); err != nil {
				return fmt.Errorf("field %s: %w", f.Name, err)
			}
			continue
		}
		if !ok || sf.Type != f.goType() {
			return fmt.Errorf("field %s: %s has no field %s of type %s", f.Name, t, f.goName(), f.goType())
		}
		if f.Type != StringValue && (f.Check != nil || len(f.Values) > 0) {
			return fmt.Errorf("field %s: Check and Values apply to strings only", f.Name)
		}
		if f.Default != "" && len(f.Values) > 0 && !slices.Contains(f.Values, f.Default) {
			return fmt.Errorf("field %s: default %q is not an allowed value", f.Name, f.Default)
		}
	}
	return nil
}

// validate checks that every field has a Go field of its type in every
// holder the kind binds to, and that defaults are values of the field.
func (k *Kind) validate() error {
	if k.bind.put == nil {
		return fmt.Errorf("no binding")
	}
	for _, h := range k.holders() {
		cfg := reflect.ValueOf(k.bind.put(h)).Elem()
		if k.Value != nil {
			if cfg.Type() != k.Value.goType() {
				return fmt.Errorf("value binds to %s, want %s", cfg.Type(), k.Value.goType())
			}
			continue
		}
		if err := checkFields(cfg.Type(), k.Fields); err != nil {
			return err
		}
	}
	return nil
}

// holders are zero holders of the kind's binding, for validate.
func (k *Kind) holders() []any {
	var out []any
	if k.Role&AsSource != 0 {
		out = append(out, &Source{})
	}
	if k.Role&(AsSink|AsDeadLetter) != 0 {
		out = append(out, &Target{})
	}
	return out
}

// NewSource is a source of kind name with every field at its default
// (the workbench starts from it), and false for an unknown kind.
func NewSource(name string) (Source, bool) {
	var s Source
	k, ok := LookupKind(AsSource, name)
	if ok {
		k.setDefaults(k.bind.put(&s))
	}
	return s, ok
}

func (k *Kind) setDefaults(cfg any) {
	v := reflect.ValueOf(cfg).Elem()
	for _, f := range k.FieldsFor(k.Role) {
		if f.Default == "" {
			continue
		}
		dst := v
		if k.Value == nil {
			dst = v.FieldByName(f.goName())
		}
		switch f.Type {
		case StringValue:
			dst.SetString(f.Default)
		case ListValue:
			dst.Set(reflect.ValueOf([]string{f.Default}))
		case CountValue:
			n, _ := strconv.Atoi(f.Default)
			dst.SetInt(int64(n))
		}
	}
}

// orList joins names as "a, b or c".
func orList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func kindNames(ks []*Kind) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.Name
	}
	return out
}

// Entry is a spec entry of a kind as its Check sees it: Errorf reports at
// the field's line when the field was given, else at the entry's.
type Entry struct {
	ps    *parser
	node  *yaml.Node
	path  string
	given map[string]*yaml.Node
}

// Errorf reports a problem with field ("" for the entry as a whole).
func (e Entry) Errorf(field, format string, args ...any) {
	n, path := e.node, e.path
	if field != "" {
		path = join(path, field)
		if g, ok := e.given[field]; ok {
			n = g
		}
	}
	e.ps.errorf(n, path, format, args...)
}

// entry decodes n, written under path, as a kind k entry in role r into
// cfg (from k's binding), with the kind's defaults.
func (ps *parser) entry(k *Kind, r Role, n *yaml.Node, path string, cfg any) {
	k.setDefaults(cfg)
	v := reflect.ValueOf(cfg).Elem()
	if k.Value != nil {
		ps.field(*k.Value, n, path, v)
		return
	}
	fields := k.FieldsFor(r)
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.Name
	}
	given := map[string]*yaml.Node{}
	empty := map[string]bool{} // Go fields whose last value was reported empty: not also "is required"
	setBy := map[string]int{}  // Go field to the index of the field that set it
	ps.fields(n, path, names, func(key string, vn *yaml.Node) {
		i := slices.Index(names, key)
		f := fields[i]
		if j, ok := setBy[f.goName()]; ok && !v.FieldByName(f.goName()).IsZero() {
			a, b := fields[min(i, j)].Name, fields[max(i, j)].Name
			ps.errorf(vn, join(path, key), "give %s or %s, not both", a, b)
		}
		setBy[f.goName()], given[key] = i, vn
		empty[f.goName()] = ps.field(f, vn, join(path, key), v.FieldByName(f.goName()))
	})
	if deref(n).Kind != yaml.MappingNode {
		return
	}
	for _, f := range fields {
		if f.Required && v.FieldByName(f.goName()).IsZero() && !empty[f.goName()] {
			ps.errorf(n, join(path, f.Name), "is required")
		}
	}
	if k.Check != nil {
		k.Check(cfg, Entry{ps: ps, node: n, path: path, given: given})
	}
}

// field decodes one value into dst and reports whether it was found empty.
func (ps *parser) field(f Field, n *yaml.Node, path string, dst reflect.Value) (empty bool) {
	if f.Type == MappingValue {
		sub := reflect.New(dst.Type().Elem())
		names := make([]string, len(f.Sub))
		for i, sf := range f.Sub {
			names[i] = sf.Name
		}
		ps.fields(n, path, names, func(key string, vn *yaml.Node) {
			sf := f.Sub[slices.Index(names, key)]
			ps.field(sf, vn, join(path, key), sub.Elem().FieldByName(sf.goName()))
		})
		dst.Set(sub)
		return false
	}
	if f.Type == ListValue {
		xs := ps.strList(n, path)
		dst.Set(reflect.ValueOf(xs))
		n = deref(n)
		for i, s := range xs {
			if s != "" || !f.NonEmpty {
				continue
			}
			empty = true
			if n.Kind == yaml.SequenceNode && i < len(n.Content) {
				ps.errorf(n.Content[i], fmt.Sprintf("%s[%d]", path, i), "must not be empty")
			} else {
				ps.errorf(n, path, "must not be empty")
			}
		}
		return empty
	}
	s, ok := ps.str(n, path)
	if !ok {
		return false
	}
	switch f.Type {
	case BoolValue:
		b, err := strconv.ParseBool(s)
		if err != nil {
			ps.errorf(n, path, "must be true or false, not %q", s)
		}
		dst.SetBool(b)
		return false
	case CountValue:
		c, err := strconv.Atoi(s)
		if err != nil || c <= 0 {
			what := "a positive number"
			if f.Unit != "" {
				what += " of " + f.Unit
			}
			ps.errorf(n, path, "must be %s, not %q", what, s)
		}
		dst.SetInt(int64(c))
		return false
	}
	dst.SetString(s)
	switch {
	case f.NonEmpty && s == "":
		ps.errorf(n, path, "must not be empty")
		return true
	case len(f.Values) > 0 && !slices.Contains(f.Values, s):
		ps.errorf(n, path, "must be %s, not %q", orList(f.Values), s)
	case f.Check != nil:
		if err := f.Check(s); err != nil {
			ps.errorf(n, path, "%v", err)
		}
	}
	return false
}

// formatEntry is the YAML of the kind of role r that holder (a *Source or
// *Target) holds; a scalar kind with an empty value is left out (nil)
// unless always.
func formatEntry(holder any, r Role, always bool) *yaml.Node {
	var scalarKind *Kind
	m := mapping()
	for _, k := range Kinds(r) {
		if k.Value != nil {
			if scalarKind == nil {
				scalarKind = k
			}
			continue
		}
		if cfg := k.bind.get(holder); cfg != nil {
			m.add(k.Name, k.format(reflect.ValueOf(cfg).Elem(), r))
			return m.Node
		}
	}
	if scalarKind == nil {
		return nil
	}
	s := *scalarKind.bind.get(holder).(*string)
	if s == "" && !always {
		return nil
	}
	m.add(scalarKind.Name, scalar(s))
	return m.Node
}

// format writes a mapping kind's fields in their declared order, leaving
// out defaults and empty optional fields.
func (k *Kind) format(v reflect.Value, r Role) *yaml.Node {
	return formatFields(v, k.FieldsFor(r))
}

func formatFields(v reflect.Value, fields []Field) *yaml.Node {
	m := mapping()
	plural := map[string]bool{}
	for _, f := range fields {
		plural[f.Plural] = f.Plural != ""
	}
	for _, f := range fields {
		if plural[f.Name] {
			continue
		}
		fv := v.FieldByName(f.goName())
		switch f.Type {
		case ListValue:
			xs := fv.Interface().([]string)
			switch {
			case f.Plural != "" && len(xs) == 1:
				m.add(f.Name, scalar(xs[0]))
			case f.Plural != "":
				m.add(f.Plural, list(xs))
			case len(xs) > 0 || f.Required:
				m.add(f.Name, list(xs))
			}
		case CountValue:
			if c := fv.Int(); c > 0 && strconv.FormatInt(c, 10) != f.Default {
				m.add(f.Name, scalar(strconv.FormatInt(c, 10)))
			}
		case BoolValue:
			if fv.Bool() {
				m.add(f.Name, scalar("true"))
			}
		case MappingValue:
			if !fv.IsNil() {
				m.add(f.Name, formatFields(fv.Elem(), f.Sub))
			}
		default:
			if s := fv.String(); f.Required || (s != "" && s != f.Default) {
				m.add(f.Name, scalar(s))
			}
		}
	}
	return m.Node
}

// resolvePaths applies rel to the path fields of the kind holder holds.
func resolvePaths(holder any, r Role, rel func(string) string) {
	for _, k := range Kinds(r) {
		cfg := k.bind.get(holder)
		if cfg == nil {
			continue
		}
		v := reflect.ValueOf(cfg).Elem()
		if k.Value != nil {
			if k.Value.Path {
				v.SetString(rel(v.String()))
			}
			continue
		}
		resolveFields(v, k.FieldsFor(r), rel)
	}
}

func resolveFields(v reflect.Value, fields []Field, rel func(string) string) {
	for _, f := range fields {
		fv := v.FieldByName(f.goName())
		switch {
		case f.Type == MappingValue && !fv.IsNil():
			resolveFields(fv.Elem(), f.Sub, rel)
		case f.Path:
			fv.SetString(rel(fv.String()))
		}
	}
}

// KindOf returns the kind of role r that holder (a *Source or *Target)
// holds: the kind written as a mapping whose config is set, else the kind
// written as a scalar (file), whose value may be empty; nil when r has
// neither. The job looks its openers up by the kind's name.
func KindOf(holder any, r Role) *Kind {
	var scalarKind *Kind
	for _, k := range Kinds(r) {
		switch {
		case k.Value != nil:
			if scalarKind == nil {
				scalarKind = k
			}
		case k.bind.get(holder) != nil:
			return k
		}
	}
	return scalarKind
}
