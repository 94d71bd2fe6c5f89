package pipeline

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/expr-lang/expr/ast"
	exprparser "github.com/expr-lang/expr/parser"

	"github.com/eddyhq/eddy/windows"
)

// SQL returns one query, in the given dialect ("duckdb" is the only one),
// that computes the rows of the plan's window stage over a raw table as
// `eddy export` writes it: the coordinate columns _topic, _partition,
// _offset, _timestamp and _key, then one column per top-level field.
//
// The query returns the key columns, window_start and window_end as
// TIMESTAMP, revision (always 0) when the pipeline has allowed lateness,
// then the aggregates, ordered by window_end, window_start and the keys,
// like the engine writes them.
//
// The query equals the engine's output when no record is late: SQL sees the
// whole table at once and has no watermark, so it neither drops late
// records nor emits revisions. Records the engine would dead-letter at run
// time (a filter that fails, a coerce that cannot convert, an aggregate
// input that is not a number) are not modelled exactly either: a failed
// coerce drops the record, the other cases make the query fail or differ.
// quantile is exact in SQL (the value at the engine's rank) where the
// engine's estimate is within 1 %.
//
// Only a subset of the pipeline language is translated; anything else is
// an error naming the stage and the construct: expressions built from
// top-level field names and the coordinates _topic, _partition, _offset,
// _timestamp and _key, string, number, bool and nil literals, the
// operators == != < > <= >= && || ! and or not + - * / % ** ?? in,
// contains, startsWith, endsWith, the ternary, and upper/lower. Dotted
// paths are not supported (nested objects are JSON columns in an export).
//
// A pipeline of several sources whose last stage is a join reads its
// sources instead of table (see joinSQL): the query returns the join's
// rows in the engine's order.
func SQL(plan *Plan, table, dialect string) (string, error) {
	if dialect != "duckdb" {
		return "", fmt.Errorf("dialect %q is not supported (only duckdb)", dialect)
	}
	if plan == nil || plan.Pipeline == nil {
		return "", fmt.Errorf("no pipeline")
	}
	p := plan.Pipeline
	g := &sqlGen{p: p, coords: map[string]bool{}}
	if len(p.Sources) > 0 {
		return g.joinSQL()
	}
	return g.build(table)
}

// The internal columns carried through the query.
const (
	sqlTS     = "__eddy_ts"    // event time, epoch ms (BIGINT)
	sqlCoord  = "__eddy_coord" // prefix of copies of the coordinates, e.g. __eddy_coord_offset
	sqlWStart = "__eddy_ws"
	sqlWEnd   = "__eddy_we"
)

var sqlCoords = []string{"_topic", "_partition", "_offset", "_timestamp", "_key"}

type sqlGen struct {
	p      *Pipeline
	coords map[string]bool // coordinates referenced (always _partition and _offset)
	ctes   []string
	// flink switches the expression walk to Flink SQL (see FlinkSQL);
	// fields records the source fields an expression reads and the type
	// its use implies.
	flink    bool
	fields   *flinkFields
	sinkKeys [][]string        // the record-key fields of each Flink sink
	proj     map[string]string // Flink types of the last project's columns
	coerced  map[string]Type   // the fields coerce stages type
	sampled  map[string]string // Flink types sampled from the topic
	attach   []string          // statements the query needs first (ATTACH of lookup databases)
	joined   map[string]string // Flink types of the columns lookups join
	// innerKeys is how many key copies (sqlKey0…) the rows of the last
	// inner window carry (sql_after.go)
	innerKeys int
	// joinScan: the sources are scans of files and tables (sql_join.go),
	// without Kafka coordinates
	joinScan bool
	// flinkCarry are the columns a Flink project carries besides its own
	// and the event time (_source in a join's script)
	flinkCarry []string
}

// SQLError is an untranslatable construct in a pipeline.
type SQLError struct {
	File string
	Line int
	Path string // e.g. stages[0].filter
	Msg  string
}

