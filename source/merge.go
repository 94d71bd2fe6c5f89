package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"sync"
)

// Merge reads several sources at once, each on a goroutine of its own,
// and hands out their batches as they come, each with Batch.Source set to
// the index of its source. It ends (io.EOF) when every source has ended;
// the first other error of any source ends it at once.
type Merge struct {
	srcs    []Source
	c       chan mergeItem
	free    []chan *Batch
	ended   []bool
	live    int
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	started bool
	mu      sync.Mutex
	eof     []bool // sources that reached their end (for CaughtUp)
}

type mergeItem struct {
	b   *Batch
	err error
	src int
}

// NewMerge returns a source reading srcs; it owns them (Close closes them).
func NewMerge(srcs ...Source) *Merge {
	m := &Merge{srcs: srcs, c: make(chan mergeItem, len(srcs)), ended: make([]bool, len(srcs)), live: len(srcs),
		eof: make([]bool, len(srcs))}
	for range srcs {
		m.free = append(m.free, make(chan *Batch, 4))
	}
	return m
}

// Sources returns the merged sources, in order.
func (m *Merge) Sources() []Source { return m.srcs }

func (m *Merge) start(ctx context.Context) {
	ctx, m.cancel = context.WithCancel(ctx)
	m.started = true
	for i, src := range m.srcs {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			defer func() {
				if r := recover(); r != nil {
					select {
					case m.c <- mergeItem{err: fmt.Errorf("source panicked: %v\n%s", r, debug.Stack()), src: i}:
					case <-ctx.Done():
					}
				}
			}()
			for {
				for drained := false; !drained; {
					select {
					case b := <-m.free[i]:
						src.Release(b)
					default:
						drained = true
					}
				}
				b, err := src.Next(ctx)
				if b != nil {
					b.Source = i
				}
				select {
				case m.c <- mergeItem{b, err, i}:
				case <-ctx.Done():
					return
				}
				if err != nil {
					return
				}
			}
		}()
	}
}

// Next returns the next batch of any source.
func (m *Merge) Next(ctx context.Context) (*Batch, error) {
	m.mu.Lock()
	if !m.started {
		m.start(ctx)
	}
	m.mu.Unlock()
	for m.live > 0 {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case it := <-m.c:
			if it.err == nil {
				return it.b, nil
			}
			m.ended[it.src] = true
			m.live--
			if !errors.Is(it.err, io.EOF) {
				return nil, it.err
			}
			m.mu.Lock()
			m.eof[it.src] = true
			m.mu.Unlock()
			if f, ok := m.srcs[it.src].(interface{ Name() string }); ok {
				// a file ends: it stops holding the watermark back
				return &Batch{Finished: []Partition{{Topic: f.Name()}}, Source: it.src}, nil
			}
		}
	}
	return nil, io.EOF
}

// Release hands a batch back to its source.
func (m *Merge) Release(b *Batch) {
	if b.Source < 0 || b.Source >= len(m.free) {
		return
	}
	select {
	case m.free[b.Source] <- b:
	default:
	}
}

// Bounded reports whether every source ends.
func (m *Merge) Bounded() bool {
	for _, s := range m.srcs {
		if !s.Bounded() {
			return false
		}
	}
	return true
}

// Partitions are the partitions of the sources known before reading: a
// Kafka source's, and a file's one (its name, partition 0), so that each
// source holds the watermark back until it has records.
func (m *Merge) Partitions() []Partition {
	var out []Partition
	for _, s := range m.srcs {
		switch s := s.(type) {
		case Partitioned:
			out = append(out, s.Partitions()...)
		case interface{ Name() string }:
			out = append(out, Partition{Topic: s.Name()})
		}
	}
	return out
}

// StartOffsets are the start offsets of the sources that have them.
func (m *Merge) StartOffsets() map[Partition]int64 {
	out := map[Partition]int64{}
	for _, s := range m.srcs {
		if k, ok := s.(interface{ StartOffsets() map[Partition]int64 }); ok {
			for p, o := range k.StartOffsets() {
				out[p] = o
			}
		}
	}
	return out
}

// CaughtUp reports whether every source has handed out what it held when
// opened (see Kafka.CaughtUp) or ended.
func (m *Merge) CaughtUp() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, s := range m.srcs {
		if m.eof[i] {
			continue
		}
		c, ok := s.(interface{ CaughtUp() bool })
		if !ok || !c.CaughtUp() {
			return false
		}
	}
	return true
}

// Stop stops the readers and waits for them; the sources stay open.
func (m *Merge) Stop() {
	m.mu.Lock()
	started := m.started
	m.mu.Unlock()
	if started {
		m.cancel()
		// readers blocked in a send see the cancellation; one in Next
		// returns on it (a file read ends at its chunk)
		m.wg.Wait()
	}
}

// Close stops the readers and closes every source.
func (m *Merge) Close() error {
	m.Stop()
	var errs []error
	for _, s := range m.srcs {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}
