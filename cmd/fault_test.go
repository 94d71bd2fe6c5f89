package cmd

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// faultRun runs `eddy run spec` in process with a fault point that fails
// the first checkpoint step starting with fail (after the fresh start's
// checkpoint #1; any roll back or redo; "STEP@N": at checkpoint #N only),
// or none when fail is empty. It returns the exit code, stderr and whether
// the fault fired.
func faultRun(t *testing.T, spec, fail string) (int, string, bool) {
	t.Helper()
	fired := false
	fail, at, _ := strings.Cut(fail, "@")
	ctx := withFault(context.Background(), func(step string, seq int64) error {
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
	})
	var out, errb bytes.Buffer
	code := run(ctx, []string{"run", spec}, strings.NewReader(""), &out, &errb)
	return code, errb.String(), fired
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
	clearKafkaEnv(t)
	tests := []struct {
		name string
		// every is checkpoint_every: with 1h a run's only checkpoint
		// after #1 is the last one, which holds rows in every sink
		every string
		fails []string // one failing run each, in order
		// files: the file sink and dead letters only (the Pebble write
		// runs in the background)
		files bool
	}{
		{"before the Pebble write", "20ms", []string{"sync", "sync", "sync"}, false},
		{"before the DuckDB commit", "20ms", []string{"save", "save", "save"}, false},
		{"before the DuckDB commit, last checkpoint", "1h", []string{"save", "save", "save"}, false},
		{"before the Kafka commit", "20ms", []string{"commit duckdb", "commit duckdb", "commit duckdb"}, false},
		{"before the Kafka commit, last checkpoint", "1h", []string{"commit duckdb", "commit duckdb"}, false},
		{"after the Kafka commit", "20ms", []string{"commit kafka", "commit kafka"}, false},
		{"after the roll back", "1h", []string{"save", "rollback", "save", "rollback", "save"}, false},
		// the redo leaves every sink at the end of the input: nothing to
		// redo after it
		{"after the redo", "1h", []string{"commit duckdb", "redo"}, false},
		{"mixed", "20ms", []string{"save", "commit duckdb", "save", "sync", "commit kafka", "save", "commit duckdb"}, false},
		// the fresh start's checkpoint #1: a failure before its write
		// starts afresh again, one after it restores it (#1 holds no
		// rows: nothing to redo)
		{"first checkpoint, before the DuckDB commit", "20ms", []string{"sync@1", "sync@1", "save@1", "save"}, false},
		{"first checkpoint, before the Kafka commit", "20ms", []string{"commit duckdb@1", "commit duckdb", "commit kafka"}, false},
		{"files only, before the Pebble write", "20ms", []string{"sync", "sync file", "sync"}, true},
		{"files only, after the Pebble write", "20ms", []string{"save", "save", "sync", "save"}, true},
	}
	topics := []string{"ref"}
	for i := range tests {
		topics = append(topics, fmt.Sprintf("res%d", i))
	}
	addr := newCluster(t, topics...)
	base := t.TempDir()
	in := filepath.Join(base, "bids.jsonl")
	genBids(t, in, 40000)
	spec := func(dir, topic, every string, files bool) string {
		os.Mkdir(dir, 0o755)
		s := strings.Replace(stateSpec("source: {file: "+in+"}"), "dlq:",
			"  - kafka: {brokers: ["+addr+"], topic: "+topic+"}\ndlq:", 1)
		if files {
			s = strings.Replace(s, "  - duckdb: {path: out.duckdb, table: bids, batch_rows: 300}\n  - kafka: {brokers: ["+addr+"], topic: "+topic+"}\n", "", 1)
		}
		s = strings.Replace(s, "checkpoint_every: 20ms", "checkpoint_every: "+every, 1)
		return writeFile(t, dir, "p.yaml", s)
	}
	ref := filepath.Join(base, "ref")
	code, stderr, _ := faultRun(t, spec(ref, "ref", "20ms", false), "")
	if code != 0 {
		t.Fatalf("uninterrupted run: exit %d\n%s", code, stderr)
	}
	wantStats, wantTopic := statsLine(stderr), sortedTopic(t, addr, "ref")
	if len(wantTopic) == 0 {
		t.Fatal("the uninterrupted run wrote no rows: the test proves nothing")
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			topic := fmt.Sprintf("res%d", i)
			dir := filepath.Join(base, topic)
			p := spec(dir, topic, tt.every, tt.files)
			for _, fail := range tt.fails {
				code, stderr, fired := faultRun(t, p, fail)
				if step, _, _ := strings.Cut(fail, "@"); !fired || code != 1 || !strings.Contains(stderr, "injected fault after "+step) {
					t.Fatalf("the run failing after %q: fired %v, exit %d\n%s", fail, fired, code, stderr)
				}
			}
			code, stderr, _ := faultRun(t, p, "")
			if code != 0 {
				t.Fatalf("the run after the failures: exit %d\n%s", code, stderr)
			}
			if got := statsLine(stderr); got != wantStats {
				t.Errorf("final counters %q, want %q", got, wantStats)
			}
			if tt.files {
				sameFiles(t, ref, dir)
				return
			}
			sameOutputs(t, ref, dir)
			if got := sortedTopic(t, addr, topic); !slices.Equal(got, wantTopic) {
				t.Errorf("read_committed sees %d rows in %s, want the %d of the uninterrupted run", len(got), topic, len(wantTopic))
			}
		})
	}
}

