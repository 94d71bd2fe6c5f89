package source

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

// countSource yields n batches of one record each, then io.EOF, and counts
// releases; it panics at batch panicAt when that is positive.
type countSource struct {
	n, next, panicAt int
	released         int
}

func (c *countSource) Next(ctx context.Context) (*Batch, error) {
	if c.panicAt > 0 && c.next == c.panicAt {
		panic("boom")
	}
	if c.next == c.n {
		<-ctx.Done() // a followed source with nothing new waits
		return nil, ctx.Err()
	}
	c.next++
	return &Batch{Records: []Record{{Offset: int64(c.next)}}}, nil
}
func (c *countSource) Release(*Batch) { c.released++ }
func (c *countSource) Bounded() bool  { return false }
func (c *countSource) Close() error   { return nil }

func TestPrefetchOrderReleaseStop(t *testing.T) {
	src := &countSource{n: 50}
	p := Prefetch(context.Background(), src, 2)
	for want := int64(1); want <= 50; want++ {
		it := <-p.C
		if it.Err != nil || it.Batch.Records[0].Offset != want {
			t.Fatalf("item %d: %+v", want, it)
		}
		p.Done(it.Batch)
	}
	p.Stop() // returns although Next is waiting for records
	// what is left is at most the error that ended the reading, then C is closed
	for it := range p.C {
		if it.Err == nil {
			t.Errorf("a batch after the last one: %+v", it)
		}
	}
	if src.released == 0 {
		t.Error("no batch was released to the source")
	}
}

func TestPrefetchEndsWithTheError(t *testing.T) {
	p := Prefetch(context.Background(), NewReader("x", strings.NewReader("{}\n{}\n")), 2)
	var n int
	var last error
	for it := range p.C {
		if it.Err != nil {
			last = it.Err
			continue
		}
		n += len(it.Batch.Records)
		p.Done(it.Batch)
	}
	if n != 2 || !errors.Is(last, io.EOF) {
		t.Errorf("read %d records, ended with %v", n, last)
	}
	p.Stop()
	p = Prefetch(context.Background(), &countSource{n: 10, panicAt: 3}, 2)
	for it := range p.C {
		last = it.Err
	}
	if last == nil || !strings.Contains(last.Error(), "source panicked: boom") {
		t.Errorf("panic became %v", last)
	}
	p.Stop()
}
