// Package runtest holds what the tests of runs share (cmd's and job's): an
// in-process Kafka cluster, generated input, the pipeline of the restore
// tests and comparisons of outputs with an uninterrupted run's. Tests only.
package runtest

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // the "duckdb" driver of TableRows
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/fixtures"
	"github.com/eddyhq/eddy/replay"
)

// Cluster starts an in-process Kafka-protocol cluster with three
// partitions per seeded topic and returns its address.
func Cluster(t testing.TB, topics ...string) string {
	t.Helper()
	return ClusterPartitions(t, 3, topics...)
}

// ClusterPartitions is Cluster with n partitions per seeded topic.
func ClusterPartitions(t testing.TB, n int32, topics ...string) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(n, topics...), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

// Produce produces recs and waits for every ack.
func Produce(t testing.TB, addr string, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// ProducePartitioned produces n bids (GenBids) to topic, record i to
// partition i % 3.
func ProducePartitioned(t testing.TB, addr, topic string, n int) {
	t.Helper()
	var recs []*kgo.Record
	for i, l := range bytes.Split(bytes.TrimSpace(GenBids(t, "", n)), []byte("\n")) {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i % 3), Value: l})
	}
	Produce(t, addr, recs...)
}

// GenBids returns n nexmark bids with disorder and a few malformed records,
// and writes them to path unless it is "".
func GenBids(t testing.TB, path string, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := fixtures.Generate(&buf, "nexmark", fixtures.Options{Count: n, Seed: 11, Only: "bids", BadRatio: 0.002, Disorder: 3 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if path != "" {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// StateSpec is a pipeline over source with every kind of cell state,
// revisions, late records and dead letters, writing to a file, a DuckDB
// table and a dead-letter file in dir, checkpointing every 20 ms. The
// table commits every 300 rows, so most kills leave rows committed after
// the last checkpoint, which the restarted run must skip.
func StateSpec(source string) string {
	return source + `
time: {field: dateTime, max_out_of_order: 1s, allowed_lateness: 1s}
stages:
  - filter: price > 500
  - window:
      tumbling: 10s
      key: [auction]
      aggregate:
        n: count()
        hi: max(price)
        bidders: count_distinct(bidder)
        p90: "quantile(price, 0.9)"
        first: first(channel)
sinks:
  - file: out.jsonl
  - duckdb: {path: out.duckdb, table: bids, batch_rows: 300}
dlq: {file: dead.jsonl}
state: {dir: st, checkpoint_every: 20ms}
`
}

// PartSpec is StateSpec (with min(channel) for first(channel), below) over
// a three-partition topic with a Kafka sink
// to results as well; group, when not empty, is the source's group.
func PartSpec(addr, in, results, group, timeCfg string) string {
	src := "source: {kafka: {brokers: [" + addr + "], topic: " + in + ", stop: caught-up"
	if group != "" {
		src += ", group: " + group
	}
	s := strings.Replace(StateSpec(src+"}}"), "dlq:", "  - kafka: {topic: "+results+"}\ndlq:", 1)
	// first() breaks a tie of event times by arrival, and the arrival order
	// of three partitions differs from run to run (the bids' disorder gives
	// some bids of an auction the same millisecond): min() does not depend
	// on it, so every row stays determined by the input
	s = strings.Replace(s, "first: first(channel)", "first: min(channel)", 1)
	return strings.Replace(s, "time: {field: dateTime, max_out_of_order: 1s, allowed_lateness: 1s}", "time: "+timeCfg, 1)
}

// WriteFile writes content to dir/name and returns the path.
func WriteFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// StatsLine returns the last "eddy: in=..." line of stderr.
func StatsLine(stderr string) string {
	var last string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "eddy: in=") {
			last = l
		}
	}
	return last
}

// TableRows returns every row of a DuckDB table as text, sorted, so two
// tables compare as multisets (duplicates and losses both show).
func TableRows(t testing.TB, path, table string) []string {
	t.Helper()
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT CAST(COLUMNS(*) AS VARCHAR) FROM " + table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, v := range vals {
			fmt.Fprintf(&b, "%s|", v.String)
		}
		out = append(out, b.String())
	}
	slices.Sort(out)
	return out
}

// SameFiles compares the file sink and the dead letters in dir with those
// of the reference run.
func SameFiles(t testing.TB, ref, dir string) {
	t.Helper()
	for _, f := range []string{"out.jsonl", "dead.jsonl"} {
		want, _ := os.ReadFile(filepath.Join(ref, f))
		got, _ := os.ReadFile(filepath.Join(dir, f))
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the uninterrupted run's: %d lines, want %d", f, bytes.Count(got, []byte("\n")), bytes.Count(want, []byte("\n")))
		}
	}
}

// SameOutputs compares the outputs in dir with those of the reference run.
func SameOutputs(t testing.TB, ref, dir string) {
	t.Helper()
	SameFiles(t, ref, dir)
	want, got := TableRows(t, filepath.Join(ref, "out.duckdb"), "bids"), TableRows(t, filepath.Join(dir, "out.duckdb"), "bids")
	if !slices.Equal(got, want) {
		t.Errorf("DuckDB table differs from the uninterrupted run's: %d rows, want %d", len(got), len(want))
	}
}

