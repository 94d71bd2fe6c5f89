package pipeline

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// strip zeroes what depends on where things were written, not what they mean.
func strip(p *Pipeline) *Pipeline {
	q := *p
	q.File, q.Source.Line, q.Time.Line = "", 0, 0
	q.Sources = nil
	for _, ns := range p.Sources {
		ns.Line = 0
		q.Sources = append(q.Sources, ns)
	}
	q.Stages = nil
	for _, st := range p.Stages {
		st.Line = 0
		st.Filter = Expr{Src: st.Filter.Src}
		var cs []FieldType
		for _, c := range st.Coerce {
			c.Line = 0
			cs = append(cs, c)
		}
		st.Coerce = cs
		var ps []Column
		for _, c := range st.Project {
			ps = append(ps, Column{Name: c.Name, Expr: Expr{Src: c.Expr.Src}})
		}
		st.Project = ps
		if st.Window != nil {
			w := *st.Window
			w.Line, w.KeyLine = 0, 0
			w.Aggregates = nil
			for _, a := range st.Window.Aggregates {
				a.Line = 0
				w.Aggregates = append(w.Aggregates, a)
			}
			st.Window = &w
		}
		if st.Join != nil {
			j := *st.Join
			j.Line, j.WithLine, j.OnLine, j.BetweenLine, j.SelectLine = 0, 0, 0, 0, 0
			j.Select = nil
			for _, c := range st.Join.Select {
				c.Line = 0
				j.Select = append(j.Select, c)
			}
			st.Join = &j
		}
		if st.Lookup != nil {
			l := *st.Lookup
			l.Line, l.TableLine, l.OnLine, l.SelectLine = 0, 0, 0, 0
			st.Lookup = &l
		}
		q.Stages = append(q.Stages, st)
	}
	q.Tables = nil
	for _, t := range p.Tables {
		t.Line = 0
		q.Tables = append(q.Tables, t)
	}
	strip := func(t Target) Target { t.Line = 0; return t }
	if p.DLQ != nil {
		d := strip(*p.DLQ)
		q.DLQ = &d
	}
	q.Sinks = nil
	for _, s := range p.Sinks {
		q.Sinks = append(q.Sinks, strip(s))
	}
	if p.State != nil {
		st := *p.State
		st.Line = 0
		q.State = &st
	}
	if p.Serve != nil {
		sv := *p.Serve
		sv.Line = 0
		q.Serve = &sv
	}
	return &q
}

const formatCorpus = `
name: everything
source:
  kafka: {brokers: [a:9092, b:9092], topics: [t1, t2], start: last:10, stop: caught-up, group: g, config: c.properties}
time: {field: ev.ts, max_out_of_order: 1m30s, allowed_lateness: 250ms, idle_timeout: 5s}
late: drop
stages:
  - filter: 'kind == "a: b #1" && n > 0'
  - coerce: {n: int, f: float, s: string, b: bool, ts: timestamp}
  - project:
      n: n
      doubled: 'n * 2'
      note: '"it''s: #1"'
      ts: ts
      s: s
  - window:
      hopping: {size: 1h, slide: 15m}
      key: [s, note]
      aggregate: {c: count(), total: sum(n), p: 'quantile(doubled, 0.5)', d: count_distinct(note)}
dlq: {kafka: {topic: dead, brokers: [x:1]}}
sinks:
  - file: "-"
  - kafka: {topic: out, key: [s]}
  - duckdb: {path: out.duckdb, table: t, mode: replace, batch_rows: 5000}
  - parquet: {dir: pq, rotate: 1m}
  - parquet: {path: one.parquet}
state: {dir: st, checkpoint_every: 2s, memory_limit: 64MiB}
serve: {listen: "0.0.0.0:9000", ttl: 10m, max_keys: 5000, tls_cert: s.crt, tls_key: s.key, client_ca: ca.pem}
`

