package nexmark

import (
	"sync"
	"testing"

	"github.com/eddyhq/eddy/fixtures"
	"github.com/eddyhq/eddy/source"
)

var benchEvents = sync.OnceValues(func() ([]source.Record, error) {
	recs, _, err := Events(1_000_000, 1, DefaultRate, fixtures.SkewNexmark)
	return recs, err
})

// BenchmarkQueries runs each Nexmark query over a million events, as eddy
// bench nexmark does, and reports events/s (per core: one goroutine).
//
//	go test ./internal/nexmark -run '^$' -bench Queries -benchtime 3x
func BenchmarkQueries(b *testing.B) {
	recs, err := benchEvents()
	if err != nil {
		b.Fatal(err)
	}
	qs, err := Queries()
	if err != nil {
		b.Fatal(err)
	}
	for _, q := range qs {
		b.Run(q.Name, func(b *testing.B) {
			var rows int64
			for range b.N {
				r, err := Run(q, recs, Options{})
				if err != nil {
					b.Fatal(err)
				}
				rows = r.Rows
			}
			b.ReportMetric(float64(len(recs)*b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(rows), "rows")
		})
	}
}
