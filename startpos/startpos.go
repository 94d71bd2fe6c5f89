// Package startpos reads and writes where reading a topic starts, in the one
// syntax every part of eddy takes (the spec's source.kafka.start, the
// workbench's seek and --start, tail -o, export --from):
//
//	earliest        the oldest record still in each partition
//	latest          only records written from now on
//	offset:N        offset N of each partition (clamped to what it holds)
//	last:N          the last N records of each partition
//	time:RFC3339    the first record stamped at or after that time
//	time:-15m       the same, a duration back from now
//
// [ParseKcat] also takes kcat's -o forms (beginning, end, N, -N, s@MS) and
// tail's older @TIME, and maps them onto a [Position]. The package does no
// I/O: resolving a position against a partition is the reader's job.
package startpos

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Kind says how a [Position] is given.
type Kind uint8

// The kinds of position, in the order the syntax lists them.
const (
	Earliest Kind = iota
	Latest
	Offset // absolute offset N
	Last   // the last N records
	Time   // the first record stamped at or after a time
)

// Position is a parsed start position. Its zero value is earliest.
type Position struct {
	Kind Kind
	// N is the offset (Offset), the count (Last), or the time in epoch
	// milliseconds (Time, unless Relative).
	N int64
	// Relative marks a Time given as a duration from now: D, never
	// positive, is added to the time the position is resolved at.
	Relative bool
	D        time.Duration
}

// Forms lists the accepted syntax, for errors and help texts.
const Forms = "earliest, latest, offset:N, last:N, time:RFC3339 or time:-15m"

// KcatForms lists what [ParseKcat] takes besides [Forms].
const KcatForms = "beginning, end, N, -N, s@MS, @RFC3339, @-15m or @MS"

// Error is a value that is not a position.
type Error struct {
	Value  string // the value given
	Reason string // what is wrong with it ("" when it fits no form)
	Forms  string // the forms accepted where it was given
}

func (e *Error) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("start position %q: %s (accepted: %s)", e.Value, e.Reason, e.Forms)
	}
	return fmt.Sprintf("start position %q: want %s", e.Value, e.Forms)
}

var errPositive = errors.New("a duration goes back from now, so it must not be positive (-15m)")

// Parse reads a position in the canonical syntax (see the package doc).
func Parse(s string) (Position, error) {
	p, err := parse(s)
	if err != nil {
		return Position{}, &Error{Value: s, Reason: reason(err), Forms: Forms}
	}
	return p, nil
}

func reason(err error) string {
	if errors.Is(err, errNoForm) {
		return ""
	}
	return err.Error()
}

var errNoForm = errors.New("no form")

func parse(s string) (Position, error) {
	switch s {
	case "earliest":
		return Position{Kind: Earliest}, nil
	case "latest":
		return Position{Kind: Latest}, nil
	}
	kind, arg, ok := strings.Cut(s, ":")
	if !ok {
		return Position{}, errNoForm
	}
	switch kind {
	case "offset", "last":
		n, err := count(arg)
		if err != nil {
			return Position{}, fmt.Errorf("want %s: with a number ≥ 0 (%s:42)", kind, kind)
		}
		if kind == "offset" {
			return Position{Kind: Offset, N: n}, nil
		}
		return Position{Kind: Last, N: n}, nil
	case "time":
		return parseTime(arg)
	}
	return Position{}, errNoForm
}

// count reads a non-negative decimal integer (digits only: no sign).
func count(s string) (int64, error) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, errNoForm
	}
	return strconv.ParseInt(s, 10, 64)
}

// maxMillis is the last millisecond of the year 9999 (UTC): times are
// written in RFC 3339, which has four-digit years.
const maxMillis = 253402300799999

// epochMillis reads epoch milliseconds from 1970 to the end of 9999.
func epochMillis(s string) (int64, error) {
	n, err := count(s)
	if err == nil && n > maxMillis {
		err = errors.New("after the year 9999")
	}
	return n, err
}

// parseTime reads the part after "time:" (or tail's "@").
func parseTime(s string) (Position, error) {
	ms, d, rel, err := ParseTime(s)
	switch {
	case err != nil:
		return Position{}, err
	case rel && d > 0:
		return Position{}, errPositive
	case rel:
		return Position{Kind: Time, Relative: true, D: d}, nil
	}
	return Position{Kind: Time, N: ms}, nil
}

// ParseTime reads an RFC 3339 time (years 0000 to 9999 in UTC) as epoch
// milliseconds, or a duration relative to now (of either sign: a stop time
// may lie ahead). It is the time part of "time:" positions, and of stop
// times.
func ParseTime(s string) (ms int64, d time.Duration, relative bool, err error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		if y := t.UTC().Year(); y < 0 || y > 9999 {
			return 0, 0, false, fmt.Errorf("time %q is outside the years 0000 to 9999 (UTC)", s)
		}
		return t.UnixMilli(), 0, false, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return 0, d, true, nil
	}
	return 0, 0, false, fmt.Errorf("invalid time %q: expected RFC 3339 or a duration like -15m", s)
}

