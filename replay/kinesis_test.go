package replay

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
)

const testSeq = "49590338271490256608559692538361571095921575989136588850"

// kinesisLetter is a record of a Kinesis dead-letter stream as
// sink.KinesisDead writes it.
func kinesisLetter(t *testing.T, o sink.Origin, key, val string, headers ...sink.Header) *source.Record {
	t.Helper()
	d := &sink.DeadLetter{Error: `qty: cannot coerce "x" to int`, StageIndex: 1, StageKind: "coerce", Origin: o,
		Value: []byte(val), Headers: headers}
	if key != "" {
		d.Key = []byte(key)
	}
	return &source.Record{Key: []byte("dlq-key"), Value: sink.AppendDeadLetter(nil, d), Topic: "bids-dead",
		Partition: 2, Seq: "777", Timestamp: 1767225605000}
}

func TestLetterOfKinesisRecord(t *testing.T) {
	rec := kinesisLetter(t, sink.Origin{Topic: "bids", Partition: 3, Seq: testSeq, Timestamp: 1767225604000}, "a1", `{"qty":"x"}`)
	l := letterOf(rec)
	want := Origin{Topic: "bids", Partition: ptr[int32](3), Sequence: testSeq, Timestamp: ptr[int64](1767225604000)}
	if !reflect.DeepEqual(l.Origin, want) || len(l.Notes) != 0 {
		t.Fatalf("origin %+v notes %q, want %+v and no notes", l.Origin, l.Notes, want)
	}
	if l.Topic != "bids-dead" || l.Partition != 2 || l.InFile || string(l.Key) != "a1" || string(l.Value) != `{"qty":"x"}` ||
		l.Class != "coerce: qty: cannot coerce" || l.dlqKey != "dlq-key" || string(l.raw()) != string(rec.Value) {
		t.Fatalf("letter %+v", l)
	}
	bad := letterOf(&source.Record{Value: []byte("not json"), Topic: "bids-dead"})
	if bad.Convention != Unknown || len(bad.Notes) != 1 {
		t.Fatalf("a record that is not a dead letter: %+v", bad)
	}
}

func TestLedgerSaveLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "l.json")
	l, err := loadLedger(path, "dead")
	if err != nil || len(l.After) != 0 || l.Pending != nil {
		t.Fatalf("missing ledger: %+v, %v", l, err)
	}
	l.After["shardId-000000000000"] = "12"
	l.Replayed[RecordPos("bids", "shardId-000000000001", "5")] = 2
	l.Pending = &Pending{Since: time.UnixMilli(1767225604000).UTC(), After: map[string]string{"shardId-000000000000": "13"},
		Entries: []Entry{{Stream: "bids", Key: "k", Data: []byte{0, 1, 0xff}, Count: 1}}}
	if err := l.save(path); err != nil {
		t.Fatal(err)
	}
	got, err := loadLedger(path, "dead")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, l) {
		t.Fatalf("loaded %+v, want %+v", got, l)
	}
	if _, err := loadLedger(path, "other"); err == nil || !strings.Contains(err.Error(), "is for the dead-letter stream dead") {
		t.Fatalf("another stream's ledger: %v", err)
	}
	os.WriteFile(path, []byte(`{"version":9,"stream":"dead"}`), 0o644)
	if _, err := loadLedger(path, "dead"); err == nil || !strings.Contains(err.Error(), "version 9") {
		t.Fatalf("unknown version: %v", err)
	}
	if m, _ := filepath.Glob(path + ".*.tmp"); len(m) != 0 {
		t.Fatalf("temporary files left: %v", m)
	}
}

func TestLedgerLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "l.json")
	unlock, err := lockLedger(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lockLedger(path); err == nil || !strings.Contains(err.Error(), "in use by another replay") {
		t.Fatalf("second lock: %v", err)
	}
	unlock()
	unlock2, err := lockLedger(path)
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	unlock2()
}

