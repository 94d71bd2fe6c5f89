//go:build integration

package cmd

// Integration tests against a real Apache Kafka broker run by
// scripts/kafka.sh. They are built only with -tags integration and skip
// unless EDDY_TEST_BROKERS is set:
//
//	export $(scripts/kafka.sh up)
//	go test -tags integration -count=1 -run Integration ./cmd/ -v
//
// kcat (Debian's, librdkafka 2.0.2) produces fixtures and reads what eddy
// wrote, on the PLAINTEXT listener only: its SCRAM client is too old for
// Kafka 4. TestIntegrationFaults kills the broker (scripts/kafka.sh kill9)
// and restarts it, so nothing else should use the broker while it runs.
// Every test uses topics and groups of its own (suffixed with the time), so
// runs against the same broker do not see each other's data.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/fixtures"
	"github.com/eddyhq/eddy/internal/runtest"
)

// itWindow is the pipeline every test runs: bids per auction in 1 s
// tumbling windows. The fixtures are in event-time order and each topic
// partition holds a subsequence of them, so no record is ever late.
const itWindow = `time: {field: dateTime}
stages:
  - window: {tumbling: 1s, key: [auction], aggregate: {n: count(), top: max(price)}}
`

type itEnv struct {
	brokers     string // PLAINTEXT
	saslBrokers string // SASL_PLAINTEXT
	saslMech    string
	saslUser    string
	saslPass    string
}

// itSetup skips the test without a broker and clears the connection
// settings eddy reads from the environment, so only the test's flags count
// (in process and in the eddy processes it starts).
func itSetup(t *testing.T) itEnv {
	t.Helper()
	env := itEnv{
		brokers:     os.Getenv("EDDY_TEST_BROKERS"),
		saslBrokers: os.Getenv("EDDY_TEST_SASL_BROKERS"),
		saslMech:    os.Getenv("EDDY_TEST_SASL_MECHANISM"),
		saslUser:    os.Getenv("EDDY_TEST_SASL_USER"),
		saslPass:    os.Getenv("EDDY_TEST_SASL_PASSWORD"),
	}
	if env.brokers == "" {
		t.Skip("EDDY_TEST_BROKERS is not set; start a broker with: export $(scripts/kafka.sh up)")
	}
	for _, k := range []string{"EDDY_BROKERS", "EDDY_KAFKA_CONFIG", "EDDY_SECURITY_PROTOCOL",
		"EDDY_SASL_MECHANISM", "EDDY_SASL_USERNAME", "EDDY_SASL_PASSWORD"} {
		t.Setenv(k, "")
	}
	return env
}

// itName returns a topic or group name no earlier run has used.
func itName(base string) string {
	return fmt.Sprintf("it.%s.%d", base, time.Now().UnixNano())
}

func itAdmin(t *testing.T, brokers string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.RetryTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// itCreateTopic creates a topic with 3 partitions, like the broker's
// auto-creation would, but before anything is produced to it.
func itCreateTopic(t *testing.T, adm *kadm.Client, topic string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, 3, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

// itRecords is the number of records in a topic (end offsets summed; the
// topics are never truncated).
func itRecords(t *testing.T, adm *kadm.Client, topic string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("end offsets of %s: %v", topic, err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

// itCommitted is the number of records of topic a group has committed (the
// committed offsets summed), or -1 when the broker does not answer.
func itCommitted(adm *kadm.Client, group, topic string) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return -1
	}
	var n int64
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic && o.Err == nil && o.At > 0 {
			n += o.At
		}
	})
	return n
}

