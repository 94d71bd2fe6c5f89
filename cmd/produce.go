package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/fixtures"
	"github.com/eddyhq/eddy/internal/pace"
	"github.com/eddyhq/eddy/internal/produce"
)

type produceFlags struct {
	topic       string
	key         string
	keyDelim    string
	headers     []string
	partition   int32
	partitions  int32
	replication int16
	strict      bool
	verbose     bool
	fixture     string
	rate        float64
	count       int
	badRatio    float64
	seed        uint64
}

func newProduceCmd() *cobra.Command {
	var f produceFlags
	names := strings.Join(fixtures.Names(), ", ")
	c := &cobra.Command{
		Use:   "produce -t TOPIC",
		Short: "Produce JSON Lines from stdin or a generator to a topic (like kcat -P)",
		Long: `produce reads JSON Lines from stdin and writes each line as one record value.
Blank lines are skipped. A line that is not valid JSON is still produced,
unless --strict, which stops at it and exits 1.

--key FIELD sets each record's key to that top-level field of the line: a
string as is, any other JSON value as its JSON text; lines without the field
(or with null, or not JSON) get no key.

--fixture NAME produces from one of eddy's generators (` + names + `)
instead of stdin, keyed by its natural key unless --key says otherwise:
nexmark bids by auction, persons and auctions by id; clickstream by user_id;
sensors by device; payments by account.

As in kcat -P: -K DELIM splits each line into key and value at the first
DELIM, -H KEY=VALUE adds a header to every record (repeatable), and -p N
writes every record to partition N.

--rate paces the records, stdin or fixture, to that many per second of wall
clock (0: as fast as the cluster takes them).

The topic is created when missing (--partitions, --replication). At the end
produce waits for every record to be acknowledged and prints
  eddy: produced N records to TOPIC
to stderr; it exits 1 if any record failed.`,
		Example: `  # a file of JSON Lines, keyed by customer
  eddy produce -b localhost:9092 -t orders --key customer < orders.jsonl

  # 1000 Nexmark events into a new 6-partition topic
  eddy produce -t nexmark --fixture nexmark --count 1000 --partitions 6

  # a live sensor stream, 50 readings a second, 1% malformed, until Ctrl-C
  eddy produce -t sensors --fixture sensors --rate 50 --bad-ratio 0.01`,
		Args: exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error { return runProduce(c, f) },
	}
	fl := c.Flags()
	fl.StringVarP(&f.topic, "topic", "t", "", "`TOPIC` to write to (required; created when missing)")
	fl.StringVar(&f.key, "key", "", "use this top-level `FIELD` of each line as the record key")
	fl.StringVarP(&f.keyDelim, "key-delimiter", "K", "", "split each line at the first `DELIM`: key before, value after (kcat -K)")
	fl.StringArrayVarP(&f.headers, "header", "H", nil, "add header `KEY=VALUE` to every record, repeatable (kcat -H)")
	fl.Int32VarP(&f.partition, "partition", "p", -1, "write every record to partition `N` (-1: by key, or spread)")
	fl.Int32Var(&f.partitions, "partitions", 3, "`N` partitions for the topic when produce creates it")
	fl.Int16Var(&f.replication, "replication", 1, "replication factor `R` for the topic when produce creates it (-1: the broker's default)")
	fl.BoolVar(&f.strict, "strict", false, "stop with exit 1 at the first line that is not valid JSON")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "say when the topic is created")
	fl.StringVar(&f.fixture, "fixture", "", "produce from the generator `NAME` ("+names+") instead of stdin")
	fl.Float64Var(&f.rate, "rate", 0, "`R` records per second of wall clock (0: as fast as possible)")
	fl.IntVar(&f.count, "count", fixtures.DefaultCount, "--fixture: `N` records")
	fl.Float64Var(&f.badRatio, "bad-ratio", 0, "--fixture: fraction `P` of malformed records, 0 to 1")
	fl.Uint64Var(&f.seed, "seed", 0, "--fixture: generator seed `S`")
	return c
}

