package cmd

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eddyhq/eddy/fixtures"
	"github.com/eddyhq/eddy/internal/runtest"
)

// serving is an eddy serve run in process.
type serving struct {
	t      *testing.T
	url    string
	cancel context.CancelCauseFunc
	done   chan int
	stderr *syncBuffer
}

var servingAt = regexp.MustCompile(`eddy: serving \S+ at (https?://[^/]+)/`)

// startServe runs eddy serve with args and waits for its address.
func startServe(t *testing.T, args ...string) *serving {
	t.Helper()
	ctx, cancel := context.WithCancelCause(context.Background())
	s := &serving{t: t, cancel: cancel, done: make(chan int, 1), stderr: &syncBuffer{}}
	var stdout syncBuffer
	go func() {
		s.done <- run(ctx, append([]string{"serve"}, args...), strings.NewReader(""), &stdout, s.stderr)
	}()
	t.Cleanup(func() {
		if s.cancel != nil { // not stopped: stop it before its directories go
			s.stop()
		}
	})
	s.waitAddr()
	return s
}

// waitAddr waits for the address the run prints.
func (s *serving) waitAddr() {
	s.t.Helper()
	waitFor(s.t, "the server's address", func() bool {
		m := servingAt.FindStringSubmatch(s.stderr.String())
		if m != nil {
			s.url = m[1]
		}
		return m != nil
	})
}

// settled waits until the served windows of servedSpec's keys end later
// than after and two lookups in a row agree (the run has taken in what
// the topic holds), checks them against the reference run's rows in ref
// and returns the latest served end. Windows close as the watermark
// passes them, so the served ones are every key's latest window ending at
// or before the latest served end; after a restart (restored: the latest
// end served before it) the table holds only the windows closed since, so
// a key whose latest window closed before the restart is not served.
func (s *serving) settled(ref, after, restored string) string {
	s.t.Helper()
	var until string
	var got, prev map[[2]string]window
	waitFor(s.t, "served windows ending after "+after, func() bool {
		prev, got = got, s.served(latest(s.t, ref, ""))
		until = ""
		for _, w := range got {
			until = max(until, w.End)
		}
		return until > after && fmt.Sprint(prev) == fmt.Sprint(got)
	})
	want := latest(s.t, ref, until)
	for k, w := range want {
		if w.End <= restored {
			delete(want, k)
		}
	}
	if len(want) < 10 {
		s.t.Fatalf("only %d keys in the reference up to %s", len(want), until)
	}
	sameWindows(s.t, got, want)
	return until
}

