package windows

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/eddyhq/eddy/value"
)

// JoinConfig configures an [IntervalJoin].
type JoinConfig struct {
	// Lower and Upper bound the interval, in ms: a left row at time tl
	// matches a right row at tr of the same key when
	// tr + Lower <= tl <= tr + Upper (both bounds inclusive, as in
	// Flink's l.t BETWEEN r.t + Lower AND r.t + Upper).
	Lower, Upper int64
	// Lateness is the allowed lateness: a row is late when its time is
	// behind the watermark minus Lateness.
	Lateness int64
	// Outer makes it a left outer join: a left row that matched nothing
	// is emitted once with right == nil when it can match no more.
	Outer bool
	// Store keeps the rows; nil: a [MemStore]. The join owns it.
	Store Store
	// Emit is called for each joined row, with the values the left and
	// the right row were added with (right nil for an unmatched left row
	// of an outer join), valid only during the call.
	Emit func(left, right []value.Value)
	// Match, when set, narrows the interval pair by pair: a left and a
	// right row that the interval and the key join are joined only when
	// it reports true (a bound from a field of a row; see until in
	// docs/joins.md). A left row of an outer join whose every pair it
	// refused is emitted with nulls.
	Match func(left, right []value.Value) bool
	// EndLeft, when set, is called after the rows of each left row (as
	// held: identical left rows are held, and emitted, together).
	EndLeft func()
}

// IntervalJoin is a stream–stream interval join on a keyed [Store]. A
// left row's output is emitted once, complete, when the watermark shows
// no right row can match it any more and no left row before it can come
// (tl - max(Lower, 0) < watermark - Lateness): its matches in the order
// of their time (then of their values), the left rows in the order of
// their time, key and values. So the rows and their order depend only on
// which rows came and which were late, not on how the inputs interleaved.
//
// Store keys: 'L' time key values (left rows), 'R' key time values (right
// rows by key, for matching) and 'T' time key values (the same right rows
// by time, for expiry); each value is the row's multiplicity (uvarint).
type IntervalJoin struct {
	cfg   JoinConfig
	st    Store // the left rows ('L')
	rs    Store // the right rows ('R', 'T'): st, or in memory a store of their own
	split bool  // rs is not st: in memory, rs holds only 'T' keys and byKey replaces 'R'
	byKey map[string][]rrow
	w     int64
	err   error
	left  int64 // left rows held (with multiplicity)
	right int64
	k, k2 []byte
	lvals []value.Value
	rvals []value.Value
	// expiredAt is the watermark of the last Expire; lFrom and tFrom
	// where its scans of left and right rows ended (nil: the start)
	expiredAt    int64
	lFrom, tFrom []byte
	n            uint64 // readN's result
	cnts         []uint64
	arena        []byte // the expired keys of a scan, end to end
	ends         []int
	lo, hi       []byte // emitLeft's scan bounds
	// lMin and rMin bound the times of the left and right rows held from
	// below (math.MinInt64: unknown), so that Expire skips the scan of
	// a side none of whose rows the watermark lets go
	lMin, rMin int64
}

// NewIntervalJoin returns a join with no rows.
func NewIntervalJoin(cfg JoinConfig) (*IntervalJoin, error) {
	if cfg.Lower > cfg.Upper {
		return nil, fmt.Errorf("windows: join interval [%d, %d] is empty", cfg.Lower, cfg.Upper)
	}
	if cfg.Emit == nil {
		return nil, errors.New("windows: join needs Emit")
	}
	j := &IntervalJoin{cfg: cfg, st: cfg.Store, w: NoWatermark, expiredAt: NoWatermark, lMin: math.MaxInt64, rMin: math.MaxInt64}
	if j.st == nil {
		// in memory, the long-lived right rows in a store of their own:
		// the left rows' churn does not reorder them
		j.st, j.rs, j.split = NewMemStore(0), NewMemStore(0), true
		j.byKey = map[string][]rrow{}
	} else {
		j.rs = j.st
	}
	return j, nil
}

// Watermark returns the watermark of the last Advance.
func (j *IntervalJoin) Watermark() int64 { return j.w }