func runProduce(c *cobra.Command, f produceFlags) error {
	if f.topic == "" {
		return usagef("produce: name the topic with -t TOPIC")
	}
	if f.partitions < 1 {
		return usagef("produce: --partitions %d must be at least 1", f.partitions)
	}
	if f.replication < -1 || f.replication == 0 {
		return usagef("produce: --replication %d must be at least 1 (or -1)", f.replication)
	}
	if !(f.rate >= 0) {
		return usagef("produce: --rate %v must not be negative", f.rate)
	}
	if f.keyDelim != "" && (f.key != "" || f.fixture != "") {
		return usagef("produce: -K splits keys off stdin lines; it excludes --key and --fixture")
	}
	if f.partition < -1 {
		return usagef("produce: -p %d: a partition is 0 or more (-1: any)", f.partition)
	}
	var headers []kgo.RecordHeader
	for _, h := range f.headers {
		k, v, ok := strings.Cut(h, "=")
		if !ok || k == "" {
			return usagef("produce: -H %q: want KEY=VALUE", h)
		}
		headers = append(headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
	}
	var opts fixtures.Options
	if f.fixture == "" {
		for _, name := range []string{"count", "bad-ratio", "seed"} {
			if c.Flags().Changed(name) {
				return usagef("produce: --%s needs --fixture", name)
			}
		}
	} else {
		opts = fixtures.Options{Count: f.count, Seed: f.seed, BadRatio: f.badRatio}
		if f.rate > 0 {
			opts.Rate = f.rate // event time advances like the wall clock
		}
		if err := opts.Validate(f.fixture); err != nil {
			return usagef("produce: %v", err)
		}
	}
	field := f.key
	if field == "" && f.fixture != "" {
		field = "natural:" + f.fixture
	}
	key := produce.NewKeyer(field)

	ctx := c.Context()
	copts := []kgo.Opt{
		kgo.ProducerLinger(5 * time.Millisecond),
		kgo.ProducerBatchCompression(kgo.SnappyCompression(), kgo.NoCompression()),
		// A broker that stops answering fails the run instead of hanging it.
		kgo.RecordDeliveryTimeout(time.Minute),
	}
	if f.partition >= 0 {
		copts = append(copts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	cl, err := connect(c, copts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	nparts, err := ensureTopic(ctx, kadm.NewClient(cl), f, c.ErrOrStderr())
	if err != nil {
		return err
	}
	if f.partition >= nparts {
		return usagef("produce: -p %d: %s has partitions 0 to %d", f.partition, f.topic, nparts-1)
	}

	// The input: stdin, or a generator writing into a pipe.
	in, what := c.InOrStdin(), "stdin"
	if f.fixture != "" {
		what = f.fixture + " fixture"
		pr, pw := io.Pipe()
		defer pr.Close() // stops the generator if produce stops early
		go func() {
			var err error
			if f.count > 0 { // Options reads 0 as the default count
				err = fixtures.Generate(pw, f.fixture, opts)
			}
			pw.CloseWithError(err)
		}()
		in = pr
	}

	p := &produce.Producer{Client: cl, Topic: f.topic, Headers: headers, Partition: f.partition}
	if f.keyDelim != "" {
		p.KeyDelim = []byte(f.keyDelim)
	}
	// Records carry a context that Ctrl-C does not cancel, so what was read
	// before the interrupt is still delivered; reading stops at once.
	readErr := p.Lines(ctx, context.WithoutCancel(ctx), in, what, f.strict, key, pace.New(f.rate, 0))
	flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	flushErr := cl.Flush(flushCtx)
	if flushErr != nil {
		// Fail what is still buffered so every promise runs and wg ends.
		cl.AbortBufferedRecords(context.WithoutCancel(ctx))
	}
	p.Wait()
	ok, failed, firstErr := p.Acked()
	fmt.Fprintf(c.ErrOrStderr(), "eddy: produced %d records to %s\n", ok, f.topic)
	switch {
	case failed > 0:
		return fmt.Errorf("%d records failed to produce to %s (first error: %v)", failed, f.topic, firstErr)
	case flushErr != nil:
		return fmt.Errorf("wait for acknowledgements: %w", flushErr)
	case readErr != nil && !errors.Is(readErr, context.Canceled):
		return readErr
	}
	return nil
}

// ensureTopic creates the topic when it does not exist, and returns how
// many partitions it has.
func ensureTopic(ctx context.Context, adm *kadm.Client, f produceFlags, stderr io.Writer) (int32, error) {
	parts, exists, err := lookupTopic(ctx, adm, f.topic)
	if err != nil || exists {
		return int32(len(parts)), err
	}
	_, err = adm.CreateTopic(ctx, f.partitions, f.replication, nil, f.topic)
	switch {
	case errors.Is(err, kerr.TopicAlreadyExists): // created meanwhile by someone else
		parts, _, err := lookupTopic(ctx, adm, f.topic)
		return int32(len(parts)), err
	case err != nil:
		return 0, fmt.Errorf("create topic %q: %w", f.topic, err)
	}
	if f.verbose {
		fmt.Fprintf(stderr, "eddy: created topic %s (%d partitions, replication %d)\n", f.topic, f.partitions, f.replication)
	}
	return f.partitions, nil
}
