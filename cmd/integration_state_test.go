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
