package windows

import "math"

// QuantileAccuracy is the relative accuracy α of quantile(f, q): for the
// value x at 0-based rank floor(q·(n−1)) of the sorted non-null inputs, the
// estimate e satisfies |e − x| ≤ α·|x|. It holds while a sketch spans fewer
// than maxBuckets buckets per sign, about 36 orders of magnitude.
const QuantileAccuracy = 0.01

const maxBuckets = 4096

var (
	gamma    = (1 + QuantileAccuracy) / (1 - QuantileAccuracy)
	logGamma = math.Log(gamma)
)

// Sketch is a DDSketch-style relative-error quantile sketch: values fall in
// logarithmic buckets (γ^(i−1), γ^i] with γ = (1+α)/(1−α), and the estimate
// for a bucket is 2γ^i/(γ+1), within α of every value in it.
type Sketch struct {
	pos, neg store
	zero     uint64
	n        uint64
	min, max float64 // exact extremes: estimates are clamped to them
}

type store struct {
	counts []uint64
	offset int // bucket index of counts[0]
}

// NewSketch returns an empty sketch.
func NewSketch() *Sketch { return &Sketch{} }

// Count returns the number of values added.
func (s *Sketch) Count() uint64 { return s.n }

// Add adds one value. NaN is ignored.
func (s *Sketch) Add(x float64) {
	switch {
	case math.IsNaN(x):
		return
	}
	if s.n == 0 || x < s.min {
		s.min = x
	}
	if s.n == 0 || x > s.max {
		s.max = x
	}
	switch {
	case x > 0:
		s.pos.add(bucket(x), 1)
	case x < 0:
		s.neg.add(bucket(-x), 1)
	default:
		s.zero++
	}
	s.n++
}

func bucket(x float64) int {
	if math.IsInf(x, 1) || x > math.MaxFloat64/2 {
		x = math.MaxFloat64 / 2
	}
	if x < 1e-300 {
		x = 1e-300
	}
	return int(math.Ceil(math.Log(x) / logGamma))
}

func bucketValue(i int) float64 { return 2 * math.Pow(gamma, float64(i)) / (gamma + 1) }

func (st *store) add(i int, c uint64) {
	if len(st.counts) == 0 {
		st.counts = make([]uint64, 1, 8)
		st.offset = i
	}
	if i < st.offset {
		grow := st.offset - i
		if len(st.counts)+grow > maxBuckets {
			// collapse: values below the range land in the lowest bucket
			st.counts[0] += c
			return
		}
		n := make([]uint64, len(st.counts)+grow, cap(st.counts)+grow)
		copy(n[grow:], st.counts)
		st.counts, st.offset = n, i
	} else if j := i - st.offset; j >= len(st.counts) {
		if j >= maxBuckets {
			// drop the lowest buckets into their neighbour to make room
			shift := j - maxBuckets + 1
			if shift >= len(st.counts) {
				var sum uint64
				for _, v := range st.counts {
					sum += v
				}
				st.counts = st.counts[:1]
				st.counts[0] = sum
				st.offset = i - (maxBuckets - 1)
			} else {
				var sum uint64
				for _, v := range st.counts[:shift+1] {
					sum += v
				}
				copy(st.counts, st.counts[shift:])
				st.counts = st.counts[:len(st.counts)-shift]
				st.counts[0] = sum
				st.offset += shift
			}
			j = i - st.offset
		}
		for len(st.counts) <= j {
			st.counts = append(st.counts, 0)
		}
	}
	st.counts[i-st.offset] += c
}

// Rank is the 0-based rank floor(q·(n−1)) that quantile(f, q) estimates,
// computed so that decimal quantiles are not pushed below an integer by
// binary rounding (0.29·100 is 28.999… in floating point, but the rank is 29).
func Rank(q float64, n uint64) uint64 {
	if n == 0 {
		return 0
	}
	q = math.Max(0, math.Min(1, q))
	x := q * float64(n-1)
	r := math.Floor(x)
	if x-r > 1-1e-9 {
		r++
	}
	return min(uint64(r), n-1)
}

// Merge adds every value of o to s.
func (s *Sketch) Merge(o *Sketch) {
	if o.n == 0 {
		return
	}
	if s.n == 0 || o.min < s.min {
		s.min = o.min
	}
	if s.n == 0 || o.max > s.max {
		s.max = o.max
	}
	for j, c := range o.pos.counts {
		if c > 0 {
			s.pos.add(o.pos.offset+j, c)
		}
	}
	for j, c := range o.neg.counts {
		if c > 0 {
			s.neg.add(o.neg.offset+j, c)
		}
	}
	s.zero += o.zero
	s.n += o.n
}

// Quantile returns the estimate of the value at rank floor(q·(n−1)),
// clamped to the exact minimum and maximum (so q=0, q=1 and single-value
// sketches are exact).
func (s *Sketch) Quantile(q float64) float64 {
	if s.n == 0 {
		return math.NaN()
	}
	switch Rank(q, s.n) {
	case 0:
		return s.min
	case s.n - 1:
		return s.max
	}
	return math.Max(s.min, math.Min(s.max, s.quantile(q)))
}

func (s *Sketch) quantile(q float64) float64 {
	rank := Rank(q, s.n)
	var seen uint64
	// negatives, from the most negative (highest bucket) up
	for j := len(s.neg.counts) - 1; j >= 0; j-- {
		seen += s.neg.counts[j]
		if seen > rank {
			return -bucketValue(s.neg.offset + j)
		}
	}
	seen += s.zero
	if seen > rank {
		return 0
	}
	for j, c := range s.pos.counts {
		seen += c
		if seen > rank {
			return bucketValue(s.pos.offset + j)
		}
	}
	return bucketValue(s.pos.offset + len(s.pos.counts) - 1)
}
