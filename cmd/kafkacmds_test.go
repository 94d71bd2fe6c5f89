package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/eddyhq/eddy/internal/runtest"
)

// clearKafkaEnv empties the environment eddy reads, so a developer's
// settings cannot leak into a test.
func clearKafkaEnv(t *testing.T) {
	for _, k := range []string{"EDDY_BROKERS", "EDDY_KAFKA_CONFIG", "EDDY_SECURITY_PROTOCOL",
		"EDDY_SASL_MECHANISM", "EDDY_SASL_USERNAME", "EDDY_SASL_PASSWORD", "COLUMNS", "EDDY_CONTEXT"} {
		t.Setenv(k, "")
	}
	t.Setenv("EDDY_CONFIG", filepath.Join(t.TempDir(), "no-config.yaml"))
}

// newKafka starts an in-process cluster with the given topics (3 partitions
// each) and returns its address. Unlike newCluster it does not auto-create
// topics, so the tests see that produce creates them and tail does not.
func newKafka(t *testing.T, topics ...string) string {
	t.Helper()
	clearKafkaEnv(t)
	opts := []kfake.Opt{kfake.NumBrokers(1)}
	if len(topics) > 0 {
		opts = append(opts, kfake.SeedTopics(3, topics...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

// tailLine is one line of `tail -f json`.
type tailLine struct {
	Topic         string          `json:"topic"`
	Partition     int32           `json:"partition"`
	Offset        int64           `json:"offset"`
	Timestamp     string          `json:"timestamp"`
	Key           *string         `json:"key"`
	KeyEncoding   string          `json:"key_encoding"`
	Headers       []tailHeader    `json:"headers"`
	Value         json.RawMessage `json:"value"`
	ValueEncoding string          `json:"value_encoding"`
}

type tailHeader struct {
	Key           string  `json:"key"`
	Value         *string `json:"value"`
	ValueEncoding string  `json:"value_encoding"`
}

// tailLines runs tail and decodes its output, sorted by partition and offset.
func tailLines(t *testing.T, args ...string) []tailLine {
	t.Helper()
	code, out, stderr := runCLI(t, "", append([]string{"tail"}, args...)...)
	if code != 0 {
		t.Fatalf("tail %v: exit %d: %s", args, code, stderr)
	}
	var lines []tailLine
	for l := range strings.Lines(out) {
		var tl tailLine
		if err := json.Unmarshal([]byte(l), &tl); err != nil {
			t.Fatalf("tail output line %q: %v", l, err)
		}
		lines = append(lines, tl)
	}
	slices.SortFunc(lines, func(a, b tailLine) int {
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
	return lines
}

func keyOf(l tailLine) string {
	if l.Key == nil {
		return "<nil>"
	}
	return *l.Key
}

func TestProduceStdinThenTail(t *testing.T) {
	addr := newKafka(t)
	in := "{\"id\":\"a\",\"n\":1}\n\n  \n{\"id\":7,\"n\":2}\nnot json\n{\"id\":null}\r\n{\"id\":{\"x\":1}}"
	code, _, stderr := runCLI(t, in, "produce", "-b", addr, "-t", "events", "--key", "id")
	if code != 0 || !strings.Contains(stderr, "eddy: produced 5 records to events\n") {
		t.Fatalf("produce: exit %d: %s", code, stderr)
	}
	if strings.Contains(stderr, "created") {
		t.Errorf("produce without -v says it created the topic: %s", stderr)
	}
	lines := tailLines(t, "-b", addr, "-t", "events", "-e")
	got := map[string]string{}
	for _, l := range lines {
		if l.Topic != "events" || l.Headers == nil || len(l.Headers) != 0 {
			t.Errorf("line %+v: want topic events and empty headers", l)
		}
		if _, err := time.Parse(time.RFC3339, l.Timestamp); err != nil {
			t.Errorf("timestamp %q: %v", l.Timestamp, err)
		}
		got[string(l.Value)] = keyOf(l)
	}
	want := map[string]string{
		`{"id":"a","n":1}`: "a",
		`{"id":7,"n":2}`:   "7",
		`"not json"`:       "<nil>",
		`{"id":null}`:      "<nil>",
		`{"id":{"x":1}}`:   `{"x":1}`,
	}
	if len(lines) != len(want) {
		t.Fatalf("tail printed %d records, want %d: %v", len(lines), len(want), got)
	}
	for v, k := range want {
		if got[v] != k {
			t.Errorf("value %s: key %q, want %q (all: %v)", v, got[v], k, got)
		}
	}
	// The topic was created with the default 3 partitions.
	code, out, _ := runCLI(t, "", "topics", "-b", addr)
	if code != 0 || !regexpLine(out, "events", "3", "1", "5") {
		t.Errorf("topics: exit %d:\n%s", code, out)
	}
}

// regexpLine reports whether out has a line made of exactly these fields.
func regexpLine(out string, fields ...string) bool {
	for l := range strings.Lines(out) {
		if slices.Equal(strings.Fields(l), fields) {
			return true
		}
	}
	return false
}

func TestTailJSONEncodings(t *testing.T) {
	addr := newKafka(t, "enc")
	ts := time.Date(2026, 3, 1, 12, 0, 0, 123e6, time.UTC)
	runtest.Produce(t, addr,
		&kgo.Record{Topic: "enc", Partition: 1, Timestamp: ts, Key: []byte("k1"), Value: []byte("{\"a\": [1,\n 2]}\n"),
			Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("abc")}, {Key: "bin", Value: []byte{0xff, 0}}, {Key: "nil"}}},
		&kgo.Record{Topic: "enc", Partition: 1, Timestamp: ts, Key: []byte{0xfe, 0x01}, Value: []byte{0xc3, 0x28}},
		&kgo.Record{Topic: "enc", Partition: 1, Timestamp: ts, Value: []byte("plain \"text\"\tä")},
		&kgo.Record{Topic: "enc", Partition: 1, Timestamp: ts, Key: []byte("gone")}, // a tombstone
	)
	code, out, stderr := runCLI(t, "", "tail", "-b", addr, "-t", "enc", "-e")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := `{"topic":"enc","partition":1,"offset":0,"timestamp":"2026-03-01T12:00:00.123Z","key":"k1","headers":[{"key":"trace","value":"abc"},{"key":"bin","value":"/wA=","value_encoding":"base64"},{"key":"nil","value":null}],"value":{"a":[1,2]}}
{"topic":"enc","partition":1,"offset":1,"timestamp":"2026-03-01T12:00:00.123Z","key":"/gE=","key_encoding":"base64","headers":[],"value":"wyg=","value_encoding":"base64"}
{"topic":"enc","partition":1,"offset":2,"timestamp":"2026-03-01T12:00:00.123Z","key":null,"headers":[],"value":"plain \"text\"\tä"}
{"topic":"enc","partition":1,"offset":3,"timestamp":"2026-03-01T12:00:00.123Z","key":"gone","headers":[],"value":null}
`
	if out != want {
		t.Errorf("tail -f json:\n%s\nwant:\n%s", out, want)
	}
	for l := range strings.Lines(out) {
		if !json.Valid([]byte(l)) {
			t.Errorf("not JSON: %s", l)
		}
	}
}

// seedOffsets writes 10 records to each of the 3 partitions of topic; record
// i is stamped at base + i*step.
func seedOffsets(t *testing.T, addr, topic string, base time.Time, step time.Duration) {
	t.Helper()
	var recs []*kgo.Record
	for p := range int32(3) {
		for i := range 10 {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Timestamp: base.Add(time.Duration(i) * step),
				Key: []byte(strconv.Itoa(i)), Value: []byte(`{"i":` + strconv.Itoa(i) + `}`)})
		}
	}
	runtest.Produce(t, addr, recs...)
}

func TestTailStartOffsets(t *testing.T) {
	addr := newKafka(t, "abs", "rel")
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	seedOffsets(t, addr, "abs", base, time.Minute)
	// In "rel", record i is stamped 49-5i minutes ago, so @-15m starts at
	// i = 7 (14 minutes ago) and leaves out i = 6 (19).
	seedOffsets(t, addr, "rel", time.Now().Add(-49*time.Minute), 5*time.Minute)

	all := []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	tests := []struct {
		name  string
		args  []string
		parts []int32 // partitions expected; nil means all three
		want  []int64 // offsets expected in each partition
	}{
		{"earliest is the default", nil, nil, all},
		{"earliest", []string{"-o", "earliest"}, nil, all},
		{"beginning", []string{"-o", "beginning"}, nil, all},
		{"latest", []string{"-o", "latest"}, nil, nil},
		{"end", []string{"-o", "end"}, nil, nil},
		{"offset:N", []string{"-o", "offset:7"}, nil, []int64{7, 8, 9}},
		{"last:N", []string{"-o", "last:2"}, nil, []int64{8, 9}},
		{"time:RFC 3339", []string{"-o", "time:" + base.Add(5*time.Minute).Format(time.RFC3339)}, nil, []int64{5, 6, 7, 8, 9}},
		{"kcat s@MS", []string{"-o", "s@" + strconv.FormatInt(base.Add(8*time.Minute).UnixMilli(), 10)}, nil, []int64{8, 9}},
		{"kcat s@MS and e@MS", []string{"-o", "s@" + strconv.FormatInt(base.Add(3*time.Minute).UnixMilli(), 10),
			"-o", "e@" + strconv.FormatInt(base.Add(6*time.Minute).UnixMilli(), 10)}, nil, []int64{3, 4, 5}},
		{"absolute", []string{"-o", "7"}, nil, []int64{7, 8, 9}},
		{"absolute past the end", []string{"-o", "99"}, nil, nil},
		{"last 2", []string{"-o", "-2"}, nil, []int64{8, 9}},
		{"last 100", []string{"-o", "-100"}, nil, all},
		{"at RFC 3339 time", []string{"-o", "@" + base.Add(5*time.Minute).Format(time.RFC3339)}, nil, []int64{5, 6, 7, 8, 9}},
		{"at a time between records", []string{"-o", "@2026-01-01T00:04:30.5Z"}, nil, []int64{5, 6, 7, 8, 9}},
		{"at epoch ms", []string{"-o", "@" + strconv.FormatInt(base.Add(8*time.Minute).UnixMilli(), 10)}, nil, []int64{8, 9}},
		{"after the last record", []string{"-o", "@2027-01-01T00:00:00Z"}, nil, nil},
		{"one partition", []string{"-p", "1", "-o", "-3"}, []int32{1}, []int64{7, 8, 9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := tailLines(t, append([]string{"-b", addr, "-t", "abs", "-e"}, tt.args...)...)
			checkOffsets(t, lines, tt.parts, tt.want)
		})
	}
	t.Run("relative time", func(t *testing.T) {
		lines := tailLines(t, "-b", addr, "-t", "rel", "-e", "-o", "@-15m")
		checkOffsets(t, lines, nil, []int64{7, 8, 9})
		lines = tailLines(t, "-b", addr, "-t", "rel", "-e", "-o", "time:-15m")
		checkOffsets(t, lines, nil, []int64{7, 8, 9})
	})
	t.Run("e@MS without -e ends when every partition has passed it", func(t *testing.T) {
		lines := tailLines(t, "-b", addr, "-t", "abs", "-o", "-4", "-o", "e@"+strconv.FormatInt(base.Add(8*time.Minute).UnixMilli(), 10))
		checkOffsets(t, lines, nil, []int64{6, 7})
	})
}

func checkOffsets(t *testing.T, lines []tailLine, parts []int32, want []int64) {
	t.Helper()
	if parts == nil {
		parts = []int32{0, 1, 2}
	}
	got := map[int32][]int64{}
	for _, l := range lines {
		got[l.Partition] = append(got[l.Partition], l.Offset)
	}
	for p := range int32(3) {
		var w []int64
		if slices.Contains(parts, p) {
			w = want
		}
		if !slices.Equal(got[p], w) {
			t.Errorf("partition %d: offsets %v, want %v", p, got[p], w)
		}
	}
}

func TestTailCountWhereAndFormats(t *testing.T) {
	addr := newKafka(t, "mixed")
	ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var recs []*kgo.Record
	for i, v := range []string{`{"n":1}`, `{"n":5,"s":"a long value that goes on and on and on and on and on"}`, `not json`, `{"m":1}`, `{"n":9}`} {
		recs = append(recs, &kgo.Record{Topic: "mixed", Partition: 0, Timestamp: ts.Add(time.Duration(i) * time.Second),
			Key: []byte("k" + strconv.Itoa(i)), Value: []byte(v)})
	}
	runtest.Produce(t, addr, recs...)
	base := []string{"tail", "-b", addr, "-t", "mixed", "-e"}

	t.Run("count", func(t *testing.T) {
		lines := tailLines(t, "-b", addr, "-t", "mixed", "-c", "2")
		checkOffsets(t, lines, []int32{0}, []int64{0, 1})
	})
	t.Run("where skips and counts what it cannot evaluate", func(t *testing.T) {
		code, out, stderr := runCLI(t, "", append(base, "-f", "raw", "--where", "n > 2")...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if want := "{\"n\":5,\"s\":\"a long value that goes on and on and on and on and on\"}\n{\"n\":9}\n"; out != want {
			t.Errorf("stdout = %q, want %q", out, want)
		}
		// "not json" cannot be decoded; {"m":1} has no n to compare.
		if !strings.Contains(stderr, "eddy: skipped 2 records the filter could not evaluate (first error: invalid JSON") {
			t.Errorf("stderr = %q", stderr)
		}
	})
	t.Run("where on coordinates", func(t *testing.T) {
		code, out, stderr := runCLI(t, "", append(base, "-f", "raw", "--where", `_key == "k4" || _offset == 0`)...)
		if code != 0 || out != "{\"n\":1}\n{\"n\":9}\n" {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, stderr)
		}
	})
	t.Run("where with count stops at the count", func(t *testing.T) {
		code, out, _ := runCLI(t, "", "tail", "-b", addr, "-t", "mixed", "-c", "1", "-f", "raw", "--where", "n > 2")
		if code != 0 || out != "{\"n\":5,\"s\":\"a long value that goes on and on and on and on and on\"}\n" {
			t.Errorf("exit %d, stdout %q", code, out)
		}
	})
	t.Run("table", func(t *testing.T) {
		t.Setenv("COLUMNS", "100")
		code, out, stderr := runCLI(t, "", append(base, "-f", "table", "-c", "3")...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		want := `PARTITION  OFFSET  TIMESTAMP                 KEY               VALUE
0               0  2026-01-01T00:00:00.000Z  k0                {"n":1}
0               1  2026-01-01T00:00:01.000Z  k1                {"n":5,"s":"a long value that goes...
0               2  2026-01-01T00:00:02.000Z  k2                not json
`
		if out != want {
			t.Errorf("table:\n%s\nwant:\n%s", out, want)
		}
		for l := range strings.Lines(out) {
			if n := len(strings.TrimRight(l, "\n")); n > 100 {
				t.Errorf("line of %d bytes is wider than COLUMNS=100: %q", n, l)
			}
		}
	})
	t.Run("raw", func(t *testing.T) {
		code, out, _ := runCLI(t, "", append(base, "-f", "raw", "-o", "2", "-c", "2")...)
		if code != 0 || out != "not json\n{\"m\":1}\n" {
			t.Errorf("exit %d, stdout %q", code, out)
		}
	})
}

// syncBuffer is a bytes.Buffer safe to read while tail writes to it.
type syncBuffer = runtest.SyncBuffer

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func TestTailFollowsUntilCanceled(t *testing.T) {
	addr := newKafka(t, "live")
	runtest.Produce(t, addr, &kgo.Record{Topic: "live", Value: []byte("1")})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"tail", "-b", addr, "-t", "live", "-f", "raw"}, strings.NewReader(""), &out, &errb)
	}()
	waitFor(t, "the existing record", func() bool { return out.String() == "1\n" })
	runtest.Produce(t, addr, &kgo.Record{Topic: "live", Partition: 2, Value: []byte("2")})
	waitFor(t, "the new record", func() bool { return out.String() == "1\n2\n" })
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d after Ctrl-C: %s", code, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("tail did not stop after its context was canceled")
	}
}

