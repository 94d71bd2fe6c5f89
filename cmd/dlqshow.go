package cmd

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/eddyhq/eddy/internal/recprint"
	"github.com/eddyhq/eddy/replay"
	"github.com/eddyhq/eddy/value"
)

func newDlqShowCmd() *cobra.Command {
	var in dlqInput
	var where, format string
	var count int
	c := &cobra.Command{
		Use:   "show (-t TOPIC | --file FILE) [--where EXPR] [-c N] [-f text|json]",
		Short: "Print dead letters with their decoded context",
		Long: `show prints dead letters with what their headers say: the error, its class,
the stage, where the record came from, who dead-lettered it (eddy pipeline,
Connect connector and task, Spring consumer group), how often it was
replayed, the key, the value and the record's own headers, and a note for
every header that was missing or could not be read.

--where keeps the letters an expression (expr-lang) is true for. It sees
  error, class, stage   the error text, its class and the stage
  topic, partition, offset   the origin (partition and offset nil when unknown)
  convention            eddy, connect, spring or unknown
  replays               eddy.replay.count (0 when absent)
  headers               every header, as a map of strings
  key                   the key as a string, or nil
  value                 the value decoded as JSON, or the string when not JSON
Letters the expression fails on are skipped and counted on stderr.

-f json prints one object per line (see docs/dead-letters.md).`,
		Example: `  eddy dlq show -t orders.dlq -c 5
  eddy dlq show -t orders.dlq --where 'class startsWith "coerce" && value.amount != nil'
  eddy dlq show --file dead.jsonl --where 'stage == "decode"' -f json`,
		Args: exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			if err := in.check("show"); err != nil {
				return err
			}
			if err := checkFormat("show", format); err != nil {
				return err
			}
			if count < 0 {
				return usagef("dlq show: -c %d must not be negative", count)
			}
			var f *replay.Filter
			if where != "" {
				var err error
				if f, err = replay.NewFilter(where); err != nil {
					return usageError{err}
				}
			}
			bw := bufio.NewWriter(c.OutOrStdout())
			var shown, failed int
			var firstErr error
			var b []byte
			err := in.read(c, func(l *replay.Letter) error {
				if f != nil {
					ok, err := f.Match(l)
					if err != nil {
						if failed == 0 {
							firstErr = err
						}
						failed++
						return nil
					}
					if !ok {
						return nil
					}
				}
				if format == "json" {
					b = l.AppendJSON(b[:0])
					b = append(b, '\n')
				} else {
					b = appendLetterText(b[:0], l, shown > 0)
				}
				bw.Write(b)
				shown++
				if count > 0 && shown >= count {
					return errStop
				}
				return nil
			})
			if ferr := bw.Flush(); err == nil && ferr != nil {
				err = fmt.Errorf("write output: %w", ferr)
			}
			if failed > 0 {
				fmt.Fprintf(c.ErrOrStderr(), "eddy: skipped %d dead letters --where could not evaluate (first error: %v)\n", failed, firstErr)
			}
			return err
		},
	}
	in.flags(c)
	c.Flags().StringVar(&where, "where", "", "show only dead letters matching this `EXPR`")
	c.Flags().IntVarP(&count, "count", "c", 0, "stop after `N` dead letters (0: no limit)")
	c.Flags().StringVarP(&format, "format", "f", "text", "output `FORMAT`: text or json")
	return c
}

// appendLetterText renders one letter as an indented block.
func appendLetterText(b []byte, l *replay.Letter, sep bool) []byte {
	if sep {
		b = append(b, '\n')
	}
	if l.InFile {
		b = fmt.Appendf(b, "%s line %d", l.Topic, l.Offset)
	} else {
		b = fmt.Appendf(b, "%s partition %d offset %d  %s", l.Topic, l.Partition, l.Offset, fmtTime(l.Timestamp))
	}
	b = fmt.Appendf(b, "  (%s)\n", l.Convention)
	field := func(name, v string) {
		b = fmt.Appendf(b, "  %-9s %s\n", name, v)
	}
	field("error", orDash(l.Error))
	field("class", l.Class)
	field("stage", orDash(l.Stage))
	field("origin", originText(&l.Origin))
	switch {
	case l.Pipeline != "":
		field("pipeline", l.Pipeline)
	case l.Connector != "" || l.Task != "":
		field("connector", orDash(l.Connector)+" task "+orDash(l.Task))
	case l.Group != "":
		field("group", l.Group)
	}
	if l.Executing != "" {
		field("executing", l.Executing)
	}
	field("replays", strconv.Itoa(l.Replays))
	if l.Key == nil {
		field("key", "null")
	} else {
		field("key", recprint.DisplayText(l.Key))
	}
	field("value", recprint.DisplayText(l.Value))
	var hs []string
	for _, h := range l.Headers {
		if !replay.IsDeadLetterHeader(h.Key) {
			hs = append(hs, h.Key+"="+recprint.DisplayText(h.Value))
		}
	}
	if len(hs) > 0 {
		field("headers", strings.Join(hs, " "))
	}
	for _, n := range l.Notes {
		field("note", n)
	}
	return b
}

func originText(o *replay.Origin) string {
	if o.File != "" {
		line := "?"
		if o.Line != nil {
			line = strconv.FormatInt(*o.Line, 10)
		}
		return "file " + o.File + " line " + line
	}
	part, off := "?", "?"
	if o.Partition != nil {
		part = strconv.Itoa(int(*o.Partition))
	}
	if o.Offset != nil {
		off = strconv.FormatInt(*o.Offset, 10)
	}
	s := orQ(o.Topic) + " partition " + part + " offset " + off
	if o.Kinesis() {
		s = "stream " + orQ(o.Topic) + " shard " + part + " sequence " + o.Sequence
	}
	if o.Timestamp != nil {
		s += "  " + value.FormatTime(*o.Timestamp)
	}
	return s
}

func orQ(s string) string {
	if s == "" {
		return "?"
	}
	return s
}
