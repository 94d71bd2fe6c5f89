package tui

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/eddyhq/eddy/duck"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
)

// command is one command of the palette.
type command struct {
	name, usage, desc string
}

var commands = []command{
	{"attach", "attach TOPIC", "attach to a topic (restarts consumer and pipeline)"},
	{"seek", "seek POSITION", "earliest | latest | offset:N | last:N | time:T"},
	{"filter", "filter [EXPR]", "quick filter of the records tail (none: clear)"},
	{"open", "open FILE", "run the pipeline of a YAML file"},
	{"write", "write [FILE]", "save the pipeline as YAML for eddy run"},
	{"sort", "sort COL [asc]", "sort the results (descending by default)"},
	{"chart", "chart AGG", "chart that aggregate for the top keys"},
	{"export", "export FMT PATH", "duckdb|parquet; the tail or results (x)"},
	{"dlq", "dlq TOPIC", "read a dead-letter topic into Dead letters"},
	{"pane", "pane NAME", "topics, records, pipeline, results, dead"},
	{"help", "help", "keys and commands"},
	{"quit", "quit", "leave eddy (also q)"},
}

var paneNames = []string{"topics", "records", "pipeline", "results", "dead"}

// paletteKey edits and runs the command line.
func (m *Model) paletteKey(km tea.KeyPressMsg) tea.Cmd {
	switch km.String() {
	case "esc":
		m.palette = nil
		return nil
	case "tab":
		if c := m.completions(); len(c) == 1 {
			m.palette.set(c[0] + " ")
		}
		return nil
	case "enter":
		line := strings.TrimSpace(m.palette.String())
		cmd, err := m.run(line)
		if err != nil {
			m.palErr = err.Error()
			return nil
		}
		m.palette = nil
		return cmd
	}
	m.palette.update(km)
	m.palErr = ""
	return nil
}

// completions are the command names that the typed word begins.
func (m *Model) completions() []string {
	word := strings.TrimSpace(m.palette.String())
	if strings.Contains(word, " ") {
		return nil
	}
	var out []string
	for _, c := range commands {
		if strings.HasPrefix(c.name, word) {
			out = append(out, c.name)
		}
	}
	for _, p := range paneNames {
		if strings.HasPrefix(p, word) {
			out = append(out, p)
		}
	}
	return out
}

func (m *Model) paletteLines() []string {
	s := m.c.Styles
	lines := []string{s.Header.Render(fit("command", m.c.Width))}
	word, _, _ := strings.Cut(strings.TrimSpace(m.palette.String()), " ")
	n := 0
	for _, c := range commands {
		if strings.HasPrefix(c.name, word) && n < 6 {
			lines = append(lines, s.Dim.Render(fmt.Sprintf("  %-16s %s", c.usage, c.desc)))
			n++
		}
	}
	if m.palErr != "" {
		lines = append(lines, s.Error.Render("error: "+m.palErr))
	}
	return append(lines, ":"+m.palette.view(true))
}

// pane switches to the named pane.
func (m *Model) gotoPane(name string) error {
	want := map[string]pane{"records": m.records, "pipeline": m.pipe, "results": m.results, "dead": m.dead}
	if m.topics != nil {
		want["topics"] = m.topics
	}
	p, ok := want[name]
	if !ok {
		return fmt.Errorf("no pane %q", name)
	}
	m.active = slices.Index(m.panes, p)
	return nil
}