func (e *SQLError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(":")
		if e.Line > 0 {
			b.WriteString(strconv.Itoa(e.Line))
			b.WriteString(":")
		}
		b.WriteString(" ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString("cannot translate to SQL: ")
	b.WriteString(e.Msg)
	return b.String()
}

func (g *sqlGen) errf(line int, path, format string, args ...any) error {
	return &SQLError{File: g.p.File, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)}
}

// quoteIdent quotes a DuckDB identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// quoteString writes a DuckDB string literal (backslashes are not special).
func quoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// sqlEpochMs is an expression giving epoch milliseconds (BIGINT) of a
// column that holds a TIMESTAMP, integer epoch milliseconds (BIGINT or
// text), a float number of epoch milliseconds (floored) or timestamp text;
// it is NULL for anything else. Going through text lets the same query run
// whatever type the export inferred for the column.
func sqlEpochMs(col string) string {
	s := col + "::VARCHAR"
	return fmt.Sprintf("coalesce(TRY_CAST(%[1]s AS BIGINT), epoch_ms(TRY_CAST(%[1]s AS TIMESTAMP)), TRY_CAST(floor(TRY_CAST(%[1]s AS DOUBLE)) AS BIGINT))", s)
}

func (g *sqlGen) build(table string) (string, error) {
	p := g.p
	if p.Time.Field == "" {
		return "", g.errf(p.Time.Line, "time", "processing time (no time.field): results depend on the wall clock")
	}
	if strings.Contains(p.Time.Field, ".") {
		return "", g.errf(p.Time.Line, "time.field", "dotted path %q (nested objects are JSON columns in an export)", p.Time.Field)
	}
	if !p.HasWindow() {
		return "", g.errf(0, "stages", "the pipeline has no window stage; SQL is generated for windows only")
	}
	if table == "" {
		return "", fmt.Errorf("no table name")
	}
	g.coords["_partition"] = true
	g.coords["_offset"] = true

	var w *WindowStage
	var wpath string
	prev := "src"
	for i, st := range p.Stages {
		path := fmt.Sprintf("stages[%d].%s", i, st.Kind)
		name := fmt.Sprintf("s%d", i)
		switch st.Kind {
		case Filter, Coerce, Project:
			// a project carries the event time and the coordinates'
			// copies; which ones is known only at the end, so a
			// placeholder is filled in below
			cte, err := g.rowCTE(st, path, name, prev, sqlTS, "\x00coords\x00")
			if err != nil {
				return "", err
			}
			g.ctes = append(g.ctes, cte)
		case Lookup:
			cte, err := g.lookupCTE(st.Lookup, path, name, prev)
			if err != nil {
				return "", err
			}
			g.ctes = append(g.ctes, cte)
		case Window:
			w, wpath = st.Window, path
			name = prev
		}
		prev = name
		if w != nil {
			break
		}
	}
	if w == nil {
		return "", g.errf(0, "stages", "the pipeline has no window stage")
	}
	var final string
	var err error
	if p.AfterWindow() {
		final, err = g.after(w, wpath, prev)
	} else {
		final, err = g.window(w, wpath, prev)
	}
	if err != nil {
		return "", err
	}

	// the source: every column of the table, the event time and copies of
	// the coordinates the query uses (a project drops the table's columns)
	var used []string
	for _, c := range sqlCoords {
		if g.coords[c] {
			used = append(used, c)
		}
	}
	var srcCols, carry []string
	srcCols = append(srcCols, "*", sqlEpochMs(quoteIdent(p.Time.Field))+" AS "+sqlTS)
	for _, c := range used {
		srcCols = append(srcCols, quoteIdent(c)+" AS "+sqlCoord+c)
		carry = append(carry, sqlCoord+c)
	}
	timed := fmt.Sprintf("timed AS (\n  -- event time in epoch ms from %s\n  SELECT %s\n  FROM %s\n)",
		quoteIdent(p.Time.Field), strings.Join(srcCols, ",\n    "), quoteIdent(table))
	q := g.query(timed, final)
	return strings.ReplaceAll(q, "\x00coords\x00", strings.Join(carry, ", ")), nil
}

