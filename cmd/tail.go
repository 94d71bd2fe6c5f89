package cmd

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/format"
	"github.com/eddyhq/eddy/internal/recprint"
	"github.com/eddyhq/eddy/job"
)

type tailFlags struct {
	topic     string
	offsets   []string
	exit      bool
	count     int
	where     string
	format    string
	value     string
	partition int32
}

func newTailCmd() *cobra.Command {
	var f tailFlags
	c := &cobra.Command{
		Use:   "tail -t TOPIC | tail kinesis://STREAM",
		Short: "Print a topic's records (like kcat -C)",
		Long: `tail prints the records of a topic, one per line, from every partition (or
the one named with -p), and keeps following new records until Ctrl-C. With -e
it stops once every partition has reached the end it had when tail started.

Start offsets (-o), per partition, in eddy's start syntax (docs/kafka.md) or
kcat's:
  earliest     the oldest record still in the log (default; kcat: beginning)
  latest       only records produced from now on (kcat: end)
  offset:N     absolute offset N, clamped to the partition's start and end
               (kcat: N)
  last:N       the last N records (kcat: -N)
  time:TIME    the first record stamped at or after TIME: RFC 3339
               (time:2026-01-01T10:00:00Z) or a duration back from now
               (time:-15m); also @TIME, and kcat's s@MS or @MS for epoch
               milliseconds (@1767261600000)
A second -o e@MS (kcat's) ends each partition before its first record
stamped at or after MS (epoch milliseconds); tail exits when every partition
has ended.

Values in Avro, Protobuf or JSON Schema (-s avro|protobuf|json-schema, or
kcat's -s value=avro) are decoded through the schema registry
(--schema-registry, schema.registry.url in the client properties, or
$EDDY_SCHEMA_REGISTRY) and printed as JSON; --where sees their fields.
-s raw shows each value as {"value": "..."} (no registry), for --where on
text that is not JSON (value contains "ERROR").

Formats (-f):
  json   one object per line: topic, partition, offset, timestamp (RFC 3339,
         ms), key (string, null, or base64 with "key_encoding":"base64"),
         headers [{key, value}], value (embedded when it is JSON, a string
         when it is UTF-8 text, else base64 with "value_encoding":"base64")
  raw    the value bytes and a newline
  table  partition, offset, timestamp, key and value, cut to the width in
         $COLUMNS (120 when unset)
  LAYOUT anything with a % or a backslash: a kcat-style layout (franz-go's
         RecordFormatter): %t topic, %p partition, %o offset, %k key, %v
         value, %h{%k=%v } headers, %H their count, %d timestamp (epoch ms;
         %d{go#RFC3339#} as a date), %K %V key and value lengths, %% a
         percent sign, \n \t escapes; e.g. -f '%p:%o %k %v\n'

--where keeps the records whose JSON value matches a filter expression (the
pipeline's filter syntax; coordinates as _key, _topic, _partition, _offset,
_timestamp, _headers). Records it cannot evaluate (not JSON, or the expression
fails on them) are skipped and counted on stderr at the end.

A Kinesis stream (kinesis://STREAM, with ?region=R&endpoint=URL when the
environment does not say them) is read from every shard, following reshards:
-o takes trim_horizon (default; also earliest), latest, at_timestamp:TIME
(also time:TIME) or at_sequence:SEQ, and -e stops once every shard is caught
up. Its json lines carry stream, shard, sequence, timestamp, key (the
partition key) and value. Credentials come from the standard AWS chain, with
--aws-profile.

Exit status: 0 at the end of the records (-e, -c, e@MS) or on Ctrl-C, 1 when
the topic does not exist or the cluster fails, 2 on bad flags.`,
		Example: `  # everything in orders, then stop
  eddy tail -b localhost:9092 -t orders -e

  # the last 5 records of each partition, as a table
  eddy tail -t orders -o -5 -e -f table

  # follow bids above 1000 from the last quarter of an hour
  eddy tail -t bids -o @-15m --where 'price > 1000'

  # a Kinesis stream, from its oldest records, until caught up
  eddy tail kinesis://clicks -e

  # values only, for jq
  eddy tail -t orders -e -f raw | jq .amount`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 1 && strings.HasPrefix(args[0], "kinesis://") {
				return nil
			}
			return exactArgs(0)(c, args)
		},
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 1 {
				return runTailKinesis(c, f, args[0])
			}
			return runTail(c, f)
		},
	}
	fl := c.Flags()
	fl.StringVarP(&f.topic, "topic", "t", "", "`TOPIC` to read (required)")
	fl.StringArrayVarP(&f.offsets, "offset", "o", nil, "`WHERE` to start in each partition (default earliest; see above), and e@MS to stop")
	fl.BoolVarP(&f.exit, "exit", "e", false, "exit when every partition reaches the end it had at start")
	fl.IntVarP(&f.count, "count", "c", 0, "stop after printing `N` records (0: no limit)")
	fl.StringVar(&f.where, "where", "", "print only records matching this filter `EXPR`")
	fl.StringVarP(&f.format, "format", "f", "json", "output `FORMAT`: json, raw, table or a %-layout (see above)")
	fl.StringVarP(&f.value, "value-format", "s", "", "decode values as `FORMAT`: avro, protobuf or json-schema through the schema registry (kcat's -s value=avro works too), or raw")
	fl.Int32VarP(&f.partition, "partition", "p", -1, "read only this `PARTITION` (-1: all)")
	return c
}

