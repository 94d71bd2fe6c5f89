//go:build integration

package cmd

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/tui"
)

// kcatLines produces the records' values with kcat (an independent client),
// each to the partition it names, so that every partition's watermark
// advances; idempotently, so retries keep partition order.
func kcatLines(t *testing.T, brokers, topic string, recs []*kgo.Record) {
	t.Helper()
	byPart := map[int32]*bytes.Buffer{}
	for _, r := range recs {
		b := byPart[r.Partition]
		if b == nil {
			b = &bytes.Buffer{}
			byPart[r.Partition] = b
		}
		b.Write(r.Value)
		b.WriteByte('\n')
	}
	for p, b := range byPart {
		itKcat(t, b, "-b", brokers, "-P", "-t", topic, "-p", strconv.Itoa(int(p)), "-X", "enable.idempotence=true")
	}
}

// TestIntegrationWorkbench runs the workbench on the real broker: attach to
// a topic kcat writes, add a filter while records flow and see the
// counters account for them, add a window and see rows and the chart.
func TestIntegrationWorkbench(t *testing.T) {
	env := itSetup(t)
	adm := itAdmin(t, env.brokers)
	topic := itName("tui.clicks")
	itCreateTopic(t, adm, topic)
	base := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	kcatLines(t, env.brokers, topic, clickBatch(0, 60, base))

	conn := []kgo.Opt{kgo.SeedBrokers(env.brokers)}
	cl, err := kgo.NewClient(conn...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	m := tui.New(context.Background(), tui.Options{Label: env.brokers, Brokers: []string{env.brokers}, Start: "earliest",
		Topics: topicLister(kadm.NewClient(cl)), Open: kafkaOpener(conn), Dead: deadOps(conn, cl)})
	defer m.Stop()
	d := newDriver(t, m)
	// the shared broker holds every integration test's topics, so this one
	// may be below the fold: / narrows the list to it
	d.untilText("(not attached)")
	d.press("/", "tui.clicks")
	d.untilText("it.tui.clicks")
	d.press("esc", ":", "attach "+topic, "enter")
	d.until("in 61, 60 passed, 1 dead", func(s string) bool {
		in, passed, filtered, dead, _ := counters(s)
		return in == 61 && passed == 60 && filtered == 0 && dead == 1
	})

	d.press("tab", "a", "f", `event == "purchase"`, "enter")
	d.untilText("added stage 0:filter")
	kcatLines(t, env.brokers, topic, clickBatch(60, 30, base))
	s := d.until("the filter's counters", func(s string) bool { in, _, _, _, _ := counters(s); return in == 31 })
	if in, passed, filtered, dead, late := counters(s); passed != 10 || filtered != 20 || dead != 1 || in != passed+filtered+dead+late {
		t.Fatalf("after the filter: in %d passed %d filtered %d dead %d late %d", in, passed, filtered, dead, late)
	}

	d.press("a", "w", "tab", "ctrl+u", "1s", "tab", "country", "tab", "ctrl+u", "orders: count()")
	d.untilText("valid · enter applies")
	d.press("enter")
	d.untilText("added stage 1:window")
	kcatLines(t, env.brokers, topic, clickBatch(90, 60, base))
	d.press("tab")
	s = d.untilText("orders per window, top 2 keys")
	if !strings.Contains(s, "window_start") || !strings.Contains(s, "└") {
		t.Errorf("results:\n%s", s)
	}
}
