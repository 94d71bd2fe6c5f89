package windows

import (
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"unsafe"

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

// The running state of the aggregates of one (window, key) lives in three
// arrays of its entry, laid out once per operator (see [layout]): values
// (min, max, first, last keep one), numbers (counts, the exact integer sum
// as two words, the float sum's bits, a float flag, first/last's time) and
// objects (count_distinct's set, quantile's sketch). An aggregate takes
// only what its function uses: count() is 8 bytes, max 40, where one
// struct for every function took 104.

// place is where one aggregate's state is in an entry's arrays.
type place struct {
	v, n, o int32 // index of its value, its first number, its object
}

// layout places every aggregate's state; keys is the number of key values
// at the start of an entry's values (a pane's; a session's key is its
// key's, so 0 there).
type layout struct {
	keys, vals, nums, objs int
	at                     []place
}

func newLayout(aggs []Agg, keys int) layout {
	l := layout{keys: keys, vals: keys, at: make([]place, len(aggs))}
	for i, a := range aggs {
		p := place{v: -1, n: -1, o: -1}
		switch a.Func {
		case Count:
			p.n, l.nums = int32(l.nums), l.nums+1
		case Sum, Avg: // n, hi, lo, fsum, float
			p.n, l.nums = int32(l.nums), l.nums+5
		case Min, Max:
			p.v, l.vals = int32(l.vals), l.vals+1
		case First, Last: // the value, and its time
			p.v, l.vals = int32(l.vals), l.vals+1
			p.n, l.nums = int32(l.nums), l.nums+1
		case CountDistinct, Quantile:
			p.n, l.nums = int32(l.nums), l.nums+1
			p.o, l.objs = int32(l.objs), l.objs+1
		}
		l.at[i] = p
	}
	return l
}

// state is an entry's arrays as slices.
type state struct {
	vals []value.Value
	nums []int64
	objs []any
}

// check validates a value for an aggregate before any state changes, so a
// record is either added to all its windows or to none.
func check(a *Agg, v value.Value) error {
	if a.Func.Numeric() && !v.IsNull() && !v.IsNumber() {
		return fmt.Errorf("%s: %s(%s): %s value is not a number", a.Name, a.Func, a.Field, v.K)
	}
	return nil
}

// numAt and valAt address the i-th number and value of e's arrays
// without building slices: add runs for every aggregate of every record.
func numAt(e *entry, i int32) *int64 {
	return (*int64)(unsafe.Add(unsafe.Pointer(e.nums), uintptr(i)*unsafe.Sizeof(int64(0))))
}

func valAt(e *entry, i int32) *value.Value {
	return (*value.Value)(unsafe.Add(unsafe.Pointer(e.vals), uintptr(i)*unsafe.Sizeof(value.Value{})))
}

// add folds v (at event time ts) into the aggregate of e at p; l is e's
// layout. keyBuf is scratch space, returned; a count_distinct keeps its
// values' strings from in.
func add(e *entry, l *layout, a *Agg, p place, v value.Value, ts int64, keyBuf []byte, in *interner) []byte {
	if a.Func == Count {
		if a.Arg < 0 || !v.IsNull() {
			*numAt(e, p.n)++
		}
		return keyBuf
	}
	if v.IsNull() {
		return keyBuf
	}
	switch a.Func {
	case Sum, Avg:
		n := unsafe.Slice(numAt(e, p.n), 5)
		n[0]++
		if v.K == value.Int {
			addInt(n, v.I>>63, uint64(v.I))
		} else {
			n[4] = 1
		}
		n[3] = int64(math.Float64bits(math.Float64frombits(uint64(n[3])) + v.Num()))
	case Min:
		if c := valAt(e, p.v); c.IsNull() || value.Compare(v, *c) < 0 {
			*c = v
		}
	case Max:
		if c := valAt(e, p.v); c.IsNull() || value.Compare(v, *c) > 0 {
			*c = v
		}
	case First:
		if c, t := valAt(e, p.v), numAt(e, p.n); c.IsNull() || ts < *t {
			*c, *t = v, ts
		}
	case Last:
		if c, t := valAt(e, p.v), numAt(e, p.n); c.IsNull() || ts >= *t {
			*c, *t = v, ts
		}
	case CountDistinct:
		*numAt(e, p.n)++
		objs := unsafe.Slice(e.objs, l.objs)
		keyBuf = appendKey(keyBuf[:0], v)
		if !setHas(objs[p.o], unsafe.String(unsafe.SliceData(keyBuf), len(keyBuf))) {
			objs[p.o] = setPut(objs[p.o], in.string(keyBuf))
		}
	case Quantile:
		*numAt(e, p.n)++
		objs := unsafe.Slice(e.objs, l.objs)
		sk, _ := objs[p.o].(*Sketch)
		if sk == nil {
			sk = NewSketch()
			objs[p.o] = sk
		}
		sk.Add(v.Num())
	}
	return keyBuf
}

// merge folds the aggregate at p of o into st's (session merges).
func (st *state) merge(a *Agg, p place, o *state) {
	switch a.Func {
	case Count:
		st.nums[p.n] += o.nums[p.n]
	case Sum, Avg:
		n, m := st.nums[p.n:p.n+5:p.n+5], o.nums[p.n:p.n+5:p.n+5]
		if m[0] == 0 {
			return
		}
		n[0] += m[0]
		addInt(n, m[1], uint64(m[2]))
		n[3] = int64(math.Float64bits(math.Float64frombits(uint64(n[3])) + math.Float64frombits(uint64(m[3]))))
		n[4] |= m[4]
	case Min, Max, First, Last:
		ov := o.vals[p.v]
		if ov.IsNull() {
			return
		}
		c := &st.vals[p.v]
		switch {
		case c.IsNull(),
			a.Func == Min && value.Compare(ov, *c) < 0,
			a.Func == Max && value.Compare(ov, *c) > 0,
			a.Func == First && o.nums[p.n] < st.nums[p.n],
			a.Func == Last && o.nums[p.n] >= st.nums[p.n]:
			*c = ov
			if p.n >= 0 {
				st.nums[p.n] = o.nums[p.n]
			}
		}
	case CountDistinct:
		st.nums[p.n] += o.nums[p.n]
		from := o.objs[p.o]
		if setLen(from) == 0 {
			return
		}
		if st.objs[p.o] == nil {
			st.objs[p.o] = from
			o.objs[p.o] = nil
			return
		}
		setEach(from, func(k string) {
			if !setHas(st.objs[p.o], k) {
				st.objs[p.o] = setPut(st.objs[p.o], k)
			}
		})
	case Quantile:
		st.nums[p.n] += o.nums[p.n]
		from, _ := o.objs[p.o].(*Sketch)
		if from == nil {
			return
		}
		if sk, _ := st.objs[p.o].(*Sketch); sk != nil {
			sk.Merge(from)
		} else {
			st.objs[p.o] = from
			o.objs[p.o] = nil
		}
	}
}

// result is the value of the aggregate of e at p; l is e's layout.
func result(e *entry, l *layout, a *Agg, p place) value.Value {
	switch a.Func {
	case Count:
		return value.OfInt(*numAt(e, p.n))
	case Min, Max, First, Last:
		return *valAt(e, p.v)
	case CountDistinct:
		return value.OfInt(int64(setLen(unsafe.Slice(e.objs, l.objs)[p.o])))
	case Quantile:
		sk, _ := unsafe.Slice(e.objs, l.objs)[p.o].(*Sketch)
		if sk == nil {
			return value.Value{}
		}
		return value.OfFloat(sk.Quantile(a.Q))
	}
	n := unsafe.Slice(numAt(e, p.n), 5)
	if n[0] == 0 {
		return value.Value{}
	}
	fsum := math.Float64frombits(uint64(n[3]))
	if a.Func == Sum {
		if n[4] != 0 {
			return value.OfFloat(fsum)
		}
		if n[1] == n[2]>>63 {
			return value.OfInt(n[2])
		}
		return value.OfFloat(intSum(n))
	}
	if n[4] == 0 {
		return value.OfFloat(intSum(n) / float64(n[0]))
	}
	return value.OfFloat(fsum / float64(n[0]))
}

// addInt adds a sign-extended 128-bit integer to the exact sum held in
// n[1] (high word) and n[2] (low word). The sum is exact whatever the order
// of the inputs, like DuckDB's HUGEINT sum.
func addInt(n []int64, hi int64, lo uint64) {
	l, carry := bits.Add64(uint64(n[2]), lo, 0)
	n[2] = int64(l)
	n[1] += hi + int64(carry)
}

// intSum is the exact integer sum of n as a float.
func intSum(n []int64) float64 {
	if n[1] == n[2]>>63 {
		return float64(n[2])
	}
	return float64(n[1])*(1<<64) + float64(uint64(n[2]))
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

// count_distinct's set of a window and key is nil (empty), a *smallSet
// while it holds at most smallSetCap values, then a map: most sets hold
// a few values (the pages a user saw in a second), which a short array
// holds in one allocation and compares without hashing.
type smallSet struct {
	n int
	v [smallSetCap]string
}

const smallSetCap = 4

func setHas(set any, k string) bool {
	switch s := set.(type) {
	case *smallSet:
		for _, x := range s.v[:s.n] {
			if x == k {
				return true
			}
		}
	case map[string]struct{}:
		_, ok := s[k]
		return ok
	}
	return false
}

// setPut adds k, which set does not hold, and returns the set, which
// may be a new one.
func setPut(set any, k string) any {
	switch s := set.(type) {
	case nil:
		return &smallSet{n: 1, v: [smallSetCap]string{k}}
	case *smallSet:
		if s.n < smallSetCap {
			s.v[s.n] = k
			s.n++
			return s
		}
		m := make(map[string]struct{}, 2*smallSetCap)
		for _, x := range s.v {
			m[x] = struct{}{}
		}
		m[k] = struct{}{}
		return m
	case map[string]struct{}:
		s[k] = struct{}{}
	}
	return set
}

func setLen(set any) int {
	switch s := set.(type) {
	case *smallSet:
		return s.n
	case map[string]struct{}:
		return len(s)
	}
	return 0
}

func setEach(set any, f func(string)) {
	switch s := set.(type) {
	case *smallSet:
		for _, x := range s.v[:s.n] {
			f(x)
		}
	case map[string]struct{}:
		for x := range s {
			f(x)
		}
	}
}

// interner hands out one string per distinct byte sequence, so that the
// sets of count_distinct share a value's string across windows and keys
// (a page or a country is one string, not one per window that sees it).
// It holds at most maxInterned strings and starts afresh when full, so
// values of high cardinality cost it a bounded amount; a string handed
// out stays valid either way.
type interner struct{ m map[string]string }

const maxInterned = 1 << 16

func (in *interner) string(b []byte) string {
	if s, ok := in.m[string(b)]; ok {
		return s
	}
	if in.m == nil || len(in.m) >= maxInterned {
		in.m = make(map[string]string, 256)
	}
	s := string(b)
	in.m[s] = s
	return s
}
