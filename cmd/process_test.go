//go:build process || integration

// The tests in this file run the eddy binary as a process: SIGKILLed at
// random moments and restarted (the restore protocol end to end), stopped
// by a real SIGINT, and measured for peak resident memory. They take a few
// minutes, so they are built only with the process tag (and with
// integration, whose tests use their helpers); the restore protocol is
// tested in process by go test ./job:
//
//	go test -tags process -count=1 ./cmd -run 'Killed|SIGINTBinary|LargerThanMemory|SIGTERMMidAdvance'

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

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/fixtures"
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

// TestRunKilledKafkaPartitionsSinks kills runs over a three-partition
// topic, where the read order differs from run to run, writing to a file, a
// DuckDB table and a Kafka topic. With max_out_of_order above the input's
// disorder nothing is late, so every row is determined by the input: each
// sink must hold exactly the uninterrupted run's rows (in another order),
// none twice.
func TestRunKilledKafkaPartitionsSinks(t *testing.T) {
	bin := buildEddy(t)
	clearKafkaEnv(t)
	topics := killTopics("bidsp", "refp", "resp")
	addr := runtest.Cluster(t, topics...)
	runtest.ProducePartitioned(t, addr, "bidsp", 60_000)
	timeCfg := "{field: dateTime, max_out_of_order: 5s}"
	base := t.TempDir()
	ref, wantStats := referenceRun(t, bin, base, runtest.PartSpec(addr, "bidsp", "refp", "", timeCfg))
	if !strings.Contains(wantStats, " late=0 ") {
		t.Fatalf("the reference run has late records, so rows depend on the read order: %s", wantStats)
	}
	want := runtest.SortedFile(t, filepath.Join(ref, "out.jsonl"))
	if got := runtest.SortedTopic(t, addr, "refp"); !slices.Equal(got, want) {
		t.Fatalf("the reference run's Kafka sink holds %d rows, its file %d", len(got), len(want))
	}
	wantTable := runtest.TableRows(t, filepath.Join(ref, "out.duckdb"), "bids")
	for i, topic := range topics[2:] {
		t.Run(fmt.Sprintf("seed%d", i+1), func(t *testing.T) {
			dir := killedRun(t, bin, base, topic, runtest.PartSpec(addr, "bidsp", topic, "", timeCfg), uint64(i+31), size(filepath.Join(ref, "out.jsonl")), wantStats)
			runtest.SameRows(t, addr, dir, topic, want, wantTable)
		})
	}
}

// TestRunKilledKafkaGroupLate kills runs over a three-partition topic read
// with a consumer group, with late records and revisions, so which records
// are late depends on the read order and no two runs need to agree. What
// must hold whatever the order: the file, the DuckDB table and the
// read_committed topic hold the same rows, as many as the final counters'
// rows (each emitted row once, none lost); the last revision of every
// window counts every passed record once; in, filtered and dead match the
// uninterrupted run; and the group's committed offsets are the ends of
// the input, with the marker of the last checkpoint.
func TestRunKilledKafkaGroupLate(t *testing.T) {
	bin := buildEddy(t)
	clearKafkaEnv(t)
	topics := killTopics("bidsg", "refg", "resg")
	addr := runtest.Cluster(t, topics...)
	killedGroupLate(t, bin, addr, "g", topics[0], topics[1], topics[2:]...)
}