func runTail(c *cobra.Command, f tailFlags) error {
	if f.topic == "" {
		return usagef("tail: name the topic with -t TOPIC")
	}
	start, stopMs, err := parseOffsets(f.offsets)
	if err != nil {
		return usageError{err}
	}
	if f.count < 0 {
		return usagef("tail: -c %d must not be negative", f.count)
	}
	if f.partition < -1 {
		return usagef("tail: -p %d is not a partition", f.partition)
	}
	out, err := recprint.New(c.OutOrStdout(), f.format)
	switch {
	case errors.Is(err, recprint.ErrFormat):
		return usageError{fmt.Errorf("tail: -f %q: %w (see eddy tail --help)", f.format, err)}
	case err != nil:
		return usageError{fmt.Errorf("tail: -f %q: %w", f.format, err)}
	}
	var m *engine.Matcher
	if f.where != "" {
		if m, err = engine.NewMatcher(f.where); err != nil {
			return usageError{err}
		}
	}

	ctx := c.Context()
	cl, err := connect(c, kgo.KeepControlRecords())
	if err != nil {
		return err
	}
	defer cl.Close()
	decodeValue, err := valueDecoder(c, f.value)
	if err != nil {
		return err
	}
	adm := kadm.NewClient(cl)
	parts, err := topicPartitions(ctx, adm, f.topic)
	if err != nil {
		return err
	}
	if f.partition >= 0 {
		if !slices.Contains(parts, f.partition) {
			return fmt.Errorf("topic %q has no partition %d (it has %d partitions)", f.topic, f.partition, len(parts))
		}
		parts = []int32{f.partition}
	}
	ranges, err := startOffsets(ctx, adm, f.topic, parts, start)
	if err != nil {
		return err
	}
	ends := make(map[int32]int64, len(ranges))
	for part, r := range ranges {
		ends[part] = r.end
	}
	width := 120
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		width = n
	}
	out.FitTable(ends, width)

	t := &tailer{
		cl:      cl,
		topic:   f.topic,
		exit:    f.exit,
		stopMs:  stopMs,
		stopped: map[int32]bool{},
		limit:   f.count,
		match:   m,
		ranges:  ranges,
		pending: map[int32]bool{},
		out:     out,
		stderr:  c.ErrOrStderr(),
		decode:  decodeValue,
	}
	offsets := map[int32]kgo.Offset{}
	for p, r := range ranges {
		if r.from < r.end {
			t.pending[p] = true
		} else if f.exit {
			continue // at its end already
		}
		offsets[p] = kgo.NewOffset().At(r.from)
	}
	if len(offsets) == 0 {
		return nil
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{f.topic: offsets})
	err = t.run(ctx)
	if ferr := t.out.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("write output: %w", ferr)
	}
	if t.undecoded > 0 {
		fmt.Fprintf(c.ErrOrStderr(), "eddy: %d values could not be decoded as %s and were printed as they are (first: %v)\n", t.undecoded, f.value, t.decodeErr)
	}
	if t.skipped > 0 {
		fmt.Fprintf(c.ErrOrStderr(), "eddy: skipped %d records the filter could not evaluate (first error: %v)\n", t.skipped, t.firstErr)
	}
	return err
}

