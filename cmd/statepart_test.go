package cmd

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/internal/runtest"
)

// TestRunStateGroupWithMembers refuses a state run whose source group has
// an active member: eddy would read every partition beside it.
func TestRunStateGroupWithMembers(t *testing.T) {
	clearKafkaEnv(t)
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
	code, _, stderr := runCLI(t, "", "run", p)
	if code != 1 || !strings.Contains(stderr, "consumer group busy-g has 1 active member(s)") {
		t.Errorf("state with a busy group: exit %d\n%s", code, stderr)
	}
}
