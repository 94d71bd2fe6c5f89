package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/internal/runtest"
)

// buildEddy builds the eddy binary into a temporary directory.
func buildEddy(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the eddy binary")
	}
	bin := filepath.Join(t.TempDir(), "eddy")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runToEnd runs the binary until it exits and returns its stderr.
func runToEnd(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("eddy %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stderr.String()
}

// killedRuns starts the binary again and again, each time SIGKILLing it
// once out.jsonl in dir has grown past a random size (0 kills it at once,
// often while it restores), then lets a last run finish. It returns the
// last run's stderr and how many runs were killed.
func killedRuns(t *testing.T, bin, dir string, seed uint64, finalSize int64, args ...string) (string, int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 3))
	out := filepath.Join(dir, "out.jsonl")
	kills := 0
	for attempt := 0; ; attempt++ {
		cmd := exec.Command(bin, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		if attempt >= 8 {
			// enough: let this one finish
			if err := <-exited; err != nil {
				t.Fatalf("last run: %v\n%s", err, stderr.String())
			}
			return stderr.String(), kills
		}
		target := rng.Int64N(finalSize)
		tick := time.NewTicker(time.Millisecond)
		deadline := time.After(60 * time.Second)
	wait:
		for {
			select {
			case err := <-exited:
				tick.Stop()
				if err != nil {
					t.Fatalf("run %d failed: %v\n%s", attempt, err, stderr.String())
				}
				return stderr.String(), kills
			case <-deadline:
				t.Fatalf("run %d: out.jsonl did not reach %d bytes in 60 s", attempt, target)
			case <-tick.C:
				if size(out) >= target {
					break wait
				}
			}
		}
		tick.Stop()
		cmd.Process.Signal(syscall.SIGKILL)
		if err := <-exited; err == nil {
			return stderr.String(), kills // it finished just before the kill
		}
		kills++
	}
}

// killSeeds is how many seeds a kill test runs: n, or $EDDY_KILL_SEEDS
// for a longer soak (EDDY_KILL_SEEDS=20 go test ./cmd -run TestRunKilled).
func killSeeds(n int) int {
	if v, err := strconv.Atoi(os.Getenv("EDDY_KILL_SEEDS")); err == nil && v > 0 {
		return v
	}
	return n
}

// killTopics names the topics of a Kafka kill test: the input, the
// reference run's results and one results topic per seed (result1, …).
func killTopics(in, ref, result string) []string {
	topics := []string{in, ref}
	for i := range killSeeds(2) {
		topics = append(topics, fmt.Sprintf("%s%d", result, i+1))
	}
	return topics
}

// referenceRun runs spec uninterrupted in base/ref and returns that
// directory and the run's counters line.
func referenceRun(t *testing.T, bin, base, spec string) (string, string) {
	t.Helper()
	ref := filepath.Join(base, "ref")
	os.Mkdir(ref, 0o755)
	runtest.WriteFile(t, ref, "p.yaml", spec)
	return ref, runtest.StatsLine(runToEnd(t, bin, "run", filepath.Join(ref, "p.yaml")))
}

// killedRun runs spec in base/name with killedRuns until it finishes,
// requires it to have been killed and to end with the counters wantStats,
// and returns the directory.
func killedRun(t *testing.T, bin, base, name, spec string, seed uint64, final int64, wantStats string) string {
	t.Helper()
	dir := filepath.Join(base, name)
	os.Mkdir(dir, 0o755)
	runtest.WriteFile(t, dir, "p.yaml", spec)
	stderr, kills := killedRuns(t, bin, dir, seed, final, "run", filepath.Join(dir, "p.yaml"))
	t.Logf("killed %d times", kills)
	if kills == 0 {
		t.Fatal("never killed: the test proves nothing")
	}
	if got := runtest.StatsLine(stderr); got != wantStats {
		t.Errorf("final counters %q, want %q", got, wantStats)
	}
	return dir
}