func TestTailLatestSeesOnlyNewRecords(t *testing.T) {
	addr := newKafka(t, "news")
	runtest.Produce(t, addr, &kgo.Record{Topic: "news", Value: []byte("old")})
	var out, errb syncBuffer
	done := make(chan int)
	go func() {
		done <- run(context.Background(), []string{"tail", "-b", addr, "-t", "news", "-o", "latest", "-c", "2", "-f", "raw"},
			strings.NewReader(""), &out, &errb)
	}()
	// tail may not have read the end offsets yet, so keep producing until it
	// has printed two records.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case code := <-done:
			if code != 0 || out.String() != "new\nnew\n" {
				t.Errorf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
			}
			return
		case <-tick.C:
			runtest.Produce(t, addr, &kgo.Record{Topic: "news", Value: []byte("new")})
		case <-deadline:
			t.Fatal("tail -o latest -c 2 did not finish")
		}
	}
}

func TestKafkaCommandErrors(t *testing.T) {
	addr := newKafka(t, "t")
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"missing topic", []string{"tail", "-b", addr, "-t", "nope"}, 1, `eddy: topic "nope" does not exist`},
		{"missing partition", []string{"tail", "-b", addr, "-t", "t", "-p", "3"}, 1, `topic "t" has no partition 3`},
		{"tail without topic", []string{"tail", "-b", addr}, 2, "-t TOPIC"},
		{"tail bad offset", []string{"tail", "-b", addr, "-t", "t", "-o", "soon"}, 2, `-o: start position "soon": want earliest, latest, offset:N`},
		{"tail bad time", []string{"tail", "-b", addr, "-t", "t", "-o", "@yesterday"}, 2, `-o: start position "@yesterday": @ needs an RFC 3339 time`},
		{"tail future duration", []string{"tail", "-b", addr, "-t", "t", "-o", "@15m"}, 2, "must not be positive"},
		{"tail bad format", []string{"tail", "-b", addr, "-t", "t", "-f", "xml"}, 2, `-f "xml"`},
		{"tail bad where", []string{"tail", "-b", addr, "-t", "t", "--where", "n >"}, 2, "--where"},
		{"tail negative count", []string{"tail", "-b", addr, "-t", "t", "-c", "-1"}, 2, "-c -1"},
		{"tail extra argument", []string{"tail", "-b", addr, "-t", "t", "extra"}, 2, "accepts 0 arg(s)"},
		{"tail unknown flag", []string{"tail", "-b", addr, "-t", "t", "--nope"}, 2, "unknown flag"},
		{"no brokers", []string{"tail", "-t", "t"}, 2, "no brokers"},
		{"bad -X", []string{"topics", "-b", addr, "-X", "sasl.password"}, 2, "expected key=value"},
		{"produce without topic", []string{"produce", "-b", addr}, 2, "-t TOPIC"},
		{"produce count without fixture", []string{"produce", "-b", addr, "-t", "t", "--count", "5"}, 2, "--count needs --fixture"},
		{"produce unknown fixture", []string{"produce", "-b", addr, "-t", "t", "--fixture", "nope"}, 2, `unknown fixture "nope"`},
		{"produce bad ratio", []string{"produce", "-b", addr, "-t", "t", "--fixture", "sensors", "--bad-ratio", "2"}, 2, "bad ratio"},
		{"produce zero partitions", []string{"produce", "-b", addr, "-t", "t", "--partitions", "0"}, 2, "--partitions 0"},
		{"produce negative rate", []string{"produce", "-b", addr, "-t", "t", "--rate", "-1"}, 2, "--rate -1"},
		{"topics extra argument", []string{"topics", "-b", addr, "x"}, 2, "accepts 0 arg(s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, "", tt.args...)
			if code != tt.wantCode || !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tt.wantCode, tt.wantStderr)
			}
		})
	}
	// Reading a missing topic must not create it.
	if code, out, _ := runCLI(t, "", "topics", "-b", addr); code != 0 || strings.Contains(out, "nope") {
		t.Errorf("topics after tail of a missing topic: exit %d\n%s", code, out)
	}
}

