package tui

import (
	"fmt"
	"strings"
	"text/tabwriter"

	tea "charm.land/bubbletea/v2"
)

// GroupLag is one partition of a consumer group: its commit, the
// partition's end and the lag between them (-1: unknown), and the member
// that holds it ("" when none does).
type GroupLag struct {
	Group, State string
	Members      int
	Topic        string
	Partition    int32
	Committed    int64 // -1: no commit
	End, Lag     int64
	Member       string
}

// groupsMsg is the answer of :groups.
type groupsMsg struct {
	only string
	lags []GroupLag
	err  error
}

// groups asks the cluster for its consumer groups' lag (:groups [GROUP]).
func (m *Model) groups(only string) (tea.Cmd, error) {
	if m.opts.Groups == nil {
		return nil, fmt.Errorf("groups needs a cluster (this workbench reads a file)")
	}
	list, ctx := m.opts.Groups, m.ctx
	return func() tea.Msg {
		lags, err := list(ctx)
		return groupsMsg{only: only, lags: lags, err: err}
	}, nil
}

// showGroups opens a box with the groups' lag: per group and topic the
// sum, and per partition for one group (:groups GROUP).
func (m *Model) showGroups(msg groupsMsg) {
	if msg.err != nil {
		m.note("groups: "+msg.err.Error(), true)
		return
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	n := 0
	if msg.only == "" {
		type gt struct{ group, topic string }
		sums := map[gt]int64{}
		var order []gt
		state := map[string]string{}
		for _, l := range msg.lags {
			k := gt{l.Group, l.Topic}
			if _, ok := sums[k]; !ok {
				order = append(order, k)
			}
			if l.Lag < 0 || sums[k] < 0 {
				sums[k] = -1
			} else {
				sums[k] += l.Lag
			}
			state[l.Group] = fmt.Sprintf("%s, %d members", l.State, l.Members)
		}
		fmt.Fprintln(tw, "GROUP\tSTATE\tTOPIC\tLAG")
		for _, k := range order {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.group, state[k.group], k.topic, lagText(sums[k]))
			n++
		}
	} else {
		fmt.Fprintln(tw, "TOPIC\tPARTITION\tCOMMITTED\tEND\tLAG\tMEMBER")
		for _, l := range msg.lags {
			if l.Group != msg.only {
				continue
			}
			committed := "-"
			if l.Committed >= 0 {
				committed = fmt.Sprint(l.Committed)
			}
			member := l.Member
			if member == "" {
				member = "-"
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\t%s\n", l.Topic, l.Partition, committed, l.End, lagText(l.Lag), member)
			n++
		}
	}
	tw.Flush()
	title := "consumer groups (:groups GROUP for its partitions; eddy groups reset moves a group)"
	switch {
	case msg.only != "" && n == 0:
		title = fmt.Sprintf("no group %q with committed offsets or members", msg.only)
	case msg.only != "":
		title = "group " + msg.only
	case n == 0:
		title = "the cluster has no consumer groups"
	}
	m.ask(&question{text: title + "\n" + strings.TrimRight(b.String(), "\n"),
		choices: []choice{{key: "enter", desc: "close", do: func() tea.Cmd { return nil }}},
		cancel:  func() tea.Cmd { return nil }})
}

func lagText(n int64) string {
	if n < 0 {
		return "?"
	}
	return fmt.Sprint(n)
}
