package tui

import (
	"context"
	"sync"

	"github.com/eddyhq/eddy/internal/pace"
	"github.com/eddyhq/eddy/source"
)

// Pace replays src at about rate records per second (rate <= 0: as fast as it
// reads). It hands out each batch in slices of about rate/Refresh records and
// releases the batch to src once every slice of it has been released.
func Pace(src source.Source, rate float64) source.Source {
	if rate <= 0 {
		return src
	}
	return &paced{Source: src, pacer: pace.New(rate, max(1, int(rate/Refresh)))}
}

type paced struct {
	source.Source
	pacer *pace.Pacer // a slice goes when its first record is due

	cur *source.Batch // owned by Next's caller goroutine
	pos int

	mu      sync.Mutex
	pending map[*source.Batch]int // slices not yet released, per original batch
	parent  map[*source.Batch]*source.Batch
}

func (p *paced) Next(ctx context.Context) (*source.Batch, error) {
	for p.cur == nil || p.pos >= len(p.cur.Records) {
		b, err := p.Source.Next(ctx)
		if err != nil {
			return nil, err
		}
		if len(b.Records) == 0 {
			if len(b.Finished) > 0 || len(b.Added) > 0 {
				return b, nil // news about partitions, due at once
			}
			p.Source.Release(b)
			continue
		}
		p.cur, p.pos = b, 0
	}
	end := min(len(p.cur.Records), p.pos+p.pacer.Step())
	if err := p.pacer.WaitFirst(ctx, end-p.pos); err != nil {
		return nil, err
	}
	sub := &source.Batch{Records: p.cur.Records[p.pos:end]}
	if p.pos == 0 {
		sub.Added = p.cur.Added
	}
	if end == len(p.cur.Records) {
		sub.Finished = p.cur.Finished
	}
	p.mu.Lock()
	if p.pending == nil {
		p.pending, p.parent = map[*source.Batch]int{}, map[*source.Batch]*source.Batch{}
	}
	p.pending[p.cur]++
	p.parent[sub] = p.cur
	last := end == len(p.cur.Records)
	if last {
		p.pending[p.cur] -= 1 << 30 // marks the batch complete: released when the count returns below zero
	}
	p.mu.Unlock()
	p.pos = end
	if last {
		p.cur = nil // the batch may be reused once released
	}
	return sub, nil
}

func (p *paced) Release(sub *source.Batch) {
	p.mu.Lock()
	orig, ok := p.parent[sub]
	if !ok {
		p.mu.Unlock()
		return
	}
	delete(p.parent, sub)
	p.pending[orig]--
	free := p.pending[orig] == -1<<30
	if free {
		delete(p.pending, orig)
	}
	p.mu.Unlock()
	if free {
		p.Source.Release(orig)
	}
}

// From drops the records of a file source before line (1-based), for
// seeking in a file: offset:N starts at line N.
func From(src source.Source, line int64) source.Source {
	if line <= 1 {
		return src
	}
	return &from{Source: src, line: line}
}

type from struct {
	source.Source
	line int64
}

func (f *from) Next(ctx context.Context) (*source.Batch, error) {
	for {
		b, err := f.Source.Next(ctx)
		if err != nil {
			return b, err
		}
		keep := b.Records[:0]
		for _, r := range b.Records {
			if r.Offset >= f.line {
				keep = append(keep, r)
			}
		}
		b.Records = keep
		if len(keep) > 0 || len(b.Finished) > 0 || len(b.Added) > 0 {
			return b, nil
		}
		f.Source.Release(b)
	}
}
