package engine

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/eddyhq/eddy/source"
)

// outage is a committer whose commits fail with err the first fails times.
type outage struct {
	fails, calls int
	err          error
}

func (o *outage) Commit(context.Context, map[source.Partition]int64) error {
	o.calls++
	if o.calls <= o.fails {
		return o.err
	}
	return nil
}

// TestFinalCommitRetriesTransient: the last commit of a run waits out a
// broker restart (connections refused) within its deadline, gives up with
// the error at the deadline, and does not retry an error that stays.
func TestFinalCommitRetriesTransient(t *testing.T) {
	refused := fmt.Errorf("unable to dial: %w", syscall.ECONNREFUSED)
	permanent := errors.New("GROUP_AUTHORIZATION_FAILED")
	for _, tc := range []struct {
		name      string
		c         outage
		deadline  time.Duration
		wantErr   error
		wantCalls func(int) bool
	}{
		{"a restart within the deadline", outage{fails: 3, err: refused}, 10 * time.Second, nil, func(n int) bool { return n == 4 }},
		{"down past the deadline", outage{fails: 1 << 30, err: refused}, 600 * time.Millisecond, syscall.ECONNREFUSED, func(n int) bool { return n >= 2 }},
		{"an error that stays", outage{fails: 1 << 30, err: permanent}, 10 * time.Second, permanent, func(n int) bool { return n == 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := newTestEngine(t, "stages:\n  - filter: ok\n", time.Unix(0, 0))
			ctx, cancel := context.WithTimeout(context.Background(), tc.deadline)
			defer cancel()
			err := e.finalCommit(ctx, &tc.c)
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("finalCommit = %v, want %v", err, tc.wantErr)
			}
			if !tc.wantCalls(tc.c.calls) {
				t.Fatalf("%d commits", tc.c.calls)
			}
		})
	}
}