// TestInspectLiveState inspects a state directory while a run holds it
// (paused at a checkpoint by the fault point) and requires the checkpoint
// just written.
func TestInspectLiveState(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "bids.jsonl")
	genBids(t, in, 2000)
	p := writeFile(t, dir, "p.yaml", strings.Replace(stateSpec("source: {file: "+in+"}"), "checkpoint_every: 20ms", "checkpoint_every: 1h", 1))
	type inspected struct {
		code           int
		stdout, stderr string
	}
	got := make(chan inspected, 1)
	ctx := withFault(context.Background(), func(step string, seq int64) error {
		if step == "commit duckdb "+filepath.Join(dir, "out.duckdb")+" table bids" && seq == 2 {
			code, stdout, stderr := runCLI(t, "", "state", "inspect", filepath.Join(dir, "st"))
			got <- inspected{code, stdout, stderr}
		}
		return nil
	})
	var out, errb bytes.Buffer
	if code := run(ctx, []string{"run", p}, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, errb.String())
	}
	var r inspected
	select {
	case r = <-got:
	default:
		t.Fatal("the run never reached the DuckDB commit of checkpoint #2: nothing inspected")
	}
	if r.code != 0 || !strings.Contains(r.stdout, "last checkpoint:  #2 ") {
		t.Errorf("inspect beside the run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestRunFullDiskReport runs onto /dev/full, where every write fails with
// ENOSPC: the run must fail naming the sink, print its counters, and say
// how many rows or dead letters did not reach the destination, also for
// dead letters that were only buffered when the run ended.
func TestRunFullDiskReport(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	dir := t.TempDir()
	spec := writeFile(t, dir, "p.yaml", "time: {field: ts}\nstages:\n  - window: {tumbling: 1s, aggregate: {n: count()}}\n")
	var in strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&in, "{\"ts\":%d}\n", i*1000)
	}
	in.WriteString("not json\nnot json either\n")
	input := writeFile(t, dir, "in.jsonl", in.String())
	tests := []struct {
		name, out, dlq string
		want           []string
	}{
		// the run stops at the first failed write: the rows it produced
		// by then, none on disk
		{"rows", "/dev/full", filepath.Join(dir, "dead.jsonl"),
			[]string{`write /dev/full: .*no space left on device`, `eddy: in=\d+ .* rows=(\d+)\neddy: file /dev/full: 0 of (\d+) rows written, \d+ not`}},
		// dead letters still buffered at the end
		{"dead letters", filepath.Join(dir, "out.jsonl"), "/dev/full",
			[]string{`/dev/full: .*no space left on device`, `eddy: in=20002 .*\neddy: dlq file /dev/full: 0 of 2 dead letters written, 2 not`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, "", "run", spec, "--input", input, "--out", tt.out, "--dlq", tt.dlq)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			for _, w := range tt.want {
				m := regexp.MustCompile(w).FindStringSubmatch(stderr)
				if m == nil || len(m) == 3 && m[1] != m[2] {
					t.Errorf("stderr does not say %q:\n%s", w, stderr)
				}
			}
		})
	}
}
