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

// TestKafkaTxnMarker plays the crashes a checkpointed run can meet: a
// transaction committed with its marker (the checkpoint's number and the
// sink's row count in the group's offset metadata), then one left open by
// the crash, which the restarted sink fences; the marker read back is the
// committed one, and the rows kept for a redo commit again once.
func TestKafkaTxnMarker(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "rows", "in"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	conn := []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}
	ctx := context.Background()
	const id = "eddy-state.test"
	open := func(o KafkaTxnOptions) *Kafka {
		cl, err := kgo.NewClient(append(conn, kgo.TransactionalID(id), kgo.TransactionTimeout(time.Minute))...)
		if err != nil {
			t.Fatal(err)
		}
		k, err := NewKafkaTxn(ctx, cl, "rows", id, o)
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
	marker := func(k *Kafka, wantRows, wantSeq int64) {
		t.Helper()
		if rows, seq := k.Committed(); rows != wantRows || seq != wantSeq {
			t.Fatalf("Committed = %d, %d; want %d, %d", rows, seq, wantRows, wantSeq)
		}
	}
	o := KafkaTxnOptions{Group: "g", Redo: true}
	offsets := map[string]map[int32]int64{"in": {0: 10, 1: 20}}
	k := open(o)
	marker(k, 0, 0)
	write(k, 1, 3)
	if err := k.Commit(ctx, 1, offsets); err != nil {
		t.Fatal(err)
	}
	if err := k.Commit(ctx, 2, offsets); err != nil { // empty: the marker stays
		t.Fatal(err)
	}
	write(k, 4, 5) // in the open transaction when the process dies
	redo := k.AppendRedo(nil)
	k.p.cl.Flush(ctx)
	// no Close: the transaction stays open until the restarted sink fences it

	k = open(o)
	marker(k, 3, 2) // the empty commit moved the source group's offsets
	if got := committed(t, conn, "rows"); got != `{"n":1} {"n":2} {"n":3}` {
		t.Errorf("read_committed sees %s after the crash", got)
	}
	if err := k.Redo(ctx, redo, 3, map[string]map[int32]int64{"in": {0: 11, 1: 22}}); err != nil {
		t.Fatal(err)
	}
	if k.Rows() != 5 {
		t.Errorf("Rows = %d, want 5", k.Rows())
	}
	k.Close()
	k = open(o)
	marker(k, 5, 3)
	k.Close()
	if got, want := committed(t, conn, "rows"), `{"n":1} {"n":2} {"n":3} {"n":4} {"n":5}`; got != want {
		t.Errorf("read_committed sees %s\nwant %s", got, want)
	}
	cl, err := kgo.NewClient(conn...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	offs, err := kadm.NewClient(cl).FetchOffsets(ctx, "g")
	if err == nil {
		err = offs.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := offs.Lookup("in", 1); o.At != 22 || o.Metadata != "eddy checkpoint=3 rows=5" {
		t.Errorf("group g commits in/1 at %d with %q, want 22 with the marker of checkpoint 3", o.At, o.Metadata)
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
