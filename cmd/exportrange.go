package cmd

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/eddyhq/eddy/internal/export"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/startpos"
)

// parseFrom reads --from: a start position (docs/kafka.md), a relative
// time resolved against now.
func parseFrom(s string, now time.Time) (startpos.Position, error) {
	if s == "" {
		return startpos.Position{}, nil
	}
	p, err := parseEdge("from", s)
	if err == nil && p.Kind == startpos.Time && p.Relative {
		p = startpos.Position{Kind: startpos.Time, N: p.Millis(now)}
	}
	return p, err
}

// parseTo reads --to: an offset or a time.
func parseTo(s string, now time.Time) (export.Bound, error) {
	if s == "" {
		return export.Bound{}, nil
	}
	p, err := parseEdge("to", s)
	switch {
	case err != nil:
		return export.Bound{}, err
	case p.Kind == startpos.Offset:
		return export.Bound{Set: true, N: p.N}, nil
	case p.Kind == startpos.Time:
		return export.Bound{Set: true, IsTime: true, N: p.Millis(now)}, nil
	}
	return export.Bound{}, fmt.Errorf("--to %s: want an offset or a time (offset:N, time:RFC3339 or time:-15m)", s)
}

// parseEdge reads --from or --to: a start position, or the forms they took
// first (kept as aliases): N for offset:N, an RFC 3339 time or a negative
// duration for time:T.
func parseEdge(name, s string) (startpos.Position, error) {
	p, err := startpos.Parse(s)
	var se *startpos.Error
	if err == nil {
		return p, nil
	} else if errors.As(err, &se) && se.Reason != "" {
		return p, fmt.Errorf("--%s: %w", name, err) // a prefix with a bad value
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return startpos.Position{}, fmt.Errorf("--%s %s: an offset must not be negative (for a time back from now write a duration such as -15m)", name, s)
		}
		return startpos.Position{Kind: startpos.Offset, N: n}, nil
	}
	p, err = startpos.Parse("time:" + s)
	if errors.As(err, &se) && se.Reason != "" && !strings.HasPrefix(se.Reason, "invalid time") {
		return p, fmt.Errorf("--%s %s: %s", name, s, se.Reason)
	}
	if err != nil {
		return p, fmt.Errorf("--%s %q: want %s, or N, an RFC 3339 time or a negative duration (-15m)", name, s, startpos.Forms)
	}
	return p, nil
}

// rotation parses --rotate: rows (an integer) or a duration.
func rotation(s string) (rows int64, every time.Duration, err error) {
	rows, every, err = pipeline.ParseRotate(s)
	if err != nil {
		return 0, 0, fmt.Errorf("--%w", err)
	}
	return rows, every, nil
}