func TestUnreachableBroker(t *testing.T) {
	clearKafkaEnv(t)
	for _, args := range [][]string{
		{"tail", "-t", "x"},
		{"produce", "-t", "x"},
		{"topics"},
	} {
		start := time.Now()
		code, _, stderr := runCLI(t, "", append(args, "-b", "127.0.0.1:1")...)
		if code != 1 || !strings.HasPrefix(stderr, "eddy: cannot reach broker 127.0.0.1:1") || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
		if d := time.Since(start); d > connectTimeout+2*time.Second {
			t.Errorf("%v took %v", args, d)
		}
	}
}

func TestSilentBrokerTimesOut(t *testing.T) {
	clearKafkaEnv(t)
	defer func(d time.Duration) { connectTimeout = d }(connectTimeout)
	connectTimeout = time.Second
	// A listener that accepts connections and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var conns []net.Conn
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range conns {
					c.Close()
				}
				return
			}
			conns = append(conns, c)
		}
	}()
	start := time.Now()
	code, _, stderr := runCLI(t, "", "topics", "-b", ln.Addr().String())
	d := time.Since(start)
	if code != 1 || !strings.HasPrefix(stderr, "eddy: cannot reach broker") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if d > connectTimeout+2*time.Second {
		t.Errorf("gave up after %v, want about %v", d, connectTimeout)
	}
}

