package pipeline

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr/ast"
	exprparser "github.com/expr-lang/expr/parser"

	"github.com/eddyhq/eddy/windows"
)

// FlinkOptions says how FlinkSQL connects the script's tables.
type FlinkOptions struct {
	// Brokers of the Kafka source and sinks; empty: the spec's.
	Brokers []string
	// Properties are Kafka client properties (security.protocol, sasl.*,
	// ssl.*) written as properties.* of every Kafka table.
	Properties map[string]string
	// Redact replaces secret property values by '***' (for printing).
	Redact bool
	// Topic, when set, reads this Kafka topic instead of the spec's source.
	Topic string
	// SinkTopic, when set, adds a Kafka sink writing to this topic.
	SinkTopic string
	// Sampled are column types inferred from the topic (FlinkSampleTypes);
	// they take the place of types guessed from use, and coerce stages
	// still win over them. SampleSize is how many records were read.
	Sampled    map[string]string
	SampleSize int
	// Parallelism and CheckpointInterval become SET statements when not zero.
	Parallelism        int
	CheckpointInterval time.Duration
	// Registry is the schema registry of format: avro (the flag, the
	// spec, the client properties and the environment merged); the
	// script reads the topic with Flink's avro-confluent format from it.
	// Nil: the spec's source.kafka.registry.
	Registry *Registry
}

// FlinkVersion is the Flink release the scripts are written for and tested on.
const FlinkVersion = "1.20"

// flinkFields records the source fields the expressions read, in order,
// with the type their use implies.
type flinkFields struct {
	order []string
	typ   map[string]string // "" when nothing implies a type
	why   map[string]string // the expression that implied it
	on    bool              // recording (only before the first project)
	src   string
}

func (f *flinkFields) add(name string) {
	if _, ok := f.typ[name]; !ok {
		f.order = append(f.order, name)
		f.typ[name] = ""
	}
}

func (f *flinkFields) set(name, typ string) {
	f.add(name)
	if f.typ[name] == "" {
		f.typ[name] = typ
		f.why[name] = f.src
	}
}

// use records a field an expression reads.
func (t *sqlExpr) use(n *ast.IdentifierNode) {
	if f := t.g.fields; f != nil && f.on {
		f.add(n.Value)
	}
}

// want records that the node, if a field, is used as a value of type typ.
func (t *sqlExpr) want(n ast.Node, typ string) {
	f := t.g.fields
	if f == nil || !f.on {
		return
	}
	if id, ok := n.(*ast.IdentifierNode); ok && CoordOf(id.Value) == NoCoord {
		f.src = t.src
		f.set(id.Value, typ)
	}
}

// literalType is the Flink type of a literal node, or "".
func literalType(n ast.Node) string {
	switch n := n.(type) {
	case *ast.IntegerNode, *ast.FloatNode:
		return "DOUBLE"
	case *ast.StringNode:
		return "STRING"
	case *ast.BoolNode:
		return "BOOLEAN"
	case *ast.UnaryNode:
		if n.Operator == "-" {
			return literalType(n.Node)
		}
	}
	return ""
}

// hint infers the types of the fields of a binary expression.
func (t *sqlExpr) hint(n *ast.BinaryNode) {
	switch n.Operator {
	case "&&", "||", "and", "or":
		t.want(n.Left, "BOOLEAN")
		t.want(n.Right, "BOOLEAN")
	case "<", ">", "<=", ">=", "==", "!=", "??":
		if lt := literalType(n.Right); lt != "" {
			t.want(n.Left, lt)
		}
		if lt := literalType(n.Left); lt != "" {
			t.want(n.Right, lt)
		}
	case "+":
		lt, rt := literalType(n.Left), literalType(n.Right)
		if lt == "STRING" || rt == "STRING" {
			t.want(n.Left, "STRING")
			t.want(n.Right, "STRING")
		} else {
			t.want(n.Left, "DOUBLE")
			t.want(n.Right, "DOUBLE")
		}
	case "-", "*", "/", "%", "**", "^":
		t.want(n.Left, "DOUBLE")
		t.want(n.Right, "DOUBLE")
	case "contains", "startsWith", "endsWith":
		t.want(n.Left, "STRING")
		t.want(n.Right, "STRING")
	case "in":
		if arr, ok := n.Right.(*ast.ArrayNode); ok && len(arr.Nodes) > 0 {
			if lt := literalType(arr.Nodes[0]); lt != "" {
				t.want(n.Left, lt)
			}
		}
	}
}

// flinkBinary writes the operators whose Flink SQL differs from DuckDB's.
func (t *sqlExpr) flinkBinary(op, l, r string) (string, bool) {
	switch op {
	case "/":
		return "(CAST(" + l + " AS DOUBLE) / " + r + ")", true
	case "%":
		return "MOD(" + l + ", " + r + ")", true
	case "**", "^":
		return "POWER(" + l + ", " + r + ")", true
	case "??":
		return "COALESCE(" + l + ", " + r + ")", true
	case "contains":
		return "(POSITION(" + r + " IN " + l + ") > 0)", true
	case "startsWith":
		return "(POSITION(" + r + " IN " + l + ") = 1)", true
	case "endsWith":
		return "(RIGHT(" + l + ", CHAR_LENGTH(" + r + ")) = " + r + ")", true
	}
	return "", false
}

// flinkIdent quotes a Flink SQL identifier.
func flinkIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// flinkInterval writes a duration in milliseconds as a Flink interval
// literal (DAY TO SECOND with milliseconds, so any duration is exact).
func flinkInterval(ms int64) string {
	d := ms / 86400000
	ms -= d * 86400000
	h := ms / 3600000
	ms -= h * 3600000
	m := ms / 60000
	ms -= m * 60000
	s := ms / 1000
	ms -= s * 1000
	prec := ""
	if d > 99 {
		prec = "(" + strconv.Itoa(len(strconv.FormatInt(d, 10))) + ")"
	}
	return fmt.Sprintf("INTERVAL '%d %02d:%02d:%02d.%03d' DAY%s TO SECOND(3)", d, h, m, s, ms, prec)
}

// flinkTypes are the Flink column types of eddy's coerce targets.
var flinkTypes = map[Type]string{TInt: "BIGINT", TFloat: "DOUBLE", TString: "STRING", TBool: "BOOLEAN"}

const (
	flinkTime   = "__eddy_t"
	flinkSource = "eddy_source"
	flinkRows   = "eddy_rows"
	// the event time of records whose time field is missing or invalid;
	// they are filtered out before the window (eddy dead-letters them)
	flinkNoTime = "TIMESTAMP '0001-01-01 00:00:00.000'"
	flinkRFC    = "'yyyy-MM-dd''T''HH:mm:ss.SSS''Z'''"
)

