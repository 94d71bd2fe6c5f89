package windows

import (
	"fmt"
	"math"
	"math/bits"
	"strconv"

	"github.com/eddyhq/eddy/value"
)

// Func is an aggregate function.
type Func uint8

// The aggregate functions.
const (
	Count         Func = iota // count() — every record; count(f) — non-null f
	Sum                       // sum(f): int while every input is an int and the sum fits, else float
	Avg                       // avg(f): float
	Min                       // min(f): by value.Compare
	Max                       // max(f)
	CountDistinct             // count_distinct(f): exact number of distinct non-null values
	Quantile                  // quantile(f, q): approximate, relative error ≤ QuantileAccuracy
	First                     // first(f): non-null f with the smallest event time (ties: earliest arrival)
	Last                      // last(f): non-null f with the largest event time (ties: latest arrival)
)

var funcNames = map[string]Func{
	"count": Count, "sum": Sum, "avg": Avg, "min": Min, "max": Max,
	"count_distinct": CountDistinct, "quantile": Quantile, "first": First, "last": Last,
}

// FuncNames lists the aggregate function names in documentation order.
var FuncNames = []string{"count", "sum", "avg", "min", "max", "count_distinct", "quantile", "first", "last"}

// ParseFunc returns the function with the given name.
func ParseFunc(name string) (Func, bool) {
	f, ok := funcNames[name]
	return f, ok
}

func (f Func) String() string {
	for n, g := range funcNames {
		if g == f {
			return n
		}
	}
	return "func(" + strconv.Itoa(int(f)) + ")"
}

// Numeric reports whether the function needs numeric input.
func (f Func) Numeric() bool { return f == Sum || f == Avg || f == Quantile }

// Agg is one aggregate column.
type Agg struct {
	Name  string
	Field string // the input field, for messages
	Func  Func
	Arg   int     // slot of the input field in the row; -1 for count()
	Q     float64 // quantile in [0, 1]
}

// cell is the running state of one aggregate in one (window, key).
type cell struct {
	n     int64       // non-null values seen (count: records)
	hi    int64       // 128-bit integer sum (hi·2⁶⁴ + lo) while every input is an int
	lo    uint64      //
	fsum  float64     // float sum (always maintained for sum and avg)
	float bool        // a float was summed: the result is a float
	v     value.Value // min, max, first, last
	t     int64       // event time of v for first and last
	set   map[string]struct{}
	sk    *Sketch
}

// check validates a value for an aggregate before any state changes, so a
// record is either added to all its windows or to none.
func check(a *Agg, v value.Value) error {
	if a.Func.Numeric() && !v.IsNull() && !v.IsNumber() {
		return fmt.Errorf("%s: %s(%s): %s value is not a number", a.Name, a.Func, a.Field, v.K)
	}
	return nil
}

func (c *cell) add(a *Agg, v value.Value, ts int64, keyBuf []byte) []byte {
	if a.Func == Count {
		if a.Arg < 0 || !v.IsNull() {
			c.n++
		}
		return keyBuf
	}
	if v.IsNull() {
		return keyBuf
	}
	c.n++
	switch a.Func {
	case Sum, Avg:
		if v.K == value.Int {
			c.addInt(v.I>>63, uint64(v.I))
		} else {
			c.float = true
		}
		c.fsum += v.Num()
	case Min:
		if c.n == 1 || value.Compare(v, c.v) < 0 {
			c.v = v
		}
	case Max:
		if c.n == 1 || value.Compare(v, c.v) > 0 {
			c.v = v
		}
	case First:
		if c.n == 1 || ts < c.t {
			c.v, c.t = v, ts
		}
	case Last:
		if c.n == 1 || ts >= c.t {
			c.v, c.t = v, ts
		}
	case CountDistinct:
		if c.set == nil {
			c.set = make(map[string]struct{})
		}
		keyBuf = appendKey(keyBuf[:0], v)
		if _, ok := c.set[string(keyBuf)]; !ok {
			c.set[string(keyBuf)] = struct{}{}
		}
	case Quantile:
		if c.sk == nil {
			c.sk = NewSketch()
		}
		c.sk.Add(v.Num())
	}
	return keyBuf
}

