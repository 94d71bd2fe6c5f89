package cmd

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/eddyhq/eddy/replay"
	"github.com/eddyhq/eddy/value"
)

func newDlqListCmd() *cobra.Command {
	var in dlqInput
	var format string
	c := &cobra.Command{
		Use:   "list (-t TOPIC | --file FILE)",
		Short: "Count dead letters by error class and stage",
		Long: `list reads every dead letter (a topic up to the end it has when list starts)
and prints the total, then one row per error class and stage: how many, the
first and last seen times (the dead-letter records' timestamps; for files
the origin's) and the origin topics.

The error class is the exception class for Kafka Connect and Spring; for
eddy it is the stage kind and the error text up to its first detail (a
quoted value or a number), e.g. "coerce: amount: cannot coerce".`,
		Example: `  eddy dlq list -b localhost:9092 -t orders.dlq
  eddy dlq list --file dead.jsonl -f json`,
		Args: exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			if err := in.check("list"); err != nil {
				return err
			}
			if err := checkFormat("list", format); err != nil {
				return err
			}
			var s replay.Summary
			if err := in.read(c, func(l *replay.Letter) error { s.Add(l); return nil }); err != nil {
				return err
			}
			name := in.topic
			if name == "" {
				name = in.file
			}
			if format == "json" {
				return writeSummaryJSON(c.OutOrStdout(), name, &s)
			}
			return writeSummary(c.OutOrStdout(), name, &s)
		},
	}
	in.flags(c)
	c.Flags().StringVarP(&format, "format", "f", "text", "output `FORMAT`: text (a table) or json")
	return c
}

func fmtTime(ms int64) string {
	if ms == 0 {
		return "-"
	}
	return value.FormatTime(ms)
}

// countList writes "a 2, b 1" from counts, largest first; "" is shown as -.
func countList(m map[string]int) string {
	var parts []string
	for _, k := range replay.SortedKeys(m) {
		name := k
		if name == "" {
			name = "-"
		}
		parts = append(parts, name+" "+strconv.Itoa(m[k]))
	}
	return strings.Join(parts, ", ")
}

func writeSummary(w io.Writer, name string, s *replay.Summary) error {
	bw := bufio.NewWriter(w)
	conv := map[string]int{}
	for k, n := range s.Conventions {
		conv[string(k)] = n
	}
	fmt.Fprintf(bw, "%s: %d dead letters", name, s.Total)
	if s.Total > 0 {
		fmt.Fprintf(bw, " (%s)", countList(conv))
	}
	if s.Replayed > 0 {
		fmt.Fprintf(bw, ", %d replayed before", s.Replayed)
	}
	if s.First != 0 {
		fmt.Fprintf(bw, ", seen %s to %s", fmtTime(s.First), fmtTime(s.Last))
	}
	fmt.Fprintln(bw)
	if s.Total > 0 {
		fmt.Fprintln(bw)
		tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "COUNT\tCLASS\tSTAGE\tFIRST\tLAST\tORIGINS")
		for _, g := range s.Groups() {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", g.Count, g.Class, orDash(g.Stage), fmtTime(g.First), fmtTime(g.Last), countList(g.Origins))
		}
		tw.Flush()
	}
	return bw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func writeSummaryJSON(w io.Writer, name string, s *replay.Summary) error {
	b := []byte(`{"source":`)
	b = value.AppendString(b, name)
	b = append(b, `,"total":`...)
	b = strconv.AppendInt(b, int64(s.Total), 10)
	b = append(b, `,"replayed_before":`...)
	b = strconv.AppendInt(b, int64(s.Replayed), 10)
	b = append(b, `,"first":`...)
	b = appendMaybeTime(b, s.First)
	b = append(b, `,"last":`...)
	b = appendMaybeTime(b, s.Last)
	b = append(b, `,"conventions":{`...)
	for i, k := range []replay.Convention{replay.Eddy, replay.Connect, replay.Spring, replay.Unknown} {
		if i > 0 {
			b = append(b, ',')
		}
		b = value.AppendString(b, string(k))
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(s.Conventions[k]), 10)
	}
	b = append(b, `},"groups":[`...)
	for i, g := range s.Groups() {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"class":`...)
		b = value.AppendString(b, g.Class)
		b = append(b, `,"stage":`...)
		b = value.AppendString(b, g.Stage)
		b = append(b, `,"count":`...)
		b = strconv.AppendInt(b, int64(g.Count), 10)
		b = append(b, `,"first":`...)
		b = appendMaybeTime(b, g.First)
		b = append(b, `,"last":`...)
		b = appendMaybeTime(b, g.Last)
		b = append(b, `,"origins":{`...)
		for j, t := range replay.SortedKeys(g.Origins) {
			if j > 0 {
				b = append(b, ',')
			}
			b = value.AppendString(b, t)
			b = append(b, ':')
			b = strconv.AppendInt(b, int64(g.Origins[t]), 10)
		}
		b = append(b, "}}"...)
	}
	b = append(b, "]}\n"...)
	_, err := w.Write(b)
	return err
}

func appendMaybeTime(b []byte, ms int64) []byte {
	if ms == 0 {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = value.AppendTime(b, ms)
	return append(b, '"')
}