// itKcat runs kcat with stdin and returns its stdout.
func itKcat(t *testing.T, stdin io.Reader, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Skip("kcat is not installed (scripts/kafka.sh deps installs it)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	c := exec.CommandContext(ctx, "kcat", args...)
	c.Stdin, c.Stdout, c.Stderr = stdin, &out, &errb
	if err := c.Run(); err != nil {
		t.Fatalf("kcat %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

var itAuction = regexp.MustCompile(`"auction":(\d+)`)

// itKeyedByAuction prefixes each line with its auction and a tab, for
// `kcat -P -K '\t'`; lines without one (some malformed records) get the
// key "none". A key keeps an auction's bids on one partition, in order.
func itKeyedByAuction(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		key := "none"
		if m := itAuction.FindStringSubmatch(l); m != nil {
			key = m[1]
		}
		b.WriteString(key + "\t" + l + "\n")
	}
	return b.String()
}

// itStatsLine reads the final "eddy: in=N ..." line of a run's stderr.
func itStatsLine(t *testing.T, stderr string) engine.Stats {
	t.Helper()
	var st engine.Stats
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "eddy: in=") {
			if _, err := fmt.Sscanf(l, "eddy: in=%d passed=%d filtered=%d dead=%d late=%d rows=%d",
				&st.In, &st.Passed, &st.Filtered, &st.Dead, &st.Late, &st.Rows); err != nil {
				t.Fatalf("stats line %q: %v", l, err)
			}
			return st
		}
	}
	t.Fatalf("no stats line in stderr:\n%s", stderr)
	return st
}

func itStatsFile(t *testing.T, path string) engine.Stats {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st engine.Stats
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("stats file %s: %v: %q", path, err, b)
	}
	return st
}

func itCheckAccounting(t *testing.T, st engine.Stats) {
	t.Helper()
	if st.In != st.Passed+st.Filtered+st.Dead+st.Late {
		t.Errorf("in != passed+filtered+dead+late: %s", st)
	}
}

