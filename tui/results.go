package tui

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// resultsPane shows the last ResultCap result rows of the pipeline.
type resultsPane struct {
	c        *Common
	w, h     int
	pipeline string // the pipeline's name; "" without one
	rows     []ResultRow
	total    int64
}

func (p *resultsPane) Title() string       { return "Results" }
func (p *resultsPane) SetSize(w, h int)    { p.w, p.h = w, h }
func (p *resultsPane) Capturing() bool     { return false }
func (p *resultsPane) Keys() []key.Binding { return nil }
func (p *resultsPane) Update(tea.Msg) tea.Cmd {
	return nil
}

func (p *resultsPane) add(rows []ResultRow) {
	p.total += int64(len(rows))
	p.rows = keepLast(p.rows, ResultCap, rows...)
}

func (p *resultsPane) View() string {
	if p.pipeline == "" {
		return block([]string{"no pipeline: start with -p PIPELINE.yaml to see its results here"}, p.w, p.h)
	}
	head := p.c.Styles.Dim.Render(fmt.Sprintf("pipeline %s · %d rows (last %d kept)", p.pipeline, p.total, ResultCap))
	if len(p.rows) == 0 {
		return block([]string{head, "no rows yet: rows appear as windows close"}, p.w, p.h)
	}
	// The newest row's columns; older rows with other columns show blanks.
	names := p.rows[len(p.rows)-1].Names
	lo, hi := window(len(p.rows), -1, p.h-2)
	rows := make([][]string, 0, hi-lo)
	for _, r := range p.rows[lo:hi] {
		row := make([]string, len(names))
		for i, n := range names {
			if j := slices.Index(r.Names, n); j >= 0 {
				row[i] = r.Cells[j]
			}
		}
		rows = append(rows, row)
	}
	return block(append([]string{head}, table(p.c.Styles, names, rows, p.w, -1)...), p.w, p.h)
}

// deadPane shows dead letters: counts by class and stage, then the latest.
type deadPane struct {
	c      *Common
	w, h   int
	counts map[DeadKey]int64
	items  []DeadItem
}

func (p *deadPane) Title() string       { return "Dead letters" }
func (p *deadPane) SetSize(w, h int)    { p.w, p.h = w, h }
func (p *deadPane) Capturing() bool     { return false }
func (p *deadPane) Keys() []key.Binding { return nil }
func (p *deadPane) Update(tea.Msg) tea.Cmd {
	return nil
}

func (p *deadPane) add(counts map[DeadKey]int64, items []DeadItem) {
	if p.counts == nil {
		p.counts = map[DeadKey]int64{}
	}
	for k, n := range counts {
		p.counts[k] += n
	}
	p.items = keepLast(p.items, DeadCap, items...)
}

func (p *deadPane) View() string {
	if len(p.counts) == 0 {
		return block([]string{"no dead letters"}, p.w, p.h)
	}
	keys := make([]DeadKey, 0, len(p.counts))
	for k := range p.counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b DeadKey) int {
		if c := cmp.Compare(p.counts[b], p.counts[a]); c != 0 {
			return c
		}
		if a.Class != b.Class {
			return cmp.Compare(a.Class, b.Class)
		}
		return cmp.Compare(a.Stage, b.Stage)
	})
	half := max(3, (p.h-2)/2)
	var rows [][]string
	for _, k := range keys[:min(len(keys), half-1)] {
		rows = append(rows, []string{strconv.FormatInt(p.counts[k], 10), k.Stage, k.Class})
	}
	lines := table(p.c.Styles, []string{"COUNT", "STAGE", "CLASS"}, rows, p.w, -1)
	lines = append(lines, "")
	left := p.h - len(lines) - 1
	lo, hi := window(len(p.items), -1, left)
	var list [][]string
	for _, it := range p.items[lo:hi] {
		list = append(list, []string{it.Origin, it.Stage, it.Error, it.Value})
	}
	lines = append(lines, table(p.c.Styles, []string{"ORIGIN", "STAGE", "ERROR", "VALUE"}, list, p.w, -1)...)
	return block(lines, p.w, p.h)
}
