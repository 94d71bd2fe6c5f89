package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eddyhq/eddy/fixtures"
	"github.com/eddyhq/eddy/internal/runtest"
)

// followSpec writes a pipeline that follows topic bids on addr forever,
// with state, and n bids on the topic; it returns the spec and the output.
func followSpec(t *testing.T, n int) (spec, out, stateDir string) {
	t.Helper()
	addr := runtest.Cluster(t, "bids")
	produceLines(t, addr, "bids", genLines(t, "nexmark", fixtures.Options{Count: n, Seed: 5, Only: "bids"}))
	dir := t.TempDir()
	spec = runtest.WriteFile(t, dir, "p.yaml", fmt.Sprintf(`source: {kafka: {brokers: [%s], topic: bids}}
stages:
  - project: {auction: auction, price: price}
sinks: [{file: out.jsonl}]
state: {dir: st, checkpoint_every: 50ms}
`, addr))
	return spec, filepath.Join(dir, "out.jsonl"), filepath.Join(dir, "st")
}

func lineCount(path string) int {
	b, _ := os.ReadFile(path)
	return strings.Count(string(b), "\n")
}

// checkInterrupted checks what an interrupted run said and left: its exit
// code, the message, the final counters, and a final checkpoint that holds
// every record read.
func checkInterrupted(t *testing.T, code, wantCode int, stderr, sig, stateDir string, n int) {
	t.Helper()
	if code != wantCode {
		t.Errorf("exit %d, want %d; stderr:\n%s", code, wantCode, stderr)
	}
	for _, w := range []string{"interrupted by " + sig, "final checkpoint", fmt.Sprintf("eddy: in=%d ", n)} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr)
		}
	}
	if strings.Contains(stderr, "context canceled") {
		t.Errorf("stderr says context canceled:\n%s", stderr)
	}
	c, js, errs := runCLI(t, "", "state", "inspect", "--json", stateDir)
	if c != 0 {
		t.Fatalf("state inspect: exit %d %s", c, errs)
	}
	var in inspection
	if err := json.Unmarshal([]byte(js), &in); err != nil {
		t.Fatal(err)
	}
	if in.Stats.In != int64(n) {
		t.Errorf("the last checkpoint holds in=%d, want %d (the final one)", in.Stats.In, n)
	}
}

// A run stopped by SIGINT or SIGTERM writes its final checkpoint, prints
// its counters and exits 128+signal saying it was interrupted.
func TestRunInterrupted(t *testing.T) {
	const n = 300
	for _, tt := range []struct {
		sig  syscall.Signal
		name string
		code int
	}{{syscall.SIGINT, "SIGINT", 130}, {syscall.SIGTERM, "SIGTERM", 143}} {
		t.Run(tt.name, func(t *testing.T) {
			spec, out, st := followSpec(t, n)
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			var stdout, stderr syncBuffer
			done := make(chan int)
			go func() { done <- run(ctx, []string{"run", spec}, strings.NewReader(""), &stdout, &stderr) }()
			waitFor(t, "every row", func() bool { return lineCount(out) == n })
			cancel(interrupted{tt.sig})
			var code int
			select {
			case code = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("run did not stop after the signal")
			}
			checkInterrupted(t, code, tt.code, stderr.String(), tt.name, st, n)
		})
	}
}