// TimeMillis is ParseTime resolved against now.
func TimeMillis(s string, now time.Time) (int64, error) {
	ms, d, rel, err := ParseTime(s)
	if rel {
		ms = now.Add(d).UnixMilli()
	}
	return ms, err
}

// ParseKcat reads a position given to a command's -o: the canonical syntax,
// kcat's forms (beginning, end, N for offset:N, -N for last:N, s@MS for a
// time in epoch milliseconds) and tail's older @TIME (@RFC3339, @-15m, @MS).
// kcat's e@MS is a stop, not a start: ParseKcat rejects it, and callers that
// take it ([ParseKcatStop]) handle it first.
func ParseKcat(s string) (Position, error) {
	if p, err := parse(s); err == nil {
		return p, nil
	} else if !errors.Is(err, errNoForm) {
		return Position{}, &Error{Value: s, Reason: err.Error(), Forms: Forms + ", or " + KcatForms}
	}
	p, err := parseKcat(s)
	if err != nil {
		return Position{}, &Error{Value: s, Reason: reason(err), Forms: Forms + ", or " + KcatForms}
	}
	return p, nil
}

func parseKcat(s string) (Position, error) {
	switch s {
	case "beginning":
		return Position{Kind: Earliest}, nil
	case "end":
		return Position{Kind: Latest}, nil
	}
	if ms, ok := strings.CutPrefix(s, "s@"); ok {
		n, err := epochMillis(ms)
		if err != nil {
			return Position{}, errors.New("s@ needs epoch milliseconds")
		}
		return Position{Kind: Time, N: n}, nil
	}
	if strings.HasPrefix(s, "e@") {
		return Position{}, errors.New("e@MS is where to stop, not where to start")
	}
	if t, ok := strings.CutPrefix(s, "@"); ok {
		if n, err := epochMillis(t); err == nil {
			return Position{Kind: Time, N: n}, nil
		}
		p, err := parseTime(t)
		if errors.Is(err, errPositive) {
			return Position{}, err
		}
		if err != nil {
			return Position{}, errors.New("@ needs an RFC 3339 time, a negative duration (@-15m) or epoch milliseconds")
		}
		return p, nil
	}
	if n, ok := strings.CutPrefix(s, "-"); ok {
		if n, err := count(n); err == nil {
			if n == 0 {
				return Position{Kind: Latest}, nil
			}
			return Position{Kind: Last, N: n}, nil
		}
		return Position{}, errNoForm
	}
	if n, err := count(strings.TrimPrefix(s, "+")); err == nil {
		return Position{Kind: Offset, N: n}, nil
	}
	return Position{}, errNoForm
}

// ParseKcatStop reads kcat's e@MS (a stop time in epoch milliseconds) and
// reports whether s has that form.
func ParseKcatStop(s string) (ms int64, ok bool, err error) {
	t, ok := strings.CutPrefix(s, "e@")
	if !ok {
		return 0, false, nil
	}
	n, err := count(t)
	if err != nil {
		return 0, true, &Error{Value: s, Reason: "e@ needs epoch milliseconds", Forms: "e@MS"}
	}
	return n, true, nil
}

// Millis returns a Time position's instant in epoch milliseconds, a relative
// one resolved against now.
func (p Position) Millis(now time.Time) int64 {
	if p.Relative {
		return now.Add(p.D).UnixMilli()
	}
	return p.N
}

// Resolve returns where p starts in a partition holding the offsets from
// first (its log start) to end (the next offset to be written); at is the
// first offset stamped at or after p's time (a Time position only; negative
// when no record is). The result lies in [first, end].
func (p Position) Resolve(first, end, at int64) int64 {
	var s int64
	switch p.Kind {
	case Earliest:
		s = first
	case Latest:
		s = end
	case Offset:
		s = p.N
	case Last:
		s = end - p.N
	case Time:
		s = at
		if at < 0 {
			s = end
		}
	}
	return min(max(s, first), end)
}

// String writes p in the canonical syntax; Parse reads it back.
func (p Position) String() string {
	switch p.Kind {
	case Latest:
		return "latest"
	case Offset:
		return "offset:" + strconv.FormatInt(p.N, 10)
	case Last:
		return "last:" + strconv.FormatInt(p.N, 10)
	case Time:
		if p.Relative {
			return "time:" + p.D.String()
		}
		return "time:" + time.UnixMilli(p.N).UTC().Format("2006-01-02T15:04:05.000Z07:00")
	}
	return "earliest"
}
