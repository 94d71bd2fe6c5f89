// Package pace spaces records to a rate, over golang.org/x/time/rate. It
// lets records through a step at a time, so that high rates cost one
// wake-up per step (about a tick), not one sleep per record. It is used by
// eddy produce --rate, eddy dlq replay --rate and the workbench's replay of
// a file (--rate).
package pace

import (
	"context"
	"time"

	"golang.org/x/time/rate"
)

// Pacer spaces records to a rate. Record i (from 0) is due i/rate after the
// first call, never earlier; a late wake-up is made up for, up to a step's
// worth of records. A nil Pacer does not wait. Owned by one goroutine.
type Pacer struct {
	rate   rate.Limit
	step   int
	lim    *rate.Limiter // made at the first call: the clock starts there
	credit int           // records Wait has let through ahead
}

// New returns a Pacer of perSecond records a second (nil when perSecond is
// not positive) that lets step records through at a time; step <= 0 means
// a tick's worth, the tick being 1/perSecond clamped to 5 ms..100 ms.
func New(perSecond float64, step int) *Pacer {
	if !(perSecond > 0) {
		return nil
	}
	if step <= 0 {
		every := min(max(time.Duration(float64(time.Second)/perSecond), 5*time.Millisecond), 100*time.Millisecond)
		step = int(perSecond * every.Seconds())
	}
	return &Pacer{rate: rate.Limit(perSecond), step: max(step, 1)}
}

// Step is how many records the Pacer lets through at a time.
func (p *Pacer) Step() int { return p.step }

func (p *Pacer) limiter() *rate.Limiter {
	if p.lim == nil {
		// the bucket holds two steps, so that one late wake-up is made up
		// for, but starts with one record: nothing goes before it is due
		burst := 2 * p.step
		p.lim = rate.NewLimiter(p.rate, burst)
		p.lim.AllowN(time.Now(), burst-1)
	}
	return p.lim
}

// Wait waits until one more record may go: a step of records goes once the
// last of them is due.
func (p *Pacer) Wait(ctx context.Context) error {
	if p == nil {
		return nil
	}
	if p.credit == 0 {
		if err := wait(ctx, p.limiter(), p.step); err != nil {
			return err
		}
		p.credit = p.step
	}
	p.credit--
	return nil
}

// WaitFirst waits until the first of the next n records (n <= Step) is due
// and counts all n as sent: the ones after it are paid for by the next wait.
func (p *Pacer) WaitFirst(ctx context.Context, n int) error {
	if p == nil || n <= 0 {
		return nil
	}
	lim := p.limiter()
	if err := wait(ctx, lim, 1); err != nil {
		return err
	}
	if n > 1 {
		lim.ReserveN(time.Now(), min(n, p.step)-1)
	}
	return nil
}

// wait is lim.WaitN, except that a wait past ctx's deadline waits for the
// deadline (the limiter refuses it at once), as a sleep would.
func wait(ctx context.Context, lim *rate.Limiter, n int) error {
	err := lim.WaitN(ctx, n)
	if err != nil && ctx.Err() == nil {
		<-ctx.Done()
	}
	if err != nil {
		return ctx.Err()
	}
	return nil
}
