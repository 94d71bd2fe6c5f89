package windows

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Type is the kind of window.
type Type uint8

// The window types.
const (
	TumblingType Type = iota + 1
	HoppingType
	SessionType
)

func (t Type) String() string {
	switch t {
	case TumblingType:
		return "tumbling"
	case HoppingType:
		return "hopping"
	case SessionType:
		return "session"
	}
	return "unknown"
}

// Spec describes a window. Sizes are in milliseconds.
type Spec struct {
	Type  Type
	Size  int64 // tumbling and hopping
	Slide int64 // hopping
	Gap   int64 // session
}

// Tumbling returns a tumbling window of the given size.
func Tumbling(size time.Duration) Spec { return Spec{Type: TumblingType, Size: size.Milliseconds()} }

// Hopping returns hopping windows of size, one starting every slide.
func Hopping(size, slide time.Duration) Spec {
	return Spec{Type: HoppingType, Size: size.Milliseconds(), Slide: slide.Milliseconds()}
}

// Session returns per-key session windows closed by gap of inactivity.
func Session(gap time.Duration) Spec { return Spec{Type: SessionType, Gap: gap.Milliseconds()} }

// MaxHoppingWindows bounds size/slide of a hopping window: every record is
// added to each of the size/slide windows it falls in, one accumulator each,
// and each of them is emitted as a row per key, so the ratio multiplies both
// the work per record and the output. size: 1h, slide: 1ms would turn every
// record into 3.6 million rows.
const MaxHoppingWindows = 10000

// Validate checks the spec's durations.
func (s Spec) Validate() error {
	switch s.Type {
	case TumblingType:
		if s.Size <= 0 {
			return errors.New("tumbling size must be at least 1ms")
		}
	case HoppingType:
		if s.Size <= 0 {
			return errors.New("hopping size must be at least 1ms")
		}
		if s.Slide <= 0 {
			return errors.New("hopping slide must be at least 1ms")
		}
		if s.Slide > s.Size {
			return errors.New("hopping slide must not exceed size")
		}
		if n := s.Size / s.Slide; n > MaxHoppingWindows {
			minSlide := time.Duration((s.Size+MaxHoppingWindows-1)/MaxHoppingWindows) * time.Millisecond
			return fmt.Errorf("size/slide is %d windows per record, more than the %d eddy allows (slide at least %v for size %v)",
				n, MaxHoppingWindows, minSlide, time.Duration(s.Size)*time.Millisecond)
		}
	case SessionType:
		if s.Gap <= 0 {
			return errors.New("session gap must be at least 1ms")
		}
	default:
		return errors.New("unknown window type")
	}
	return nil
}

func (s Spec) String() string {
	switch s.Type {
	case TumblingType:
		return fmt.Sprintf("tumbling(%v)", time.Duration(s.Size)*time.Millisecond)
	case HoppingType:
		return fmt.Sprintf("hopping(%v, %v)", time.Duration(s.Size)*time.Millisecond, time.Duration(s.Slide)*time.Millisecond)
	case SessionType:
		return fmt.Sprintf("session(%v)", time.Duration(s.Gap)*time.Millisecond)
	}
	return "unknown"
}

// Extent returns the earliest start and the latest end of the windows an
// event at t belongs to (a session's, before any merge: t and t+gap). The
// caller keeps t inside the range where these cannot overflow.
func (s Spec) Extent(t int64) (start, end int64) {
	switch s.Type {
	case TumblingType:
		start = floorDiv(t, s.Size) * s.Size
		return start, start + s.Size
	case HoppingType:
		last := floorDiv(t, s.Slide) * s.Slide
		first := floorDiv(t-s.Size, s.Slide)*s.Slide + s.Slide
		return first, last + s.Size
	}
	return t, t + s.Gap
}

// floorDiv rounds toward negative infinity.
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// addSat adds without overflowing past the int64 range.
func addSat(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// NoWatermark is the watermark before any record: nothing has fired.
const NoWatermark = math.MinInt64

// EndOfInput is the watermark of a finished bounded input: everything fires.
const EndOfInput = math.MaxInt64

// Watermark tracks W = highest event time seen − out-of-order bound.
type Watermark struct {
	OutOfOrder int64
	max        int64
	seen       bool
}

// Observe records an event time and reports the (possibly unchanged) watermark.
func (w *Watermark) Observe(ts int64) int64 {
	if !w.seen || ts > w.max {
		w.max, w.seen = ts, true
	}
	return w.Value()
}

// Value returns the current watermark, NoWatermark before any record.
func (w *Watermark) Value() int64 {
	if !w.seen {
		return NoWatermark
	}
	if w.max < math.MinInt64+w.OutOfOrder {
		return NoWatermark
	}
	return w.max - w.OutOfOrder
}

// MaxEventTime returns the highest event time observed and whether any was.
func (w *Watermark) MaxEventTime() (int64, bool) { return w.max, w.seen }
