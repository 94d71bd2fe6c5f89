// Package nexmark runs the Nexmark queries eddy expresses (the pipelines
// of examples/nexmark) over events generated in memory, for `eddy bench
// nexmark`: the events of the nexmark fixture are generated first, then
// each query's engine takes them in batches, and the time from its first
// batch to the end of its Finish is what events/s divides by. See
// docs/nexmark.md.
package nexmark

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/examples"
	"github.com/eddyhq/eddy/fixtures"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
)

// Query is one Nexmark query as an eddy pipeline.
type Query struct {
	Name string // q0, q1, …
	Plan *pipeline.Plan
}

// Queries returns the queries of examples/nexmark, in the order of their
// numbers.
func Queries() ([]Query, error) {
	files, err := fs.Glob(examples.Nexmark, "nexmark/q*.yaml")
	if err != nil {
		return nil, err
	}
	var qs []Query
	for _, f := range files {
		data, err := examples.Nexmark.ReadFile(f)
		if err != nil {
			return nil, err
		}
		p, err := pipeline.Parse("examples/"+f, data)
		if err != nil {
			return nil, err
		}
		plan, err := pipeline.Compile(p)
		if err != nil {
			return nil, err
		}
		name := strings.TrimSuffix(strings.TrimPrefix(f, "nexmark/"), ".yaml")
		qs = append(qs, Query{Name: name, Plan: plan})
	}
	slices.SortFunc(qs, func(a, b Query) int { return number(a.Name) - number(b.Name) })
	return qs, nil
}

func number(name string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(name, "q"))
	return n
}

// Select returns the queries named (all when names is empty); an unknown
// name is an error listing the known ones.
func Select(names ...string) ([]Query, error) {
	all, err := Queries()
	if err != nil || len(names) == 0 {
		return all, err
	}
	var out []Query
	for _, n := range names {
		i := slices.IndexFunc(all, func(q Query) bool { return q.Name == n })
		if i < 0 {
			known := make([]string, len(all))
			for j, q := range all {
				known[j] = q.Name
			}
			return nil, fmt.Errorf("no query %q (eddy runs %s; docs/nexmark.md says why the others are not expressible yet)", n, strings.Join(known, ", "))
		}
		out = append(out, all[i])
	}
	return out, nil
}

// DefaultRate is the events per second of event time the benchmark's
// events are generated at: Nexmark's default first-event rate.
const DefaultRate = 10_000

// Events generates n events of the nexmark fixture (persons, auctions
// and bids, 1:3:46; skew as fixtures.Options.Skew) as records of one file
// partition, and returns them with their total size in bytes.
func Events(n int, seed uint64, rate float64, skew string) ([]source.Record, int64, error) {
	var b bytes.Buffer
	b.Grow(n * 200)
	if err := fixtures.Generate(&b, "nexmark", fixtures.Options{Count: n, Seed: seed, Rate: rate, Skew: skew}); err != nil {
		return nil, 0, err
	}
	data := b.Bytes()
	size := int64(len(data))
	recs := make([]source.Record, 0, n)
	for off := int64(1); len(data) > 0; off++ {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		recs = append(recs, source.Record{Value: line, Topic: "nexmark", Offset: off, File: true})
	}
	return recs, size, nil
}

// Options configures Run.
type Options struct {
	// Batch is the records per engine batch; default DefaultBatch.
	Batch int
	// Clock gives the processing time of batch i (q12); nil: the wall
	// clock.
	Clock func(batch int) time.Time
	// Sink, when set, takes the rows too (tests compare them); the rows
	// are always encoded and counted.
	Sink sink.Sink
}

// DefaultBatch is about what the file source hands the engine per 1 MiB
// chunk of Nexmark events.
const DefaultBatch = 4096

// Result is one query's run.
type Result struct {
	Query   string
	Events  int
	Rows    int64
	Elapsed time.Duration
	// CPU is the process's user and system time over the run (the
	// collector's included): on a machine shared with other work the
	// wall time counts the waits for a core, the CPU time does not.
	CPU   time.Duration
	Stats engine.Stats
}

// PerSecond is the events the query handled per second of Elapsed.
func (r Result) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Events) / r.Elapsed.Seconds()
}

// PerCPUSecond is the events the query handled per second of CPU time:
// the per-core rate, however busy the machine.
func (r Result) PerCPUSecond() float64 {
	if r.CPU <= 0 {
		return 0
	}
	return float64(r.Events) / r.CPU.Seconds()
}

