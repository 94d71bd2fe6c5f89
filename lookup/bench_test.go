package lookup_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/lookup"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/value"
)

// BenchmarkGet is one lookup in a 100,000-row table.
func BenchmarkGet(b *testing.B) {
	path := filepath.Join(b.TempDir(), "t.jsonl")
	var sb strings.Builder
	for i := range 100_000 {
		fmt.Fprintf(&sb, `{"id":%d,"name":"n%d","price":%d.5}`+"\n", i, i, i)
	}
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	tab, err := lookup.Open(context.Background(), pipeline.Table{Name: "t", File: path, MemoryLimit: 1 << 30}, lookup.Options{Keys: []string{"id"}})
	if err != nil {
		b.Fatal(err)
	}
	defer tab.Close()
	k, _ := tab.Keyed("id")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, ok := k.Get(value.OfInt(int64(i % 100_000))); !ok {
			b.Fatal("missing")
		}
	}
}

type discard struct{}

func (discard) Write(*sink.Row) error { return nil }
func (discard) Close() error          { return nil }

// BenchmarkEngineLookup runs records through a window keyed by a joined
// column (with=lookup) or by the record's own field (with=none), to show
// what the lookup adds per record:
//
//	go test -run '^$' -bench BenchmarkEngineLookup -count 6 ./lookup
func BenchmarkEngineLookup(b *testing.B) {
	dir := b.TempDir()
	var sb strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&sb, `{"id":%d,"cat":"c%d"}`+"\n", i, i%10)
	}
	table := filepath.Join(dir, "p.jsonl")
	if err := os.WriteFile(table, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	recs := make([]source.Record, 4096)
	for i := range recs {
		recs[i] = source.Record{Value: fmt.Appendf(nil, `{"ts":%d,"pid":%d,"cat0":"c%d","amount":%d}`, 1_700_000_000_000+int64(i)*10, i%1000, i%10, i%97), Offset: int64(i), File: true}
	}
	for _, with := range []string{"none", "lookup"} {
		b.Run("with="+with, func(b *testing.B) {
			stages := "  - window: {tumbling: 1s, key: cat0, aggregate: {n: count(), s: sum(amount)}}\n"
			if with == "lookup" {
				stages = "  - lookup: {table: p, on: {pid: id}, select: [cat]}\n  - window: {tumbling: 1s, key: cat, aggregate: {n: count(), s: sum(amount)}}\n"
			}
			p, err := pipeline.Parse("p.yaml", []byte("source: {file: in.jsonl}\ntables: {p: {file: "+table+"}}\nstages:\n"+stages))
			if err != nil {
				b.Fatal(err)
			}
			plan, _ := pipeline.Compile(p)
			tab, err := lookup.Open(context.Background(), p.Tables[0], lookup.Options{Keys: []string{"id"}})
			if err != nil {
				b.Fatal(err)
			}
			defer tab.Close()
			e, err := engine.New(plan, engine.Options{Sinks: []sink.Sink{discard{}}, Tables: map[string]*lookup.Table{"p": tab}})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(recs[0].Value)))
			b.ResetTimer()
			for n := 0; n < b.N; n += len(recs) {
				if err := e.Process(recs[:min(len(recs), b.N-n)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
