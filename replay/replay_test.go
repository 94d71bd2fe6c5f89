package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
)

// eddyLetter is a dead letter as eddy writes it: record id is in the value.
func eddyLetter(id int, part int32, origin string, replays int) *kgo.Record {
	return &kgo.Record{Topic: "dlq", Partition: part, Key: []byte("k" + strconv.Itoa(id)),
		Value: fmt.Appendf(nil, `{"id":%d,"amount":"%d.50"}`, id, id),
		Headers: hdrs("trace", "t"+strconv.Itoa(id),
			"eddy.error", `amount: cannot coerce "x" to int`, "eddy.stage", "0:coerce",
			"eddy.source.topic", origin, "eddy.source.partition", "0", "eddy.source.offset", strconv.Itoa(id),
			"eddy.source.timestamp", "2026-01-01T00:00:00.000Z", "eddy.pipeline", "p",
			"eddy.replay.count", strconv.Itoa(replays))}
}

// mixedLetters: 3 eddy letters to orders, one Connect and one Spring letter
// to payments, one eddy letter at the cap, one without an origin, one from
// a file source.
func mixedLetters() []*kgo.Record {
	recs := []*kgo.Record{eddyLetter(1, 0, "orders", 0), eddyLetter(2, 1, "orders", 1), eddyLetter(3, 2, "orders", 2)}
	recs = append(recs,
		&kgo.Record{Topic: "dlq", Partition: 0, Key: []byte("k4"), Value: []byte(`{"id":4}`),
			Headers: hdrs("__connect.errors.topic", "payments", "__connect.errors.partition", "0", "__connect.errors.offset", "9",
				"__connect.errors.exception.class.name", "org.apache.kafka.connect.errors.DataException")},
		&kgo.Record{Topic: "dlq", Partition: 1, Value: []byte(`{"id":5}`),
			Headers: hdrs("kafka_dlt-original-topic", "payments", "kafka_dlt-original-partition", be32(1),
				"kafka_dlt-original-offset", be64(3), "kafka_dlt-original-timestamp", be64(1767225600000),
				"kafka_dlt-exception-fqcn", "java.lang.IllegalArgumentException")},
		eddyLetter(6, 2, "orders", 3),
		&kgo.Record{Topic: "dlq", Partition: 0, Value: []byte(`{"id":7}`), Headers: hdrs("x", "y")},
		&kgo.Record{Topic: "dlq", Partition: 1, Value: []byte(`{"id":8}`),
			Headers: hdrs("eddy.error", "ts: missing event time", "eddy.stage", "time", "eddy.source.file", "in.jsonl", "eddy.source.line", "3")},
	)
	return recs
}

func ids(t *testing.T, recs []*kgo.Record) map[int]int {
	t.Helper()
	m := map[int]int{}
	for _, r := range recs {
		var v struct{ ID int }
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatalf("value %q: %v", r.Value, err)
		}
		m[v.ID]++
	}
	return m
}

