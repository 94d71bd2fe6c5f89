package job

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/internal/runtest"
	"github.com/eddyhq/eddy/pipeline"
)

// faultRun runs the pipeline spec in process with a fault point that fails
// the first checkpoint step starting with fail (after the fresh start's
// checkpoint #1; any roll back or redo; "STEP@N": at checkpoint #N only),
// or none when fail is empty. It returns the run's error, what it wrote to
// stderr and whether the fault fired.
func faultRun(t *testing.T, spec, fail string) (error, string, bool) {
	t.Helper()
	return faultRunOn(t, spec, fail, Options{})
}

// faultRunOn is faultRun with options (Workers).
func faultRunOn(t *testing.T, spec, fail string, o Options) (error, string, bool) {
	t.Helper()
	fired := false
	fail, at, _ := strings.Cut(fail, "@")
	fault := func(step string, seq int64) error {
		restart := strings.HasPrefix(step, "rollback") || strings.HasPrefix(step, "redo")
		due := seq >= 2 || restart
		if at != "" {
			due = fmt.Sprint(seq) == at
		}
		if fired || fail == "" || !strings.HasPrefix(step, fail) || !due {
			return nil
		}
		fired = true
		return fmt.Errorf("injected fault after %s of checkpoint #%d", step, seq)
	}
	p, err := pipeline.Load(spec)
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	ctx := context.Background()
	o.Stderr, o.AfterStep = &stderr, fault
	j, err := Open(ctx, p, o)
	if err != nil {
		if errors.As(err, new(*SpecError)) {
			t.Fatalf("open %s: %v", spec, err)
		}
		return err, stderr.String(), fired
	}
	defer j.Close()
	_, err = j.Run(ctx)
	return err, stderr.String(), fired
}

// failingRuns runs spec once for each of fails, each failing there, then
// once to the end, and returns that run's stderr.
func failingRuns(t *testing.T, spec string, fails ...string) string {
	t.Helper()
	for _, fail := range fails {
		err, stderr, fired := faultRun(t, spec, fail)
		if step, _, _ := strings.Cut(fail, "@"); !fired || err == nil || !strings.Contains(err.Error(), "injected fault after "+step) {
			t.Fatalf("the run failing after %q: fired %v, error %v\n%s", fail, fired, err, stderr)
		}
	}
	err, stderr, _ := faultRun(t, spec, "")
	if err != nil {
		t.Fatalf("the run after the failures: %v\n%s", err, stderr)
	}
	return stderr
}

// referenceRun runs spec uninterrupted in base/ref and returns the
// directory and the final counters.
func referenceRun(t *testing.T, base, spec string) (string, string) {
	t.Helper()
	dir := filepath.Join(base, "ref")
	os.Mkdir(dir, 0o755)
	err, stderr, _ := faultRun(t, runtest.WriteFile(t, dir, "p.yaml", spec), "")
	if err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, stderr)
	}
	return dir, runtest.StatsLine(stderr)
}