// SameRows requires the file, the DuckDB table and the read_committed
// topic written in dir to hold the rows want (sorted lines) and wantTable
// (sorted TableRows), as multisets.
func SameRows(t testing.TB, addr, dir, topic string, want, wantTable []string) {
	t.Helper()
	if got := SortedFile(t, filepath.Join(dir, "out.jsonl")); !slices.Equal(got, want) {
		t.Errorf("file: %d rows, want the %d of the uninterrupted run%s", len(got), len(want), firstDiff(got, want))
	}
	if got := TableRows(t, filepath.Join(dir, "out.duckdb"), "bids"); !slices.Equal(got, wantTable) {
		t.Errorf("DuckDB table: %d rows, want the %d of the uninterrupted run%s", len(got), len(wantTable), firstDiff(got, wantTable))
	}
	if got := SortedTopic(t, addr, topic); !slices.Equal(got, want) {
		t.Errorf("read_committed sees %d rows in %s, want the %d of the uninterrupted run%s", len(got), topic, len(want), firstDiff(got, want))
	}
}

// firstDiff describes where two sorted row lists first differ.
func firstDiff(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("; first difference at row %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
	return ""
}

// TopicRecords returns the records read_committed readers see in topic.
func TopicRecords(t testing.TB, addr, topic string) []replay.Letter {
	t.Helper()
	var out []replay.Letter
	err := replay.Scan(context.Background(), []kgo.Opt{kgo.SeedBrokers(addr)}, topic, replay.ScanOptions{}, func(l *replay.Letter) error {
		out = append(out, *l)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// SortedTopic returns the values read_committed readers see in topic, sorted.
func SortedTopic(t testing.TB, addr, topic string) []string {
	t.Helper()
	var out []string
	for _, l := range TopicRecords(t, addr, topic) {
		out = append(out, string(l.Value))
	}
	slices.Sort(out)
	return out
}

// SortedFile returns the lines of a file, sorted.
func SortedFile(t testing.TB, path string) []string {
	t.Helper()
	b, _ := os.ReadFile(path)
	return SortedLines(string(b))
}

// SortedLines returns the lines of s, sorted.
func SortedLines(s string) []string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	slices.Sort(l)
	return l
}

// Stats are the counters of a run's "eddy: in=..." line.
type Stats struct{ In, Passed, Filtered, Dead, Late, Rows int }

// ParseStats reads the counters of a StatsLine.
func ParseStats(t testing.TB, line string) Stats {
	t.Helper()
	var s Stats
	if _, err := fmt.Sscanf(line, "eddy: in=%d passed=%d filtered=%d dead=%d late=%d rows=%d", &s.In, &s.Passed, &s.Filtered, &s.Dead, &s.Late, &s.Rows); err != nil {
		t.Fatalf("counters %q: %v", line, err)
	}
	return s
}

// CheckGroupRun checks what a run of PartSpec with late records read with
// the consumer group from the topic in, and restarted (killed or failed)
// any number of times, left in dir and the topic it wrote to, whose rows
// depend on the read order: the file, the DuckDB table and the
// read_committed topic hold the same rows, as many as the final counter
// (stats, the last run's counters line) says; no (window, key, revision)
// twice; the last revisions count every passed record once; in, filtered,
// dead and passed+late match the uninterrupted run's (refStats); the
// group's committed offsets are the input's end offsets, with a marker.
func CheckGroupRun(t testing.TB, addr, in, group, dir, topic, refStats, stats string) {
	t.Helper()
	ref, got := ParseStats(t, refStats), ParseStats(t, stats)
	if got.In != ref.In || got.Filtered != ref.Filtered || got.Dead != ref.Dead || got.Passed+got.Late != ref.Passed+ref.Late {
		t.Errorf("counters %s do not add up to the uninterrupted run's %s", stats, refStats)
	}
	file := SortedFile(t, filepath.Join(dir, "out.jsonl"))
	if len(file) != got.Rows {
		t.Errorf("file: %d rows, the counters say %d", len(file), got.Rows)
	}
	if kafka := SortedTopic(t, addr, topic); !slices.Equal(kafka, file) {
		t.Errorf("read_committed sees %d rows in %s, the file holds %d: they differ", len(kafka), topic, len(file))
	}
	if n := len(TableRows(t, filepath.Join(dir, "out.duckdb"), "bids")); n != got.Rows {
		t.Errorf("DuckDB table: %d rows, want %d", n, got.Rows)
	}
	db, err := sql.Open("duckdb", filepath.Join(dir, "out.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	var dup, counted int
	if err := db.QueryRow(`SELECT count(*) FROM (SELECT auction, window_start, coalesce(revision, 0) r, count(*) c FROM bids GROUP BY ALL) WHERE c > 1`).Scan(&dup); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT sum(n) FROM (SELECT n, row_number() OVER (PARTITION BY auction, window_start ORDER BY coalesce(revision, 0) DESC) k FROM bids) WHERE k = 1`).Scan(&counted); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if dup != 0 {
		t.Errorf("%d (window, key, revision) rows are in the table more than once", dup)
	}
	if counted != got.Passed {
		t.Errorf("the last revisions count %d records, the counters %d passed", counted, got.Passed)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	offs, err := adm.FetchOffsets(context.Background(), group)
	if err != nil {
		t.Fatal(err)
	}
	ends.Each(func(e kadm.ListedOffset) {
		o, ok := offs.Lookup(in, e.Partition)
		if !ok || o.At != e.Offset || !strings.HasPrefix(o.Metadata, "eddy checkpoint=") {
			t.Errorf("group %s: %s/%d committed at %d (%q), want the end %d with a marker", group, in, e.Partition, o.At, o.Metadata, e.Offset)
		}
	})
}

// SyncBuffer is a bytes.Buffer that a run writes to while a test reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
