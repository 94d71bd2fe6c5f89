package pipeline

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/file"
	exprparser "github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"

	"github.com/eddyhq/eddy/windows"
)

// Coord is a record coordinate visible to expressions as a variable.
type Coord uint8

// The coordinates. File sources set _topic to the file name and _offset to
// the line number.
const (
	NoCoord Coord = iota
	CoordKey
	CoordTopic
	CoordPartition
	CoordOffset
	CoordTimestamp
	CoordHeaders
	CoordSource // the name of the record's source (a sources section)
)

var coords = map[string]Coord{
	"_key": CoordKey, "_topic": CoordTopic, "_partition": CoordPartition,
	"_offset": CoordOffset, "_timestamp": CoordTimestamp, "_headers": CoordHeaders,
	"_source": CoordSource,
}

// CoordOf returns the coordinate a variable name refers to, or NoCoord.
func CoordOf(name string) Coord { return coords[name] }

// Plan is a compiled pipeline: which input fields to decode into which
// slots, and the stages as operations on a flat row of slots.
type Plan struct {
	Pipeline *Pipeline
	Input    [][]string // decode paths; Input[i] fills slot i
	TimeSlot int        // slot of the event time; -1 for processing time or a coordinate
	TimeFrom Coord      // CoordTimestamp when time.field is _timestamp
	Slots    int        // row width
	Steps    []Step     // the stateless stages, in order
	Window   *WindowPlan
	// After are the stages after Window or Join, fed by its rows (see
	// Segment); empty when the window or the join is the last stage.
	After  []Segment
	Join   *JoinPlan // the join stage; nil without one (After then follows it)
	Output Output    // how a record that passed every step is written (no window)
	// SinkKeys[i] says how sink i builds record keys (Kafka and Kinesis sinks with key
	// fields); nil for sinks without keys.
	SinkKeys [][]KeyRef
}

// KeyRef locates one key field of an output row: Col indexes the row's
// columns (window results, projected output); for raw streamed records
// (Col < 0) Slot is the decoded input slot.
type KeyRef struct {
	Name string
	Col  int
	Slot int
}

// Step is one compiled stateless stage.
type Step struct {
	Index   int // position in spec.stages
	Kind    StageKind
	Filter  *Program
	Coerce  []CoerceOp
	Project []ProjectOp
	Lookup  *LookupOp
	Top     *TopOp
	Over    *OverOp
}

// LookupOp looks the value in KeySlot up in Table's key Column and
// writes the Select columns of the row found into Slots (nulls when none
// is found, unless OnMissing says to drop or dead-letter the record).
type LookupOp struct {
	Table     string
	Field     string
	Column    string
	KeySlot   int
	Select    []string
	Slots     []int
	OnMissing string
}

// CoerceOp converts the value in Slot to Type.
type CoerceOp struct {
	Field string
	Slot  int
	Type  Type
}

// ProjectOp computes output column Name into Slot, by copying slot From
// (when Prog is nil) or by running Prog.
type ProjectOp struct {
	Name string
	Slot int
	From int
	Prog *Program
}

// WindowPlan is the compiled window stage.
type WindowPlan struct {
	Index    int
	Spec     windows.Spec
	Keys     []int
	KeyNames []string
	Aggs     []windows.Agg
	Names    []string // output columns: keys, window_start, window_end, [revision], aggregates
}

// Output describes a streamed (unwindowed) record. With Raw, the original
// JSON object is written with the values of Coerced slots substituted;
// otherwise an object of Names taken from Slots.
//
// Joined are the fields lookups add to a raw record: each replaces the
// record's own field of that name (decoded into slot Input to find it) or
// is appended to the object.
type Output struct {
	Raw     bool
	Coerced []int
	Joined  []Joined
	Names   []string
	Slots   []int
}

// Joined is a field a lookup adds to a streamed raw record.
type Joined struct {
	Name  string
	Input int // the record's own field of that name, replaced when present
	Slot  int // the looked-up value
}

// Var is a variable an expression reads: a slot or a coordinate.
type Var struct {
	Name  string
	Slot  int
	Coord Coord
}

// Program is a compiled expression and the variables it reads.
type Program struct {
	Src  string
	Prog *vm.Program
	Vars []Var
}

// schema resolves field names to slots as stages are compiled. Before the
// first project it is open: any field name is an input field.
type schema struct {
	plan   *Plan
	open   bool
	names  []string
	slots  map[string]int
	inputs map[string]int
	what   string // describes the closed schema for errors
}

