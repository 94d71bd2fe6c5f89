package pace

import (
	"context"
	"strconv"
	"testing"
	"testing/synctest"
	"time"
)

// TestWait: record i goes no earlier than i/rate after the first, and at
// most one step late.
func TestWait(t *testing.T) {
	for _, r := range []float64{0.5, 3, 100, 200, 25000, 1e6} {
		t.Run(strconv.FormatFloat(r, 'g', -1, 64), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := New(r, 0)
				start := time.Now()
				n := 50
				if r >= 1000 {
					n = 5000
				}
				for i := range n {
					if err := p.Wait(t.Context()); err != nil {
						t.Fatal(err)
					}
					due := time.Duration(float64(i) / r * float64(time.Second))
					late := time.Duration(float64(p.Step()) / r * float64(time.Second))
					if d := time.Since(start); d < due-time.Microsecond || d > due+late {
						t.Fatalf("record %d at %v/s went at %v, want %v to %v", i, r, d, due, due+late)
					}
				}
			})
		})
	}
}

// TestWaitFirst: a slice goes when its first record is due.
func TestWaitFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(1000, 100) // slices of 100 records, one every 100 ms
		start := time.Now()
		for k := range 10 {
			if err := p.WaitFirst(t.Context(), 100); err != nil {
				t.Fatal(err)
			}
			if d, want := time.Since(start), time.Duration(k)*100*time.Millisecond; d < want-time.Microsecond || d > want+time.Microsecond {
				t.Errorf("slice %d went at %v, want %v", k, d, want)
			}
		}
		// a short slice costs only its records
		p.WaitFirst(t.Context(), 10)
		start = time.Now()
		p.WaitFirst(t.Context(), 10)
		if d := time.Since(start); d > 11*time.Millisecond || d < 9*time.Millisecond {
			t.Errorf("after a slice of 10 at 1000/s the next went %v later, want 10ms", d)
		}
	})
}

func TestStop(t *testing.T) {
	if New(0, 0) != nil || New(-1, 5) != nil {
		t.Error("a rate of 0 or less paces")
	}
	var nilp *Pacer
	if nilp.Wait(context.Background()) != nil || nilp.WaitFirst(context.Background(), 5) != nil {
		t.Error("a nil Pacer waits")
	}
	synctest.Test(t, func(t *testing.T) {
		p := New(1, 0)
		ctx, cancel := context.WithCancel(t.Context())
		p.Wait(ctx)
		cancel()
		if err := p.Wait(ctx); err != context.Canceled {
			t.Errorf("cancelled wait = %v", err)
		}
		// a wait past the deadline ends at the deadline, like a sleep
		ctx, cancel = context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		if err := p.Wait(ctx); err != context.DeadlineExceeded || time.Since(start) != 300*time.Millisecond {
			t.Errorf("wait past the deadline = %v after %v", err, time.Since(start))
		}
	})
}

// TestWallClock holds the rate on the real clock: it can only fail when
// records go too early, never because the machine is slow.
func TestWallClock(t *testing.T) {
	p := New(100, 0)
	start := time.Now()
	for range 21 {
		p.Wait(context.Background())
	}
	if d := time.Since(start); d < 195*time.Millisecond {
		t.Errorf("21 records at 100/s took %v, want at least 200ms", d)
	}
}

// TestExact: at 200/s (one record a step) the first record goes at once and
// the next 100 at exactly 200/s, as eddy dlq replay --rate 200 did on its
// own ticker bucket.
func TestExact(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New(200, 0)
		start := time.Now()
		for range 101 {
			if err := p.Wait(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		if d := time.Since(start); d != 500*time.Millisecond {
			t.Errorf("101 records at 200/s took %v, want 500ms", d)
		}
	})
}
