package cmd

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/internal/runtest"
)

// TestRunKilledKafkaPartitionsSinks kills runs over a three-partition
// topic, where the read order differs from run to run, writing to a file, a
// DuckDB table and a Kafka topic. With max_out_of_order above the input's
// disorder nothing is late, so every row is determined by the input: each
// sink must hold exactly the uninterrupted run's rows (in another order),
// none twice.
func TestRunKilledKafkaPartitionsSinks(t *testing.T) {
	bin := buildEddy(t)
	clearKafkaEnv(t)
	topics := killTopics("bidsp", "refp", "resp")
	addr := runtest.Cluster(t, topics...)
	runtest.ProducePartitioned(t, addr, "bidsp", 60_000)
	timeCfg := "{field: dateTime, max_out_of_order: 5s}"
	base := t.TempDir()
	ref, wantStats := referenceRun(t, bin, base, runtest.PartSpec(addr, "bidsp", "refp", "", timeCfg))
	if !strings.Contains(wantStats, " late=0 ") {
		t.Fatalf("the reference run has late records, so rows depend on the read order: %s", wantStats)
	}
	want := runtest.SortedFile(t, filepath.Join(ref, "out.jsonl"))
	if got := runtest.SortedTopic(t, addr, "refp"); !slices.Equal(got, want) {
		t.Fatalf("the reference run's Kafka sink holds %d rows, its file %d", len(got), len(want))
	}
	wantTable := runtest.TableRows(t, filepath.Join(ref, "out.duckdb"), "bids")
	for i, topic := range topics[2:] {
		t.Run(fmt.Sprintf("seed%d", i+1), func(t *testing.T) {
			dir := killedRun(t, bin, base, topic, runtest.PartSpec(addr, "bidsp", topic, "", timeCfg), uint64(i+31), size(filepath.Join(ref, "out.jsonl")), wantStats)
			runtest.SameRows(t, addr, dir, topic, want, wantTable)
		})
	}
}

// TestRunKilledKafkaGroupLate kills runs over a three-partition topic read
// with a consumer group, with late records and revisions, so which records
// are late depends on the read order and no two runs need to agree. What
// must hold whatever the order: the file, the DuckDB table and the
// read_committed topic hold the same rows, as many as the final counters'
// rows (each emitted row once, none lost); the last revision of every
// window counts every passed record once; in, filtered and dead match the
// uninterrupted run; and the group's committed offsets are the ends of
// the input, with the marker of the last checkpoint.
func TestRunKilledKafkaGroupLate(t *testing.T) {
	bin := buildEddy(t)
	clearKafkaEnv(t)
	topics := killTopics("bidsg", "refg", "resg")
	addr := runtest.Cluster(t, topics...)
	killedGroupLate(t, bin, addr, "g", topics[0], topics[1], topics[2:]...)
}

// killedGroupLate is TestRunKilledKafkaGroupLate over the three-partition
// topic in of the cluster at addr: the reference run writes to the topic
// ref, the killed ones (group prefix-TOPIC) to each of results.
func killedGroupLate(t *testing.T, bin, addr, prefix, in, refTopic string, results ...string) {
	t.Helper()
	runtest.ProducePartitioned(t, addr, in, 60_000)
	timeCfg := "{field: dateTime, max_out_of_order: 500ms, allowed_lateness: 2s}"
	base := t.TempDir()
	refDir, refStats := referenceRun(t, bin, base, runtest.PartSpec(addr, in, refTopic, "", timeCfg))
	var ref struct{ in, passed, filtered, dead, late, rows int }
	parseStats := func(line string, s *struct{ in, passed, filtered, dead, late, rows int }) {
		t.Helper()
		if _, err := fmt.Sscanf(line, "eddy: in=%d passed=%d filtered=%d dead=%d late=%d rows=%d", &s.in, &s.passed, &s.filtered, &s.dead, &s.late, &s.rows); err != nil {
			t.Fatalf("counters %q: %v", line, err)
		}
	}
	parseStats(refStats, &ref)
	if ref.late == 0 || ref.dead == 0 {
		t.Fatalf("the reference run exercises too little: %s", refStats)
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
	for i, topic := range results {
		t.Run(fmt.Sprintf("seed%d", i+1), func(t *testing.T) {
			group := prefix + "-" + topic
			dir := filepath.Join(base, fmt.Sprintf("run%d", i+1))
			os.Mkdir(dir, 0o755)
			runtest.WriteFile(t, dir, "p.yaml", runtest.PartSpec(addr, in, topic, group, timeCfg))
			stderr, kills := killedRuns(t, bin, dir, uint64(i+41), size(filepath.Join(refDir, "out.jsonl")), "run", filepath.Join(dir, "p.yaml"))
			if kills == 0 {
				t.Fatal("never killed: the test proves nothing")
			}
			var got struct{ in, passed, filtered, dead, late, rows int }
			parseStats(runtest.StatsLine(stderr), &got)
			t.Logf("killed %d times; %s (uninterrupted: %s)", kills, runtest.StatsLine(stderr), refStats)
			if got.in != ref.in || got.filtered != ref.filtered || got.dead != ref.dead || got.passed+got.late != ref.passed+ref.late {
				t.Errorf("counters %s do not add up to the uninterrupted run's %s", runtest.StatsLine(stderr), refStats)
			}
			file := runtest.SortedFile(t, filepath.Join(dir, "out.jsonl"))
			if len(file) != got.rows {
				t.Errorf("file: %d rows, the counters say %d", len(file), got.rows)
			}
			if kafka := runtest.SortedTopic(t, addr, topic); !slices.Equal(kafka, file) {
				t.Errorf("read_committed sees %d rows in %s, the file holds %d: they differ", len(kafka), topic, len(file))
			}
			if n := len(runtest.TableRows(t, filepath.Join(dir, "out.duckdb"), "bids")); n != got.rows {
				t.Errorf("DuckDB table: %d rows, want %d", n, got.rows)
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
			if counted != got.passed {
				t.Errorf("the last revisions count %d records, the counters %d passed", counted, got.passed)
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
		})
	}
}

// TestRunStateGroupWithMembers refuses a state run whose source group has
// an active member: eddy would read every partition beside it.
func TestRunStateGroupWithMembers(t *testing.T) {
	clearKafkaEnv(t)
	addr := runtest.Cluster(t, "busy")
	runtest.Produce(t, addr, &kgo.Record{Topic: "busy", Value: []byte(`{"i":1}`)})
	member, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup("busy-g"), kgo.ConsumeTopics("busy"))
	if err != nil {
		t.Fatal(err)
	}
	defer member.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if fs := member.PollFetches(ctx); ctx.Err() != nil {
		t.Fatalf("the member did not join: %v", fs.Err())
	}
	dir := t.TempDir()
	p := runtest.WriteFile(t, dir, "p.yaml", "source: {kafka: {brokers: ["+addr+"], topic: busy, group: busy-g, stop: caught-up}}\nsinks: [{file: out.jsonl}]\nstate: {dir: st}\n")
	code, _, stderr := runCLI(t, "", "run", p)
	if code != 1 || !strings.Contains(stderr, "consumer group busy-g has 1 active member(s)") {
		t.Errorf("state with a busy group: exit %d\n%s", code, stderr)
	}
}