func TestReplayToOriginal(t *testing.T) {
	conn := newCluster(t, "dlq", "orders", "payments")
	produce(t, conn, mixedLetters()...)
	rep, err := Run(context.Background(), conn, Options{Topic: "dlq", To: ToOriginal, MaxReplays: 3})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Count[Replayed] != 5 || rep.Count[Parked] != 1 || rep.Count[Skipped] != 2 || rep.Failed != 0 || rep.Letters != 8 {
		t.Fatalf("report: %+v", rep)
	}
	if rep.Skips[SkipNoOrigin] != 1 || rep.Skips[SkipFileOrigin] != 1 {
		t.Errorf("skips: %v", rep.Skips)
	}
	if rep.Targets["orders"] != 3 || rep.Targets["payments"] != 2 || rep.Targets["dlq.parked"] != 1 {
		t.Errorf("targets: %v", rep.Targets)
	}

	orders := readTopic(t, conn, "orders", true)
	if got := ids(t, orders); len(got) != 3 || got[1] != 1 || got[2] != 1 || got[3] != 1 {
		t.Fatalf("orders: %v", got)
	}
	for _, r := range orders {
		h := headerMap(r)
		id := ids(t, []*kgo.Record{r})
		for n := range id {
			if string(r.Key) != "k"+strconv.Itoa(n) || h["trace"] != "t"+strconv.Itoa(n) {
				t.Errorf("record %d lost its key or headers: %q %v", n, r.Key, h)
			}
			if h["eddy.replay.count"] != strconv.Itoa(n) { // letters 1..3 had counts 0..2
				t.Errorf("record %d: eddy.replay.count %q, want %d", n, h["eddy.replay.count"], n)
			}
		}
		if len(h) != 2 {
			t.Errorf("dead-letter headers not dropped: %v", h)
		}
		if r.Timestamp.UnixMilli() != 1767225600000 {
			t.Errorf("timestamp %v, want the origin's", r.Timestamp)
		}
	}
	payments := readTopic(t, conn, "payments", true)
	if got := ids(t, payments); len(got) != 2 || got[4] != 1 || got[5] != 1 {
		t.Fatalf("payments: %v", got)
	}
	for _, r := range payments {
		if h := headerMap(r); len(h) != 1 || h["eddy.replay.count"] != "1" {
			t.Errorf("Connect/Spring record replayed with headers %v, want only eddy.replay.count=1", h)
		}
	}
	parked := readTopic(t, conn, "dlq.parked", true)
	if len(parked) != 1 {
		t.Fatalf("parked: %d records", len(parked))
	}
	want := eddyLetter(6, 2, "orders", 3)
	if string(parked[0].Value) != string(want.Value) || string(parked[0].Key) != string(want.Key) || len(parked[0].Headers) != len(want.Headers) {
		t.Errorf("parked record changed: %q %q %v", parked[0].Key, parked[0].Value, headerMap(parked[0]))
	}
	// Progress is committed: every partition at its end.
	if got := committedOffsets(t, conn, DefaultGroup("dlq"), "dlq"); got[0] != 3 || got[1] != 3 || got[2] != 2 {
		t.Errorf("committed offsets %v, want 0:3 1:3 2:2", got)
	}

	// Scanning from the group's offsets finds nothing left.
	left := 0
	if err := Scan(context.Background(), conn, "dlq", ScanOptions{Group: DefaultGroup("dlq")}, func(*Letter) error { left++; return nil }); err != nil || left != 0 {
		t.Errorf("scan from the group: %d letters, %v", left, err)
	}

	// A second run of a finished replay does nothing.
	rep, err = Run(context.Background(), conn, Options{Topic: "dlq", To: ToOriginal, MaxReplays: 3})
	if err != nil || rep.Total != 0 || rep.Letters != 0 {
		t.Fatalf("second run: %+v %v", rep, err)
	}
	if n := len(readTopic(t, conn, "orders", false)); n != 3 {
		t.Errorf("orders has %d records after the second run, want 3", n)
	}
}

// spreadLetters is n dead letters from orders, over partitions 0 to 2.
func spreadLetters(n int) []*kgo.Record {
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, eddyLetter(i, int32(i%3), "orders", 0))
	}
	return recs
}

// TestReplayRate: --rate spaces the records replayed. The bound is a lower
// one only, so a slow machine cannot fail it.
func TestReplayRate(t *testing.T) {
	conn := newCluster(t, "dlq", "fixed")
	produce(t, conn, spreadLetters(21)...)
	rep, err := Run(context.Background(), conn, Options{Topic: "dlq", To: "fixed", MaxReplays: 3, Group: "g", Rate: 100})
	if err != nil {
		t.Fatal(err)
	}
	// 21 records at 100/s: the last goes 200 ms after the first
	if rep.Replayed() != 21 || rep.Elapsed < 195*time.Millisecond {
		t.Errorf("replayed %d records at 100/s in %v, want 21 in at least 200ms", rep.Replayed(), rep.Elapsed)
	}
}

func TestReplayToTopicWhere(t *testing.T) {
	conn := newCluster(t, "dlq", "fixed")
	produce(t, conn, mixedLetters()...)
	f, err := NewFilter(`convention != "eddy" || value.id == 8`)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), conn, Options{Topic: "dlq", To: "fixed", Where: f, MaxReplays: 3, Group: "g1"})
	if err != nil {
		t.Fatal(err)
	}
	// Connect, Spring, the headerless one and the file one are selected.
	if got := ids(t, readTopic(t, conn, "fixed", true)); len(got) != 4 || got[4] != 1 || got[5] != 1 || got[7] != 1 || got[8] != 1 {
		t.Fatalf("fixed: %v", got)
	}
	if rep.Count[Skipped] != 4 || rep.Skips[SkipNotSelected] != 4 {
		t.Errorf("skips: %v", rep.Skips)
	}
	// The group is at the end, so records not selected are passed over.
	if got := committedOffsets(t, conn, "g1", "dlq"); got[0] != 3 || got[1] != 3 || got[2] != 2 {
		t.Errorf("committed offsets %v", got)
	}
	if _, err := Run(context.Background(), conn, Options{Topic: "dlq", To: "nosuch", MaxReplays: 3, Group: "g2"}); !errors.Is(err, ErrNoTopic) {
		t.Errorf("missing target: %v", err)
	}
}