func TestFormatRoundTrip(t *testing.T) {
	specs := map[string][]byte{"corpus.yaml": []byte(formatCorpus)}
	files, _ := filepath.Glob("../examples/*.yaml")
	if len(files) == 0 {
		t.Fatal("no example specs found")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		specs[f] = b
	}
	specs["registry.yaml"] = []byte("source:\n  kafka:\n    topic: bids\n    registry:\n      url: https://sr:8081\n      user: u\n      password: p\n      tls: {ca: ca.pem, insecure: true}\nformat: avro\nstages:\n  - project: {a: auction}\n")
	specs["session.yaml"] = []byte("source: {file: in.jsonl}\nstages:\n  - window: {session: {gap: 30s}, aggregate: {n: count()}}\nsinks: [{file: out.jsonl}]\n")
	specs["state.yaml"] = []byte("source: {file: in.jsonl}\nstate: {dir: /tmp/x, memory_limit: 1500KB}\nsinks: [{file: out.jsonl}]\n")
	specs["serve.yaml"] = []byte("source: {file: in.jsonl}\nserve: {}\n")
	specs["lookup.yaml"] = []byte("source: {file: in.jsonl}\ntables:\n  p: {file: p.csv, refresh: 5s, memory_limit: 1MiB}\n  d: {duckdb: {path: x.db, query: 'SELECT 1 AS id'}, refresh: 1m}\n  k: {kafka: {topic: users, key: id, columns: [name]}}\nstages:\n  - lookup: {table: p, on: {pid: id}, select: [name], on_missing: drop}\n  - lookup: {table: k, on: {user: id}, select: [name], on_missing: dlq}\n  - lookup: {table: d, on: {x: id}, select: [id]}\n")
	specs["join.yaml"] = []byte("sources:\n  a: {file: a.jsonl}\n  b: {kafka: {topic: b, stop: caught-up}}\ntime: {field: t}\nstages:\n  - join: {with: b, on: {x: y, u: v}, window: {hopping: {size: 10s, slide: 5s}}, type: left, select: [x, b.w, {z: b.u.q}]}\n")
	specs["interval.yaml"] = []byte("sources:\n  a: {file: a.jsonl}\n  b: {file: b.jsonl}\ntime: {field: t}\nstages:\n  - join: {with: b, on: {x: y}, between: [-1m30s, 250ms], select: [x, b.w]}\n")
	specs["tumbling.yaml"] = []byte("source: {file: in.jsonl}\ntime: {field: ts}\nstages:\n  - window: {tumbling: 10s, key: user, aggregate: {n: count()}}\n")
	for name, src := range specs {
		t.Run(filepath.Base(name), func(t *testing.T) {
			p, err := Parse(name, src)
			if err != nil {
				t.Fatal(err)
			}
			out := Format(p)
			q, err := Parse("formatted.yaml", out)
			if err != nil {
				t.Fatalf("formatted spec does not parse: %v\n%s", err, out)
			}
			if !reflect.DeepEqual(strip(p), strip(q)) {
				t.Fatalf("round trip changed the pipeline\nbefore %+v\nafter  %+v\n%s", strip(p), strip(q), out)
			}
			if _, err := Compile(q); err != nil {
				if _, err0 := Compile(p); err0 == nil {
					t.Fatalf("formatted spec does not compile: %v\n%s", err, out)
				}
			}
			if again := Format(q); string(again) != string(out) {
				t.Fatalf("Format is not stable:\n%s\n---\n%s", out, again)
			}
		})
	}
}

func TestFormatLeavesDefaultsOut(t *testing.T) {
	p, err := Parse("x.yaml", []byte("source: {kafka: {topic: t}}\nstages: [{filter: 'a > 1'}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	out := string(Format(p))
	for _, absent := range []string{"start", "stop", "late", "idle_timeout", "format"} {
		if strings.Contains(out, absent) {
			t.Errorf("default %s written:\n%s", absent, out)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"}, {250 * time.Millisecond, "250ms"}, {time.Second, "1s"}, {90 * time.Second, "1m30s"},
		{time.Hour, "1h"}, {time.Hour + 30*time.Minute, "1h30m"}, {1500 * time.Millisecond, "1.5s"},
		{61*time.Minute + 1500*time.Millisecond, "1h1m1.5s"}, {1500 * time.Microsecond, "1.5ms"},
	} {
		got := FormatDuration(tc.d)
		if got != tc.want {
			t.Errorf("FormatDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
		if back, err := time.ParseDuration(got); err != nil || back != tc.d {
			t.Errorf("FormatDuration(%v) = %q reads back as %v, %v", tc.d, got, back, err)
		}
	}
}

// FuzzFormatRoundTrip: every spec that parses is formatted into one that
// parses back to the same pipeline, and formatting is stable.
func FuzzFormatRoundTrip(f *testing.F) {
	f.Add(formatCorpus)
	files, _ := filepath.Glob("../examples/*.yaml")
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(string(b))
		}
	}
	for _, s := range []string{
		"name: x\n",
		"time: {field: ts}\nlate: drop\nstages:\n  - window: {tumbling: 10s, aggregate: {n: count()}}\n",
		"stages:\n  - window:\n      session: {gap: 1m}\n      key: [a, b.c]\n      aggregate: {x: first(d), q: 'quantile(e, 0.5)'}\n",
		"stages:\n  - project: {a: b, 'c': \"'x' + y\"}\n  - filter: c > 1\n",
		"stages:\n  - filter: |\n      x > 1 &&\n      y > 2\n",
		"source: {kafka: {topic: t, start: 'time:-15m'}}\ndlq: {file: d.jsonl}\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Parse("fuzz.yaml", []byte(src))
		if err != nil {
			return
		}
		out := Format(p)
		q, err := Parse("formatted.yaml", out)
		if err != nil {
			t.Fatalf("formatted spec does not parse: %v\n--- input\n%s\n--- formatted\n%s", err, src, out)
		}
		if !reflect.DeepEqual(strip(p), strip(q)) {
			t.Fatalf("round trip changed the pipeline\n--- input\n%s\n--- formatted\n%s", src, out)
		}
		if again := Format(q); string(again) != string(out) {
			t.Fatalf("Format is not stable:\n%s\n---\n%s", out, again)
		}
	})
}
