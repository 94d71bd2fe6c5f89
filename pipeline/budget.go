package pipeline

import (
	"errors"
	"reflect"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
	"github.com/expr-lang/expr/vm/runtime"
)

// StringBudget is how many bytes of new string one evaluation may build with
// +, join and replace. expr's own memory budget counts arrays, maps, ranges
// and repeat() but not these, so a filter doubling a string 31 times used to
// end in Go's fatal out-of-memory instead of a dead letter. The bound matches
// the one expr sets on repeat() (1e6 bytes). A record larger than a quarter of
// it gets four times its own size, so concatenating its fields is not refused.
const StringBudget = 1_000_000

// errBudget reads as expr's own budget error, so every runaway expression
// gives one dead-letter reason.
var errBudget = errors.New("memory budget exceeded")

// budgetKey holds the *budget in an evaluation's environment; no expression
// can name it (it is not an identifier), and only [Program.Run] sets it.
const budgetKey = " string budget"

type budget struct{ used, limit int }

// Run evaluates p over env with a fresh string budget for a record of
// recordBytes. env is the caller's (it may be reused between calls); Run
// keeps its budget counter in it.
func (p *Program) Run(v *vm.VM, env map[string]any, recordBytes int) (any, error) {
	b, _ := env[budgetKey].(*budget)
	if b == nil {
		b = &budget{}
		env[budgetKey] = b
	}
	b.used, b.limit = 0, max(StringBudget, 4*recordBytes)
	return v.Run(p.Prog, env)
}

// charge counts n new bytes against the evaluation's budget; without one
// (a program run directly on the vm) each call is bounded on its own.
func charge(env any, n int) error {
	b, _ := env.(map[string]any)[budgetKey].(*budget)
	if b == nil {
		b = &budget{limit: StringBudget}
	}
	b.used += n
	if b.used > b.limit {
		return errBudget
	}
	return nil
}

const (
	fnCat     = "__eddy_cat"
	fnJoin    = "__eddy_join"
	fnReplace = "__eddy_replace"
)

var budgeted = map[string]bool{fnCat: true, fnJoin: true, fnReplace: true}

// budgetOptions are the functions the budget patcher calls instead of +,
// join and replace.
func budgetOptions() []expr.Option {
	return []expr.Option{
		expr.Function(fnCat, func(args ...any) (any, error) {
			a, aok := args[0].(string)
			b, bok := args[1].(string)
			if !aok || !bok {
				return runtime.Add(args[0], args[1]), nil
			}
			if err := charge(args[2], len(a)+len(b)); err != nil {
				return nil, err
			}
			return a + b, nil
		}),
		expr.Function(fnJoin, func(args ...any) (any, error) {
			env, glue := args[len(args)-1], ""
			if len(args) == 3 {
				s, ok := args[1].(string)
				if !ok {
					return nil, errors.New("join: glue is not a string")
				}
				glue = s
			}
			var parts []string
			switch xs := args[0].(type) {
			case []string:
				parts = xs
			case []any:
				parts = make([]string, len(xs))
				for i, x := range xs {
					s, ok := x.(string)
					if !ok {
						return nil, errors.New("join: array holds a non-string")
					}
					parts[i] = s
				}
			default:
				return nil, errors.New("join: argument is not an array of strings")
			}
			n := len(glue) * max(len(parts)-1, 0)
			for _, s := range parts {
				n += len(s)
			}
			if err := charge(env, n); err != nil {
				return nil, err
			}
			return strings.Join(parts, glue), nil
		}),
		expr.Function(fnReplace, func(args ...any) (any, error) {
			s, sok := args[0].(string)
			old, ook := args[1].(string)
			repl, rok := args[2].(string)
			if !sok || !ook || !rok {
				return nil, errors.New("replace: arguments are not strings")
			}
			n := len(s)
			if grow := len(repl) - len(old); grow > 0 {
				k := strings.Count(s, old)
				if old == "" {
					k = len(s) + 1
				}
				n += k * grow
			}
			if err := charge(args[3], n); err != nil {
				return nil, err
			}
			return strings.ReplaceAll(s, old, repl), nil
		}),
	}
}

// budgetPatcher sends string concatenation, join and replace through the
// budgeted functions above. A + whose operands are both known numbers is left
// alone.
type budgetPatcher struct{}

func (budgetPatcher) Visit(n *ast.Node) {
	env := func() ast.Node { return &ast.IdentifierNode{Value: "$env"} }
	switch x := (*n).(type) {
	case *ast.BinaryNode:
		if x.Operator != "+" || isNumber(x.Left) || isNumber(x.Right) {
			return
		}
		c := &ast.CallNode{Callee: &ast.IdentifierNode{Value: fnCat}, Arguments: []ast.Node{x.Left, x.Right, env()}}
		c.SetLocation(x.Location())
		ast.Patch(n, c)
	case *ast.BuiltinNode:
		var name string
		switch {
		case x.Name == "join" && (len(x.Arguments) == 1 || len(x.Arguments) == 2):
			name = fnJoin
		case x.Name == "replace" && len(x.Arguments) == 3:
			name = fnReplace
		default:
			return
		}
		c := &ast.CallNode{Callee: &ast.IdentifierNode{Value: name}, Arguments: append(x.Arguments, env())}
		c.SetLocation(x.Location())
		ast.Patch(n, c)
	}
}

func isNumber(n ast.Node) bool {
	t := n.Type()
	if t == nil {
		return false
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}
