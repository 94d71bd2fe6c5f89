package engine

import (
	"cmp"

	"github.com/expr-lang/expr/ast"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/value"
)

// fastCmp is a filter of the form `field OP number` (or `number OP
// field`, or `field % N OP number` for ints), or `field == "text"` (or !=), evaluated on the row without the
// expression VM, for the values it can compare (ints and floats with a
// number, strings with a string). Any other value (null, a string with a
// number) goes to the VM, so that errors and dead letters are the VM's.
type fastCmp struct {
	slot  int
	op    byte // '<', '>', 'l' (<=), 'g' (>=), '=', '!'
	isInt bool // the literal is an int (compared as int with ints)
	isStr bool // the literal is a string: op is '=' or '!'
	s     string
	mod   int64 // not 0: the form is `field % mod OP number`, for ints only
	i     int64
	f     float64
}

// newFastCmp returns the fast form of a filter program, or nil.
func newFastCmp(p *pipeline.Program) *fastCmp {
	if p == nil || p.Prog == nil || len(p.Vars) != 1 || p.Vars[0].Coord != pipeline.NoCoord {
		return nil
	}
	b, ok := p.Prog.Node().(*ast.BinaryNode)
	if !ok {
		return nil
	}
	ops := map[string]byte{"<": '<', ">": '>', "<=": 'l', ">=": 'g', "==": '=', "!=": '!'}
	op, ok := ops[b.Operator]
	if !ok {
		return nil
	}
	id, lit := b.Left, b.Right
	if !isFieldOrMod(id) {
		// number OP field: the same as field OP' number
		id, lit = b.Right, b.Left
		op = map[byte]byte{'<': '>', '>': '<', 'l': 'g', 'g': 'l', '=': '=', '!': '!'}[op]
	}
	c := &fastCmp{slot: p.Vars[0].Slot, op: op}
	if m, ok := id.(*ast.BinaryNode); ok {
		n, ok := m.Right.(*ast.IntegerNode)
		if !ok || n.Value == 0 {
			return nil
		}
		id, c.mod = m.Left, int64(n.Value)
	}
	ident, ok := id.(*ast.IdentifierNode)
	if !ok || ident.Value != p.Vars[0].Name {
		return nil
	}
	switch n := lit.(type) {
	case *ast.IntegerNode:
		c.isInt, c.i, c.f = true, int64(n.Value), float64(n.Value)
	case *ast.FloatNode:
		c.f = n.Value
	case *ast.StringNode:
		if op != '=' && op != '!' {
			return nil
		}
		c.isStr, c.s = true, n.Value
	default:
		return nil
	}
	return c
}

// eval reports the filter's result and whether it could compare the value
// (as expr does: ints with an int literal as ints, else as floats).
func (c *fastCmp) eval(row []value.Value) (keep, ok bool) {
	v := row[c.slot]
	if c.isStr {
		if v.K != value.String {
			return false, false
		}
		return (v.S == c.s) == (c.op == '='), true
	}
	if c.mod != 0 {
		if v.K != value.Int {
			return false, false
		}
		v = value.OfInt(v.I % c.mod)
	}
	var d int // the sign of v - literal; NaN: no order
	switch {
	case v.K == value.Int && c.isInt:
		d = cmp.Compare(v.I, c.i)
	case v.K == value.Int:
		x := float64(v.I)
		if x != x || c.f != c.f {
			return c.op == '!', true
		}
		d = cmp.Compare(x, c.f)
	case v.K == value.Float:
		if v.F != v.F || c.f != c.f {
			return c.op == '!', true
		}
		d = cmp.Compare(v.F, c.f)
	default:
		return false, false
	}
	switch c.op {
	case '<':
		return d < 0, true
	case '>':
		return d > 0, true
	case 'l':
		return d <= 0, true
	case 'g':
		return d >= 0, true
	case '=':
		return d == 0, true
	}
	return d != 0, true
}

// isFieldOrMod reports whether n is a field or `field % N`.
func isFieldOrMod(n ast.Node) bool {
	if m, ok := n.(*ast.BinaryNode); ok && m.Operator == "%" {
		n = m.Left
	}
	_, ok := n.(*ast.IdentifierNode)
	return ok
}
