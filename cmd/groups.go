package cmd

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/eddyhq/eddy/internal/groups"
	"github.com/eddyhq/eddy/startpos"
)

func newGroupsCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "groups",
		Short: "List consumer groups with their lag; describe one; reset its offsets",
		Long: `groups lists the cluster's consumer groups: state, members and lag per topic
(as eddy topics --groups). groups describe GROUP shows each partition's
committed offset, end offset, lag and member. groups reset moves a group's
committed offsets, as kafka-consumer-groups --reset-offsets does: it prints
the plan, and commits it only with --execute.`,
		Example: `  eddy groups
  eddy groups describe billing
  eddy groups reset billing -t orders --to earliest              # dry run: the plan
  eddy groups reset billing -t orders --to time:-1h --execute
  eddy groups reset billing -t orders --shift-by -100 --execute`,
		Args: exactArgs(0),
		RunE: func(c *cobra.Command, _ []string) error {
			cl, err := connect(c)
			if err != nil {
				return err
			}
			defer cl.Close()
			w := tabwriter.NewWriter(c.OutOrStdout(), 0, 0, 2, ' ', 0)
			if err := writeGroups(c.Context(), kadm.NewClient(cl), w); err != nil {
				return err
			}
			return w.Flush()
		},
	}
	c.AddCommand(newGroupsDescribeCmd(), newGroupsResetCmd())
	return c
}

func newGroupsDescribeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "describe GROUP",
		Short: "Each partition's committed offset, end offset, lag and member",
		Args:  exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := connect(c)
			if err != nil {
				return err
			}
			defer cl.Close()
			lags, err := kadm.NewClient(cl).Lag(c.Context(), args[0])
			if err != nil {
				return fmt.Errorf("describe group %s: %w", args[0], err)
			}
			g, ok := lags[args[0]]
			switch {
			case !ok || g.State == "Dead":
				return fmt.Errorf("group %s does not exist", args[0])
			case g.Error() != nil:
				return fmt.Errorf("describe group %s: %w", args[0], g.Error())
			}
			w := tabwriter.NewWriter(c.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintf(w, "group %s: state %s, %d members\n\n", g.Group, g.State, len(g.Members))
			fmt.Fprintln(w, "TOPIC\tPARTITION\tCOMMITTED\tEND\tLAG\tMEMBER")
			for _, l := range g.Lag.Sorted() {
				committed, member, lag := "-", "-", "?"
				if l.Commit.At >= 0 {
					committed = fmt.Sprint(l.Commit.At)
				}
				if l.Member != nil {
					member = l.Member.ClientID + " " + l.Member.ClientHost
				}
				if l.Err == nil && l.Lag >= 0 {
					lag = fmt.Sprint(l.Lag)
				}
				fmt.Fprintf(w, "%s\t%d\t%s\t%d\t%s\t%s\n", l.Topic, l.Partition, committed, l.End.Offset, lag, member)
			}
			return w.Flush()
		},
	}
}

func newGroupsResetCmd() *cobra.Command {
	var topics []string
	var to string
	var shift int64
	var execute bool
	c := &cobra.Command{
		Use:   "reset GROUP -t TOPIC (--to POSITION | --shift-by N) [--execute]",
		Short: "Move a consumer group's committed offsets (a dry run unless --execute)",
		Long: `reset plans, for every partition of the topics named, where the group's
commit moves: --to a start position (` + startpos.Forms + `;
kcat's -o forms too), or --shift-by N offsets from the current commit (a
partition without a commit shifts from its start). Each new offset is
clamped to what the partition holds. Without --execute it prints the plan
and changes nothing; with it, it commits the plan. A group with active
members is refused: they would commit over the reset.`,
		Args: exactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			var t groups.Target
			switch {
			case len(topics) == 0:
				return usagef("groups reset: name the topics with -t TOPIC")
			case (to == "") == !c.Flags().Changed("shift-by"):
				return usagef("groups reset: give one of --to POSITION or --shift-by N")
			case to != "":
				p, err := startpos.ParseKcat(to)
				if err != nil {
					return usagef("groups reset: --to: %v", err)
				}
				t.To = p
			default:
				t.Shift, t.Shifted = shift, true
			}
			cl, err := connect(c)
			if err != nil {
				return err
			}
			defer cl.Close()
			adm := kadm.NewClient(cl)
			moves, err := groups.Plan(c.Context(), adm, args[0], topics, t, time.Now())
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(c.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "TOPIC\tPARTITION\tCURRENT\tNEW\tSTART\tEND")
			for _, m := range moves {
				cur := "-"
				if m.Current >= 0 {
					cur = fmt.Sprint(m.Current)
				}
				fmt.Fprintf(w, "%s\t%d\t%s\t%d\t%d\t%d\n", m.Topic, m.Partition, cur, m.New, m.Start, m.End)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			if !execute {
				fmt.Fprintf(c.ErrOrStderr(), "eddy: dry run: nothing committed; add --execute to move group %s\n", args[0])
				return nil
			}
			if err := groups.Apply(c.Context(), adm, args[0], moves); err != nil {
				return err
			}
			fmt.Fprintf(c.ErrOrStderr(), "eddy: group %s moved on %d partitions of %s\n", args[0], len(moves), strings.Join(slices.Compact(slices.Sorted(slices.Values(topics))), ", "))
			return nil
		},
	}
	fl := c.Flags()
	fl.StringSliceVarP(&topics, "topic", "t", nil, "`TOPIC`s to reset (comma separated or repeated)")
	fl.StringVar(&to, "to", "", "the `POSITION` to move to: "+startpos.Forms)
	fl.Int64Var(&shift, "shift-by", 0, "move by `N` offsets from the current commit (negative: back)")
	fl.BoolVar(&execute, "execute", false, "commit the plan (without it: a dry run)")
	return c
}