// query assembles the query: the header, the ATTACH statements, the CTEs
// (timed, the records of valid event time, then the stages') and final.
func (g *sqlGen) query(timed, final string) string {
	src := "src AS (\n  -- records without a valid event time are dead letters\n  SELECT * FROM timed WHERE " + sqlTS + " IS NOT NULL\n)"
	ctes := append([]string{timed, src}, g.ctes...)
	var b strings.Builder
	b.WriteString("-- eddy: ")
	if g.p.Name != "" {
		b.WriteString(g.p.Name + ": ")
	}
	b.WriteString("equal to the engine's rows when no record is late (SQL has no watermark)\n")
	for _, a := range g.attach {
		b.WriteString(a + "\n")
	}
	b.WriteString("WITH ")
	b.WriteString(strings.Join(ctes, ",\n"))
	b.WriteString("\n")
	b.WriteString(final)
	return b.String()
}

func (g *sqlGen) window(w *WindowStage, path, prev string) (string, error) {
	return g.windowAs(w, path, prev, "", false)
}

// windowAs translates a window stage; sfx tells its CTEs apart from
// another window's, and an inner window (stages follow it) also selects
// its bounds in epoch ms and copies of its keys (see sql_after.go), unordered.
func (g *sqlGen) windowAs(w *WindowStage, path, prev, sfx string, inner bool) (string, error) {
	var keys []string
	for _, k := range w.Key {
		if strings.Contains(k, ".") {
			return "", g.errf(w.KeyLine, path+".key", "dotted path %q (nested objects are JSON columns in an export)", k)
		}
		if CoordOf(k) != NoCoord {
			return "", g.errf(w.KeyLine, path+".key", "coordinate %q as a key", k)
		}
		keys = append(keys, quoteIdent(k))
	}
	order := "ORDER BY " + sqlTS + ", " + sqlCoord + "_partition, " + sqlCoord + "_offset"
	partition := func(extra ...string) string {
		cols := append(append([]string{}, keys...), extra...)
		if len(cols) == 0 {
			return ""
		}
		return "PARTITION BY " + strings.Join(cols, ", ") + " "
	}
	floor := func(x string, m int64) string {
		return fmt.Sprintf("(%[1]s - (((%[1]s %% %[2]d) + %[2]d) %% %[2]d))", x, m)
	}
	var win string
	switch s := w.Spec; s.Type {
	case windows.TumblingType:
		win = fmt.Sprintf("win AS (\n  -- tumbling %dms: the window starting at floor(ts / size) * size\n  SELECT *, %[2]s AS %[3]s, %[2]s + %[1]d AS %[4]s FROM %[5]s\n)",
			s.Size, floor(sqlTS, s.Size), sqlWStart, sqlWEnd, prev)
	case windows.HoppingType:
		last := floor(sqlTS, s.Slide)
		win = fmt.Sprintf("hop AS (\n  -- hopping %[4]dms every %[3]dms: every multiple of the slide in (ts - size, ts]\n  SELECT *, unnest(generate_series(%[1]s - %[2]d, %[1]s, %[3]d)) AS %[5]s FROM %[6]s\n),\n"+
			"win AS (\n  SELECT *, %[5]s + %[4]d AS %[7]s FROM hop WHERE %[5]s > %[8]s - %[4]d\n)",
			last, (s.Size/s.Slide+1)*s.Slide, s.Slide, s.Size, sqlWStart, prev, sqlWEnd, sqlTS)
	case windows.SessionType:
		win = fmt.Sprintf("brk AS (\n  -- session gap %[2]dms: a new session starts when ts - previous ts of the key > gap\n  SELECT *, coalesce(%[4]s - lag(%[4]s) OVER (%[1]s%[3]s) > %[2]d, true)::INT AS __eddy_new FROM %[5]s\n),\n"+
			"sess AS (\n  SELECT *, sum(__eddy_new) OVER (%[1]s%[3]s ROWS UNBOUNDED PRECEDING) AS __eddy_sid FROM brk\n),\n"+
			"win AS (\n  SELECT *, min(%[4]s) OVER (%[6]s) AS %[7]s, max(%[4]s) OVER (%[6]s) + %[2]d AS %[8]s FROM sess\n)",
			partition(), s.Gap, order, sqlTS, prev, strings.TrimSpace(partition("__eddy_sid")), sqlWStart, sqlWEnd)
	default:
		return "", g.errf(w.Line, path, "window type %v", s.Type)
	}

	sel := append([]string{}, keys...)
	sel = append(sel, "epoch_ms("+sqlWStart+") AS window_start", "epoch_ms("+sqlWEnd+") AS window_end")
	if g.p.Time.AllowedLateness > 0 {
		sel = append(sel, "0 AS revision")
	}
	for _, a := range w.Aggregates {
		ap := path + ".aggregate." + a.Name
		if strings.Contains(a.Field, ".") {
			return "", g.errf(a.Line, ap, "dotted path %q in %s (nested objects are JSON columns in an export)", a.Field, a.Src)
		}
		if a.Field != "" && CoordOf(a.Field) != NoCoord {
			return "", g.errf(a.Line, ap, "coordinate %q in %s", a.Field, a.Src)
		}
		f := quoteIdent(a.Field)
		var e string
		switch a.Func {
		case windows.Count:
			if a.Field == "" {
				e = "count(*)"
			} else {
				e = "count(" + f + ")"
			}
		case windows.Sum:
			e = "sum(" + f + ")"
		case windows.Avg:
			e = "avg(" + f + ")"
		case windows.Min:
			e = "min(" + f + ")"
		case windows.Max:
			e = "max(" + f + ")"
		case windows.CountDistinct:
			e = "count(DISTINCT " + f + ")"
		case windows.Quantile:
			// the exact value at the engine's rank floor(q·(n−1)) (nudged
			// like windows.Rank against binary rounding); the engine's
			// estimate is within 1 % of it
			e = fmt.Sprintf("CASE WHEN count(%[1]s) > 0 THEN list_sort(list(%[1]s) FILTER (WHERE %[1]s IS NOT NULL))[CAST(floor(%[2]s * (count(%[1]s) - 1) + 1e-9) AS BIGINT) + 1]::DOUBLE END",
				f, strconv.FormatFloat(a.Q, 'g', -1, 64))
		case windows.First:
			e = fmt.Sprintf("first(%s %s) FILTER (WHERE %s IS NOT NULL)", f, order, f)
		case windows.Last:
			e = fmt.Sprintf("last(%s %s) FILTER (WHERE %s IS NOT NULL)", f, order, f)
		default:
			return "", g.errf(a.Line, ap, "aggregate %s", a.Src)
		}
		sel = append(sel, e+" AS "+quoteIdent(a.Name))
	}
	group := append(append([]string{}, keys...), sqlWStart, sqlWEnd)
	ord := []string{sqlWEnd, sqlWStart}
	for _, k := range keys {
		ord = append(ord, k+" NULLS FIRST")
	}
	if sfx != "" {
		r := strings.NewReplacer("win AS (", "win"+sfx+" AS (", "hop AS (", "hop"+sfx+" AS (", "FROM hop", "FROM hop"+sfx,
			"brk AS (", "brk"+sfx+" AS (", "FROM brk", "FROM brk"+sfx, "sess AS (", "sess"+sfx+" AS (", "FROM sess", "FROM sess"+sfx)
		win = r.Replace(win)
	}
	g.ctes = append(g.ctes, win)
	if inner {
		sel = append(sel, sqlWStart, sqlWEnd)
		for i, k := range keys {
			sel = append(sel, fmt.Sprintf("%s AS %s%d", k, sqlKey, i))
		}
		g.innerKeys = len(keys)
		return fmt.Sprintf("SELECT %s\nFROM win%s\nGROUP BY %s",
			strings.Join(sel, ",\n  "), sfx, strings.Join(group, ", ")), nil
	}
	return fmt.Sprintf("SELECT %s\nFROM win%s\nGROUP BY %s\nORDER BY %s",
		strings.Join(sel, ",\n  "), sfx, strings.Join(group, ", "), strings.Join(ord, ", ")), nil
}

