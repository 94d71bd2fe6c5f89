//go:build integration

package cmd

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// TestIntegrationStateKilled runs the kill -9 test of the state store
// (killedKafka) against the real broker: one-partition topics, a Kafka sink
// in transactions, SIGKILL at random moments, restart until done.
func TestIntegrationStateKilled(t *testing.T) {
	env := itSetup(t)
	bin := itBuild(t)
	adm := itAdmin(t, env.brokers)
	in, ref, r1, r2 := itName("state.bids"), itName("state.ref"), itName("state.results1"), itName("state.results2")
	itCreateTopics(t, adm, 1, in, ref, r1, r2)
	killedKafka(t, bin, env.brokers, in, ref, r1, r2)
}

// TestIntegrationStateGroupPartitions runs the kill -9 test over three
// partitions read with a consumer group (killedGroupLate) against the real
// broker: DuckDB and Kafka sinks commit only at checkpoints, the group's
// offsets go into the Kafka sink's transaction (AddOffsetsToTxn and
// TxnOffsetCommit from outside the group), and every sink must hold each
// emitted row once.
func TestIntegrationStateGroupPartitions(t *testing.T) {
	env := itSetup(t)
	bin := itBuild(t)
	adm := itAdmin(t, env.brokers)
	in, ref, r1, r2 := itName("stateg.bids"), itName("stateg.ref"), itName("stateg.results1"), itName("stateg.results2")
	itCreateTopics(t, adm, 3, in)
	itCreateTopics(t, adm, 1, ref, r1, r2)
	killedGroupLate(t, bin, env.brokers, itName("g"), in, ref, r1, r2)
}

// itCreateTopics creates topics with parts partitions on the real broker.
func itCreateTopics(t *testing.T, adm *kadm.Client, parts int32, topics ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, topic := range topics {
		resp, err := adm.CreateTopic(ctx, parts, 1, nil, topic)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			t.Fatalf("create topic %s: %v", topic, err)
		}
	}
}
