package pipeline

import (
	"fmt"
	"strings"

	"github.com/eddyhq/eddy/windows"
)

// The internal columns of a join's query.
const (
	sqlSrc = "_source" // the _source coordinate, a column of every scan
	sqlJWS = "__eddy_ws"
)

// joinSQL translates a pipeline of several sources whose last stage is a
// join (docs/joins.md): every source is a scan tagged with its name in
// _source (a file source read_json of its file, a Kafka source the table
// of its name, as `eddy export --table NAME` writes it), the scans are
// unioned by column name (a field a source lacks is NULL, as in the
// engine), the stages before the join run over the union, and the join
// splits it into its left rows (every source but with) and its right rows.
//
// The rows are ordered as the engine emits them: by the left row's time,
// its key (the engine's key order: by the length of the key's encoding,
// then by value), its selected values, then the right row's time and
// values. Two ties SQL orders otherwise: left rows with the same time and
// key but different values, and a left row's matches at the same time
// with different values; the engine orders them by their encoding
// (varints), SQL by value.
func (g *sqlGen) joinSQL() (string, error) {
	p := g.p
	j, ji := p.JoinStage()
	if j == nil {
		return "", g.errf(p.Sources[0].Line, "sources", "several sources without a join stage are not translated: the export reads one table")
	}
	jpath := fmt.Sprintf("stages[%d].join", ji)
	if ji+1 < len(p.Stages) && p.Stages[ji+1].Kind == Top {
		st := p.Stages[ji+1]
		return "", g.errf(st.Line, fmt.Sprintf("stages[%d].top", ji+1),
			"a top right after a join (it ranks each left row's rows) is not translated to DuckDB SQL yet")
	}
	if strings.Contains(p.Time.Field, ".") {
		return "", g.errf(p.Time.Line, "time.field", "dotted path %q (nested objects are JSON columns in an export)", p.Time.Field)
	}
	if p.Format != "" && p.Format != "json" {
		return "", g.errf(0, "format", "format %s: the sources of a join are read as JSON Lines (read_json)", p.Format)
	}
	g.joinScan = true
	var scans []string
	for _, s := range p.Sources {
		from := quoteIdent(s.Name) // a Kafka topic exported to the table of the source's name
		if s.File != "" {
			from = "read_json(" + quoteString(s.File) + ", format = 'newline_delimited')"
		}
		scans = append(scans, fmt.Sprintf("SELECT *, %s AS %s FROM %s", quoteString(s.Name), sqlSrc, from))
	}
	prev := "src"
	for i, st := range p.Stages[:ji] {
		path := fmt.Sprintf("stages[%d].%s", i, st.Kind)
		name := fmt.Sprintf("s%d", i)
		var cte string
		var err error
		switch st.Kind {
		case Filter, Coerce, Project:
			cte, err = g.rowCTE(st, path, name, prev, sqlTS, sqlSrc)
		case Lookup:
			cte, err = g.lookupCTE(st.Lookup, path, name, prev)
		default:
			err = g.errf(st.Line, path, "a %s stage before a join", st.Kind)
		}
		if err != nil {
			return "", err
		}
		g.ctes = append(g.ctes, cte)
		prev = name
	}
	with := quoteString(j.With)
	g.ctes = append(g.ctes,
		fmt.Sprintf("l AS (\n  -- the left rows: every source but %s\n  SELECT * FROM %s WHERE %s <> %s\n)", j.With, prev, sqlSrc, with),
		fmt.Sprintf("r AS (\n  -- the right rows: source %s\n  SELECT * FROM %s WHERE %s = %s\n)", j.With, prev, sqlSrc, with))

	col := func(side, field, path string, line int) (string, error) {
		switch {
		case strings.Contains(field, "."):
			return "", g.errf(line, path, "dotted path %q (nested objects are JSON columns in an export)", field)
		case field == sqlSrc:
		case CoordOf(field) != NoCoord:
			return "", g.errf(line, path, "the coordinate %s (the sources of a join are read as tables without Kafka coordinates)", field)
		}
		return side + "." + quoteIdent(field), nil
	}
	var on, lkeys []string
	for i := range j.Left {
		lk, err := col("l", j.Left[i], jpath+".on", j.OnLine)
		if err != nil {
			return "", err
		}
		rk, err := col("r", j.Right[i], jpath+".on", j.OnLine)
		if err != nil {
			return "", err
		}
		on = append(on, lk+" = "+rk)
		lkeys = append(lkeys, lk)
	}
	var sel, lvals, rvals []string
	for i, c := range j.Select {
		side, field := "l", c.Field
		if f, ok := strings.CutPrefix(field, j.With+"."); ok {
			side, field = "r", f
		}
		e, err := col(side, field, fmt.Sprintf("%s.select[%d]", jpath, i), c.Line)
		if err != nil {
			return "", err
		}
		sel = append(sel, e+" AS "+quoteIdent(c.Name))
		if side == "l" {
			lvals = append(lvals, e+" NULLS FIRST")
		} else {
			rvals = append(rvals, e+" NULLS FIRST")
		}
	}
	lt, rt := "l."+sqlTS, "r."+sqlTS
	left, right := "l", "r"
	what := fmt.Sprintf("interval join: l.t BETWEEN r.t + %s AND r.t + %s", FormatDuration(j.Lower), FormatDuration(j.Upper))
	var lws []string
	if w := j.Window; w != nil {
		// each row once per window it is in; rows join in the same window
		for _, side := range []string{"l", "r"} {
			cte, err := g.joinWindows(w, jpath, side)
			if err != nil {
				return "", err
			}
			g.ctes = append(g.ctes, cte)
		}
		left, right = "lw AS l", "rw AS r"
		on = append(on, "l."+sqlJWS+" = r."+sqlJWS)
		sel = append(sel, "epoch_ms(l."+sqlJWS+") AS window_start", fmt.Sprintf("epoch_ms(l.%s + %d) AS window_end", sqlJWS, w.Size))
		lws = []string{"l." + sqlJWS}
		what = "window join: the same window on both sides"
	} else {
		on = append(on, fmt.Sprintf("%s BETWEEN %s + %d AND %s + %d", lt, rt, j.Lower.Milliseconds(), rt, j.Upper.Milliseconds()))
		if j.Until != "" {
			// the pair's other row's time at most the field's (a NULL
			// or a value that is not a time matches nothing, as in the engine)
			side, other, field := "l", rt, j.Until
			if f, ok := strings.CutPrefix(field, j.With+"."); ok {
				side, other, field = "r", lt, f
			}
			e, err := col(side, field, jpath+".until", j.UntilLine)
			if err != nil {
				return "", err
			}
			on = append(on, fmt.Sprintf("%s <= %s", other, sqlEpochMs(e)))
			what += fmt.Sprintf(" and until %s", j.Until)
		}
	}
	joinKw := "JOIN"
	if j.Type == JoinLeft {
		joinKw = "LEFT JOIN"
	}
	// the engine's order: left time, key tuple (its encoding's length,
	// then its values, the window's start last), left values, right time
	// and right values
	order := []string{lt, joinKeyLen(lkeys)}
	for _, k := range lkeys {
		order = append(order, k+" NULLS FIRST")
	}
	order = append(append(append(order, lws...), lvals...), rt+" NULLS FIRST")
	order = append(order, rvals...)
	final := fmt.Sprintf("-- %s (%s)\nSELECT %s\nFROM %s %s %s\n  ON %s\nORDER BY %s",
		j.Type, what, strings.Join(sel, ",\n  "), left, joinKw, right, strings.Join(on, "\n  AND "), strings.Join(order, ", "))
	if ji+1 < len(p.Stages) {
		// the joined rows as records of the stages after the join: their
		// event time (the later row's time of an interval pair, the left
		// row's without a match; window_end − 1 ms of a window join) and
		// their place in the engine's order as the offset
		ts := fmt.Sprintf("CASE WHEN %[2]s IS NULL THEN %[1]s ELSE greatest(%[1]s, %[2]s) END", lt, rt)
		if w := j.Window; w != nil {
			ts = fmt.Sprintf("l.%s + %d - 1", sqlJWS, w.Size)
		}
		sel = append(sel, ts+" AS "+sqlTS, "0 AS "+sqlCoord+"_partition",
			fmt.Sprintf("row_number() OVER (ORDER BY %s) AS %s_offset", strings.Join(order, ", "), sqlCoord))
		g.ctes = append(g.ctes, fmt.Sprintf("jn AS (\n  -- %s (%s)\n  SELECT %s\n  FROM %s %s %s\n    ON %s\n)",
			j.Type, what, strings.Join(sel, ",\n    "), left, joinKw, right, strings.Join(on, "\n    AND ")))
		var err error
		if final, err = g.afterJoinSQL(ji); err != nil {
			return "", err
		}
	}

	timed := fmt.Sprintf("timed AS (\n  -- every source, tagged with its name; event time in epoch ms from %s\n  SELECT *, %s AS %s\n  FROM (\n    %s\n  )\n)",
		quoteIdent(p.Time.Field), sqlEpochMs(quoteIdent(p.Time.Field)), sqlTS, strings.Join(scans, "\n    UNION ALL BY NAME\n    "))
	return g.query(timed, final), nil
}

