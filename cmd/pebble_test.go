package cmd

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/eddyhq/eddy/fixtures"
)

// largeKeysSpec is a session window per transaction id, one hour of gap:
// every record opens a window of its own and none closes before the end.
func largeKeysSpec(input, state string) string {
	return "name: many-keys\nsource: {file: " + input + "}\ntime: {field: ts}\nstages:\n" +
		"  - window: {session: {gap: 1h}, key: [txn_id], aggregate: {n: count(), amount: sum(amount)}}\n" +
		"sinks: [{file: out.jsonl}]\n" + state
}

// peakRSS runs the binary to its end and returns its peak resident memory
// in bytes (getrusage's ru_maxrss) and its stderr.
func peakRSS(t *testing.T, bin, dir string, args ...string) (int64, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("eddy %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		t.Skip("no rusage on this system")
	}
	return ru.Maxrss << 10, stderr.String() // KiB on Linux
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
	input := filepath.Join(dir, "payments.jsonl")
	f, err := os.Create(input)
	if err != nil {
		t.Fatal(err)
	}
	if err := fixtures.Generate(f, "payments", fixtures.Options{Count: n, Seed: 5, Rate: 100_000}); err != nil {
		t.Fatal(err)
	}
	f.Close()

	mem, pebble := filepath.Join(dir, "memory"), filepath.Join(dir, "pebble")
	os.Mkdir(mem, 0o755)
	os.Mkdir(pebble, 0o755)
	writeFile(t, mem, "p.yaml", largeKeysSpec(input, ""))
	writeFile(t, pebble, "p.yaml", largeKeysSpec(input, fmt.Sprintf("state: {dir: st, backend: pebble, memory_limit: %dMiB}\n", limit>>20)))

	memRSS, memErr := peakRSS(t, bin, mem, "run", "p.yaml")
	pebRSS, pebErr := peakRSS(t, bin, pebble, "run", "p.yaml")
	t.Logf("%d keys: peak RSS %d MiB in memory, %d MiB with backend pebble and memory_limit %d MiB", n, memRSS>>20, pebRSS>>20, limit>>20)
	want := fmt.Sprintf("eddy: in=%d passed=%d filtered=0 dead=0 late=0 rows=%d", n, n, n)
	for _, s := range []string{memErr, pebErr} {
		if got := statsLine(s); got != want {
			t.Errorf("counters %q, want %q", got, want)
		}
	}
	if memRSS <= limit {
		t.Fatalf("the windows in memory took only %d MiB: the key space does not exceed the limit, so the test proves nothing", memRSS>>20)
	}
	if pebRSS > limit {
		t.Errorf("backend pebble peaked at %d MiB of resident memory, over memory_limit %d MiB", pebRSS>>20, limit>>20)
	}
	a, _ := os.ReadFile(filepath.Join(mem, "out.jsonl"))
	b, _ := os.ReadFile(filepath.Join(pebble, "out.jsonl"))
	if !bytes.Equal(a, b) {
		t.Errorf("the rows differ: %d lines in memory, %d with pebble", bytes.Count(a, []byte("\n")), bytes.Count(b, []byte("\n")))
	}
}
