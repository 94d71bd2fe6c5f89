package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddyhq/eddy/fixtures"
	"github.com/eddyhq/eddy/internal/runtest"
)

// produceLines produces each line, keyed by a hash of its position so the
// records spread over partitions; it waits for every ack.
func produceLines(t *testing.T, addr, topic string, lines []string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	for i, l := range lines {
		// a bid's auction decides its partition, so each partition is in event-time order
		var m map[string]any
		_ = json.Unmarshal([]byte(l), &m)
		p := int32(i % 3)
		if a, ok := m["auction"].(float64); ok {
			p = int32(int64(a) % 3)
		}
		cl.Produce(ctx, &kgo.Record{Topic: topic, Partition: p, Value: []byte(l),
			Headers: []kgo.RecordHeader{{Key: "origin", Value: []byte("test")}}}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func consumeAll(t *testing.T, addr, topic string) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var out []*kgo.Record
	for {
		f := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return out
		}
		out = append(out, f.Records()...)
	}
}

func genLines(t *testing.T, name string, o fixtures.Options) []string {
	var b bytes.Buffer
	if err := fixtures.Generate(&b, name, o); err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(b.String()), "\n")
}

// A windowed pipeline over a topic with stop: caught-up gives the same rows
// as the same pipeline over the file, writes rows to a topic keyed by the
// window key, and sends dead letters to a topic with eddy.* headers.
func TestRunKafkaMatchesFile(t *testing.T) {
	addr := runtest.Cluster(t, "bids")
	lines := genLines(t, "nexmark", fixtures.Options{Count: 5000, Seed: 3, Only: "bids", BadRatio: 0.01})
	produceLines(t, addr, "bids", lines)
	dir := t.TempDir()
	in := runtest.WriteFile(t, dir, "bids.jsonl", strings.Join(lines, "\n")+"\n")
	window := `time: {field: dateTime}
stages:
  - window: {tumbling: 1s, key: [auction], aggregate: {n: count(), top: max(price)}}
`
	fileSpec := runtest.WriteFile(t, dir, "file.yaml", window)
	code, fileOut, stderr := runCLI(t, "", "run", fileSpec, "--input", in, "--dlq", filepath.Join(dir, "dead.jsonl"))
	if code != 0 {
		t.Fatalf("file run: %d %s", code, stderr)
	}
	kafkaSpec := runtest.WriteFile(t, dir, "kafka.yaml", "name: bids-test\nsource: {kafka: {topic: bids, stop: caught-up}}\n"+window+
		"dlq: {kafka: {topic: bids.dlq}}\nsinks:\n  - kafka: {topic: results, key: [auction]}\n  - file: \"-\"\n")
	code, kafkaOut, stderr := runCLI(t, "", "-b", addr, "run", kafkaSpec)
	if code != 0 {
		t.Fatalf("kafka run: %d %s", code, stderr)
	}
	if f, k := runtest.SortedLines(fileOut), runtest.SortedLines(kafkaOut); strings.Join(f, "\n") != strings.Join(k, "\n") {
		t.Fatalf("kafka rows differ from file rows: %d vs %d rows", len(k), len(f))
	}
	if !strings.Contains(stderr, "in=5000 ") {
		t.Errorf("stats: %s", stderr)
	}
	results := consumeAll(t, addr, "results")
	if got, want := len(results), len(runtest.SortedLines(kafkaOut)); got != want {
		t.Errorf("results topic has %d rows, want %d", got, want)
	}
	for _, r := range results[:min(len(results), 20)] {
		var row map[string]any
		if err := json.Unmarshal(r.Value, &row); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprint(row["auction"]); string(r.Key) != want {
			t.Errorf("key %q, want %q", r.Key, want)
		}
	}
	dead := consumeAll(t, addr, "bids.dlq")
	if len(dead) == 0 {
		t.Fatal("no dead letters")
	}
	for _, d := range dead {
		h := map[string]string{}
		for _, x := range d.Headers {
			h[x.Key] = string(x.Value)
		}
		for _, k := range []string{"eddy.error", "eddy.stage", "eddy.source.topic", "eddy.source.partition", "eddy.source.offset", "eddy.source.timestamp", "eddy.pipeline", "eddy.replay.count"} {
			if _, ok := h[k]; !ok {
				t.Fatalf("dead letter lacks header %s: %v", k, h)
			}
		}
		if h["origin"] != "test" || h["eddy.source.topic"] != "bids" || h["eddy.pipeline"] != "bids-test" || h["eddy.replay.count"] != "0" {
			t.Fatalf("dead letter headers: %v", h)
		}
	}
}

