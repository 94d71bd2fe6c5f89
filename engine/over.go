package engine

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/value"
	"github.com/eddyhq/eddy/windows"
)

// overState is the state of one over step: per key, a ring of the
// aggregated values of its last Rows rows (the row being handled is the
// Rows+1-th). It is part of the checkpoint (afterStates), framed after the
// windows after the first.
type overState struct {
	op   *pipeline.OverOp
	keys map[string]*overRing
	kb   []byte
}

// overRing holds the values (one per aggregate, count() a placeholder) of
// a key's last rows, oldest first from head.
type overRing struct {
	vals [][]value.Value
	head int
}

func newOverState(op *pipeline.OverOp) *overState {
	return &overState{op: op, keys: map[string]*overRing{}}
}

// add computes the aggregates of row (written into its slots) over the
// key's last rows and the row, then keeps the row's values.
func (o *overState) add(row []value.Value) error {
	op := o.op
	for _, a := range op.Aggs {
		if a.Arg >= 0 && (a.Func == windows.Sum || a.Func == windows.Avg) {
			if v := row[a.Arg]; !v.IsNull() && !v.IsNumber() {
				return fmt.Errorf("%s: %s of a %s value, not a number", a.Name, a.Func, v.K)
			}
		}
	}
	o.kb = o.kb[:0]
	for _, s := range op.Keys {
		o.kb = value.AppendJSON(o.kb, row[s])
		o.kb = append(o.kb, 0)
	}
	r := o.keys[string(o.kb)]
	if r == nil {
		r = &overRing{}
		o.keys[string(o.kb)] = r
	}
	cur := make([]value.Value, len(op.Aggs))
	for i, a := range op.Aggs {
		if a.Arg >= 0 {
			cur[i] = row[a.Arg]
		}
	}
	for i, a := range op.Aggs {
		row[a.Slot] = r.aggregate(i, a, cur[i])
	}
	if op.Rows == 0 {
		return nil
	}
	if len(r.vals) < op.Rows {
		r.vals = append(r.vals, cur)
	} else {
		r.vals[r.head] = cur
		r.head = (r.head + 1) % len(r.vals)
	}
	return nil
}

// aggregate is aggregate a (the i-th) over the ring's values and cur, as
// SQL's: nulls are skipped; sum, avg, min and max of no value are null.
func (r *overRing) aggregate(i int, a pipeline.OverAgg, cur value.Value) value.Value {
	n := int64(0)
	var isum int64
	var fsum float64
	allInt, overflow := true, false
	var best value.Value
	fold := func(v value.Value) {
		if a.Arg < 0 {
			n++
			return
		}
		if v.IsNull() {
			return
		}
		n++
		switch a.Func {
		case windows.Sum, windows.Avg:
			fsum += v.Num()
			if v.K == value.Int {
				s := isum + v.I
				if (v.I > 0 && s < isum) || (v.I < 0 && s > isum) {
					overflow = true
				}
				isum = s
			} else {
				allInt = false
			}
		case windows.Min:
			if n == 1 || value.Compare(v, best) < 0 {
				best = v
			}
		case windows.Max:
			if n == 1 || value.Compare(v, best) > 0 {
				best = v
			}
		}
	}
	for k := range r.vals {
		fold(r.vals[(r.head+k)%len(r.vals)][i])
	}
	fold(cur)
	switch a.Func {
	case windows.Count:
		return value.OfInt(n)
	case windows.Min, windows.Max:
		return best
	}
	if n == 0 {
		return value.Value{}
	}
	if a.Func == windows.Sum {
		if allInt && !overflow {
			return value.OfInt(isum)
		}
		return value.OfFloat(fsum)
	}
	if allInt && !overflow {
		return value.OfFloat(float64(isum) / float64(n))
	}
	return value.OfFloat(fsum / float64(n))
}

// AppendSnapshot appends the state: the keys in order, each with its
// values oldest first.
func (o *overState) AppendSnapshot(b []byte) []byte {
	keys := make([]string, 0, len(o.keys))
	for k := range o.keys {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		r := o.keys[k]
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(r.vals)))
		for j := range r.vals {
			for _, v := range r.vals[(r.head+j)%len(r.vals)] {
				b = appendOverValue(b, v)
			}
		}
	}
	return b
}

// Restore replaces the state with a snapshot of AppendSnapshot.
func (o *overState) Restore(data []byte) error {
	bad := fmt.Errorf("%w: the checkpoint's over state does not match the pipeline's", windows.ErrCorrupt)
	d := overDecoder{b: data, ok: true}
	n := d.uvarint()
	keys := map[string]*overRing{}
	for i := uint64(0); i < n && d.ok; i++ {
		k := string(d.bytes())
		m := d.uvarint()
		if m > uint64(o.op.Rows) {
			return bad
		}
		r := &overRing{}
		for j := uint64(0); j < m && d.ok; j++ {
			vals := make([]value.Value, len(o.op.Aggs))
			for a := range vals {
				vals[a] = d.value()
			}
			r.vals = append(r.vals, vals)
		}
		keys[k] = r
	}
	if !d.ok || len(d.b) != 0 {
		return bad
	}
	o.keys = keys
	return nil
}

// appendOverValue appends v: its kind, then its number or text.
func appendOverValue(b []byte, v value.Value) []byte {
	b = append(b, byte(v.K))
	switch v.K {
	case value.Float:
		return binary.BigEndian.AppendUint64(b, math.Float64bits(v.F))
	case value.String, value.JSON:
		b = binary.AppendUvarint(b, uint64(len(v.S)))
		return append(b, v.S...)
	case value.Null:
		return b
	}
	return binary.AppendVarint(b, v.I)
}

type overDecoder struct {
	b  []byte
	ok bool
}

func (d *overDecoder) uvarint() uint64 {
	if !d.ok {
		return 0
	}
	u, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.ok = false
		return 0
	}
	d.b = d.b[n:]
	return u
}

func (d *overDecoder) bytes() []byte {
	l := d.uvarint()
	if !d.ok || uint64(len(d.b)) < l {
		d.ok = false
		return nil
	}
	s := d.b[:l]
	d.b = d.b[l:]
	return s
}

func (d *overDecoder) value() value.Value {
	if !d.ok || len(d.b) == 0 {
		d.ok = false
		return value.Value{}
	}
	k := value.Kind(d.b[0])
	d.b = d.b[1:]
	switch k {
	case value.Null:
		return value.Value{}
	case value.Float:
		if len(d.b) < 8 {
			d.ok = false
			return value.Value{}
		}
		f := math.Float64frombits(binary.BigEndian.Uint64(d.b))
		d.b = d.b[8:]
		return value.OfFloat(f)
	case value.String, value.JSON:
		return value.Value{K: k, S: string(d.bytes())}
	case value.Int, value.Bool, value.Time:
		i, n := binary.Varint(d.b)
		if n <= 0 {
			d.ok = false
			return value.Value{}
		}
		d.b = d.b[n:]
		return value.Value{K: k, I: i}
	}
	d.ok = false
	return value.Value{}
}
