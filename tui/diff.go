package tui

import (
	"context"
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/eddyhq/eddy/internal/diff"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/source"
)

// DiffMsg is the comparison :diff asked for.
type DiffMsg struct {
	Path    string
	Records int
	Res     *diff.Result
	Err     error
}

// diffTail compares the pipeline saved in path (the one last written or
// opened when path is empty) with the one running, over the records of
// the tail, as eddy diff compares two files; the answer opens a box.
func (m *Model) diffTail(path string) (tea.Cmd, error) {
	if path == "" {
		path = m.pipe.lastPath
	}
	if path == "" {
		return nil, fmt.Errorf("usage: diff FILE (this pipeline was never written or opened)")
	}
	if m.plan == nil {
		return nil, fmt.Errorf("no pipeline runs: add a stage first")
	}
	if m.multi {
		return nil, fmt.Errorf("diff replays one source; this pipeline reads several (as eddy diff, it refuses)")
	}
	recs := make([]source.Record, 0, len(m.records.ring))
	for _, e := range m.records.ring {
		recs = append(recs, e.rec)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("no records in the tail to compare over")
	}
	in, cur, ctx, open := diff.FromRecords(recs), m.plan, m.ctx, m.opts.Tables
	return func() tea.Msg {
		msg := DiffMsg{Path: path, Records: len(recs)}
		p, err := pipeline.Load(path)
		if err == nil {
			var old *pipeline.Plan
			if old, err = pipeline.Compile(p); err == nil {
				msg.Res, err = diffWith(ctx, old, cur, in, open)
			}
		}
		msg.Err = err
		return msg
	}, nil
}

// diffWith runs diff.RunWith with the tables of each side's lookups,
// opened by open (nil: none) and closed after.
func diffWith(ctx context.Context, old, cur *pipeline.Plan, in *diff.Recording, open TablesFunc) (*diff.Result, error) {
	var inputs [2]diff.Inputs
	for i, p := range []*pipeline.Plan{old, cur} {
		if open == nil || len(p.Pipeline.Tables) == 0 {
			continue
		}
		tables, closeTables, err := open(ctx, p.Pipeline)
		if err != nil {
			return nil, err
		}
		defer closeTables()
		inputs[i].Tables = tables
	}
	return diff.RunWith(ctx, old, cur, in, inputs)
}

// showDiff opens the box with what the edit changes.
func (m *Model) showDiff(msg DiffMsg) {
	if msg.Err != nil {
		m.note("diff: "+msg.Err.Error(), true)
		return
	}
	r := msg.Res
	var b strings.Builder
	fmt.Fprintf(&b, "%s → the running pipeline, over the %d records of the tail: ", msg.Path, msg.Records)
	if r.Windowed {
		fmt.Fprintf(&b, "window rows by %s: %d same, %d changed, %d added, %d removed.", strings.Join(r.Identity, ", "), r.Same, len(r.Changed), len(r.Added), len(r.Removed))
	} else {
		fmt.Fprintf(&b, "rows: %d same, %d added, %d removed.", r.Same, len(r.Added), len(r.Removed))
	}
	fmt.Fprintf(&b, " Counters before: %s; now: %s.", r.OldStats, r.NewStats)
	const show = 5
	for i, ch := range r.Changed {
		if i == show {
			fmt.Fprintf(&b, " … and %d more changed.", len(r.Changed)-show)
			break
		}
		var cols []string
		for _, c := range ch.Columns {
			cols = append(cols, fmt.Sprintf("%s %s → %s", c, colText(ch.Old, c), colText(ch.New, c)))
		}
		fmt.Fprintf(&b, " ~ %s: %s.", idText(ch.Old, r.Identity), strings.Join(cols, ", "))
	}
	for i, row := range r.Added {
		if i == show {
			fmt.Fprintf(&b, " … and %d more added.", len(r.Added)-show)
			break
		}
		fmt.Fprintf(&b, " + %s.", row.Object())
	}
	for i, row := range r.Removed {
		if i == show {
			fmt.Fprintf(&b, " … and %d more removed.", len(r.Removed)-show)
			break
		}
		fmt.Fprintf(&b, " - %s.", row.Object())
	}
	m.ask(&question{text: b.String(), choices: []choice{{key: "enter", desc: "close", do: func() tea.Cmd { return nil }}},
		cancel: func() tea.Cmd { return nil }})
}

func colText(r diff.Row, name string) string {
	for i, n := range r.Names {
		if n == name {
			return r.Vals[i]
		}
	}
	return "(none)"
}

func idText(r diff.Row, id []string) string {
	var parts []string
	for _, n := range id {
		parts = append(parts, n+"="+colText(r, n))
	}
	return strings.Join(parts, " ")
}
