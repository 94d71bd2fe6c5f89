package engine

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
)

// FuzzEngine pushes arbitrary input through a pipeline that uses every kind
// of stage and checks that nothing panics, every record is accounted for,
// and every row and dead letter is valid JSON.
func FuzzEngine(f *testing.F) {
	for _, s := range []string{
		"{\"ts\":1,\"k\":\"a\",\"v\":1}\n{\"ts\":5000,\"k\":\"b\",\"v\":2.5}\n{\"ts\":2,\"k\":\"a\",\"v\":\"3\"}",
		"{\"ts\":\"2026-01-01T00:00:00Z\",\"k\":null,\"v\":[1]}\n{\"ts\":-1}\n\xff\xfe\n{",
		"{\"ts\":1e300,\"v\":\"x\"}\n{\"ts\":\"1767225600000\",\"k\":{\"a\":1},\"v\":-0}",
	} {
		f.Add([]byte(s))
	}
	specs := []string{
		`time: {field: ts, max_out_of_order: 1s, allowed_lateness: 2s}
stages:
  - filter: k != "skip"
  - coerce: {v: float}
  - project: {k: k, v: v, big: 'v > 1'}
  - window:
      hopping: {size: 3s, slide: 1s}
      key: [k, big]
      aggregate: {n: count(), s: sum(v), q: 'quantile(v, 0.5)', d: count_distinct(v), f: first(v), l: last(v)}
`,
		`time: {field: ts}
stages:
  - window: {session: {gap: 2s}, key: k, aggregate: {n: count(), a: avg(v), lo: min(v), hi: max(v)}}
`,
		`stages:
  - coerce: {v: string, ts: timestamp}
`,
	}
	var plans []*pipeline.Plan
	for _, s := range specs {
		p, err := pipeline.Parse("fuzz.yaml", []byte(s))
		if err != nil {
			f.Fatal(err)
		}
		plan, err := pipeline.Compile(p)
		if err != nil {
			f.Fatal(err)
		}
		plans = append(plans, plan)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, plan := range plans {
			out, dead := &collect{}, &deadList{}
			e, err := New(plan, Options{Sinks: []sink.Sink{out}, Dead: dead})
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			for _, l := range bytes.Split(data, []byte("\n")) {
				if len(bytes.TrimSpace(l)) > 0 {
					lines = append(lines, string(l))
				}
			}
			if err := e.Process(records(lines...)); err != nil {
				t.Fatal(err)
			}
			if err := e.Finish(); err != nil {
				t.Fatal(err)
			}
			st := e.Stats()
			if st.In != int64(len(lines)) || st.In != st.Passed+st.Filtered+st.Dead+st.Late {
				t.Fatalf("accounting: %s for %d lines", st, len(lines))
			}
			if int64(len(dead.lines)) != st.Dead+st.Late {
				t.Fatalf("%d dead letters for dead=%d late=%d", len(dead.lines), st.Dead, st.Late)
			}
			for _, r := range out.rows {
				if !json.Valid([]byte(r)) {
					t.Fatalf("row is not JSON: %s", r)
				}
			}
		}
	})
}