// TestRunKilledResumesExactlyOnce kills `eddy run` with SIGKILL at random
// moments over a file, restarts it until it finishes, and requires the
// file sink, the DuckDB table, the dead letters and the counters to equal
// an uninterrupted run's.
func TestRunKilledResumesExactlyOnce(t *testing.T) {
	bin := buildEddy(t)
	base := t.TempDir()
	input := filepath.Join(base, "bids.jsonl")
	runtest.GenBids(t, input, 150_000)
	spec := runtest.StateSpec("source: {file: " + input + "}")

	ref, wantStats := referenceRun(t, bin, base, spec)
	if !strings.Contains(wantStats, "dead=") || strings.Contains(wantStats, " dead=0 ") || strings.Contains(wantStats, "late=0 ") {
		t.Fatalf("the reference run exercises too little: %s", wantStats)
	}
	final := size(filepath.Join(ref, "out.jsonl"))

	for seed := uint64(1); seed <= uint64(killSeeds(3)); seed++ {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			dir := killedRun(t, bin, base, fmt.Sprintf("run%d", seed), spec, seed, final, wantStats)
			runtest.SameOutputs(t, ref, dir)
		})
	}
}

// TestRunKilledPebble is the kill test with window state in Pebble
// (backend: pebble) and a cache far smaller than the open windows, for
// tumbling and session windows: the killed and restarted runs must write
// exactly what an uninterrupted run with the windows in memory writes.
func TestRunKilledPebble(t *testing.T) {
	bin := buildEddy(t)
	base := t.TempDir()
	input := filepath.Join(base, "bids.jsonl")
	runtest.GenBids(t, input, 150_000)
	for _, w := range []string{"tumbling: 10s", "session: {gap: 3s}"} {
		name := strings.TrimSuffix(strings.Fields(w)[0], ":")
		t.Run(name, func(t *testing.T) {
			os.Mkdir(filepath.Join(base, name), 0o755)
			memory := strings.Replace(runtest.StateSpec("source: {file: "+input+"}"), "tumbling: 10s", w, 1)
			memory = strings.Replace(memory, "filter: price > 500", "filter: price > 100", 1)
			pebble := strings.Replace(memory, "state: {dir: st, checkpoint_every: 20ms}", "state: {dir: st, checkpoint_every: 20ms, backend: pebble, memory_limit: 128MiB}", 1)
			ref, wantStats := referenceRun(t, bin, filepath.Join(base, name), memory)
			final := size(filepath.Join(ref, "out.jsonl"))
			for seed := uint64(1); seed <= uint64(killSeeds(2)); seed++ {
				t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
					dir := killedRun(t, bin, filepath.Join(base, name), fmt.Sprintf("run%d", seed), pebble, seed, final, wantStats)
					runtest.SameOutputs(t, ref, dir)
					if _, err := os.Stat(filepath.Join(dir, "st", "windows", "live")); err != nil {
						t.Errorf("no window store: %v", err)
					}
				})
			}
		})
	}
}

// TestRunKilledKafka does the same over a one-partition topic of an
// in-process kfake cluster (one partition: the order of records, and so of
// rows, is the same in every run).
func TestRunKilledKafka(t *testing.T) {
	bin := buildEddy(t)
	clearKafkaEnv(t)
	topics := killTopics("bids", "refresults", "results")
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topics...))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	killedKafka(t, bin, c.ListenAddrs()[0], topics[0], topics[1], topics[2:]...)
}