// TestCheckpointFaults fails runs again and again between each pair of a
// checkpoint's steps (a file sink's fsync, the Pebble write, the DuckDB
// commit, the Kafka commit) and in a restart's roll back and redo, then
// lets a run finish: the state directory must restore every time, and the
// file sink, the dead letters, the DuckDB table, the read_committed topic
// and the counters must equal an uninterrupted run's. Two failures before
// the DuckDB commit of one checkpoint used to leave a store whose
// checkpoints the table matched neither.
func TestCheckpointFaults(t *testing.T) {
	tests := []struct {
		name string
		// every is checkpoint_every: with 1h a run's only checkpoint
		// after #1 is the last one, which holds rows in every sink
		every string
		fails []string // one failing run each, in order
		// files: the file sink and dead letters only (the Pebble write
		// runs in the background)
		files bool
		// pebble: the window state in a Pebble store (state.backend
		// pebble, a cache far smaller than the open windows) while the
		// uninterrupted run keeps it in memory
		pebble bool
	}{
		{"before the Pebble write", "20ms", []string{"sync", "sync", "sync"}, false, false},
		{"before the DuckDB commit", "20ms", []string{"save", "save", "save"}, false, false},
		{"before the DuckDB commit, last checkpoint", "1h", []string{"save", "save", "save"}, false, false},
		{"before the Kafka commit", "20ms", []string{"commit duckdb", "commit duckdb", "commit duckdb"}, false, false},
		{"before the Kafka commit, last checkpoint", "1h", []string{"commit duckdb", "commit duckdb"}, false, false},
		{"after the Kafka commit", "20ms", []string{"commit kafka", "commit kafka"}, false, false},
		{"after the roll back", "1h", []string{"save", "rollback", "save", "rollback", "save"}, false, false},
		// the redo leaves every sink at the end of the input: nothing to
		// redo after it
		{"after the redo", "1h", []string{"commit duckdb", "redo"}, false, false},
		{"mixed", "20ms", []string{"save", "commit duckdb", "save", "sync", "commit kafka", "save", "commit duckdb"}, false, false},
		// the fresh start's checkpoint #1: a failure before its write
		// starts afresh again, one after it restores it (#1 holds no
		// rows: nothing to redo)
		{"first checkpoint, before the DuckDB commit", "20ms", []string{"sync@1", "sync@1", "save@1", "save"}, false, false},
		{"first checkpoint, before the Kafka commit", "20ms", []string{"commit duckdb@1", "commit duckdb", "commit kafka"}, false, false},
		{"files only, before the Pebble write", "20ms", []string{"sync", "sync file", "sync"}, true, false},
		{"files only, after the Pebble write", "20ms", []string{"save", "save", "sync", "save"}, true, false},
		{"pebble backend", "20ms", []string{"sync", "save", "commit duckdb", "commit kafka", "save"}, false, true},
		{"pebble backend, after the roll back", "1h", []string{"save", "rollback", "commit duckdb", "redo"}, false, true},
	}
	topics := []string{"ref"}
	for i := range tests {
		topics = append(topics, fmt.Sprintf("res%d", i))
	}
	addr := runtest.Cluster(t, topics...)
	base := t.TempDir()
	in := filepath.Join(base, "bids.jsonl")
	runtest.GenBids(t, in, 40000)
	spec := func(topic, every string, files, pebble bool) string {
		s := strings.Replace(runtest.StateSpec("source: {file: "+in+"}"), "dlq:",
			"  - kafka: {brokers: ["+addr+"], topic: "+topic+"}\ndlq:", 1)
		if files {
			s = strings.Replace(s, "  - duckdb: {path: out.duckdb, table: bids, batch_rows: 300}\n  - kafka: {brokers: ["+addr+"], topic: "+topic+"}\n", "", 1)
		}
		if pebble {
			s = strings.Replace(s, "checkpoint_every: 20ms}", "checkpoint_every: 20ms, backend: pebble, memory_limit: 128MiB}", 1)
		}
		return strings.Replace(s, "checkpoint_every: 20ms", "checkpoint_every: "+every, 1)
	}
	// the heap limit the pebble backend sets would hold for the whole test
	t.Setenv("GOMEMLIMIT", "off")
	ref, wantStats := referenceRun(t, base, spec("ref", "20ms", false, false))
	wantTopic := runtest.SortedTopic(t, addr, "ref")
	if len(wantTopic) == 0 {
		t.Fatal("the uninterrupted run wrote no rows: the test proves nothing")
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			topic := fmt.Sprintf("res%d", i)
			dir := filepath.Join(base, topic)
			os.Mkdir(dir, 0o755)
			stderr := failingRuns(t, runtest.WriteFile(t, dir, "p.yaml", spec(topic, tt.every, tt.files, tt.pebble)), tt.fails...)
			if got := runtest.StatsLine(stderr); got != wantStats {
				t.Errorf("final counters %q, want %q", got, wantStats)
			}
			if tt.files {
				runtest.SameFiles(t, ref, dir)
				return
			}
			runtest.SameOutputs(t, ref, dir)
			if _, err := os.Stat(filepath.Join(dir, "st", "windows", "live")); tt.pebble && err != nil {
				t.Errorf("no window store: %v", err)
			}
			if got := runtest.SortedTopic(t, addr, topic); !slices.Equal(got, wantTopic) {
				t.Errorf("read_committed sees %d rows in %s, want the %d of the uninterrupted run", len(got), topic, len(wantTopic))
			}
		})
	}
}

// TestCrashBetweenCommits fails a run at the moments of a two-phase
// checkpoint where the sinks disagree: after the Pebble write and before
// any commit (the table and the topic hold the previous checkpoint), and
// after the DuckDB commit but before the Kafka one (the table holds the new
// checkpoint, the topic the previous one: the restart commits the topic's
// rows again from the checkpoint). The restarted run must end with the
// uninterrupted run's rows in every sink, over three partitions.
func TestCrashBetweenCommits(t *testing.T) {
	addr := runtest.Cluster(t, "bidsc", "refc", "resc1", "resc2", "resc3")
	runtest.ProducePartitioned(t, addr, "bidsc", 30_000)
	timeCfg := "{field: dateTime, max_out_of_order: 5s}"
	base := t.TempDir()
	ref, wantStats := referenceRun(t, base, runtest.PartSpec(addr, "bidsc", "refc", "", timeCfg))
	want := runtest.SortedFile(t, filepath.Join(ref, "out.jsonl"))
	wantTable := runtest.TableRows(t, filepath.Join(ref, "out.duckdb"), "bids")
	for i, fail := range []string{"save", "commit duckdb", "commit kafka"} {
		topic := fmt.Sprintf("resc%d", i+1)
		t.Run(fail, func(t *testing.T) {
			dir := filepath.Join(base, topic)
			os.Mkdir(dir, 0o755)
			stderr := failingRuns(t, runtest.WriteFile(t, dir, "p.yaml", runtest.PartSpec(addr, "bidsc", topic, "", timeCfg)), fail)
			if got := runtest.StatsLine(stderr); got != wantStats {
				t.Errorf("final counters %q, want %q\n%s", got, wantStats, stderr)
			}
			runtest.SameRows(t, addr, dir, topic, want, wantTable)
		})
	}
}