// rowCTE translates a filter (a WHERE), a coerce or a project (which
// keeps the carry columns besides its own) into a CTE over prev.
func (g *sqlGen) rowCTE(st Stage, path, name, prev string, carry ...string) (string, error) {
	switch st.Kind {
	case Filter:
		cond, err := g.expr(st.Filter, path)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s AS (\n  SELECT * FROM %s\n  WHERE %s\n)", name, prev, cond), nil
	case Coerce:
		return g.coerceCTE(st, path, name, prev)
	}
	var cols []string
	for _, c := range st.Project {
		e, err := g.expr(c.Expr, path+"."+c.Name)
		if err != nil {
			return "", err
		}
		cols = append(cols, fmt.Sprintf("%s AS %s", e, quoteIdent(c.Name)))
	}
	cols = append(cols, carry...)
	return fmt.Sprintf("%s AS (\n  SELECT %s\n  FROM %s\n)", name, strings.Join(cols, ", "), prev), nil
}

// coerceCTE translates a coerce stage: a value that cannot be converted
// is a dead letter, so its row is dropped.
func (g *sqlGen) coerceCTE(st Stage, path, name, prev string) (string, error) {
	var repl, conds []string
	for _, ft := range st.Coerce {
		if strings.Contains(ft.Field, ".") {
			return "", g.errf(ft.Line, path+"."+ft.Field, "dotted path")
		}
		col := quoteIdent(ft.Field)
		var conv string
		switch ft.Type {
		case TInt:
			conv = fmt.Sprintf("TRY_CAST(%s AS BIGINT)", col)
		case TFloat:
			conv = fmt.Sprintf("TRY_CAST(%s AS DOUBLE)", col)
		case TString:
			conv = fmt.Sprintf("TRY_CAST(%s AS VARCHAR)", col)
		case TBool:
			conv = fmt.Sprintf("TRY_CAST(%s AS BOOLEAN)", col)
		case TTimestamp:
			conv = fmt.Sprintf("epoch_ms(%s)", sqlEpochMs(col))
		default:
			return "", g.errf(ft.Line, path+"."+ft.Field, "type %q", ft.Type)
		}
		repl = append(repl, fmt.Sprintf("%s AS %s", conv, col))
		// a value that cannot be converted is a dead letter: drop it
		conds = append(conds, fmt.Sprintf("(%s IS NULL OR %s IS NOT NULL)", col, conv))
	}
	return fmt.Sprintf("%s AS (\n  SELECT * REPLACE (%s) FROM %s\n  WHERE %s\n)",
		name, strings.Join(repl, ", "), prev, strings.Join(conds, " AND ")), nil
}