func TestProduceFixture(t *testing.T) {
	addr := newKafka(t)
	code, _, stderr := runCLI(t, "", "produce", "-b", addr, "-t", "nx", "--fixture", "nexmark", "--count", "1000", "--partitions", "4", "-v")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if want := "eddy: created topic nx (4 partitions, replication 1)\neddy: produced 1000 records to nx\n"; stderr != want {
		t.Errorf("stderr = %q, want %q", stderr, want)
	}
	lines := tailLines(t, "-b", addr, "-t", "nx", "-e")
	if len(lines) != 1000 {
		t.Fatalf("tail -e printed %d records, want 1000", len(lines))
	}
	kinds := map[string]int{}
	for _, l := range lines {
		var v struct {
			Type    string
			ID      json.Number
			Auction json.Number
		}
		if err := json.Unmarshal(l.Value, &v); err != nil {
			t.Fatalf("value %s: %v", l.Value, err)
		}
		kinds[v.Type]++
		want := v.ID.String()
		if v.Type == "bid" {
			want = v.Auction.String()
		}
		if keyOf(l) != want {
			t.Fatalf("%s record keyed %q, want %q: %s", v.Type, keyOf(l), want, l.Value)
		}
	}
	if kinds["bid"] == 0 || kinds["person"] == 0 || kinds["auction"] == 0 {
		t.Errorf("record types: %v", kinds)
	}
	if code, out, _ := runCLI(t, "", "topics", "-b", addr); code != 0 || !regexpLine(out, "nx", "4", "1", "1000") {
		t.Errorf("topics: exit %d\n%s", code, out)
	}
	// Producing again to the existing topic adds to it.
	code, _, stderr = runCLI(t, "", "produce", "-b", addr, "-t", "nx", "--fixture", "payments", "--count", "10", "--key", "merchant", "-v")
	if code != 0 || stderr != "eddy: produced 10 records to nx\n" {
		t.Errorf("second produce: exit %d, %q", code, stderr)
	}
}