func (s *serving) get(path string) (int, string) {
	s.t.Helper()
	resp, err := http.Get(s.url + path)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (s *serving) post(path, body string) (int, string) {
	s.t.Helper()
	resp, err := http.Post(s.url+path, "application/json", strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (s *serving) waitReady() {
	s.t.Helper()
	waitFor(s.t, "/readyz 200", func() bool { c, _ := s.get("/readyz"); return c == 200 })
}

// stop sends the run SIGTERM's cancellation and returns its exit code.
func (s *serving) stop() int {
	s.t.Helper()
	s.cancel(interrupted{syscall.SIGTERM})
	s.cancel = nil
	select {
	case code := <-s.done:
		return code
	case <-time.After(30 * time.Second):
		s.t.Fatal("eddy serve did not stop after SIGTERM")
		return -1
	}
}

// window is a result row of servedSpec, or a served feature.
type window struct {
	Country, Event string
	Start, End     string
	N              int64
	Amount         float64
}

func servedSpec(source string) string {
	return fmt.Sprintf(`name: per-country
source: %s
time: {field: ts}
stages:
  - coerce: {amount: float}
  - window:
      tumbling: 200ms
      key: [country, event]
      aggregate: {n: count(), amount: sum(amount)}
state: {dir: st, checkpoint_every: 100ms}
`, source)
}

// latest reads a reference run's rows: the latest window per key among
// those ending at or before until ("": all).
func latest(t *testing.T, path, until string) map[[2]string]window {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[[2]string]window{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r struct {
			Country, Event string
			Start          string `json:"window_start"`
			End            string `json:"window_end"`
			N              int64
			Amount         float64
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if until != "" && r.End > until {
			continue
		}
		k := [2]string{r.Country, r.Event}
		if w, ok := out[k]; !ok || r.End > w.End {
			out[k] = window{r.Country, r.Event, r.Start, r.End, r.N, r.Amount}
		}
	}
	return out
}

// served asks for every key of want in one batchGet.
func (s *serving) served(want map[[2]string]window) map[[2]string]window {
	s.t.Helper()
	var keys [][2]string
	for k := range want {
		keys = append(keys, k)
	}
	b, _ := json.Marshal(map[string]any{"keys": keys})
	code, body := s.post("/v1/features/per-country:batchGet", string(b))
	if code != 200 {
		s.t.Fatalf("batchGet: %d %s", code, body)
	}
	var res struct {
		Results []struct {
			Found      bool
			Key        struct{ Country, Event string }
			Start      string `json:"window_start"`
			End        string `json:"window_end"`
			Revision   *int64
			AgeMS      *int64 `json:"age_ms"`
			Aggregates struct {
				N      int64
				Amount float64
			}
		}
	}
	if err := json.Unmarshal([]byte(body), &res); err != nil {
		s.t.Fatal(err)
	}
	got := map[[2]string]window{}
	for i, r := range res.Results {
		if r.Key.Country != keys[i][0] || r.Key.Event != keys[i][1] {
			s.t.Fatalf("result %d is for %v, asked for %v", i, r.Key, keys[i])
		}
		if !r.Found {
			continue
		}
		if r.Revision == nil || r.AgeMS == nil || *r.AgeMS < 0 {
			s.t.Errorf("result %d lacks revision or age: %+v", i, r)
		}
		got[keys[i]] = window{r.Key.Country, r.Key.Event, r.Start, r.End, r.Aggregates.N, r.Aggregates.Amount}
	}
	return got
}

func sameWindows(t *testing.T, got, want map[[2]string]window) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d keys served, want %d", len(got), len(want))
	}
	for k, w := range want {
		g := got[k]
		if g.Start != w.Start || g.End != w.End || g.N != w.N || fmt.Sprintf("%.6f", g.Amount) != fmt.Sprintf("%.6f", w.Amount) {
			t.Errorf("%v: served %+v, want %+v", k, g, w)
		}
	}
}

// TestServeFile: over a file, eddy serve is ready at the end of the
// input, serves every key's last window (the rows eddy run writes), and a
// SIGTERM stops it with exit 0.
func TestServeFile(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "clicks.jsonl")
	if err := os.WriteFile(in, []byte(strings.Join(genLines(t, "clickstream", fixtures.Options{Count: 4000, Seed: 3}), "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := runtest.WriteFile(t, dir, "p.yaml", servedSpec("{file: clicks.jsonl}"))
	ref := filepath.Join(dir, "ref.jsonl")
	if code, _, errs := runCLI(t, "", "run", spec, "--out", ref, "--reset-state"); code != 0 {
		t.Fatalf("eddy run: %d %s", code, errs)
	}
	want := latest(t, ref, "")
	if len(want) < 10 {
		t.Fatalf("only %d keys in the reference", len(want))
	}
	procs, gc := runtime.GOMAXPROCS(0), gcPercent()
	s := startServe(t, spec, "--listen", "127.0.0.1:0", "--reset-state")
	s.waitReady()
	if p := runtime.GOMAXPROCS(0); os.Getenv("GOMAXPROCS") == "" && p != serveProcsPerCore*procs {
		t.Errorf("GOMAXPROCS %d while serving, want %d (%d cores)", p, serveProcsPerCore*procs, procs)
	}
	if g := gcPercent(); os.Getenv("GOGC") == "" && g != serveGCPercent {
		t.Errorf("GOGC %d while serving, want %d", g, serveGCPercent)
	}
	sameWindows(t, s.served(want), want)
	var k [2]string
	for k = range want {
		break
	}
	code, body := s.get(fmt.Sprintf("/v1/features/per-country?key=%s&key=%s", k[0], k[1]))
	if code != 200 || !strings.Contains(body, fmt.Sprintf(`"window_end":"%s"`, want[k].End)) {
		t.Errorf("GET %v: %d %s, want window_end %s", k, code, body, want[k].End)
	}
	if code, body := s.get("/metrics"); code != 200 || !strings.Contains(body, `eddy_records_in_total{pipeline="per-country"} 4000`) ||
		!strings.Contains(body, fmt.Sprintf(`eddy_serve_keys{pipeline="per-country"} %d`, len(want))) {
		t.Errorf("/metrics: %d\n%s", code, body)
	}
	if code := s.stop(); code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0; stderr:\n%s", code, s.stderr)
	}
	if p := runtime.GOMAXPROCS(0); p != procs {
		t.Errorf("GOMAXPROCS %d after serving, want %d as before", p, procs)
	}
	if g := gcPercent(); g != gc {
		t.Errorf("GOGC %d after serving, want %d as before", g, gc)
	}
}

// gcPercent is the GC percent in effect (setting it returns the old one).
func gcPercent() int {
	g := debug.SetGCPercent(100)
	debug.SetGCPercent(g)
	return g
}

// TestServeKafka: following a topic with state, eddy serve becomes ready
// once it has read what the topic held, serves for every key the latest
// window that closed (the rows eddy run writes for it), picks up later
// records, and stops on SIGTERM after its final checkpoint with exit 0.
func TestServeKafka(t *testing.T) {
	addr := runtest.Cluster(t, "clicks")
	lines := genLines(t, "clickstream", fixtures.Options{Count: 6000, Seed: 4})
	produceLines(t, addr, "clicks", lines[:4000])
	dir := t.TempDir()
	in := runtest.WriteFile(t, dir, "clicks.jsonl", strings.Join(lines, "\n")+"\n")
	spec := runtest.WriteFile(t, dir, "p.yaml", servedSpec(fmt.Sprintf("{kafka: {brokers: [%s], topic: clicks}}", addr)))
	ref := filepath.Join(dir, "ref.jsonl")
	if code, _, errs := runCLI(t, "", "run", spec, "--input", in, "--out", ref, "--reset-state"); code != 0 {
		t.Fatalf("eddy run: %d %s", code, errs)
	}
	s := startServe(t, spec, "--listen", "127.0.0.1:0", "--reset-state")
	s.waitReady()
	first := s.settled(ref, "", "")
	produceLines(t, addr, "clicks", lines[4000:])
	s.settled(ref, first, "")
	code := s.stop()
	if code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0; stderr:\n%s", code, s.stderr)
	}
	if !strings.Contains(s.stderr.String(), "final checkpoint") {
		t.Errorf("stderr does not mention the final checkpoint:\n%s", s.stderr)
	}
}

// TestServeRefuses: what eddy serve refuses, with exit 2.
func TestServeRefuses(t *testing.T) {
	dir := t.TempDir()
	spec := runtest.WriteFile(t, dir, "p.yaml", servedSpec("{file: in.jsonl}"))
	noWindow := runtest.WriteFile(t, dir, "nowin.yaml", "name: x\nsource: {file: in.jsonl}\nstages: [{filter: 'a > 1'}]\n")
	noName := runtest.WriteFile(t, dir, "noname.yaml", strings.Replace(servedSpec("{file: in.jsonl}"), "name: per-country\n", "", 1))
	badServe := runtest.WriteFile(t, dir, "bad.yaml", servedSpec("{file: in.jsonl}")+"serve:\n  max_keys: -1\n")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"all interfaces without auth", []string{spec, "--listen", "0.0.0.0:0"}, "--listen 0.0.0.0:0 is not a loopback address: refusing"},
		{"tls without a client ca is no auth", []string{spec, "--listen", "0.0.0.0:0", "--serve-tls-cert", "c", "--serve-tls-key", "k"}, "is not a loopback address"},
		{"client ca without tls", []string{spec, "--client-ca", "ca.pem"}, "--client-ca needs --serve-tls-cert and --serve-tls-key"},
		{"no window", []string{noWindow}, "eddy serve needs a pipeline that ends in a window"},
		{"no name", []string{noName}, "eddy serve needs the pipeline's name"},
		{"bad serve section", []string{badServe}, "bad.yaml:12: serve.max_keys: must be a positive integer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := runCLI(t, "", append([]string{"serve"}, tt.args...)...)
			if code != 2 || !strings.Contains(errs, tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, errs, tt.want)
			}
		})
	}
}

// TestServeFlagsKeepKafkas: the server's certificate flags are not the
// Kafka connection's --tls-cert and --tls-key, which eddy serve keeps for
// its source and sinks.
func TestServeFlagsKeepKafkas(t *testing.T) {
	c, _, err := NewRoot().Find([]string{"serve"})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"tls-cert": "client certificate", "tls-key": "client key",
		"serve-tls-cert": "serve HTTPS", "serve-tls-key": "private key", "client-ca": "client certificates"} {
		f := c.Flag(name)
		if f == nil || !strings.Contains(f.Usage, want) {
			t.Errorf("eddy serve --%s: %v, want a flag about %q", name, f, want)
		}
	}
}