// secret property names, whose values Redact hides.
var flinkSecret = map[string]bool{"sasl.jaas.config": true, "sasl.password": true, "ssl.key.password": true,
	"ssl.keystore.password": true, "ssl.truststore.password": true, "ssl.keystore.key": true}

// FlinkSQL returns a complete Flink SQL script (Flink 1.20) computing the
// plan's window rows: SET statements, the source table with the event-time
// column and its watermark, one view per stage, the sink tables and the
// INSERT. Anything that has no translation is an *SQLError naming the
// stage, the construct and the reason.
//
// The watermark gives eddy's firing rule: eddy closes a window when
// W ≥ end with W = max event time − max_out_of_order; Flink fires it when
// its watermark ≥ end − 1 ms, so the watermark is
// t − (max_out_of_order + 1 ms), emitted on every record.
func FlinkSQL(plan *Plan, o FlinkOptions) (string, error) {
	if plan == nil || plan.Pipeline == nil {
		return "", fmt.Errorf("no pipeline")
	}
	p := plan.Pipeline
	g := &sqlGen{p: p, coords: map[string]bool{}, flink: true,
		fields: &flinkFields{typ: map[string]string{}, why: map[string]string{}, on: true}}
	if len(p.Sources) > 0 {
		return g.flinkJoinScript(o)
	}
	return g.flinkScript(o)
}

func (g *sqlGen) flinkScript(o FlinkOptions) (string, error) {
	p := g.p
	if p.Time.Field == "" {
		return "", g.errf(p.Time.Line, "time", "processing time (no time.field): Flink's window TVFs are translated on event time only, and processing-time results depend on the wall clock")
	}
	if strings.Contains(p.Time.Field, ".") {
		return "", g.errf(p.Time.Line, "time.field", "dotted path %q: nested fields are not translated (declare the field as a ROW column by hand)", p.Time.Field)
	}
	if CoordOf(p.Time.Field) != NoCoord {
		return "", g.errf(p.Time.Line, "time.field", "the coordinate %s as event time is not translated", p.Time.Field)
	}
	if !p.HasWindow() {
		return "", g.errf(0, "stages", "the pipeline has no window stage; the Flink script is generated for windowed pipelines")
	}
	if p.AfterWindow() {
		return "", g.errf(0, "stages", "stages after a window (a filter of its rows, a top or a second window) are not translated to Flink SQL yet")
	}
	kafka := o.Topic != "" || p.Source.Kafka != nil
	switch p.Format {
	case "", "json":
	case "avro":
		if !kafka {
			return "", g.errf(0, "format", "format avro reads a Kafka topic with a schema registry; the source is a file (deploy with --topic)")
		}
	case "raw":
		return "", g.errf(0, "format", "format raw is not translated to Flink SQL (json and avro, as avro-confluent, are)")
	default:
		return "", g.errf(0, "format", "format %q: Flink 1.20 has no format for %s framed for a schema registry (json and avro, as avro-confluent, are translated)", p.Format, p.Format)
	}
	var notes []string
	coerced := map[string]Type{}
	g.coerced = coerced
	g.sampled = o.Sampled

	// the stages, as views; the source fields are recorded until the
	// first project (after it, names are the projection's columns)
	st, err := g.flinkStages(o, p.Stages, flinkSource, kafka)
	if err != nil {
		return "", err
	}
	views, w, wpath, prev, cols, lookupTables := st.views, st.w, st.wpath, st.prev, st.cols, st.lookups
	notes = append(notes, st.notes...)
	if !kafka {
		for c := range g.coords {
			return "", g.errf(0, "source", "the coordinate %s is read but the source is a file (Flink's filesystem source has no Kafka coordinates; deploy with --topic)", c)
		}
	}

	// the window's columns: keys and aggregate inputs are source fields
	// when no project came before
	colType := func(name string) string {
		if t, ok := g.joined[name]; ok {
			return t
		}
		if t, ok := coerced[name]; ok {
			return flinkTypes[t]
		}
		if name != p.Time.Field {
			return o.Sampled[name]
		}
		return ""
	}
	for _, k := range w.Key {
		if strings.Contains(k, ".") {
			return "", g.errf(w.KeyLine, wpath+".key", "dotted path %q: nested fields are not translated", k)
		}
		if CoordOf(k) != NoCoord {
			return "", g.errf(w.KeyLine, wpath+".key", "the coordinate %q as a key is not translated", k)
		}
		if g.fields.on {
			g.fields.add(k)
		}
	}
	rows, rowCols, err := g.flinkWindow(w, wpath, prev, cols != nil, colType)
	if err != nil {
		return "", err
	}
	if p.Time.AllowedLateness > 0 {
		notes = append(notes, fmt.Sprintf("allowed_lateness %s: Flink's window TVFs have no allowed lateness, so each window is emitted once, when it closes, and revision is always 0; records that eddy would add to a closed window as a revision are dropped", p.Time.AllowedLateness))
	}
	lateNote := "late records (event time in a window that already closed) are dropped by Flink, not dead-lettered"
	if p.Late == "drop" {
		lateNote = "late records are dropped, as late: drop says"
	}
	notes = append(notes, lateNote)

	// the source table
	src, srcNotes, err := g.flinkSource(o, coerced, flinkSource)
	if err != nil {
		return "", err
	}
	notes = append(notes, srcNotes...)

	sinks, sinkNames, sinkNotes, err := g.flinkSinks(o, w.Key, rowCols)
	if err != nil {
		return "", err
	}
	notes = append(notes, sinkNotes...)

	return g.flinkWrite(o, notes, append([]string{src}, lookupTables...), views, sinks, sinkNames, rows, rowCols), nil
}

