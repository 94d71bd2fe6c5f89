package replay

import (
	"context"
	"time"
)

// limiter paces records with a token bucket refilled on a ticker: a record
// takes a token, and only when the bucket is empty does it wait, for the
// next tick. High rates cost one wake-up per tick, not one sleep per
// record. A nil limiter does not wait. Owned by one goroutine.
type limiter struct {
	rate   float64 // tokens per second
	burst  float64 // bucket size: one tick's worth, at least 1
	tokens float64
	last   time.Time
	every  time.Duration
	tick   *time.Ticker
}

func newLimiter(rate float64) *limiter {
	if rate <= 0 {
		return nil
	}
	every := min(max(time.Duration(float64(time.Second)/rate), 5*time.Millisecond), 100*time.Millisecond)
	burst := max(rate*every.Seconds(), 1)
	return &limiter{rate: rate, burst: burst, tokens: 1, every: every}
}

// take waits for a token.
func (l *limiter) take(ctx context.Context) error {
	if l == nil {
		return nil
	}
	if l.tick == nil {
		l.last = time.Now()
		l.tick = time.NewTicker(l.every)
	}
	for l.tokens < 1 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case now := <-l.tick.C:
			l.tokens = min(l.tokens+now.Sub(l.last).Seconds()*l.rate, l.burst)
			l.last = now
		}
	}
	l.tokens--
	return nil
}

func (l *limiter) stop() {
	if l != nil && l.tick != nil {
		l.tick.Stop()
	}
}
