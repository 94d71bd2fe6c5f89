//go:build integration

package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/eddyhq/eddy/internal/awsconf"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
)

// kinesisEnv connects to moto's Kinesis (scripts/aws.sh).
func kinesisEnv(t *testing.T) *kinesis.Client {
	t.Helper()
	ep := os.Getenv("EDDY_TEST_AWS_ENDPOINT")
	if ep == "" {
		t.Skip("EDDY_TEST_AWS_ENDPOINT not set (export $(scripts/aws.sh up))")
	}
	cfg, err := awsconf.Load(context.Background(), awsconf.Options{Endpoint: ep})
	if err != nil {
		t.Fatal(err)
	}
	return kinesis.NewFromConfig(cfg)
}

func createStream(t *testing.T, cl *kinesis.Client, name string, shards int32) {
	t.Helper()
	ctx := context.Background()
	if _, err := cl.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(shards)}); err != nil {
		t.Fatal(err)
	}
	if err := kinesis.NewStreamExistsWaiter(cl).Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(name)}, time.Minute); err != nil {
		t.Fatal(err)
	}
}

// readStream reads every record of a stream until caught up.
func readStream(t *testing.T, cl *kinesis.Client, stream string) []source.Record {
	t.Helper()
	ctx := context.Background()
	src, err := source.OpenKinesis(ctx, cl, source.KinesisOptions{Stream: stream, Stop: "caught-up", Poll: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var out []source.Record
	for {
		b, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range b.Records {
			r.Key, r.Value = append([]byte(nil), r.Key...), append([]byte(nil), r.Value...)
			out = append(out, r)
		}
		src.Release(b)
	}
}

// TestIntegrationKinesisReplayCrash puts dead letters with Kinesis origins
// into a dead-letter stream (as a pipeline's Kinesis dlq does), replays
// them in batches of 25 and crashes once after a batch was put but before
// the ledger recorded it: the next run finds that batch's records in the
// target stream, puts none of them again, and finishes; the target holds
// each letter once, with its partition key. A run after that replays
// nothing, and a letter the ledger knows was replayed to the cap is parked.
func TestIntegrationKinesisReplayCrash(t *testing.T) {
	cl := kinesisEnv(t)
	ctx := context.Background()
	id := time.Now().UnixNano()
	dead, target := fmt.Sprintf("misc-dead-%d", id), fmt.Sprintf("misc-target-%d", id)
	createStream(t, cl, dead, 2)
	createStream(t, cl, target, 3)
	const n = 200
	// the original records, in the stream the letters go back to
	in := &kinesis.PutRecordsInput{StreamName: aws.String(target)}
	for i := range n {
		in.Records = append(in.Records, types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprintf("k%d", i%17)),
			Data: []byte(fmt.Sprintf(`{"id":%d,"qty":"x"}`, i))})
	}
	put, err := cl.PutRecords(ctx, in)
	if err != nil || aws.ToInt32(put.FailedRecordCount) != 0 {
		t.Fatalf("put the originals: %v", err)
	}
	w := sink.NewKinesisDead(cl, dead)
	for i := range n {
		shard, err := source.ShardNumber(aws.ToString(put.Records[i].ShardId))
		if err != nil {
			t.Fatal(err)
		}
		d := &sink.DeadLetter{Error: `qty: cannot coerce "x" to int`, StageIndex: 0, StageKind: "coerce",
			Origin: sink.Origin{Topic: target, Partition: shard, Seq: aws.ToString(put.Records[i].SequenceNumber), Timestamp: 1767225604000},
			Key:    []byte(aws.ToString(in.Records[i].PartitionKey)), Value: in.Records[i].Data}
		if err := w.WriteDead(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	ledger := filepath.Join(t.TempDir(), "ledger.json")
	o := KinesisOptions{Stream: dead, To: ToOriginal, Ledger: ledger, MaxReplays: 3, BatchSize: 25, Poll: 50 * time.Millisecond}

	dry := o
	dry.DryRun = true
	rep, err := RunKinesis(ctx, cl, dry)
	if err != nil || rep.Count[Replayed] != n || rep.Targets[target] != n {
		t.Fatalf("dry run: %+v, %v; want %d replayed to %s", rep, err, n, target)
	}
	if _, err := os.Stat(ledger); err == nil {
		t.Fatal("the dry run wrote a ledger")
	}
	if got := len(readStream(t, cl, target)); got != n {
		t.Fatalf("after the dry run the target holds %d records, want the %d originals", got, n)
	}

	crash := errors.New("crash")
	testHookKinesisPut = func(batch int) error {
		if batch == 3 {
			return crash
		}
		return nil
	}
	rep, err = RunKinesis(ctx, cl, o)
	testHookKinesisPut = nil
	if !errors.Is(err, crash) {
		t.Fatalf("first run: %v, want the crash", err)
	}
	first := rep.Count[Replayed]
	if first != 50 {
		t.Fatalf("first run committed %d letters, want two batches of 25", first)
	}
	rep, err = RunKinesis(ctx, cl, o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Recovered != 25 || rep.Resent != 0 || rep.Count[Replayed]+first+25 != n {
		t.Fatalf("second run: recovered %d, resent %d, replayed %d; want the 25 of the crashed batch found and the other %d replayed",
			rep.Recovered, rep.Resent, rep.Count[Replayed], n-first-25)
	}
	got := readStream(t, cl, target)
	seen := map[string]int{}
	for _, r := range got {
		seen[string(r.Value)]++
		var i int
		fmt.Sscanf(string(r.Value), `{"id":%d`, &i)
		if want := fmt.Sprintf("k%d", i%17); string(r.Key) != want {
			t.Errorf("record %s has key %q, want %q", r.Value, r.Key, want)
		}
	}
	for i := range n {
		if v := fmt.Sprintf(`{"id":%d,"qty":"x"}`, i); seen[v] != 2 {
			t.Errorf("letter %d is in the target %d times, want twice (the original and its replay)", i, seen[v])
		}
	}
	if len(got) != 2*n {
		t.Fatalf("target holds %d records, want %d", len(got), 2*n)
	}
	rep, err = RunKinesis(ctx, cl, o)
	if err != nil || rep.Done != 0 || rep.Replayed() != 0 {
		t.Fatalf("third run: %+v, %v; want nothing to replay", rep, err)
	}

	// A replayed record that failed again: its letter's origin is the
	// replayed record, whose count (1) the ledger has.
	r := got[len(got)-1]
	d := &sink.DeadLetter{Error: "again", StageIndex: 0, StageKind: "coerce", Key: r.Key, Value: r.Value,
		Origin: sink.Origin{Topic: target, Partition: r.Partition, Seq: r.Seq}}
	w = sink.NewKinesisDead(cl, dead)
	if err := w.WriteDead(d); err != nil || w.Close() != nil {
		t.Fatal(err)
	}
	capped := o
	capped.MaxReplays = 1
	rep, err = RunKinesis(ctx, cl, capped)
	if err != nil || rep.Count[Parked] != 1 || rep.Replayed() != 0 {
		t.Fatalf("capped run: %+v, %v; want the letter parked", rep, err)
	}
	parked := readStream(t, cl, ParkedTopic(dead))
	if len(parked) != 1 || !strings.Contains(string(parked[0].Value), `"error":"again"`) {
		t.Fatalf("parked stream: %v, want the dead letter as stored", parked)
	}
}