// merge folds o into c (session merges). Both belong to the same Agg.
func (c *cell) merge(a *Agg, o *cell) {
	if a.Func == Count {
		c.n += o.n
		return
	}
	if o.n == 0 {
		return
	}
	if c.n == 0 {
		*c = *o
		return
	}
	switch a.Func {
	case Sum, Avg:
		c.addInt(o.hi, o.lo)
		c.float = c.float || o.float
		c.fsum += o.fsum
	case Min:
		if value.Compare(o.v, c.v) < 0 {
			c.v = o.v
		}
	case Max:
		if value.Compare(o.v, c.v) > 0 {
			c.v = o.v
		}
	case First:
		if o.t < c.t {
			c.v, c.t = o.v, o.t
		}
	case Last:
		if o.t >= c.t {
			c.v, c.t = o.v, o.t
		}
	case CountDistinct:
		for k := range o.set {
			c.set[k] = struct{}{}
		}
	case Quantile:
		c.sk.Merge(o.sk)
	}
	c.n += o.n
}

func (c *cell) result(a *Agg) value.Value {
	switch a.Func {
	case Count:
		return value.OfInt(c.n)
	case CountDistinct:
		return value.OfInt(int64(len(c.set)))
	}
	if c.n == 0 {
		return value.Value{}
	}
	switch a.Func {
	case Sum:
		if c.float {
			return value.OfFloat(c.fsum)
		}
		if c.hi == int64(c.lo)>>63 {
			return value.OfInt(int64(c.lo))
		}
		return value.OfFloat(c.intSum())
	case Avg:
		if !c.float {
			return value.OfFloat(c.intSum() / float64(c.n))
		}
		return value.OfFloat(c.fsum / float64(c.n))
	case Quantile:
		return value.OfFloat(c.sk.Quantile(a.Q))
	}
	return c.v
}

// addInt adds a sign-extended 128-bit integer to the exact sum. The sum is
// exact whatever the order of the inputs, like DuckDB's HUGEINT sum.
func (c *cell) addInt(hi int64, lo uint64) {
	var carry uint64
	c.lo, carry = bits.Add64(c.lo, lo, 0)
	c.hi += hi + int64(carry)
}

// intSum is the exact integer sum as a float.
func (c *cell) intSum() float64 {
	if c.hi == int64(c.lo)>>63 {
		return float64(int64(c.lo))
	}
	return float64(c.hi)*(1<<64) + float64(c.lo)
}

// appendKey appends a compact, injective encoding of v used for map keys.
// Numbers that are equal (1 and 1.0) encode the same.
func appendKey(b []byte, v value.Value) []byte {
	switch v.K {
	case value.Float:
		if v.F == math.Trunc(v.F) && math.Abs(v.F) < 1<<62 {
			return appendKey(b, value.OfInt(int64(v.F)))
		}
		bits := math.Float64bits(v.F)
		if v.F == 0 {
			bits = 0
		}
		b = append(b, 'f')
		return appendU64(b, bits)
	case value.Int:
		b = append(b, 'i')
		return appendU64(b, uint64(v.I))
	case value.Bool, value.Time:
		b = append(b, byte('0'+v.K))
		return appendU64(b, uint64(v.I))
	case value.String, value.JSON:
		b = append(b, byte('0'+v.K))
		b = strconv.AppendUint(b, uint64(len(v.S)), 10)
		b = append(b, ':')
		return append(b, v.S...)
	}
	return append(b, 'n')
}

func appendU64(b []byte, u uint64) []byte {
	return append(b, byte(u>>56), byte(u>>48), byte(u>>40), byte(u>>32), byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
}
