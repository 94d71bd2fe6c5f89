package cmd

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/internal/runtest"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/tui"
)

// TestWorkbenchJoinsTopicAndFile: eddy tui -p on a spec whose sources
// are a topic (kfake, up to where it was when opened) and a file reads
// both merged; a left interval join built in the join form and written
// with w runs under eddy run with the counters and the number of rows
// the workbench showed.
func TestWorkbenchJoinsTopicAndFile(t *testing.T) {
	addr := newKafka(t, "bids")
	base := int64(1_700_000_000_000)
	var bids []*kgo.Record
	for i := range 60 {
		auction := i%10 + 1 // auctions 9 and 10 do not exist
		v := fmt.Sprintf(`{"auction":%d,"bidder":%d,"price":%d,"dateTime":%d}`, auction, i%5, 100+i*7%50, base+int64(auction)*1000+int64(i%4)*2000-1000)
		bids = append(bids, &kgo.Record{Topic: "bids", Partition: int32(i % 3), Value: []byte(v)})
	}
	runtest.Produce(t, addr, bids...)
	dir := t.TempDir()
	var auctions strings.Builder
	for i := 1; i <= 8; i++ {
		fmt.Fprintf(&auctions, `{"id":%d,"seller":"s%d","dateTime":%d}`+"\n", i, i%3, base+int64(i)*1000)
	}
	af, spec, out := filepath.Join(dir, "auctions.jsonl"), filepath.Join(dir, "join.yaml"), filepath.Join(dir, "rows.jsonl")
	if err := os.WriteFile(af, []byte(auctions.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	src := fmt.Sprintf("name: join\nsources:\n  bids: {kafka: {brokers: [%s], topic: bids, stop: caught-up}}\n  auctions: {file: %s}\nsinks:\n  - file: %s\ndlq: {file: %s}\n",
		addr, af, out, filepath.Join(dir, "dead.jsonl"))
	if err := os.WriteFile(spec, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.Load(spec)
	if err != nil {
		t.Fatal(err)
	}
	conn := []kgo.Opt{kgo.SeedBrokers(addr)}
	cl, err := kgo.NewClient(conn...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	opts := tui.Options{Label: addr, Brokers: []string{addr}, Pipeline: p, PipelinePath: spec}
	clusterOptions(conn, cl, &opts) // as eddy tui -b opens a cluster
	m := tui.New(context.Background(), opts)
	defer m.Stop()
	d := newDriver(t, m)
	s := d.until("both sources read", func(s string) bool { in, _, _, _, _ := counters(s); return in == 68 && strings.Contains(s, "ended") })
	for _, want := range []string{"_source", "sources bids,auctions"} {
		if !strings.Contains(s, want) {
			t.Errorf("Records lack %q:\n%s", want, s)
		}
	}

	d.press("tab", "a", "j")
	d.untilText("new stage 0:join")
	d.press("tab", "auction: id", "tab", "tab", "ctrl+u", "-1s, 3s", "tab", "ctrl+u", "left", "tab",
		"auction, price, auctions.seller, auction_time: auctions.dateTime", "tab", "ctrl+u", "dateTime", "tab", "ctrl+u", "20s")
	d.untilText("valid · enter applies")
	d.press("enter")
	s = d.until("the join's rows", func(s string) bool {
		return strings.Contains(s, "added stage 0:join") && strings.Contains(s, "ended") && regexp.MustCompile(`1 stages, [1-9]\d* rows`).MatchString(s)
	})
	in, passed, filtered, dead, late := counters(s)
	rowsShown := regexp.MustCompile(`1 stages, (\d+) rows`).FindStringSubmatch(s)[1]

	d.press("w", "enter")
	d.untilText("wrote " + spec)
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"run", spec}, strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("eddy run exit %d: %s", code, stderr.String())
	}
	want := fmt.Sprintf("in=%d passed=%d filtered=%d dead=%d late=%d rows=%s", in, passed, filtered, dead, late, rowsShown)
	if !strings.Contains(stderr.String(), want) {
		t.Errorf("eddy run's counters differ from the workbench's %s:\n%s", want, stderr.String())
	}
	rows, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if n := fmt.Sprint(bytes.Count(rows, []byte("\n"))); n != rowsShown || !bytes.Contains(rows, []byte(`"seller":null`)) {
		t.Errorf("eddy run wrote %s rows (the workbench %s), want unmatched bids with nulls too:\n%s", n, rowsShown, rows)
	}
}
