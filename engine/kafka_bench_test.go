//go:build integration

package engine

// Benchmarks against a real Kafka broker (scripts/kafka.sh); they skip
// unless EDDY_TEST_BROKERS is set:
//
//	export $(scripts/kafka.sh up)
//	go test -tags integration -run '^$' -bench 'Kafka|Kcat' -benchtime 3x ./engine
//
// The first run fills the topic bench.bids with 5,000,000 nexmark bids
// (about 1 GB on disk; a minute or two); later runs reuse it.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/fixtures"
	"github.com/eddyhq/eddy/kcfg"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
)

const (
	kafkaBenchTopic      = "bench.bids"
	kafkaBenchBids       = 5_000_000
	kafkaBenchPartitions = 4 // issue 18 item 4's topic
)

func kafkaBenchBrokers(b *testing.B) string {
	brokers := os.Getenv("EDDY_TEST_BROKERS")
	if brokers == "" {
		b.Skip("EDDY_TEST_BROKERS is not set; start a broker with: export $(scripts/kafka.sh up)")
	}
	return brokers
}

// kafkaBenchTopicReady makes sure bench.bids holds exactly the 5,000,000
// bids of fixtures.Generate (seed 1), keyed by auction so that each
// partition is in event-time order. A topic of another size is recreated.
func kafkaBenchTopicReady(b *testing.B, brokers string) {
	b.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.ProducerBatchMaxBytes(1<<20), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx := context.Background()
	n, parts, exists := kafkaBenchCount(b, adm)
	if n == kafkaBenchBids && parts == kafkaBenchPartitions {
		return
	}
	if exists {
		b.Logf("%s holds %d records in %d partitions, not %d in %d: recreating it", kafkaBenchTopic, n, parts,
			kafkaBenchBids, kafkaBenchPartitions)
		if _, err := adm.DeleteTopic(ctx, kafkaBenchTopic); err != nil {
			b.Fatalf("delete %s: %v", kafkaBenchTopic, err)
		}
	}
	// a deleted topic takes a moment to go; creating it fails until then
	deadline := time.Now().Add(time.Minute)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for ; ; <-tick.C {
		resp, err := adm.CreateTopic(ctx, kafkaBenchPartitions, 1, nil, kafkaBenchTopic)
		if err == nil {
			err = resp.Err
		}
		if err == nil {
			break
		}
		if !errors.Is(err, kerr.TopicAlreadyExists) || time.Now().After(deadline) {
			b.Fatalf("create %s: %v", kafkaBenchTopic, err)
		}
	}
	b.Logf("producing %d bids to %s", kafkaBenchBids, kafkaBenchTopic)
	start := time.Now()
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(fixtures.Generate(pw, "nexmark", fixtures.Options{Count: kafkaBenchBids, Seed: 1, Only: "bids"}))
	}()
	var (
		mu      sync.Mutex
		prodErr error
	)
	sc := bufio.NewScanner(pr)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := bytes.Clone(sc.Bytes())
		cl.Produce(ctx, &kgo.Record{Topic: kafkaBenchTopic, Key: auctionKey(line), Value: line}, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				prodErr = errors.Join(prodErr, err)
				mu.Unlock()
			}
		})
	}
	if err := sc.Err(); err != nil {
		b.Fatal(err)
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	if prodErr != nil {
		b.Fatalf("produce: %v", prodErr)
	}
	if n, _, _ := kafkaBenchCount(b, adm); n != kafkaBenchBids {
		b.Fatalf("%s holds %d records after producing, want %d", kafkaBenchTopic, n, kafkaBenchBids)
	}
	b.Logf("produced in %v", time.Since(start).Round(time.Second))
}

// kafkaBenchCount returns the number of records and partitions of
// bench.bids and whether it exists.
func kafkaBenchCount(b *testing.B, adm *kadm.Client) (records int64, partitions int, exists bool) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topics, err := adm.ListTopics(ctx, kafkaBenchTopic)
	if err != nil {
		b.Fatalf("list topics: %v", err)
	}
	d, ok := topics[kafkaBenchTopic]
	if !ok || d.Err != nil {
		return 0, 0, false
	}
	ends, err := adm.ListEndOffsets(ctx, kafkaBenchTopic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		b.Fatalf("end offsets: %v", err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n, len(d.Partitions), true
}

// auctionKey returns the digits after "auction": in a bid.
func auctionKey(line []byte) []byte {
	const field = `"auction":`
	i := bytes.Index(line, []byte(field))
	if i < 0 {
		return nil
	}
	rest := line[i+len(field):]
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	return rest[:j]
}

// BenchmarkKafkaNexmarkTumbling is BenchmarkNexmarkTumbling with the bids
// read from Kafka: each iteration opens bench.bids with stop: caught-up
// (the path of `eddy run` over a topic: fetching, decoding, windowing and
// encoding the result rows into a discarding sink) and reads all 5,000,000.
func BenchmarkKafkaNexmarkTumbling(b *testing.B) {
	brokers := kafkaBenchBrokers(b)
	kafkaBenchTopicReady(b, brokers)
	cfg := kcfg.New()
	if err := cfg.Set("bootstrap.servers", brokers); err != nil {
		b.Fatal(err)
	}
	conn, err := cfg.Opts()
	if err != nil {
		b.Fatal(err)
	}
	p, err := pipeline.Parse("bench.yaml", []byte(nexmarkSpec))
	if err != nil {
		b.Fatal(err)
	}
	plan, err := pipeline.Compile(p)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var rows int64
	for b.Loop() {
		src, err := source.OpenKafka(ctx, conn, source.KafkaOptions{Topics: []string{kafkaBenchTopic}, Stop: "caught-up"})
		if err != nil {
			b.Fatal(err)
		}
		e, err := New(plan, Options{Sinks: []sink.Sink{sink.NewJSONL("discard", io.Discard, nil)}})
		if err != nil {
			b.Fatal(err)
		}
		if err := Run(ctx, src, e); err != nil {
			b.Fatal(err)
		}
		src.Close()
		st := e.Stats()
		if st.In != kafkaBenchBids || st.Passed != kafkaBenchBids {
			b.Fatalf("stats %s, want in=passed=%d", st, kafkaBenchBids)
		}
		rows = st.Rows
	}
	b.ReportMetric(float64(kafkaBenchBids)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(rows), "rows")
}

// BenchmarkKcatReadBids is the reference point: kcat (librdkafka) only
// reading bench.bids to the end, writing the values to /dev/null.
func BenchmarkKcatReadBids(b *testing.B) {
	brokers := kafkaBenchBrokers(b)
	if _, err := exec.LookPath("kcat"); err != nil {
		b.Skip("kcat is not installed (scripts/kafka.sh deps installs it)")
	}
	kafkaBenchTopicReady(b, brokers)
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer devnull.Close()
	for b.Loop() {
		var errb bytes.Buffer
		c := exec.Command("kcat", "-b", brokers, "-C", "-t", kafkaBenchTopic, "-e", "-q", "-o", "beginning")
		c.Stdout, c.Stderr = devnull, &errb
		if err := c.Run(); err != nil {
			b.Fatalf("kcat: %v\n%s", err, errb.String())
		}
	}
	b.ReportMetric(float64(kafkaBenchBids)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