func TestPendingMatch(t *testing.T) {
	entries := func() []Entry {
		return []Entry{
			{Stream: "a", Key: "k1", Data: []byte("x")},
			{Stream: "a", Key: "k1", Data: []byte("x")},
			{Stream: "a", Key: "k2", Data: []byte("y"), OriginShard: "s", OriginSeq: "10"},
			{Stream: "b", Key: "k1", Data: []byte("x"), Pos: "b/s/1"}, // put in this run already
		}
	}
	known := map[string]int{"a/s/1": 1}
	for _, tc := range []struct {
		name string
		recs []arrived
		want []string // Pos of each entry
	}{
		{"nothing arrived", nil, []string{"", "", "", "b/s/1"}},
		{"an earlier batch's record is not this batch's",
			[]arrived{{stream: "a", shard: "s", seq: "1", key: "k1", data: []byte("x")}}, []string{"", "", "", "b/s/1"}},
		{"the first of two equal entries",
			[]arrived{{stream: "a", shard: "s", seq: "2", key: "k1", data: []byte("x")}}, []string{"a/s/2", "", "", "b/s/1"}},
		{"all arrived, out of order",
			[]arrived{{stream: "a", shard: "t", seq: "3", key: "k2", data: []byte("y")}, {stream: "a", shard: "s", seq: "2", key: "k1", data: []byte("x")},
				{stream: "a", shard: "s", seq: "4", key: "k1", data: []byte("x")}}, []string{"a/s/2", "a/s/4", "a/t/3", "b/s/1"}},
		{"other key, data or stream is another record",
			[]arrived{{stream: "a", shard: "s", seq: "2", key: "k2", data: []byte("x")}, {stream: "a", shard: "s", seq: "3", key: "k1", data: []byte("y")},
				{stream: "c", shard: "s", seq: "1", key: "k1", data: []byte("x")}}, []string{"", "", "", "b/s/1"}},
		{"not the origin record or one before it in its shard",
			[]arrived{{stream: "a", shard: "s", seq: "9", key: "k2", data: []byte("y")}, {stream: "a", shard: "s", seq: "10", key: "k2", data: []byte("y")},
				{stream: "a", shard: "s", seq: "11", key: "k2", data: []byte("y")}}, []string{"", "", "a/s/11", "b/s/1"}},
		{"a copy in another shard than the origin's",
			[]arrived{{stream: "a", shard: "t", seq: "3", key: "k2", data: []byte("y")}}, []string{"", "", "a/t/3", "b/s/1"}},
		{"more equal records than entries",
			[]arrived{{stream: "a", shard: "s", seq: "2", key: "k1", data: []byte("x")}, {stream: "a", shard: "s", seq: "3", key: "k1", data: []byte("x")},
				{stream: "a", shard: "s", seq: "4", key: "k1", data: []byte("x")}}, []string{"a/s/2", "a/s/3", "", "b/s/1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &Pending{Entries: entries()}
			n := p.match(known, tc.recs)
			var got []string
			marked := 0
			for _, e := range p.Entries {
				got = append(got, e.Pos)
			}
			for i, w := range tc.want {
				if w != "" && i < 3 {
					marked++
				}
			}
			if !reflect.DeepEqual(got, tc.want) || n != marked {
				t.Fatalf("positions %q (%d marked), want %q (%d)", got, n, tc.want, marked)
			}
		})
	}
}

func TestCallOf(t *testing.T) {
	big := make([]byte, 2<<20)
	var es []Entry
	for range 600 {
		es = append(es, Entry{Stream: "a", Key: "k", Data: []byte("v")})
	}
	es = append(es, Entry{Stream: "b", Key: "k", Data: big}, Entry{Stream: "b", Key: "k", Data: big}, Entry{Stream: "b", Key: "k", Data: big})
	var todo []int
	for i := range es {
		todo = append(todo, i)
	}
	var sizes []int
	for len(todo) > 0 {
		c := callOf(es, todo)
		sizes = append(sizes, len(c))
		todo = todo[len(c):]
	}
	if want := []int{500, 100, 2, 1}; !reflect.DeepEqual(sizes, want) {
		t.Fatalf("calls of %v records, want %v (500 a call, one stream a call, 5 MiB a call)", sizes, want)
	}
}

