package cmd

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/internal/runtest"
	"github.com/eddyhq/eddy/job"
	"github.com/eddyhq/eddy/pipeline"
)

// TestInspectLiveState inspects a state directory while a run holds it
// (paused at a checkpoint by job.Options.AfterStep) and requires the checkpoint
// just written.
func TestInspectLiveState(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "bids.jsonl")
	runtest.GenBids(t, in, 2000)
	p := runtest.WriteFile(t, dir, "p.yaml", strings.Replace(runtest.StateSpec("source: {file: "+in+"}"), "checkpoint_every: 20ms", "checkpoint_every: 1h", 1))
	type inspected struct {
		code           int
		stdout, stderr string
	}
	got := make(chan inspected, 1)
	pl, err := pipeline.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	j, err := job.Open(context.Background(), pl, job.Options{Stderr: &errb, AfterStep: func(step string, seq int64) error {
		if step == "commit duckdb "+filepath.Join(dir, "out.duckdb")+" table bids" && seq == 2 {
			code, stdout, stderr := runCLI(t, "", "state", "inspect", filepath.Join(dir, "st"))
			got <- inspected{code, stdout, stderr}
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if _, err := j.Run(context.Background()); err != nil {
		t.Fatalf("run: %v\n%s", err, errb.String())
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
	spec := runtest.WriteFile(t, dir, "p.yaml", "time: {field: ts}\nstages:\n  - window: {tumbling: 1s, aggregate: {n: count()}}\n")
	var in strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&in, "{\"ts\":%d}\n", i*1000)
	}
	in.WriteString("not json\nnot json either\n")
	input := runtest.WriteFile(t, dir, "in.jsonl", in.String())
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
