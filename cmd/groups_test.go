package cmd

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/internal/runtest"
)

// TestGroupsReset: the plan of each target, a dry run that changes
// nothing, --execute that commits it, describe that shows it, and the
// refusals (active members, a missing topic, bad flags).
func TestGroupsReset(t *testing.T) {
	clearKafkaEnv(t)
	addr := runtest.Cluster(t, "ev")
	var recs []*kgo.Record
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 30 { // 10 per partition, stamped a minute apart
		recs = append(recs, &kgo.Record{Topic: "ev", Partition: int32(i % 3), Value: fmt.Appendf(nil, `{"i":%d}`, i),
			Timestamp: base.Add(time.Duration(i/3) * time.Minute)})
	}
	runtest.Produce(t, addr, recs...)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx := context.Background()
	commit := func(at int64) {
		var os kadm.Offsets
		for p := range int32(3) {
			os.AddOffset("ev", p, at, -1)
		}
		if _, err := adm.CommitOffsets(ctx, "g", os); err != nil {
			t.Fatal(err)
		}
	}
	committed := func() []int64 {
		fo, err := adm.FetchOffsets(ctx, "g")
		if err != nil {
			t.Fatal(err)
		}
		var at []int64
		for p := range int32(3) {
			o, _ := fo.Lookup("ev", p)
			at = append(at, o.At)
		}
		return at
	}
	for _, tt := range []struct {
		name string
		args []string
		want int64
	}{
		{"earliest", []string{"--to", "earliest"}, 0},
		{"latest", []string{"--to", "latest"}, 10},
		{"offset", []string{"--to", "offset:4"}, 4},
		{"kcat offset", []string{"--to", "7"}, 7},
		{"time", []string{"--to", "time:2026-01-01T00:03:00Z"}, 3},
		{"shift back", []string{"--shift-by", "-2"}, 3},
		{"shift past the end is clamped", []string{"--shift-by", "100"}, 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			commit(5)
			args := append([]string{"-b", addr, "groups", "reset", "g", "-t", "ev"}, tt.args...)
			code, out, stderr := runCLI(t, "", args...)
			if code != 0 || !strings.Contains(stderr, "dry run: nothing committed") {
				t.Fatalf("dry run: %d %s", code, stderr)
			}
			if want := fmt.Sprintf("ev     0          5        %d", tt.want); !strings.Contains(out, want) {
				t.Errorf("plan does not show %q:\n%s", want, out)
			}
			if got := committed(); got[0] != 5 || got[1] != 5 || got[2] != 5 {
				t.Fatalf("a dry run moved the group: %v", got)
			}
			if code, _, stderr := runCLI(t, "", append(args, "--execute")...); code != 0 || !strings.Contains(stderr, "group g moved on 3 partitions of ev") {
				t.Fatalf("execute: %d %s", code, stderr)
			}
			if got := committed(); got[0] != tt.want || got[1] != tt.want || got[2] != tt.want {
				t.Errorf("committed %v, want %d on each partition", got, tt.want)
			}
		})
	}
	commit(6)
	code, out, stderr := runCLI(t, "", "-b", addr, "groups", "describe", "g")
	if code != 0 || !strings.Contains(out, "group g: state Empty, 0 members") || !strings.Contains(out, "ev     1          6          10   4    -") {
		t.Errorf("describe: %d %s\n%s", code, stderr, out)
	}

	member, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup("busy"), kgo.ConsumeTopics("ev"))
	if err != nil {
		t.Fatal(err)
	}
	defer member.Close()
	pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	member.PollFetches(pctx)
	for _, tt := range []struct {
		args     []string
		wantCode int
		want     string
	}{
		{[]string{"busy", "-t", "ev", "--to", "earliest", "--execute"}, 1, "group busy: the group has active members"},
		{[]string{"g", "-t", "nope", "--to", "earliest"}, 1, "topic nope does not exist"},
		{[]string{"g", "-t", "ev"}, 2, "one of --to POSITION or --shift-by N"},
		{[]string{"g", "-t", "ev", "--to", "earliest", "--shift-by", "1"}, 2, "one of --to POSITION or --shift-by N"},
		{[]string{"g", "--to", "earliest"}, 2, "name the topics with -t TOPIC"},
		{[]string{"g", "-t", "ev", "--to", "yesterday"}, 2, `--to: start position "yesterday"`},
	} {
		code, _, stderr := runCLI(t, "", append([]string{"-b", addr, "groups", "reset"}, tt.args...)...)
		if code != tt.wantCode || !strings.Contains(stderr, tt.want) {
			t.Errorf("reset %v: %d %q, want %d and %q", tt.args, code, stderr, tt.wantCode, tt.want)
		}
	}
}

// TestWorkbenchGroupLister: the workbench's :groups reads each group's
// commit, end and lag per partition from the cluster.
func TestWorkbenchGroupLister(t *testing.T) {
	addr := runtest.Cluster(t, "ev")
	var recs []*kgo.Record
	for i := range 9 {
		recs = append(recs, &kgo.Record{Topic: "ev", Partition: int32(i % 3), Value: []byte(`{}`)})
	}
	runtest.Produce(t, addr, recs...)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var os kadm.Offsets
	os.AddOffset("ev", 0, 1, -1)
	os.AddOffset("ev", 1, 3, -1)
	if _, err := adm.CommitOffsets(context.Background(), "g", os); err != nil {
		t.Fatal(err)
	}
	lags, err := groupLister(adm)(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[int32]string{}
	for _, l := range lags {
		if l.Group == "g" && l.Topic == "ev" {
			got[l.Partition] = fmt.Sprintf("%d/%d lag %d", l.Committed, l.End, l.Lag)
		}
	}
	if got[0] != "1/3 lag 2" || got[1] != "3/3 lag 0" {
		t.Errorf("lags %v", got)
	}
}
