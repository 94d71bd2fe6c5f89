package cmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/eddyhq/eddy/fixtures"
	"github.com/eddyhq/eddy/internal/runtest"
)

// largeKeysSpec is a session window per transaction id, one hour of gap:
// every record opens a window of its own and none closes before the end.
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
	if pebRSS > limit {
		t.Errorf("backend pebble peaked at %d MiB of resident memory, over memory_limit %d MiB", pebRSS>>20, limit>>20)
	}
	a, _ := os.ReadFile(filepath.Join(mem, "out.jsonl"))
	b, _ := os.ReadFile(filepath.Join(pebble, "out.jsonl"))
	if !bytes.Equal(a, b) {
		t.Errorf("the rows differ: %d lines in memory, %d with pebble", bytes.Count(a, []byte("\n")), bytes.Count(b, []byte("\n")))
	}
}
