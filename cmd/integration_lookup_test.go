//go:build integration

package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/internal/runtest"
)

// TestIntegrationLookupKafkaTable enriches bids from a compacted topic on
// the real broker: the table is read to its end before the first bid
// (latest value per key, tombstones deleting), then kept live — a user
// produced while eddy runs enriches the bids that come after it.
func TestIntegrationLookupKafkaTable(t *testing.T) {
	env := itSetup(t)
	adm := itAdmin(t, env.brokers)
	users, bids := itName("lookup.users"), itName("lookup.bids")
	compact := "compact"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if resp, err := adm.CreateTopic(ctx, 3, 1, map[string]*string{"cleanup.policy": &compact}, users); err != nil || resp.Err != nil {
		t.Fatalf("create %s: %v %v", users, err, resp.Err)
	}
	itCreateTopic(t, adm, bids)
	cl, err := kgo.NewClient(kgo.SeedBrokers(env.brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produce := func(recs ...*kgo.Record) {
		t.Helper()
		pctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := cl.ProduceSync(pctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	user := func(id, val string) *kgo.Record {
		r := &kgo.Record{Topic: users, Key: []byte(id)}
		if val != "" {
			r.Value = []byte(val)
		}
		return r
	}
	bid := func(i int, bidder string) *kgo.Record {
		return &kgo.Record{Topic: bids, Value: fmt.Appendf(nil, `{"i":%d,"bidder":%s}`, i, bidder)}
	}
	produce(user("1", `{"tier":"free"}`), user("2", `{"tier":"gold"}`), user("3", `{"tier":"gold"}`),
		user("1", `{"tier":"platinum"}`), user("3", ""))
	produce(bid(1, "1"), bid(2, "2"), bid(3, "3"), bid(4, `"2"`), bid(5, "7"))
	dir := t.TempDir()
	spec := runtest.WriteFile(t, dir, "p.yaml", fmt.Sprintf(`source: {kafka: {brokers: [%[1]s], topic: %[2]s, stop: caught-up}}
tables:
  users: {kafka: {topic: %[3]s, key: uid}}
stages:
  - lookup: {table: users, on: {bidder: uid}, select: [tier], on_missing: dlq}
sinks: [{file: out.jsonl}]
dlq: {file: dead.jsonl}
`, env.brokers, bids, users))
	code, _, stderr := runCLI(t, "", "run", spec)
	if code != 0 {
		t.Fatalf("run: %d\n%s", code, stderr)
	}
	st := itStatsLine(t, stderr)
	itCheckAccounting(t, st)
	if st.In != 5 || st.Passed != 3 || st.Dead != 2 {
		t.Errorf("stats %+v, want in=5 passed=3 dead=2 (user 3 deleted, user 7 never there)", st)
	}
	if !strings.Contains(stderr, "table users: 2 rows") {
		t.Errorf("no table notice with 2 rows:\n%s", stderr)
	}
	got := runtest.SortedFile(t, filepath.Join(dir, "out.jsonl"))
	want := []string{`{"i":1,"bidder":1,"tier":"platinum"}`, `{"i":2,"bidder":2,"tier":"gold"}`, `{"i":4,"bidder":"2","tier":"gold"}`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if dead := itReadFile(t, filepath.Join(dir, "dead.jsonl")); strings.Count(dead, "lookup_missing") != 2 {
		t.Errorf("dead letters:\n%s", dead)
	}

	// live: eddy follows the bids; a user produced now enriches the bids
	// produced after it, and a tombstone removes one
	liveSpec := runtest.WriteFile(t, dir, "live.yaml", strings.Replace(itReadFile(t, spec), "stop: caught-up", "start: latest", 1))
	var errb runtest.SyncBuffer
	proc := exec.Command(itBuild(t), "run", liveSpec, "--out", filepath.Join(dir, "live.jsonl"), "--dlq", filepath.Join(dir, "live-dead.jsonl"))
	proc.Stderr = &errb
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if proc.ProcessState == nil {
			_ = proc.Process.Kill()
			_ = proc.Wait()
		}
	}()
	// the source is connected ("reading …") before the tables load, and
	// the run reads its first record only after both
	if !itWaitUntil(60*time.Second, func() bool {
		return strings.Contains(errb.String(), "reading "+bids) && strings.Contains(errb.String(), "table users: 2 rows")
	}) {
		t.Fatalf("the live run did not connect and load its table:\n%s", errb.String())
	}
	produce(user("9", `{"tier":"new"}`), user("2", ""))
	// bids produced after the users for 5 s: within moments eddy has the
	// new user (its bids are rows, no longer dead letters) and the
	// tombstone (user 2's bids become dead letters); the output files are
	// complete once eddy has exited
	read := func(name string) string {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		return string(b)
	}
	next := 100
	itWaitUntil(5*time.Second, func() bool {
		produce(bid(next, "9"), bid(next+1, "2"))
		next += 2
		return false
	})
	if err := proc.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := proc.Wait(); err != nil && proc.ProcessState.ExitCode() != 130 {
		t.Fatalf("live run: %v\n%s", err, errb.String())
	}
	first9, last2 := -1, -1
	for _, line := range strings.Split(strings.TrimSpace(read("live.jsonl")), "\n") {
		var r struct {
			I      int
			Bidder int
			Tier   string
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("row %q: %v", line, err)
		}
		switch {
		case r.Bidder == 9 && r.Tier == "new" && first9 < 0:
			first9 = r.I
		case r.Bidder == 2:
			last2 = max(last2, r.I)
		}
	}
	// the two table records are applied at once, give or take a fetch
	if first9 < 0 || first9 > 100+2*20 || last2 > first9+2*20 {
		t.Fatalf("the live table did not take the new user and the tombstone: first enriched bid of user 9 %d, last of user 2 %d (of %d)\nstderr %s", first9, last2, next, errb.String())
	}
	st = itStatsLine(t, errb.String())
	itCheckAccounting(t, st)
	if n := strings.Count(read("live-dead.jsonl"), "lookup_missing"); int64(n) != st.Dead || n < (next-100)/2-40 {
		t.Errorf("%d lookup_missing dead letters, stats %+v", n, st)
	}
}
