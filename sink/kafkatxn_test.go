package sink

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKafkaTxnResume plays the crash a checkpointed run can meet: a
// transaction committed, then the process died before its checkpoint was
// stored. The restarted sink, given the older checkpoint, must skip the
// rows already committed, so read_committed readers see each row once.
func TestKafkaTxnResume(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "rows"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	conn := []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}
	ctx := context.Background()
	const id = "eddy-state.test"
	open := func() *Kafka {
		cl, err := kgo.NewClient(append(conn, kgo.TransactionalID(id), kgo.TransactionTimeout(time.Minute))...)
		if err != nil {
			t.Fatal(err)
		}
		k, err := NewKafkaTxn(ctx, cl, "rows", id, conn)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	write := func(k *Kafka, from, to int) {
		for i := from; i <= to; i++ {
			// keys spread the rows over both partitions
			if err := k.Write(&Row{JSON: fmt.Appendf(nil, `{"n":%d}`, i), Key: fmt.Appendf(nil, "k%d", i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	k := open()
	write(k, 1, 3)
	if err := k.Sync(); err != nil {
		t.Fatal(err)
	}
	rows := k.Progress() // the checkpoint that is stored
	positions, base := k.Positions()
	write(k, 4, 5)
	if err := k.Sync(); err != nil { // committed, but its checkpoint never stored
		t.Fatal(err)
	}
	write(k, 6, 6) // in the open transaction when the process dies
	k.p.cl.Flush(ctx)
	// no Close: the transaction stays open until the restarted sink fences it

	k = open()
	if err := k.Resume(ctx, rows, base, positions); err != nil {
		t.Fatal(err)
	}
	if k.txn.skip != 2 || k.Progress() != 3 {
		t.Fatalf("after Resume: skip %d, progress %d; want 2 and 3", k.txn.skip, k.Progress())
	}
	// the replay from the stored checkpoint reaches row 4, then a
	// checkpoint is taken while row 5 is still to be skipped, and the
	// process dies again
	write(k, 4, 4)
	if err := k.Sync(); err != nil {
		t.Fatal(err)
	}
	rows = k.Progress()
	positions, base = k.Positions()
	if rows != 4 {
		t.Fatalf("Progress while skipping = %d, want 4", rows)
	}
	k = open()
	if err := k.Resume(ctx, rows, base, positions); err != nil {
		t.Fatal(err)
	}
	write(k, 5, 7) // the replay from the second checkpoint
	if err := k.Sync(); err != nil {
		t.Fatal(err)
	}
	if k.Progress() != 7 {
		t.Errorf("Progress = %d, want 7", k.Progress())
	}
	k.Close()

	got := committed(t, conn, "rows")
	if want := `{"n":1} {"n":2} {"n":3} {"n":4} {"n":5} {"n":6} {"n":7}`; got != want {
		t.Errorf("read_committed sees %s\nwant %s", got, want)
	}
}

// committed returns the values of a topic's committed records, sorted.
func committed(t *testing.T, conn []kgo.Opt, topic string) string {
	t.Helper()
	cl, err := kgo.NewClient(append(conn, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListCommittedOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	left := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left[o.Partition] = o.Offset - 1
		}
	})
	var vals []string
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: %v", topic, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() {
				vals = append(vals, string(r.Value))
			}
			if r.Offset >= left[r.Partition] {
				delete(left, r.Partition)
			}
		})
	}
	slices.Sort(vals)
	return strings.Join(vals, " ")
}