// killedGroupLate is TestRunKilledKafkaGroupLate over the three-partition
// topic in of the cluster at addr: the reference run writes to the topic
// ref, the killed ones (group prefix-TOPIC) to each of results.
func killedGroupLate(t *testing.T, bin, addr, prefix, in, refTopic string, results ...string) {
	t.Helper()
	runtest.ProducePartitioned(t, addr, in, 60_000)
	timeCfg := "{field: dateTime, max_out_of_order: 500ms, allowed_lateness: 2s}"
	base := t.TempDir()
	refDir, refStats := referenceRun(t, bin, base, runtest.PartSpec(addr, in, refTopic, "", timeCfg))
	if ref := runtest.ParseStats(t, refStats); ref.Late == 0 || ref.Dead == 0 {
		t.Fatalf("the reference run exercises too little: %s", refStats)
	}
	for i, topic := range results {
		t.Run(fmt.Sprintf("seed%d", i+1), func(t *testing.T) {
			group := prefix + "-" + topic
			dir := filepath.Join(base, fmt.Sprintf("run%d", i+1))
			os.Mkdir(dir, 0o755)
			runtest.WriteFile(t, dir, "p.yaml", runtest.PartSpec(addr, in, topic, group, timeCfg))
			stderr, kills := killedRuns(t, bin, dir, uint64(i+41), size(filepath.Join(refDir, "out.jsonl")), "run", filepath.Join(dir, "p.yaml"))
			if kills == 0 {
				t.Fatal("never killed: the test proves nothing")
			}
			t.Logf("killed %d times; %s (uninterrupted: %s)", kills, runtest.StatsLine(stderr), refStats)
			runtest.CheckGroupRun(t, addr, in, group, dir, topic, refStats, runtest.StatsLine(stderr))
		})
	}
}

// The built binary stops the same way on a real SIGINT.
func TestRunSIGINTBinary(t *testing.T) {
	bin := buildEddy(t)
	const n = 300
	spec, out, st := followSpec(t, n)
	cmd := exec.Command(bin, "run", spec)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every row", func() bool { return lineCount(out) == n })
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	checkInterrupted(t, code, 130, stderr.String(), "SIGINT", st, n)
}

// A replay killed (SIGKILL) in the middle of its transactions, then run
// again, replays every record exactly once in total.
func TestDlqReplayKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the eddy binary")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build eddy with")
	}
	bin := filepath.Join(t.TempDir(), "eddy")
	build := exec.Command(goBin, "build", "-o", bin, "github.com/eddyhq/eddy")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	clearKafkaEnv(t)
	addr := runtest.Cluster(t, "dlq", "orders")
	const n = 300
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: "dlq", Partition: int32(i % 3), Value: fmt.Appendf(nil, `{"id":%d}`, i),
			Headers: []kgo.RecordHeader{
				{Key: "eddy.error", Value: []byte("ts: missing event time")}, {Key: "eddy.stage", Value: []byte("time")},
				{Key: "eddy.source.topic", Value: []byte("orders")}, {Key: "eddy.replay.count", Value: []byte("0")},
			}})
	}
	runtest.Produce(t, addr, recs...)

	// 300 records a second in transactions of 50: killed after the first
	// commit, it is most likely in the middle of the second transaction.
	sub := exec.Command(bin, "-b", addr, "dlq", "replay", "-t", "dlq", "--rate", "300", "--batch", "50")
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	committed := func() int64 {
		os, err := adm.FetchOffsets(context.Background(), "eddy-replay.dlq")
		if err != nil {
			return 0
		}
		var sum int64
		os.Each(func(o kadm.OffsetResponse) { sum += max(o.At, 0) })
		return sum
	}
	written := func() int64 {
		ends, err := adm.ListEndOffsets(context.Background(), "orders")
		if err != nil {
			return 0
		}
		var sum int64
		ends.Each(func(o kadm.ListedOffset) { sum += max(o.Offset, 0) })
		return sum
	}
	// Kill once a transaction has committed and the next one has written
	// records (more offsets than the committed records and their markers).
	start := time.Now()
	waitFor(t, "a transaction under way after the first commit", func() bool {
		c := committed()
		return c > 0 && written() > c+3
	})
	sub.Process.Kill()
	sub.Wait()
	done := committed()
	if done >= n {
		t.Fatalf("the replay finished before it was killed (%d committed)", done)
	}
	// read_uncommitted readers (tail) see the records of the transaction
	// the kill left open; read_committed readers do not.
	_, raw, _ := runCLI(t, "", "-b", addr, "tail", "-t", "orders", "-e", "-f", "raw")
	uncommitted := strings.Count(raw, "\n")
	if int64(uncommitted) <= done {
		t.Errorf("read_uncommitted sees %d records, want more than the %d committed", uncommitted, done)
	}
	t.Logf("killed after %v with %d of %d records committed and %d written", time.Since(start), done, n, uncommitted)

	rerun := time.Now()
	code, _, stderr := runCLI(t, "", "-b", addr, "dlq", "replay", "-t", "dlq")
	t.Logf("rerun took %v", time.Since(rerun))
	if code != 0 {
		t.Fatalf("replay after the kill: %d %s", code, stderr)
	}
	want := fmt.Sprintf("eddy: replayed %d  (orders %d)\n", n-done, n-done)
	if !strings.Contains(stderr, want) {
		t.Errorf("summary lacks %q:\n%s", want, stderr)
	}
	seen := map[string]int{}
	for _, l := range runtest.TopicRecords(t, addr, "orders") {
		seen[string(l.Value)]++
	}
	if len(seen) != n {
		t.Errorf("read_committed sees %d distinct records, want %d", len(seen), n)
	}
	for v, c := range seen {
		if c != 1 {
			t.Errorf("%s seen %d times", v, c)
		}
	}
}

