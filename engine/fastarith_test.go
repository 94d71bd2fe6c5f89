package engine

import (
	"fmt"
	"math"
	"testing"

	"github.com/eddyhq/eddy/value"
)

// TestFastArithAgreesWithVM holds the fast project columns to the
// expression VM: for every column and value, either the fast form declines
// (the VM computes it) or it gives the VM's value, of the VM's kind.
func TestFastArithAgreesWithVM(t *testing.T) {
	cols := []struct {
		src  string
		fast bool
	}{
		{"price * 0.908", true}, {"0.908 * price", true}, {"price + 1", true}, {"1 - price", true},
		{"price - 2.5", true}, {"price * 3", true}, {"-3 * price", true}, {"price * -3", true},
		{"price / 2", false}, {"price % 2", false}, {"price * bid", false}, {"price * 2 + 1", false},
		{"price * 1e300", true}, {"price + 9007199254740993", true},
	}
	vals := []value.Value{
		value.OfInt(3), value.OfInt(0), value.OfInt(-7), value.OfInt(math.MaxInt64), value.OfInt(math.MinInt64),
		value.OfInt(9007199254740993), value.OfFloat(2.5), value.OfFloat(-0.0), value.OfFloat(math.Inf(1)),
		value.OfFloat(1e300), value.OfFloat(3), value.Value{}, value.OfString("3"), value.OfBool(true),
	}
	for _, c := range cols {
		spec := fmt.Sprintf("name: f\nstages:\n  - project: {x: %q}\n", c.src)
		plan := compileSpec(t, spec)
		prog := plan.Steps[0].Project[0].Prog
		fa := newFastArith(prog)
		if (fa != nil) != c.fast {
			t.Errorf("%s: fast form %v, want %v", c.src, fa != nil, c.fast)
		}
		if fa == nil {
			continue
		}
		row := make([]value.Value, plan.Slots)
		for _, v := range vals {
			row[fa.slot] = v
			got, ok := fa.eval(row)
			res, err := runVM(prog, row)
			if !ok {
				if v.K == value.Int || v.K == value.Float {
					t.Errorf("%s with %v: declined a number", c.src, v)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s with %v: fast %v, VM error %v", c.src, v, got, err)
				continue
			}
			want, err := value.FromAny(res)
			if err != nil {
				t.Fatal(err)
			}
			same := want.K == got.K && (value.Compare(want, got) == 0 || (want.K == value.Float && math.IsNaN(want.F) && math.IsNaN(got.F)))
			if !same || math.Signbit(want.F) != math.Signbit(got.F) {
				t.Errorf("%s with %v: fast %v, VM %v", c.src, v, got, want)
			}
		}
	}
}