// expr translates one expression of the stage at path.
func (g *sqlGen) expr(e Expr, path string) (string, error) {
	tree, err := exprparser.Parse(e.Src)
	if err != nil {
		return "", g.errf(e.Line, path, "%v", err)
	}
	t := &sqlExpr{g: g, line: e.Line, path: path, src: e.Src}
	return t.node(tree.Node)
}

type sqlExpr struct {
	g    *sqlGen
	line int
	path string
	src  string
}

func (t *sqlExpr) fail(n ast.Node, what string) error {
	loc := n.Location()
	return t.g.errf(t.line, t.path, "%s in %q (column %d); supported: field names, literals, == != < > <= >= && || ! + - * / %% ** ?? in, contains, startsWith, endsWith, ?:, upper(), lower()",
		what, t.src, loc.From+1)
}

// ident quotes a column name in the generator's dialect.
func (t *sqlExpr) ident(s string) string {
	if t.g.flink {
		return flinkIdent(s)
	}
	return quoteIdent(s)
}

var sqlBinary = map[string]string{
	"<": "<", ">": ">", "<=": "<=", ">=": ">=",
	"==": "IS NOT DISTINCT FROM", "!=": "IS DISTINCT FROM",
	"&&": "AND", "and": "AND", "||": "OR", "or": "OR",
	"-": "-", "*": "*", "%": "%",
}