// flinkWrite assembles the script: the header with the notes, the SET
// statements, the tables, the views, the sinks and the INSERT of rows
// (with columns rowCols) into each sink.
func (g *sqlGen) flinkWrite(o FlinkOptions, notes, tables, views, sinks, sinkNames []string, rows string, rowCols []flinkCol) string {
	p := g.p
	var b strings.Builder
	b.WriteString("-- eddy: ")
	if p.Name != "" {
		b.WriteString(p.Name + ": ")
	}
	b.WriteString("Flink SQL (Flink " + FlinkVersion + ") written by eddy sql --dialect flink\n")
	b.WriteString("-- The same rows as eddy run when no record is late. What does not carry over:\n")
	for _, n := range notes {
		b.WriteString(wrapComment(n))
	}
	b.WriteString("\n")
	set := func(k, v string) { fmt.Fprintf(&b, "SET %s = %s;\n", quoteString(k), quoteString(v)) }
	if p.Name != "" {
		set("pipeline.name", "eddy: "+p.Name)
	}
	set("table.local-time-zone", "UTC")
	// watermarks per record (the source's emit strategy says so for the
	// Kafka source, which takes the watermark pushed down into it)
	set("pipeline.auto-watermark-interval", "0")
	idle := p.Time.IdleTimeout
	if idle > 0 {
		set("table.exec.source.idle-timeout", fmt.Sprintf("%d ms", idle.Milliseconds()))
	}
	if o.Parallelism > 0 {
		set("parallelism.default", strconv.Itoa(o.Parallelism))
	}
	if o.CheckpointInterval > 0 {
		set("execution.checkpointing.interval", fmt.Sprintf("%d ms", o.CheckpointInterval.Milliseconds()))
	}
	b.WriteString("\n")
	for _, t := range tables {
		b.WriteString(t)
		b.WriteString("\n\n")
	}
	for _, v := range views {
		b.WriteString(v)
		b.WriteString("\n\n")
	}
	for _, s := range sinks {
		b.WriteString(s)
		b.WriteString("\n\n")
	}
	var inserts []string
	for i, s := range sinkNames {
		inserts = append(inserts, fmt.Sprintf("INSERT INTO %s\nSELECT %s FROM (\n  %s\n) AS %s;", flinkIdent(s), g.sinkSelect(i, rowCols), rows, flinkIdent(flinkRows)))
	}
	if len(inserts) == 1 {
		b.WriteString(inserts[0])
	} else {
		b.WriteString("EXECUTE STATEMENT SET\nBEGIN\n")
		b.WriteString(strings.Join(inserts, "\n"))
		b.WriteString("\nEND;")
	}
	b.WriteString("\n")
	return b.String()
}

// flinkStaged is what flinkStages translated: the stages' views (the last
// named prev), the lookups' tables, the window stage (nil: none), and the
// columns after a project (nil: the source's).
type flinkStaged struct {
	views, notes, lookups []string
	w                     *WindowStage
	wpath, prev           string
	cols                  []string
}

// flinkStages translates the row stages (filter, coerce, project, lookup)
// over the table from into views, up to a window stage.
func (g *sqlGen) flinkStages(o FlinkOptions, stages []Stage, from string, kafka bool) (flinkStaged, error) {
	p := g.p
	coerced := g.coerced
	var views, notes []string
	var w *WindowStage
	var wpath string
	prev := from
	var cols []string // the columns after a project; nil: the source's
	var lookupTables []string
	for i, st := range stages {
		path := fmt.Sprintf("stages[%d].%s", i, st.Kind)
		name := fmt.Sprintf("eddy_stage_%d", i)
		switch st.Kind {
		case Filter:
			cond, err := g.expr(st.Filter, path)
			if err != nil {
				return flinkStaged{}, err
			}
			views = append(views, fmt.Sprintf("CREATE TEMPORARY VIEW %s AS\nSELECT * FROM %s\nWHERE (%s) IS TRUE;", flinkIdent(name), flinkIdent(prev), cond))
		case Coerce:
			if !g.fields.on {
				return flinkStaged{}, g.errf(st.Line, path, "a coerce after a project is not translated (the script types source columns; move the coerce before the project)")
			}
			for _, ft := range st.Coerce {
				if strings.Contains(ft.Field, ".") {
					return flinkStaged{}, g.errf(ft.Line, path+"."+ft.Field, "dotted path %q: nested fields are not translated", ft.Field)
				}
				if CoordOf(ft.Field) != NoCoord {
					return flinkStaged{}, g.errf(ft.Line, path+"."+ft.Field, "coercing the coordinate %s is not translated", ft.Field)
				}
				if ft.Type == TTimestamp {
					return flinkStaged{}, g.errf(ft.Line, path+"."+ft.Field, "coerce to timestamp is not translated (eddy's timestamps take epoch milliseconds and RFC 3339 alike; only the event-time field is parsed so)")
				}
				if _, ok := flinkTypes[ft.Type]; !ok {
					return flinkStaged{}, g.errf(ft.Line, path+"."+ft.Field, "type %q", ft.Type)
				}
				if ft.Field == p.Time.Field {
					continue
				}
				g.fields.add(ft.Field)
				coerced[ft.Field] = ft.Type
			}
			continue
		case Project:
			types := map[string]string{}
			var sel []string
			var names []string
			for _, c := range st.Project {
				e, err := g.expr(c.Expr, path+"."+c.Name)
				if err != nil {
					return flinkStaged{}, err
				}
				sel = append(sel, fmt.Sprintf("%s AS %s", e, flinkIdent(c.Name)))
				names = append(names, c.Name)
				types[c.Name] = g.flinkType(c.Expr, coerced)
			}
			g.proj = types
			sel = append(sel, flinkIdent(flinkTime))
			for _, c := range g.flinkCarry {
				sel = append(sel, flinkIdent(c))
			}
			if kafka {
				for _, c := range sqlCoords {
					sel = append(sel, flinkIdent(c))
				}
			}
			g.fields.on = false
			cols = names
			views = append(views, fmt.Sprintf("CREATE TEMPORARY VIEW %s AS\nSELECT %s\nFROM %s;", flinkIdent(name), strings.Join(sel, ", "), flinkIdent(prev)))
		case Lookup:
			ddl, view, note, err := g.flinkLookup(o, st.Lookup, path, name, prev, cols != nil)
			if err != nil {
				return flinkStaged{}, err
			}
			lookupTables = append(lookupTables, ddl)
			views = append(views, view)
			notes = append(notes, note)
			if cols != nil {
				cols = append(cols, st.Lookup.Select...)
			}
		case Window:
			w, wpath = st.Window, path
			continue
		}
		prev = name
	}
	return flinkStaged{views: views, notes: notes, w: w, wpath: wpath, prev: prev, cols: cols, lookups: lookupTables}, nil
}

// wrapComment writes one note as SQL comment lines of at most ~100 characters.
func wrapComment(s string) string {
	var b strings.Builder
	line := "--   *"
	for _, w := range strings.Fields(s) {
		if len(line)+1+len(w) > 100 {
			b.WriteString(line + "\n")
			line = "--    "
		}
		line += " " + w
	}
	b.WriteString(line + "\n")
	return b.String()
}

// flinkCol is one column of the window rows.
type flinkCol struct {
	name, typ string
	key       bool
}

