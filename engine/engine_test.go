package engine

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
)

// collect is a sink that keeps every row's JSON.
type collect struct{ rows []string }

func (c *collect) Write(r *sink.Row) error { c.rows = append(c.rows, string(r.JSON)); return nil }
func (c *collect) Close() error            { return nil }

type deadList struct{ lines []map[string]any }

func (d *deadList) WriteDead(x *sink.DeadLetter) error {
	var m map[string]any
	if err := json.Unmarshal(sink.AppendDeadLetter(nil, x), &m); err != nil {
		return err
	}
	d.lines = append(d.lines, m)
	return nil
}
func (d *deadList) Close() error { return nil }

func records(lines ...string) []source.Record {
	recs := make([]source.Record, len(lines))
	for i, l := range lines {
		recs[i] = source.Record{Value: []byte(l), Topic: "in.jsonl", Offset: int64(i + 1), File: true}
	}
	return recs
}

// runSpec runs lines through spec and returns rows, dead letters and stats.
func runSpec(t *testing.T, spec string, lines ...string) ([]string, []map[string]any, Stats) {
	t.Helper()
	p, err := pipeline.Parse("t.yaml", []byte(spec))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	plan, err := pipeline.Compile(p)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	out, dead := &collect{}, &deadList{}
	e, err := New(plan, Options{Sinks: []sink.Sink{out}, Dead: dead})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Process(records(lines...)); err != nil {
		t.Fatal(err)
	}
	if err := e.Finish(); err != nil {
		t.Fatal(err)
	}
	st := e.Stats()
	if st.In != st.Passed+st.Filtered+st.Dead+st.Late {
		t.Errorf("accounting broken: %s", st)
	}
	return out.rows, dead.lines, st
}

func TestStreamingStages(t *testing.T) {
	tests := []struct {
		name  string
		spec  string
		lines []string
		want  []string
		dead  []string // error texts, in order
		stats Stats
	}{
		{
			name:  "no stages passes records through unchanged",
			spec:  "source: {file: x}\n",
			lines: []string{`{"a":1,"b":[1, 2]}`, `  {"z":null}  `},
			want:  []string{`{"a":1,"b":[1, 2]}`, `{"z":null}`},
			stats: Stats{In: 2, Passed: 2, Rows: 2},
		},
		{
			name: "filter and coerce keep field order and substitute values",
			spec: "stages:\n  - filter: 'event == \"buy\"'\n  - coerce: {amount: float, id: string}\n",
			lines: []string{`{"id":7,"event":"buy","amount":"12.5","x":{"y":1}}`, `{"event":"view","amount":"1"}`,
				`{"id":8,"event":"buy","amount":"abc"}`, `{"event":"buy"}`},
			want:  []string{`{"id":"7","event":"buy","amount":12.5,"x":{"y":1}}`, `{"event":"buy"}`},
			dead:  []string{`amount: cannot coerce "abc" to float`},
			stats: Stats{In: 4, Passed: 2, Filtered: 1, Dead: 1, Rows: 2},
		},
		{
			name: "project builds new objects in spec order; later stages see only projected fields",
			spec: "stages:\n  - project: {user: user_id, country: 'upper(country)', big: 'amount > 10', nested: payload.v}\n  - filter: big\n",
			lines: []string{`{"user_id":"u1","country":"de","amount":11,"payload":{"v":[1]}}`,
				`{"user_id":"u2","country":"fr","amount":1}`, `{"user_id":"u3","amount":20}`},
			want:  []string{`{"user":"u1","country":"DE","big":true,"nested":[1]}`},
			dead:  []string{`country: interface conversion: interface {} is nil, not string`},
			stats: Stats{In: 3, Passed: 1, Filtered: 1, Dead: 1, Rows: 1},
		},
		{
			name:  "decode errors and non-boolean filters are dead letters",
			spec:  "stages:\n  - filter: amount\n",
			lines: []string{`{"amount":true}`, `{"amount":1}`, `{"amount":`, `[1]`, `{"amount":false}`},
			want:  []string{`{"amount":true}`},
			dead: []string{`invalid operation: bool(int)`, "invalid JSON at byte 10: unexpected end of record",
				"record is not a JSON object"},
			stats: Stats{In: 5, Passed: 1, Filtered: 1, Dead: 3, Rows: 1},
		},
		{
			name:  "coordinates are visible to expressions",
			spec:  "stages:\n  - project: {t: _topic, line: _offset, k: _key}\n",
			lines: []string{`{}`, `{}`},
			want:  []string{`{"t":"in.jsonl","line":1,"k":null}`, `{"t":"in.jsonl","line":2,"k":null}`},
			stats: Stats{In: 2, Passed: 2, Rows: 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, dead, st := runSpec(t, tt.spec, tt.lines...)
			if strings.Join(rows, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(tt.want, "\n"))
			}
			if len(dead) != len(tt.dead) {
				t.Fatalf("dead letters = %v, want %d", dead, len(tt.dead))
			}
			for i, d := range dead {
				if got := d["error"].(string); !strings.Contains(got, tt.dead[i]) {
					t.Errorf("dead[%d] error = %q, want it to contain %q", i, got, tt.dead[i])
				}
			}
			if st != tt.stats {
				t.Errorf("stats = %s, want %s", st, tt.stats)
			}
		})
	}
}

