package cmd

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
)

func newTopicsCmd() *cobra.Command {
	var groups, all bool
	c := &cobra.Command{
		Use:   "topics",
		Short: "List topics with their size, and consumer groups with their lag",
		Long: `topics prints a table of the cluster's topics: name, partitions, replication
factor and messages (the sum over partitions of end offset minus start
offset: records still in the log, plus transaction markers). Internal topics
(__consumer_offsets and other names starting with "__") are hidden unless
--all.

--groups adds a table of consumer groups: group, state, members, and per
topic the lag (the sum over partitions of end offset minus committed
offset; a partition without a commit counts from its start). A "?" means
a partition's offsets could not be read.`,
		Example: `  eddy topics -b localhost:9092
  eddy topics --groups
  eddy topics --all`,
		Args: exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error { return runTopics(c, groups, all) },
	}
	c.Flags().BoolVar(&groups, "groups", false, "also list consumer groups and their lag")
	c.Flags().BoolVar(&all, "all", false, "include internal topics")
	return c
}

func runTopics(c *cobra.Command, groups, all bool) error {
	ctx := c.Context()
	cl, err := connect(c)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	w := tabwriter.NewWriter(c.OutOrStdout(), 0, 0, 2, ' ', 0)
	if err := writeTopics(ctx, adm, w, all); err != nil {
		return err
	}
	if groups {
		fmt.Fprintln(w)
		if err := writeGroups(ctx, adm, w); err != nil {
			return err
		}
	}
	return w.Flush()
}

func writeTopics(ctx context.Context, adm *kadm.Client, w io.Writer, all bool) error {
	tds, err := adm.ListTopicsWithInternal(ctx)
	if err != nil {
		return fmt.Errorf("list topics: %w", err)
	}
	var names []string
	for name, td := range tds {
		if all || !(td.IsInternal || strings.HasPrefix(name, "__")) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var lows, highs kadm.ListedOffsets
	if len(names) > 0 { // no names would list every topic's offsets
		if lows, err = adm.ListStartOffsets(ctx, names...); err != nil {
			return fmt.Errorf("list start offsets: %w", err)
		}
		if highs, err = adm.ListEndOffsets(ctx, names...); err != nil {
			return fmt.Errorf("list end offsets: %w", err)
		}
	}
	fmt.Fprintln(w, "TOPIC\tPARTITIONS\tREPLICATION\tMESSAGES")
	for _, name := range names {
		td := tds[name]
		if td.Err != nil {
			fmt.Fprintf(w, "%s\t?\t?\t? (%v)\n", name, td.Err)
			continue
		}
		repl := 0
		var msgs int64
		known := true
		for p, pd := range td.Partitions {
			repl = max(repl, len(pd.Replicas))
			lo, ok1 := lows.Lookup(name, p)
			hi, ok2 := highs.Lookup(name, p)
			if !ok1 || !ok2 || lo.Err != nil || hi.Err != nil {
				known = false
				continue
			}
			msgs += hi.Offset - lo.Offset
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%s\n", name, len(td.Partitions), repl, orUnknown(msgs, known))
	}
	return nil
}

func writeGroups(ctx context.Context, adm *kadm.Client, w io.Writer) error {
	lags, err := adm.Lag(ctx)
	if err != nil {
		return fmt.Errorf("describe groups: %w", err)
	}
	fmt.Fprintln(w, "GROUP\tSTATE\tMEMBERS\tTOPIC\tLAG")
	for _, g := range lags.Sorted() {
		if err := g.Error(); err != nil {
			fmt.Fprintf(w, "%s\t?\t?\t-\t? (%v)\n", g.Group, err)
			continue
		}
		topics := make([]string, 0, len(g.Lag))
		for t := range g.Lag {
			topics = append(topics, t)
		}
		slices.Sort(topics)
		if len(topics) == 0 {
			fmt.Fprintf(w, "%s\t%s\t%d\t-\t-\n", g.Group, g.State, len(g.Members))
		}
		for _, t := range topics {
			var lag int64
			known := true
			for _, pl := range g.Lag[t] {
				if pl.Err != nil || pl.Lag < 0 {
					known = false
					continue
				}
				lag += pl.Lag
			}
			fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\n", g.Group, g.State, len(g.Members), t, orUnknown(lag, known))
		}
	}
	return nil
}

// orUnknown formats n, or "?" when part of it could not be read.
func orUnknown(n int64, known bool) string {
	if !known {
		return "?"
	}
	return strconv.FormatInt(n, 10)
}