// Held returns the left and right rows held.
func (j *IntervalJoin) Held() (left, right int64) { return j.left, j.right }

// Err returns the store's first failure.
func (j *IntervalJoin) Err() error { return j.err }

// Close releases the store.
func (j *IntervalJoin) Close() error {
	if j.split {
		return errors.Join(j.st.Close(), j.rs.Close())
	}
	return j.st.Close()
}

func (j *IntervalJoin) fail(err error) {
	if j.err == nil && err != nil {
		j.err = err
	}
}

// horizon is the earliest time a row may have and not be late.
func (j *IntervalJoin) horizon() int64 {
	switch {
	case j.w == NoWatermark:
		return math.MinInt64
	case j.w == EndOfInput:
		return math.MaxInt64
	}
	return j.w - j.cfg.Lateness
}

// Late reports whether a row at time t is late: behind the watermark minus
// the allowed lateness.
func (j *IntervalJoin) Late(t int64) bool { return t < j.horizon() }

// appendKeyTuple appends a key as its order-preserving encoding after
// its length, so that a key is a prefix of exactly its own rows.
func appendKeyTuple(b []byte, key []value.Value) []byte {
	var tmp [64]byte
	enc := tmp[:0]
	for _, v := range key {
		enc = appendOrdered(enc, v)
	}
	b = binary.AppendUvarint(b, uint64(len(enc)))
	return append(b, enc...)
}

// keyTupleLen is the length of the key tuple at the start of b, or -1.
func keyTupleLen(b []byte) int {
	l, n := binary.Uvarint(b)
	if n <= 0 || uint64(len(b)-n) < l {
		return -1
	}
	return n + int(l)
}

func (j *IntervalJoin) readN(v []byte) { j.n, _ = binary.Uvarint(v) }

// add increments the multiplicity under k in st.
func (j *IntervalJoin) add(st Store, k []byte) {
	j.n = 0
	if _, err := st.Get(k, j.readN); err != nil {
		j.fail(err)
		return
	}
	var buf [binary.MaxVarintLen64]byte
	j.fail(st.Set(k, buf[:binary.PutUvarint(buf[:], j.n+1)]))
}

// AddLeft adds a left row at time t with key key and values vals; it
// reports false (and keeps nothing) when the row is late.
func (j *IntervalJoin) AddLeft(t int64, key, vals []value.Value) bool {
	if j.Late(t) {
		return false
	}
	j.k = appendKeyTuple(appendTime(append(j.k[:0], 'L'), t), key)
	j.k = binary.AppendUvarint(j.k, uint64(len(vals)))
	j.k = appendValues(j.k, vals)
	j.add(j.st, j.k)
	j.left++
	j.lMin = min(j.lMin, t)
	return true
}

// AddRight adds a right row; false when it is late.
func (j *IntervalJoin) AddRight(t int64, key, vals []value.Value) bool {
	if j.Late(t) {
		return false
	}
	j.k2 = appendValues(appendKeyTuple(appendTime(append(j.k2[:0], 'T'), t), key), vals)
	j.add(j.rs, j.k2)
	if j.split {
		kl := keyTupleLen(j.k2[9:])
		j.index(j.k2[9:9+kl], t, j.k2[9+kl:], 1)
	} else {
		j.k = appendTime(appendKeyTuple(append(j.k[:0], 'R'), key), t)
		j.k = appendValues(j.k, vals)
		j.add(j.rs, j.k)
	}
	j.right++
	j.rMin = min(j.rMin, t)
	return true
}

// Advance moves the watermark to w (a lower w is ignored): rows behind
// it minus the lateness are late from now on. It is cheap; the rows it
// lets go are emitted and dropped by the next Expire.
func (j *IntervalJoin) Advance(w int64) {
	if w > j.w {
		j.w = w
	}
}