func (s *schema) resolve(name string) (int, bool) {
	if slot, ok := s.slots[name]; ok {
		return slot, true
	}
	if !s.open {
		return 0, false
	}
	return s.input(name), true
}

// input returns the input slot decoding field name, adding one if needed.
func (s *schema) input(name string) int {
	if slot, ok := s.inputs[name]; ok {
		return slot
	}
	slot := s.plan.Slots
	s.plan.Slots++
	s.plan.Input = append(s.plan.Input, strings.Split(name, "."))
	s.inputs[name] = slot
	return slot
}

func (s *schema) unknown(name string) string {
	return fmt.Sprintf("unknown field %q: %s only has %s", name, s.what, strings.Join(s.names, ", "))
}

type compiler struct {
	p       *Pipeline
	errs    Errors
	nJoined int // lookup slots handed out as placeholders
}

// joinedBase is where the placeholder slots of lookup columns start.
const joinedBase = 1 << 30

// remapJoined gives the lookup columns' placeholder slots their places
// after every other slot.
func (c *compiler) remapJoined(plan *Plan) {
	if c.nJoined == 0 {
		return
	}
	base := plan.Slots
	plan.Slots += c.nJoined
	m := func(s *int) {
		if *s >= joinedBase {
			*s = base + *s - joinedBase
		}
	}
	prog := func(p *Program) {
		if p != nil {
			for i := range p.Vars {
				m(&p.Vars[i].Slot)
			}
		}
	}
	for i := range plan.Steps {
		st := &plan.Steps[i]
		prog(st.Filter)
		for j := range st.Coerce {
			m(&st.Coerce[j].Slot)
		}
		for j := range st.Project {
			m(&st.Project[j].From)
			prog(st.Project[j].Prog)
		}
		if l := st.Lookup; l != nil {
			m(&l.KeySlot)
			for j := range l.Slots {
				m(&l.Slots[j])
			}
		}
	}
	if plan.Join != nil {
		plan.Join.remap(m)
	}
	if w := plan.Window; w != nil {
		for j := range w.Keys {
			m(&w.Keys[j])
		}
		for j := range w.Aggs {
			m(&w.Aggs[j].Arg)
		}
	}
	for j := range plan.Output.Joined {
		m(&plan.Output.Joined[j].Slot)
	}
	for j := range plan.Output.Slots {
		m(&plan.Output.Slots[j])
	}
	for _, keys := range plan.SinkKeys {
		for j := range keys {
			m(&keys[j].Slot)
		}
	}
}

func (c *compiler) errorf(line int, path, format string, args ...any) {
	c.errorfAt(line, 0, path, format, args...)
}

