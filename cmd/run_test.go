package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/eddyhq/eddy/examples"
	"github.com/eddyhq/eddy/internal/runtest"
)

// runCLI runs eddy in process and returns its exit code, stdout and stderr.
func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestRunExitCodes(t *testing.T) {
	dir := t.TempDir()
	good := runtest.WriteFile(t, dir, "good.yaml", "time: {field: ts}\nstages:\n  - window: {tumbling: 10s, aggregate: {n: count()}}\n")
	in := runtest.WriteFile(t, dir, "in.jsonl", "{\"ts\":1}\n{\"ts\":2}\nnot json\n{\"ts\":20000}\n")
	bad := runtest.WriteFile(t, dir, "bad.yaml", "stages:\n  - window:\n      hopping: {size: 10s, slide: 20s}\n      aggregate: {n: count()}\n")
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"completes with dead letters", []string{"run", good, "--input", in, "--out", filepath.Join(dir, "o.jsonl"), "--dlq", filepath.Join(dir, "d.jsonl")},
			0, "eddy: in=4 passed=3 filtered=0 dead=1 late=0 rows=2"},
		{"bad spec names file, line and field", []string{"run", bad, "--input", in}, 2,
			bad + ":3: stages[0].window.hopping.slide: must not exceed size (10s)"},
		{"missing spec file is a usage error", []string{"run", filepath.Join(dir, "nope.yaml")}, 2, "read pipeline"},
		{"no input", []string{"run", good}, 2, "no input: set source.file, source.kafka or source.kinesis in the spec or pass --input"},
		{"unknown flag", []string{"run", good, "--nope"}, 2, "unknown flag: --nope"},
		{"missing argument", []string{"run"}, 2, "accepts 1 arg(s), received 0"},
		{"unreadable input is a runtime failure", []string{"run", good, "--input", filepath.Join(dir, "missing.jsonl")}, 1, "open input"},
		{"unwritable sink is a runtime failure", []string{"run", good, "--input", in, "--out", filepath.Join(dir, "no/such/dir/o.jsonl")}, 1, "open sink"},
		{"unknown command", []string{"frobnicate"}, 2, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, "", tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d (stderr: %s)", code, tt.wantCode, stderr)
			}
			if !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tt.wantStderr)
			}
		})
	}
}

func TestRunStdinStdoutAndStats(t *testing.T) {
	dir := t.TempDir()
	spec := runtest.WriteFile(t, dir, "p.yaml", "stages:\n  - filter: n > 1\n")
	stats := filepath.Join(dir, "stats.json")
	code, stdout, stderr := runCLI(t, "{\"n\":1}\n{\"n\":2}\n\n{\"n\":3}\n", "run", spec, "--input", "-", "--out", "-", "--stats", stats)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if stdout != "{\"n\":2}\n{\"n\":3}\n" {
		t.Errorf("stdout = %q", stdout)
	}
	b, err := os.ReadFile(stats)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]int
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"in": 3, "passed": 2, "filtered": 1, "dead": 0, "late": 0, "rows": 2}
	for k, v := range want {
		if st[k] != v {
			t.Errorf("stats[%s] = %d, want %d (%s)", k, st[k], v, b)
		}
	}
}

func TestSpecRelativePaths(t *testing.T) {
	dir := t.TempDir()
	runtest.WriteFile(t, dir, "in.jsonl", "{\"a\":1}\n")
	spec := runtest.WriteFile(t, dir, "p.yaml", "source: {file: in.jsonl}\nsinks: [{file: out.jsonl}]\n")
	if code, _, stderr := runCLI(t, "", "run", spec); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(filepath.Join(dir, "out.jsonl"))
	if err != nil || string(b) != "{\"a\":1}\n" {
		t.Fatalf("out.jsonl = %q, %v", b, err)
	}
}