// TestGroupLateFaults fails runs over three partitions read with a
// consumer group, with late records and revisions (so rows depend on the
// read order), after each commit step in turn, with the group's offsets
// committed in the Kafka sink's transactions: the outputs must agree with
// each other and with the counters, and the group must end at the input's
// end offsets (runtest.CheckGroupRun).
func TestGroupLateFaults(t *testing.T) {
	addr := runtest.Cluster(t, "bidsg", "refg", "resg1", "resg2", "resg3")
	runtest.ProducePartitioned(t, addr, "bidsg", 30_000)
	timeCfg := "{field: dateTime, max_out_of_order: 500ms, allowed_lateness: 2s}"
	base := t.TempDir()
	_, refStats := referenceRun(t, base, runtest.PartSpec(addr, "bidsg", "refg", "", timeCfg))
	if ref := runtest.ParseStats(t, refStats); ref.Late == 0 || ref.Dead == 0 {
		t.Fatalf("the reference run exercises too little: %s", refStats)
	}
	for i, fails := range [][]string{{"save", "save"}, {"commit duckdb", "commit kafka"}, {"sync", "save", "commit kafka", "save"}} {
		topic := fmt.Sprintf("resg%d", i+1)
		t.Run(strings.Join(fails, ","), func(t *testing.T) {
			group := "g-" + topic
			dir := filepath.Join(base, topic)
			os.Mkdir(dir, 0o755)
			stderr := failingRuns(t, runtest.WriteFile(t, dir, "p.yaml", runtest.PartSpec(addr, "bidsg", topic, group, timeCfg)), fails...)
			runtest.CheckGroupRun(t, addr, "bidsg", group, dir, topic, refStats, runtest.StatsLine(stderr))
		})
	}
}

// TestOnePartitionFaults fails runs over a one-partition topic, where the
// order of records and so of rows is the same in every run, after each
// commit step: the read_committed contents of the Kafka sink must be the
// uninterrupted run's rows in order, and the other outputs the same.
func TestOnePartitionFaults(t *testing.T) {
	addr := runtest.ClusterPartitions(t, 1, "bids1", "ref1", "res1", "res2", "res3")
	var recs []*kgo.Record
	for _, l := range bytes.Split(bytes.TrimSpace(runtest.GenBids(t, "", 30_000)), []byte("\n")) {
		recs = append(recs, &kgo.Record{Topic: "bids1", Value: l})
	}
	runtest.Produce(t, addr, recs...)
	spec := func(results string) string {
		return strings.Replace(runtest.StateSpec("source: {kafka: {brokers: ["+addr+"], topic: bids1, stop: caught-up}}"),
			"dlq:", "  - kafka: {topic: "+results+"}\ndlq:", 1)
	}
	committed := func(topic string) string {
		var b strings.Builder
		for _, l := range runtest.TopicRecords(t, addr, topic) {
			b.Write(l.Value)
			b.WriteByte('\n')
		}
		return b.String()
	}
	base := t.TempDir()
	ref, wantStats := referenceRun(t, base, spec("ref1"))
	want, _ := os.ReadFile(filepath.Join(ref, "out.jsonl"))
	if got := committed("ref1"); got != string(want) || len(want) == 0 {
		t.Fatalf("the reference run's Kafka sink holds %d rows, its file %d", strings.Count(got, "\n"), bytes.Count(want, []byte("\n")))
	}
	for i, fails := range [][]string{{"save", "save"}, {"commit duckdb", "commit kafka"}, {"sync", "commit duckdb", "save"}} {
		topic := fmt.Sprintf("res%d", i+1)
		t.Run(strings.Join(fails, ","), func(t *testing.T) {
			dir := filepath.Join(base, topic)
			os.Mkdir(dir, 0o755)
			stderr := failingRuns(t, runtest.WriteFile(t, dir, "p.yaml", spec(topic)), fails...)
			if got := runtest.StatsLine(stderr); got != wantStats {
				t.Errorf("final counters %q, want %q", got, wantStats)
			}
			runtest.SameOutputs(t, ref, dir)
			if got := committed(topic); got != string(want) {
				t.Errorf("read_committed sees %d rows in %s, want the %d of the uninterrupted run, in order",
					strings.Count(got, "\n"), topic, bytes.Count(want, []byte("\n")))
			}
		})
	}
}
