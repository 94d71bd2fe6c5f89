package job

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/internal/runtest"
	"github.com/eddyhq/eddy/pipeline"
)

// TestStateKafkaStartLatest checks that a restart resumes where the first
// run started even when it read nothing: start: latest is not computed
// anew (the records produced in between would be skipped).
func TestStateKafkaStartLatest(t *testing.T) {
	addr := runtest.Cluster(t, "ev")
	produce := func(from, to int) {
		var recs []*kgo.Record
		for i := from; i <= to; i++ {
			recs = append(recs, &kgo.Record{Topic: "ev", Partition: int32(i % 3), Value: fmt.Appendf(nil, `{"i":%d}`, i)})
		}
		runtest.Produce(t, addr, recs...)
	}
	produce(1, 10)
	dir := t.TempDir()
	p := runtest.WriteFile(t, dir, "p.yaml", "source: {kafka: {brokers: ["+addr+"], topic: ev, start: latest, stop: caught-up}}\n"+
		"sinks: [{file: out.jsonl}]\nstate: {dir: st}\n")
	if err, stderr, _ := faultRun(t, p, ""); err != nil || !strings.Contains(stderr, "eddy: in=0 ") {
		t.Fatalf("first run: %v %s", err, stderr)
	}
	produce(11, 15)
	if err, stderr, _ := faultRun(t, p, ""); err != nil || !strings.Contains(stderr, "eddy: in=5 passed=5 ") {
		t.Fatalf("second run: %v %s", err, stderr)
	}
	out, _ := os.ReadFile(filepath.Join(dir, "out.jsonl"))
	for i := 11; i <= 15; i++ {
		if !bytes.Contains(out, fmt.Appendf(nil, `{"i":%d}`, i)) {
			t.Errorf("record %d missing from the output:\n%s", i, out)
		}
	}
}

// TestStateGroupWithMembers refuses a state run whose source group has an
// active member: eddy would read every partition beside it. It is a
// runtime error (the group may be empty on the next try), not a SpecError.
func TestStateGroupWithMembers(t *testing.T) {
	addr := runtest.Cluster(t, "busy")
	runtest.Produce(t, addr, &kgo.Record{Topic: "busy", Value: []byte(`{"i":1}`)})
	member, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup("busy-g"), kgo.ConsumeTopics("busy"))
	if err != nil {
		t.Fatal(err)
	}
	defer member.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if fs := member.PollFetches(ctx); ctx.Err() != nil {
		t.Fatalf("the member did not join: %v", fs.Err())
	}
	dir := t.TempDir()
	p := runtest.WriteFile(t, dir, "p.yaml", "source: {kafka: {brokers: ["+addr+"], topic: busy, group: busy-g, stop: caught-up}}\nsinks: [{file: out.jsonl}]\nstate: {dir: st}\n")
	err, stderr, _ := faultRun(t, p, "")
	if err == nil || errors.As(err, new(*SpecError)) || !strings.Contains(err.Error(), "consumer group busy-g has 1 active member(s)") {
		t.Errorf("state with a busy group: %v\n%s", err, stderr)
	}
}

// TestBrokersFlagWins: Options.Brokers (eddy's -b) replaces the brokers the
// spec names for its source and for the sinks and dead letters on that
// cluster, says so at start, and leaves a sink naming another cluster there.
func TestBrokersFlagWins(t *testing.T) {
	flag := runtest.Cluster(t, "ev", "out", "ev.dlq")
	other := runtest.Cluster(t, "elsewhere")
	runtest.Produce(t, flag, &kgo.Record{Topic: "ev", Value: []byte(`{"i":1}`)}, &kgo.Record{Topic: "ev", Value: []byte(`not json`)})
	const stale = "127.0.0.1:1" // the spec's cluster, which is not there
	dir := t.TempDir()
	spec := runtest.WriteFile(t, dir, "p.yaml", "source: {kafka: {brokers: ["+stale+"], topic: ev, stop: caught-up}}\n"+
		"sinks:\n  - kafka: {brokers: ["+stale+"], topic: out}\n  - kafka: {brokers: ["+other+"], topic: elsewhere}\n"+
		"dlq: {kafka: {brokers: ["+stale+"], topic: ev.dlq}}\n")
	p, err := pipeline.Load(spec)
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	j, err := Open(ctx, p, Options{Stderr: &stderr, Brokers: flag})
	if err != nil {
		t.Fatalf("open: %v\n%s", err, stderr.String())
	}
	defer j.Close()
	if _, err := j.Run(ctx); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	if want := "eddy: reading ev from " + flag + " (from -b; the spec names " + stale + ")"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr does not say which brokers are read (%q):\n%s", want, stderr.String())
	}
	for _, c := range []struct{ addr, topic string }{{flag, "out"}, {flag, "ev.dlq"}, {other, "elsewhere"}} {
		if n := len(runtest.TopicRecords(t, c.addr, c.topic)); n != 1 {
			t.Errorf("%s on %s holds %d records, want 1", c.topic, c.addr, n)
		}
	}
}