func TestVersionAndHelp(t *testing.T) {
	code, out, _ := runCLI(t, "", "version")
	if code != 0 || !strings.HasPrefix(out, "eddy ") {
		t.Errorf("version: %d %q", code, out)
	}
	if _, flag, _ := runCLI(t, "", "--version"); flag != out {
		t.Errorf("--version printed %q, version %q", flag, out)
	}
	// a release build stamps version, commit and date
	defer func(v, c, d string) { Version, Commit, Date = v, c, d }(Version, Commit, Date)
	Version, Commit, Date = "1.4.0", "0123456789abcdef", "2026-12-03T00:00:00Z"
	code, out, _ = runCLI(t, "", "--version")
	if want := "eddy 1.4.0 (commit 0123456789ab, built 2026-12-03T00:00:00Z), go"; code != 0 || !strings.HasPrefix(out, want) {
		t.Errorf("stamped --version: %d %q, want prefix %q", code, out, want)
	}
	code, out, _ = runCLI(t, "", "--help")
	if code != 0 || !strings.Contains(out, "eddy demo") {
		t.Errorf("help: %d %q", code, out)
	}
	code, out, _ = runCLI(t, "", "completion", "bash")
	if code != 0 || !strings.Contains(out, "bash completion") {
		t.Errorf("completion: %d %.80q", code, out)
	}
}

func TestDemo(t *testing.T) {
	code, out, stderr := runCLI(t, "", "demo", "--listen", "127.0.0.1:0", "--duration", "4s", "--window", "1s", "--rate", "3000")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"Kafka-protocol cluster on 127.0.0.1:", "country  window_start", "eddy: in="} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	rows := 0
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) == 7 && len(f[0]) == 2 {
			rows++
		}
	}
	if rows == 0 {
		t.Errorf("no window rows in:\n%s", out)
	}
}

func TestDemoHeadless(t *testing.T) {
	code, out, stderr := runCLI(t, "", "demo", "--headless", "--listen", "127.0.0.1:0", "--duration", "1s")
	if code != 0 || !strings.Contains(out, "running headless") || !strings.Contains(out, "produced") {
		t.Fatalf("exit %d: %s %s", code, out, stderr)
	}
}

// demo --listen honours its host: a loopback address other than 127.0.0.1
// is used as given, and an address others can reach is used with a warning.
func TestDemoListenHost(t *testing.T) {
	tests := []struct {
		host string
		warn bool
	}{
		{host: "127.0.0.2"},
		{host: "0.0.0.0", warn: true},
	}
	if ip := nonLoopbackIPv4(); ip != "" {
		tests = append(tests, struct {
			host string
			warn bool
		}{ip, true})
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			code, out, stderr := runCLI(t, "", "demo", "--headless", "--listen", tt.host+":0", "--rate", "0", "--duration", "200ms")
			if code != 0 {
				t.Fatalf("exit %d: %s %s", code, out, stderr)
			}
			if want := "Kafka-protocol cluster on " + tt.host + ":"; tt.host != "0.0.0.0" && !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
			if got := strings.Contains(stderr, "not a loopback address"); got != tt.warn {
				t.Errorf("warning on stderr = %v, want %v:\n%s", got, tt.warn, stderr)
			}
		})
	}
}

func nonLoopbackIPv4() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			return n.IP.String()
		}
	}
	return ""
}

// TestHelpNamesExistingExamples: every examples/*.yaml a command's help
// or examples name is one of the embedded examples.
func TestHelpNamesExistingExamples(t *testing.T) {
	re := regexp.MustCompile(`examples/[A-Za-z0-9_.-]+\.yaml`)
	var walk func(c *cobra.Command)
	seen := 0
	walk = func(c *cobra.Command) {
		for _, name := range re.FindAllString(c.Long+"\n"+c.Example+"\n"+c.Short, -1) {
			seen++
			if _, err := fs.Stat(examples.FS, strings.TrimPrefix(name, "examples/")); err != nil {
				t.Errorf("eddy %s names %s, which is not an example", c.CommandPath(), name)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(NewRoot())
	if seen == 0 {
		t.Fatal("no command names an example; the test checks nothing")
	}
}