// Expire emits the rows of the left rows that can match no more and
// drops the rows no future row can match, as of the watermark. Calling it
// less often (once per batch) changes when rows come out, not which or in
// what order.
func (j *IntervalJoin) Expire() {
	if j.err != nil || j.w == j.expiredAt {
		return
	}
	j.expiredAt = j.w
	h := j.horizon()
	// left rows with tl - Lower < h: every right row they can match has
	// come (a later one would be late); and tl < h, so that a left row
	// yet to come (tl >= h) sorts after every row emitted so far: the
	// output is in the order of left time, then key and values
	if lim, ok := addClamp(h, min(j.cfg.Lower, 0)); (ok && lim > j.lMin) || h == math.MaxInt64 {
		// (the rows before lim go: none when every row held is at lim
		// or later, and then the scan, which costs a pass over the
		// store's keys in memory, is skipped)
		j.lMin = lim
		if !ok {
			j.lMin = math.MaxInt64 // every row goes
		}
		hi := []byte{'M'} // every 'L' key
		if ok {
			hi = appendTime([]byte{'L'}, lim)
		}
		// every left row before the last scan's limit is gone, and none
		// can come (it would be late): start there, past the deleted keys
		lo := []byte{'L'}
		if j.lFrom != nil {
			lo = slices.Clone(j.lFrom)
		}
		j.arena, j.ends = j.arena[:0], j.ends[:0]
		j.lFrom = append(j.lFrom[:0], hi...)
		j.fail(j.st.Scan(lo, hi, func(k, v []byte) bool {
			j.arena = append(j.arena, k...)
			j.ends = append(j.ends, len(j.arena))
			n, _ := binary.Uvarint(v)
			j.emitLeft(k, n)
			return j.err == nil
		}))
		for i, end := range j.ends {
			k := j.arena[j.start(i):end]
			j.fail(j.st.Delete(k))
		}
	}
	// right rows with tr + Upper + max(0, -Lower) < h: no left row
	// held or to come can match them
	keep := j.cfg.Upper + max(0, -j.cfg.Lower)
	if lim, ok := addClamp(h, -keep); (ok && lim > j.rMin) || h == math.MaxInt64 {
		j.rMin = lim
		if !ok {
			j.rMin = math.MaxInt64
		}
		hi := []byte{'U'}
		if ok {
			hi = appendTime([]byte{'T'}, lim)
		}
		lo := []byte{'T'}
		if j.tFrom != nil {
			lo = slices.Clone(j.tFrom)
		}
		j.arena, j.ends, j.cnts = j.arena[:0], j.ends[:0], j.cnts[:0]
		j.tFrom = append(j.tFrom[:0], hi...)
		j.fail(j.rs.Scan(lo, hi, func(k, v []byte) bool {
			j.arena = append(j.arena, k...)
			j.ends = append(j.ends, len(j.arena))
			n, _ := binary.Uvarint(v)
			j.cnts = append(j.cnts, n)
			j.right -= int64(n)
			return true
		}))
		for i, end := range j.ends {
			k := j.arena[j.start(i):end]
			j.fail(j.rs.Delete(k))
			// the 'R' twin: 'R' key time values from 'T' time key values
			kl := keyTupleLen(k[9:])
			if kl < 0 {
				j.fail(fmt.Errorf("%w: bad join key", ErrCorrupt))
				return
			}
			if j.split {
				j.index(k[9:9+kl], readTime(k[1:9]), k[9+kl:], -int64(j.cnts[i]))
				continue
			}
			r := append([]byte{'R'}, k[9:9+kl]...)
			r = append(r, k[1:9]...)
			j.fail(j.rs.Delete(append(r, k[9+kl:]...)))
		}
	}
}

// start is where expired key i starts in the arena.
func (j *IntervalJoin) start(i int) int {
	if i == 0 {
		return 0
	}
	return j.ends[i-1]
}

// addClamp returns a+b, false when it overflows or a is unbounded.
func addClamp(a, b int64) (int64, bool) {
	if a == math.MinInt64 || a == math.MaxInt64 {
		return 0, false
	}
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return 0, false
	}
	return s, true
}