// A replay killed after its second transaction produced its records but
// before it committed, and one cancelled after its first commit, both
// resume; every record ends up in the target exactly once for
// read_committed readers.
func TestReplayInterruptedExactlyOnce(t *testing.T) {
	const n = 120
	conn := newCluster(t, "dlq", "orders")
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, eddyLetter(i, int32(i%3), "orders", 0))
	}
	produce(t, conn, recs...)
	o := Options{Topic: "dlq", To: ToOriginal, MaxReplays: 3, BatchSize: 10}

	crash := errors.New("killed")
	testHookBeforeEnd = func(txn int) error {
		if txn == 2 {
			return crash
		}
		return nil
	}
	rep, err := Run(context.Background(), conn, o)
	testHookBeforeEnd = nil
	if !errors.Is(err, crash) {
		t.Fatalf("crash run: %v", err)
	}
	if rep.Count[Replayed] != 10 {
		t.Fatalf("crash run committed %d records, want 10", rep.Count[Replayed])
	}
	if got := len(readTopic(t, conn, "orders", false)); got != 20 {
		t.Fatalf("read_uncommitted sees %d records after the crash, want 20 (10 committed, 10 in the open transaction)", got)
	}

	ctx, cancel := context.WithCancel(context.Background())
	o.Progress = func(p Progress) { cancel() } // after the first commit
	rep, err = Run(ctx, conn, o)
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("cancelled run: %v", err)
	}
	if rep.Count[Replayed] != 10 {
		t.Fatalf("cancelled run committed %d records, want 10", rep.Count[Replayed])
	}

	o.Progress = nil
	rep, err = Run(context.Background(), conn, o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Count[Replayed] != n-20 {
		t.Errorf("last run replayed %d, want %d", rep.Count[Replayed], n-20)
	}
	got := ids(t, readTopic(t, conn, "orders", true))
	if len(got) != n {
		t.Fatalf("read_committed sees %d distinct records, want %d", len(got), n)
	}
	for id, c := range got {
		if c != 1 {
			t.Errorf("record %d seen %d times", id, c)
		}
	}
	// Only read_uncommitted readers see the aborted transaction's records.
	if u := len(readTopic(t, conn, "orders", false)); u < n+10 {
		t.Errorf("read_uncommitted sees %d records, want at least %d", u, n+10)
	}
	rep, err = Run(context.Background(), conn, o)
	if err != nil || rep.Letters != 0 {
		t.Fatalf("run after the end: %+v %v", rep, err)
	}
	if got := len(readTopic(t, conn, "orders", true)); got != n {
		t.Errorf("a finished replay run again added records: %d", got)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	conn := newCluster(t, "dlq", "orders", "payments")
	produce(t, conn, mixedLetters()...)
	rep, err := Run(context.Background(), conn, Options{Topic: "dlq", To: ToOriginal, MaxReplays: 3, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Count[Replayed] != 5 || rep.Count[Parked] != 1 || rep.Count[Skipped] != 2 {
		t.Fatalf("dry run report: %v", rep.Count)
	}
	var coerce *ClassCount
	for _, c := range rep.Classes() {
		if c.Class == "coerce: amount: cannot coerce" {
			coerce = c
		}
	}
	if coerce == nil || coerce.Count != 4 || coerce.By[Replayed] != 3 || coerce.By[Parked] != 1 {
		t.Errorf("coerce class: %+v", coerce)
	}
	p, err := pipeline.Parse("fix.yaml", []byte("stages:\n  - coerce: {amount: float}\n  - filter: id != 2\nsinks:\n  - kafka: {topic: orders}\ndlq: {kafka: {topic: again}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := pipeline.Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	opened := false
	th := &Through{Plan: plan,
		OpenSink: func(pipeline.Target) (sink.Sink, error) { opened = true; return nil, errors.New("opened") },
		OpenDead: func(*pipeline.Target) (sink.DeadLetters, error) { opened = true; return nil, errors.New("opened") }}
	rep, err = Run(context.Background(), conn, Options{Topic: "dlq", Through: th, MaxReplays: 3, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	// id 1 and 3 pass, 2 is filtered, 6 is parked, 4, 5 and 7 have no
	// amount and pass too; 8 (the file one) passes.
	if rep.Count[Passed] != 6 || rep.Count[Filtered] != 1 || rep.Count[Parked] != 1 || rep.Count[Dead] != 0 || opened {
		t.Errorf("through dry run: %v opened=%v", rep.Count, opened)
	}
	for _, topic := range []string{"orders", "payments", "dlq.parked", "again"} {
		if n := len(readTopic(t, conn, topic, false)); n != 0 {
			t.Errorf("dry run wrote %d records to %s", n, topic)
		}
	}
	if got := committedOffsets(t, conn, DefaultGroup("dlq"), "dlq"); len(got) != 0 {
		t.Errorf("dry run committed offsets: %v", got)
	}
}

// Through a pipeline, rows go to a Kafka sink inside the transactions, and
// records failing again go to the pipeline's dead-letter topic with the
// replay count carried.
func TestReplayThrough(t *testing.T) {
	conn := newCluster(t, "dlq", "fixed", "again")
	var recs []*kgo.Record
	for i := range 6 {
		r := eddyLetter(i, int32(i%3), "orders", 0)
		if i == 5 {
			r.Value = []byte(`{"id":5,"amount":"free"}`)
		}
		recs = append(recs, r)
	}
	produce(t, conn, recs...)
	p, err := pipeline.Parse("fix.yaml", []byte("name: fix\nstages:\n  - coerce: {amount: float}\nsinks:\n  - kafka: {topic: fixed}\ndlq: {kafka: {topic: again}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := pipeline.Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	th := &Through{Plan: plan,
		OpenSink: func(pipeline.Target) (sink.Sink, error) { return nil, errors.New("unexpected") },
		OpenDead: func(*pipeline.Target) (sink.DeadLetters, error) { return nil, errors.New("unexpected") }}
	rep, err := Run(context.Background(), conn, Options{Topic: "dlq", Through: th, MaxReplays: 3, BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Count[Passed] != 5 || rep.Count[Dead] != 1 || len(rep.Outside) != 0 {
		t.Fatalf("report: %v outside %v", rep.Count, rep.Outside)
	}
	fixed := readTopic(t, conn, "fixed", true)
	if len(fixed) != 5 {
		t.Fatalf("fixed: %d rows", len(fixed))
	}
	again := readTopic(t, conn, "again", true)
	if len(again) != 1 {
		t.Fatalf("again: %d", len(again))
	}
	l := Decode(again[0])
	if l.Replays != 1 || l.Class != "coerce: amount: cannot coerce" || l.Pipeline != "fix" || l.Origin.Topic != "orders" || *l.Origin.Offset != 5 {
		t.Errorf("dead again: %s", show(l))
	}
}

func TestReadFile(t *testing.T) {
	dls := []sink.DeadLetter{
		{Error: `price: cannot coerce "free" to float`, StageIndex: 1, StageKind: "coerce",
			Origin: sink.Origin{IsFile: true, File: "orders.jsonl", Line: 5}, Value: []byte(`{"price":"free"}`)},
		{Error: "invalid JSON at byte 0: unexpected 'ÿ'", StageIndex: -1, StageKind: "decode",
			Origin: sink.Origin{Topic: "orders", Partition: 2, Offset: 7, Timestamp: 1767225600000},
			Key:    []byte{0xff, 0x01}, Value: []byte{0xff, 0xfe},
			Headers: []sink.Header{{Key: "eddy.replay.count", Value: []byte("2")}, {Key: "bin", Value: []byte{0xff}}}},
	}
	var data []byte
	for i := range dls {
		data = sink.AppendDeadLetter(data, &dls[i])
		data = append(data, '\n')
		if i == 0 {
			data = append(data, "eddy: in=10 passed=2\n\n"...)
		}
	}
	path := t.TempDir() + "/dead.jsonl"
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var got []Letter
	var bad []*LineError
	err := ReadFile(path, func(l *Letter) error { got = append(got, *l); return nil },
		func(e *LineError) error { bad = append(bad, e); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || len(bad) != 1 || bad[0].Line != 2 {
		t.Fatalf("got %d letters, bad %v", len(got), bad)
	}
	a, b := got[0], got[1]
	if !a.InFile || a.Offset != 1 || a.Class != "coerce: price: cannot coerce" || a.Stage != "1:coerce" ||
		a.Origin.File != "orders.jsonl" || *a.Origin.Line != 5 || a.Key != nil || string(a.Value) != `{"price":"free"}` {
		t.Errorf("first: %s", show(a))
	}
	if b.Offset != 4 || b.Stage != "decode" || b.Class != "decode: invalid JSON at byte" || b.Origin.Topic != "orders" ||
		*b.Origin.Partition != 2 || *b.Origin.Offset != 7 || *b.Origin.Timestamp != 1767225600000 ||
		string(b.Key) != "\xff\x01" || string(b.Value) != "\xff\xfe" || b.Replays != 2 || string(b.Headers[1].Value) != "\xff" {
		t.Errorf("second: %s", show(b))
	}
	// A dry run over the file.
	rep, err := DryRunLetters(Options{To: ToOriginal, MaxReplays: 2}, func(fn func(*Letter) error) error {
		return ReadFile(path, fn, nil)
	})
	if err != nil || rep.Count[Skipped] != 1 || rep.Skips[SkipFileOrigin] != 1 || rep.Count[Parked] != 1 {
		t.Errorf("dry run of a file: %+v %v", rep, err)
	}
}

// Dead letters that arrive while a replay runs are left for the next run:
// neither replayed nor passed over by the committed offsets.
func TestReplayStopsAtStartEnd(t *testing.T) {
	conn := newCluster(t, "dlq", "orders")
	recs := spreadLetters(30)
	produce(t, conn, recs...)
	// Once the run knows where it stops, more dead letters arrive in every
	// partition: the first fetch holds records beyond the end.
	testHookPlanned = func() {
		for i := 100; i < 109; i++ {
			produce(t, conn, eddyLetter(i, int32(i%3), "orders", 0))
		}
	}
	o := Options{Topic: "dlq", To: ToOriginal, MaxReplays: 3, BatchSize: 4}
	rep, err := Run(context.Background(), conn, o)
	testHookPlanned = nil
	if err != nil {
		t.Fatal(err)
	}
	if rep.Count[Replayed] != 30 {
		t.Fatalf("replayed %d, want the 30 there at the start", rep.Count[Replayed])
	}
	if got := committedOffsets(t, conn, DefaultGroup("dlq"), "dlq"); got[0] != 10 || got[1] != 10 || got[2] != 10 {
		t.Errorf("committed %v, want 10 per partition", got)
	}
	rep, err = Run(context.Background(), conn, o)
	if err != nil || rep.Count[Replayed] != 9 {
		t.Fatalf("second run: %v %v", rep.Count, err)
	}
	got := ids(t, readTopic(t, conn, "orders", true))
	if len(got) != 39 {
		t.Errorf("orders has %d distinct records, want 39", len(got))
	}
	for id, c := range got {
		if c != 1 {
			t.Errorf("record %d seen %d times", id, c)
		}
	}
}

// A second replay with the same group fences the first: the first fails
// at its next commit, and every record still arrives exactly once.
func TestReplaySameGroupFences(t *testing.T) {
	const n = 40
	conn := newCluster(t, "dlq", "orders")
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, eddyLetter(i, int32(i%3), "orders", 0))
	}
	produce(t, conn, recs...)
	o := Options{Topic: "dlq", To: ToOriginal, MaxReplays: 3, BatchSize: 5}
	var second *Report
	var secondErr error
	started := false
	testHookBeforeEnd = func(txn int) error {
		if txn == 2 && !started {
			// the first run has produced its second batch: a second run starts
			started = true
			second, secondErr = Run(context.Background(), conn, o)
		}
		return nil
	}
	first, err := Run(context.Background(), conn, o)
	testHookBeforeEnd = nil
	if err == nil {
		t.Fatal("the fenced run succeeded")
	}
	if secondErr != nil {
		t.Fatalf("second run: %v", secondErr)
	}
	if first.Count[Replayed] != 5 || first.Failed != 5 || second.Count[Replayed] != n-5 {
		t.Errorf("first replayed %d (failed %d), second %d; want 5 (5), %d", first.Count[Replayed], first.Failed, second.Count[Replayed], n-5)
	}
	t.Logf("first run: %v", err)
	got := ids(t, readTopic(t, conn, "orders", true))
	if len(got) != n {
		t.Errorf("read_committed sees %d distinct records, want %d", len(got), n)
	}
	for id, c := range got {
		if c != 1 {
			t.Errorf("record %d seen %d times", id, c)
		}
	}
}
