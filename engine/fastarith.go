package engine

import (
	"github.com/expr-lang/expr/ast"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/value"
)

// fastArith is a project column of the form `field OP number` (or `number
// OP field`) with OP one of + - *, computed on the row without the
// expression VM for int and float values, as expr computes it (int OP int
// is an int, wrapping on overflow; with a float it is a float). Any other
// value goes to the VM, so that errors and dead letters are the VM's.
type fastArith struct {
	slot    int
	op      byte
	litLeft bool // number OP field
	isInt   bool
	i       int64
	f       float64
}

// newFastArith returns the fast form of a project program, or nil.
func newFastArith(p *pipeline.Program) *fastArith {
	if p == nil || p.Prog == nil || len(p.Vars) != 1 || p.Vars[0].Coord != pipeline.NoCoord {
		return nil
	}
	b, ok := p.Prog.Node().(*ast.BinaryNode)
	if !ok || (b.Operator != "+" && b.Operator != "-" && b.Operator != "*") {
		return nil
	}
	a := &fastArith{slot: p.Vars[0].Slot, op: b.Operator[0]}
	id, lit := b.Left, b.Right
	if _, ok := id.(*ast.IdentifierNode); !ok {
		id, lit, a.litLeft = b.Right, b.Left, true
	}
	ident, ok := id.(*ast.IdentifierNode)
	if !ok || ident.Value != p.Vars[0].Name {
		return nil
	}
	switch n := lit.(type) {
	case *ast.IntegerNode:
		a.isInt, a.i, a.f = true, int64(n.Value), float64(n.Value)
	case *ast.FloatNode:
		a.f = n.Value
	default:
		return nil
	}
	return a
}

// eval computes the column, or reports that the VM must.
func (a *fastArith) eval(row []value.Value) (value.Value, bool) {
	v := row[a.slot]
	switch {
	case v.K == value.Int && a.isInt:
		x, y := v.I, a.i
		if a.litLeft {
			x, y = y, x
		}
		switch a.op {
		case '+':
			return value.OfInt(x + y), true
		case '-':
			return value.OfInt(x - y), true
		}
		return value.OfInt(x * y), true
	case v.K == value.Int || v.K == value.Float:
		x, y := v.F, a.f
		if v.K == value.Int {
			x = float64(v.I)
		}
		if a.litLeft {
			x, y = y, x
		}
		switch a.op {
		case '+':
			return value.OfFloat(x + y), true
		case '-':
			return value.OfFloat(x - y), true
		}
		return value.OfFloat(x * y), true
	}
	return value.Value{}, false
}