func (t *sqlExpr) node(n ast.Node) (string, error) {
	switch n := n.(type) {
	case *ast.NilNode:
		return "NULL", nil
	case *ast.BoolNode:
		if n.Value {
			return "TRUE", nil
		}
		return "FALSE", nil
	case *ast.IntegerNode:
		return strconv.Itoa(n.Value), nil
	case *ast.FloatNode:
		if t.g.flink {
			return "CAST(" + strconv.FormatFloat(n.Value, 'g', -1, 64) + " AS DOUBLE)", nil
		}
		return "(" + strconv.FormatFloat(n.Value, 'g', -1, 64) + ")::DOUBLE", nil
	case *ast.StringNode:
		return quoteString(n.Value), nil
	case *ast.IdentifierNode:
		switch n.Value {
		case "_headers":
			return "", t.fail(n, "the coordinate _headers")
		case "_topic", "_partition", "_offset", "_timestamp", "_key":
			if t.g.joinScan {
				return "", t.fail(n, "the coordinate "+n.Value+" (the sources of a join are read as tables without Kafka coordinates)")
			}
			t.g.coords[n.Value] = true
			if t.g.flink {
				return flinkIdent(n.Value), nil
			}
			return sqlCoord + n.Value, nil
		}
		t.use(n)
		return t.ident(n.Value), nil
	case *ast.MemberNode:
		return "", t.fail(n, "member access "+n.String()+" (dotted paths are not supported: nested objects are JSON columns in an export)")
	case *ast.UnaryNode:
		if n.Operator == "!" || n.Operator == "not" {
			t.want(n.Node, "BOOLEAN")
		}
		x, err := t.node(n.Node)
		if err != nil {
			return "", err
		}
		switch n.Operator {
		case "!", "not":
			return "(NOT " + x + ")", nil
		case "-":
			return "(-" + x + ")", nil
		case "+":
			return x, nil
		}
		return "", t.fail(n, "operator "+n.Operator)
	case *ast.BinaryNode:
		t.hint(n)
		if n.Operator == "in" {
			arr, ok := n.Right.(*ast.ArrayNode)
			if !ok {
				return "", t.fail(n, "in with something other than a literal list")
			}
			x, err := t.node(n.Left)
			if err != nil {
				return "", err
			}
			var items []string
			for _, it := range arr.Nodes {
				s, err := t.node(it)
				if err != nil {
					return "", err
				}
				items = append(items, s)
			}
			if len(items) == 0 {
				return "FALSE", nil
			}
			return "((" + x + " IN (" + strings.Join(items, ", ") + ")) IS TRUE)", nil
		}
		l, err := t.node(n.Left)
		if err != nil {
			return "", err
		}
		r, err := t.node(n.Right)
		if err != nil {
			return "", err
		}
		if t.g.flink {
			if s, ok := t.flinkBinary(n.Operator, l, r); ok {
				return s, nil
			}
		}
		switch n.Operator {
		case "+":
			_, ls := n.Left.(*ast.StringNode)
			_, rs := n.Right.(*ast.StringNode)
			if t.g.flink {
				// typed columns say whether + concatenates
				ls = ls || t.g.nodeType(n.Left, t.g.coerced) == "STRING"
				rs = rs || t.g.nodeType(n.Right, t.g.coerced) == "STRING"
			}
			if ls || rs {
				return "(" + l + " || " + r + ")", nil
			}
			return "(" + l + " + " + r + ")", nil
		case "/":
			return "(" + l + "::DOUBLE / " + r + ")", nil
		case "**", "^":
			return "pow(" + l + ", " + r + ")", nil
		case "??":
			return "coalesce(" + l + ", " + r + ")", nil
		case "contains":
			return "contains(" + l + ", " + r + ")", nil
		case "startsWith":
			return "starts_with(" + l + ", " + r + ")", nil
		case "endsWith":
			return "ends_with(" + l + ", " + r + ")", nil
		}
		if op, ok := sqlBinary[n.Operator]; ok {
			return "(" + l + " " + op + " " + r + ")", nil
		}
		return "", t.fail(n, "operator "+n.Operator)
	case *ast.ConditionalNode:
		t.want(n.Cond, "BOOLEAN")
		c, err := t.node(n.Cond)
		if err != nil {
			return "", err
		}
		a, err := t.node(n.Exp1)
		if err != nil {
			return "", err
		}
		b, err := t.node(n.Exp2)
		if err != nil {
			return "", err
		}
		return "(CASE WHEN " + c + " THEN " + a + " ELSE " + b + " END)", nil
	case *ast.BuiltinNode:
		switch n.Name {
		case "upper", "lower":
			if len(n.Arguments) != 1 {
				return "", t.fail(n, n.Name+"() with "+strconv.Itoa(len(n.Arguments))+" arguments")
			}
			x, err := t.node(n.Arguments[0])
			if err != nil {
				return "", err
			}
			if t.g.flink {
				return strings.ToUpper(n.Name) + "(" + x + ")", nil
			}
			return n.Name + "(" + x + ")", nil
		}
		return "", t.fail(n, "function "+n.Name+"()")
	case *ast.CallNode:
		return "", t.fail(n, "call "+n.Callee.String()+"()")
	case *ast.ArrayNode:
		return "", t.fail(n, "array literal (allowed only after in)")
	case *ast.VariableDeclaratorNode:
		return "", t.fail(n, "let binding")
	}
	what := strings.TrimPrefix(strings.TrimSuffix(fmt.Sprintf("%T", n), "Node"), "*ast.")
	return "", t.fail(n, strings.ToLower(what)+" "+n.String())
}

