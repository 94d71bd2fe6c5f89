package diff

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/eddyhq/eddy/source"
)

// Recording is a bounded input read once and kept, batch by batch, so
// that both versions of a pipeline see exactly the same records in the
// same batches (a topic that grows meanwhile cannot make them differ).
type Recording struct {
	batches    []*source.Batch
	partitions []source.Partition // nil unless the source is partitioned
	records    int
}

// Record reads src to its end, keeping at most max records; a source that
// does not end, or holds more, is refused.
func Record(ctx context.Context, src source.Source, max int) (*Recording, error) {
	defer src.Close()
	if !src.Bounded() {
		return nil, errors.New("the input does not end: give a file, or a Kafka source with stop: caught-up or stop: time:…")
	}
	rec := &Recording{}
	if p, ok := src.(source.Partitioned); ok {
		rec.partitions = slices.Clone(p.Partitions())
	}
	for {
		b, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			return rec, nil
		}
		if err != nil {
			return nil, err
		}
		if rec.records += len(b.Records); rec.records > max {
			src.Release(b)
			return nil, fmt.Errorf("the input holds more than %d records (--max-records)", max)
		}
		rec.batches = append(rec.batches, clone(b))
		src.Release(b)
	}
}

// Records is how many records were read.
func (r *Recording) Records() int { return r.records }

func clone(b *source.Batch) *source.Batch {
	c := &source.Batch{Finished: slices.Clone(b.Finished), Added: maps.Clone(b.Added), Pos: b.Pos}
	c.Records = make([]source.Record, len(b.Records))
	for i, r := range b.Records {
		r.Key, r.Value = slices.Clone(r.Key), slices.Clone(r.Value)
		hs := make([]source.Header, len(r.Headers))
		for j, h := range r.Headers {
			hs[j] = source.Header{Key: h.Key, Value: slices.Clone(h.Value)}
		}
		if r.Headers == nil {
			hs = nil
		}
		r.Headers = hs
		c.Records[i] = r
	}
	return c
}

// Source replays the recording.
func (r *Recording) Source() source.Source {
	if r.partitions != nil {
		return &partitionedReplay{replay{r: r}}
	}
	return &replay{r: r}
}

type replay struct {
	r    *Recording
	next int
}

func (p *replay) Next(ctx context.Context) (*source.Batch, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if p.next == len(p.r.batches) {
		return nil, io.EOF
	}
	b := p.r.batches[p.next]
	p.next++
	return b, nil
}

func (*replay) Release(*source.Batch) {}
func (*replay) Bounded() bool         { return true }
func (*replay) Close() error          { return nil }

type partitionedReplay struct{ replay }

func (p *partitionedReplay) Partitions() []source.Partition { return p.r.partitions }

// FromRecords is a recording of records already read (the workbench's
// tail), as one batch.
func FromRecords(recs []source.Record) *Recording {
	b := clone(&source.Batch{Records: recs})
	return &Recording{batches: []*source.Batch{b}, records: len(recs)}
}
