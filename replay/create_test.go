package replay

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestReplayToMissingTopic: a --to topic that does not exist is created by
// a cluster that creates topics on first use (as for kcat or the Java
// producer), or with Create on one that does not; without either the
// replay is refused naming the topic, and a dry run creates nothing.
func TestReplayToMissingTopic(t *testing.T) {
	for _, tt := range []struct {
		name       string
		auto       bool
		create     bool
		dry        bool
		wantErr    bool
		wantExists bool
		wantParts  int
	}{
		{name: "cluster creates on first use", auto: true, wantExists: true},
		{name: "--create", create: true, wantExists: true, wantParts: 3},
		{name: "refused", wantErr: true},
		{name: "dry run creates nothing", auto: true, dry: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opts := []kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(3, "dlq")}
			if tt.auto {
				opts = append(opts, kfake.AllowAutoTopicCreation())
			}
			c, err := kfake.NewCluster(opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			conn := []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}
			for i := range 3 {
				produce(t, conn, &kgo.Record{Topic: "dlq", Partition: int32(i), Value: fmt.Appendf(nil, `{"i":%d}`, i)})
			}
			rep, err := Run(context.Background(), conn, Options{Topic: "dlq", To: "fresh", Create: tt.create, DryRun: tt.dry, MaxReplays: 3})
			if tt.wantErr {
				if !errors.Is(err, ErrNoTopic) {
					t.Fatalf("want ErrNoTopic, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rep.Missing != "fresh" || rep.Created == tt.dry {
				t.Errorf("report: Missing = %q, Created = %v", rep.Missing, rep.Created)
			}
			cl, err := kgo.NewClient(conn...)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			tds, err := kadm.NewClient(cl).ListTopics(context.Background(), "fresh")
			if err != nil {
				t.Fatal(err)
			}
			td, exists := tds["fresh"]
			exists = exists && td.Err == nil
			if exists != tt.wantExists {
				t.Fatalf("topic exists: %v, want %v", exists, tt.wantExists)
			}
			if tt.wantParts > 0 && len(td.Partitions) != tt.wantParts {
				t.Errorf("created with %d partitions, want %d (the dead-letter topic's)", len(td.Partitions), tt.wantParts)
			}
			if exists && !tt.dry {
				if got := len(readTopic(t, conn, "fresh", true)); got != 3 {
					t.Errorf("fresh holds %d records, want 3", got)
				}
			}
		})
	}
}
