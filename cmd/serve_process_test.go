//go:build process || integration

package cmd

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eddyhq/eddy/fixtures"
	"github.com/eddyhq/eddy/internal/runtest"
)

// TestServeSIGTERMBinary: the eddy binary serving a followed topic with
// state answers lookups once ready, stops on a real SIGTERM after its
// final checkpoint with exit 0, and a restart restores the table with
// the checkpoint and serves every key: the restored windows and those
// that close after it.
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

	start := func(args ...string) (*exec.Cmd, *serving) { return startServeBinary(t, bin, spec, args...) }
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
	if !strings.Contains(s.stderr.String(), "features restored with the checkpoint") {
		t.Errorf("the restart did not restore the table:\n%s", s.stderr)
	}
	// the restored table, then the windows closing after the checkpoint
	s.settled(ref, first, "")
	stop(c, s)
}

// startServeBinary starts the eddy binary serving spec on a free loopback
// port and waits until it is ready.
func startServeBinary(t *testing.T, bin, spec string, args ...string) (*exec.Cmd, *serving) {
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

var (
	servedIn          = regexp.MustCompile(`(?m)^eddy_records_in_total\{pipeline="per-country"\} (\d+)$`)
	servedCheckpoints = regexp.MustCompile(`(?m)^eddy_checkpoints_total\{pipeline="per-country"\} (\d+)$`)
)

// counter is a counter of the run's /metrics (-1 when it has none).
func (s *serving) counter(re *regexp.Regexp) int64 {
	s.t.Helper()
	_, body := s.get("/metrics")
	m := re.FindStringSubmatch(body)
	if m == nil {
		return -1
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

// TestServeKilledBinary: the eddy binary serving a followed topic with
// state is killed with SIGKILL again and again while it takes in new
// records, and restarted each time; at the end every key answers with
// exactly what the uninterrupted run's rows say (the feature table is
// restored with the checkpoint the engine is, so no window that closed
// before the kill is missing and none is answered twice).
//
//	go test -tags process -count=1 ./cmd -run ServeKilledBinary
func TestServeKilledBinary(t *testing.T) {
	bin := buildEddy(t)
	addr := runtest.Cluster(t, "clicks")
	lines := genLines(t, "clickstream", fixtures.Options{Count: 14000, Seed: 7})
	dir := t.TempDir()
	in := runtest.WriteFile(t, dir, "clicks.jsonl", strings.Join(lines, "\n")+"\n")
	spec := runtest.WriteFile(t, dir, "p.yaml", servedSpec(fmt.Sprintf("{kafka: {brokers: [%s], topic: clicks}}", addr)))
	ref := filepath.Join(dir, "ref.jsonl")
	runToEnd(t, bin, "run", spec, "--input", in, "--out", ref, "--reset-state")

	produceLines(t, addr, "clicks", lines[:2000])
	c, s := startServeBinary(t, bin, spec, "--reset-state")
	kills := 0
	for at := 2000; at < len(lines); at += 2000 {
		before := s.counter(servedIn)
		produceLines(t, addr, "clicks", lines[at:at+2000])
		// kill it once it is taking in the new records, whatever it has
		// checkpointed or answered by then; every other time after two
		// more checkpoints (the first one written), so that the restored
		// checkpoint holds windows of the new records
		waitFor(t, "records of the new batch taken in", func() bool { return s.counter(servedIn) > before })
		if kills%2 == 1 {
			ck := s.counter(servedCheckpoints)
			waitFor(t, "two more checkpoints", func() bool { return s.counter(servedCheckpoints) >= ck+2 })
		}
		if err := c.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = c.Wait()
		kills++
		c, s = startServeBinary(t, bin, spec)
		if kills > 1 && !strings.Contains(s.stderr.String(), "features restored with the checkpoint") {
			t.Errorf("restart %d did not restore the table:\n%s", kills, s.stderr)
		}
	}
	waitFor(t, "every record taken in", func() bool { return s.counter(servedIn) == int64(len(lines)) })
	s.settled(ref, "", "")
	if err := c.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = c.Wait()
}