// largeKeysSpec is a session window per transaction id, one hour of gap:
// every record opens a window of its own and none closes before the end.
// writePayments writes n payments, each its own one-hour session (100,000
// a second of event time), to dir/payments.jsonl and returns its path.
func writePayments(t *testing.T, dir string, n int) string {
	t.Helper()
	input := filepath.Join(dir, "payments.jsonl")
	f, err := os.Create(input)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := fixtures.Generate(f, "payments", fixtures.Options{Count: n, Seed: 5, Rate: 100_000}); err != nil {
		t.Fatal(err)
	}
	return input
}

func largeKeysSpec(input, state string) string {
	return "name: many-keys\nsource: {file: " + input + "}\ntime: {field: ts}\nstages:\n" +
		"  - window: {session: {gap: 1h}, key: [txn_id], aggregate: {n: count(), amount: sum(amount)}}\n" +
		"sinks: [{file: out.jsonl}]\n" + state
}

// runPeakRSS runs `eddy run p.yaml` in dir to its end and returns its peak
// resident memory in bytes, as --stats reports it, and its stderr.
func runPeakRSS(t *testing.T, bin, dir string) (int64, string) {
	t.Helper()
	cmd := exec.Command(bin, "run", "p.yaml", "--stats", "stats.json")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("eddy run: %v\n%s", err, stderr.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, "stats.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		PeakRSS int64 `json:"peak_rss_bytes"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if st.PeakRSS == 0 {
		t.Skipf("no peak resident memory on this system: %s", b)
	}
	return st.PeakRSS, stderr.String()
}