// With a consumer group, offsets are committed when the run ends, so a
// second run reads only what was produced since.
func TestRunKafkaGroupResumes(t *testing.T) {
	addr := runtest.Cluster(t, "clicks")
	lines := genLines(t, "clickstream", fixtures.Options{Count: 3000, Seed: 5})
	produceLines(t, addr, "clicks", lines[:2000])
	dir := t.TempDir()
	spec := runtest.WriteFile(t, dir, "g.yaml", `source: {kafka: {topic: clicks, stop: caught-up, group: g1}}
time: {field: ts}
stages:
  - window: {tumbling: 10s, aggregate: {n: count()}}
sinks: [{file: out.jsonl}]
`)
	count := func() int64 {
		code, _, stderr := runCLI(t, "", "-b", addr, "run", spec)
		if code != 0 {
			t.Fatalf("run: %d %s", code, stderr)
		}
		var in int64
		fmt.Sscanf(stderr[strings.Index(stderr, "in="):], "in=%d", &in)
		return in
	}
	if n := count(); n != 2000 {
		t.Fatalf("first run read %d, want 2000", n)
	}
	produceLines(t, addr, "clicks", lines[2000:])
	if n := count(); n != 1000 {
		t.Fatalf("second run read %d, want 1000", n)
	}
	if n := count(); n != 0 {
		t.Fatalf("third run read %d, want 0", n)
	}
	if _, err := os.Stat(filepath.Join(dir, "out.jsonl")); err != nil {
		t.Fatal(err)
	}
}

func TestRunKafkaErrors(t *testing.T) {
	addr := runtest.Cluster(t, "exists")
	dir := t.TempDir()
	missing := runtest.WriteFile(t, dir, "m.yaml", "source: {kafka: {topic: nope, stop: caught-up}}\n")
	code, _, stderr := runCLI(t, "", "-b", addr, "run", missing)
	if code != 1 || !strings.Contains(stderr, `topic "nope" does not exist`) {
		t.Errorf("missing topic: %d %s", code, stderr)
	}
	start := time.Now()
	code, _, stderr = runCLI(t, "", "-b", "127.0.0.1:1", "run", missing)
	if code != 1 || !strings.Contains(stderr, "cannot reach broker 127.0.0.1:1") || time.Since(start) > 20*time.Second {
		t.Errorf("unreachable: %d %s after %v", code, stderr, time.Since(start))
	}
}

// TestRunKafkaTopicDeleted: a topic deleted under a caught-up run ends it
// with exit 1 and a message naming the topic (it used to wait forever).
func TestRunKafkaTopicDeleted(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "doomed"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]
	produceLines(t, addr, "doomed", []string{`{"ts":1}`, `{"ts":2}`, `{"ts":3}`})
	// no fetch succeeds, so the run is still waiting for the records when
	// the topic goes; the first fetch says the run has opened its source
	fetching := make(chan struct{})
	var once sync.Once
	c.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		once.Do(func() { close(fetching) })
		return nil, errors.New("fetches held"), true
	})
	dir := t.TempDir()
	spec := runtest.WriteFile(t, dir, "p.yaml", "source: {kafka: {topic: doomed, stop: caught-up}}\n")
	type result struct {
		code   int
		stderr string
	}
	done := make(chan result, 1)
	go func() {
		code, _, stderr := runCLI(t, "", "-b", addr, "run", spec, "--out", filepath.Join(dir, "o.jsonl"))
		done <- result{code, stderr}
	}()
	select {
	case <-fetching:
	case r := <-done:
		t.Fatalf("the run ended before fetching: exit %d, %s", r.code, r.stderr)
	}
	adm, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	if _, err := kadm.NewClient(adm).DeleteTopic(context.Background(), "doomed"); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		t.Logf("exit %d: %s", r.code, r.stderr)
		if r.code != 1 || !strings.Contains(r.stderr, `topic "doomed" was deleted`) {
			t.Errorf("exit %d, stderr %q; want 1 naming the deleted topic", r.code, r.stderr)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the run still waits 2 minutes after its topic was deleted")
	}
}