// killedKafka produces bids to the one-partition topic in, runs the state
// pipeline over it uninterrupted (its Kafka sink writing to ref) and then
// killed again and again (writing to each of results in turn), and
// requires every output, read_committed contents of the topics included,
// to be the same.
func killedKafka(t *testing.T, bin, addr, in, ref string, results ...string) {
	t.Helper()
	data := runtest.GenBids(t, "", 60_000)
	var recs []*kgo.Record
	for _, l := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		recs = append(recs, &kgo.Record{Topic: in, Value: l})
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ProducerBatchMaxBytes(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	// the same pipeline with a Kafka sink in transactions as well
	spec := func(results string) string {
		return strings.Replace(runtest.StateSpec("source: {kafka: {brokers: ["+addr+"], topic: "+in+", stop: caught-up}}"),
			"dlq:", "  - kafka: {topic: "+results+"}\ndlq:", 1)
	}

	base := t.TempDir()
	refDir, wantStats := referenceRun(t, bin, base, spec(ref))
	final := size(filepath.Join(refDir, "out.jsonl"))
	wantRows, _ := os.ReadFile(filepath.Join(refDir, "out.jsonl"))
	if got := committedValues(t, addr, ref); got != string(wantRows) {
		t.Fatalf("the reference run's Kafka sink holds %d rows, its file %d", strings.Count(got, "\n"), bytes.Count(wantRows, []byte("\n")))
	}
	for i, topic := range results {
		t.Run(fmt.Sprintf("seed%d", i+1), func(t *testing.T) {
			dir := killedRun(t, bin, base, topic, spec(topic), uint64(i+11), final, wantStats)
			runtest.SameOutputs(t, refDir, dir)
			if got := committedValues(t, addr, topic); got != string(wantRows) {
				t.Errorf("read_committed sees %d rows in %s, want the %d of the uninterrupted run, in order",
					strings.Count(got, "\n"), topic, bytes.Count(wantRows, []byte("\n")))
			}
		})
	}
}

// committedValues returns the values of the records of a one-partition
// topic that read_committed readers see, one per line.
func committedValues(t *testing.T, addr, topic string) string {
	t.Helper()
	var b strings.Builder
	for _, l := range runtest.TopicRecords(t, addr, topic) {
		b.Write(l.Value)
		b.WriteByte('\n')
	}
	return b.String()
}

func TestRunStateRefusals(t *testing.T) {
	dir := t.TempDir()
	runtest.WriteFile(t, dir, "in.jsonl", `{"ts":1000,"k":"a"}`+"\n"+`{"ts":25000,"k":"b"}`+"\n")
	spec := func(window string) string {
		return "name: refusals\nsource: {file: in.jsonl}\ntime: {field: ts}\nstages:\n  - window: {tumbling: " + window +
			", key: [k], aggregate: {n: count()}}\nsinks: [{file: out.jsonl}]\nstate: {dir: st}\n"
	}
	p := runtest.WriteFile(t, dir, "p.yaml", spec("10s"))
	if code, _, stderr := runCLI(t, "", "run", p); code != 0 {
		t.Fatalf("first run: %d %s", code, stderr)
	}
	out1, _ := os.ReadFile(filepath.Join(dir, "out.jsonl"))

	t.Run("inspect", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "", "state", "inspect", filepath.Join(dir, "st"))
		if code != 0 {
			t.Fatalf("inspect: %d %s", code, stderr)
		}
		for _, want := range []string{"pipeline:         refusals", "watermark:        end of input", "open windows:     0",
			"counters:         in=2 passed=2 filtered=0 dead=0 late=0 rows=2", "file position:    byte 41, after line 2",
			"sink:             file " + filepath.Join(dir, "out.jsonl") + ": 196 bytes", "dead letters:     stderr: at-least-once"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("inspect lacks %q:\n%s", want, stdout)
			}
		}
	})
	t.Run("inspect --json", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, "", "state", "inspect", "--json", filepath.Join(dir, "st"))
		if code != 0 {
			t.Fatalf("inspect --json: %d %s", code, stderr)
		}
		var in inspection
		if err := json.Unmarshal([]byte(stdout), &in); err != nil {
			t.Fatalf("inspect --json: %v\n%s", err, stdout)
		}
		if in.Pipeline != "refusals" || in.Seq < 2 || in.Stats.In != 2 || len(in.Partitions) != 1 || in.Partitions[0].Next != 3 ||
			in.File == nil || in.File.Line != 2 || len(in.Sinks) != 1 || !in.Sinks[0].Exact || in.Watermark == nil || *in.Watermark != "end of input" {
			t.Errorf("inspect --json = %+v", in)
		}
	})
	t.Run("a finished run run again writes nothing more", func(t *testing.T) {
		code, _, stderr := runCLI(t, "", "run", p)
		out2, _ := os.ReadFile(filepath.Join(dir, "out.jsonl"))
		if code != 0 || !bytes.Equal(out1, out2) || !strings.Contains(stderr, "eddy: in=2 passed=2") {
			t.Errorf("rerun: %d %s\n%s", code, stderr, out2)
		}
	})
	t.Run("changed pipeline", func(t *testing.T) {
		runtest.WriteFile(t, dir, "p.yaml", spec("20s"))
		code, _, stderr := runCLI(t, "", "run", p)
		if code != 2 || !strings.Contains(stderr, `was written by a different pipeline, so it cannot be restored:
  stages[0].window changed: was "tumbling(10s)", now "tumbling(20s)"
run with --reset-state to discard the state and start over`) {
			t.Errorf("changed window: exit %d\n%s", code, stderr)
		}
		code, _, stderr = runCLI(t, "", "run", "--reset-state", p)
		if code != 0 || !strings.Contains(stderr, "eddy: in=2 passed=2 filtered=0 dead=0 late=0 rows=2") {
			t.Errorf("--reset-state: exit %d\n%s", code, stderr)
		}
	})
	t.Run("corrupt state", func(t *testing.T) {
		ms, _ := filepath.Glob(filepath.Join(dir, "st", "MANIFEST-*"))
		for _, m := range ms {
			os.WriteFile(m, []byte("not a manifest"), 0o644)
		}
		code, _, stderr := runCLI(t, "", "run", p)
		if code != 1 || !strings.Contains(stderr, "corrupt state") {
			t.Errorf("corrupt state: exit %d\n%s", code, stderr)
		}
		if code, _, stderr := runCLI(t, "", "state", "inspect", filepath.Join(dir, "st")); code != 1 || !strings.Contains(stderr, "corrupt state") {
			t.Errorf("inspect of corrupt state: exit %d\n%s", code, stderr)
		}
	})
	t.Run("stdin", func(t *testing.T) {
		code, _, stderr := runCLI(t, "", "run", "--input", "-", p)
		if code != 2 || !strings.Contains(stderr, "state: cannot resume stdin after a restart") {
			t.Errorf("stdin with state: exit %d\n%s", code, stderr)
		}
	})
	t.Run("two duckdb sinks", func(t *testing.T) {
		q := runtest.WriteFile(t, dir, "g.yaml", strings.Replace(spec("10s"), "[{file: out.jsonl}]", "[{duckdb: {path: a.duckdb, table: a}}, {duckdb: {path: b.duckdb, table: b}}]", 1))
		code, _, stderr := runCLI(t, "", "run", q)
		if code != 2 || !strings.Contains(stderr, "duckdb: at most one duckdb sink with a state section") {
			t.Errorf("two duckdb sinks with state: exit %d\n%s", code, stderr)
		}
	})
	t.Run("parquet file", func(t *testing.T) {
		q := runtest.WriteFile(t, dir, "pq.yaml", strings.Replace(strings.Replace(spec("10s"), "[{file: out.jsonl}]", "[{parquet: {path: out.parquet}}]", 1), "dir: st", "dir: st3", 1))
		code, _, stderr := runCLI(t, "", "run", q)
		if code != 2 || !strings.Contains(stderr, "use parquet {dir, rotate} with state") {
			t.Errorf("parquet path with state: exit %d\n%s", code, stderr)
		}
	})
	t.Run("pebble backend", func(t *testing.T) {
		// a state written with the windows in memory is not read as a store
		m := runtest.WriteFile(t, dir, "m.yaml", strings.Replace(spec("10s"), "state: {dir: st}", "state: {dir: stm}", 1))
		if code, _, stderr := runCLI(t, "", "run", m); code != 0 {
			t.Fatalf("memory backend: exit %d\n%s", code, stderr)
		}
		q := runtest.WriteFile(t, dir, "q.yaml", strings.Replace(spec("10s"), "state: {dir: st}", "state: {dir: stm, backend: pebble}", 1))
		code, _, stderr := runCLI(t, "", "run", q)
		if code != 2 || !strings.Contains(stderr, `state.backend added: "pebble"`) {
			t.Errorf("backend changed to pebble: exit %d\n%s", code, stderr)
		}
	})
}

