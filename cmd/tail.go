package cmd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/decode"
	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/startpos"
	"github.com/eddyhq/eddy/value"
)

// connectTimeout bounds how long a command waits for the first broker
// answer (a variable so tests need not wait as long).
var connectTimeout = 10 * time.Second

type tailFlags struct {
	topic     string
	offsets   []string
	exit      bool
	count     int
	where     string
	format    string
	partition int32
}

func newTailCmd() *cobra.Command {
	var f tailFlags
	c := &cobra.Command{
		Use:   "tail -t TOPIC",
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

Exit status: 0 at the end of the records (-e, -c, e@MS) or on Ctrl-C, 1 when
the topic does not exist or the cluster fails, 2 on bad flags.`,
		Example: `  # everything in orders, then stop
  eddy tail -b localhost:9092 -t orders -e

  # the last 5 records of each partition, as a table
  eddy tail -t orders -o -5 -e -f table

  # follow bids above 1000 from the last quarter of an hour
  eddy tail -t bids -o @-15m --where 'price > 1000'

  # values only, for jq
  eddy tail -t orders -e -f raw | jq .amount`,
		Args: exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error { return runTail(c, f) },
	}
	fl := c.Flags()
	fl.StringVarP(&f.topic, "topic", "t", "", "`TOPIC` to read (required)")
	fl.StringArrayVarP(&f.offsets, "offset", "o", nil, "`WHERE` to start in each partition (default earliest; see above), and e@MS to stop")
	fl.BoolVarP(&f.exit, "exit", "e", false, "exit when every partition reaches the end it had at start")
	fl.IntVarP(&f.count, "count", "c", 0, "stop after printing `N` records (0: no limit)")
	fl.StringVar(&f.where, "where", "", "print only records matching this filter `EXPR`")
	fl.StringVarP(&f.format, "format", "f", "json", "output `FORMAT`: json, raw, table or a %-layout (see above)")
	fl.Int32VarP(&f.partition, "partition", "p", -1, "read only this `PARTITION` (-1: all)")
	return c
}

// parseOffsets reads the -o flags: at most one start (any form of
// startpos.ParseKcat) and one kcat stop time (e@MS, -1 when not given).
func parseOffsets(flags []string) (start startpos.Position, stopMs int64, err error) {
	stopMs = -1
	var haveStart bool
	for _, s := range flags {
		if ms, ok, err := startpos.ParseKcatStop(s); ok {
			if err != nil {
				return start, 0, fmt.Errorf("-o: %w", err)
			}
			if stopMs >= 0 {
				return start, 0, fmt.Errorf("-o %s: give one stop time (e@MS), not two", s)
			}
			stopMs = ms
			continue
		}
		if haveStart {
			return start, 0, fmt.Errorf("-o %s: give one start position, not two", s)
		}
		if start, err = startpos.ParseKcat(s); err != nil {
			return start, 0, fmt.Errorf("-o: %w", err)
		}
		haveStart = true
	}
	return start, stopMs, nil
}

// connect resolves the connection settings and returns a client whose
// cluster has answered. Settings that cannot work (no brokers, a missing CA
// file, an unknown mechanism) are usage errors; a cluster that does not
// answer is a runtime failure.
func connect(c *cobra.Command, extra ...kgo.Opt) (*kgo.Client, error) {
	cfg, err := kafkaConfig(c)
	if err != nil {
		return nil, err
	}
	// Validate first so bad settings exit 2; muted so warnings print once.
	warn := cfg.Warn
	cfg.Warn = nil
	_, err = cfg.Opts()
	cfg.Warn = warn
	if err != nil {
		return nil, usageError{err}
	}
	return cfg.Client(c.Context(), connectTimeout, extra...)
}

// lookupTopic returns a topic's partitions, sorted; exists is false when the
// cluster does not know the topic. It never creates the topic.
func lookupTopic(ctx context.Context, adm *kadm.Client, topic string) (parts []int32, exists bool, err error) {
	tds, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return nil, false, fmt.Errorf("look up topic %q: %w", topic, err)
	}
	td, ok := tds[topic]
	if !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
		return nil, false, nil
	}
	if td.Err != nil {
		return nil, false, fmt.Errorf("look up topic %q: %w", topic, td.Err)
	}
	for p := range td.Partitions {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	return parts, true, nil
}

// topicPartitions is lookupTopic with a missing topic as an error.
func topicPartitions(ctx context.Context, adm *kadm.Client, topic string) ([]int32, error) {
	parts, exists, err := lookupTopic(ctx, adm, topic)
	if err == nil && !exists {
		err = fmt.Errorf("topic %q does not exist", topic)
	}
	return parts, err
}

// partRange is where tail starts in a partition and, with -e, where it stops.
type partRange struct{ from, end int64 }

// startOffsets resolves -o for each partition against the partition's
// current log start and end.
func startOffsets(ctx context.Context, adm *kadm.Client, topic string, parts []int32, s startpos.Position) (map[int32]partRange, error) {
	lows, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = lows.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("list start offsets of %q: %w", topic, err)
	}
	highs, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = highs.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("list end offsets of %q: %w", topic, err)
	}
	var atTime kadm.ListedOffsets
	if s.Kind == startpos.Time {
		ms := s.Millis(time.Now())
		atTime, err = adm.ListOffsetsAfterMilli(ctx, ms, topic)
		if err == nil {
			err = atTime.Error()
		}
		if err != nil {
			return nil, fmt.Errorf("list offsets of %q at %s: %w", topic, value.FormatTime(ms), err)
		}
	}
	out := make(map[int32]partRange, len(parts))
	for _, p := range parts {
		lo, ok1 := lows.Lookup(topic, p)
		hi, ok2 := highs.Lookup(topic, p)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("list offsets of %q: partition %d is missing from the answer", topic, p)
		}
		at := int64(-1) // no record at or after the time
		if o, ok := atTime.Lookup(topic, p); ok {
			at = o.Offset
		}
		high := hi.Offset
		from := s.Resolve(lo.Offset, high, at)
		out[p] = partRange{from: from, end: high}
	}
	return out, nil
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
	out, err := newRecordPrinter(c.OutOrStdout(), f.format)
	if err != nil {
		return usageError{err}
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
	out.fitTable(ranges)

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
	if ferr := t.out.flush(); err == nil && ferr != nil {
		err = fmt.Errorf("write output: %w", ferr)
	}
	if t.skipped > 0 {
		fmt.Fprintf(c.ErrOrStderr(), "eddy: skipped %d records the filter could not evaluate (first error: %v)\n", t.skipped, t.firstErr)
	}
	return err
}

// tailer consumes and prints; it runs on the command's goroutine only.
type tailer struct {
	cl      *kgo.Client
	topic   string
	exit    bool
	stopMs  int64          // -o e@MS: end each partition at this time (-1: none)
	stopped map[int32]bool // partitions ended by stopMs
	limit   int
	match   *engine.Matcher
	ranges  map[int32]partRange
	pending map[int32]bool // -e: partitions not yet at their end
	out     *recordPrinter
	stderr  io.Writer

	printed  int
	skipped  int
	firstErr error
	rec      source.Record
}

func (t *tailer) done() bool {
	return (t.exit && len(t.pending) == 0) || (t.limit > 0 && t.printed >= t.limit) ||
		(t.stopMs >= 0 && len(t.stopped) == len(t.ranges))
}

func (t *tailer) run(ctx context.Context) error {
	for !t.done() {
		fs := t.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil // Ctrl-C ends a follow normally
		}
		var ferr error
		fs.EachError(func(topic string, p int32, err error) {
			var loss *kgo.ErrDataLoss
			switch {
			case ferr != nil, errors.Is(err, context.Canceled), errors.Is(err, kgo.ErrClientClosed):
			case errors.As(err, &loss):
				// The client has already moved on; say what was lost.
				fmt.Fprintf(t.stderr, "eddy: warning: %v\n", err)
			default:
				ferr = fmt.Errorf("read %s partition %d: %w", topic, p, err)
			}
		})
		if ferr != nil {
			return ferr
		}
		for r := range fs.RecordsAll() {
			if t.handle(r) {
				break
			}
		}
		if err := t.out.flush(); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
	}
	return nil
}

// handle prints one record if it is wanted and reports whether tail is done.
func (t *tailer) handle(r *kgo.Record) bool {
	if t.stopped[r.Partition] {
		return t.done() // fetched before the partition was paused
	}
	if t.stopMs >= 0 && r.Timestamp.UnixMilli() >= t.stopMs {
		t.stopped[r.Partition] = true
		delete(t.pending, r.Partition)
		t.cl.PauseFetchPartitions(map[string][]int32{t.topic: {r.Partition}})
		return t.done()
	}
	if t.exit {
		if !t.pending[r.Partition] {
			return t.done() // at its end already: newer records are not part of this run
		}
		end := t.ranges[r.Partition].end
		if r.Offset+1 >= end {
			delete(t.pending, r.Partition)
			t.cl.PauseFetchPartitions(map[string][]int32{t.topic: {r.Partition}})
		}
		if r.Offset >= end {
			return t.done() // end-1 is gone (compacted): this one is newer
		}
	}
	if r.Attrs.IsControl() {
		return t.done()
	}
	if t.match != nil {
		t.rec = source.Record{Key: r.Key, Value: r.Value, Topic: r.Topic, Partition: r.Partition,
			Offset: r.Offset, Timestamp: r.Timestamp.UnixMilli(), Headers: t.rec.Headers[:0]}
		for _, h := range r.Headers {
			t.rec.Headers = append(t.rec.Headers, source.Header{Key: h.Key, Value: h.Value})
		}
		ok, err := t.match.Match(&t.rec)
		if err != nil {
			if t.skipped == 0 {
				t.firstErr = err
			}
			t.skipped++
			return t.done()
		}
		if !ok {
			return t.done()
		}
	}
	t.out.print(r)
	t.printed++
	return t.done()
}

// recordPrinter writes records in one of tail's formats.
type recordPrinter struct {
	w      *bufio.Writer
	format string
	layout *kgo.RecordFormatter // raw, and kcat-style layouts
	buf    []byte
	cbuf   bytes.Buffer

	// table layout
	header            bool
	partW, offW, valW int
}

const (
	tableKeyWidth  = 16
	tableTimeWidth = 24
)

// newRecordPrinter makes the printer of format: json, raw, table, or a
// layout of franz-go's RecordFormatter (%t %p %o %k %v %h{...} %d ...,
// kcat-style), recognised by a % or a backslash.
func newRecordPrinter(w io.Writer, format string) (*recordPrinter, error) {
	p := &recordPrinter{w: bufio.NewWriterSize(w, 64<<10), format: format}
	layout := format
	switch {
	case format == "json", format == "table":
		return p, nil
	case format == "raw":
		layout = `%v\n`
	case !strings.ContainsAny(format, `%\`):
		return nil, fmt.Errorf("tail: -f %q: want json, raw, table or a layout such as '%%k %%v\\n' (see eddy tail --help)", format)
	}
	var err error
	if p.layout, err = kgo.NewRecordFormatter(layout); err != nil {
		return nil, fmt.Errorf("tail: -f %q: %w", format, err)
	}
	return p, nil
}

// fitTable sizes the table's columns for the partitions and offsets read.
func (p *recordPrinter) fitTable(ranges map[int32]partRange) {
	if p.format != "table" {
		return
	}
	p.partW, p.offW = len("PARTITION"), len("OFFSET")
	for part, r := range ranges {
		p.partW = max(p.partW, len(strconv.Itoa(int(part))))
		p.offW = max(p.offW, len(strconv.FormatInt(r.end, 10)))
	}
	width := 120
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		width = n
	}
	p.valW = max(width-(p.partW+p.offW+tableTimeWidth+tableKeyWidth+4*2), 10)
}

func (p *recordPrinter) flush() error { return p.w.Flush() }

func (p *recordPrinter) print(r *kgo.Record) {
	b := p.buf[:0]
	switch {
	case p.layout != nil:
		b = p.layout.AppendRecord(b, r)
	case p.format == "table":
		if !p.header {
			p.header = true
			b = p.appendRow(b, "PARTITION", "OFFSET", "TIMESTAMP", "KEY", "VALUE")
		}
		b = p.appendRow(b, strconv.Itoa(int(r.Partition)), strconv.FormatInt(r.Offset, 10),
			value.FormatTime(r.Timestamp.UnixMilli()),
			value.Abbrev(displayText(r.Key), tableKeyWidth), value.Abbrev(displayText(r.Value), p.valW))
	default:
		b = p.appendJSON(b, r)
		b = append(b, '\n')
	}
	p.w.Write(b) // errors stick in the bufio.Writer and surface at flush
	p.buf = b
}

func (p *recordPrinter) appendRow(b []byte, part, off, ts, key, val string) []byte {
	b = append(b, part...)
	b = pad(b, p.partW-len(part)+2)
	b = pad(b, p.offW-len(off))
	b = append(b, off...)
	b = pad(b, 2)
	b = append(b, ts...)
	b = pad(b, tableTimeWidth-len(ts)+2)
	b = append(b, key...)
	b = pad(b, tableKeyWidth-utf8.RuneCountInString(key)+2)
	b = append(b, val...)
	return append(b, '\n')
}

func pad(b []byte, n int) []byte {
	for ; n > 0; n-- {
		b = append(b, ' ')
	}
	return b
}

// displayText shows bytes on one line: text as is, anything with control
// characters or invalid UTF-8 Go-quoted.
func displayText(b []byte) string {
	if !utf8.Valid(b) || bytes.ContainsFunc(b, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return strconv.Quote(string(b))
	}
	return string(b)
}

func (p *recordPrinter) appendJSON(b []byte, r *kgo.Record) []byte {
	b = append(b, `{"topic":`...)
	b = value.AppendString(b, r.Topic)
	b = append(b, `,"partition":`...)
	b = strconv.AppendInt(b, int64(r.Partition), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, r.Offset, 10)
	b = append(b, `,"timestamp":"`...)
	b = value.AppendTime(b, r.Timestamp.UnixMilli())
	b = append(b, `","key":`...)
	b = appendText(b, r.Key, "key_encoding")
	b = append(b, `,"headers":[`...)
	for i, h := range r.Headers {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"key":`...)
		b = value.AppendString(b, h.Key)
		b = append(b, `,"value":`...)
		b = appendText(b, h.Value, "value_encoding")
		b = append(b, '}')
	}
	b = append(b, `],"value":`...)
	switch {
	case r.Value != nil && decode.Valid(r.Value):
		if bytes.ContainsAny(r.Value, "\r\n") {
			p.cbuf.Reset()
			json.Compact(&p.cbuf, r.Value) // cannot fail: the value is valid
			b = append(b, p.cbuf.Bytes()...)
		} else {
			b = append(b, bytes.TrimSpace(r.Value)...)
		}
	default:
		b = appendText(b, r.Value, "value_encoding")
	}
	return append(b, '}')
}

// appendText appends bytes as null (nil), a JSON string (UTF-8), or a
// base64 string followed by an encodingField saying so.
func appendText(b, text []byte, encodingField string) []byte {
	switch {
	case text == nil:
		return append(b, "null"...)
	case utf8.Valid(text):
		return value.AppendString(b, string(text))
	}
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, text)
	b = append(b, `","`...)
	b = append(b, encodingField...)
	return append(b, `":"base64"`...)
}
