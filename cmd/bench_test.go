package cmd

import (
	"strconv"
	"strings"
	"testing"
)

// TestBenchNexmark runs eddy bench nexmark small: one line per query
// asked for, with its rows and rates, and usage errors exit 2.
func TestBenchNexmark(t *testing.T) {
	code, out, stderr := runCLI(t, "", "bench", "nexmark", "--events", "20000", "--query", "q5,q11", "--rate", "1000")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], "20000 events") || !strings.Contains(lines[1], "events/cpu-s") {
		t.Fatalf("output:\n%s", out)
	}
	for i, q := range []string{"q5", "q11"} {
		f := strings.Fields(lines[2+i])
		if len(f) != 9 || f[0] != q || f[1] != "20000" {
			t.Fatalf("line for %s: %q", q, lines[2+i])
		}
		if rows, err := strconv.Atoi(f[2]); err != nil || rows == 0 {
			t.Errorf("%s: rows %q", q, f[2])
		}
	}
	for _, args := range [][]string{
		{"bench", "nexmark", "--query", "q10"},
		{"bench", "nexmark", "--events", "0"},
		{"bench", "nexmark", "--skew", "zipf"},
	} {
		if code, _, stderr := runCLI(t, "", args...); code != 2 {
			t.Errorf("%v: exit %d (%s), want 2", args, code, stderr)
		}
	}
	if _, _, stderr := runCLI(t, "", "bench", "nexmark", "--query", "q10"); !strings.Contains(stderr, "not expressible") {
		t.Errorf("q10: %s", stderr)
	}
}