// flinkWindow writes the view of the window rows: keys, window_start and
// window_end as eddy's RFC 3339 text, revision 0 with allowed lateness, the
// aggregates.
func (g *sqlGen) flinkWindow(w *WindowStage, path, prev string, projected bool, colType func(string) string) (string, []flinkCol, error) {
	var keys []string
	for _, k := range w.Key {
		keys = append(keys, flinkIdent(k))
	}
	from := "TABLE " + flinkIdent(prev)
	desc := "DESCRIPTOR(" + flinkIdent(flinkTime) + ")"
	var tvf string
	switch s := w.Spec; s.Type {
	case windows.TumblingType:
		tvf = fmt.Sprintf("TUMBLE(%s, %s, %s)", from, desc, flinkInterval(s.Size))
	case windows.HoppingType:
		if s.Size%s.Slide != 0 {
			lo := s.Size / s.Slide * s.Slide
			hint := fmt.Sprintf("size %s", time.Duration(lo+s.Slide)*time.Millisecond)
			if lo > 0 {
				hint = fmt.Sprintf("size %s or %s", time.Duration(lo)*time.Millisecond, time.Duration(lo+s.Slide)*time.Millisecond)
			}
			return "", nil, g.errf(w.Line, path+".hopping", "size %s is not a multiple of slide %s: Flink's HOP requires it (the nearest: %s with slide %s)",
				time.Duration(s.Size)*time.Millisecond, time.Duration(s.Slide)*time.Millisecond, hint, time.Duration(s.Slide)*time.Millisecond)
		}
		tvf = fmt.Sprintf("HOP(%s, %s, %s, %s)", from, desc, flinkInterval(s.Slide), flinkInterval(s.Size))
	case windows.SessionType:
		if len(keys) == 1 {
			from += " PARTITION BY " + keys[0]
		} else if len(keys) > 1 {
			from += " PARTITION BY (" + strings.Join(keys, ", ") + ")"
		}
		tvf = fmt.Sprintf("SESSION(%s, %s, %s)", from, desc, flinkInterval(s.Gap))
	default:
		return "", nil, g.errf(w.Line, path, "window type %v", s.Type)
	}
	typeOf := func(f string) string {
		if projected {
			return g.proj[f]
		}
		if t := colType(f); t != "" {
			return t
		}
		return g.fields.typ[f]
	}
	var out []flinkCol
	var sel []string
	for i, k := range w.Key {
		sel = append(sel, keys[i])
		out = append(out, flinkCol{name: k, typ: typeOf(k), key: true})
	}
	sel = append(sel, "DATE_FORMAT(window_start, "+flinkRFC+") AS `window_start`", "DATE_FORMAT(window_end, "+flinkRFC+") AS `window_end`")
	out = append(out, flinkCol{name: "window_start", typ: "STRING"}, flinkCol{name: "window_end", typ: "STRING"})
	if g.p.Time.AllowedLateness > 0 {
		sel = append(sel, "CAST(0 AS BIGINT) AS `revision`")
		out = append(out, flinkCol{name: "revision", typ: "BIGINT"})
	}
	for _, a := range w.Aggregates {
		ap := path + ".aggregate." + a.Name
		if strings.Contains(a.Field, ".") {
			return "", nil, g.errf(a.Line, ap, "dotted path %q in %s: nested fields are not translated", a.Field, a.Src)
		}
		if a.Field != "" && CoordOf(a.Field) != NoCoord {
			return "", nil, g.errf(a.Line, ap, "the coordinate %q in %s is not translated", a.Field, a.Src)
		}
		if a.Field != "" && !projected {
			g.fields.add(a.Field)
		}
		f := flinkIdent(a.Field)
		ft := typeOf(a.Field)
		var e, typ string
		switch a.Func {
		case windows.Count:
			if a.Field == "" {
				e = "COUNT(*)"
			} else {
				e = "COUNT(" + f + ")"
			}
			typ = "BIGINT"
		case windows.Sum, windows.Min, windows.Max:
			if ft == "" {
				ft = "DOUBLE"
				if !projected {
					g.fields.src = a.Src
					g.fields.set(a.Field, "DOUBLE")
				}
			}
			e = map[windows.Func]string{windows.Sum: "SUM", windows.Min: "MIN", windows.Max: "MAX"}[a.Func] + "(" + f + ")"
			typ = ft
		case windows.Avg:
			// Flink's AVG of a BIGINT is a BIGINT; eddy's is a float
			e = "AVG(CAST(" + f + " AS DOUBLE))"
			typ = "DOUBLE"
		case windows.CountDistinct:
			e = "COUNT(DISTINCT " + f + ")"
			typ = "BIGINT"
		case windows.Quantile:
			return "", nil, g.errf(a.Line, ap, "%s: Flink %s has no quantile or percentile aggregate; the nearest built-ins are max(%s) (an upper bound) or avg(%s), else a user-defined aggregate function (remove or replace this aggregate to translate the pipeline)",
				a.Src, FlinkVersion, a.Field, a.Field)
		case windows.First:
			e = "FIRST_VALUE(" + f + ")"
			typ = ft
		case windows.Last:
			e = "LAST_VALUE(" + f + ")"
			typ = ft
		default:
			return "", nil, g.errf(a.Line, ap, "aggregate %s", a.Src)
		}
		sel = append(sel, e+" AS "+flinkIdent(a.Name))
		out = append(out, flinkCol{name: a.Name, typ: typ})
	}
	group := append(append([]string{}, keys...), "window_start", "window_end")
	// the window query goes into each INSERT, not into a view: Flink 1.20
	// writes a view's SESSION(... PARTITION BY (a, b) ...) back without
	// the parentheses and then fails to read it ("Column 'b' not found")
	view := fmt.Sprintf("SELECT %s\n  FROM TABLE(\n    %s)\n  WHERE %s > %s\n  GROUP BY %s",
		strings.Join(sel, ",\n    "), tvf, flinkIdent(flinkTime), flinkNoTime, strings.Join(group, ", "))
	return view, out, nil
}