// TestRunStateKafkaStartLatest checks that a restart resumes where the
// first run started even when it read nothing: start: latest is not
// computed anew (the records produced in between would be skipped).
func TestRunStateKafkaStartLatest(t *testing.T) {
	clearKafkaEnv(t)
	addr := runtest.Cluster(t, "ev")
	produce := func(from, to int) {
		var recs []*kgo.Record
		for i := from; i <= to; i++ {
			recs = append(recs, &kgo.Record{Topic: "ev", Partition: int32(i % 3), Value: fmt.Appendf(nil, `{"i":%d}`, i)})
		}
		runtest.Produce(t, addr, recs...)
	}
	produce(1, 10)
	dir := t.TempDir()
	p := runtest.WriteFile(t, dir, "p.yaml", "source: {kafka: {brokers: ["+addr+"], topic: ev, start: latest, stop: caught-up}}\n"+
		"sinks: [{file: out.jsonl}]\nstate: {dir: st}\n")
	if code, _, stderr := runCLI(t, "", "run", p); code != 0 || !strings.Contains(stderr, "eddy: in=0 ") {
		t.Fatalf("first run: %d %s", code, stderr)
	}
	produce(11, 15)
	code, _, stderr := runCLI(t, "", "run", p)
	if code != 0 || !strings.Contains(stderr, "eddy: in=5 passed=5 ") {
		t.Fatalf("second run: %d %s", code, stderr)
	}
	out, _ := os.ReadFile(filepath.Join(dir, "out.jsonl"))
	for i := 11; i <= 15; i++ {
		if !bytes.Contains(out, fmt.Appendf(nil, `{"i":%d}`, i)) {
			t.Errorf("record %d missing from the output:\n%s", i, out)
		}
	}
}