// itWindowCounts maps each window row (auction and window start) to its
// count. With partial, a last line cut short by a SIGKILL is ignored.
func itWindowCounts(t *testing.T, rows string, partial bool) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	lines := strings.Split(strings.TrimSuffix(rows, "\n"), "\n")
	for i, l := range lines {
		if l == "" {
			continue
		}
		var r struct {
			Auction json.RawMessage `json:"auction"`
			Start   string          `json:"window_start"`
			N       int64           `json:"n"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			if partial && i == len(lines)-1 {
				continue
			}
			t.Fatalf("row %d %q: %v", i+1, l, err)
		}
		out[string(r.Auction)+"@"+r.Start] += r.N
	}
	return out
}

func itReadFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// itKcatJSON is one record as `kcat -J` prints it.
type itKcatJSON struct {
	Partition int32    `json:"partition"`
	Offset    int64    `json:"offset"`
	Headers   []string `json:"headers"` // name, value, name, value, ...
	Key       *string  `json:"key"`
	Payload   *string  `json:"payload"`
}

func itConsumeJSON(t *testing.T, brokers, topic string) []itKcatJSON {
	t.Helper()
	out := itKcat(t, nil, "-b", brokers, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-J")
	var recs []itKcatJSON
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r itKcatJSON
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("kcat -J line %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	return recs
}

func deref(s *string) string {
	if s == nil {
		return "<null>"
	}
	return *s
}

// A fixture produced with kcat, read by `eddy run` with stop: caught-up,
// gives the rows of the same pipeline over the same lines in a file; dead
// letters and rows written to topics read back with kcat as documented.
func TestIntegrationKcatFixture(t *testing.T) {
	env := itSetup(t)
	dir := t.TempDir()
	code, gen, stderr := runCLI(t, "", "gen", "nexmark", "--only", "bids", "--count", "20000", "--bad-ratio", "0.01", "--seed", "7")
	if code != 0 {
		t.Fatalf("eddy gen: %d %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(gen, "\n"), "\n")
	in := runtest.WriteFile(t, dir, "bids.jsonl", gen)
	adm := itAdmin(t, env.brokers)
	topic := itName("bids")
	itCreateTopic(t, adm, topic)
	// idempotence keeps each partition in the order written even when a request is
	// retried (a fresh broker may still be electing leaders): the test needs
	// every partition in event-time order
	itKcat(t, strings.NewReader(itKeyedByAuction(lines)), "-b", env.brokers, "-P", "-t", topic, "-K", "\t",
		"-X", "enable.idempotence=true")
	if n := itRecords(t, adm, topic); n != 20000 {
		t.Fatalf("kcat produced %d records, want 20000", n)
	}

	fileSpec := runtest.WriteFile(t, dir, "file.yaml", itWindow)
	fileDead := filepath.Join(dir, "file-dead.jsonl")
	code, fileRows, stderr := runCLI(t, "", "run", fileSpec, "--input", in, "--dlq", fileDead)
	if code != 0 {
		t.Fatalf("file run: %d %s", code, stderr)
	}
	fileStats := itStatsLine(t, stderr)
	if fileStats.In != 20000 || fileStats.Dead == 0 || fileStats.Late != 0 {
		t.Fatalf("file run stats %s: want in=20000, some dead letters, late=0", fileStats)
	}
	head := fmt.Sprintf("name: it-bids\nsource: {kafka: {topic: %s, start: earliest, stop: caught-up}}\n", topic)

	t.Run("rows match the file run", func(t *testing.T) {
		spec := runtest.WriteFile(t, dir, "kafka.yaml", head+itWindow)
		code, rows, stderr := runCLI(t, "", "-b", env.brokers, "run", spec, "--dlq", filepath.Join(dir, "kafka-dead.jsonl"))
		if code != 0 {
			t.Fatalf("kafka run: %d %s", code, stderr)
		}
		if st := itStatsLine(t, stderr); st != fileStats {
			t.Errorf("kafka run stats %s, file run %s", st, fileStats)
		}
		if k, f := runtest.SortedLines(rows), runtest.SortedLines(fileRows); strings.Join(k, "\n") != strings.Join(f, "\n") {
			t.Errorf("kafka rows differ from file rows: %d vs %d rows", len(k), len(f))
		}
	})

	t.Run("dead letters on a topic", func(t *testing.T) {
		dlq := topic + ".dlq"
		spec := runtest.WriteFile(t, dir, "dlq.yaml", head+itWindow+fmt.Sprintf("dlq: {kafka: {topic: %s}}\nsinks: [{file: /dev/null}]\n", dlq))
		code, _, stderr := runCLI(t, "", "-b", env.brokers, "run", spec)
		if code != 0 {
			t.Fatalf("kafka run: %d %s", code, stderr)
		}
		st := itStatsLine(t, stderr)
		source := map[string]itKcatJSON{}
		for _, r := range itConsumeJSON(t, env.brokers, topic) {
			source[fmt.Sprintf("%d/%d", r.Partition, r.Offset)] = r
		}
		dead := itConsumeJSON(t, env.brokers, dlq)
		if int64(len(dead)) != st.Dead+st.Late {
			t.Fatalf("%s holds %d dead letters, the run counted dead+late = %d (%s)", dlq, len(dead), st.Dead+st.Late, st)
		}
		var got []string
		for _, d := range dead {
			h := map[string]string{}
			for i := 0; i+1 < len(d.Headers); i += 2 {
				h[d.Headers[i]] = d.Headers[i+1]
			}
			for _, k := range []string{"eddy.error", "eddy.stage", "eddy.source.topic", "eddy.source.partition",
				"eddy.source.offset", "eddy.source.timestamp", "eddy.pipeline", "eddy.replay.count"} {
				if h[k] == "" {
					t.Fatalf("dead letter at %d/%d lacks header %s: %v", d.Partition, d.Offset, k, d.Headers)
				}
			}
			if h["eddy.source.topic"] != topic || h["eddy.pipeline"] != "it-bids" || h["eddy.replay.count"] != "0" {
				t.Fatalf("dead letter headers: %v", h)
			}
			if _, err := time.Parse(time.RFC3339Nano, h["eddy.source.timestamp"]); err != nil {
				t.Errorf("eddy.source.timestamp: %v", err)
			}
			src, ok := source[h["eddy.source.partition"]+"/"+h["eddy.source.offset"]]
			if !ok {
				t.Fatalf("dead letter points at %s/%s, which %s does not have", h["eddy.source.partition"], h["eddy.source.offset"], topic)
			}
			if deref(src.Key) != deref(d.Key) || deref(src.Payload) != deref(d.Payload) {
				t.Errorf("dead letter key/value %q %q, the source record has %q %q", deref(d.Key), deref(d.Payload), deref(src.Key), deref(src.Payload))
			}
			got = append(got, deref(d.Payload))
		}
		// the same records as the file run's dead letters
		var want []string
		for _, l := range strings.Split(strings.TrimSpace(itReadFile(t, fileDead)), "\n") {
			var d struct {
				Value string `json:"value"`
			}
			if err := json.Unmarshal([]byte(l), &d); err != nil {
				t.Fatal(err)
			}
			want = append(want, d.Value)
		}
		sort.Strings(got)
		sort.Strings(want)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("dead-letter values on %s differ from the file run's dead letters (%d vs %d)", dlq, len(got), len(want))
		}
	})

	t.Run("kcat reads the sink topic", func(t *testing.T) {
		results := topic + ".results"
		spec := runtest.WriteFile(t, dir, "sink.yaml", head+itWindow+"dlq: {file: /dev/null}\n"+
			fmt.Sprintf("sinks:\n  - kafka: {topic: %s, key: [auction]}\n  - file: \"-\"\n", results))
		code, rows, stderr := runCLI(t, "", "-b", env.brokers, "run", spec)
		if code != 0 {
			t.Fatalf("kafka run: %d %s", code, stderr)
		}
		st := itStatsLine(t, stderr)
		out := itKcat(t, nil, "-b", env.brokers, "-C", "-t", results, "-o", "beginning", "-e", "-q", "-f", "%k\t%s\n")
		var values []string
		for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			key, value, ok := strings.Cut(l, "\t")
			if !ok {
				t.Fatalf("kcat line %q", l)
			}
			var row struct {
				Auction json.RawMessage `json:"auction"`
			}
			if err := json.Unmarshal([]byte(value), &row); err != nil {
				t.Fatalf("row %q: %v", value, err)
			}
			if key != string(row.Auction) {
				t.Fatalf("record key %q, the row's auction is %s", key, row.Auction)
			}
			values = append(values, value)
		}
		if int64(len(values)) != st.Rows {
			t.Fatalf("%s holds %d rows, the run wrote %d", results, len(values), st.Rows)
		}
		sort.Strings(values)
		if strings.Join(values, "\n") != strings.Join(runtest.SortedLines(rows), "\n") || strings.Join(values, "\n") != strings.Join(runtest.SortedLines(fileRows), "\n") {
			t.Errorf("rows on %s differ from the rows written to stdout or by the file run", results)
		}
	})
}

// SCRAM-SHA-512 on the SASL listener: the password comes from
// EDDY_SASL_PASSWORD; a wrong one and an unreachable broker fail fast with
// one line that says which problem it is and does not echo the password.
func TestIntegrationSASL(t *testing.T) {
	env := itSetup(t)
	if env.saslBrokers == "" || env.saslUser == "" {
		t.Skip("EDDY_TEST_SASL_BROKERS / EDDY_TEST_SASL_USER are not set")
	}
	dir := t.TempDir()
	adm := itAdmin(t, env.brokers)
	topic := itName("sasl")
	itCreateTopic(t, adm, topic)
	produceLines(t, env.brokers, topic, genLines(t, "nexmark", fixtures.Options{Count: 1000, Seed: 9, Only: "bids", BadRatio: 0.02}))
	spec := runtest.WriteFile(t, dir, "sasl.yaml", fmt.Sprintf("name: it-sasl\nsource: {kafka: {topic: %s, stop: caught-up}}\n", topic)+itWindow+
		fmt.Sprintf("dlq: {kafka: {topic: %s.dlq}}\nsinks:\n  - kafka: {topic: %s.results, key: [auction]}\n", topic, topic))
	sasl := func(brokers string) []string {
		return []string{"-b", brokers, "--sasl-mechanism", env.saslMech, "--sasl-user", env.saslUser, "run", spec}
	}

	t.Run("SCRAM-SHA-512 run", func(t *testing.T) {
		t.Setenv("EDDY_SASL_PASSWORD", env.saslPass)
		code, stdout, stderr := runCLI(t, "", sasl(env.saslBrokers)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		st := itStatsLine(t, stderr)
		if st.In != 1000 || st.Dead == 0 || st.Rows == 0 {
			t.Errorf("stats %s: want in=1000, some dead letters and rows", st)
		}
		if strings.Contains(stdout+stderr, env.saslPass) {
			t.Errorf("the password appears in the output")
		}
		// the sink and the dead-letter topic were written over SASL too
		if n := itRecords(t, adm, topic+".results"); n != st.Rows {
			t.Errorf("results topic has %d records, want %d", n, st.Rows)
		}
		if n := itRecords(t, adm, topic+".dlq"); n != st.Dead+st.Late {
			t.Errorf("dead-letter topic has %d records, want %d", n, st.Dead+st.Late)
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		wrong := fmt.Sprintf("not-the-password-%d", time.Now().UnixNano())
		t.Setenv("EDDY_SASL_PASSWORD", wrong)
		start := time.Now()
		code, stdout, stderr := runCLI(t, "", sasl(env.saslBrokers)...)
		took := time.Since(start)
		if code != 1 || !strings.HasPrefix(stderr, "eddy: authentication failed") {
			t.Errorf("exit %d, stderr %q: want 1 and \"eddy: authentication failed ...\"", code, stderr)
		}
		if strings.Contains(stdout+stderr, wrong) {
			t.Errorf("the wrong password appears in the output: %q", stderr)
		}
		if took > 15*time.Second {
			t.Errorf("took %v, want at most 15s", took)
		}
	})

	t.Run("unreachable port", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close() // nothing listens there now
		t.Setenv("EDDY_SASL_PASSWORD", env.saslPass)
		start := time.Now()
		code, _, stderr := runCLI(t, "", sasl(addr)...)
		took := time.Since(start)
		if code != 1 || !strings.Contains(stderr, "cannot reach broker") {
			t.Errorf("exit %d, stderr %q: want 1 and \"cannot reach broker\"", code, stderr)
		}
		if took > 15*time.Second {
			t.Errorf("took %v, want at most 15s", took)
		}
	})
}

// itProc is an eddy process started by a test.
type itProc struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer // read only after done is closed
	done   chan struct{}
	err    error
}

func itStart(t *testing.T, bin string, args ...string) *itProc {
	t.Helper()
	p := &itProc{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *itProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait returns the exit code; -1 when killed by a signal.
func (p *itProc) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("eddy did not finish within %v; stderr:\n%s", timeout, p.stderr.String())
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatal(p.err)
	}
	return 0
}

// itWaitUntil polls cond every 50 ms until it holds or timeout passes.
func itWaitUntil(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}

// itKafkaScript runs scripts/kafka.sh with one command and logs its output.
func itKafkaScript(t *testing.T, script, command string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var progress bytes.Buffer // stdout only has the EDDY_TEST_* lines
	c := exec.CommandContext(ctx, script, command)
	c.Stderr = &progress
	err := c.Run()
	t.Logf("scripts/kafka.sh %s: %s", command, strings.TrimSpace(progress.String()))
	return err
}

// itBuild builds the eddy binary, for runs that must be separate processes.
func itBuild(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "eddy")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/eddyhq/eddy").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// itPacing is a filter that is always true and costs about 60 µs a record
// (on the 2-CPU machine the tests were written on), so the 200,000-record
// runs below last about 12 s: long enough for eddy to commit offsets (every
// 5 s) and to be interrupted half way. It changes no result.
const itPacing = `  - filter: "all(1..3000, # > 0)"
`

// Faults: the broker killed with SIGKILL and restarted under a running
// `eddy run`, and eddy itself killed and rerun with the same group. The
// accounting must hold and every window row of the same pipeline over a
// file must be covered, at least once.
func TestIntegrationFaults(t *testing.T) {
	env := itSetup(t)
	script, err := filepath.Abs("../scripts/kafka.sh")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(script); err != nil {
		t.Skip("scripts/kafka.sh not found")
	}
	// a failed subtest must not leave the broker down for the next one
	t.Cleanup(func() {
		if itKafkaScript(t, script, "status") != nil {
			_ = itKafkaScript(t, script, "start")
		}
	})
	bin := itBuild(t)
	dir := t.TempDir()
	const total = 200_000
	lines := genLines(t, "nexmark", fixtures.Options{Count: total, Seed: 11, Only: "bids", BadRatio: 0.01})
	adm := itAdmin(t, env.brokers)
	topic := itName("faults")
	itCreateTopic(t, adm, topic)
	produceLines(t, env.brokers, topic, lines)
	if n := itRecords(t, adm, topic); n != total {
		t.Fatalf("topic has %d records, want %d", n, total)
	}

	// The reference: the same pipeline over the same lines in a file (the
	// pacing filter is always true, so it is left out here).
	in := runtest.WriteFile(t, dir, "bids.jsonl", strings.Join(lines, "\n")+"\n")
	refOut := filepath.Join(dir, "ref.jsonl")
	code, _, stderr := runCLI(t, "", "run", runtest.WriteFile(t, dir, "ref.yaml", itWindow), "--input", in, "--out", refOut, "--dlq", filepath.Join(dir, "ref-dead.jsonl"))
	if code != 0 {
		t.Fatalf("file run: %d %s", code, stderr)
	}
	refStats := itStatsLine(t, stderr)
	want := itWindowCounts(t, itReadFile(t, refOut), false)
	if int64(len(want)) != refStats.Rows || refStats.Late != 0 {
		t.Fatalf("file run: %d windows, stats %s", len(want), refStats)
	}

	spec := func(name, group string) string {
		src := fmt.Sprintf("source: {kafka: {topic: %s, start: earliest, stop: caught-up}}\n", topic)
		if group != "" {
			src = fmt.Sprintf("source: {kafka: {topic: %s, start: earliest, stop: caught-up, group: %s}}\n", topic, group)
		}
		body := strings.Replace(itWindow, "stages:\n", "stages:\n"+itPacing, 1)
		return runtest.WriteFile(t, dir, name+".yaml", "name: it-faults\n"+src+body)
	}
	// covers checks that every window of the file run got at least its
	// count (exactly its count when exact) from the runs' rows together.
	covers := func(t *testing.T, exact bool, runs ...map[string]int64) {
		t.Helper()
		missing, short, over := 0, 0, 0
		for w, n := range want {
			var got int64
			for _, r := range runs {
				got = max(got, r[w])
			}
			switch {
			case got == 0:
				missing++
			case got < n:
				short++
			case exact && got > n:
				over++
			}
		}
		if missing+short+over > 0 {
			t.Errorf("of %d windows, %d missing, %d with a smaller count, %d with a larger count", len(want), missing, short, over)
		}
	}
	// outage kills the broker, keeps it down 2 s and starts it again
	// (start returns once it serves).
	outage := func(t *testing.T) {
		t.Helper()
		if err := itKafkaScript(t, script, "kill9"); err != nil {
			t.Fatalf("kill9: %v", err)
		}
		time.Sleep(2 * time.Second) // the outage itself, not a wait for a condition
		if err := itKafkaScript(t, script, "start"); err != nil {
			t.Fatalf("start: %v", err)
		}
	}
	// run starts eddy over the topic with the files of one run.
	type files struct{ out, dead, stats string }
	run := func(specPath, name string) (*itProc, files) {
		f := files{filepath.Join(dir, name+".jsonl"), filepath.Join(dir, name+"-dead.jsonl"), filepath.Join(dir, name+"-stats.json")}
		return itStart(t, bin, "-b", env.brokers, "run", specPath, "--out", f.out, "--dlq", f.dead, "--stats", f.stats), f
	}

	t.Run("broker killed mid-run without a group", func(t *testing.T) {
		p, f := run(spec("nogroup", ""), "nogroup")
		// mid-run: some windows have fired and been written
		started := itWaitUntil(30*time.Second, func() bool {
			fi, err := os.Stat(f.out)
			return p.exited() || err == nil && fi.Size() > 0
		})
		if p.exited() {
			t.Fatalf("eddy ended before the broker was killed: %s", p.stderr.String())
		}
		if !started {
			t.Fatal("eddy wrote no rows in 30 s")
		}
		outage(t)
		if code := p.wait(t, 2*time.Minute); code != 0 {
			t.Fatalf("eddy exited %d after the broker restart:\n%s", code, p.stderr.String())
		}
		st := itStatsFile(t, f.stats)
		itCheckAccounting(t, st)
		if st.In != total || st.Late != 0 || st.Dead != refStats.Dead {
			t.Errorf("stats %s, want in=%d late=0 dead=%d", st, total, refStats.Dead)
		}
		covers(t, true, itWindowCounts(t, itReadFile(t, f.out), false))
	})

	t.Run("broker killed mid-run with a group", func(t *testing.T) {
		group := itName("g-broker")
		p, f := run(spec("group", group), "group")
		// mid-run: the first commit (after 5 s) is stored
		itWaitUntil(2*time.Minute, func() bool { return p.exited() || itCommitted(adm, group, topic) > 0 })
		if p.exited() {
			t.Skipf("eddy finished before its first commit, so the broker could not be killed mid-run; make itPacing costlier: %s", p.stderr.String())
		}
		committed := itCommitted(adm, group, topic)
		if committed <= 0 || committed >= total {
			t.Fatalf("committed %d records before the kill, want some", committed)
		}
		t.Logf("the group had committed %d records when the broker was killed", committed)
		outage(t)
		// On a quiet machine eddy may have read the whole topic before the
		// kill; it then commits the rest once the broker is back and ends
		// during the outage's wait: that is fine, giving up is not.
		if p.exited() {
			t.Logf("eddy ended during the outage (after the broker's restart)")
		}
		code := p.wait(t, 2*time.Minute)
		if code != 0 {
			t.Fatalf("eddy exited %d across the broker's outage:\n%s", code, p.stderr.String())
		}
		st := itStatsFile(t, f.stats)
		itCheckAccounting(t, st)
		if st.In < total {
			t.Errorf("stats %s: read fewer than the %d records", st, total)
		}
		covers(t, st.In == total, itWindowCounts(t, itReadFile(t, f.out), false))
		if n := itCommitted(adm, group, topic); n != total {
			t.Errorf("the group committed %d records at the end, want %d", n, total)
		}
	})

	t.Run("eddy killed and rerun with the same group", func(t *testing.T) {
		group := itName("g-kill")
		specPath := spec("rerun", group)
		p1, f1 := run(specPath, "first")
		itWaitUntil(2*time.Minute, func() bool { return p1.exited() || itCommitted(adm, group, topic) > 0 })
		if p1.exited() {
			t.Skipf("eddy finished before its first commit, so it could not be killed mid-run; make itPacing costlier: %s", p1.stderr.String())
		}
		if err := p1.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		if code := p1.wait(t, 10*time.Second); code != -1 {
			t.Fatalf("the first run exited %d before it was killed: %s", code, p1.stderr.String())
		}
		committed := itCommitted(adm, group, topic)
		if committed <= 0 || committed >= total {
			t.Fatalf("committed %d records before the kill, want some", committed)
		}
		// The killed member stays in the group until its session times out
		// (45 s, franz-go's default), so the rerun waits that long for its
		// partitions.
		start := time.Now()
		p2, f2 := run(specPath, "second")
		if code := p2.wait(t, 3*time.Minute); code != 0 {
			t.Fatalf("the rerun exited %d:\n%s", code, p2.stderr.String())
		}
		st := itStatsFile(t, f2.stats)
		t.Logf("first run killed after committing %d records; the rerun took %v: %s", committed, time.Since(start).Round(time.Second), st)
		itCheckAccounting(t, st)
		// The first run read at least what it committed, so the two runs
		// read at least every record between them.
		if st.In != total-committed {
			t.Errorf("the rerun read %d records, want the %d after the committed offsets", st.In, total-committed)
		}
		if n := itCommitted(adm, group, topic); n != total {
			t.Errorf("the group committed %d records at the end, want %d", n, total)
		}
		if st.Late > 0 {
			t.Fatalf("the rerun after a crash counts %d records late (want 0): %s", st.Late, st)
		}
		covers(t, false, itWindowCounts(t, itReadFile(t, f1.out), true), itWindowCounts(t, itReadFile(t, f2.out), false))
	})
}

// TestIntegrationTopicChanges: against a real broker, partitions added to
// a followed topic are read from their first record, and deleting the
// topic ends the run with exit 1 naming it, having read everything.
func TestIntegrationTopicChanges(t *testing.T) {
	env := itSetup(t)
	bin := itBuild(t)
	adm := itAdmin(t, env.brokers)
	in, out := itName("topology.in"), itName("topology.out")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, topic := range []string{in, out} {
		if resp, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil || resp.Err != nil {
			t.Fatalf("create topic %s: %v %v", topic, err, resp.Err)
		}
	}
	produce := func(partition int32) {
		t.Helper()
		// a new client each time: it must see the partitions just added
		prod, err := kgo.NewClient(kgo.SeedBrokers(env.brokers), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err != nil {
			t.Fatal(err)
		}
		defer prod.Close()
		for i := range 10 {
			r := &kgo.Record{Topic: in, Partition: partition, Value: fmt.Appendf(nil, `{"p":%d,"i":%d}`, partition, i)}
			if err := prod.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatalf("produce to %s/%d: %v", in, partition, err)
			}
		}
	}
	produce(0)
	dir := t.TempDir()
	spec := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(spec, fmt.Appendf(nil, "source: {kafka: {topic: %s}}\nsinks: [{kafka: {topic: %s}}]\n", in, out), 0o644); err != nil {
		t.Fatal(err)
	}
	p := itStart(t, bin, "-b", env.brokers, "run", spec)
	if !itWaitUntil(60*time.Second, func() bool { return itRecords(t, adm, out) == 10 }) {
		t.Fatalf("the first 10 rows did not arrive; stderr:\n%s", p.stderr.String())
	}
	if _, err := adm.CreatePartitions(ctx, 2, in); err != nil {
		t.Fatal(err)
	}
	itWaitUntil(30*time.Second, func() bool {
		d, err := adm.ListTopics(ctx, in)
		return err == nil && len(d[in].Partitions) == 3
	})
	produce(1)
	produce(2)
	if !itWaitUntil(60*time.Second, func() bool { return itRecords(t, adm, out) == 30 }) {
		t.Fatalf("rows: %d of 30 after adding 2 partitions", itRecords(t, adm, out))
	}
	if _, err := adm.DeleteTopic(ctx, in); err != nil {
		t.Fatal(err)
	}
	code := p.wait(t, 2*time.Minute)
	stderr := p.stderr.String()
	if code != 1 || !strings.Contains(stderr, fmt.Sprintf("topic %q was deleted", in)) {
		t.Fatalf("exit %d, stderr:\n%s\nwant exit 1 naming topic %s", code, stderr, in)
	}
	if st := itStatsLine(t, stderr); st.In != 30 {
		t.Errorf("in=%d, want 30", st.In)
	}
}
