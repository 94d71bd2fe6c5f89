package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/internal/runtest"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/windows"
)

// freeAddr is a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// runPiped opens spec (its source stdin) with o and runs it in the
// background; the run reads what is written to w, and wait, after w is
// closed, returns the run's Stats and error.
func runPiped(t *testing.T, spec string, o Options) (w *io.PipeWriter, wait func() (engine.Stats, error)) {
	t.Helper()
	p, err := pipeline.Parse("p.yaml", []byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	r, w := io.Pipe()
	o.Stdin, o.Stdout = r, io.Discard
	if o.Stderr == nil {
		o.Stderr = io.Discard
	}
	j, err := Open(context.Background(), p, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	type result struct {
		st  engine.Stats
		err error
	}
	done := make(chan result, 1)
	go func() { st, err := j.Run(context.Background()); done <- result{st, err} }()
	return w, func() (engine.Stats, error) { res := <-done; return res.st, res.err }
}

// scrape reads /metrics at addr and parses the text format.
func scrape(addr string) (map[string]*dto.MetricFamily, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

func counter(fams map[string]*dto.MetricFamily, name string) (int64, bool) {
	f := fams[name]
	if f == nil || f.GetType() != dto.MetricType_COUNTER || len(f.Metric) != 1 {
		return 0, false
	}
	return int64(f.Metric[0].GetCounter().GetValue()), true
}

// TestMetricsScrape runs a pipeline over stdin with --metrics, scrapes
// /metrics over HTTP once the source has read every record, and checks the
// counters against the run's final Stats and the accounting
// in = passed + filtered + dead + late. After the run the server is down.
func TestMetricsScrape(t *testing.T) {
	spec := "name: m\nsource: {file: '-'}\nstages:\n  - filter: a > 1\n"
	var stderr runtest.SyncBuffer
	addr := freeAddr(t)
	w, wait := runPiped(t, spec, Options{Stderr: &stderr, Metrics: addr})
	// 3 pass, 2 filtered, 1 dead (not JSON)
	io.WriteString(w, `{"a":2}`+"\n"+`{"a":1}`+"\n"+`{"a":3}`+"\n"+"nope\n"+`{"a":0}`+"\n"+`{"a":5}`+"\n")
	var fams map[string]*dto.MetricFamily
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for {
		fams, err = scrape(addr)
		if n, _ := counter(fams, "eddy_records_in_total"); err == nil && n == 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no in=6 scraped: %v %v", err, fams)
		}
		time.Sleep(20 * time.Millisecond)
	}
	w.Close()
	st, err := wait()
	if err != nil {
		t.Fatal(err)
	}
	final := st.String()
	got := map[string]int64{}
	for _, n := range metricNames {
		v, ok := counter(fams, n[0])
		if !ok {
			t.Fatalf("%s: no single counter in %v", n[0], fams)
		}
		got[n[0]] = v
		if l := fams[n[0]].Metric[0].GetLabel(); len(l) != 1 || l[0].GetName() != "pipeline" || l[0].GetValue() != "m" {
			t.Errorf("%s labels %v, want pipeline=m", n[0], l)
		}
	}
	want := fmt.Sprintf("in=%d passed=%d filtered=%d dead=%d late=%d rows=%d",
		got["eddy_records_in_total"], got["eddy_records_passed_total"], got["eddy_records_filtered_total"],
		got["eddy_records_dead_total"], got["eddy_records_late_total"], got["eddy_rows_total"])
	if final != want {
		t.Errorf("scraped %s, run ended with %s", want, final)
	}
	if want != "in=6 passed=3 filtered=2 dead=1 late=0 rows=3" {
		t.Errorf("scraped %s", want)
	}
	if in, sum := got["eddy_records_in_total"], got["eddy_records_passed_total"]+got["eddy_records_filtered_total"]+got["eddy_records_dead_total"]+got["eddy_records_late_total"]; in != sum {
		t.Errorf("in %d != passed+filtered+dead+late %d", in, sum)
	}
	if !strings.Contains(stderr.String(), "eddy: metrics at http://"+addr+"/metrics") {
		t.Errorf("stderr %q does not name the metrics address", stderr.String())
	}
	if _, err := scrape(addr); err == nil {
		t.Error("the metrics server is still up after the run")
	}
}

// TestMetricsAddr: a malformed --metrics is a *SpecError; a host other than
// loopback is served with a warning; ":PORT" binds loopback.
func TestMetricsAddr(t *testing.T) {
	port := func() string { _, p, _ := net.SplitHostPort(freeAddr(t)); return p }
	tests := []struct {
		name, addr, warn string
		spec             bool
	}{
		{"no port", "localhost", "", true},
		{"port only", ":" + port(), "", false},
		{"any host", "0.0.0.0:" + port(), "is not a loopback address", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := pipeline.Parse("p.yaml", []byte("source: {file: '-'}\n"))
			if err != nil {
				t.Fatal(err)
			}
			var stderr runtest.SyncBuffer
			j, err := Open(context.Background(), p, Options{Stdin: strings.NewReader(""), Stderr: &stderr, Metrics: tt.addr})
			if tt.spec {
				if !errors.As(err, new(*SpecError)) {
					t.Fatalf("error %T %v, want a *SpecError", err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			if tt.warn == "" && strings.Contains(stderr.String(), "warning") || !strings.Contains(stderr.String(), tt.warn) {
				t.Errorf("stderr %q, want %q", stderr.String(), tt.warn)
			}
			if tt.addr[0] == ':' && !strings.Contains(stderr.String(), "http://127.0.0.1"+tt.addr+"/metrics") {
				t.Errorf("stderr %q: not on loopback", stderr.String())
			}
		})
	}
}

// TestMetricsWindows: with MetricsWindows the latest closed window of each
// key is a gauge per aggregate, labelled with the key; past the series cap
// a key's rows are counted as overflow, not kept.
func TestMetricsWindows(t *testing.T) {
	spec := "name: w\nsource: {file: '-'}\ntime: {field: ts}\nstages:\n" +
		"  - window: {tumbling: 10s, key: [k], aggregate: {n: count(), top: max(v)}}\n"
	addr := freeAddr(t)
	// 2 aggregates, a cap of 4 series: 2 keys
	w, wait := runPiped(t, spec, Options{Metrics: addr, MetricsWindows: true, MetricsMaxSeries: 4})
	defer func() { w.Close(); wait() }()
	io.WriteString(w, `{"ts":1000,"k":"a","v":3}
{"ts":2000,"k":"a","v":7}
{"ts":3000,"k":"b","v":1}
{"ts":4000,"k":"c","v":2}
{"ts":5000,"k":"c","v":9}
{"ts":25000,"k":"a","v":1}
`)
	want := map[string][2]float64{"a": {2, 7}, "b": {1, 1}, "c": {2, 9}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		fams, err := scrape(addr)
		if err == nil && fams["eddy_window_series_overflow_total"] != nil && fams["eddy_window_series_overflow_total"].Metric[0].GetCounter().GetValue() == 1 {
			n, top := fams["eddy_window_n"], fams["eddy_window_top"]
			if n == nil || top == nil || n.GetType() != dto.MetricType_GAUGE || len(n.Metric) != 2 || len(top.Metric) != 2 {
				t.Fatalf("want 2 series of each gauge: %v", fams)
			}
			for i, f := range []*dto.MetricFamily{n, top} {
				for _, m := range f.Metric {
					var key string
					for _, l := range m.GetLabel() {
						if l.GetName() == "k" {
							key = l.GetValue()
						}
					}
					if wv, ok := want[key]; !ok || m.GetGauge().GetValue() != wv[i] {
						t.Errorf("%s{k=%q} = %v, want %v", f.GetName(), key, m.GetGauge().GetValue(), wv[i])
					}
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no overflow of 1 scraped: %v %v", err, fams)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMetricsCheckpoints: a run with a state section, following a topic,
// exposes its checkpoints: their count and time grow and the last one's
// window snapshot has a size; and its lag per partition, 0 once read.
func TestMetricsCheckpoints(t *testing.T) {
	addr := runtest.Cluster(t, "bids")
	runtest.ProducePartitioned(t, addr, "bids", 500)
	dir := t.TempDir()
	spec := runtest.StateSpec("name: ck\nsource: {kafka: {brokers: [" + addr + "], topic: bids}}")
	spec = strings.NewReplacer("  - duckdb: {path: out.duckdb, table: bids, batch_rows: 300}\n", "",
		"file: out.jsonl", "file: "+filepath.Join(dir, "out.jsonl"), "file: dead.jsonl", "file: "+filepath.Join(dir, "dead.jsonl"),
		"dir: st", "dir: "+filepath.Join(dir, "st")).Replace(spec)
	p, err := pipeline.Parse(filepath.Join(dir, "p.yaml"), []byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	maddr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	j, err := Open(ctx, p, Options{Stdout: io.Discard, Stderr: io.Discard, Metrics: maddr})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	done := make(chan error, 1)
	go func() { _, err := j.Run(ctx); done <- err }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		fams, err := scrape(maddr)
		n, _ := counter(fams, "eddy_checkpoints_total")
		// the 500 records read: each of the 3 partitions has a lag, of 0
		lag := fams["eddy_partition_lag_records"]
		caughtUp := lag != nil && len(lag.Metric) == 3
		for _, m := range lag.GetMetric() {
			caughtUp = caughtUp && m.GetGauge().GetValue() == 0 && m.GetLabel()[2].GetValue() == "bids"
		}
		if err == nil && n >= 2 && caughtUp && fams["eddy_checkpoint_last_bytes"].Metric[0].GetGauge().GetValue() > 0 {
			if s := fams["eddy_checkpoint_seconds_total"].Metric[0].GetCounter().GetValue(); s <= 0 {
				t.Errorf("eddy_checkpoint_seconds_total %v after %d checkpoints", s, n)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 2 checkpoints with a size scraped: %v %v", err, fams)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServeMetrics: the workbench's metrics read what the engine of
// whatever pipeline runs at the moment of the scrape published: the
// totals, the counts by stage and the rows of its one sink.
func TestServeMetrics(t *testing.T) {
	addr := freeAddr(t)
	var cur atomic.Pointer[engine.Published]
	cur.Store(&engine.Published{Stats: engine.Stats{In: 3, Passed: 2, Dead: 1}})
	stop, err := ServeMetrics(addr, io.Discard, "workbench", "results", func() engine.Published { return *cur.Load() },
		func() map[source.Partition]int64 {
			return map[source.Partition]int64{{Topic: "clicks", Partition: 2}: 7}
		})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	second := engine.Published{Stats: engine.Stats{In: 10, Passed: 4, Filtered: 6, Rows: 2},
		Stages:   []engine.StageStats{{Index: -1, Kind: "source", In: 10, Passed: 10}, {Index: 0, Kind: "filter", In: 10, Passed: 4, Filtered: 6}},
		SinkRows: []int64{2}, Watermark: windows.NoWatermark}
	for _, want := range []engine.Published{*cur.Load(), second} {
		cur.Store(&want)
		mf, err := scrape(addr)
		if err != nil {
			t.Fatal(err)
		}
		for name, v := range map[string]int64{"eddy_records_in_total": want.Stats.In, "eddy_records_filtered_total": want.Stats.Filtered, "eddy_rows_total": want.Stats.Rows} {
			m := mf[name]
			if m == nil || len(m.Metric) != 1 || int64(m.Metric[0].GetCounter().GetValue()) != v || m.Metric[0].Label[0].GetValue() != "workbench" {
				t.Errorf("%s = %v, want %d with pipeline=workbench", name, m, v)
			}
		}
		if len(want.Stages) == 0 {
			if mf["eddy_stage_records_in_total"] != nil {
				t.Errorf("stages without a pipeline: %v", mf["eddy_stage_records_in_total"])
			}
			continue
		}
		for _, tc := range []struct {
			name   string
			labels map[string]string
			want   float64
		}{
			{"eddy_stage_records_in_total", map[string]string{"stage": "0", "kind": "filter"}, 10},
			{"eddy_stage_records_filtered_total", map[string]string{"stage": "0", "kind": "filter"}, 6},
			{"eddy_stage_records_passed_total", map[string]string{"stage": "source", "kind": "source"}, 10},
			{"eddy_sink_rows_total", map[string]string{"sink": "0", "kind": "results"}, 2},
			{"eddy_partition_lag_records", map[string]string{"topic": "clicks", "partition": "2"}, 7},
		} {
			if v, ok := series(mf, tc.name, tc.labels); !ok || v != tc.want {
				t.Errorf("%s%v = %v (%v), want %v", tc.name, tc.labels, v, ok, tc.want)
			}
		}
	}
}

// series finds the sample of family name whose labels include want.
func series(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			match = match && have[k] == v
		}
		if !match {
			continue
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue(), true
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

// TestMetricsByStage runs a window pipeline into an InfluxDB sink (a
// test server that fails the first request) and scrapes the counts by
// stage, the rows by sink, the sink's errors and retries and the
// watermark delays: every stage's in = passed + filtered + dead + late,
// each stage's in is the one before's passed, and the stages add up to
// the run's totals.
func TestMetricsByStage(t *testing.T) {
	var tries atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tries.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	spec := "name: s\nsource: {file: '-'}\ntime: {field: ts}\nlate: drop\nstages:\n  - filter: v > 0\n" +
		"  - window: {tumbling: 10s, key: [k], aggregate: {n: count()}}\n" +
		"sinks:\n  - influxdb: {url: '" + srv.URL + "', db: d, flush: 20ms}\n"
	addr := freeAddr(t)
	w, wait := runPiped(t, spec, Options{Metrics: addr})
	io.WriteString(w, `{"ts":1000,"k":"a","v":1}
{"ts":2000,"k":"b","v":1}
nope
{"ts":"x","k":"a","v":1}
{"ts":3000,"k":"a","v":0}
{"ts":25000,"k":"a","v":1}
{"ts":4000,"k":"a","v":1}
`)
	var fams map[string]*dto.MetricFamily
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		fams, err = scrape(addr)
		if n, _ := series(fams, "eddy_sink_rows_written_total", nil); err == nil && n == 2 {
			if in, _ := counter(fams, "eddy_records_in_total"); in == 7 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 2 rows written scraped: %v %v", err, fams)
		}
		time.Sleep(20 * time.Millisecond)
	}
	w.Close()
	st, err := wait()
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		stage, kind                      string
		in, passed, filtered, dead, late float64
	}{
		{"source", "source", 7, 5, 0, 2, 0},
		{"0", "filter", 5, 4, 1, 0, 0},
		{"1", "window", 4, 3, 0, 0, 1},
	}
	var filtered, dead, late float64
	for _, s := range want {
		labels := map[string]string{"pipeline": "s", "stage": s.stage, "kind": s.kind}
		var got [5]float64
		for i, n := range stageMetricNames {
			v, ok := series(fams, n[0], labels)
			if !ok {
				t.Fatalf("no %s%v in %v", n[0], labels, fams[n[0]])
			}
			got[i] = v
		}
		if w := [5]float64{s.in, s.passed, s.filtered, s.dead, s.late}; got != w {
			t.Errorf("stage %s: in, passed, filtered, dead, late = %v, want %v", s.stage, got, w)
		}
		if got[0] != got[1]+got[2]+got[3]+got[4] {
			t.Errorf("stage %s: in %v != passed+filtered+dead+late", s.stage, got[0])
		}
		filtered, dead, late = filtered+got[2], dead+got[3], late+got[4]
	}
	if last := want[len(want)-1]; int64(last.passed) != st.Passed || int64(filtered) != st.Filtered || int64(dead) != st.Dead || int64(late) != st.Late || int64(want[0].in) != st.In {
		t.Errorf("the stages do not add up to the run's %s", st)
	}
	sinkLabels := map[string]string{"pipeline": "s", "sink": "0", "kind": "influxdb"}
	for name, w := range map[string]float64{"eddy_sink_rows_total": 2, "eddy_sink_rows_written_total": 2, "eddy_sink_errors_total": 1, "eddy_sink_retries_total": 1} {
		if v, ok := series(fams, name, sinkLabels); !ok || v != w {
			t.Errorf("%s%v = %v (%v), want %v", name, sinkLabels, v, ok, w)
		}
	}
	// event times in 1970: the watermark is decades behind the clock
	for _, name := range []string{"eddy_watermark_delay_seconds", "eddy_partition_watermark_delay_seconds"} {
		if v, ok := series(fams, name, map[string]string{"pipeline": "s"}); !ok || v < 50*365*24*3600 {
			t.Errorf("%s = %v (%v)", name, v, ok)
		}
	}
	if _, ok := fams["eddy_partition_lag_records"]; ok {
		t.Error("a file source has a lag per partition")
	}
}
