package cmd

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/internal/runtest"
	"github.com/eddyhq/eddy/tui"
)

func TestTUIUsageErrors(t *testing.T) {
	clearKafkaEnv(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: x\nstages: [{nope: 1}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// the -p spec's format is the workbench's
	avroSpec := filepath.Join(dir, "avro.yaml")
	if err := os.WriteFile(avroSpec, []byte("source: {kafka: {topic: bids}}\nformat: avro\nstages: [{project: {a: a}}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// several sources: the workbench reads them all, no flag replaces them
	multi := filepath.Join(dir, "multi.yaml")
	if err := os.WriteFile(multi, []byte("sources:\n  a: {file: a.jsonl}\n  b: {file: b.jsonl}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"tui"}, "no brokers"},
		{[]string{"tui", "--input", "x.jsonl", "-p", multi}, "--input replaces the source, but the spec has several (sources at line 2)"},
		{[]string{"tui", "-t", "clicks", "-p", multi}, "--topic replaces the source, but the spec has several"},
		{[]string{"tui", "--rate", "10"}, "--rate needs --input"},
		{[]string{"tui", "--input", "x.jsonl", "--rate", "-1"}, "--rate must be >= 0"},
		{[]string{"tui", "--input", "x.jsonl", "-t", "clicks"}, "exclude each other"},
		{[]string{"tui", "--input", "x.jsonl", "-p", bad}, "bad.yaml"},
		{[]string{"tui", "--input", "x.jsonl", "--format", "avro"}, "--format avro reads a topic"},
		{[]string{"tui", "--input", "x.jsonl", "--format", "xml"}, `--format "xml": want json, avro, protobuf, json-schema or raw`},
		{[]string{"tui", "-b", "localhost:1", "--format", "protobuf"}, "--format protobuf needs a schema registry"},
		{[]string{"tui", "-b", "localhost:1", "-p", avroSpec}, "--format avro needs a schema registry"},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), tc.args, strings.NewReader(""), &out, &errb)
		if code != 2 || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, errb.String(), tc.want)
		}
	}
}

// driveTUI runs cmd and feeds its messages back into m until done holds,
// as bubbletea would, but on the test goroutine. It returns the commands
// still to run.
func driveTUI(t *testing.T, m *tui.Model, cmd tea.Cmd, done func() bool) tea.Cmd {
	t.Helper()
	queue := []tea.Cmd{cmd}
	deadline := time.Now().Add(10 * time.Second)
	for len(queue) > 0 && !done() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out; screen:\n%s", ansi.Strip(m.Render()))
		}
		c := queue[0]
		queue = queue[1:]
		if c == nil {
			continue
		}
		switch msg := c().(type) {
		case nil:
		case tea.BatchMsg:
			queue = append(queue, msg...)
		default:
			_, next := m.Update(msg)
			queue = append(queue, next)
		}
	}
	if !done() {
		t.Fatalf("commands ran out; screen:\n%s", ansi.Strip(m.Render()))
	}
	return tea.Batch(queue...)
}

func TestTUIAttachesToKafkaTopic(t *testing.T) {
	addr := newKafka(t, "clicks", "orders")
	var recs []*kgo.Record
	for i := range 30 {
		recs = append(recs, &kgo.Record{Topic: "clicks", Partition: int32(i % 3),
			Key: []byte(fmt.Sprintf("u%d", i)), Value: []byte(fmt.Sprintf(`{"n":%d,"event":"view"}`, i))})
	}
	runtest.Produce(t, addr, recs...)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := tui.New(ctx, tui.Options{Label: addr, Topics: topicLister(kadm.NewClient(cl)),
		Open: kafkaOpener([]kgo.Opt{kgo.SeedBrokers(addr)}), Start: "earliest"})
	defer m.Stop()
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	screen := func() string { return ansi.Strip(m.Render()) }
	driveTUI(t, m, m.Init(), func() bool { return strings.Contains(screen(), "orders") })
	if !strings.Contains(screen(), "clicks  3           30") {
		t.Fatalf("topics pane:\n%s", screen())
	}
	_, cmd := m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	cmd = driveTUI(t, m, cmd, func() bool { return strings.Contains(screen(), "in 30 ") })
	s := screen()
	for _, want := range []string{"[Records]", "30 records", "P  OFFSET  KEY", "view"} {
		if !strings.Contains(s, want) {
			t.Errorf("records pane lacks %q:\n%s", want, s)
		}
	}
	// Records produced after attaching arrive too.
	runtest.Produce(t, addr, &kgo.Record{Topic: "clicks", Partition: 1, Value: []byte(`{"n":99,"event":"late-arrival"}`)})
	driveTUI(t, m, cmd, func() bool { return strings.Contains(screen(), "late-arrival") })
	if !strings.Contains(screen(), "in 31 ") {
		t.Errorf("status after a new record:\n%s", screen())
	}
}