// afterJoin refuses the stages after a join (stage ji), which are not
// translated to Flink SQL yet: the error names the first.
func (g *sqlGen) afterJoin(ji int, dialect string) error {
	p := g.p
	if ji+1 >= len(p.Stages) {
		return nil
	}
	st := p.Stages[ji+1]
	return g.errf(st.Line, fmt.Sprintf("stages[%d].%s", ji+1, st.Kind),
		"stages after a join (here a %s of the joined rows) are not translated to %s SQL yet: only a join that is the last stage is", st.Kind, dialect)
}

// afterJoinSQL translates the stages after the join (stage ji) over the
// joined rows of CTE jn: filters, coerces and projects carry the event
// time and the offset; the first window and the stages after it are those
// of a one-source pipeline (g.window, g.after). Without a window the rows
// come in the join's order.
func (g *sqlGen) afterJoinSQL(ji int) (string, error) {
	p := g.p
	carry := []string{sqlTS, sqlCoord + "_partition", sqlCoord + "_offset"}
	prev := "jn"
	for i := ji + 1; i < len(p.Stages); i++ {
		st := p.Stages[i]
		path := fmt.Sprintf("stages[%d].%s", i, st.Kind)
		name := fmt.Sprintf("s%d", i)
		switch st.Kind {
		case Filter, Coerce, Project:
			cte, err := g.rowCTE(st, path, name, prev, carry...)
			if err != nil {
				return "", err
			}
			g.ctes = append(g.ctes, cte)
		case Window:
			if i < len(p.Stages)-1 {
				return g.after(st.Window, path, prev)
			}
			return g.window(st.Window, path, prev)
		default:
			return "", g.errf(st.Line, path, "a %s after a join", st.Kind)
		}
		prev = name
	}
	return fmt.Sprintf("SELECT * EXCLUDE (%s)\nFROM %s\nORDER BY %s_offset", strings.Join(carry, ", "), prev, sqlCoord), nil
}

