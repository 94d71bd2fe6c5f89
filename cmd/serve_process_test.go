//go:build process || integration

package cmd

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eddyhq/eddy/fixtures"
	"github.com/eddyhq/eddy/internal/runtest"
)

// TestServeSIGTERMBinary: the eddy binary serving a followed topic with
// state answers lookups once ready, stops on a real SIGTERM after its
// final checkpoint with exit 0, and a restart loads the table it saved
// beside the checkpoints, resumes from the checkpoint and serves every
// key: the saved windows and those that close after it.
//
//	go test -tags process -count=1 ./cmd -run ServeSIGTERMBinary
func TestServeSIGTERMBinary(t *testing.T) {
	bin := buildEddy(t)
	addr := runtest.Cluster(t, "clicks")
	lines := genLines(t, "clickstream", fixtures.Options{Count: 6000, Seed: 4})
	produceLines(t, addr, "clicks", lines[:3000])
	dir := t.TempDir()
	in := runtest.WriteFile(t, dir, "clicks.jsonl", strings.Join(lines, "\n")+"\n")
	spec := runtest.WriteFile(t, dir, "p.yaml", servedSpec(fmt.Sprintf("{kafka: {brokers: [%s], topic: clicks}}", addr)))
	ref := filepath.Join(dir, "ref.jsonl")
	runToEnd(t, bin, "run", spec, "--input", in, "--out", ref, "--reset-state")

	start := func(args ...string) (*exec.Cmd, *serving) {
		t.Helper()
		c := exec.Command(bin, append([]string{"serve", spec, "--listen", "127.0.0.1:0"}, args...)...)
		s := &serving{t: t, stderr: &syncBuffer{}}
		c.Stderr = s.stderr
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Process.Kill() })
		s.waitAddr()
		s.waitReady()
		return c, s
	}
	stop := func(c *exec.Cmd, s *serving) {
		t.Helper()
		if err := c.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- c.Wait() }()
		select {
		case err := <-done:
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Errorf("exit %d after SIGTERM, want 0; stderr:\n%s", ee.ExitCode(), s.stderr)
			} else if err != nil {
				t.Fatal(err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("eddy serve did not stop after SIGTERM:\n%s", s.stderr)
		}
		if !strings.Contains(s.stderr.String(), "final checkpoint") {
			t.Errorf("stderr does not mention the final checkpoint:\n%s", s.stderr)
		}
	}
	c, s := start("--reset-state")
	first := s.settled(ref, "", "")
	stop(c, s)

	produceLines(t, addr, "clicks", lines[3000:])
	c, s = start()
	if !strings.Contains(s.stderr.String(), "features loaded from") {
		t.Errorf("the restart did not load the saved table:\n%s", s.stderr)
	}
	// the saved table, then the windows closing after the checkpoint
	s.settled(ref, first, "")
	stop(c, s)
}