// TestRunPebbleLargerThanMemory aggregates a key space whose windows do not
// fit in the memory limit: with the windows in memory the run's peak
// resident memory exceeds the limit, with backend pebble it stays within,
// and both write the same rows. $EDDY_MANY_KEYS sets the number of keys
// (default 600000; docs/performance.md has the 10 M run).
func TestRunPebbleLargerThanMemory(t *testing.T) {
	bin := buildEddy(t)
	n := 600_000
	if v, err := strconv.Atoi(os.Getenv("EDDY_MANY_KEYS")); err == nil && v > 0 {
		n = v
	}
	const limit = 128 << 20
	dir := t.TempDir()
	input := writePayments(t, dir, n)

	mem, pebble := filepath.Join(dir, "memory"), filepath.Join(dir, "pebble")
	os.Mkdir(mem, 0o755)
	os.Mkdir(pebble, 0o755)
	runtest.WriteFile(t, mem, "p.yaml", largeKeysSpec(input, ""))
	runtest.WriteFile(t, pebble, "p.yaml", largeKeysSpec(input, fmt.Sprintf("state: {dir: st, backend: pebble, memory_limit: %dMiB}\n", limit>>20)))

	memRSS, memErr := runPeakRSS(t, bin, mem)
	pebRSS, pebErr := runPeakRSS(t, bin, pebble)
	t.Logf("%d keys: peak RSS %d MiB in memory, %d MiB with backend pebble and memory_limit %d MiB", n, memRSS>>20, pebRSS>>20, limit>>20)
	want := fmt.Sprintf("eddy: in=%d passed=%d filtered=0 dead=0 late=0 rows=%d", n, n, n)
	for _, s := range []string{memErr, pebErr} {
		if got := runtest.StatsLine(s); got != want {
			t.Errorf("counters %q, want %q", got, want)
		}
	}
	if memRSS <= limit {
		t.Fatalf("the windows in memory took only %d MiB: the key space does not exceed the limit, so the test proves nothing", memRSS>>20)
	}
	// Go's memory limit is soft: a collector starved of CPU (a loaded
	// machine: CI runs beside other work) lets the heap run past it, and a
	// test must not fail because the machine is busy. A run peaks at
	// 117–122 MiB on a quiet machine (docs/performance.md) and reached
	// 128–129 MiB at a load average of 12, so an eighth over the limit is
	// allowed here; the memory backend's 4× shows the bound is real.
	if pebRSS > limit+limit/8 {
		t.Errorf("backend pebble peaked at %d MiB of resident memory, over memory_limit %d MiB and its eighth of slack", pebRSS>>20, limit>>20)
	} else if pebRSS > limit {
		t.Logf("backend pebble peaked %d MiB over memory_limit (within the slack for a busy machine)", (pebRSS-limit)>>20)
	}
	a, _ := os.ReadFile(filepath.Join(mem, "out.jsonl"))
	b, _ := os.ReadFile(filepath.Join(pebble, "out.jsonl"))
	if !bytes.Equal(a, b) {
		t.Errorf("the rows differ: %d lines in memory, %d with pebble", bytes.Count(a, []byte("\n")), bytes.Count(b, []byte("\n")))
	}
}

// TestRunPebbleSIGTERMMidAdvance: SIGTERM during the final watermark
// advance of a pebble run (every one of 400,000 one-hour sessions fires at
// the end of the input, most of them read back from the store) stops it
// then, not once every window has fired: it used to be seen only between
// batches, minutes later. The run exits with SIGTERM's code, having
// written only part of the rows and no final checkpoint; run again, it
// resumes from the last checkpoint and ends with every row once.
func TestRunPebbleSIGTERMMidAdvance(t *testing.T) {
	bin := buildEddy(t)
	const n = 400_000
	dir := t.TempDir()
	input := writePayments(t, dir, n)
	runtest.WriteFile(t, dir, "p.yaml", largeKeysSpec(input, "state: {dir: st, backend: pebble, memory_limit: 128MiB}\n"))
	out := filepath.Join(dir, "out.jsonl")

	cmd := exec.Command(bin, "run", "p.yaml")
	cmd.Dir = dir
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// no session closes before the end of the input: the first rows are
	// the final advance's
	for lineCount(out) == 0 {
		select {
		case err := <-exited:
			t.Fatalf("eddy run ended before the signal (%v): the final advance is too short to interrupt\n%s", err, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	signalled := time.Now()
	var code int
	select {
	case err := <-exited:
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	case <-time.After(60 * time.Second): // generous: it stops within about a second
		cmd.Process.Kill()
		t.Fatalf("eddy run still running 60 s after SIGTERM\n%s", stderr.String())
	}
	t.Logf("exited %v after SIGTERM, %d of %d rows written", time.Since(signalled).Round(time.Millisecond), lineCount(out), n)
	if code != 143 {
		t.Errorf("exit code %d, want 143\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "stopped during a watermark advance, without a final checkpoint") {
		t.Errorf("stderr does not say the advance was interrupted:\n%s", stderr.String())
	}
	if got := lineCount(out); got >= n {
		t.Fatalf("%d rows written: the whole advance ran before the run stopped", got)
	}

	runToEnd(t, bin, "run", filepath.Join(dir, "p.yaml"))
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	slices.Sort(lines)
	if len(lines) != n || len(slices.Compact(lines)) != n {
		t.Fatalf("after the rerun %d rows, want each of the %d sessions once", len(lines), n)
	}
}