// emitLeft emits the rows of the left row under store key k (held n
// times) and counts it gone.
func (j *IntervalJoin) emitLeft(k []byte, n uint64) {
	t := int64(binary.BigEndian.Uint64(k[1:9]) ^ 1<<63)
	body := k[9:]
	keyLen := keyTupleLen(body)
	if keyLen < 0 {
		j.fail(fmt.Errorf("%w: bad join key", ErrCorrupt))
		return
	}
	keyEnc := body[:keyLen]
	r := &reader{b: body[keyLen:]}
	nv := r.count()
	j.lvals = j.lvals[:0]
	for i := 0; i < nv && r.err == nil; i++ {
		j.lvals = append(j.lvals, r.value())
	}
	if r.err != nil {
		j.fail(fmt.Errorf("%w: %v", ErrCorrupt, r.err))
		return
	}
	j.left -= int64(n)
	matched := false
	// right rows with tr in [tl - Upper, tl - Lower] (right rows with a
	// null in their key are never added)
	if j.split {
		rows := j.byKey[string(keyEnc)]
		lo, hi := satAdd(t, -j.cfg.Upper), satAdd(t, -j.cfg.Lower)
		i, _ := slices.BinarySearchFunc(rows, lo, func(r rrow, t int64) int { return cmp.Compare(r.t, t) })
		for ; i < len(rows) && rows[i].t <= hi; i++ {
			rr := &reader{b: []byte(rows[i].vals)}
			j.rvals = j.rvals[:0]
			for rr.err == nil && len(rr.b) > 0 {
				j.rvals = append(j.rvals, rr.value())
			}
			if rr.err != nil {
				j.fail(fmt.Errorf("%w: %v", ErrCorrupt, rr.err))
				return
			}
			if j.cfg.Match != nil && !j.cfg.Match(j.lvals, j.rvals) {
				continue
			}
			matched = true
			for range n * rows[i].n {
				j.cfg.Emit(j.lvals, j.rvals)
			}
		}
	} else {
		j.lo = appendTime(append(append(j.lo[:0], 'R'), keyEnc...), satAdd(t, -j.cfg.Upper))
		lo := j.lo
		hiT := satAdd(t, -j.cfg.Lower)
		var hi []byte
		if hiT == math.MaxInt64 {
			hi = append(append(append(j.hi[:0], 'R'), keyEnc...), 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF)
		} else {
			hi = appendTime(append(append(j.hi[:0], 'R'), keyEnc...), hiT+1)
		}
		j.hi = hi
		j.fail(j.rs.Scan(lo, hi, func(rk, rv []byte) bool {
			m, _ := binary.Uvarint(rv)
			rr := &reader{b: rk[1+len(keyEnc)+8:]}
			j.rvals = j.rvals[:0]
			for rr.err == nil && len(rr.b) > 0 {
				j.rvals = append(j.rvals, rr.value())
			}
			if rr.err != nil {
				j.fail(fmt.Errorf("%w: %v", ErrCorrupt, rr.err))
				return false
			}
			if j.cfg.Match != nil && !j.cfg.Match(j.lvals, j.rvals) {
				return true
			}
			matched = true
			for range n * m {
				j.cfg.Emit(j.lvals, j.rvals)
			}
			return true
		}))
	}
	if !matched && j.cfg.Outer {
		for range n {
			j.cfg.Emit(j.lvals, nil)
		}
	}
	if j.cfg.EndLeft != nil {
		j.cfg.EndLeft()
	}
}

func satAdd(a, b int64) int64 {
	s := a + b
	switch {
	case b > 0 && s < a:
		return math.MaxInt64
	case b < 0 && s > a:
		return math.MinInt64
	}
	return s
}

// KeyHasNull reports whether a key tuple has a null: such a key never
// matches (as in SQL).
func KeyHasNull(key []value.Value) bool {
	for _, v := range key {
		if v.IsNull() {
			return true
		}
	}
	return false
}

var joinMagic = [4]byte{'e', 'j', 'n', '1'}

