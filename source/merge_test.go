package source_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/source"
)

// failing is a source that fails after its first batch.
type failing struct{ n int }

func (f *failing) Next(context.Context) (*source.Batch, error) {
	if f.n++; f.n == 1 {
		return &source.Batch{Records: []source.Record{{Value: []byte(`{}`), Topic: "t"}}}, nil
	}
	return nil, errors.New("broker gone")
}
func (f *failing) Release(*source.Batch) {}
func (f *failing) Bounded() bool         { return false }
func (f *failing) Close() error          { return nil }

func TestMergeTagsAndEnds(t *testing.T) {
	a := source.NewReader("a.jsonl", strings.NewReader(strings.Repeat("{\"x\":1}\n", 1000)))
	b := source.NewReader("b.jsonl", strings.NewReader("{\"y\":2}\n{\"y\":3}\n"))
	m := source.NewMerge(a, b)
	defer m.Close()
	if !m.Bounded() {
		t.Error("two files are bounded")
	}
	if got := m.Partitions(); len(got) != 2 || got[0].Topic != "a.jsonl" || got[1].Topic != "b.jsonl" {
		t.Errorf("partitions %v", got)
	}
	recs := map[int]int{}
	finished := map[string]int{}
	for {
		bt, err := m.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range bt.Records {
			if want := []string{"a.jsonl", "b.jsonl"}[bt.Source]; r.Topic != want {
				t.Fatalf("a record of %s in a batch of source %d", r.Topic, bt.Source)
			}
		}
		recs[bt.Source] += len(bt.Records)
		for _, p := range bt.Finished {
			finished[p.Topic]++
			if p.Topic != []string{"a.jsonl", "b.jsonl"}[bt.Source] {
				t.Errorf("source %d finishes %s", bt.Source, p.Topic)
			}
		}
		m.Release(bt)
	}
	if recs[0] != 1000 || recs[1] != 2 {
		t.Errorf("records by source %v", recs)
	}
	if finished["a.jsonl"] != 1 || finished["b.jsonl"] != 1 {
		t.Errorf("finished %v: each file once", finished)
	}
	if !m.CaughtUp() {
		t.Error("every source ended: caught up")
	}
}

func TestMergeFailsOnASourceError(t *testing.T) {
	m := source.NewMerge(source.NewReader("a.jsonl", strings.NewReader("{}\n")), &failing{})
	defer m.Close()
	if m.Bounded() {
		t.Error("a followed source is not bounded")
	}
	for {
		bt, err := m.Next(context.Background())
		if err != nil {
			if err.Error() != "broker gone" {
				t.Fatalf("error %v, want the source's", err)
			}
			return
		}
		m.Release(bt)
	}
}