// run runs one command line; an error keeps the palette open with it.
func (m *Model) run(line string) (tea.Cmd, error) {
	name, rest, _ := strings.Cut(line, " ")
	rest = strings.TrimSpace(rest)
	args := strings.Fields(rest)
	switch name {
	case "":
		return nil, nil
	case "q", "quit":
		m.Stop()
		return tea.Quit, nil
	case "help":
		m.help = true
		return nil, nil
	case "pane":
		return nil, m.gotoPane(rest)
	case "topics", "records", "pipeline", "results", "dead":
		return nil, m.gotoPane(name)
	case "attach":
		if m.topics == nil {
			return nil, fmt.Errorf("attach needs a cluster (this workbench reads a file)")
		}
		if len(args) != 1 {
			return nil, fmt.Errorf("usage: attach TOPIC")
		}
		return m.open(args[0], m.start), nil
	case "seek":
		if len(args) != 1 {
			return nil, fmt.Errorf("usage: seek earliest|latest|offset:N|last:N|time:T")
		}
		if err := validStart(args[0], m.opts.File); err != nil {
			return nil, err
		}
		return m.seek(args[0]), nil
	case "filter":
		if err := m.records.setFilter(rest); err != nil {
			return nil, err
		}
		return nil, m.gotoPane("records")
	case "open":
		if rest == "" {
			return nil, fmt.Errorf("usage: open FILE")
		}
		return loadSpec(rest), nil
	case "write":
		path := rest
		if path == "" {
			path = m.pipe.defaultPath()
		}
		return writeSpec(path, pipeline.Format(m.pipe.p), path == m.pipe.lastPath), m.gotoPane("pipeline")
	case "sort":
		if len(args) == 0 || len(args) > 2 {
			return nil, fmt.Errorf("usage: sort COLUMN [asc|desc]")
		}
		desc := len(args) == 1 || args[1] != "asc"
		if err := m.results.sortByName(args[0], desc); err != nil {
			return nil, err
		}
		return nil, m.gotoPane("results")
	case "chart":
		if len(args) != 1 {
			return nil, fmt.Errorf("usage: chart AGGREGATE")
		}
		if err := m.results.chartByName(args[0]); err != nil {
			return nil, err
		}
		return nil, m.gotoPane("results")
	case "export":
		return m.export(args)
	case "dlq":
		if len(args) != 1 {
			return nil, fmt.Errorf("usage: dlq TOPIC")
		}
		cmd, err := m.dead.load(m.ctx, args[0])
		if err != nil {
			return nil, err
		}
		return cmd, m.gotoPane("dead")
	}
	return nil, fmt.Errorf("unknown command %q (tab completes; ? lists them)", name)
}

// startExport opens the palette with an export command to complete.
func (m *Model) startExport(results bool) tea.Cmd {
	what := "records"
	if results {
		what = "results"
	}
	in := newInput(fmt.Sprintf("export duckdb eddy-%s.duckdb %s", what, what))
	m.palette, m.palErr = &in, ""
	m.exportResults = results
	return nil
}

// export writes the current view: the records tail (as filtered, with
// their coordinates) or the results rows, off the UI goroutine.
func (m *Model) export(args []string) (tea.Cmd, error) {
	if len(args) < 2 || (args[0] != "duckdb" && args[0] != "parquet") {
		return nil, fmt.Errorf("usage: export duckdb PATH [TABLE] | export parquet PATH")
	}
	format, path := args[0], args[1]
	table := "records"
	if m.exportResults {
		table = "results"
	}
	if len(args) > 2 {
		table = args[2]
	}
	results := m.exportResults
	var rows []sink.Row
	var recs []source.Record
	if results {
		for _, r := range m.results.sortedRows() {
			rows = append(rows, sink.Row{Names: r.Names, Vals: r.Vals, JSON: r.JSON})
		}
	} else {
		for _, i := range m.records.visible() {
			r := m.records.ring[i].rec
			recs = append(recs, r)
			rows = append(rows, sink.Row{JSON: r.Value})
		}
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("nothing to export yet")
	}
	ctx := m.ctx
	return func() tea.Msg {
		n, err := exportRows(ctx, format, path, table, rows, recs)
		if err != nil {
			return noticeMsg{text: "export: " + err.Error(), err: true}
		}
		where := path
		if format == "duckdb" {
			where = fmt.Sprintf("%s (table %s)", path, table)
		}
		return noticeMsg{text: fmt.Sprintf("exported %d rows to %s", n, where)}
	}, nil
}

// exportRows writes rows (with their records' coordinates when recs is
// given) and reports how many were committed.
func exportRows(ctx context.Context, format, path, table string, rows []sink.Row, recs []source.Record) (int64, error) {
	var o duck.RecordWriter
	coords := recs != nil
	if format == "duckdb" {
		t, err := duck.OpenTable(path, table, duck.Options{Coordinates: coords, Dedupe: coords})
		if err != nil {
			return 0, err
		}
		o = t
	} else {
		if filepath.Ext(path) == "" {
			path += ".parquet"
		}
		p, err := duck.OpenParquet(path, duck.ParquetOptions{Coordinates: coords})
		if err != nil {
			return 0, err
		}
		o = p
	}
	var err error
	for i := range rows {
		var rec *source.Record
		if coords {
			rec = &recs[i]
		}
		if err = o.WriteRecord(&rows[i], rec); err != nil {
			break
		}
		if ctx.Err() != nil {
			err = ctx.Err()
			break
		}
	}
	if pq, ok := o.(*duck.Parquet); ok && err != nil {
		// a single file is written whole or not at all
		_ = pq.Abort()
		return 0, err
	}
	if cerr := o.Close(); err == nil {
		err = cerr
	}
	return o.Written(), err
}
