package source

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
)

// Item is a batch read ahead, or the error that ended the reading (io.EOF
// at the end of a bounded input).
type Item struct {
	Batch *Batch
	Err   error
}

// Prefetcher reads a source ahead on a goroutine of its own, which owns the
// source: Next and Release are only called there. See [Prefetch].
type Prefetcher struct {
	// C yields the batches in order, then one Item with the error that
	// ended the reading; it is closed after that (or after Stop).
	C      <-chan Item
	free   chan *Batch
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Prefetch starts reading src ahead, up to depth batches, so decoding on the
// caller's goroutine overlaps I/O. A panic in the source becomes the error
// of the last Item. Hand each batch back with Done when nothing refers to
// it any more; Stop ends the reading.
func Prefetch(ctx context.Context, src Source, depth int) *Prefetcher {
	ctx, cancel := context.WithCancel(ctx)
	c := make(chan Item, depth)
	p := &Prefetcher{C: c, free: make(chan *Batch, depth+2), cancel: cancel}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer close(c)
		defer func() {
			if r := recover(); r != nil {
				select {
				case c <- Item{Err: fmt.Errorf("source panicked: %v\n%s", r, debug.Stack())}:
				case <-ctx.Done():
				}
			}
		}()
		for {
			// release used batches here: this goroutine owns the source
			for drained := false; !drained; {
				select {
				case b := <-p.free:
					src.Release(b)
				default:
					drained = true
				}
			}
			b, err := src.Next(ctx)
			select {
			case c <- Item{b, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return p
}

// Done hands a batch from C back to the source for reuse. It never blocks:
// when the reader is behind, the batch is left to the garbage collector.
func (p *Prefetcher) Done(b *Batch) {
	select {
	case p.free <- b:
	default:
	}
}

// Stop ends the reading and waits for the reader goroutine to return.
func (p *Prefetcher) Stop() {
	p.cancel()
	p.wg.Wait()
}

// Cancel ends the reading without waiting: for sources whose Next may not
// return on cancellation (a blocking read of stdin), the goroutine is left
// to finish when it can.
func (p *Prefetcher) Cancel() { p.cancel() }