// joinWindows gives the rows of side (l or r) once per window of w they
// are in, the window's start in epoch ms in __eddy_ws.
func (g *sqlGen) joinWindows(w *windows.Spec, path, side string) (string, error) {
	floor := func(x string, m int64) string {
		return fmt.Sprintf("(%[1]s - (((%[1]s %% %[2]d) + %[2]d) %% %[2]d))", x, m)
	}
	switch w.Type {
	case windows.TumblingType:
		return fmt.Sprintf("%[1]sw AS (\n  -- tumbling %[2]dms\n  SELECT *, %[3]s AS %[4]s FROM %[1]s\n)", side, w.Size, floor(sqlTS, w.Size), sqlJWS), nil
	case windows.HoppingType:
		last := floor(sqlTS, w.Slide)
		return fmt.Sprintf("%[1]sh AS (\n  -- hopping %[2]dms every %[3]dms: every multiple of the slide in (ts - size, ts]\n  SELECT *, unnest(generate_series(%[4]s - %[5]d, %[4]s, %[3]d)) AS %[6]s FROM %[1]s\n),\n"+
			"%[1]sw AS (\n  SELECT * FROM %[1]sh WHERE %[6]s > %[7]s - %[2]d\n)",
			side, w.Size, w.Slide, last, (w.Size/w.Slide+1)*w.Slide, sqlJWS, sqlTS), nil
	}
	return "", g.errf(0, path+".window", "window type %v", w.Type)
}

// joinKeyLen is the length of the engine's encoding of a key (see
// windows.appendOrdered): the engine orders keys by it first.
func joinKeyLen(keys []string) string {
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("CASE WHEN %[1]s IS NULL THEN 1 WHEN typeof(%[1]s) = 'VARCHAR' THEN strlen(%[1]s::VARCHAR) + 3 "+
			"WHEN typeof(%[1]s) = 'BOOLEAN' THEN 9 WHEN TRY_CAST(%[1]s AS DOUBLE) <> trunc(TRY_CAST(%[1]s AS DOUBLE)) THEN 11 ELSE 19 END", k))
	}
	return "(" + strings.Join(parts, " + ") + ")"
}
