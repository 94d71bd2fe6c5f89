//go:build integration

package cmd

import (
	"context"
	"testing"
	"time"
)

// TestIntegrationStateKilled runs the kill -9 test of the state store
// (killedKafka) against the real broker: one-partition topics, a Kafka sink
// in transactions, SIGKILL at random moments, restart until done.
func TestIntegrationStateKilled(t *testing.T) {
	env := itSetup(t)
	bin := itBuild(t)
	adm := itAdmin(t, env.brokers)
	in, ref, r1, r2 := itName("state.bids"), itName("state.ref"), itName("state.results1"), itName("state.results2")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, topic := range []string{in, ref, r1, r2} {
		resp, err := adm.CreateTopic(ctx, 1, 1, nil, topic)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			t.Fatalf("create topic %s: %v", topic, err)
		}
	}
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
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, topic := range []string{in, ref, r1, r2} {
		parts := int32(1)
		if i == 0 {
			parts = 3
		}
		resp, err := adm.CreateTopic(ctx, parts, 1, nil, topic)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			t.Fatalf("create topic %s: %v", topic, err)
		}
	}
	killedGroupLate(t, bin, env.brokers, itName("g"), in, ref, r1, r2)
}
