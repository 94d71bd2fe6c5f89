package engine

import (
	"errors"
	"slices"
	"testing"

	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/windows"
)

// failAfter takes n rows, then fails every write.
type failAfter struct{ n int }

func (f *failAfter) Write(*sink.Row) error {
	if f.n == 0 {
		return errors.New("full")
	}
	f.n--
	return nil
}
func (f *failAfter) Close() error { return nil }

func TestPublishedStages(t *testing.T) {
	tests := []struct {
		name  string
		spec  string
		lines []string
		want  []StageStats
	}{
		{
			name: "filter, coerce and project",
			spec: "stages:\n  - filter: 'event == \"buy\"'\n  - coerce: {amount: float}\n  - project: {a: amount, c: 'upper(country)'}\n",
			lines: []string{`{"event":"buy","amount":"1","country":"de"}`, `{"event":"view"}`, `{"event":"buy","amount":"x"}`,
				`{"event":"buy","amount":2}`, `{"event":`, `{"event":"buy","amount":3,"country":"fr"}`},
			want: []StageStats{
				{Index: -1, Kind: "source", In: 6, Passed: 5, Dead: 1},
				{Index: 0, Kind: "filter", In: 5, Passed: 4, Filtered: 1},
				{Index: 1, Kind: "coerce", In: 4, Passed: 3, Dead: 1},
				{Index: 2, Kind: "project", In: 3, Passed: 2, Dead: 1},
			},
		},
		{
			name: "window with late records and bad times",
			spec: "time: {field: ts}\nlate: drop\nstages:\n  - filter: n > 0\n  - window: {tumbling: 1s, aggregate: {c: count()}}\n",
			lines: []string{`{"ts":"2026-01-01T00:00:05Z","n":1}`, `{"ts":"2026-01-01T00:00:01Z","n":1}`, `{"ts":"nope","n":1}`,
				`{"ts":"2026-01-01T00:00:06Z","n":0}`, `{"ts":"2026-01-01T00:00:07Z","n":2}`},
			want: []StageStats{
				{Index: -1, Kind: "source", In: 5, Passed: 4, Dead: 1},
				{Index: 0, Kind: "filter", In: 4, Passed: 3, Filtered: 1},
				{Index: 1, Kind: "window", In: 3, Passed: 2, Late: 1},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := compileSpec(t, tt.spec)
			ok, bad := &collect{}, &failAfter{n: 1}
			e, err := New(plan, Options{Sinks: []sink.Sink{ok, bad}})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Process(records(tt.lines...)); err != nil && err.Error() != "full" {
				t.Fatal(err)
			}
			e.Finish()
			p := e.Published()
			if !slices.Equal(p.Stages, tt.want) {
				t.Errorf("stages:\n%+v\nwant\n%+v", p.Stages, tt.want)
			}
			if last := p.Stages[len(p.Stages)-1]; last.Passed != p.Stats.Passed {
				t.Errorf("the last stage passed %d, Stats.Passed %d", last.Passed, p.Stats.Passed)
			}
			if want := []int64{p.Stats.Rows, min(1, p.Stats.Rows)}; !slices.Equal(p.SinkRows, want) {
				t.Errorf("rows by sink %v, want %v (rows %d)", p.SinkRows, want, p.Stats.Rows)
			}
			if len(p.Partitions) != 1 || p.Partitions[0].Topic != "in.jsonl" {
				t.Errorf("partitions %+v", p.Partitions)
			}
		})
	}
}

func TestPublishedWatermarks(t *testing.T) {
	plan := compileSpec(t, "time: {field: ts, max_out_of_order: 1s}\nstages:\n  - window: {tumbling: 10s, aggregate: {c: count()}}\n")
	e, err := New(plan, Options{Sinks: []sink.Sink{&collect{}}})
	if err != nil {
		t.Fatal(err)
	}
	if p := e.Published(); p.Watermark != 0 || len(p.Partitions) != 0 {
		t.Fatalf("before any batch: %+v", p)
	}
	recs := records(`{"ts":"2026-01-01T00:00:05Z"}`, `{"ts":"2026-01-01T00:00:03Z"}`)
	recs[1].Topic, recs[1].Partition = "t", 1
	if err := e.Process(recs); err != nil {
		t.Fatal(err)
	}
	p := e.Published()
	const t5 = 1767225605000 // 2026-01-01T00:00:05Z
	want := []PartitionStats{{Topic: "in.jsonl", Watermark: t5 - 1000}, {Topic: "t", Partition: 1, Watermark: t5 - 3000}}
	if !slices.Equal(p.Partitions, want) || p.Watermark != e.Watermark() {
		t.Errorf("watermarks %+v (engine %d), want %+v (engine %d)", p.Partitions, p.Watermark, want, e.Watermark())
	}
	e.Finish()
	if p := e.Published(); p.Watermark != windows.EndOfInput {
		t.Errorf("after Finish the watermark is %d", p.Watermark)
	}
}