// errorfAt is errorf with the file column too.
func (c *compiler) errorfAt(line, col int, path, format string, args ...any) {
	c.errs = append(c.errs, &Error{File: c.p.File, Line: line, Col: col, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Compile turns a parsed pipeline into a Plan. Errors are [Errors].
func Compile(p *Pipeline) (*Plan, error) {
	c := &compiler{p: p}
	plan := &Plan{Pipeline: p, TimeSlot: -1}
	sc := &schema{plan: plan, open: true, slots: map[string]int{}, inputs: map[string]int{}}
	if f := p.Time.Field; f != "" {
		if co := CoordOf(f); co == CoordTimestamp {
			plan.TimeFrom = co
		} else if co != NoCoord {
			c.errorf(p.Time.Line, "time.field", "%s is a record coordinate, not a time; use a field name or _timestamp", f)
		} else {
			plan.TimeSlot, _ = sc.resolve(f)
		}
	}
	var coerced []int
	var joined []Joined
	for i, st := range p.Stages {
		path := fmt.Sprintf("stages[%d].%s", i, st.Kind)
		switch st.Kind {
		case Filter, Coerce, Project:
			plan.Steps = append(plan.Steps, c.stateless(i, st, path, sc, &coerced))
		case Lookup:
			step := Step{Index: i, Kind: Lookup, Lookup: c.lookup(st.Lookup, path, sc, &coerced, &joined)}
			plan.Steps = append(plan.Steps, step)
		case Top:
			c.errorf(st.Line, path, "a top stage ranks the rows of a window: put it after a window stage")
		case Over:
			c.errorf(st.Line, path, "an over stage follows a window or a join: put it after one")
		case Window:
			plan.Window = c.window(i, st.Window, path, sc)
		case Join:
			plan.Join = c.join(i, st.Join, path, sc)
		}
		if plan.Window != nil || plan.Join != nil {
			plan.After = c.after(plan, i+1)
			break
		}
	}
	if len(p.Sources) > 0 {
		c.checkSources()
	}
	if plan.Join != nil {
		plan.Output = Output{Names: plan.Join.Names}
	} else if plan.Window == nil {
		if sc.open {
			plan.Output = Output{Raw: true, Coerced: coerced, Joined: joined}
		} else {
			plan.Output = Output{Names: sc.names}
			for _, n := range sc.names {
				plan.Output.Slots = append(plan.Output.Slots, sc.slots[n])
			}
		}
	}
	plan.SinkKeys = make([][]KeyRef, len(p.Sinks))
	for i, s := range p.Sinks {
		var keys []string
		var path string
		switch {
		case s.Kafka != nil:
			keys, path = s.Kafka.Key, fmt.Sprintf("sinks[%d].kafka.key", i)
		case s.Kinesis != nil:
			keys, path = s.Kinesis.Key, fmt.Sprintf("sinks[%d].kinesis.key", i)
		default:
			continue
		}
		for _, name := range keys {
			ref := KeyRef{Name: name, Col: -1, Slot: -1}
			var cols []string
			switch {
			case plan.Window != nil || plan.Join != nil:
				cols = plan.OutputNames()
			case !plan.Output.Raw:
				cols = plan.Output.Names
			}
			if cols != nil {
				for j, n := range cols {
					if n == name {
						ref.Col = j
					}
				}
				if ref.Col < 0 {
					c.errorf(s.Line, path, "unknown field %q: the rows have %s", name, strings.Join(cols, ", "))
					continue
				}
			} else {
				ref.Slot, _ = sc.resolve(name)
			}
			plan.SinkKeys[i] = append(plan.SinkKeys[i], ref)
		}
	}
	c.remapJoined(plan)
	if len(c.errs) > 0 {
		return nil, c.errs
	}
	return plan, nil
}

// stateless compiles a filter, coerce or project stage against sc (whose
// plan hands out the fresh slots of a project).
func (c *compiler) stateless(i int, st Stage, path string, sc *schema, coerced *[]int) Step {
	plan := sc.plan
	switch st.Kind {
	case Filter:
		return Step{Index: i, Kind: Filter, Filter: c.program(st.Filter, path, sc, true)}
	case Coerce:
		step := Step{Index: i, Kind: Coerce}
		for _, ft := range st.Coerce {
			slot, ok := sc.resolve(ft.Field)
			if !ok {
				c.errorf(ft.Line, join(path, ft.Field), "%s", sc.unknown(ft.Field))
				continue
			}
			if sc.open && slot < len(plan.Input) {
				*coerced = append(*coerced, slot)
			}
			step.Coerce = append(step.Coerce, CoerceOp{Field: ft.Field, Slot: slot, Type: ft.Type})
		}
		return step
	}
	step := Step{Index: i, Kind: Project}
	for _, col := range st.Project {
		op := ProjectOp{Name: col.Name, From: -1}
		cp := join(path, col.Name)
		if src := strings.TrimSpace(col.Expr.Src); isCopy(src, sc) {
			if slot, ok := sc.resolve(src); ok {
				op.From = slot
			} else {
				c.errorf(col.Expr.Line, cp, "%s", sc.unknown(src))
			}
		} else {
			op.Prog = c.program(col.Expr, cp, sc, false)
		}
		step.Project = append(step.Project, op)
	}
	// the new schema: fresh slots so later stages never see stale values
	names := make([]string, len(step.Project))
	slots := map[string]int{}
	for j := range step.Project {
		step.Project[j].Slot = plan.Slots
		plan.Slots++
		names[j] = step.Project[j].Name
		slots[names[j]] = step.Project[j].Slot
	}
	*sc = schema{plan: plan, names: names, slots: slots, what: fmt.Sprintf("the project at stages[%d]", i)}
	return step
}

// lookup compiles a lookup stage: the key field is read where the stage
// is, and each selected column gets a fresh slot that later stages see
// under its name (over a field of the record of the same name).
func (c *compiler) lookup(l *LookupStage, path string, sc *schema, coerced *[]int, joined *[]Joined) *LookupOp {
	op := &LookupOp{Table: l.Table, Field: l.Field, Column: l.Column, OnMissing: l.OnMissing, Select: l.Select}
	t := c.p.Table(l.Table)
	switch {
	case t == nil && len(c.p.Tables) == 0:
		c.errorf(l.TableLine, join(path, "table"), "unknown table %q: the spec has no tables section", l.Table)
	case t == nil:
		names := make([]string, len(c.p.Tables))
		for i, t := range c.p.Tables {
			names[i] = t.Name
		}
		c.errorf(l.TableLine, join(path, "table"), "unknown table %q (the tables section has %s)", l.Table, strings.Join(names, ", "))
	case t.Kafka != nil && l.Column != t.Kafka.Key:
		c.errorf(l.OnLine, join(path, "on"), "table %s is keyed by its record key, column %s, not %s", t.Name, t.Kafka.Key, l.Column)
	}
	if slot, ok := sc.resolve(l.Field); ok {
		op.KeySlot = slot
	} else {
		c.errorf(l.OnLine, join(path, "on"), "%s", sc.unknown(l.Field))
	}
	for _, name := range l.Select {
		in := -1
		if sc.open {
			// the record's own field of this name, to replace it in place
			in = sc.input(name)
		}
		// a placeholder: input slots must stay 0..len(Input)-1, and later
		// stages may still add inputs (see remapJoined)
		slot := joinedBase + c.nJoined
		c.nJoined++
		op.Slots = append(op.Slots, slot)
		if _, had := sc.slots[name]; !had && !sc.open {
			sc.names = append(sc.names, name)
		}
		sc.slots[name] = slot
		if sc.open {
			// the joined value is written over the record's, coerced or not
			*coerced = slices.DeleteFunc(*coerced, func(s int) bool { return s == in })
			*joined = slices.DeleteFunc(*joined, func(j Joined) bool { return j.Name == name })
			*joined = append(*joined, Joined{Name: name, Input: in, Slot: slot})
		}
	}
	return op
}

func isLiteral(s string) bool { return s == "true" || s == "false" || s == "nil" }

// isCopy reports whether a project expression is a plain field reference
// that can be copied slot to slot. After a project, a dotted path is member
// access on a projected field, so it is an expression.
func isCopy(src string, sc *schema) bool {
	if !validPath(src) || isLiteral(src) || CoordOf(src) != NoCoord {
		return false
	}
	return sc.open || !strings.Contains(src, ".")
}

func (c *compiler) window(index int, w *WindowStage, path string, sc *schema) *WindowPlan {
	wp := &WindowPlan{Index: index, Spec: w.Spec}
	if err := w.Spec.Validate(); err != nil {
		c.errorf(w.Line, path, "%v", err)
	}
	seen := map[string]bool{}
	for _, k := range w.Key {
		slot, ok := sc.resolve(k)
		if !ok {
			c.errorf(w.KeyLine, join(path, "key"), "%s", sc.unknown(k))
			continue
		}
		if seen[k] {
			c.errorf(w.KeyLine, join(path, "key"), "duplicate key field %q", k)
		}
		seen[k] = true
		wp.Keys = append(wp.Keys, slot)
		wp.KeyNames = append(wp.KeyNames, k)
	}
	wp.Names = append(wp.Names, wp.KeyNames...)
	wp.Names = append(wp.Names, "window_start", "window_end")
	if c.p.Time.AllowedLateness > 0 {
		wp.Names = append(wp.Names, "revision")
	}
	reserved := map[string]bool{"window_start": true, "window_end": true, "revision": true}
	for _, a := range w.Aggregates {
		ap := join(join(path, "aggregate"), a.Name)
		switch {
		case reserved[a.Name]:
			c.errorf(a.Line, ap, "%q is reserved (window_start, window_end and revision are window columns)", a.Name)
		case seen[a.Name]:
			c.errorf(a.Line, ap, "output column %q is already used by a key", a.Name)
		}
		seen[a.Name] = true
		agg := windows.Agg{Name: a.Name, Field: a.Field, Func: a.Func, Arg: -1, Q: a.Q}
		if a.Field != "" {
			slot, ok := sc.resolve(a.Field)
			if !ok {
				c.errorf(a.Line, ap, "%s", sc.unknown(a.Field))
				continue
			}
			agg.Arg = slot
		}
		wp.Aggs = append(wp.Aggs, agg)
		wp.Names = append(wp.Names, a.Name)
	}
	return wp
}

var exprPos = regexp.MustCompile(`\s*\((\d+):(\d+)\)\s*$`)

// program compiles an expression against the current schema.
func (c *compiler) program(e Expr, path string, sc *schema, isFilter bool) *Program {
	// type() would shadow a field named type (nexmark has one); fields win
	opts := []expr.Option{expr.Env(map[string]any{}), expr.AllowUndefinedVariables(), expr.DisableBuiltin("type")}
	if sc.open {
		// Before the first project a dotted path names an input field, as in
		// keys and aggregates: a.b is null when a is missing, not an error.
		opts = append(opts, expr.Patch(&pathPatcher{locals: localNames(e.Src)}))
	}
	opts = append(opts, budgetOptions()...)
	opts = append(opts, expr.Patch(budgetPatcher{}))
	if isFilter {
		opts = append(opts, expr.AsBool())
	}
	prog, err := expr.Compile(e.Src, opts...)
	if err != nil {
		eline, ecol, msg := 0, -1, err.Error()
		var fe *file.Error
		if errors.As(err, &fe) {
			msg, eline, ecol = fe.Message, fe.Line, fe.Column
		} else if m := exprPos.FindStringSubmatch(strings.SplitN(msg, "\n", 2)[0]); m != nil {
			eline, _ = strconv.Atoi(m[1])
			ecol, _ = strconv.Atoi(m[2])
			msg = strings.TrimSpace(exprPos.ReplaceAllString(strings.SplitN(msg, "\n", 2)[0], ""))
		}
		if ecol < 0 {
			c.errorf(e.Line, path, "expression does not compile: %s", msg)
			return nil
		}
		c.exprError(e, path, eline, ecol, msg)
		return nil
	}
	p := &Program{Src: e.Src, Prog: prog}
	if bad := unknownCall(prog.Node()); bad != nil {
		eline, ecol := e.lineCol(bad.Location().From)
		c.exprError(e, path, eline, ecol, "unknown function "+bad.Value)
		return nil
	}
	for _, name := range identifiers(prog.Node()) {
		if co := CoordOf(name); co != NoCoord {
			p.Vars = append(p.Vars, Var{Name: name, Slot: -1, Coord: co})
			continue
		}
		slot, ok := sc.resolve(name)
		if !ok {
			c.errorf(e.Line, path, "%s", sc.unknown(name))
			continue
		}
		p.Vars = append(p.Vars, Var{Name: name, Slot: slot})
	}
	return p
}

// exprError reports a compile error at an expression position (1-based
// line, 0-based column, as expr gives them): the column inside the
// expression in the message, the file's line and column in front. An
// error at the end of the expression (expr's EOF) points at its last
// character and says the expression ends too early.
func (c *compiler) exprError(e Expr, path string, eline, ecol int, msg string) {
	lines := strings.Split(e.Src, "\n")
	if eline < 1 {
		eline = 1
	}
	if eline > len(lines) {
		eline, ecol = len(lines), utf8.RuneCountInString(lines[len(lines)-1])
	}
	if strings.HasSuffix(msg, "EOF") {
		// expr places an EOF past the last character; trailing blanks
		// are not where the expression stopped
		eline = len(lines)
		for eline > 1 && strings.TrimSpace(lines[eline-1]) == "" {
			eline--
		}
		ecol = max(utf8.RuneCountInString(strings.TrimRightFunc(lines[eline-1], unicode.IsSpace))-1, 0)
		msg = "the expression ends too early"
	}
	ecol = min(ecol, max(utf8.RuneCountInString(lines[eline-1])-1, 0))
	where := fmt.Sprintf("column %d", ecol+1)
	if len(lines) > 1 {
		where = fmt.Sprintf("line %d, column %d", eline, ecol+1)
	}
	line, col := e.locate(eline, ecol)
	if line == 0 {
		line = e.Line
	}
	c.errorfAt(line, col, path, "expression does not compile at %s of %q: %s", where, strings.TrimRight(e.Src, "\n"), msg)
}

// lineCol turns a rune offset in Src into expr's (1-based line, 0-based
// column).
func (e Expr) lineCol(off int) (line, col int) {
	line = 1
	for i, r := range []rune(e.Src) {
		if i == off {
			break
		}
		col++
		if r == '\n' {
			line, col = line+1, 0
		}
	}
	return line, col
}

// locate turns an expression position (1-based line, 0-based column, as
// expr reports them) into a file line and 1-based column; column 0 when
// it cannot be placed.
func (e Expr) locate(eline, ecol int) (line, col int) {
	runes := []rune(e.Src)
	off, l := 0, 1
	for off < len(runes) && l < eline {
		if runes[off] == '\n' {
			l++
		}
		off++
	}
	off += ecol
	if e.Pos != nil {
		switch {
		case off < len(e.Pos):
			return e.Pos[off].Line, e.Pos[off].Column
		case len(e.Pos) > 0 && off == len(e.Pos):
			last := e.Pos[len(e.Pos)-1]
			return last.Line, last.Column + 1
		}
	}
	if eline <= 1 && !strings.ContainsRune(e.Src, '\n') {
		return e.Line, e.Column + ecol
	}
	return e.Line, 0
}

// pathPatcher rewrites member chains on a free identifier with constant
// names (a.b.c, a?.b, a["b"]) into one identifier "a.b.c", so the decoder
// extracts the nested value into its own slot.
type pathPatcher struct{ locals map[string]bool }

func (v *pathPatcher) Visit(n *ast.Node) {
	m, ok := (*n).(*ast.MemberNode)
	if !ok || m.Method {
		return
	}
	prop, ok := m.Property.(*ast.StringNode)
	if !ok || !nameRe.MatchString(prop.Value) {
		return
	}
	root, ok := m.Node.(*ast.IdentifierNode)
	if !ok || v.locals[strings.SplitN(root.Value, ".", 2)[0]] || CoordOf(root.Value) != NoCoord || strings.HasPrefix(root.Value, "$") {
		return
	}
	id := &ast.IdentifierNode{Value: root.Value + "." + prop.Value}
	id.SetLocation(m.Location())
	ast.Patch(n, id)
}

// localNames lists the names an expression declares with let.
func localNames(src string) map[string]bool {
	locals := map[string]bool{}
	tree, err := exprparser.Parse(src)
	if err != nil {
		return locals
	}
	ast.Find(tree.Node, func(n ast.Node) bool {
		if d, ok := n.(*ast.VariableDeclaratorNode); ok {
			locals[d.Name] = true
		}
		return false
	})
	return locals
}

// unknownCall finds a call of a function that is not an expr builtin; with
// undefined variables allowed expr would only fail on it at run time.
func unknownCall(root ast.Node) *ast.IdentifierNode {
	var bad *ast.IdentifierNode
	ast.Find(root, func(n ast.Node) bool {
		if c, ok := n.(*ast.CallNode); ok {
			if id, ok := c.Callee.(*ast.IdentifierNode); ok {
				if _, known := builtin.Index[id.Value]; (!known && !budgeted[id.Value]) || id.Value == "type" {
					bad = id
					return true
				}
			}
		}
		return false
	})
	return bad
}

// identifiers lists the free variables of an expression, in first-use order.
type identVisitor struct {
	callees map[*ast.IdentifierNode]bool
	locals  map[string]bool
	idents  []*ast.IdentifierNode
}

func (v *identVisitor) Visit(n *ast.Node) {
	switch x := (*n).(type) {
	case *ast.CallNode:
		if id, ok := x.Callee.(*ast.IdentifierNode); ok {
			v.callees[id] = true
		}
	case *ast.VariableDeclaratorNode:
		v.locals[x.Name] = true
	case *ast.IdentifierNode:
		v.idents = append(v.idents, x)
	case *ast.MemberNode:
		// $env.name and $env["name"] reach fields whose names are not identifiers
		if env, ok := x.Node.(*ast.IdentifierNode); ok && env.Value == "$env" {
			if p, ok := x.Property.(*ast.StringNode); ok {
				v.idents = append(v.idents, &ast.IdentifierNode{Value: p.Value})
			}
		}
	}
}

func identifiers(root ast.Node) []string {
	v := &identVisitor{callees: map[*ast.IdentifierNode]bool{}, locals: map[string]bool{}}
	ast.Walk(&root, v)
	var out []string
	seen := map[string]bool{}
	for _, id := range v.idents {
		if v.callees[id] || v.locals[id.Value] || seen[id.Value] || strings.HasPrefix(id.Value, "$") {
			continue
		}
		seen[id.Value] = true
		out = append(out, id.Value)
	}
	return out
}