func TestProduceStrict(t *testing.T) {
	addr := newKafka(t)
	code, _, stderr := runCLI(t, "{\"a\":1}\n\n{\"a\":\n", "produce", "-b", addr, "-t", "s", "--strict")
	if code != 1 || !strings.Contains(stderr, "eddy: stdin line 3: not valid JSON (--strict)") ||
		!strings.Contains(stderr, "eddy: produced 1 records to s\n") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = runCLI(t, "", "produce", "-b", addr, "-t", "s", "--fixture", "sensors", "--count", "200", "--bad-ratio", "0.5", "--strict")
	if code != 1 || !strings.Contains(stderr, "sensors fixture line ") {
		t.Errorf("strict fixture with bad records: exit %d, stderr %q", code, stderr)
	}
}

func TestProduceRate(t *testing.T) {
	addr := newKafka(t, "paced")
	start := time.Now()
	code, _, stderr := runCLI(t, "", "produce", "-b", addr, "-t", "paced", "--fixture", "sensors", "--count", "21", "--rate", "100")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	// 21 records at 100/s: the last may go 200 ms after the first.
	if d := time.Since(start); d < 190*time.Millisecond {
		t.Errorf("21 records at 100/s took %v", d)
	}
}

func TestTailOffsetFlags(t *testing.T) {
	for _, tt := range []struct {
		flags   []string
		start   string
		stopMs  int64
		wantErr string
	}{
		{nil, "earliest", -1, ""},
		{[]string{"-5"}, "last:5", -1, ""},
		{[]string{"s@1000", "e@2000"}, "time:1970-01-01T00:00:01.000Z", 2000, ""},
		{[]string{"e@2000"}, "earliest", 2000, ""},
		{[]string{"e@2000", "latest"}, "latest", 2000, ""},
		{[]string{"-5", "7"}, "", 0, "-o 7: give one start position, not two"},
		{[]string{"e@1", "e@2"}, "", 0, "-o e@2: give one stop time"},
		{[]string{"e@x"}, "", 0, `-o: start position "e@x": e@ needs epoch milliseconds`},
		{[]string{"first"}, "", 0, `-o: start position "first": want earliest, latest, offset:N, last:N, time:RFC3339 or time:-15m, or beginning, end, N, -N, s@MS`},
	} {
		start, stopMs, err := parseOffsets(tt.flags)
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseOffsets(%q) error = %v, want %q", tt.flags, err, tt.wantErr)
			}
		case err != nil:
			t.Errorf("parseOffsets(%q): %v", tt.flags, err)
		case start.String() != tt.start || stopMs != tt.stopMs:
			t.Errorf("parseOffsets(%q) = %s, %d, want %s, %d", tt.flags, start, stopMs, tt.start, tt.stopMs)
		}
	}
}

