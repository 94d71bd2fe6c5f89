package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/windows"
)

// interruption returns the cause ctx was cancelled with, if it was
// cancelled with one (eddy's signal handler gives the signal).
func interruption(ctx context.Context) (error, bool) {
	if ctx.Err() == nil {
		return nil, false
	}
	cause := context.Cause(ctx)
	if cause == nil || errors.Is(cause, context.Canceled) || errors.Is(cause, context.DeadlineExceeded) {
		return nil, false
	}
	return cause, true
}

// stopped is the outcome of a run stopped by a cancellation with a cause:
// the cause, when the engine only stopped because of it (it took the final
// checkpoint and the sinks were closed), else what went wrong while
// stopping.
func stopped(runErr, closeErr, cause error, withState bool) error {
	var rest []error
	if j, ok := runErr.(interface{ Unwrap() []error }); ok {
		rest = j.Unwrap()
	} else if runErr != nil {
		rest = []error{runErr}
	}
	rest = slices.DeleteFunc(rest, func(e error) bool { return errors.Is(e, context.Canceled) })
	if len(rest) > 0 || closeErr != nil {
		return errors.Join(append(rest, closeErr)...)
	}
	if withState {
		return fmt.Errorf("%w: stopped after the final checkpoint; run again to resume from it", cause)
	}
	return fmt.Errorf("%w: stopped before the end of the input (without a state section a rerun starts from the beginning)", cause)
}

// interruptedAdvance is the outcome of a run whose cancellation stopped a
// watermark advance half-way (windows.ErrInterrupted): some of the windows
// due were written, so no final checkpoint was taken, and a rerun resumes
// from the one before, as after a crash.
func interruptedAdvance(runErr, closeErr, cause error, withState bool) error {
	rest := []error{runErr}
	if j, ok := runErr.(interface{ Unwrap() []error }); ok {
		rest = j.Unwrap()
	}
	rest = slices.DeleteFunc(rest, func(e error) bool {
		return errors.Is(e, windows.ErrInterrupted) || errors.Is(e, context.Canceled)
	})
	if len(rest) > 0 || closeErr != nil {
		return errors.Join(append(rest, closeErr)...)
	}
	if withState {
		return fmt.Errorf("%w: stopped during a watermark advance, without a final checkpoint; run again to resume from the last checkpoint", cause)
	}
	return fmt.Errorf("%w: stopped during a watermark advance, before the end of the input (without a state section a rerun starts from the beginning)", cause)
}

// writeStats writes the final counters as one JSON object to path ("-":
// stdout).
func writeStats(stdout io.Writer, path string, st engine.Stats) error {
	b, _ := json.Marshal(struct {
		engine.Stats
		// PeakRSS is the process's peak resident memory (Linux's VmHWM);
		// omitted where /proc does not tell it.
		PeakRSS int64 `json:"peak_rss_bytes,omitempty"`
	}{st, peakRSS()})
	b = append(b, '\n')
	if path == "-" {
		_, err := stdout.Write(b)
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write stats: %w", err)
	}
	return nil
}

// peakRSS returns the process's peak resident memory in bytes from
// /proc/self/status, or 0 when that cannot be read. (getrusage's ru_maxrss
// is no substitute: after a vfork-and-exec it starts from the parent's.)
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