// lookupCTE joins a lookup's table: a LEFT JOIN for on_missing null, an
// inner join (the semi-join the engine does, as keys are unique) for drop
// and dlq, whose records are no rows. Keys are compared as text, as the
// engine compares them (an integer field finds a text key); the joined
// columns replace the record's columns of the same name.
func (g *sqlGen) lookupCTE(l *LookupStage, path, name, prev string) (string, error) {
	t := g.p.Table(l.Table)
	if strings.Contains(l.Field, ".") {
		return "", g.errf(l.OnLine, path+".on", "dotted path %q (nested objects are JSON columns in an export)", l.Field)
	}
	var from string
	switch {
	case t.File != "":
		switch t.TableFormat() {
		case "csv":
			from = "read_csv(" + quoteString(t.File) + ")"
		case "parquet":
			from = "read_parquet(" + quoteString(t.File) + ")"
		default:
			from = "read_json(" + quoteString(t.File) + ", format = 'newline_delimited')"
		}
	case t.DuckDB != nil && t.DuckDB.Table != "":
		from = "(SELECT * FROM " + quoteIdent("eddy_"+t.Name) + "." + quoteIdent(t.DuckDB.Table) + ")"
		g.attach = append(g.attach, fmt.Sprintf("ATTACH IF NOT EXISTS %s AS %s (READ_ONLY);", quoteString(t.DuckDB.Path), quoteIdent("eddy_"+t.Name)))
	case t.DuckDB != nil:
		return "", g.errf(l.TableLine, path+".table", "table %s is a DuckDB query, which names tables of its own database; declare it as a table of that database (duckdb: {path, table}) to export it", t.Name)
	default:
		return "", g.errf(l.TableLine, path+".table", "table %s is a Kafka topic, which DuckDB cannot read; export the topic (eddy export --duckdb) and declare that table instead", t.Name)
	}
	var sel, excl []string
	for _, c := range l.Select {
		sel = append(sel, "__lk."+quoteIdent(c))
		excl = append(excl, quoteString(c))
	}
	join := "LEFT JOIN"
	if l.OnMissing != MissingNull {
		join = "JOIN"
	}
	return fmt.Sprintf("%s AS (\n  -- lookup %s on %s = %s, on_missing %s\n  SELECT __r.*, %s\n  FROM (SELECT COLUMNS(c -> c NOT IN (%s)) FROM %s) AS __r\n  %s (SELECT %s AS __eddy_key, * FROM %s) AS __lk\n    ON CAST(__r.%s AS VARCHAR) = CAST(__lk.__eddy_key AS VARCHAR)\n)",
		name, t.Name, l.Field, l.Column, l.OnMissing, strings.Join(sel, ", "), strings.Join(excl, ", "), prev,
		join, quoteIdent(l.Column), from, quoteIdent(l.Field)), nil
}