func TestTopicsAndGroupLag(t *testing.T) {
	addr := newKafka(t, "orders", "empty")
	var recs []*kgo.Record
	for i := range 10 {
		recs = append(recs, &kgo.Record{Topic: "orders", Partition: int32(i % 2), Value: []byte(strconv.Itoa(i))})
	}
	runtest.Produce(t, addr, recs...)

	// A group member reads 3 records of partition 0 and 5 of partition 1,
	// commits, and leaves.
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup("billing"), kgo.ConsumeTopics("orders"),
		kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var toCommit []*kgo.Record
	seen := map[int32]int{}
	for len(seen) < 2 || seen[0] < 5 || seen[1] < 5 {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			seen[r.Partition]++
			if (r.Partition == 0 && r.Offset < 3) || (r.Partition == 1 && r.Offset < 5) {
				toCommit = append(toCommit, r)
			}
		})
	}
	if err := cl.CommitRecords(ctx, toCommit...); err != nil {
		t.Fatal(err)
	}
	cl.Close()

	code, out, stderr := runCLI(t, "", "topics", "-b", addr, "--groups")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range [][]string{
		{"TOPIC", "PARTITIONS", "REPLICATION", "MESSAGES"},
		{"empty", "3", "1", "0"},
		{"orders", "3", "1", "10"},
		{"GROUP", "STATE", "MEMBERS", "TOPIC", "LAG"},
		// partition 0: 5-3, partition 1: 5-5, partition 2: no records.
		{"billing", "Empty", "0", "orders", "2"},
	} {
		if !regexpLine(out, want...) {
			t.Errorf("no line %v in:\n%s", want, out)
		}
	}
	if strings.Index(out, "empty") > strings.Index(out, "orders") {
		t.Errorf("topics not sorted:\n%s", out)
	}
	// Without --groups, no group table.
	if _, out, _ := runCLI(t, "", "topics", "-b", addr); strings.Contains(out, "GROUP") {
		t.Errorf("topics without --groups:\n%s", out)
	}
	if code, out, _ := runCLI(t, "", "topics", "-b", addr, "--all"); code != 0 || !regexpLine(out, "orders", "3", "1", "10") {
		t.Errorf("topics --all: exit %d\n%s", code, out)
	}
}

