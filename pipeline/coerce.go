package pipeline

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/eddyhq/eddy/value"
)

// CoerceValue converts v to t. Null stays null. A value that cannot be
// converted is an error naming both, e.g. `cannot coerce "abc" to int`.
func CoerceValue(v value.Value, t Type) (value.Value, error) {
	if v.IsNull() {
		return v, nil
	}
	fail := func(why string) (value.Value, error) {
		s := string(value.AppendJSON(nil, v))
		if v.K == value.Float && (math.IsNaN(v.F) || math.IsInf(v.F, 0)) {
			s = strconv.FormatFloat(v.F, 'g', -1, 64)
		}
		s = value.Abbrev(s, 60)
		if why != "" {
			why = ": " + why
		}
		return value.Value{}, fmt.Errorf("cannot coerce %s to %s%s", s, t, why)
	}
	switch t {
	case TString:
		switch v.K {
		case value.String:
			return v, nil
		case value.JSON:
			return value.OfString(v.S), nil
		case value.Time:
			return value.OfString(value.FormatTime(v.I)), nil
		case value.Float:
			return value.OfString(string(value.AppendFloat(nil, v.F))), nil
		}
		return value.OfString(string(value.AppendJSON(nil, v))), nil
	case TInt:
		switch v.K {
		case value.Int:
			return v, nil
		case value.Time:
			return value.OfInt(v.I), nil
		case value.Float:
			if v.F != math.Trunc(v.F) || math.Abs(v.F) >= 1<<63 {
				return fail("not a whole number")
			}
			return value.OfInt(int64(v.F)), nil
		case value.String:
			s := strings.TrimSpace(v.S)
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				return value.OfInt(i), nil
			}
			if f, err := strconv.ParseFloat(s, 64); err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<63 {
				return value.OfInt(int64(f)), nil
			}
		}
		return fail("")
	case TFloat:
		switch v.K {
		case value.Float:
			return v, nil
		case value.Int:
			return value.OfFloat(float64(v.I)), nil
		case value.String:
			if f, err := strconv.ParseFloat(strings.TrimSpace(v.S), 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
				return value.OfFloat(f), nil
			}
		}
		return fail("")
	case TBool:
		switch v.K {
		case value.Bool:
			return v, nil
		case value.Int:
			if v.I == 0 || v.I == 1 {
				return value.OfBool(v.I == 1), nil
			}
		case value.String:
			switch strings.ToLower(strings.TrimSpace(v.S)) {
			case "true", "1", "yes":
				return value.OfBool(true), nil
			case "false", "0", "no":
				return value.OfBool(false), nil
			}
		}
		return fail("")
	case TTimestamp:
		ms, ok := int64(0), false
		switch v.K {
		case value.Time, value.Int:
			ms, ok = v.I, true
		case value.Float:
			if !math.IsInf(v.F, 0) && !math.IsNaN(v.F) && math.Abs(v.F) < 1<<62 {
				ms, ok = int64(math.Floor(v.F)), true
			}
		case value.String:
			ms, ok = parseTimeString(strings.TrimSpace(v.S))
		}
		if !ok {
			return fail("expected epoch milliseconds or an RFC 3339 time")
		}
		if ms < MinTime || ms > MaxTime {
			return fail(ErrTimeRange.Error())
		}
		return value.OfTime(ms), nil
	}
	return fail("unknown type")
}

// MinTime and MaxTime bound event times: 0001-01-01T00:00:00.000Z and
// 9999-12-31T23:59:59.999Z, the years RFC 3339 writes with four digits and
// DuckDB's TIMESTAMP holds. Within them window arithmetic cannot overflow.
const (
	MinTime int64 = -62135596800000
	MaxTime int64 = 253402300799999
)

// ErrTimeRange is the reason an event time outside MinTime..MaxTime is refused.
var ErrTimeRange = fmt.Errorf("outside the range %s to %s", value.FormatTime(MinTime), value.FormatTime(MaxTime))

// EventTime reads an event time from a field value: epoch milliseconds (a
// number) or an RFC 3339 string, between MinTime and MaxTime. It says what
// is wrong otherwise.
func EventTime(v value.Value) (int64, error) {
	ms, err := eventTime(v)
	if err == nil && (ms < MinTime || ms > MaxTime) {
		shown := string(value.AppendJSON(nil, v))
		if v.K == value.Float {
			shown = strconv.FormatFloat(v.F, 'g', -1, 64)
		}
		return 0, fmt.Errorf("event time %s is %w", value.Abbrev(shown, 40), ErrTimeRange)
	}
	return ms, err
}

func eventTime(v value.Value) (int64, error) {
	switch v.K {
	case value.Time, value.Int:
		return v.I, nil
	case value.Float:
		if !math.IsInf(v.F, 0) && !math.IsNaN(v.F) && math.Abs(v.F) < 1<<62 {
			return int64(math.Floor(v.F)), nil
		}
		return MaxTime + 1, nil // out of range, said by EventTime
	case value.Null:
		return 0, fmt.Errorf("missing event time")
	case value.String:
		if ms, ok := parseTimeString(v.S); ok {
			return ms, nil
		}
		return 0, fmt.Errorf("invalid event time %q: expected epoch milliseconds or an RFC 3339 time", value.Abbrev(v.S, 40))
	}
	return 0, fmt.Errorf("invalid event time: %s is neither epoch milliseconds nor an RFC 3339 time", v.K)
}

// parseTimeString reads an RFC 3339 time, or epoch milliseconds written as
// a string of digits (as some producers quote all numbers).
func parseTimeString(s string) (int64, bool) {
	if ms, ok := value.ParseTime([]byte(s)); ok {
		return ms, true
	}
	if s != "" && strings.TrimLeft(strings.TrimPrefix(s, "-"), "0123456789") == "" {
		if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
			return ms, true
		}
	}
	return 0, false
}