// TestRunKilledKafkaPartitions kills a run over a three-partition topic.
// The order in which partitions are read differs from run to run, so rows
// come out in another order; with max_out_of_order above the fixture's
// disorder no record is late whatever the order, so every window row is
// determined by the input, and the file sink (cut back exactly on restart)
// must hold the uninterrupted run's rows, each once.
func TestRunKilledKafkaPartitions(t *testing.T) {
	bin := buildEddy(t)
	clearKafkaEnv(t)
	addr := runtest.Cluster(t, "bids3")
	data := runtest.GenBids(t, "", 60_000)
	var recs []*kgo.Record
	for i, l := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		recs = append(recs, &kgo.Record{Topic: "bids3", Partition: int32(i % 3), Value: l})
	}
	runtest.Produce(t, addr, recs...)
	spec := "source: {kafka: {brokers: [" + addr + "], topic: bids3, stop: caught-up}}\n" + `time: {field: dateTime, max_out_of_order: 5s}
stages:
  - window:
      tumbling: 10s
      key: [auction]
      aggregate: {n: count(), hi: max(price), bidders: count_distinct(bidder), p90: "quantile(price, 0.9)"}
sinks: [{file: out.jsonl}]
dlq: {file: dead.jsonl}
state: {dir: st, checkpoint_every: 20ms}
`
	sorted := func(path string) []string { return runtest.SortedFile(t, path) }
	base := t.TempDir()
	ref, wantStats := referenceRun(t, bin, base, spec)
	if !strings.Contains(wantStats, " late=0 ") {
		t.Fatalf("the reference run has late records, so rows depend on the read order: %s", wantStats)
	}
	want := sorted(filepath.Join(ref, "out.jsonl"))
	for seed := uint64(1); seed <= uint64(killSeeds(2)); seed++ {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			dir := killedRun(t, bin, base, fmt.Sprintf("run%d", seed), spec, seed+20, size(filepath.Join(ref, "out.jsonl")), wantStats)
			if got := sorted(filepath.Join(dir, "out.jsonl")); !slices.Equal(got, want) {
				t.Errorf("rows differ from the uninterrupted run's: %d, want %d", len(got), len(want))
			}
		})
	}
}
