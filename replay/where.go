package replay

import (
	"encoding/json"
	"fmt"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
)

// Env is what a --where expression sees of a dead letter.
type Env struct {
	Error      string            `expr:"error"`      // the error message
	Class      string            `expr:"class"`      // the error class (see Class)
	Stage      string            `expr:"stage"`      // eddy: "2:filter"; Connect: VALUE_CONVERTER, ...
	Topic      string            `expr:"topic"`      // the origin topic ("" when unknown)
	Partition  any               `expr:"partition"`  // the origin partition, int or nil
	Offset     any               `expr:"offset"`     // the origin offset, int or nil
	Convention string            `expr:"convention"` // eddy, connect, spring or unknown
	Replays    int               `expr:"replays"`    // eddy.replay.count
	Headers    map[string]string `expr:"headers"`    // every header (the last of a repeated key)
	Key        any               `expr:"key"`        // string, or nil when the record has no key
	Value      any               `expr:"value"`      // the value decoded as JSON, else the string
}

// Filter picks dead letters with an expr-lang expression over [Env], e.g.
//
//	class startsWith "coerce" && value.amount != nil && replays < 2
//
// Not safe for concurrent use.
type Filter struct {
	prog *vm.Program
	vm   vm.VM
	uses map[string]bool // the variables the expression reads
	env  Env
}

// NewFilter compiles a --where expression; it must give a boolean.
func NewFilter(src string) (*Filter, error) {
	prog, err := expr.Compile(src, expr.Env(Env{}), expr.AsBool())
	if err != nil {
		return nil, fmt.Errorf("--where %q: %w", src, err)
	}
	f := &Filter{prog: prog, uses: map[string]bool{}}
	node := prog.Node()
	ast.Walk(&node, identifiers(f.uses))
	return f, nil
}

type identifiers map[string]bool

func (ids identifiers) Visit(n *ast.Node) {
	if id, ok := (*n).(*ast.IdentifierNode); ok {
		ids[id.Value] = true
	}
}

// Match reports whether l passes the filter. An expression that fails on
// the letter (e.g. arithmetic on a missing field) is an error.
func (f *Filter) Match(l *Letter) (bool, error) {
	env := &f.env
	*env = Env{
		Error: l.Error, Class: l.Class, Stage: l.Stage, Topic: l.Origin.Topic,
		Convention: string(l.Convention), Replays: l.Replays,
	}
	if l.Origin.Partition != nil {
		env.Partition = int(*l.Origin.Partition)
	}
	if l.Origin.Offset != nil {
		env.Offset = int(*l.Origin.Offset)
	}
	if f.uses["headers"] {
		env.Headers = make(map[string]string, len(l.Headers))
		for _, h := range l.Headers {
			env.Headers[h.Key] = string(h.Value)
		}
	}
	if l.Key != nil {
		env.Key = string(l.Key)
	}
	if f.uses["value"] {
		env.Value = DecodeValue(l.Value)
	}
	out, err := f.vm.Run(f.prog, env)
	if err != nil {
		return false, fmt.Errorf("--where: %w", err)
	}
	b, _ := out.(bool)
	return b, nil
}

// DecodeValue is a record value as --where sees it: decoded JSON (objects
// as maps, numbers as float64), else the value as a string; nil for none.
func DecodeValue(b []byte) any {
	if b == nil {
		return nil
	}
	var v any
	if err := json.Unmarshal(b, &v); err == nil {
		return v
	}
	return string(b)
}