// valueDecoder is tail's --value-format: nil for none (json), else a
// decoder of framed records into JSON, with the registry from the flag,
// the client properties and the environment (highest first).
func valueDecoder(c *cobra.Command, kind string) (func([]byte) ([]byte, error), error) {
	return recordDecoder(c, "--value-format", strings.TrimPrefix(kind, "value="), format.Config{})
}

// recordDecoder is the decoder of a --format (or -s) flag's kind into
// the JSON of whole records: nil for json, else through the registry
// from --schema-registry, the spec's source.kafka.registry (spec, for
// tui -p), the client properties and the environment, highest first.
// Raw needs no registry.
func recordDecoder(c *cobra.Command, flagName, kind string, spec format.Config) (func([]byte) ([]byte, error), error) {
	if kind == "" || kind == "json" {
		return nil, nil
	}
	cache, _, err := formatCache(c, flagName, kind, spec)
	if err != nil {
		return nil, err
	}
	return format.WholeJSON(cache, kind)
}

// recordTypedDecoder is recordDecoder with, for Avro and Protobuf, the
// function that gives the DuckDB types each record's schema declares
// (format.DuckTypes), for the exports.
func recordTypedDecoder(c *cobra.Command, flagName, kind string, spec format.Config) (func([]byte) ([]byte, error), func([]byte) (map[string]string, error), error) {
	if kind == "" || kind == "json" {
		return nil, nil, nil
	}
	cache, _, err := formatCache(c, flagName, kind, spec)
	if err != nil {
		return nil, nil, err
	}
	dec, err := format.WholeJSON(cache, kind)
	if err != nil {
		return nil, nil, err
	}
	return dec, format.DuckTypes(cache, kind), nil
}

// formatCache checks a --format flag's kind and, for the formats read
// through a schema registry, makes the schema cache (nil for raw and
// json), and returns the registry's client too; see recordDecoder.
func formatCache(c *cobra.Command, flagName, kind string, spec format.Config) (*format.Cache, *sr.Client, error) {
	if !slices.Contains(format.Kinds, kind) && kind != "json" {
		return nil, nil, usagef("%s %q: want json, avro, protobuf, json-schema or raw", flagName, kind)
	}
	if !format.NeedsRegistry(kind) {
		return nil, nil, nil
	}
	cfg, err := kafkaConfig(c)
	if err != nil {
		return nil, nil, err
	}
	props, err := cfg.Registry()
	if err != nil {
		return nil, nil, usageError{err}
	}
	flag, env := registryConfig(c)
	reg := job.MergeRegistry(flag, spec, props, env)
	if len(reg.URLs) == 0 {
		return nil, nil, usagef("%s %s needs a schema registry: --schema-registry, schema.registry.url in the client properties or EDDY_SCHEMA_REGISTRY", flagName, kind)
	}
	cl, err := reg.Client()
	if err != nil {
		return nil, nil, usageError{err}
	}
	return format.NewCache(c.Context(), cl, format.CacheOptions{}), cl, nil
}
