package cmd

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/eddyhq/eddy/replay"
)

// progressBar draws one line on a terminal; elsewhere it draws nothing.
type progressBar struct {
	w  io.Writer
	on bool
}

func newProgressBar(w io.Writer) *progressBar {
	if !isTerminal(w) {
		return &progressBar{}
	}
	return &progressBar{w: w, on: true}
}

func (p *progressBar) update(pr replay.Progress) {
	if !p.on {
		return
	}
	const width = 30
	frac := 1.0
	if pr.Total > 0 {
		frac = min(float64(pr.Done)/float64(pr.Total), 1)
	}
	fill := int(frac * width)
	rate := float64(pr.Done) / max(pr.Elapsed.Seconds(), 1e-3)
	eta := "-"
	if rate > 0 && pr.Done < pr.Total {
		eta = time.Duration(float64(pr.Total-pr.Done) / rate * float64(time.Second)).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "\r\033[K[%s%s] %3.0f%%  %d/%d  %.0f/s  ETA %s  replayed %d parked %d skipped %d",
		strings.Repeat("=", fill), strings.Repeat(" ", width-fill), frac*100, pr.Done, pr.Total, rate, eta,
		pr.Replayed, pr.Parked, pr.Skipped)
}

func (p *progressBar) clear() {
	if p.on {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// reasons lists skip reasons as "N reason" lines, most first.
func reasons(m map[string]int) []string {
	keys := replay.SortedKeys(m)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = fmt.Sprintf("%d %s", m[k], k)
	}
	return out
}

func writeReplaySummary(w io.Writer, rep *replay.Report, maxReplays int) {
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	switch {
	case rep.Total == 0 && rep.Ledger != "":
		fmt.Fprintf(bw, "eddy: nothing to replay: ledger %s is at the end of %s\n", rep.Ledger, rep.Topic)
		return
	case rep.Total == 0:
		fmt.Fprintf(bw, "eddy: nothing to replay: group %s is at the end of %s\n", rep.Group, rep.Topic)
		return
	}
	targets := replayTargets(rep)
	parked := replay.ParkedTopic(rep.Topic)
	line := func(name string, n int, detail string) {
		fmt.Fprintf(bw, "eddy: %-8s %d", name, n)
		if detail != "" && n > 0 {
			fmt.Fprintf(bw, "  (%s)", detail)
		}
		fmt.Fprintln(bw)
	}
	if rep.Through {
		line("replayed", rep.Replayed(), fmt.Sprintf("through the pipeline: passed %d, filtered %d, dead again %d, late %d",
			rep.Count[replay.Passed], rep.Count[replay.Filtered], rep.Count[replay.Dead], rep.Count[replay.Late]))
	} else {
		line("replayed", rep.Replayed(), countList(targets))
	}
	line("parked", rep.Count[replay.Parked], fmt.Sprintf("to %s: at the replay cap of %d", parked, maxReplays))
	line("skipped", rep.Count[replay.Skipped], strings.Join(reasons(rep.Skips), ", "))
	line("failed", rep.Failed, "left for the next run")
	if rep.WhereErr != nil {
		fmt.Fprintf(bw, "eddy: first --where error: %v\n", rep.WhereErr)
	}
	if len(rep.Outside) > 0 {
		fmt.Fprintf(bw, "eddy: written outside the transactions (after an interrupted replay they may hold rows twice): %s\n", strings.Join(rep.Outside, ", "))
	}
}

// replayTargets are the records replayed per target topic (not parked).
func replayTargets(rep *replay.Report) map[string]int {
	m := map[string]int{}
	for t, n := range rep.Targets {
		if t != replay.ParkedTopic(rep.Topic) {
			m[t] = n
		}
	}
	return m
}

func writeDryRun(w io.Writer, rep *replay.Report, maxReplays int) error {
	bw := bufio.NewWriter(w)
	if rep.Ledger != "" {
		fmt.Fprintf(bw, "dry run of %s from the positions in ledger %s: nothing was written or committed\n", rep.Topic, rep.Ledger)
	} else if rep.Group != "" {
		fmt.Fprintf(bw, "dry run of %s from the offsets of group %s: nothing was written or committed\n", rep.Topic, rep.Group)
	} else {
		fmt.Fprintf(bw, "dry run of %s: nothing was written or committed\n", rep.Topic)
	}
	if rep.Missing != "" {
		fmt.Fprintf(bw, "topic %s does not exist: the replay would ask the cluster to create it on first use (--create creates it)\n", rep.Missing)
	}
	if rep.Through {
		fmt.Fprintf(bw, "%d dead letters: %d would pass, %d be filtered, %d fail again, %d be parked, %d skipped\n",
			rep.Letters, rep.Count[replay.Passed], rep.Count[replay.Filtered], rep.Count[replay.Dead]+rep.Count[replay.Late],
			rep.Count[replay.Parked], rep.Count[replay.Skipped])
	} else {
		fmt.Fprintf(bw, "%d dead letters: %d would be replayed, %d parked, %d skipped\n",
			rep.Letters, rep.Count[replay.Replayed], rep.Count[replay.Parked], rep.Count[replay.Skipped])
	}
	classes := rep.Classes()
	if len(classes) > 0 {
		fmt.Fprintln(bw)
		tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
		if rep.Through {
			fmt.Fprintln(tw, "CLASS\tSTAGE\tRECORDS\tPASS\tFILTERED\tFAIL AGAIN\tPARK\tSKIP")
			for _, k := range classes {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\n", k.Class, orDash(k.Stage), k.Count, k.By[replay.Passed],
					k.By[replay.Filtered], k.By[replay.Dead]+k.By[replay.Late], k.By[replay.Parked], k.By[replay.Skipped])
			}
		} else {
			fmt.Fprintln(tw, "CLASS\tSTAGE\tRECORDS\tREPLAY\tPARK\tSKIP")
			for _, k := range classes {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\n", k.Class, orDash(k.Stage), k.Count, k.By[replay.Replayed],
					k.By[replay.Parked], k.By[replay.Skipped])
			}
		}
		tw.Flush()
	}
	header := false
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	for _, k := range classes {
		for _, nc := range replay.SortedKeys(k.Again) {
			if !header {
				fmt.Fprintln(tw, "\nwould fail again:")
				fmt.Fprintln(tw, "RECORDS\tCLASS\tNOW FAILS AS")
				header = true
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\n", k.Again[nc], k.Class, orDash(nc))
		}
	}
	tw.Flush()
	if n := rep.Count[replay.Parked]; n > 0 {
		to := ""
		if rep.Group != "" {
			to = " in " + replay.ParkedTopic(rep.Topic)
		}
		fmt.Fprintf(bw, "\nparked: %d at the replay cap of %d would be parked%s\n", n, maxReplays, to)
	}
	if len(rep.Skips) > 0 {
		fmt.Fprintln(bw, "\nskipped:")
		for _, r := range reasons(rep.Skips) {
			fmt.Fprintln(bw, "  "+r)
		}
	}
	if rep.WhereErr != nil {
		fmt.Fprintf(bw, "first --where error: %v\n", rep.WhereErr)
	}
	if targets := replayTargets(rep); len(targets) > 0 {
		fmt.Fprintf(bw, "\ntargets: %s\n", countList(targets))
	}
	return bw.Flush()
}
