package tui

import (
	"context"
	"errors"
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
	{"partition", "partition [N,M]", "show those partitions' records (none: all)"},
	{"open", "open FILE", "run the pipeline of a YAML file"},
	{"write", "write [FILE]", "save the pipeline as YAML for eddy run"},
	{"sort", "sort COL [asc]", "sort the results (descending by default)"},
	{"chart", "chart AGG", "chart that aggregate for the top keys"},
	{"export", "export FMT PATH", "duckdb|parquet; the tail or results (x)"},
	{"dlq", "dlq TOPIC", "read a dead-letter topic into Dead letters"},
	{"groups", "groups [GROUP]", "consumer groups and their lag; one group's partitions"},
	{"diff", "diff [FILE]", "what the edits change: the saved pipeline against the running one, over the tail"},
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
		c := m.completions()
		switch {
		case len(c) == 1:
			m.palette.set(c[0] + " ")
		case len(c) > 1:
			// as a shell does: as far as every completion agrees
			if p := commonPrefix(c); len(p) > len(strings.TrimSpace(m.palette.String())) {
				m.palette.set(p)
			}
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

// completions are the command names that the typed word begins, or for
// attach, the lines with the cluster's topics that the typed name begins.
func (m *Model) completions() []string {
	word := strings.TrimSpace(m.palette.String())
	if prefix, ok := strings.CutPrefix(strings.TrimLeft(m.palette.String(), " "), "attach "); ok && m.topics != nil {
		prefix = strings.TrimSpace(prefix)
		var out []string
		for _, t := range m.topics.topics {
			if strings.HasPrefix(t.Name, prefix) {
				out = append(out, "attach "+t.Name)
			}
		}
		return out
	}
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
		lines = append(lines, wrapStyled(s.Error, "error: "+m.palErr, m.c.Width)...)
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
		return m.quit(), nil
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
		if err := m.attachable(); err != nil {
			return nil, err
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
	case "partition", "partitions":
		if m.opts.File {
			return nil, fmt.Errorf("a file has no partitions")
		}
		if err := m.records.setPartitions(rest); err != nil {
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
	case "diff":
		return m.diffTail(rest)
	case "groups":
		return m.groups(rest)
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

// exportJob is one export: what to write where.
type exportJob struct {
	format, path, table string
	mode                duck.Mode
	rows                []sink.Row
	recs                []source.Record     // the records of rows (a records export); nil for results
	types               []map[string]string // the types each record's schema declares (Options.Types); nil: none
	undecoded           int64               // records of the tail left out: their values did not decode
	firstUndecoded      error
	cols                []string // the results' columns, in order
}

// exportProbeMsg carries the tables of the database a results export
// writes to, read before writing.
type exportProbeMsg struct {
	job    exportJob
	tables []duck.TableInfo
	err    error
}

// export writes the current view: the records tail (as filtered, with
// their coordinates) or the results rows, off the UI goroutine. Results
// going into a DuckDB table that exists are held until the user says
// whether to append, replace or write a new table.
func (m *Model) export(args []string) (tea.Cmd, error) {
	if len(args) < 2 || (args[0] != "duckdb" && args[0] != "parquet") {
		return nil, fmt.Errorf("usage: export duckdb PATH [TABLE] | export parquet PATH")
	}
	job := exportJob{format: args[0], path: args[1], table: "records"}
	if m.exportResults {
		job.table = "results"
	}
	if len(args) > 2 {
		job.table = args[2]
	}
	if m.exportResults {
		seen := map[string]bool{}
		for _, r := range m.results.sortedRows() {
			job.rows = append(job.rows, sink.Row{Names: r.Names, Vals: r.Vals, JSON: r.JSON})
			for _, n := range r.Names {
				if !seen[n] {
					seen[n] = true
					job.cols = append(job.cols, n)
				}
			}
		}
	} else {
		declared := false
		for _, i := range m.records.visible() {
			e := m.records.ring[i]
			if e.undecoded != nil { // as eddy export --format: skipped and counted
				if job.undecoded == 0 {
					job.firstUndecoded = fmt.Errorf("%s: %w", recordAt(&e.rec), e.undecoded)
				}
				job.undecoded++
				continue
			}
			job.recs = append(job.recs, e.rec)
			job.rows = append(job.rows, sink.Row{JSON: e.rec.Value})
			job.types = append(job.types, e.types)
			declared = declared || e.types != nil
		}
		if !declared {
			job.types = nil
		}
	}
	if len(job.rows) == 0 {
		return nil, fmt.Errorf("nothing to export yet")
	}
	if job.recs == nil && job.format == "duckdb" {
		ctx := m.ctx
		return func() tea.Msg {
			tables, err := duck.Describe(ctx, job.path)
			return exportProbeMsg{job: job, tables: tables, err: err}
		}, nil
	}
	return m.runExport(job), nil
}

// probed decides, once the database's tables are known, whether a results
// export can go ahead or must ask first.
func (m *Model) probed(msg exportProbeMsg) tea.Cmd {
	job := msg.job
	if msg.err != nil {
		m.note("export: "+msg.err.Error(), true)
		return nil
	}
	taken := map[string]bool{}
	var have *duck.TableInfo
	for i, t := range msg.tables {
		taken[strings.ToLower(t.Name)] = true
		if strings.EqualFold(t.Name, job.table) {
			have = &msg.tables[i]
		}
	}
	if have == nil {
		return m.runExport(job)
	}
	fresh := job.table
	for n := 2; taken[strings.ToLower(fresh)]; n++ {
		fresh = fmt.Sprintf("%s_%d", job.table, n)
	}
	same := sameColumns(have.Columns, job.cols)
	text := fmt.Sprintf("Table %s in %s already has %d rows with columns (%s). ",
		have.Name, job.path, have.Rows, strings.Join(have.Columns, ", "))
	if same {
		text += fmt.Sprintf("These %d result rows have the same columns; appending adds them to those rows (twice, if they were exported before).", len(job.rows))
	} else {
		text += fmt.Sprintf("These %d result rows have other columns (%s): appending would mix two schemas in one table, so it is not offered.",
			len(job.rows), strings.Join(job.cols, ", "))
	}
	var cs []choice
	if same {
		cs = append(cs, choice{key: "a", desc: "append", do: func() tea.Cmd { return m.runExport(job) }})
	}
	cs = append(cs,
		choice{key: "r", desc: fmt.Sprintf("replace (drops its %d rows)", have.Rows), do: func() tea.Cmd {
			j := job
			j.mode = duck.Replace
			return m.runExport(j)
		}},
		choice{key: "t", desc: "new table " + fresh, do: func() tea.Cmd {
			j := job
			j.table = fresh
			return m.runExport(j)
		}})
	m.ask(&question{text: text, choices: cs,
		cancel: func() tea.Cmd { m.note("export cancelled: nothing written", false); return nil }})
	return nil
}

// sameColumns reports whether a table's columns and a row set's columns
// are the same names (DuckDB's are case-insensitive), in any order.
func sameColumns(table, rows []string) bool {
	if len(table) != len(rows) {
		return false
	}
	have := map[string]bool{}
	for _, c := range table {
		have[strings.ToLower(c)] = true
	}
	for _, c := range rows {
		if c == "" {
			c = "_"
		}
		if !have[strings.ToLower(c)] {
			return false
		}
	}
	return true
}

// runExport writes a job off the UI goroutine and reports what it wrote.
func (m *Model) runExport(job exportJob) tea.Cmd {
	ctx := m.ctx
	return func() tea.Msg {
		res, err := exportRows(ctx, job)
		where := res.path
		if job.format == "duckdb" {
			where += ", table " + job.table
		}
		var extra []string
		if job.undecoded > 0 {
			extra = append(extra, fmt.Sprintf("%d not decoded skipped", job.undecoded))
		}
		if res.bad > 0 {
			extra = append(extra, fmt.Sprintf("%d malformed skipped", res.bad))
		}
		if res.dup > 0 {
			extra = append(extra, fmt.Sprintf("%d already there", res.dup))
		}
		if job.mode == duck.Replace {
			extra = append(extra, "table replaced")
		}
		text := fmt.Sprintf("wrote %d rows to %s", res.written-res.dup, where)
		if len(extra) > 0 {
			text += " (" + strings.Join(extra, ", ") + ")"
		}
		if err != nil {
			return noticeMsg{text: "export: " + err.Error() + "; " + text, err: true}
		}
		if job.undecoded > 0 {
			text += "; first not decoded: " + job.firstUndecoded.Error()
		}
		if res.bad > 0 {
			text += "; first malformed: " + res.firstBad.Error()
		}
		return noticeMsg{text: text}
	}
}

// exported is what an export wrote.
type exported struct {
	path     string
	written  int64 // rows committed (with the ones dedupe found there already)
	dup      int64 // of them, rows already in the table
	bad      int64 // records skipped: not JSON objects
	firstBad error
}

// exportRows writes a job's rows (with their records' coordinates for a
// records export), skipping and counting the records that are not JSON
// objects as eddy export does.
func exportRows(ctx context.Context, job exportJob) (exported, error) {
	res := exported{path: job.path}
	var o duck.RecordWriter
	coords := job.recs != nil
	if job.format == "duckdb" {
		t, err := duck.OpenTable(job.path, job.table, duck.Options{Mode: job.mode, Coordinates: coords, Dedupe: coords})
		if err != nil {
			return res, err
		}
		o = t
	} else {
		if filepath.Ext(res.path) == "" {
			res.path += ".parquet"
		}
		p, err := duck.OpenParquet(res.path, duck.ParquetOptions{Coordinates: coords})
		if err != nil {
			return res, err
		}
		o = p
	}
	var err error
	d, _ := o.(duck.Declarer)
	for i := range job.rows {
		var rec *source.Record
		if coords {
			rec = &job.recs[i]
		}
		if d != nil && job.types != nil {
			d.SetDeclared(job.types[i]) // as eddy export: the types of this record's schema
		}
		if err = o.WriteRecord(&job.rows[i], rec); err != nil {
			var re *duck.RowError
			if !errors.As(err, &re) {
				break
			}
			if res.bad == 0 {
				res.firstBad = fmt.Errorf("%s: %w", recordAt(rec), re.Err)
			}
			res.bad++
			err = nil
		}
		if ctx.Err() != nil {
			err = ctx.Err()
			break
		}
	}
	if pq, ok := o.(*duck.Parquet); ok && err != nil {
		// a single file is written whole or not at all
		_ = pq.Abort()
		return res, err
	}
	if cerr := o.Close(); err == nil {
		err = cerr
	}
	res.written = o.Written()
	if t, ok := o.(*duck.Table); ok {
		res.dup = t.Skipped()
	}
	return res, err
}

// recordAt names a record's position for a message ("row" for results).
func recordAt(r *source.Record) string {
	if r == nil {
		return "a result row"
	}
	if r.File {
		return fmt.Sprintf("%s line %d", r.Topic, r.Offset)
	}
	return fmt.Sprintf("%s/%d offset %d", r.Topic, r.Partition, r.Offset)
}

// commonPrefix is the longest prefix every string of ss shares.
func commonPrefix(ss []string) string {
	p := ss[0]
	for _, s := range ss[1:] {
		for !strings.HasPrefix(s, p) {
			p = p[:len(p)-1]
		}
	}
	return p
}
