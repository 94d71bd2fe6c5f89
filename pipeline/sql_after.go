package pipeline

import (
	"fmt"
	"strings"
)

// sqlKey prefixes the copies of a window's keys its rows carry through the
// stages after it (__eddy_k0, …): a top without ties breaks ties by them,
// as the engine breaks them by the order it emits a window's rows in.
const sqlKey = "__eddy_k"

// after translates the stages after the first window w (which starts at
// stage index of wpath): the window becomes a CTE whose rows carry its
// bounds in epoch ms (__eddy_ws, __eddy_we) and copies of its keys; a
// filter is a WHERE, a project keeps those hidden columns, a top is a
// QUALIFY over rank() (ties) or row_number() partitioned by the window, and
// a further window reads the rows with __eddy_ts = __eddy_we − 1 (the
// engine's window_end − 1 ms). The rows come in the engine's order.
func (g *sqlGen) after(w *WindowStage, wpath, prev string) (string, error) {
	p := g.p
	first := -1
	for i, st := range p.Stages {
		if st.Kind == Window {
			first = i
			break
		}
	}
	sel, err := g.windowAs(w, wpath, prev, "0", true)
	if err != nil {
		return "", err
	}
	prev = "w0"
	g.ctes = append(g.ctes, fmt.Sprintf("%s AS (\n  %s\n)", prev, strings.ReplaceAll(sel, "\n", "\n  ")))
	var names []string // the columns of the rows, for the final select
	names = append(names, w.Key...)
	names = append(names, "window_start", "window_end")
	for _, a := range w.Aggregates {
		names = append(names, a.Name)
	}
	nw := 1
	var topOrd []string // the order of the last top since the last window
	for i := first + 1; i < len(p.Stages); i++ {
		st := p.Stages[i]
		path := fmt.Sprintf("stages[%d].%s", i, st.Kind)
		name := fmt.Sprintf("a%d", i)
		hidden := g.hidden()
		switch st.Kind {
		case Filter, Coerce, Project:
			cte, err := g.rowCTE(st, path, name, prev, hidden...)
			if err != nil {
				return "", err
			}
			g.ctes = append(g.ctes, cte)
			if st.Kind == Project {
				names = names[:0]
				for _, c := range st.Project {
					names = append(names, c.Name)
				}
			}
		case Over:
			return "", g.errf(st.Line, path, "an over stage is not translated to SQL yet")
		case Top:
			t := st.Top
			var ord []string
			for _, o := range t.By {
				dir := "ASC"
				if o.Desc {
					dir = "DESC"
				}
				ord = append(ord, fmt.Sprintf("%s %s NULLS LAST", quoteIdent(o.Field), dir))
			}
			topOrd = append([]string(nil), ord...)
			fn := "rank()"
			if !t.Ties {
				fn = "row_number()"
				for k := range g.innerKeys {
					ord = append(ord, fmt.Sprintf("%s%d ASC NULLS FIRST", sqlKey, k))
				}
			}
			g.ctes = append(g.ctes, fmt.Sprintf("%s AS (\n  -- top %d by %s per window%s\n  SELECT * FROM %s\n  QUALIFY %s OVER (PARTITION BY %s, %s ORDER BY %s) <= %d\n)",
				name, t.K, t.Order(), map[bool]string{true: ", with ties", false: ""}[t.Ties], prev,
				fn, sqlWStart, sqlWEnd, strings.Join(ord, ", "), t.K))
		case Window:
			// the rows as records: event time window_end − 1 ms, in the
			// order the engine adds them (window by window, key order)
			keyOrd := []string{sqlWEnd, sqlWStart}
			for k := range g.innerKeys {
				keyOrd = append(keyOrd, fmt.Sprintf("%s%d NULLS FIRST", sqlKey, k))
			}
			feed := fmt.Sprintf("%s AS (\n  SELECT * EXCLUDE (%s), %s - 1 AS %s, 0 AS %s_partition, row_number() OVER (ORDER BY %s) AS %s_offset\n  FROM %s\n)",
				name, strings.Join(hidden, ", "), sqlWEnd, sqlTS, sqlCoord, strings.Join(keyOrd, ", "), sqlCoord, prev)
			g.ctes = append(g.ctes, feed)
			if i == len(p.Stages)-1 {
				return g.windowAs(st.Window, path, name, fmt.Sprint(nw), false)
			}
			sel, err := g.windowAs(st.Window, path, name, fmt.Sprint(nw), true)
			if err != nil {
				return "", err
			}
			name = fmt.Sprintf("w%d", nw)
			nw++
			g.ctes = append(g.ctes, fmt.Sprintf("%s AS (\n  %s\n)", name, strings.ReplaceAll(sel, "\n", "\n  ")))
			topOrd = nil
			names = append(append(names[:0], st.Window.Key...), "window_start", "window_end")
			for _, a := range st.Window.Aggregates {
				names = append(names, a.Name)
			}
		case Lookup:
			return "", g.errf(st.Line, path, "a lookup after a window")
		}
		prev = name
	}
	cols := make([]string, len(names))
	for i, n := range names {
		cols[i] = quoteIdent(n)
	}
	// the engine's order: window by window, a top's rows by rank, rows
	// of equal rank (and all rows without a top) in key order
	ord := append([]string{sqlWEnd, sqlWStart}, topOrd...)
	for k := range g.innerKeys {
		ord = append(ord, fmt.Sprintf("%s%d NULLS FIRST", sqlKey, k))
	}
	return fmt.Sprintf("SELECT %s\nFROM %s\nORDER BY %s", strings.Join(cols, ", "), prev, strings.Join(ord, ", ")), nil
}

// hidden lists the columns the rows after a window carry besides their
// own: the window's bounds and its key copies.
func (g *sqlGen) hidden() []string {
	h := []string{sqlWStart, sqlWEnd}
	for k := range g.innerKeys {
		h = append(h, fmt.Sprintf("%s%d", sqlKey, k))
	}
	return h
}