func TestProduceStopsOnCtrlCWhileStdinBlocks(t *testing.T) {
	addr := newKafka(t)
	stdin, w := io.Pipe()
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int)
	go func() { done <- run(ctx, []string{"produce", "-b", addr, "-t", "typed"}, stdin, &out, &errb) }()
	if _, err := w.Write([]byte("{\"a\":1}\n")); err != nil {
		t.Fatal(err)
	}
	// Once the line is read, stdin blocks: interrupt.
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	waitFor(t, "the first record", func() bool {
		ends, err := adm.ListEndOffsets(context.Background(), "typed")
		n := int64(0)
		ends.Each(func(o kadm.ListedOffset) { n += max(o.Offset, 0) })
		return err == nil && n == 1
	})
	cancel()
	select {
	case code := <-done:
		if code != 0 || errb.String() != "eddy: produced 1 records to typed\n" {
			t.Errorf("exit %d, stderr %q", code, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("produce did not stop on Ctrl-C while stdin was blocked")
	}
}

func TestKafkaFlagsSASL(t *testing.T) {
	clearKafkaEnv(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "eddy", "secret"), kfake.SeedTopics(1, "locked"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sasl := c.ListenAddrs()[0]
	t.Setenv("EDDY_SASL_PASSWORD", "secret")
	code, out, stderr := runCLI(t, "", "topics", "-b", sasl, "--sasl-mechanism", "SCRAM-SHA-512", "--sasl-user", "eddy")
	if code != 0 || !regexpLine(out, "locked", "1", "1", "0") {
		t.Errorf("password from the environment: exit %d, %s%s", code, out, stderr)
	}
	code, _, stderr = runCLI(t, "", "topics", "-b", sasl, "--sasl-mechanism", "SCRAM-SHA-512", "--sasl-user", "eddy", "-X", "sasl.password=wrong-secret")
	if code != 1 || strings.Contains(stderr, "wrong-secret") {
		t.Errorf("-X wins over the environment: exit %d, %s", code, stderr)
	}
}

func TestTailExitsAfterTransactionMarkers(t *testing.T) {
	addr := newKafka(t, "txn")
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.TransactionalID("eddy-test"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	for _, commit := range []kgo.TransactionEndTry{kgo.TryAbort, kgo.TryCommit} {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "txn", Value: []byte("a")}, &kgo.Record{Topic: "txn", Value: []byte("b")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := cl.EndTransaction(ctx, commit); err != nil {
			t.Fatal(err)
		}
	}
	// Partition 0 ends with a commit marker, which is not a record: -e must
	// still see that it reached the end.
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	code := run(ctx, []string{"tail", "-b", addr, "-t", "txn", "-e", "-f", "raw"}, strings.NewReader(""), &out, &errb)
	if ctx.Err() != nil {
		t.Fatalf("tail -e did not stop at the end of a transactional partition (stdout %q)", out.String())
	}
	// tail reads the log as written (read_uncommitted): aborted records show too.
	if code != 0 || out.String() != "a\nb\na\nb\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
}

// TestKafkaFlagsWhereTheyBelong: the connection flags are taken by the
// commands that talk to Kafka (before or after the command name, and by
// dlq's subcommands), listed in their help only, and refused by the others.
func TestKafkaFlagsWhereTheyBelong(t *testing.T) {
	addr := newKafka(t, "orders")
	for _, args := range [][]string{
		{"-b", addr, "tail", "-t", "nope"},
		{"tail", "-b", addr, "-t", "nope"},
		{"--brokers=" + addr, "-X", "client.id=x", "tail", "-t", "nope"},
		{"--tls-insecure-skip-verify=false", "-b", addr, "tail", "-t", "nope"},
	} {
		code, _, stderr := runCLI(t, "", args...)
		if code != 1 || !strings.Contains(stderr, `topic "nope" does not exist`) {
			t.Errorf("%q: exit %d, stderr %q: want the cluster to say the topic is missing", args, code, stderr)
		}
	}
	code, out, _ := runCLI(t, "", "-b", addr, "topics")
	if code != 0 || !strings.Contains(out, "orders") {
		t.Errorf("-b ADDR topics: exit %d, %q", code, out)
	}
	// a bool flag before the command must not swallow the command name
	if code, out, stderr := runCLI(t, "", "--tls", "tail", "--help"); code != 0 || !strings.HasPrefix(out, "tail prints") {
		t.Errorf("--tls tail --help: exit %d, stdout %.40q, stderr %q", code, out, stderr)
	}
	for _, cmd := range [][]string{{"run"}, {"tail"}, {"produce"}, {"topics"}, {"dlq"}, {"dlq", "list"}, {"dlq", "replay"}, {"export"}, {"tui"}, {"sql"}, {"deploy"}} {
		_, out, _ := runCLI(t, "", append(cmd, "--help")...)
		for _, f := range []string{"--brokers", "--kafka-config", "--property", "--tls-ca", "--sasl-user"} {
			if !strings.Contains(out, f) {
				t.Errorf("%s --help does not list %s", strings.Join(cmd, " "), f)
			}
		}
	}
	// sql takes them for --dialect flink (the Kafka tables' connection)
	for _, cmd := range [][]string{{"gen"}, {"demo"}, {"state", "inspect"}, {"version"}, {}} {
		_, out, _ := runCLI(t, "", append(cmd, "--help")...)
		for _, f := range []string{"--brokers", "--kafka-config", "--tls", "--sasl"} {
			if strings.Contains(out, f) {
				t.Errorf("eddy %s --help lists %s", strings.Join(cmd, " "), f)
			}
		}
	}
	if code, _, stderr := runCLI(t, "", "-b", addr, "gen"); code != 2 || !strings.Contains(stderr, "unknown shorthand flag: 'b'") {
		t.Errorf("-b ADDR gen: exit %d, %q", code, stderr)
	}
}

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, rewriting it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (-update rewrites it):\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

// TestTailLayouts: -f takes kcat-style layouts (franz-go's RecordFormatter),
// and raw is the layout %v\n.
func TestTailLayouts(t *testing.T) {
	addr := newKafka(t, "orders")
	ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	runtest.Produce(t, addr,
		&kgo.Record{Topic: "orders", Partition: 0, Timestamp: ts, Key: []byte("ada"), Value: []byte(`{"amount":12.5}`),
			Headers: []kgo.RecordHeader{{Key: "source", Value: []byte("web")}, {Key: "trace", Value: []byte("t1")}}},
		&kgo.Record{Topic: "orders", Partition: 0, Timestamp: ts.Add(1500 * time.Millisecond), Value: []byte("not json")},
		&kgo.Record{Topic: "orders", Partition: 2, Timestamp: ts.Add(time.Minute), Key: []byte("bob"), Value: []byte(`{"amount":99}`)})
	var out strings.Builder
	for _, layout := range []string{
		`%t %p %o %k %v\n`,
		`%p:%o\t%d %d{go#RFC3339#} key=%k(%K) value=%V bytes, %H headers:%h{ %k=%v}\n`,
		`100%% %v\n`,
		"raw",
	} {
		code, stdout, stderr := runCLI(t, "", "tail", "-b", addr, "-t", "orders", "-e", "-p", "0", "-f", layout)
		if code != 0 {
			t.Fatalf("-f %q: exit %d: %s", layout, code, stderr)
		}
		fmt.Fprintf(&out, "-f %s\n%s\n", layout, stdout)
	}
	golden(t, "tail-layouts.golden", out.String())
	code, _, stderr := runCLI(t, "", "tail", "-b", addr, "-t", "orders", "-f", "%d{nope}")
	if code != 2 || !strings.Contains(stderr, `tail: -f "%d{nope}"`) {
		t.Errorf("bad layout: exit %d, %q", code, stderr)
	}
}

// TestProduceKcatFlags: -K splits the key off each line, -H adds headers
// to every record and -p sends them all to one partition, as in kcat.
func TestProduceKcatFlags(t *testing.T) {
	addr := newKafka(t)
	in := "u1:{\"n\":1}\nno delimiter\nu2:{\"n\":2}:x\n"
	code, _, stderr := runCLI(t, in, "produce", "-b", addr, "-t", "kc", "-K:", "-H", "src=kcat", "-H", "v=", "-p", "2")
	if code != 0 || !strings.Contains(stderr, "eddy: produced 3 records to kc\n") {
		t.Fatalf("produce: exit %d: %s", code, stderr)
	}
	recs := runtest.TopicRecords(t, addr, "kc")
	want := map[string]string{`{"n":1}`: "u1", "no delimiter": "", `{"n":2}:x`: "u2"}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d", len(recs), len(want))
	}
	for _, r := range recs {
		k, ok := want[string(r.Value)]
		if !ok || string(r.Key) != k {
			t.Errorf("record key %q value %q, want key %q", r.Key, r.Value, k)
		}
		if r.Partition != 2 {
			t.Errorf("record %q in partition %d, want 2", r.Value, r.Partition)
		}
		if len(r.Headers) != 2 || r.Headers[0].Key != "src" || string(r.Headers[0].Value) != "kcat" || r.Headers[1].Key != "v" || len(r.Headers[1].Value) != 0 {
			t.Errorf("record %q headers %+v", r.Value, r.Headers)
		}
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-p", "7"}, "-p 7: kc has partitions 0 to 2"},
		{[]string{"-H", "novalue"}, `-H "novalue": want KEY=VALUE`},
		{[]string{"-K:", "--key", "id"}, "-K splits keys off stdin lines"},
	} {
		code, _, stderr := runCLI(t, "", append([]string{"produce", "-b", addr, "-t", "kc"}, tt.args...)...)
		if code != 2 || !strings.Contains(stderr, tt.want) {
			t.Errorf("produce %v: exit %d %q, want 2 and %q", tt.args, code, stderr, tt.want)
		}
	}
}

// TestContexts: --context picks a named cluster from the config file,
// $EDDY_CONTEXT and the file's current: stand in for it, -b still wins,
// and a context the file does not define is a usage error naming it.
func TestContexts(t *testing.T) {
	addr := newKafka(t, "only-here")
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte("current: dead\ncontexts:\n  dead: {brokers: 127.0.0.1:1}\n  good:\n    brokers: ["+addr+"]\n    properties: {client.id: ctx-test}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("EDDY_CONFIG", cfg)
	listsTopic := func(args ...string) bool {
		code, out, _ := runCLI(t, "", append([]string{"topics"}, args...)...)
		return code == 0 && strings.Contains(out, "only-here")
	}
	if !listsTopic("--context", "good") {
		t.Error("--context good did not reach the cluster")
	}
	if !listsTopic("-b", addr) {
		t.Error("-b did not win over the current context")
	}
	t.Setenv("EDDY_CONTEXT", "good")
	if !listsTopic() {
		t.Error("$EDDY_CONTEXT did not select the context")
	}
	code, _, stderr := runCLI(t, "", "topics", "--context", "prod")
	if code != 2 || !strings.Contains(stderr, `context "prod" is not in `+cfg+" (defined: dead, good)") {
		t.Errorf("unknown context: %d %s", code, stderr)
	}
	code, out, _ := runCLI(t, "", "contexts")
	if code != 0 || !strings.Contains(out, "       dead  127.0.0.1:1") || !strings.Contains(out, "*        good  "+addr) {
		t.Errorf("contexts: %d\n%s", code, out)
	}
}

// TestCompleteTopics: the shell's completion of -t asks the cluster for
// its topics, on every command that takes one.
func TestCompleteTopics(t *testing.T) {
	addr := newKafka(t, "orders", "orders.dlq", "payments")
	for _, args := range [][]string{
		{"tail", "-b", addr, "-t", "ord"},
		{"dlq", "replay", "-b", addr, "-t", "ord"},
		{"groups", "reset", "g", "-b", addr, "-t", "ord"},
	} {
		code, out, stderr := runCLI(t, "", append([]string{"__complete"}, args...)...)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != 0 || len(lines) != 3 || lines[0] != "orders" || lines[1] != "orders.dlq" || !strings.HasPrefix(lines[2], ":") {
			t.Errorf("complete %v: %d %q %s", args, code, out, stderr)
		}
	}
}

// TestTailValueFormat: tail -s avro prints Avro values as JSON through the
// registry (franz-go's srfake here; TestIntegrationRegistry uses a real
// one), a value it cannot decode as it is with a count at the end, and
// --where sees the decoded fields.
func TestTailValueFormat(t *testing.T) {
	addr := newKafka(t, "bids")
	reg := srfake.New()
	defer reg.Close()
	schema := `{"type":"record","name":"Bid","fields":[{"name":"auction","type":"long"},{"name":"bidder","type":["null","string"]}]}`
	reg.SeedSchema("bids-value", 1, 7, sr.Schema{Schema: schema, Type: sr.TypeAvro})
	s := avro.MustParse(schema)
	var recs []*kgo.Record
	for i, b := range []map[string]any{{"auction": 1, "bidder": "ada"}, {"auction": 2, "bidder": nil}} {
		payload, err := avro.Marshal(s, b)
		if err != nil {
			t.Fatal(err)
		}
		var h sr.ConfluentHeader
		v, _ := h.AppendEncode(nil, 7, nil)
		recs = append(recs, &kgo.Record{Topic: "bids", Partition: int32(i), Value: append(v, payload...)})
	}
	recs = append(recs, &kgo.Record{Topic: "bids", Partition: 2, Value: []byte(`{"plain":"json"}`)})
	runtest.Produce(t, addr, recs...)

	code, out, stderr := runCLI(t, "", "tail", "-b", addr, "-t", "bids", "-e", "-f", "%v\n", "-s", "avro", "--schema-registry", reg.URL())
	got := runtest.SortedLines(out)
	want := []string{`{"auction":1,"bidder":"ada"}`, `{"auction":2,"bidder":null}`, `{"plain":"json"}`}
	if code != 0 || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("tail -s avro: %d\n%s\nwant\n%s\n%s", code, strings.Join(got, "\n"), strings.Join(want, "\n"), stderr)
	}
	if !strings.Contains(stderr, "eddy: 1 values could not be decoded as avro and were printed as they are (first: bids/2@0: wrong magic byte") {
		t.Errorf("stderr: %s", stderr)
	}
	code, out, _ = runCLI(t, "", "tail", "-b", addr, "-t", "bids", "-e", "-f", "%v\n", "-s", "value=avro", "--schema-registry", reg.URL(), "--where", `bidder == "ada"`)
	if code != 0 || strings.TrimSpace(out) != `{"auction":1,"bidder":"ada"}` {
		t.Errorf("tail -s value=avro --where: %d %q", code, out)
	}
	if code, _, stderr := runCLI(t, "", "tail", "-b", addr, "-t", "bids", "-e", "-s", "avro"); code != 2 || !strings.Contains(stderr, "needs a schema registry") {
		t.Errorf("no registry: %d %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "", "tail", "-b", addr, "-t", "bids", "-e", "-s", "thrift"); code != 2 || !strings.Contains(stderr, `--value-format "thrift"`) {
		t.Errorf("unknown format: %d %s", code, stderr)
	}
}