// flinkSource writes the CREATE TABLE of the source.
func (g *sqlGen) flinkSource(o FlinkOptions, coerced map[string]Type, table string) (string, []string, error) {
	p := g.p
	f := g.fields
	timeField := p.Time.Field
	var cols []string
	var guessed, sampled []string
	seen := map[string]bool{}
	fields := append([]string{timeField}, f.order...)
	for _, name := range fields {
		if _, joined := g.joined[name]; seen[name] || joined || CoordOf(name) != NoCoord {
			continue
		}
		seen[name] = true
		typ := "STRING"
		switch {
		case name == timeField:
			// parsed into the event-time column below; an Avro event
			// time is a long of epoch milliseconds (or timestamp-millis)
			if p.Format == "avro" {
				typ = "BIGINT"
			}
		case coerced[name] != "":
			typ = flinkTypes[coerced[name]]
		case o.Sampled[name] != "":
			typ = o.Sampled[name]
			sampled = append(sampled, name+" "+typ)
		case f.typ[name] != "":
			typ = f.typ[name]
			guessed = append(guessed, fmt.Sprintf("%s %s (from %s)", name, typ, f.why[name]))
		}
		cols = append(cols, fmt.Sprintf("  %s %s", flinkIdent(name), typ))
	}
	kafka := o.Topic != "" || p.Source.Kafka != nil
	if kafka {
		cols = append(cols,
			"  `_key` STRING",
			"  `_topic` STRING METADATA FROM 'topic' VIRTUAL",
			"  `_partition` INT METADATA FROM 'partition' VIRTUAL",
			"  `_offset` BIGINT METADATA FROM 'offset' VIRTUAL",
			"  `_timestamp` TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL")
	}
	tf := flinkIdent(timeField)
	// epoch milliseconds (digits) or RFC 3339 in UTC; anything else has no
	// event time and is filtered out before the window
	parse := "COALESCE(" + flinkParseTime(tf) + ", " + flinkNoTime + ")"
	if p.Format == "avro" {
		parse = "COALESCE(CAST(TO_TIMESTAMP_LTZ(" + tf + ", 3) AS TIMESTAMP(3)), " + flinkNoTime + ")"
	}
	cols = append(cols, fmt.Sprintf("  %s AS %s", flinkIdent(flinkTime), parse))
	cols = append(cols, fmt.Sprintf("  WATERMARK FOR %[1]s AS %[1]s - %[2]s", flinkIdent(flinkTime), flinkInterval(p.Time.MaxOutOfOrder.Milliseconds()+1)))

	var with [][2]string
	var notes []string
	opt := func(k, v string) { with = append(with, [2]string{k, v}) }
	if kafka {
		opt("connector", "kafka")
		var topics []string
		var brokers []string
		k := p.Source.Kafka
		start, stop, group := "earliest", "none", ""
		if k != nil {
			topics, brokers, start, stop, group = k.Topics, k.Brokers, k.Start, k.Stop, k.Group
		}
		if o.Topic != "" {
			topics = []string{o.Topic}
		}
		if len(o.Brokers) > 0 {
			brokers = o.Brokers
		}
		if len(brokers) == 0 {
			return "", nil, g.errf(p.Source.Line, "source.kafka.brokers", "no brokers (give them in the spec, with --brokers or EDDY_BROKERS)")
		}
		opt("topic", strings.Join(topics, ";"))
		opt("properties.bootstrap.servers", strings.Join(brokers, ","))
		if group != "" {
			opt("properties.group.id", group)
		}
		switch {
		case start == "" || start == "earliest":
			opt("scan.startup.mode", "earliest-offset")
		case start == "latest":
			opt("scan.startup.mode", "latest-offset")
		case strings.HasPrefix(start, "time:") && !strings.HasPrefix(start, "time:-"):
			t, err := time.Parse(time.RFC3339Nano, strings.TrimPrefix(start, "time:"))
			if err != nil {
				return "", nil, g.errf(p.Source.Line, "source.kafka.start", "%v", err)
			}
			opt("scan.startup.mode", "timestamp")
			opt("scan.startup.timestamp-millis", strconv.FormatInt(t.UnixMilli(), 10))
		default:
			return "", nil, g.errf(p.Source.Line, "source.kafka.start", "start %q is not translated: Flink's Kafka source starts at earliest, latest, a group's offsets or an absolute time (relative times and per-partition offsets differ by partition and by clock)", start)
		}
		switch {
		case stop == "" || stop == "none":
		case stop == "caught-up":
			opt("scan.bounded.mode", "latest-offset")
		case strings.HasPrefix(stop, "time:"):
			t, err := time.Parse(time.RFC3339Nano, strings.TrimPrefix(stop, "time:"))
			if err != nil {
				return "", nil, g.errf(p.Source.Line, "source.kafka.stop", "stop %q is not translated (an absolute RFC 3339 time is)", stop)
			}
			opt("scan.bounded.mode", "timestamp")
			opt("scan.bounded.timestamp-millis", strconv.FormatInt(t.UnixMilli(), 10))
		default:
			return "", nil, g.errf(p.Source.Line, "source.kafka.stop", "stop %q is not translated", stop)
		}
		g.flinkProperties(o, opt)
		opt("key.format", "raw")
		opt("key.fields", "_key")
		if p.Format == "avro" {
			n, err := g.flinkAvro(o, opt)
			if err != nil {
				return "", nil, err
			}
			notes = append(notes, n...)
		} else {
			opt("value.format", "json")
			opt("value.fields-include", "EXCEPT_KEY")
			opt("value.json.ignore-parse-errors", "true")
		}
		opt("scan.watermark.emit.strategy", "on-event")
		if p.Time.IdleTimeout > 0 {
			opt("scan.watermark.idle-timeout", fmt.Sprintf("%d ms", p.Time.IdleTimeout.Milliseconds()))
		}
	} else {
		if p.Source.File == "-" || p.Source.File == "" {
			return "", nil, g.errf(p.Source.Line, "source.file", "standard input has no Flink source (read a topic with --topic)")
		}
		path := p.Source.File // resolved against the spec's directory by Load
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
		opt("connector", "filesystem")
		opt("path", path)
		opt("format", "json")
		opt("json.ignore-parse-errors", "true")
		notes = append(notes, "the file source is read by Flink's filesystem connector on the TaskManagers (the path must be readable there); deploy with --topic to read a Kafka topic instead")
	}
	if p.Format == "avro" {
		notes = append(notes, "a record whose Avro schema does not resolve to the columns fails the job instead of becoming a dead letter; records without a valid event time are dropped")
	} else {
		notes = append(notes, "a value a coerce stage cannot convert, or a line that is not JSON, becomes NULL columns instead of a dead letter; records without a valid event time are dropped")
	}
	if len(sampled) > 0 {
		notes = append(notes, fmt.Sprintf("column types inferred from %d sampled records: %s", o.SampleSize, strings.Join(sampled, ", ")))
	}
	if len(guessed) > 0 {
		notes = append(notes, "column types guessed from their use (a coerce stage fixes them): "+strings.Join(guessed, "; "))
	}
	for _, a := range g.p.Stages {
		if a.Kind == Window {
			for _, ag := range a.Window.Aggregates {
				if ag.Func == windows.First || ag.Func == windows.Last {
					notes = append(notes, "first/last are FIRST_VALUE/LAST_VALUE in arrival order; eddy takes the earliest/latest event time (the same when records arrive in event-time order per key)")
					goto done
				}
			}
		}
	}
done:
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TEMPORARY TABLE %s (\n%s\n) WITH (\n", flinkIdent(table), strings.Join(cols, ",\n"))
	b.WriteString(flinkWith(with))
	b.WriteString(");")
	return b.String(), notes, nil
}

func flinkWith(with [][2]string) string {
	var lines []string
	for _, kv := range with {
		lines = append(lines, fmt.Sprintf("  %s = %s", quoteString(kv[0]), quoteString(kv[1])))
	}
	return strings.Join(lines, ",\n") + "\n"
}

// flinkAvro writes the value format options of format: avro: Flink's
// avro-confluent format, which reads the Confluent framing (magic byte,
// schema id) and the writer schema from the registry, resolved to a reader
// schema derived from the columns.
func (g *sqlGen) flinkAvro(o FlinkOptions, opt func(k, v string)) ([]string, error) {
	p := g.p
	r := o.Registry
	if r == nil && p.Source.Kafka != nil {
		r = p.Source.Kafka.Registry
	}
	if r == nil || r.URL == "" {
		return nil, g.errf(p.Source.Line, "source.kafka.registry.url", "format avro: no schema registry for Flink's avro-confluent format (give --schema-registry, source.kafka.registry.url, schema.registry.url in the client properties or EDDY_SCHEMA_REGISTRY)")
	}
	if t := r.TLS; t != nil && (t.CA != "" || t.Cert != "" || t.Key != "" || t.Insecure) {
		return nil, g.errf(p.Source.Line, "source.kafka.registry.tls", "registry TLS files are PEM; Flink's avro-confluent takes Java keystores (set 'value.avro-confluent.ssl.truststore.location' and the keystore options in the script by hand)")
	}
	opt("value.format", "avro-confluent")
	opt("value.avro-confluent.url", r.URL)
	secret := func(v string) string {
		if o.Redact {
			return "***"
		}
		return v
	}
	user, pass := r.User, r.Password
	if pass == "" {
		user, pass, _ = strings.Cut(r.User, ":")
	}
	switch {
	case r.Token != "":
		opt("value.avro-confluent.bearer-auth.credentials-source", "STATIC_TOKEN")
		opt("value.avro-confluent.bearer-auth.token", secret(r.Token))
	case user != "":
		opt("value.avro-confluent.basic-auth.credentials-source", "USER_INFO")
		opt("value.avro-confluent.basic-auth.user-info", user+":"+secret(pass))
	}
	opt("value.fields-include", "EXCEPT_KEY")
	return []string{"format avro is Flink's avro-confluent format (the flink-sql-avro-confluent-registry jar must be on the cluster's classpath); the columns are the reader schema, so their types must be the writer schema's or promotions of them (int to BIGINT, float to DOUBLE; a coerce stage sets them), and the event-time field is read as a long of epoch milliseconds"}, nil
}

// flinkProperties writes the client properties as properties.* options.
func (g *sqlGen) flinkProperties(o FlinkOptions, opt func(k, v string)) {
	var keys []string
	for k := range o.Properties {
		if k == "bootstrap.servers" || strings.HasPrefix(k, "eddy.") || strings.HasPrefix(k, "schema.registry.") {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := o.Properties[k]
		if o.Redact && flinkSecret[k] {
			v = "***"
		}
		opt("properties."+k, v)
	}
}

// flinkSinks writes the sink tables (Kafka sinks of the spec and
// --sink-topic; the print connector for standard output).
func (g *sqlGen) flinkSinks(o FlinkOptions, sinkKey []string, cols []flinkCol) ([]string, []string, []string, error) {
	p := g.p
	var tables, names, notes []string
	type ksink struct {
		topic   string
		brokers []string
		key     []string
	}
	var ks []ksink
	printOut := false
	for i, t := range p.Sinks {
		switch {
		case t.Kafka != nil:
			ks = append(ks, ksink{t.Kafka.Topic, t.Kafka.Brokers, t.Kafka.Key})
		case t.File == "-":
			printOut = true
		default:
			notes = append(notes, fmt.Sprintf("sinks[%d] (%s) has no Flink table here and is left out", i, sinkKindOf(t)))
		}
	}
	if o.SinkTopic != "" {
		ks = append(ks, ksink{topic: o.SinkTopic, key: sinkKey})
		printOut = false
	}
	var def []string
	for _, c := range cols {
		typ := c.typ
		if typ == "" {
			typ = "STRING"
		}
		def = append(def, fmt.Sprintf("  %s %s", flinkIdent(c.name), typ))
	}
	upsert := p.Time.AllowedLateness > 0 && !g.joinScan // revisions of a window; a join has none
	for i, k := range ks {
		name := fmt.Sprintf("eddy_sink_%d", len(names))
		var with [][2]string
		opt := func(k, v string) { with = append(with, [2]string{k, v}) }
		brokers := k.brokers
		if len(brokers) == 0 {
			brokers = o.Brokers
		}
		if len(brokers) == 0 && p.Source.Kafka != nil {
			brokers = p.Source.Kafka.Brokers
		}
		if len(brokers) == 0 {
			return nil, nil, nil, g.errf(p.Sinks[min(i, len(p.Sinks)-1)].Line, "sinks", "no brokers for the Kafka sink (give them with --brokers or EDDY_BROKERS)")
		}
		d := append([]string{}, def...)
		if len(k.key) > 0 {
			d = append([]string{"  `__eddy_key` STRING"}, d...)
		}
		if upsert && len(k.key) > 0 {
			opt("connector", "upsert-kafka")
			d = append(d, "  PRIMARY KEY (`__eddy_key`) NOT ENFORCED")
		} else {
			opt("connector", "kafka")
		}
		opt("topic", k.topic)
		opt("properties.bootstrap.servers", strings.Join(brokers, ","))
		g.flinkProperties(o, opt)
		if len(k.key) > 0 {
			opt("key.format", "raw")
			if !upsert {
				opt("key.fields", "__eddy_key") // upsert-kafka's key is the primary key
			}
			opt("value.format", "json")
			opt("value.fields-include", "EXCEPT_KEY")
		} else {
			opt("value.format", "json")
		}
		if !upsert || len(k.key) == 0 {
			opt("sink.delivery-guarantee", "at-least-once")
		}
		tables = append(tables, fmt.Sprintf("CREATE TEMPORARY TABLE %s (\n%s\n) WITH (\n%s);", flinkIdent(name), strings.Join(d, ",\n"), flinkWith(with)))
		names = append(names, name)
		g.sinkKeys = append(g.sinkKeys, k.key)
	}
	if printOut || len(names) == 0 {
		name := fmt.Sprintf("eddy_sink_%d", len(names))
		tables = append(tables, fmt.Sprintf("CREATE TEMPORARY TABLE %s (\n%s\n) WITH (\n  'connector' = 'print'\n);", flinkIdent(name), strings.Join(def, ",\n")))
		names = append(names, name)
		g.sinkKeys = append(g.sinkKeys, nil)
		notes = append(notes, "standard output becomes Flink's print connector (the TaskManagers' stdout, rows as +I[...] not JSON); deploy with --sink-topic to write eddy's JSON rows to a topic")
	}
	if upsert && len(g.sinkKeys) > 0 && len(g.sinkKeys[0]) > 0 {
		notes = append(notes, "keyed Kafka sinks are upsert-kafka tables keyed like eddy's sink key")
	}
	return tables, names, notes, nil
}

// sinkSelect is the column list inserted into sink i: the record key (as
// eddy builds it: one string field as is, else JSON) then the rows.
func (g *sqlGen) sinkSelect(i int, cols []flinkCol) string {
	var sel []string
	if key := g.sinkKeys[i]; len(key) > 0 {
		typeOf := map[string]string{}
		for _, c := range cols {
			typeOf[c.name] = c.typ
		}
		if len(key) == 1 && (typeOf[key[0]] == "STRING" || typeOf[key[0]] == "") {
			sel = append(sel, flinkIdent(key[0]))
		} else if len(key) == 1 {
			sel = append(sel, "JSON_STRING("+flinkIdent(key[0])+")")
		} else {
			var ks []string
			for _, k := range key {
				ks = append(ks, flinkIdent(k))
			}
			sel = append(sel, "JSON_ARRAY("+strings.Join(ks, ", ")+" NULL ON NULL)")
		}
	}
	for _, c := range cols {
		if c.typ == "" {
			// a type the script does not know: text, as the sink declares
			sel = append(sel, "CAST("+flinkIdent(c.name)+" AS STRING) AS "+flinkIdent(c.name))
			continue
		}
		sel = append(sel, flinkIdent(c.name))
	}
	return strings.Join(sel, ", ")
}

func sinkKindOf(t Target) string {
	switch {
	case t.DuckDB != nil:
		return "duckdb"
	case t.Parquet != nil:
		return "parquet"
	case t.Redis != nil:
		return "redis"
	case t.InfluxDB != nil:
		return "influxdb"
	case t.Prometheus != nil:
		return "prometheus"
	}
	return "file " + t.File
}

// flinkType is the Flink type of a projected expression, "" when unknown.
func (g *sqlGen) flinkType(e Expr, coerced map[string]Type) string {
	tree, err := exprparser.Parse(e.Src)
	if err != nil {
		return ""
	}
	return g.nodeType(tree.Node, coerced)
}

// nodeType is the Flink type of an expression node, "" when unknown.
func (g *sqlGen) nodeType(n ast.Node, coerced map[string]Type) string {
	var typ func(n ast.Node) string
	typ = func(n ast.Node) string {
		switch n := n.(type) {
		case *ast.IntegerNode:
			return "BIGINT"
		case *ast.FloatNode:
			return "DOUBLE"
		case *ast.StringNode:
			return "STRING"
		case *ast.BoolNode:
			return "BOOLEAN"
		case *ast.IdentifierNode:
			switch n.Value {
			case "_topic", "_key":
				return "STRING"
			case "_partition":
				return "INT"
			case "_offset":
				return "BIGINT"
			case "_timestamp":
				return "TIMESTAMP_LTZ(3)"
			}
			if g.proj != nil {
				return g.proj[n.Value]
			}
			if t, ok := coerced[n.Value]; ok {
				return flinkTypes[t]
			}
			if t := g.sampled[n.Value]; t != "" && n.Value != g.p.Time.Field {
				return t
			}
			if t := g.fields.typ[n.Value]; t != "" {
				return t
			}
			return "STRING"
		case *ast.UnaryNode:
			if n.Operator == "!" || n.Operator == "not" {
				return "BOOLEAN"
			}
			return typ(n.Node)
		case *ast.ConditionalNode:
			if a := typ(n.Exp1); a == typ(n.Exp2) {
				return a
			}
			return ""
		case *ast.BuiltinNode:
			if n.Name == "upper" || n.Name == "lower" {
				return "STRING"
			}
		case *ast.BinaryNode:
			l, r := typ(n.Left), typ(n.Right)
			switch n.Operator {
			case "==", "!=", "<", ">", "<=", ">=", "&&", "||", "and", "or", "in", "contains", "startsWith", "endsWith":
				return "BOOLEAN"
			case "/", "**", "^":
				return "DOUBLE"
			case "??":
				if l == r {
					return l
				}
				return ""
			case "+", "-", "*", "%":
				if l == "STRING" || r == "STRING" {
					if n.Operator == "+" {
						return "STRING"
					}
					return ""
				}
				if l == "BIGINT" && r == "BIGINT" {
					return "BIGINT"
				}
				if (l == "BIGINT" || l == "DOUBLE" || l == "INT") && (r == "BIGINT" || r == "DOUBLE" || r == "INT") {
					return "DOUBLE"
				}
			}
		}
		return ""
	}
	return typ(n)
}

// flinkParseTime is a Flink SQL expression reading event time from a STRING
// column as eddy does: epoch milliseconds (a number, floored) or RFC 3339
// with Z or a UTC offset, fractions beyond milliseconds truncated. It is
// NULL for anything else. The result is a TIMESTAMP(3) in UTC.
func flinkParseTime(col string) string {
	x := col
	offset := fmt.Sprintf("CASE WHEN REGEXP(%[1]s, '[Zz]$') THEN 0 ELSE (CASE WHEN SUBSTRING(%[1]s FROM CHAR_LENGTH(%[1]s) - 5 FOR 1) = '-' THEN 1 ELSE -1 END) * "+
		"(CAST(SUBSTRING(%[1]s FROM CHAR_LENGTH(%[1]s) - 4 FOR 2) AS INT) * 60 + CAST(SUBSTRING(%[1]s FROM CHAR_LENGTH(%[1]s) - 1 FOR 2) AS INT)) END", x)
	local := fmt.Sprintf("TRY_CAST(SUBSTRING(%[1]s FROM 1 FOR 10) || ' ' || REGEXP_EXTRACT(%[1]s, '^.{11}([0-9:]{8}(\\.[0-9]{1,3})?)', 1) AS TIMESTAMP(3))", x)
	return fmt.Sprintf("CASE WHEN REGEXP(%[1]s, '^-?[0-9]+$') THEN CAST(TO_TIMESTAMP_LTZ(CAST(%[1]s AS BIGINT), 3) AS TIMESTAMP(3))"+
		" WHEN REGEXP(%[1]s, '^-?[0-9]+\\.[0-9]*([eE][+-]?[0-9]+)?$') THEN CAST(TO_TIMESTAMP_LTZ(CAST(FLOOR(CAST(%[1]s AS DOUBLE)) AS BIGINT), 3) AS TIMESTAMP(3))"+
		" WHEN REGEXP(%[1]s, '^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$') THEN TIMESTAMPADD(MINUTE, %[2]s, %[3]s) END",
		x, offset, local)
}

// FlinkSampleTypes infers Flink column types from sampled JSON record
// values (for --sample): integers BIGINT, other numbers DOUBLE (also where
// integers and fractions mix), strings STRING, booleans BOOLEAN, objects and
// arrays STRING (their JSON text); a field whose values disagree otherwise
// is STRING. Nulls and values that are not JSON objects say nothing.
func FlinkSampleTypes(values [][]byte) map[string]string {
	out := map[string]string{}
	for _, v := range values {
		var m map[string]json.RawMessage
		d := json.NewDecoder(bytes.NewReader(v))
		if d.Decode(&m) != nil {
			continue
		}
		for k, raw := range m {
			var typ string
			switch s := strings.TrimSpace(string(raw)); {
			case s == "null":
				continue
			case s == "true" || s == "false":
				typ = "BOOLEAN"
			case strings.HasPrefix(s, `"`), strings.HasPrefix(s, "{"), strings.HasPrefix(s, "["):
				typ = "STRING"
			case strings.ContainsAny(s, ".eE"):
				typ = "DOUBLE"
			default:
				typ = "BIGINT"
				if _, err := strconv.ParseInt(s, 10, 64); err != nil {
					typ = "DOUBLE"
				}
			}
			switch prev := out[k]; {
			case prev == "" || prev == typ:
				out[k] = typ
			case (prev == "BIGINT" && typ == "DOUBLE") || (prev == "DOUBLE" && typ == "BIGINT"):
				out[k] = "DOUBLE"
			default:
				out[k] = "STRING"
			}
		}
	}
	return out
}

// flinkLookup translates a lookup of a kafka table into an event-time
// temporal join (FOR SYSTEM_TIME AS OF) with an upsert-kafka table of the
// topic: the versioned table Flink keeps per key, tombstones deleting. A
// file or DuckDB table has no faithful translation: Flink's filesystem
// connector is no lookup source and does not reread a file when it
// changes, and Flink has no DuckDB connector.
func (g *sqlGen) flinkLookup(o FlinkOptions, l *LookupStage, path, name, prev string, projected bool) (ddl, view, note string, err error) {
	t := g.p.Table(l.Table)
	if t.Kafka == nil {
		kind := "a file"
		why := "Flink's filesystem connector is not a lookup source and does not read a file again when it changes"
		if t.DuckDB != nil {
			kind, why = "a DuckDB table", "Flink has no DuckDB connector"
		}
		return "", "", "", g.errf(l.TableLine, path+".table", "table %s is %s: %s; declare the table as a compacted kafka topic (tables: {%s: {kafka: {topic, key}}}) to translate the lookup as a temporal join", t.Name, kind, why, t.Name)
	}
	if strings.Contains(l.Field, ".") {
		return "", "", "", g.errf(l.OnLine, path+".on", "dotted path %q: nested fields are not translated", l.Field)
	}
	if g.joined == nil {
		g.joined = map[string]string{}
	}
	for _, c := range l.Select {
		if !projected {
			if _, read := g.fields.typ[c]; read {
				return "", "", "", g.errf(l.SelectLine, path+".select", "the record's field %s is read before the lookup joins a column of that name; rename one of them (a project) to translate it", c)
			}
		}
		typ := "STRING"
		for _, st := range g.p.Stages {
			if w := st.Window; w != nil {
				for _, a := range w.Aggregates {
					switch a.Func {
					case windows.Sum, windows.Avg, windows.Min, windows.Max, windows.Quantile:
						if a.Field == c {
							typ = "DOUBLE"
						}
					}
				}
			}
		}
		g.joined[c] = typ
	}
	if !projected {
		g.fields.add(l.Field)
	}
	brokers := t.Kafka.Brokers
	if len(brokers) == 0 {
		brokers = o.Brokers
	}
	if len(brokers) == 0 && g.p.Source.Kafka != nil {
		brokers = g.p.Source.Kafka.Brokers
	}
	if len(brokers) == 0 {
		return "", "", "", g.errf(t.Line, "tables."+t.Name+".kafka.brokers", "no brokers for the table's topic (give them in the spec or with --brokers)")
	}
	tname := "eddy_table_" + t.Name
	cols := []string{fmt.Sprintf("  %s STRING", flinkIdent(t.Kafka.Key))}
	var selected []string
	for _, c := range l.Select {
		if c == t.Kafka.Key {
			continue
		}
		selected = append(selected, c)
	}
	for _, c := range t.Kafka.Columns {
		if !slices.Contains(selected, c) {
			selected = append(selected, c)
		}
	}
	for _, c := range selected {
		cols = append(cols, fmt.Sprintf("  %s %s", flinkIdent(c), cmp.Or(g.joined[c], "STRING")))
	}
	cols = append(cols,
		"  `__eddy_vts` TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL",
		"  `__eddy_vt` AS CAST(`__eddy_vts` AS TIMESTAMP(3))",
		fmt.Sprintf("  PRIMARY KEY (%s) NOT ENFORCED", flinkIdent(t.Kafka.Key)),
		"  WATERMARK FOR `__eddy_vt` AS `__eddy_vt`")
	var with [][2]string
	opt := func(k, v string) { with = append(with, [2]string{k, v}) }
	opt("connector", "upsert-kafka")
	opt("topic", t.Kafka.Topic)
	opt("properties.bootstrap.servers", strings.Join(brokers, ","))
	g.flinkProperties(o, opt)
	opt("key.format", "raw")
	opt("value.format", "json")
	opt("value.fields-include", "EXCEPT_KEY")
	ddl = fmt.Sprintf("-- table %s: the compacted topic %s, the latest value per key (a tombstone deletes it)\nCREATE TEMPORARY TABLE %s (\n%s\n) WITH (\n%s);",
		t.Name, t.Kafka.Topic, flinkIdent(tname), strings.Join(cols, ",\n"), flinkWith(with))
	join := "LEFT JOIN"
	if l.OnMissing != MissingNull {
		join = "JOIN"
	}
	var sel []string
	for _, c := range l.Select {
		sel = append(sel, "u."+flinkIdent(c))
	}
	view = fmt.Sprintf("CREATE TEMPORARY VIEW %s AS\nSELECT r.*, %s\nFROM %s AS r\n%s %s FOR SYSTEM_TIME AS OF r.%s AS u\n  ON CAST(r.%s AS STRING) = u.%s;",
		flinkIdent(name), strings.Join(sel, ", "), flinkIdent(prev), join, flinkIdent(tname), flinkIdent(flinkTime), flinkIdent(l.Field), flinkIdent(t.Kafka.Key))
	note = fmt.Sprintf("%s: Flink joins each record with table %s as of the record's event time (a temporal join on the topic's record timestamps, records waiting for the table's watermark; an idle table topic holds them until the idle timeout), where eddy joins the latest value read when the record is processed: the two agree when a key's value is produced before the records that need it", path, t.Name)
	if l.OnMissing == MissingDLQ {
		note += "; records without a row are dropped, not dead-lettered"
	}
	return ddl, view, note, nil
}