// TestKinesisDecide covers what a replay from a Kinesis dead-letter stream
// does with each kind of letter; the streams' existence is given.
func TestKinesisDecide(t *testing.T) {
	kin := sink.Origin{Topic: "bids", Partition: 3, Seq: testSeq, Timestamp: 1767225604000}
	replayedPos := RecordPos("bids", "shardId-000000000003", testSeq)
	for _, tc := range []struct {
		name     string
		to       string
		rec      *source.Record
		replayed map[string]int
		want     verdict
		entry    *Entry // Data "" means the dead letter as stored
	}{
		{name: "to its stream", to: ToOriginal, rec: kinesisLetter(t, kin, "a1", `{"qty":"x"}`),
			want:  verdict{outcome: Replayed, target: "bids"},
			entry: &Entry{Stream: "bids", Key: "a1", Data: []byte(`{"qty":"x"}`), Count: 1, OriginShard: "shardId-000000000003", OriginSeq: testSeq}},
		{name: "without key: keyed by the origin", to: ToOriginal, rec: kinesisLetter(t, kin, "", `{}`),
			want:  verdict{outcome: Replayed, target: "bids"},
			entry: &Entry{Stream: "bids", Key: "bids/3", Data: []byte(`{}`), Count: 1, OriginShard: "shardId-000000000003", OriginSeq: testSeq}},
		{name: "to another stream", to: "fixed", rec: kinesisLetter(t, kin, "a1", `{}`),
			want:  verdict{outcome: Replayed, target: "fixed"},
			entry: &Entry{Stream: "fixed", Key: "a1", Data: []byte(`{}`), Count: 1}},
		{name: "replayed before: the ledger's count", to: ToOriginal, rec: kinesisLetter(t, kin, "a1", `{}`),
			replayed: map[string]int{replayedPos: 2},
			want:     verdict{outcome: Replayed, target: "bids"},
			entry:    &Entry{Stream: "bids", Key: "a1", Data: []byte(`{}`), Count: 3, OriginShard: "shardId-000000000003", OriginSeq: testSeq}},
		{name: "at the cap: parked as stored", to: ToOriginal, rec: kinesisLetter(t, kin, "a1", `{}`),
			replayed: map[string]int{replayedPos: 3},
			want:     verdict{outcome: Parked, target: "bids-dead.parked"},
			entry:    &Entry{Stream: "bids-dead.parked", Key: "dlq-key", Count: 3}},
		{name: "a Kafka origin", to: ToOriginal, rec: kinesisLetter(t, sink.Origin{Topic: "orders", Partition: 1, Offset: 4}, "k", `{}`),
			want: verdict{outcome: Skipped, reason: SkipNotKinesis}},
		{name: "a Kafka origin to a named stream", to: "fixed", rec: kinesisLetter(t, sink.Origin{Topic: "orders", Partition: 1, Offset: 4}, "k", `{}`),
			want:  verdict{outcome: Replayed, target: "fixed"},
			entry: &Entry{Stream: "fixed", Key: "k", Data: []byte(`{}`), Count: 1}},
		{name: "a file origin", to: ToOriginal, rec: kinesisLetter(t, sink.Origin{File: "in.jsonl", Line: 3, IsFile: true}, "", `{}`),
			want: verdict{outcome: Skipped, reason: SkipFileOrigin}},
		{name: "a stream that is gone", to: ToOriginal, rec: kinesisLetter(t, sink.Origin{Topic: "gone", Seq: "1"}, "k", `{}`),
			want: verdict{outcome: Skipped, reason: SkipNoStream + " (gone)"}},
		{name: "its own stream", to: ToOriginal, rec: kinesisLetter(t, sink.Origin{Topic: "bids-dead", Seq: "1"}, "k", `{}`),
			want: verdict{outcome: Skipped, reason: SkipSelf}},
		{name: "not a dead letter", to: ToOriginal, rec: &source.Record{Value: []byte(`{"price":1}`), Topic: "bids-dead"},
			want: verdict{outcome: Skipped, reason: SkipNotLetter}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			led := newLedger("bids-dead")
			for k, v := range tc.replayed {
				led.Replayed[k] = v
			}
			r := &krun{o: &KinesisOptions{Stream: "bids-dead", To: tc.to, MaxReplays: 3}, rep: &Report{}, led: led,
				parked: ParkedTopic("bids-dead"), exists: map[string]bool{"bids": true, "fixed": true, "gone": false, "bids-dead.parked": true}}
			l := letterOf(tc.rec)
			v, e, err := r.decide(context.Background(), &l)
			if err != nil {
				t.Fatal(err)
			}
			v.class, v.stage = "", ""
			if v != tc.want {
				t.Errorf("verdict %+v, want %+v", v, tc.want)
			}
			if tc.entry != nil && tc.entry.Data == nil {
				tc.entry.Data = tc.rec.Value
			}
			if !reflect.DeepEqual(e, tc.entry) {
				t.Errorf("entry %+v, want %+v", e, tc.entry)
			}
		})
	}
}

// TestKafkaReplaySkipsKinesisOrigins: a dead letter in a topic whose
// origin is a Kinesis stream is not produced to a topic named after the
// stream.
func TestKafkaReplaySkipsKinesisOrigins(t *testing.T) {
	l := Letter{Convention: Eddy, Origin: Origin{Topic: "bids", Partition: ptr[int32](0), Sequence: testSeq}}
	r := &run{o: &Options{Topic: "bids.dlq", To: ToOriginal, MaxReplays: 3}, rep: &Report{}}
	v, rec, err := r.decide(context.Background(), &l)
	if err != nil || rec != nil || v.outcome != Skipped || v.reason != SkipKinesisTopic {
		t.Fatalf("verdict %+v, record %v, %v: want skipped (%s)", v, rec, err, SkipKinesisTopic)
	}
}

func TestKinesisOptionsValidate(t *testing.T) {
	good := KinesisOptions{Stream: "d", To: ToOriginal, Ledger: "l"}
	for _, tc := range []struct {
		name string
		edit func(*KinesisOptions)
	}{
		{"no stream", func(o *KinesisOptions) { o.Stream = "" }},
		{"no target", func(o *KinesisOptions) { o.To = "" }},
		{"into itself", func(o *KinesisOptions) { o.To = "d" }},
		{"no ledger", func(o *KinesisOptions) { o.Ledger = "" }},
		{"batch over 500", func(o *KinesisOptions) { o.BatchSize = 501 }},
		{"negative cap", func(o *KinesisOptions) { o.MaxReplays = -1 }},
	} {
		o := good
		tc.edit(&o)
		if _, err := RunKinesis(context.Background(), nil, o); err == nil || errors.Is(err, ErrInterrupted) {
			t.Errorf("%s: %v, want a refusal", tc.name, err)
		}
	}
}
