package engine

import (
	"context"
	"errors"
	"io"

	"github.com/eddyhq/eddy/source"
)

// Run reads src to its end (or until ctx is done) and processes every batch.
// Reading runs on its own goroutine so decoding overlaps I/O; the engine is
// only touched by the calling goroutine. A bounded source ends with Finish.
// On cancellation it returns ctx's error without firing open windows.
func Run(ctx context.Context, src source.Source, e *Engine) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type item struct {
		b   *source.Batch
		err error
	}
	batches := make(chan item, 2)
	free := make(chan *source.Batch, 4)
	go func() {
		defer close(batches)
		for {
			// hand used batches back to the source on this goroutine: it owns the source
			for drained := false; !drained; {
				select {
				case b := <-free:
					src.Release(b)
				default:
					drained = true
				}
			}
			b, err := src.Next(ctx)
			select {
			case batches <- item{b, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	for {
		var it item
		select {
		case <-ctx.Done():
			return ctx.Err()
		case x, ok := <-batches:
			if !ok {
				return ctx.Err()
			}
			it = x
		}
		if it.err != nil {
			if errors.Is(it.err, io.EOF) {
				if src.Bounded() {
					return e.Finish()
				}
				return nil
			}
			return it.err
		}
		err := e.Process(it.b.Records)
		select {
		case free <- it.b:
		default:
		}
		if err != nil {
			return err
		}
	}
}
