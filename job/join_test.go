package job

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/fixtures"
	"github.com/eddyhq/eddy/internal/runtest"
	"github.com/eddyhq/eddy/pipeline"
)

// nexmarkPart returns Nexmark events of one type (the same seed gives bids
// of the auctions generated).
func nexmarkPart(t *testing.T, only string, n int, bad float64) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := fixtures.Generate(&buf, "nexmark", fixtures.Options{Count: n, Seed: 11, Only: only, BadRatio: bad, Disorder: 3 * time.Second}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// joinJobSpec joins bids (the left rows) with auctions, after a filter that
// tells the sources apart by _source.
func joinJobSpec(sources, state string) string { return joinAfterSpec(sources, state, "") }

// joinAfterSpec is joinJobSpec with the stages after (YAML list items
// after the join).
func joinAfterSpec(sources, state, after string) string {
	return sources + `
time: {field: dateTime, max_out_of_order: 5s}
stages:
  - filter: _source == "auctions" || price > 500
  - join:
      with: auctions
      on: {auction: id}
      between: [0s, 20s]
      type: left
      select: [auction, bidder, price, dateTime, auctions.seller, {auction_category: auctions.category}]
` + after + `sinks:
  - file: out.jsonl
dlq: {file: dead.jsonl}
` + state
}

// TestJoinRestoreFaults fails runs of a join of two file sources between
// the steps of checkpoints, then lets one finish: the file sink, the dead
// letters and the counters must equal an uninterrupted run's, byte for
// byte (the join's output order does not depend on how the two files'
// reads interleave), with the join's state in memory and in Pebble.
func TestJoinRestoreFaults(t *testing.T) {
	base := t.TempDir()
	bids := runtest.WriteFile(t, base, "bids.jsonl", string(nexmarkPart(t, "bids", 30000, 0.002)))
	auctions := runtest.WriteFile(t, base, "auctions.jsonl", string(nexmarkPart(t, "auctions", 3000, 0)))
	sources := fmt.Sprintf("sources:\n  bids: {file: %s}\n  auctions: {file: %s}", bids, auctions)
	t.Setenv("GOMEMLIMIT", "off")
	ref, wantStats := referenceRun(t, base, joinJobSpec(sources, ""))
	out, _ := os.ReadFile(filepath.Join(ref, "out.jsonl"))
	if n := bytes.Count(out, []byte("\n")); n < 10000 || !bytes.Contains(out, []byte(`"seller":null`)) || !bytes.Contains(out, []byte(`"auction_category":1`)) {
		t.Fatalf("the uninterrupted run wrote %d rows, matched and unmatched ones expected", n)
	}
	if st := runtest.ParseStats(t, wantStats); st.Dead == 0 || st.Filtered == 0 {
		t.Fatalf("the reference run exercises too little: %s", wantStats)
	}
	for i, tt := range []struct {
		name  string
		state string
		fails []string
	}{
		{"memory", "state: {dir: st, checkpoint_every: 20ms}", []string{"sync", "save", "sync", "save"}},
		{"memory, first checkpoint", "state: {dir: st, checkpoint_every: 20ms}", []string{"sync@1", "save@1", "sync"}},
		{"pebble", "state: {dir: st, checkpoint_every: 20ms, backend: pebble, memory_limit: 128MiB}", []string{"sync", "save", "sync"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(base, fmt.Sprint("run", i))
			os.Mkdir(dir, 0o755)
			stderr := failingRuns(t, runtest.WriteFile(t, dir, "p.yaml", joinJobSpec(sources, tt.state)), tt.fails...)
			if got := runtest.StatsLine(stderr); got != wantStats {
				t.Errorf("final counters %q, want %q", got, wantStats)
			}
			runtest.SameFiles(t, ref, dir)
		})
	}
}

// TestJoinAfterRestoreFaults is TestJoinRestoreFaults with stages after the
// join: a window over the joined rows (at their event time, the later of
// the bid's and the auction's) and a filter of its rows. The join's state
// and the window's are in every checkpoint; a restored run must write
// exactly what an uninterrupted one writes.
func TestJoinAfterRestoreFaults(t *testing.T) {
	base := t.TempDir()
	bids := runtest.WriteFile(t, base, "bids.jsonl", string(nexmarkPart(t, "bids", 30000, 0.002)))
	auctions := runtest.WriteFile(t, base, "auctions.jsonl", string(nexmarkPart(t, "auctions", 3000, 0)))
	sources := fmt.Sprintf("sources:\n  bids: {file: %s}\n  auctions: {file: %s}", bids, auctions)
	after := `  - window:
      tumbling: 200ms
      key: [auction_category]
      aggregate: {n: count(), top: max(price)}
  - filter: n > 1
`
	t.Setenv("GOMEMLIMIT", "off")
	ref, wantStats := referenceRun(t, base, joinAfterSpec(sources, "", after))
	out, _ := os.ReadFile(filepath.Join(ref, "out.jsonl"))
	if n := bytes.Count(out, []byte("\n")); n < 100 || !bytes.Contains(out, []byte(`"auction_category":null`)) || !bytes.Contains(out, []byte(`"window_start"`)) {
		t.Fatalf("the uninterrupted run wrote %d rows, window rows of matched and unmatched bids expected", n)
	}
	for i, tt := range []struct {
		name  string
		state string
		fails []string
	}{
		{"memory", "state: {dir: st, checkpoint_every: 20ms}", []string{"sync", "save", "sync", "save"}},
		{"pebble", "state: {dir: st, checkpoint_every: 20ms, backend: pebble, memory_limit: 128MiB}", []string{"sync", "save", "sync"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(base, fmt.Sprint("run", i))
			os.Mkdir(dir, 0o755)
			stderr := failingRuns(t, runtest.WriteFile(t, dir, "p.yaml", joinAfterSpec(sources, tt.state, after)), tt.fails...)
			if got := runtest.StatsLine(stderr); got != wantStats {
				t.Errorf("final counters %q, want %q", got, wantStats)
			}
			runtest.SameFiles(t, ref, dir)
		})
	}
}

// TestJoinUntilTopRestoreFaults is the kill -9 test of q9's shape: the
// auctions joined with their bids until each expires, the top bid of each
// auction right after the join, failed between the steps of checkpoints.
func TestJoinUntilTopRestoreFaults(t *testing.T) { joinTopRestoreFaults(t, "") }

// TestJoinTopOverRestoreFaults is TestJoinUntilTopRestoreFaults with
// Nexmark q6's over stage after the top: its rings per seller are
// restored after each kill, so the averages are the uninterrupted run's.
func TestJoinTopOverRestoreFaults(t *testing.T) {
	joinTopRestoreFaults(t, "  - over: {key: [seller], rows: 10, aggregate: {avg_price: avg(price), n: count()}}\n")
}

func joinTopRestoreFaults(t *testing.T, after string) {
	base := t.TempDir()
	bids := runtest.WriteFile(t, base, "bids.jsonl", string(nexmarkPart(t, "bids", 30000, 0.002)))
	auctions := runtest.WriteFile(t, base, "auctions.jsonl", string(nexmarkPart(t, "auctions", 3000, 0)))
	spec := func(state string) string {
		return fmt.Sprintf(`sources:
  auctions: {file: %s}
  bids: {file: %s}
time: {field: dateTime, max_out_of_order: 5s}
stages:
  - join:
      with: bids
      on: {id: auction}
      between: [-10m, 0s]
      until: expires
      type: left
      select: [id, seller, {bidder: bids.bidder}, {price: bids.price}, {bid_at: bids.dateTime}]
  - top: {k: 1, by: "price desc, bid_at"}
%ssinks:
  - file: out.jsonl
dlq: {file: dead.jsonl}
`, auctions, bids, after) + state
	}
	t.Setenv("GOMEMLIMIT", "off")
	ref, wantStats := referenceRun(t, base, spec(""))
	out, _ := os.ReadFile(filepath.Join(ref, "out.jsonl"))
	if n := bytes.Count(out, []byte("\n")); n < 1000 || !bytes.Contains(out, []byte(`"price":null`)) {
		t.Fatalf("the uninterrupted run wrote %d rows, auctions with and without bids expected", n)
	}
	if after != "" && !bytes.Contains(out, []byte(`"n":11}`)) {
		t.Fatal("no seller reached 11 auctions: the over stage's rings are not exercised")
	}
	for i, tt := range []struct {
		name  string
		state string
		fails []string
	}{
		{"memory", "state: {dir: st, checkpoint_every: 20ms}", []string{"sync", "save", "sync"}},
		{"pebble", "state: {dir: st, checkpoint_every: 20ms, backend: pebble, memory_limit: 128MiB}", []string{"sync", "save", "sync"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(base, fmt.Sprint("run", i))
			os.Mkdir(dir, 0o755)
			stderr := failingRuns(t, runtest.WriteFile(t, dir, "p.yaml", spec(tt.state)), tt.fails...)
			if got := runtest.StatsLine(stderr); got != wantStats {
				t.Errorf("final counters %q, want %q", got, wantStats)
			}
			runtest.SameFiles(t, ref, dir)
		})
	}
}

// TestJoinKafkaSources reads bids and auctions from two topics of a
// cluster (kfake) as two sources, to their caught-up ends, and must write
// what the same join of the two files writes, row for row in order.
func TestJoinKafkaSources(t *testing.T) {
	addr := runtest.Cluster(t, "bids", "auctions")
	bidLines := nexmarkPart(t, "bids", 20000, 0.002)
	aucLines := nexmarkPart(t, "auctions", 2000, 0)
	var recs []*kgo.Record
	for topic, data := range map[string][]byte{"bids": bidLines, "auctions": aucLines} {
		for i, l := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
			// by auction, so a partition holds its auction's bids in order
			recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i % 3), Value: l})
		}
	}
	runtest.Produce(t, addr, recs...)
	base := t.TempDir()
	bids := runtest.WriteFile(t, base, "bids.jsonl", string(bidLines))
	auctions := runtest.WriteFile(t, base, "auctions.jsonl", string(aucLines))
	ref, wantStats := referenceRun(t, base, joinJobSpec(fmt.Sprintf("sources:\n  bids: {file: %s}\n  auctions: {file: %s}", bids, auctions), ""))
	dir := filepath.Join(base, "kafka")
	os.Mkdir(dir, 0o755)
	spec := joinJobSpec(fmt.Sprintf(`sources:
  bids: {kafka: {brokers: [%s], topic: bids, stop: caught-up}}
  auctions: {kafka: {brokers: [%s], topic: auctions, stop: caught-up}}`, addr, addr), "")
	p, err := pipeline.Load(runtest.WriteFile(t, dir, "p.yaml", spec))
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	j, err := Open(context.Background(), p, Options{Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	st, err := j.Run(context.Background())
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if got := runtest.StatsLine(stderr.String()); got != wantStats {
		t.Errorf("counters %q, want the files' %q", got, wantStats)
	}
	if st.In != int64(bytes.Count(bidLines, []byte("\n"))+bytes.Count(aucLines, []byte("\n"))) {
		t.Errorf("read %d records", st.In)
	}
	want, _ := os.ReadFile(filepath.Join(ref, "out.jsonl"))
	got, _ := os.ReadFile(filepath.Join(dir, "out.jsonl"))
	if !bytes.Equal(got, want) || len(want) == 0 {
		t.Errorf("the topics' join wrote %d rows, the files' %d (or not in the same order)", bytes.Count(got, []byte("\n")), bytes.Count(want, []byte("\n")))
	}
	// the dead letters come from one source, each partition in order:
	// the same set
	wantDead := runtest.SortedFile(t, filepath.Join(ref, "dead.jsonl"))
	gotDead := runtest.SortedFile(t, filepath.Join(dir, "dead.jsonl"))
	if len(gotDead) != len(wantDead) || len(wantDead) == 0 {
		t.Errorf("%d dead letters, want %d", len(gotDead), len(wantDead))
	}
	if strings.Contains(stderr.String(), "warning") {
		t.Logf("stderr: %s", stderr.String())
	}
}

// TestCheckRunSources: what several sources cannot do is refused before
// anything is opened, naming the field and line.
func TestCheckRunSources(t *testing.T) {
	spec := `sources:
  bids: {kafka: {topic: bids, group: g}}
  auctions: {file: auctions.jsonl}
sinks:
  - file: auctions.jsonl
`
	p, err := pipeline.Parse("p.yaml", []byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	err = checkRun(p, Options{Input: "x.jsonl"})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`p.yaml: --input: replaces the source, but the spec has several (sources at line 2): run it without --input`,
		`p.yaml:2: sources.bids.kafka.group: a consumer group is not supported with several sources`,
		`p.yaml:5: sinks[0].file: "auctions.jsonl" is the input of source auctions (line 3)`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error\n%v\nlacks\n%s", err, want)
		}
	}
}