func TestDeadLetterShape(t *testing.T) {
	spec := `time: {field: ts}
stages:
  - coerce: {n: int}
  - window: {tumbling: 10s, aggregate: {s: sum(n)}}
`
	_, dead, st := runSpec(t, spec,
		`{"ts":0,"n":"x"}`, `{"n":1}`, "{\"ts\":\"soon\",\"bin\":\"\xff\"}", `{"ts":20000,"n":1}`, `{"ts":5,"n":2}`)
	if st != (Stats{In: 5, Passed: 1, Dead: 3, Late: 1, Rows: 1}) {
		t.Fatalf("stats = %s", st)
	}
	want := []string{
		`{"error":"n: cannot coerce \"x\" to int","stage":{"index":0,"kind":"coerce"},"source":{"file":"in.jsonl","line":1},"key":null,"value":"{\"ts\":0,\"n\":\"x\"}","headers":[]}`,
		`{"error":"ts: missing event time","stage":{"index":null,"kind":"time"},"source":{"file":"in.jsonl","line":2},"key":null,"value":"{\"n\":1}","headers":[]}`,
		`{"error":"ts: invalid event time \"soon\": expected epoch milliseconds or an RFC 3339 time","stage":{"index":null,"kind":"time"},"source":{"file":"in.jsonl","line":3},"key":null,"value":"eyJ0cyI6InNvb24iLCJiaW4iOiL/In0=","value_encoding":"base64","headers":[]}`,
		`{"error":"late: event time 1970-01-01T00:00:00.005Z is behind the watermark 1970-01-01T00:00:20.000Z and every window it belongs to has closed","stage":{"index":1,"kind":"window"},"source":{"file":"in.jsonl","line":5},"key":null,"value":"{\"ts\":5,\"n\":2}","headers":[]}`,
	}
	for i, d := range dead {
		got, _ := json.Marshal(d)
		var w map[string]any
		_ = json.Unmarshal([]byte(want[i]), &w)
		wb, _ := json.Marshal(w)
		if !bytes.Equal(got, wb) {
			t.Errorf("dead[%d]:\n got %s\nwant %s", i, got, wb)
		}
	}
}

func TestLateDrop(t *testing.T) {
	spec := "time: {field: ts}\nlate: drop\nstages:\n  - window: {tumbling: 10s, aggregate: {n: count()}}\n"
	rows, dead, st := runSpec(t, spec, `{"ts":0}`, `{"ts":10000}`, `{"ts":1}`)
	if len(dead) != 0 || st.Late != 1 || len(rows) != 2 {
		t.Fatalf("rows %v dead %v stats %s", rows, dead, st)
	}
}

func TestWindowRowsAndRevision(t *testing.T) {
	spec := `time: {field: ts, max_out_of_order: 1s, allowed_lateness: 10s}
stages:
  - window:
      tumbling: 10s
      key: [user]
      aggregate: {n: count(), total: sum(amount), first: first(amount), last: last(amount)}
`
	rows, _, st := runSpec(t, spec,
		`{"ts":"2026-01-01T00:00:01Z","user":"b","amount":5}`,
		`{"ts":"2026-01-01T00:00:02Z","user":"a","amount":1.5}`,
		`{"ts":"2026-01-01T00:00:12Z","user":"a","amount":2}`,
		`{"ts":"2026-01-01T00:00:03Z","user":"a","amount":3}`)
	want := []string{
		`{"user":"a","window_start":"2026-01-01T00:00:00.000Z","window_end":"2026-01-01T00:00:10.000Z","revision":0,"n":1,"total":1.5,"first":1.5,"last":1.5}`,
		`{"user":"b","window_start":"2026-01-01T00:00:00.000Z","window_end":"2026-01-01T00:00:10.000Z","revision":0,"n":1,"total":5,"first":5,"last":5}`,
		`{"user":"a","window_start":"2026-01-01T00:00:00.000Z","window_end":"2026-01-01T00:00:10.000Z","revision":1,"n":2,"total":4.5,"first":1.5,"last":3}`,
		`{"user":"a","window_start":"2026-01-01T00:00:10.000Z","window_end":"2026-01-01T00:00:20.000Z","revision":0,"n":1,"total":2,"first":2,"last":2}`,
	}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
	if st != (Stats{In: 4, Passed: 4, Rows: 4}) {
		t.Errorf("stats = %s", st)
	}
}
