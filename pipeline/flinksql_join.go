package pipeline

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/eddyhq/eddy/windows"
)

// flinkJoinScript writes the Flink script of a pipeline of several sources
// whose last stage is a join: one source table per source (a Kafka topic
// or a file), a view of their union tagged with _source, the stages before
// the join as views over it, the left and right rows as views, and the
// join: an interval join (l.t BETWEEN r.t + LOWER AND r.t + UPPER, FROM l,
// r WHERE for inner, LEFT JOIN ON for left) or a window join (TUMBLE or
// HOP on each side, joined on the key, window_start and window_end).
func (g *sqlGen) flinkJoinScript(o FlinkOptions) (string, error) {
	p := g.p
	j, ji := p.JoinStage()
	if j == nil {
		return "", g.errf(p.Sources[0].Line, "sources", "several sources without a join stage are not translated to Flink SQL")
	}
	jpath := fmt.Sprintf("stages[%d].join", ji)
	if err := g.afterJoin(ji, "Flink"); err != nil {
		return "", err
	}
	if j.Until != "" {
		return "", g.errf(j.UntilLine, jpath+".until", "a bound from a field (until) is not translated to Flink SQL yet")
	}
	switch {
	case p.Time.Field == "":
		return "", g.errf(p.Time.Line, "time", "a join needs event time")
	case strings.Contains(p.Time.Field, "."):
		return "", g.errf(p.Time.Line, "time.field", "dotted path %q: nested fields are not translated (declare the field as a ROW column by hand)", p.Time.Field)
	case CoordOf(p.Time.Field) != NoCoord:
		return "", g.errf(p.Time.Line, "time.field", "the coordinate %s as event time is not translated", p.Time.Field)
	case p.Format != "" && p.Format != "json":
		return "", g.errf(0, "format", "format %s: the sources of a join are translated as JSON only", p.Format)
	case o.Topic != "":
		return "", g.errf(p.Sources[0].Line, "sources", "--topic replaces the one source; a join reads the topics and files of its sources section")
	}
	for _, s := range p.Sources {
		if s.File == "" && s.Kafka == nil {
			return "", g.errf(s.Line, "sources."+s.Name, "only file and kafka sources are translated")
		}
	}
	g.joinScan = true
	g.coerced = map[string]Type{}
	g.sampled = o.Sampled
	g.flinkCarry = []string{sqlSrc}
	st, err := g.flinkStages(o, p.Stages[:ji], "eddy_sources", false)
	if err != nil {
		return "", err
	}
	notes := st.notes
	projected := st.cols != nil
	typeOf := func(f string) string {
		switch {
		case projected:
			return g.proj[f]
		case g.joined[f] != "":
			return g.joined[f]
		case g.coerced[f] != "":
			return flinkTypes[g.coerced[f]]
		case f != p.Time.Field && o.Sampled[f] != "":
			return o.Sampled[f]
		}
		return g.fields.typ[f]
	}
	field := func(side, f, path string, line int) (string, error) {
		switch {
		case strings.Contains(f, "."):
			return "", g.errf(line, path, "dotted path %q: nested fields are not translated", f)
		case f == sqlSrc:
		case CoordOf(f) != NoCoord:
			return "", g.errf(line, path, "the coordinate %s is not translated in a join", f)
		case g.fields.on:
			g.fields.add(f)
		}
		return side + "." + flinkIdent(f), nil
	}
	var on []string
	for i := range j.Left {
		l, err := field("l", j.Left[i], jpath+".on", j.OnLine)
		if err != nil {
			return "", err
		}
		r, err := field("r", j.Right[i], jpath+".on", j.OnLine)
		if err != nil {
			return "", err
		}
		on = append(on, l+" = "+r)
	}
	var sel []string
	var cols []flinkCol
	for i, c := range j.Select {
		side, f := "l", c.Field
		if rf, ok := strings.CutPrefix(f, j.With+"."); ok {
			side, f = "r", rf
		}
		e, err := field(side, f, fmt.Sprintf("%s.select[%d]", jpath, i), c.Line)
		if err != nil {
			return "", err
		}
		typ := typeOf(f)
		if f == sqlSrc {
			typ = "STRING"
		}
		sel = append(sel, e+" AS "+flinkIdent(c.Name))
		cols = append(cols, flinkCol{name: c.Name, typ: typ})
	}

	// the sources: one table each, with every field the stages read (a
	// field a source lacks is NULL, as in eddy), and their union
	var fields []string
	for _, f := range append([]string{p.Time.Field}, g.fields.order...) {
		if _, joined := g.joined[f]; !joined && CoordOf(f) == NoCoord && !slices.Contains(fields, flinkIdent(f)) {
			fields = append(fields, flinkIdent(f))
		}
	}
	var tables, union []string
	for _, s := range p.Sources {
		name := "eddy_source_" + s.Name
		one := *p
		one.Source = s.Source
		g.p = &one
		so := o
		if s.Kafka != nil && len(s.Kafka.Brokers) > 0 {
			so.Brokers = nil // the source's own cluster
		}
		t, srcNotes, err := g.flinkSource(so, g.coerced, name)
		g.p = p
		if se, ok := err.(*SQLError); ok && strings.HasPrefix(se.Path, "source.") {
			se.Path = "sources." + s.Name + strings.TrimPrefix(se.Path, "source")
		}
		if err != nil {
			return "", err
		}
		tables = append(tables, t)
		for _, n := range srcNotes {
			n = strings.TrimSuffix(n, "; deploy with --topic to read a Kafka topic instead")
			if !slices.Contains(notes, n) {
				notes = append(notes, n)
			}
		}
		union = append(union, fmt.Sprintf("SELECT %s, %s, CAST(%s AS STRING) AS %s FROM %s",
			strings.Join(fields, ", "), flinkIdent(flinkTime), quoteString(s.Name), flinkIdent(sqlSrc), flinkIdent(name)))
	}
	views := []string{fmt.Sprintf("CREATE TEMPORARY VIEW `eddy_sources` AS\n%s;", strings.Join(union, "\nUNION ALL\n"))}
	views = append(views, st.views...)
	with := quoteString(j.With)
	timed := flinkIdent(flinkTime) + " > " + flinkNoTime // records without a valid event time are dropped
	views = append(views,
		fmt.Sprintf("CREATE TEMPORARY VIEW `eddy_left` AS\nSELECT * FROM %s\nWHERE %s <> %s AND %s;", flinkIdent(st.prev), flinkIdent(sqlSrc), with, timed),
		fmt.Sprintf("CREATE TEMPORARY VIEW `eddy_right` AS\nSELECT * FROM %s\nWHERE %s = %s AND %s;", flinkIdent(st.prev), flinkIdent(sqlSrc), with, timed))

	var rows string
	lt, rt := "l."+flinkIdent(flinkTime), "r."+flinkIdent(flinkTime)
	if w := j.Window; w != nil {
		var tvf func(string) string
		switch w.Type {
		case windows.TumblingType:
			tvf = func(t string) string {
				return fmt.Sprintf("TUMBLE(TABLE %s, DESCRIPTOR(%s), %s)", flinkIdent(t), flinkIdent(flinkTime), flinkInterval(w.Size))
			}
		case windows.HoppingType:
			if w.Size%w.Slide != 0 {
				return "", g.errf(j.BetweenLine, jpath+".window.hopping", "size %s is not a multiple of slide %s: Flink's HOP requires it",
					time.Duration(w.Size)*time.Millisecond, time.Duration(w.Slide)*time.Millisecond)
			}
			tvf = func(t string) string {
				return fmt.Sprintf("HOP(TABLE %s, DESCRIPTOR(%s), %s, %s)", flinkIdent(t), flinkIdent(flinkTime), flinkInterval(w.Slide), flinkInterval(w.Size))
			}
		default:
			return "", g.errf(j.BetweenLine, jpath+".window", "window type %v", w.Type)
		}
		sel = append(sel, "DATE_FORMAT(l.window_start, "+flinkRFC+") AS `window_start`", "DATE_FORMAT(l.window_end, "+flinkRFC+") AS `window_end`")
		cols = append(cols, flinkCol{name: "window_start", typ: "STRING"}, flinkCol{name: "window_end", typ: "STRING"})
		kw := "JOIN"
		if j.Type == JoinLeft {
			kw = "LEFT JOIN"
		}
		on = append(on, "l.window_start = r.window_start", "l.window_end = r.window_end")
		rows = fmt.Sprintf("SELECT %s\n  FROM (SELECT * FROM TABLE(%s)) AS l\n  %s (SELECT * FROM TABLE(%s)) AS r\n  ON %s",
			strings.Join(sel, ",\n    "), tvf("eddy_left"), kw, tvf("eddy_right"), strings.Join(on, "\n    AND "))
	} else {
		plus := func(t string, ms int64) string {
			switch {
			case ms < 0:
				return t + " - " + flinkInterval(-ms)
			case ms > 0:
				return t + " + " + flinkInterval(ms)
			}
			return t
		}
		on = append(on, fmt.Sprintf("%s BETWEEN %s AND %s", lt, plus(rt, j.Lower.Milliseconds()), plus(rt, j.Upper.Milliseconds())))
		if j.Type == JoinLeft {
			rows = fmt.Sprintf("SELECT %s\n  FROM `eddy_left` AS l LEFT JOIN `eddy_right` AS r\n  ON %s",
				strings.Join(sel, ",\n    "), strings.Join(on, "\n    AND "))
		} else {
			rows = fmt.Sprintf("SELECT %s\n  FROM `eddy_left` AS l, `eddy_right` AS r\n  WHERE %s",
				strings.Join(sel, ",\n    "), strings.Join(on, "\n    AND "))
		}
	}
	notes = append(notes, "Flink emits a joined pair as soon as both rows are in (a left join's unmatched row when the watermark passes it); eddy emits a left row's rows together once the watermark lets it go, ordered by left time, key and values: the same rows, in another order")
	lateNote := "late rows (behind the watermark) are dropped by Flink's join, not dead-lettered"
	if p.Time.AllowedLateness > 0 {
		lateNote += fmt.Sprintf("; Flink's join has no allowed lateness, so the rows eddy still takes within allowed_lateness %s are dropped too", p.Time.AllowedLateness)
	}
	notes = append(notes, lateNote)
	sinks, sinkNames, sinkNotes, err := g.flinkSinks(o, nil, cols)
	if err != nil {
		return "", err
	}
	notes = append(notes, sinkNotes...)
	return g.flinkWrite(o, notes, append(tables, st.lookups...), views, sinks, sinkNames, rows, cols), nil
}