// cpuTime is the process's user plus system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Run runs q over recs in one engine (one goroutine, so events/s is per
// core) and times it.
func Run(q Query, recs []source.Record, o Options) (Result, error) {
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	batch := 0
	clock := time.Now
	if o.Clock != nil {
		clock = func() time.Time { return o.Clock(batch) }
	}
	sinks := []sink.Sink{discard{}}
	if o.Sink != nil {
		sinks = append(sinks, o.Sink)
	}
	e, err := engine.New(q.Plan, engine.Options{Sinks: sinks, Clock: clock})
	if err != nil {
		return Result{}, err
	}
	defer e.Close()
	rt := newRouter(q.Plan.Pipeline)
	if rt != nil {
		e.Expect(rt.parts, clock())
	}
	start, cpu := time.Now(), cpuTime()
	for i := 0; i < len(recs); i += o.Batch {
		chunk := recs[i:min(i+o.Batch, len(recs))]
		if rt == nil {
			if err := e.Process(chunk); err != nil {
				return Result{}, fmt.Errorf("%s: %w", q.Name, err)
			}
			batch++
			continue
		}
		for s, sub := range rt.split(chunk) {
			if len(sub) == 0 {
				continue
			}
			e.SetSource(s)
			if err := e.Process(sub); err != nil {
				return Result{}, fmt.Errorf("%s: %w", q.Name, err)
			}
		}
		batch++
	}
	if err := e.Finish(); err != nil {
		return Result{}, fmt.Errorf("%s: %w", q.Name, err)
	}
	st := e.Stats()
	return Result{Query: q.Name, Events: len(recs), Rows: st.Rows, Elapsed: time.Since(start), CPU: cpuTime() - cpu, Stats: st}, nil
}

// router hands a query of several sources (q3: persons and auctions)
// the events of each: the source named after the event's type plus s
// (persons: the type person) takes them, as a topic of its own, and the
// events of other types are no source's (a topic per type would not hold
// them).
type router struct {
	types [][]byte
	parts []source.Partition
	subs  [][]source.Record
}

func newRouter(p *pipeline.Pipeline) *router {
	if len(p.Sources) == 0 {
		return nil
	}
	rt := &router{subs: make([][]source.Record, len(p.Sources))}
	for _, s := range p.Sources {
		rt.types = append(rt.types, []byte(strings.TrimSuffix(s.Name, "s")))
		rt.parts = append(rt.parts, source.Partition{Topic: s.Name})
	}
	return rt
}

// split returns the records of each source in chunk, in order, valid
// until the next split.
func (rt *router) split(chunk []source.Record) [][]source.Record {
	for i := range rt.subs {
		rt.subs[i] = rt.subs[i][:0]
	}
	for _, r := range chunk {
		typ := eventType(r.Value)
		for s, t := range rt.types {
			if bytes.Equal(t, typ) {
				r.Topic = rt.parts[s].Topic
				rt.subs[s] = append(rt.subs[s], r)
				break
			}
		}
	}
	return rt.subs
}

// eventType is the type of a generated event (its first field: {"type":"bid",…).
func eventType(v []byte) []byte {
	const pre = `{"type":"`
	if !bytes.HasPrefix(v, []byte(pre)) {
		return nil
	}
	v = v[len(pre):]
	if i := bytes.IndexByte(v, '"'); i >= 0 {
		return v[:i]
	}
	return nil
}

// discard takes rows and drops them (the engine has encoded them).
type discard struct{}

func (discard) Write(*sink.Row) error { return nil }
func (discard) Close() error          { return nil }

// Flink13 is Flink 1.13's per-core throughput of the Nexmark queries in
// events/s, as issue 19 quotes the published figures, for the comparison
// eddy bench prints.
var Flink13 = map[string]float64{
	"q0": 155e3, "q1": 158e3, "q2": 175e3, "q5": 22e3, "q7": 12e3, "q8": 146e3, "q11": 40e3, "q12": 76e3,
}

// Bench runs each query repeat times over recs and returns, per query,
// the run with the median CPU time.
func Bench(qs []Query, recs []source.Record, repeat int, o Options) ([]Result, error) {
	repeat = max(repeat, 1)
	out := make([]Result, 0, len(qs))
	for _, q := range qs {
		runs := make([]Result, 0, repeat)
		for range repeat {
			r, err := Run(q, recs, o)
			if err != nil {
				return nil, err
			}
			runs = append(runs, r)
		}
		slices.SortFunc(runs, func(a, b Result) int { return int(a.CPU - b.CPU) })
		out = append(out, runs[len(runs)/2])
	}
	return out, nil
}

// Report writes results as a table: rows, wall and CPU seconds, events
// per wall second, events per CPU second (the per-core rate: the engine
// runs on one goroutine) and Flink 1.13's per-core figure with the ratio
// to the per-core rate.
func Report(w io.Writer, results []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "query\tevents\trows\twall s\tcpu s\tevents/s\tevents/cpu-s\tFlink 1.13/core\teddy/Flink\t")
	for _, r := range results {
		flink, ratio := "-", "-"
		if f, ok := Flink13[r.Query]; ok {
			flink = fmt.Sprintf("%.0fK", f/1e3)
			ratio = fmt.Sprintf("%.1f×", r.PerCPUSecond()/f)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.3f\t%.3f\t%.0fK\t%.0fK\t%s\t%s\t\n", r.Query, r.Events, r.Rows,
			r.Elapsed.Seconds(), r.CPU.Seconds(), r.PerSecond()/1e3, r.PerCPUSecond()/1e3, flink, ratio)
	}
	return tw.Flush()
}
