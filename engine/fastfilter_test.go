package engine

import (
	"fmt"
	"math"
	"testing"

	"github.com/expr-lang/expr/vm"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/value"
)

// TestFastCmpAgreesWithVM holds the fast filter to the expression VM: for
// every filter and value, either it declines (the VM decides, as for null
// and strings) or it gives the VM's result.
func TestFastCmpAgreesWithVM(t *testing.T) {
	filters := []struct {
		src  string
		fast bool
	}{
		{"price > 50000", true}, {"price < 3", true}, {"price >= 3", true}, {"price <= 3", true},
		{"price == 3", true}, {"price != 3", true}, {"3 < price", true}, {"3 >= price", true},
		{"price > 2.5", true}, {"price == 3.0", true}, {"2.5 != price", true},
		{"price > 9007199254740993", true}, {"price > 1e300", true},
		{"price > -1", true}, {"price > bid", false}, {"price + 1 > 3", false}, {"price > 3 && price < 9", false},
		{`price == "3"`, true}, {`price != "3"`, true}, {`"bid" == price`, true}, {`price != ""`, true},
		{"price % 123 == 0", true}, {"price % 2 != 1", true}, {"0 == price % 7", true}, {"price % -3 < 1", true},
		{"price % 0 == 0", false}, {"price % bid == 0", false},
		{`price < "3"`, false}, {`price == "3" && price != "4"`, false},
	}
	vals := []value.Value{
		value.OfInt(3), value.OfInt(2), value.OfInt(4), value.OfInt(50000), value.OfInt(50001), value.OfInt(-7),
		value.OfInt(math.MaxInt64), value.OfInt(math.MinInt64), value.OfInt(9007199254740993), value.OfInt(9007199254740992),
		value.OfFloat(2.5), value.OfFloat(3), value.OfFloat(-0.0), value.OfFloat(math.Inf(1)), value.OfFloat(math.Inf(-1)),
		value.OfFloat(math.NaN()), value.OfFloat(1e300), value.Value{}, value.OfString("3"), value.OfBool(true),
		value.OfString(""), value.OfString("bid"), value.OfString("Bid"), value.OfString("3 "),
	}
	for _, f := range filters {
		spec := fmt.Sprintf("name: f\nstages:\n  - filter: %q\n", f.src)
		plan := compileSpec(t, spec)
		prog := plan.Steps[0].Filter
		fc := newFastCmp(prog)
		if (fc != nil) != f.fast {
			t.Errorf("%s: fast form %v, want %v", f.src, fc != nil, f.fast)
		}
		if fc == nil {
			continue
		}
		row := make([]value.Value, plan.Slots)
		for _, v := range vals {
			row[fc.slot] = v
			keep, ok := fc.eval(row)
			res, err := runVM(prog, row)
			if !ok {
				if (v.K == value.Int || (v.K == value.Float && fc.mod == 0)) && !fc.isStr {
					t.Errorf("%s with %v: declined a number", f.src, v)
				}
				if v.K == value.String && fc.isStr {
					t.Errorf("%s with %v: declined a string", f.src, v)
				}
				continue
			}
			if err != nil || res != keep {
				t.Errorf("%s with %v: fast %v, VM %v (%v)", f.src, v, keep, res, err)
			}
		}
	}
}

// runVM runs prog over row with the expression VM, as the engine would.
func runVM(prog *pipeline.Program, row []value.Value) (any, error) {
	env := map[string]any{}
	for _, pv := range prog.Vars {
		env[pv.Name] = row[pv.Slot].Any(nil)
	}
	var m vm.VM
	return prog.Run(&m, env, 10)
}