// AppendSnapshot appends the join's state (its rows, through the store's
// Checkpoint) to b. The watermark is not in it: the engine restores it
// from the partitions' watermarks and advances the join to it.
func (j *IntervalJoin) AppendSnapshot(b []byte) ([]byte, error) {
	b = append(b, joinMagic[:]...)
	b = binary.AppendVarint(b, j.left)
	b = binary.AppendVarint(b, j.right)
	b = binary.AppendVarint(b, j.w)
	if !j.split {
		return j.st.Checkpoint(append(b, 1))
	}
	// two stores: the left one's copy after its length, then the right's
	b = append(b, 2)
	at := len(b)
	b = append(b, make([]byte, 8)...)
	b, err := j.st.Checkpoint(b)
	if err != nil {
		return b, err
	}
	binary.BigEndian.PutUint64(b[at:], uint64(len(b)-at-8))
	return j.rs.Checkpoint(b)
}

// Restore replaces the state of a new join with a snapshot.
func (j *IntervalJoin) Restore(data []byte) error {
	if j.left != 0 || j.right != 0 || j.w != NoWatermark {
		return errors.New("windows: Restore needs a new join")
	}
	if len(data) < 4 || [4]byte(data[:4]) != joinMagic {
		return fmt.Errorf("%w: not a join snapshot", ErrCorrupt)
	}
	r := &reader{b: data[4:]}
	left, right, w := r.varint(), r.varint(), r.varint()
	if r.err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, r.err)
	}
	switch n := r.byte(); {
	case r.err != nil:
		return fmt.Errorf("%w: %v", ErrCorrupt, r.err)
	case n == 1 && !j.split:
		if err := j.st.Restore(r.b); err != nil {
			return err
		}
	case n == 2 && j.split:
		lb := r.take(8)
		if lb == nil || binary.BigEndian.Uint64(lb) > uint64(len(r.b)) {
			return fmt.Errorf("%w: truncated join snapshot", ErrCorrupt)
		}
		l := int(binary.BigEndian.Uint64(lb))
		if err := j.st.Restore(r.b[:l]); err != nil {
			return err
		}
		if err := j.rs.Restore(r.b[l:]); err != nil {
			return err
		}
		// the index of the right rows by key, from their 'T' keys
		err := j.rs.Scan([]byte{'T'}, []byte{'U'}, func(k, v []byte) bool {
			kl := -1
			if len(k) > 9 {
				kl = keyTupleLen(k[9:])
			}
			if kl < 0 {
				r.fail("bad join key")
				return false
			}
			c, _ := binary.Uvarint(v)
			j.index(k[9:9+kl], readTime(k[1:9]), k[9+kl:], int64(c))
			return true
		})
		if err == nil && r.err != nil {
			err = fmt.Errorf("%w: %v", ErrCorrupt, r.err)
		}
		if err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: the join snapshot is of another backend", ErrCorrupt)
	}
	j.left, j.right, j.w, j.expiredAt = left, right, w, NoWatermark
	j.lMin, j.rMin = math.MinInt64, math.MinInt64 // unknown: the next Expire scans
	return nil
}

// rrow is a right row in the memory index: its time, its values encoded,
// and its multiplicity.
type rrow struct {
	t    int64
	vals string
	n    uint64
}

// index adds d (negative: removes) to the multiplicity of the right row
// (t, vals) of key in the memory index, kept in the order of time, then
// values.
func (j *IntervalJoin) index(key []byte, t int64, vals []byte, d int64) {
	rows := j.byKey[string(key)]
	i, found := slices.BinarySearchFunc(rows, rrow{t: t, vals: string(vals)}, func(a, b rrow) int {
		if c := cmp.Compare(a.t, b.t); c != 0 {
			return c
		}
		return strings.Compare(a.vals, b.vals)
	})
	switch {
	case found:
		n := int64(rows[i].n) + d
		if n <= 0 {
			rows = slices.Delete(rows, i, i+1)
		} else {
			rows[i].n = uint64(n)
		}
	case d > 0:
		rows = slices.Insert(rows, i, rrow{t: t, vals: string(vals), n: uint64(d)})
	}
	if len(rows) == 0 {
		delete(j.byKey, string(key))
		return
	}
	j.byKey[string(key)] = rows
}
