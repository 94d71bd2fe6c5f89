package pipeline_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/windows"
)

// spec joins lines into a YAML file, so that a case's line numbers can be
// read off its position in the list.
func spec(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

// firstLine returns the first line of err's text.
func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

const topKeys = "name, source, sources, format, time, late, tables, stages, dlq, sinks, state, serve"

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr string // the whole first line of the error
		bug     string // set when wantErr is right but the parser is not yet: a reported bug
	}{
		// unknown keys
		{
			name:    "unknown top-level key",
			yaml:    spec("name: revenue", "nmae: revenue"),
			wantErr: "p.yaml:2: nmae: unknown key (expected one of: " + topKeys + ")",
		},
		{
			name:    "unknown key in source",
			yaml:    spec("source:", "  file: in.jsonl", "  path: in.jsonl"),
			wantErr: "p.yaml:3: source.path: unknown key (expected one of: file, kafka, kinesis)",
		},
		{
			name:    "unknown key in time",
			yaml:    spec("time:", "  field: ts", "  max_ooo: 1s"),
			wantErr: "p.yaml:3: time.max_ooo: unknown key (expected one of: field, max_out_of_order, allowed_lateness, idle_timeout)",
		},
		{
			name: "unknown key in window",
			yaml: spec("stages:", "  - window:", "      tumbling: 10s", "      size: 10s",
				"      aggregate: {n: count()}"),
			wantErr: "p.yaml:4: stages[0].window.size: unknown key (expected one of: tumbling, hopping, session, key, aggregate)",
		},
		{
			name: "unknown key in hopping",
			yaml: spec("stages:", "  - window:", "      hopping:", "        size: 10s", "        slide: 5s",
				"        step: 1s", "      aggregate: {n: count()}"),
			wantErr: "p.yaml:6: stages[0].window.hopping.step: unknown key (expected one of: size, slide)",
		},
		{
			name:    "duplicate top-level key",
			yaml:    spec("name: a", "name: b"),
			wantErr: "p.yaml:2: name: duplicate key",
		},
		{
			name:    "spec is not a mapping",
			yaml:    spec("- filter: x"),
			wantErr: "p.yaml:1: must be a mapping with keys " + topKeys,
		},

		// durations
		{
			name:    "duration with unknown unit",
			yaml:    spec("stages:", "  - window:", "      tumbling: 10x", "      aggregate: {n: count()}"),
			wantErr: `p.yaml:3: stages[0].window.tumbling: invalid duration "10x" (use Go syntax: 500ms, 10s, 1m, 1h30m)`,
		},
		{
			name:    "duration without unit",
			yaml:    spec("stages:", "  - window:", "      tumbling: 10", "      aggregate: {n: count()}"),
			wantErr: `p.yaml:3: stages[0].window.tumbling: invalid duration "10" (use Go syntax: 500ms, 10s, 1m, 1h30m)`,
		},
		{
			name:    "negative window size",
			yaml:    spec("stages:", "  - window:", "      tumbling: -5s", "      aggregate: {n: count()}"),
			wantErr: "p.yaml:3: stages[0].window.tumbling: must not be negative",
		},
		{
			name:    "negative max_out_of_order",
			yaml:    spec("time:", "  field: ts", "  max_out_of_order: -1s"),
			wantErr: "p.yaml:3: time.max_out_of_order: must not be negative",
		},
		{
			name:    "bad allowed_lateness",
			yaml:    spec("time:", "  field: ts", "  allowed_lateness: soon"),
			wantErr: `p.yaml:3: time.allowed_lateness: invalid duration "soon" (use Go syntax: 500ms, 10s, 1m, 1h30m)`,
		},
		{
			name:    "zero tumbling size",
			yaml:    spec("stages:", "  - window:", "      tumbling: 0s", "      aggregate: {n: count()}"),
			wantErr: "p.yaml:3: stages[0].window.tumbling: must be > 0",
		},
		{
			name:    "sub-millisecond window size",
			yaml:    spec("stages:", "  - window:", "      tumbling: 1500us", "      aggregate: {n: count()}"),
			wantErr: "p.yaml:3: stages[0].window.tumbling: must be a whole number of milliseconds",
		},
		{
			name:    "sub-millisecond lateness",
			yaml:    spec("time:", "  field: ts", "  allowed_lateness: 1ns"),
			wantErr: "p.yaml:3: time.allowed_lateness: must be a whole number of milliseconds",
		},
		{
			name:    "duration is a list",
			yaml:    spec("stages:", "  - window:", "      tumbling: [10s]", "      aggregate: {n: count()}"),
			wantErr: "p.yaml:3: stages[0].window.tumbling: must be a string",
		},

		// hopping and session
		{
			name: "hopping slide exceeds size",
			yaml: spec("stages:", "  - window:", "      hopping:", "        size: 10s", "        slide: 20s",
				"      aggregate: {n: count()}"),
			wantErr: "p.yaml:5: stages[0].window.hopping.slide: must not exceed size (10s)",
		},
		{
			name:    "hopping without size",
			yaml:    spec("stages:", "  - window:", "      hopping: {slide: 5s}", "      aggregate: {n: count()}"),
			wantErr: "p.yaml:3: stages[0].window.hopping.size: is required",
		},
		{
			name:    "hopping without slide",
			yaml:    spec("stages:", "  - window:", "      hopping:", "        size: 10s", "      aggregate: {n: count()}"),
			wantErr: "p.yaml:4: stages[0].window.hopping.slide: is required",
		},
		{
			name:    "hopping zero slide",
			yaml:    spec("stages:", "  - window:", "      hopping: {size: 10s, slide: 0s}", "      aggregate: {n: count()}"),
			wantErr: "p.yaml:3: stages[0].window.hopping.slide: must be > 0",
		},
		{
			name:    "hopping written as a duration",
			yaml:    spec("stages:", "  - window:", "      hopping: 10s", "      aggregate: {n: count()}"),
			wantErr: "p.yaml:3: stages[0].window.hopping: must be a mapping, e.g. hopping: {size: 1m, slide: 10s}",
		},
		{
			name:    "session without gap",
			yaml:    spec("stages:", "  - window:", "      session: {}", "      aggregate: {n: count()}"),
			wantErr: "p.yaml:3: stages[0].window.session.gap: is required",
		},
		{
			name:    "session with nothing",
			yaml:    spec("stages:", "  - window:", "      session:", "      aggregate: {n: count()}"),
			wantErr: "p.yaml:3: stages[0].window.session: must be a mapping, e.g. session: {gap: 30s}",
		},
		{
			name:    "two window kinds",
			yaml:    spec("stages:", "  - window:", "      tumbling: 10s", "      session: {gap: 1m}", "      aggregate: {n: count()}"),
			wantErr: "p.yaml:3: stages[0].window: needs exactly one of tumbling, hopping or session",
		},
		{
			name:    "no window kind",
			yaml:    spec("stages:", "  - window:", "      aggregate: {n: count()}"),
			wantErr: "p.yaml:3: stages[0].window: needs exactly one of tumbling, hopping or session",
		},
		{
			name:    "no aggregate",
			yaml:    spec("stages:", "  - window:", "      tumbling: 10s"),
			wantErr: "p.yaml:3: stages[0].window.aggregate: needs at least one aggregate, e.g. n: count()",
		},

		// aggregates
		{
			name:    "unknown aggregate function",
			yaml:    spec("stages:", "  - window:", "      tumbling: 10s", "      aggregate: {m: median(amount)}"),
			wantErr: `p.yaml:4: stages[0].window.aggregate.m: unknown aggregate function "median" (expected one of: count, sum, avg, min, max, count_distinct, quantile, first, last)`,
		},
		{
			name:    "sum without a field",
			yaml:    spec("stages:", "  - window:", "      tumbling: 10s", "      aggregate:", "        total: sum()"),
			wantErr: "p.yaml:5: stages[0].window.aggregate.total: sum takes exactly one field",
		},
		{
			name:    "count with two fields",
			yaml:    spec("stages:", "  - window:", "      tumbling: 10s", "      aggregate:", "        n: count(a, b)"),
			wantErr: "p.yaml:5: stages[0].window.aggregate.n: count takes exactly one field",
		},
		{
			name:    "quantile without q",
			yaml:    spec("stages:", "  - window:", "      tumbling: 10s", "      aggregate:", "        p: quantile(amount)"),
			wantErr: "p.yaml:5: stages[0].window.aggregate.p: quantile takes a field and a quantile, e.g. quantile(amount, 0.95)",
		},
		{
			name:    "quantile q above 1",
			yaml:    spec("stages:", "  - window:", "      tumbling: 10s", "      aggregate:", "        p: quantile(amount, 1.5)"),
			wantErr: `p.yaml:5: stages[0].window.aggregate.p: quantile: q must be a number between 0 and 1, not "1.5"`,
		},
		{
			name:    "quantile q negative",
			yaml:    spec("stages:", "  - window:", "      tumbling: 10s", "      aggregate:", "        p: quantile(amount, -0.5)"),
			wantErr: `p.yaml:5: stages[0].window.aggregate.p: quantile: q must be a number between 0 and 1, not "-0.5"`,
		},
		{
			name:    "quantile q a word",
			yaml:    spec("stages:", "  - window:", "      tumbling: 10s", "      aggregate:", "        p: quantile(amount, p95)"),
			wantErr: `p.yaml:5: stages[0].window.aggregate.p: quantile: q must be a number between 0 and 1, not "p95"`,
		},
		{
			name:    "quantile q NaN",
			yaml:    spec("stages:", "  - window:", "      tumbling: 10s", "      aggregate:", "        p: quantile(amount, NaN)"),
			wantErr: `p.yaml:5: stages[0].window.aggregate.p: quantile: q must be a number between 0 and 1, not "NaN"`,
			bug:     "NaN passes the 0 <= q <= 1 check, so Q is NaN",
		},
		{
			name:    "aggregate is not a function call",
			yaml:    spec("stages:", "  - window:", "      tumbling: 10s", "      aggregate:", "        total: amount"),
			wantErr: `p.yaml:5: stages[0].window.aggregate.total: invalid aggregate "amount" (expected function(field), e.g. sum(amount))`,
		},
		{
			name:    "aggregate of an invalid field name",
			yaml:    spec("stages:", "  - window:", "      tumbling: 10s", "      aggregate:", "        total: sum(unit-price)"),
			wantErr: `p.yaml:5: stages[0].window.aggregate.total: sum: invalid field name "unit-price"`,
		},
		{
			name: "aggregate named like a key",
			yaml: spec("stages:", "  - window:", "      tumbling: 10s", "      key: user",
				"      aggregate:", "        user: count()"),
			wantErr: `p.yaml:6: stages[0].window.aggregate.user: output column "user" is already used by a key`,
		},
		{
			name: "aggregate named window_start",
			yaml: spec("stages:", "  - window:", "      tumbling: 10s",
				"      aggregate:", "        n: count()", "        window_start: min(ts)"),
			wantErr: `p.yaml:6: stages[0].window.aggregate.window_start: "window_start" is reserved (window_start, window_end and revision are window columns)`,
		},
		{
			name: "aggregate named window_end",
			yaml: spec("stages:", "  - window:", "      tumbling: 10s",
				"      aggregate:", "        window_end: max(ts)"),
			wantErr: `p.yaml:5: stages[0].window.aggregate.window_end: "window_end" is reserved (window_start, window_end and revision are window columns)`,
		},
		{
			name: "duplicate aggregate name",
			yaml: spec("stages:", "  - window:", "      tumbling: 10s",
				"      aggregate:", "        n: count()", "        n: sum(x)"),
			wantErr: "p.yaml:6: stages[0].window.aggregate.n: duplicate key",
		},
		{
			name: "duplicate key field",
			yaml: spec("stages:", "  - window:", "      tumbling: 10s",
				"      key: [user, user]", "      aggregate: {n: count()}"),
			wantErr: `p.yaml:4: stages[0].window.key: duplicate key field "user"`,
			bug:     "window key errors carry the line where the window mapping starts, not the key's line",
		},
		{
			name: "key is a mapping",
			yaml: spec("stages:", "  - window:", "      tumbling: 10s",
				"      key: {user: 1}", "      aggregate: {n: count()}"),
			wantErr: "p.yaml:4: stages[0].window.key: must be a field name or a list of field names",
		},

		// stage structure
		{
			name: "lookup after a window",
			yaml: spec("tables:", "  t: {file: t.jsonl}", "stages:", "  - window: {tumbling: 10s, key: [user], aggregate: {n: count()}}",
				"  - lookup: {table: t, on: {user: id}, select: [name]}"),
			wantErr: "p.yaml:5: stages[1].lookup: a lookup after a window is not supported yet: put it before the window",
		},
		{
			name:    "top without a window before it",
			yaml:    spec("stages:", "  - top: {k: 3, by: amount desc}"),
			wantErr: "p.yaml:2: stages[0].top: a top stage ranks the rows of a window: put it after a window stage",
		},
		{
			name: "top by a column the window rows lack",
			yaml: spec("stages:", "  - window: {tumbling: 10s, key: [user], aggregate: {n: count()}}",
				"  - top: {k: 3, by: amount desc}"),
			wantErr: `p.yaml:3: stages[1].top.by[0]: unknown field "amount": the rows of the window at stages[0] only has user, window_start, window_end, n`,
		},
		{
			name: "top after a session window",
			yaml: spec("stages:", "  - window: {session: {gap: 1m}, key: [user], aggregate: {n: count()}}",
				"  - top: {k: 3, by: n desc}"),
			wantErr: "p.yaml:3: stages[1].top: a top stage ranks the rows of one window, and every session is a window of its own: use tumbling or hopping windows",
		},
		{
			name:    "over without a window or a join before it",
			yaml:    spec("stages:", "  - over: {key: [user], rows: 3, aggregate: {a: avg(amount)}}"),
			wantErr: "p.yaml:2: stages[0].over: an over stage follows a window or a join: put it after one",
		},
		{
			name: "over by a key the window rows lack",
			yaml: spec("stages:", "  - window: {tumbling: 10s, key: [user], aggregate: {n: count()}}",
				"  - over: {key: [amount], rows: 3, aggregate: {a: avg(n)}}"),
			wantErr: `p.yaml:3: stages[1].over.key[0]: unknown field "amount": the rows of the window at stages[0] only has user, window_start, window_end, n`,
		},
		{
			name:    "over rows negative",
			yaml:    spec("stages:", "  - window: {tumbling: 10s, aggregate: {n: count()}}", "  - over: {rows: -1, aggregate: {a: sum(n)}}"),
			wantErr: `p.yaml:3: stages[1].over.rows: must be a whole number from 0 to 10000 (the rows before the current one), not "-1"`,
		},
		{
			name:    "over with a quantile",
			yaml:    spec("stages:", "  - window: {tumbling: 10s, aggregate: {n: count()}}", "  - over: {rows: 1, aggregate: {a: count_distinct(n)}}"),
			wantErr: `p.yaml:3: stages[1].over.aggregate.a: an over stage takes count, sum, avg, min or max, not count_distinct`,
		},
		{
			name:    "over aggregate named as a column",
			yaml:    spec("stages:", "  - window: {tumbling: 10s, aggregate: {n: count()}}", "  - over: {rows: 1, aggregate: {n: sum(n)}}"),
			wantErr: `p.yaml:3: stages[1].over.aggregate.n: the rows of the window at stages[0] already has a column n: name the aggregate otherwise`,
		},
		{
			name:    "top k zero",
			yaml:    spec("stages:", "  - window: {tumbling: 10s, aggregate: {n: count()}}", "  - top: {k: 0, by: n}"),
			wantErr: `p.yaml:3: stages[1].top.k: must be a whole number from 1 to 1000000, not "0"`,
		},
		{
			name:    "top by with a bad direction",
			yaml:    spec("stages:", "  - window: {tumbling: 10s, aggregate: {n: count()}}", "  - top: {k: 1, by: n downwards}"),
			wantErr: `p.yaml:3: stages[1].top.by[0]: must be a column, optionally followed by asc or desc, not "n downwards"`,
		},
		{
			name:    "top per something else",
			yaml:    spec("stages:", "  - window: {tumbling: 10s, aggregate: {n: count()}}", "  - top: {k: 1, by: n, per: key}"),
			wantErr: `p.yaml:3: stages[1].top.per: must be window (the rows of each window are ranked apart), not "key"`,
		},
		{
			name: "stages after a window with allowed lateness",
			yaml: spec("time: {field: ts, allowed_lateness: 1m}", "stages:", "  - window: {tumbling: 10s, aggregate: {n: count()}}",
				"  - filter: n > 1"),
			wantErr: "p.yaml:4: stages[1].filter: stages after a window need time.allowed_lateness 0: a revised window row would be counted again by the stages after it",
		},
		{
			name:    "a coordinate after a window",
			yaml:    spec("stages:", "  - window: {tumbling: 10s, aggregate: {n: count()}}", "  - filter: _offset > 1"),
			wantErr: "p.yaml:3: stages[1].filter: _offset is a record coordinate: the rows after a window or a join are their results, not source records",
		},
		{
			name:    "a filter after a window reads a record field",
			yaml:    spec("stages:", "  - window: {tumbling: 10s, key: [user], aggregate: {n: count()}}", "  - filter: amount > 1"),
			wantErr: `p.yaml:3: stages[1].filter: unknown field "amount": the rows of the window at stages[0] only has user, window_start, window_end, n`,
		},
		{
			name:    "unknown stage kind",
			yaml:    spec("stages:", "  - filter: amount > 0", "  - union: users"),
			wantErr: `p.yaml:3: stages[1]: unknown stage "union" (expected filter, coerce, project, lookup, join, window, top or over)`,
		},
		{
			name:    "two kinds in one stage",
			yaml:    spec("stages:", "  - filter: amount > 0", "    coerce: {amount: float}"),
			wantErr: "p.yaml:2: stages[0]: must be a mapping with exactly one of: filter, coerce, project, lookup, join, window, top",
		},
		{
			name:    "empty stage",
			yaml:    spec("stages:", "  -"),
			wantErr: "p.yaml:2: stages[0]: must be a mapping with exactly one of: filter, coerce, project, lookup, join, window, top",
		},
		{
			name:    "stages is a mapping",
			yaml:    spec("stages:", "  filter: amount > 0"),
			wantErr: "p.yaml:2: stages: must be a list of stages",
		},
		{
			name:    "filter without expression",
			yaml:    spec("stages:", "  - filter:"),
			wantErr: "p.yaml:2: stages[0].filter: must be a string",
		},

		// coerce
		{
			name:    "unknown coerce type",
			yaml:    spec("stages:", "  - coerce:", "      amount: integer"),
			wantErr: `p.yaml:3: stages[0].coerce.amount: unknown type "integer" (expected int, float, string, bool or timestamp)`,
		},
		{
			name:    "coerce of a dotted name",
			yaml:    spec("stages:", "  - coerce: {payload.amount: float}"),
			wantErr: `p.yaml:2: stages[0].coerce.payload.amount: coerce takes top-level field names, not "payload.amount"`,
		},
		{
			name:    "coerce to nothing",
			yaml:    spec("stages:", "  - coerce:", "      amount:"),
			wantErr: "p.yaml:3: stages[0].coerce.amount: must be a scalar",
		},
		{
			name:    "coerce of no fields",
			yaml:    spec("stages:", "  - coerce: {}"),
			wantErr: "p.yaml:2: stages[0].coerce: must be a non-empty mapping of field: value",
		},

		// expressions: the column is 1-based in the file line
		{
			name:    "filter does not compile, plain scalar",
			yaml:    spec("stages:", "  - filter: amount > > 1"),
			wantErr: `p.yaml:2:22: stages[0].filter: expression does not compile at column 10 of "amount > > 1": unexpected token Operator(">")`,
		},
		{
			name:    "filter does not compile, single-quoted",
			yaml:    spec("stages:", "  - filter: 'amount > > 1'"),
			wantErr: `p.yaml:2:23: stages[0].filter: expression does not compile at column 10 of "amount > > 1": unexpected token Operator(">")`,
		},
		{
			name:    "filter does not compile, double-quoted",
			yaml:    spec("stages:", `  - filter: "amount > > 1"`),
			wantErr: `p.yaml:2:23: stages[0].filter: expression does not compile at column 10 of "amount > > 1": unexpected token Operator(">")`,
		},
		{
			name:    "filter does not compile, later stage and deeper indent",
			yaml:    spec("name: x", "stages:", "    - coerce: {amount: float}", "    -   filter: (amount > 1"),
			wantErr: `p.yaml:4:27: stages[1].filter: expression does not compile at column 11 of "(amount > 1": the expression ends too early`,
		},
		{
			name:    "filter is not boolean",
			yaml:    spec("stages:", "  - filter: 1 + 2"),
			wantErr: "p.yaml:2: stages[0].filter: expression does not compile: expected bool, but got int",
		},
		{
			name:    "filter does not compile, block scalar",
			yaml:    spec("stages:", "  - filter: |", "      amount > 0 &&", "      country > > 1"),
			wantErr: `p.yaml:4:17: stages[0].filter: expression does not compile at line 2, column 11 of "amount > 0 &&\ncountry > > 1": unexpected token Operator(">")`,
			bug:     "block scalars: the line is off by one (counted from the | line) and the column ignores the indentation",
		},
		{
			name:    "filter does not compile, block scalar, first line",
			yaml:    spec("stages:", "  - filter: >-", "      amount > > 0"),
			wantErr: `p.yaml:3:16: stages[0].filter: expression does not compile at column 10 of "amount > > 0": unexpected token Operator(">")`,
			bug:     "block scalars: the error points at the indicator line, with the column added to the indicator's column",
		},
		{
			name:    "filter does not compile, plain scalar over two lines",
			yaml:    spec("stages:", "  - filter: amount > 0 &&", "      country > > 1"),
			wantErr: `p.yaml:3:17: stages[0].filter: expression does not compile at column 25 of "amount > 0 && country > > 1": unexpected token Operator(">")`,
			bug:     "a plain scalar folded over several lines is treated as one line, so the column is past the end of the first line",
		},
		{
			name:    "filter does not compile, escapes in double quotes",
			yaml:    spec("stages:", `  - filter: "country == \"NL\" > > 1"`),
			wantErr: `p.yaml:2:34: stages[0].filter: expression does not compile at column 19 of "country == \"NL\" > > 1": unexpected token Operator(">")`,
			bug:     "escapes in double-quoted scalars shift the column (it counts unescaped characters)",
		},
		{
			name:    "project does not compile, flow mapping",
			yaml:    spec("stages:", "  - project: {total: 'amount * / 2'}"),
			wantErr: `p.yaml:2:32: stages[0].project.total: expression does not compile at column 10 of "amount * / 2": unexpected token Operator("/")`,
		},
		{
			name:    "project does not compile, block mapping",
			yaml:    spec("stages:", "  - project:", "      user: user_id", "      total: amount * / 2"),
			wantErr: `p.yaml:4:23: stages[0].project.total: expression does not compile at column 10 of "amount * / 2": unexpected token Operator("/")`,
		},
		{
			name:    "project to a dotted name",
			yaml:    spec("stages:", "  - project: {user.id: user_id}"),
			wantErr: `p.yaml:2: stages[0].project.user.id: invalid output field name "user.id"`,
		},

		// fields a project does not produce
		{
			name:    "filter after project",
			yaml:    spec("stages:", "  - project: {user: user_id, total: amount}", "  - filter: amount > 10"),
			wantErr: `p.yaml:3: stages[1].filter: unknown field "amount": the project at stages[0] only has user, total`,
		},
		{
			name:    "coerce after project",
			yaml:    spec("stages:", "  - project: {user: user_id, total: amount}", "  - coerce:", "      amount: float"),
			wantErr: `p.yaml:4: stages[1].coerce.amount: unknown field "amount": the project at stages[0] only has user, total`,
		},
		{
			name:    "project after project",
			yaml:    spec("stages:", "  - project: {user: user_id}", "  - project:", "      u: user", "      id: user_id"),
			wantErr: `p.yaml:5: stages[1].project.id: unknown field "user_id": the project at stages[0] only has user`,
		},
		{
			name: "window key after project, flow mapping",
			yaml: spec("stages:", "  - project: {user: user_id}",
				"  - window: {key: country, tumbling: 10s, aggregate: {n: count()}}"),
			wantErr: `p.yaml:3: stages[1].window.key: unknown field "country": the project at stages[0] only has user`,
		},
		{
			name: "window key after project, block mapping",
			yaml: spec("stages:", "  - project: {user: user_id}", "  - window:", "      tumbling: 10s",
				"      key: [user, country]", "      aggregate: {n: count()}"),
			wantErr: `p.yaml:5: stages[1].window.key: unknown field "country": the project at stages[0] only has user`,
			bug:     "window key errors carry the line where the window mapping starts, not the key's line",
		},
		{
			name: "aggregate field after project",
			yaml: spec("stages:", "  - project: {user: user_id}", "  - window:", "      tumbling: 10s",
				"      aggregate:", "        n: count()", "        total: sum(amount)"),
			wantErr: `p.yaml:7: stages[1].window.aggregate.total: unknown field "amount": the project at stages[0] only has user`,
		},

		// top-level settings
		{
			name:    "late maybe",
			yaml:    spec("late: maybe"),
			wantErr: `p.yaml:1: late: must be dlq or drop, not "maybe"`,
		},
		{
			name:    "format avro",
			yaml:    spec("source: {file: in.avro}", "format: avro"),
			wantErr: `p.yaml:2: format: format avro needs a kafka source (a file source holds lines of JSON)`,
		},
		{
			name:    "format xml",
			yaml:    spec("format: xml"),
			wantErr: `p.yaml:1: format: unsupported format "xml" (supported: json, avro, protobuf, json-schema or raw)`,
		},
		{
			name:    "kafka source",
			yaml:    spec("source:", "  kafka: {topic: bids, start: yesterday}"),
			wantErr: `p.yaml:2: source.kafka.start: invalid start "yesterday" (earliest, latest, offset:N, last:N, time:RFC3339 or time:-15m)`,
		},
		{
			name:    "kinesis start",
			yaml:    spec("source:", "  kinesis: {stream: clicks, start: earliest}"),
			wantErr: `p.yaml:2: source.kinesis.start: invalid start "earliest" (trim_horizon, latest, at_timestamp:RFC3339, at_timestamp:-15m or at_sequence:SEQUENCE)`,
		},
		{
			name:    "kinesis at_sequence not a number",
			yaml:    spec("source:", "  kinesis: {stream: clicks, start: 'at_sequence:49x'}"),
			wantErr: `p.yaml:2: source.kinesis.start: invalid start "at_sequence:49x": the sequence number is not a decimal number`,
		},
		{
			name:    "kinesis at_timestamp",
			yaml:    spec("source:", "  kinesis: {stream: clicks, start: 'at_timestamp:noon'}"),
			wantErr: `p.yaml:2: source.kinesis.start: invalid start "at_timestamp:noon": invalid time "noon": expected RFC 3339 or a duration like -15m`,
		},
		{
			name:    "kinesis stop",
			yaml:    spec("source:", "  kinesis: {stream: clicks, stop: time:-1m}"),
			wantErr: `p.yaml:2: source.kinesis.stop: invalid stop "time:-1m" (none or caught-up)`,
		},
		{
			name:    "kinesis without stream",
			yaml:    spec("source:", "  kinesis: {region: eu-west-1}"),
			wantErr: `p.yaml:2: source.kinesis.stream: is required`,
		},
		{
			name:    "parquet s3 path without key",
			yaml:    spec("sinks:", "  - parquet: {path: 's3://lake'}"),
			wantErr: `p.yaml:2: sinks[0].parquet.path: "s3://lake": want s3://BUCKET/KEY (one object; a prefix goes in dir)`,
		},
		{
			name:    "parquet s3 path a prefix",
			yaml:    spec("sinks:", "  - parquet: {path: 's3://lake/bids/'}"),
			wantErr: `p.yaml:2: sinks[0].parquet.path: "s3://lake/bids/": want s3://BUCKET/KEY (one object; a prefix goes in dir)`,
		},
		{
			name:    "parquet s3 dir without bucket",
			yaml:    spec("sinks:", "  - parquet: {dir: 's3:///bids/'}"),
			wantErr: `p.yaml:2: sinks[0].parquet.dir: "s3:///bids/": want s3://BUCKET/PREFIX/`,
		},
		{
			name:    "parquet endpoint on a local file",
			yaml:    spec("sinks:", "  - parquet: {path: out.parquet, endpoint: 'http://127.0.0.1:9000'}"),
			wantErr: `p.yaml:2: sinks[0].parquet: endpoint, region and path_style go with an s3:// path or dir`,
		},
		{
			name:    "duckdb sink",
			yaml:    spec("sinks:", "  - file: out.jsonl", "  - duckdb: out.db"),
			wantErr: "p.yaml:3: sinks[1].duckdb: must be a mapping with keys path, table, mode, batch_rows",
		},
		{
			name:    "parquet dlq",
			yaml:    spec("dlq:", "  parquet: dead.parquet"),
			wantErr: "p.yaml:2: dlq.parquet: dead letters go to a file, kafka or kinesis, not parquet",
		},
		{
			name:    "sink without file",
			yaml:    spec("sinks:", "  - {}"),
			wantErr: "p.yaml:2: sinks[0]: needs one of file, kafka, kinesis, duckdb, parquet, redis, influxdb or prometheus",
		},
		{
			name:    "sink with empty file",
			yaml:    spec("sinks:", `  - file: ""`),
			wantErr: `p.yaml:2: sinks[0].file: must not be empty (use "-" for stdout)`,
		},
		{
			name:    "sink with both file and duckdb",
			yaml:    spec("sinks:", "  - file: out.jsonl", "    duckdb: {path: o.db, table: t}"),
			wantErr: "p.yaml:3: sinks[0].duckdb: give one of file, kafka, kinesis, duckdb, parquet, redis, influxdb or prometheus per sink, not both file and duckdb",
		},
		{
			name:    "dlq with both file and kafka",
			yaml:    spec("dlq:", "  kafka: {topic: dead}", "  file: dead.jsonl"),
			wantErr: "p.yaml:3: dlq.file: give one of file, kafka or kinesis, not both kafka and file",
		},
		{
			name:    "empty sink topic",
			yaml:    spec("sinks:", `  - kafka: {topic: ""}`),
			wantErr: "p.yaml:2: sinks[0].kafka.topic: must not be empty",
		},
		{
			name:    "empty source topic",
			yaml:    spec("source:", `  kafka: {topic: ""}`),
			wantErr: "p.yaml:2: source.kafka.topic: must not be empty",
		},
		{
			name:    "empty topic in a source list",
			yaml:    spec("source:", "  kafka:", `    topics: [bids, ""]`),
			wantErr: "p.yaml:3: source.kafka.topics[1]: must not be empty",
		},
		{
			name:    "empty dlq topic",
			yaml:    spec("dlq:", `  kafka: {topic: ""}`),
			wantErr: "p.yaml:2: dlq.kafka.topic: must not be empty",
		},
		{
			name: "hopping fan-out above the bound",
			yaml: spec("stages:", "  - window:", "      hopping:", "        size: 1h", "        slide: 1ms",
				"      aggregate: {n: count()}"),
			wantErr: "p.yaml:5: stages[0].window.hopping.slide: size/slide is 3600000 windows per record, more than the 10000 eddy allows (slide at least 360ms for size 1h0m0s)",
		},
		{
			name: "hopping fan-out just above the bound",
			yaml: spec("stages:", "  - window:", "      hopping: {size: 10001ms, slide: 1ms}",
				"      aggregate: {n: count()}"),
			wantErr: "p.yaml:3: stages[0].window.hopping.slide: size/slide is 10001 windows per record, more than the 10000 eddy allows (slide at least 2ms for size 10.001s)",
		},
		{
			name:    "sinks not a list",
			yaml:    spec("sinks:", "  file: out.jsonl"),
			wantErr: "p.yaml:2: sinks: must be a list of sinks, e.g. - file: out.jsonl",
		},
		{
			name:    "time field is not a name",
			yaml:    spec("time:", "  field: event-time"),
			wantErr: `p.yaml:2: time.field: invalid field name "event-time"`,
		},
		{
			name:    "time field is empty",
			yaml:    spec("time: {field: \"\"}"),
			wantErr: "p.yaml:1: time.field: is empty: name the event-time field, or leave time.field out to window on processing time",
		},
		{
			name:    "filter ends too early, trailing blank",
			yaml:    spec("stages:", "  - filter: 'amount > '"),
			wantErr: `p.yaml:2:21: stages[0].filter: expression does not compile at column 8 of "amount > ": the expression ends too early`,
		},
		{
			name:    "time field is a coordinate",
			yaml:    spec("time:", "  field: _topic"),
			wantErr: "p.yaml:2: time.field: _topic is a record coordinate, not a time; use a field name or _timestamp",
			bug:     "the error has no line number (Line 0): Compile does not know where time.field was written",
		},

		// the file as a whole
		{
			name:    "invalid YAML",
			yaml:    spec("name: x", "stages:", "  - filter: x", "  - filter: a: b"),
			wantErr: "p.yaml:4: invalid YAML: mapping values are not allowed in this context",
		},
		{
			name:    "invalid YAML in a flow mapping",
			yaml:    spec("name: x", "source: {file: x]"),
			wantErr: "p.yaml:1: invalid YAML: did not find expected ',' or '}'", // yaml.v3 reports this one at the line before,
		},
		{
			name:    "tab indentation",
			yaml:    spec("name: x", "\tstages: []"),
			wantErr: "p.yaml:2: invalid YAML: found a tab character that violates indentation",
		},
		{
			name:    "invalid YAML on line 1",
			yaml:    spec("name: a: b"),
			wantErr: "p.yaml:1: invalid YAML: mapping values are not allowed in this context",
			bug:     "yaml.v3 leaves out the line for problems on line 1, so the error has none",
		},
		{
			name:    "unknown function",
			yaml:    spec("stages:", "  - filter: 'uper(country) == \"X\"'"),
			wantErr: `p.yaml:2:14: stages[0].filter: expression does not compile at column 1 of "uper(country) == \"X\"": unknown function uper`,
		},
		{
			name:    "duckdb batch_rows",
			yaml:    spec("sinks:", "  - duckdb: {path: o.db, table: t, batch_rows: 0}"),
			wantErr: `p.yaml:2: sinks[0].duckdb.batch_rows: must be a positive number of rows, not "0"`,
		},
		// serve
		{
			name:    "serve unknown key",
			yaml:    spec("serve:", "  listen: :8080", "  port: 80"),
			wantErr: "p.yaml:3: serve.port: unknown key (expected one of: listen, ttl, max_keys, tls_cert, tls_key, client_ca)",
		},
		{
			name:    "serve bad listen",
			yaml:    spec("serve: {listen: localhost}"),
			wantErr: `p.yaml:1: serve.listen: want HOST:PORT or :PORT, not "localhost"`,
		},
		{
			name:    "serve bad ttl",
			yaml:    spec("serve:", "  ttl: 5"),
			wantErr: `p.yaml:2: serve.ttl: invalid duration "5" (use Go syntax: 500ms, 10s, 1m, 1h30m)`,
		},
		{
			name:    "serve zero max keys",
			yaml:    spec("serve:", "  max_keys: 0"),
			wantErr: "p.yaml:2: serve.max_keys: must be a positive integer",
		},
		{
			name:    "serve cert without key",
			yaml:    spec("name: x", "serve:", "  tls_cert: s.crt"),
			wantErr: "p.yaml:3: serve.tls_key: is required with tls_cert",
		},
		{
			name:    "serve client ca without tls",
			yaml:    spec("serve:", "  client_ca: ca.pem"),
			wantErr: "p.yaml:2: serve.client_ca: needs tls_cert and tls_key (mutual TLS is TLS)",
		},
		{
			name:    "serve not a mapping",
			yaml:    spec("serve: 8080"),
			wantErr: "p.yaml:1: serve: must be a mapping with keys listen, ttl, max_keys, tls_cert, tls_key, client_ca",
		},
		// state
		{
			name:    "state without dir",
			yaml:    spec("name: x", "state:", "  checkpoint_every: 5s"),
			wantErr: "p.yaml:3: state.dir: is required",
		},
		{
			name:    "state empty dir",
			yaml:    spec("state: {dir: ''}"),
			wantErr: "p.yaml:1: state.dir: must not be empty",
		},
		{
			name:    "state not a mapping",
			yaml:    spec("state: ./st"),
			wantErr: "p.yaml:1: state: must be a mapping with keys dir, checkpoint_every, backend, memory_limit",
		},
		{
			name:    "state unknown key",
			yaml:    spec("state:", "  dir: st", "  every: 5s"),
			wantErr: "p.yaml:3: state.every: unknown key (expected one of: dir, checkpoint_every, backend, memory_limit)",
		},
		{
			name:    "state bad interval",
			yaml:    spec("state:", "  dir: st", "  checkpoint_every: 10"),
			wantErr: `p.yaml:3: state.checkpoint_every: invalid duration "10" (use Go syntax: 500ms, 10s, 1m, 1h30m)`,
		},
		{
			name:    "state zero interval",
			yaml:    spec("state:", "  dir: st", "  checkpoint_every: 0s"),
			wantErr: "p.yaml:3: state.checkpoint_every: must be > 0",
		},
		{
			name:    "state unknown backend",
			yaml:    spec("state:", "  dir: st", "  backend: rocksdb"),
			wantErr: `p.yaml:3: state.backend: must be memory or pebble, not "rocksdb"`,
		},
		{
			name:    "state memory limit too small for pebble",
			yaml:    spec("state:", "  dir: st", "  backend: pebble", "  memory_limit: 64MiB"),
			wantErr: "p.yaml:4: state.memory_limit: must be at least 128MiB with backend pebble (about 50MiB for the process, the rest for the cache and Pebble)",
		},
		{
			name:    "state bad memory limit",
			yaml:    spec("state:", "  dir: st", "  memory_limit: 512 megs"),
			wantErr: `p.yaml:3: state.memory_limit: invalid size "512 megs" (a positive number with B, KB, MB, GB, KiB, MiB or GiB, e.g. 512MiB)`,
		},
		{
			name:    "state zero memory limit",
			yaml:    spec("state:", "  dir: st", "  memory_limit: 0MiB"),
			wantErr: `p.yaml:3: state.memory_limit: invalid size "0MiB" (a positive number with B, KB, MB, GB, KiB, MiB or GiB, e.g. 512MiB)`,
		},
		{
			name:    "empty file",
			yaml:    "",
			wantErr: "p.yaml:1: empty pipeline spec",
		},
		{
			name:    "only comments",
			yaml:    spec("# revenue per user", "# todo"),
			wantErr: "p.yaml:1: empty pipeline spec",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := pipeline.Parse("p.yaml", []byte(tt.yaml))
			if err == nil {
				if tt.bug != "" {
					knownBug(t, "%s: parsed without error, want %q", tt.bug, tt.wantErr)
				}
				t.Fatalf("Parse succeeded, want error %q\nspec:\n%s", tt.wantErr, tt.yaml)
			}
			if p != nil {
				t.Errorf("Parse returned a pipeline with its error")
			}
			var es pipeline.Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error is %T %v, want non-empty pipeline.Errors", err, err)
			}
			if got := firstLine(err); got != tt.wantErr {
				if tt.bug != "" {
					knownBug(t, "%s:\n got %s\nwant %s", tt.bug, got, tt.wantErr)
				}
				t.Errorf("first error:\n got %s\nwant %s\nall errors:\n%v", got, tt.wantErr, err)
			}
			if es[0].File != "p.yaml" {
				t.Errorf("File = %q, want p.yaml", es[0].File)
			}
		})
	}
}

// TestParseReportsEveryProblem checks that one Parse reports every problem in
// the spec, in file order, and nothing more.
func TestParseReportsEveryProblem(t *testing.T) {
	t.Run("many problems", func(t *testing.T) {
		src := spec(
			"nmae: x", // 1
			"late: maybe",
			"time:",
			"  field: ts",
			"  max_out_of_order: 1x", // 5
			"stages:",
			"  - coerce: {amount: integer}",
			"  - window:",
			"      tumbling: 0s",
			"      aggregate:", // 10
			"        n: count()",
			"        m: median(x)",
			"sinks:",
			"  - duckdb: x.db", // 14
		)
		want := []string{
			"p.yaml:1: nmae: unknown key (expected one of: " + topKeys + ")",
			`p.yaml:2: late: must be dlq or drop, not "maybe"`,
			`p.yaml:5: time.max_out_of_order: invalid duration "1x" (use Go syntax: 500ms, 10s, 1m, 1h30m)`,
			`p.yaml:7: stages[0].coerce.amount: unknown type "integer" (expected int, float, string, bool or timestamp)`,
			"p.yaml:9: stages[1].window.tumbling: must be > 0",
			`p.yaml:12: stages[1].window.aggregate.m: unknown aggregate function "median" (expected one of: ` + strings.Join(windows.FuncNames, ", ") + ")",
			"p.yaml:14: sinks[0].duckdb: must be a mapping with keys path, table, mode, batch_rows",
		}
		_, err := pipeline.Parse("p.yaml", []byte(src))
		if err == nil {
			t.Fatal("Parse succeeded")
		}
		if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, want) {
			t.Errorf("errors:\n%s\nwant:\n%s", err, strings.Join(want, "\n"))
		}
	})
	t.Run("many unknown fields", func(t *testing.T) {
		src := spec("stages:", "  - project: {u: user}", "  - filter: amount > 1 && country == \"NL\"")
		want := []string{
			`p.yaml:3: stages[1].filter: unknown field "amount": the project at stages[0] only has u`,
			`p.yaml:3: stages[1].filter: unknown field "country": the project at stages[0] only has u`,
		}
		_, err := pipeline.Parse("p.yaml", []byte(src))
		if err == nil {
			t.Fatal("Parse succeeded")
		}
		if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, want) {
			t.Errorf("errors:\n%s\nwant:\n%s", err, strings.Join(want, "\n"))
		}
	})
	t.Run("a bad aggregate is one problem", func(t *testing.T) {
		src := spec("stages:", "  - window:", "      tumbling: 10s", "      aggregate:", "        total: sum()")
		want := "p.yaml:5: stages[0].window.aggregate.total: sum takes exactly one field"
		_, err := pipeline.Parse("p.yaml", []byte(src))
		if err == nil {
			t.Fatal("Parse succeeded")
		}
		if err.Error() != want {
			knownBug(t, "an invalid only aggregate also reports a misleading %q:\n got %s\nwant %s",
				"needs at least one aggregate", err, want)
		}
	})
}

func TestErrorText(t *testing.T) {
	tests := []struct {
		err  *pipeline.Error
		want string
	}{
		{&pipeline.Error{File: "p.yaml", Line: 8, Path: "stages[0].window.hopping.slide", Msg: "must not exceed size (10s)"},
			"p.yaml:8: stages[0].window.hopping.slide: must not exceed size (10s)"},
		{&pipeline.Error{File: "p.yaml", Msg: "invalid YAML: control characters are not allowed"},
			"p.yaml: invalid YAML: control characters are not allowed"},
		{&pipeline.Error{Line: 3, Path: "late", Msg: "bad"}, "3: late: bad"},
		{&pipeline.Error{Path: "late", Msg: "bad"}, "late: bad"},
		{&pipeline.Error{Msg: "bad"}, "bad"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	es := pipeline.Errors{tests[0].err, tests[1].err}
	if got, want := es.Error(), tests[0].want+"\n"+tests[1].want; got != want {
		t.Errorf("Errors.Error() = %q, want %q", got, want)
	}
}

// fullSpec uses every stage kind and every aggregate function.
var fullSpec = spec(
	"name: revenue", // 1
	"source:",
	"  file: in.jsonl",
	"format: json",
	"time:", // 5
	"  field: ts",
	"  max_out_of_order: 2s",
	"  allowed_lateness: 1m",
	"late: drop",
	"stages:", // 10
	`  - filter: 'event == "buy" && amount > 0'`,
	"  - coerce: {amount: float, user_id: string}",
	"  - project:",
	"      user: user_id",
	"      amount: amount", // 15
	"      country: upper(geo.country)",
	"      item: payload.item.id",
	"  - window:",
	"      hopping: {size: 1m, slide: 30s}",
	"      key: [user, country]", // 20
	"      aggregate:",
	"        n: count()",
	"        n_items: count(item)",
	"        total: sum(amount)",
	"        mean: avg(amount)", // 25
	"        lo: min(amount)",
	"        hi: max(amount)",
	"        users: count_distinct(user)",
	"        p95: quantile(amount, 0.95)",
	"        first_item: first(item)", // 30
	"        last_item: last(item)",
	"dlq:",
	"  file: dead.jsonl",
	"sinks:",
	"  - file: out.jsonl", // 35
	`  - file: "-"`,
)

func TestParseValid(t *testing.T) {
	p, err := pipeline.Parse("p.yaml", []byte(fullSpec))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if p.File != "p.yaml" || p.Name != "revenue" || p.Format != "json" || p.Late != "drop" {
		t.Errorf("File, Name, Format, Late = %q, %q, %q, %q", p.File, p.Name, p.Format, p.Late)
	}
	if want := (pipeline.Source{File: "in.jsonl", Line: 3}); p.Source != want {
		t.Errorf("Source = %+v, want %+v", p.Source, want)
	}
	if want := (pipeline.Time{Line: 6, Field: "ts", MaxOutOfOrder: 2 * time.Second, AllowedLateness: time.Minute, IdleTimeout: 30 * time.Second}); p.Time != want {
		t.Errorf("Time = %+v, want %+v", p.Time, want)
	}
	if p.DLQ == nil || p.DLQ.File != "dead.jsonl" {
		t.Errorf("DLQ = %+v, want dead.jsonl", p.DLQ)
	}
	if want := []pipeline.Target{{File: "out.jsonl", Line: 35}, {File: "-", Line: 36}}; !reflect.DeepEqual(p.Sinks, want) {
		t.Errorf("Sinks = %+v, want %+v", p.Sinks, want)
	}
	if got, want := stageKinds(p), []pipeline.StageKind{pipeline.Filter, pipeline.Coerce, pipeline.Project, pipeline.Window}; !reflect.DeepEqual(got, want) {
		t.Fatalf("stage kinds = %v, want %v", got, want)
	}
	if !p.HasWindow() {
		t.Errorf("HasWindow() = false")
	}

	if want := (pipeline.Expr{Src: `event == "buy" && amount > 0`, Line: 11, Column: 14}); !reflect.DeepEqual(stripPos(p.Stages[0].Filter), want) {
		t.Errorf("filter = %+v, want %+v", p.Stages[0].Filter, want)
	}
	wantCoerce := []pipeline.FieldType{{Field: "amount", Type: pipeline.TFloat, Line: 12}, {Field: "user_id", Type: pipeline.TString, Line: 12}}
	if !reflect.DeepEqual(p.Stages[1].Coerce, wantCoerce) {
		t.Errorf("coerce = %+v, want %+v", p.Stages[1].Coerce, wantCoerce)
	}
	wantProject := []pipeline.Column{
		{Name: "user", Expr: pipeline.Expr{Src: "user_id", Line: 14, Column: 13}},
		{Name: "amount", Expr: pipeline.Expr{Src: "amount", Line: 15, Column: 15}},
		{Name: "country", Expr: pipeline.Expr{Src: "upper(geo.country)", Line: 16, Column: 16}},
		{Name: "item", Expr: pipeline.Expr{Src: "payload.item.id", Line: 17, Column: 13}},
	}
	for i := range p.Stages[2].Project {
		p.Stages[2].Project[i].Expr = stripPos(p.Stages[2].Project[i].Expr)
	}
	if !reflect.DeepEqual(p.Stages[2].Project, wantProject) {
		t.Errorf("project = %+v, want %+v", p.Stages[2].Project, wantProject)
	}

	w := p.Stages[3].Window
	if want := (windows.Spec{Type: windows.HoppingType, Size: 60000, Slide: 30000}); w.Spec != want {
		t.Errorf("window spec = %+v, want %+v", w.Spec, want)
	}
	if want := []string{"user", "country"}; !reflect.DeepEqual(w.Key, want) {
		t.Errorf("key = %v, want %v", w.Key, want)
	}
	type agg struct {
		Name  string
		Func  windows.Func
		Field string
		Q     float64
		Line  int
	}
	var gotAggs []agg
	for _, a := range w.Aggregates {
		gotAggs = append(gotAggs, agg{a.Name, a.Func, a.Field, a.Q, a.Line})
	}
	wantAggs := []agg{
		{"n", windows.Count, "", 0, 22},
		{"n_items", windows.Count, "item", 0, 23},
		{"total", windows.Sum, "amount", 0, 24},
		{"mean", windows.Avg, "amount", 0, 25},
		{"lo", windows.Min, "amount", 0, 26},
		{"hi", windows.Max, "amount", 0, 27},
		{"users", windows.CountDistinct, "user", 0, 28},
		{"p95", windows.Quantile, "amount", 0.95, 29},
		{"first_item", windows.First, "item", 0, 30},
		{"last_item", windows.Last, "item", 0, 31},
	}
	if !reflect.DeepEqual(gotAggs, wantAggs) {
		t.Errorf("aggregates:\n got %+v\nwant %+v", gotAggs, wantAggs)
	}

	plan, err := pipeline.Compile(p)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	if plan.Pipeline != p {
		t.Errorf("Plan.Pipeline is not the parsed pipeline")
	}
	// Before the first project, expressions and copies read exact nested paths.
	wantInput := [][]string{{"ts"}, {"event"}, {"amount"}, {"user_id"}, {"geo", "country"}, {"payload", "item", "id"}}
	if !reflect.DeepEqual(plan.Input, wantInput) {
		t.Errorf("Input = %q, want %q", plan.Input, wantInput)
	}
	if plan.TimeSlot != 0 || plan.TimeFrom != pipeline.NoCoord {
		t.Errorf("TimeSlot, TimeFrom = %d, %d; want 0, NoCoord", plan.TimeSlot, plan.TimeFrom)
	}
	var stepKinds []pipeline.StageKind
	for i, s := range plan.Steps {
		stepKinds = append(stepKinds, s.Kind)
		if s.Index != i {
			t.Errorf("Steps[%d].Index = %d", i, s.Index)
		}
	}
	if want := []pipeline.StageKind{pipeline.Filter, pipeline.Coerce, pipeline.Project}; !reflect.DeepEqual(stepKinds, want) {
		t.Fatalf("step kinds = %v, want %v", stepKinds, want)
	}
	if got := plan.Steps[0].Filter.Vars; !reflect.DeepEqual(got, []pipeline.Var{{Name: "event", Slot: 1}, {Name: "amount", Slot: 2}}) {
		t.Errorf("filter vars = %+v", got)
	}
	if got, want := plan.Steps[1].Coerce, []pipeline.CoerceOp{{Field: "amount", Slot: 2, Type: pipeline.TFloat}, {Field: "user_id", Slot: 3, Type: pipeline.TString}}; !reflect.DeepEqual(got, want) {
		t.Errorf("coerce ops = %+v, want %+v", got, want)
	}
	proj := plan.Steps[2].Project
	projSlot := map[string]int{}
	for _, op := range proj {
		projSlot[op.Name] = op.Slot
		if op.Slot < len(plan.Input) || op.Slot >= plan.Slots {
			t.Errorf("project %s writes slot %d, want a fresh slot in [%d, %d)", op.Name, op.Slot, len(plan.Input), plan.Slots)
		}
	}
	if proj[0].From != 3 || proj[0].Prog != nil || proj[1].From != 2 || proj[3].From != 5 {
		t.Errorf("project copies: %+v", proj)
	}
	if proj[2].From != -1 || proj[2].Prog == nil || !reflect.DeepEqual(proj[2].Prog.Vars, []pipeline.Var{{Name: "geo.country", Slot: 4}}) {
		t.Errorf("project expression country: %+v", proj[2])
	}

	wp := plan.Window
	if wp == nil {
		t.Fatal("no window plan")
	}
	if wp.Index != 3 || wp.Spec != w.Spec {
		t.Errorf("window Index, Spec = %d, %+v", wp.Index, wp.Spec)
	}
	if want := []int{projSlot["user"], projSlot["country"]}; !reflect.DeepEqual(wp.Keys, want) || !reflect.DeepEqual(wp.KeyNames, w.Key) {
		t.Errorf("window keys = %v %v, want %v %v", wp.Keys, wp.KeyNames, want, w.Key)
	}
	wantNames := []string{"user", "country", "window_start", "window_end", "revision",
		"n", "n_items", "total", "mean", "lo", "hi", "users", "p95", "first_item", "last_item"}
	if !reflect.DeepEqual(wp.Names, wantNames) {
		t.Errorf("window Names = %v, want %v", wp.Names, wantNames)
	}
	for i, a := range wp.Aggs {
		wa := w.Aggregates[i]
		wantArg := -1
		if wa.Field != "" {
			wantArg = projSlot[wa.Field]
		}
		if a.Name != wa.Name || a.Func != wa.Func || a.Q != wa.Q || a.Arg != wantArg {
			t.Errorf("Aggs[%d] = %+v, want %s over slot %d", i, a, wa.Src, wantArg)
		}
	}
	if !reflect.DeepEqual(plan.Output, pipeline.Output{}) {
		t.Errorf("Output = %+v, want none with a window", plan.Output)
	}
}

func stageKinds(p *pipeline.Pipeline) []pipeline.StageKind {
	var ks []pipeline.StageKind
	for _, s := range p.Stages {
		ks = append(ks, s.Kind)
	}
	return ks
}

func mustPlan(t *testing.T, src string) *pipeline.Plan {
	t.Helper()
	p, err := pipeline.Parse("p.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v\nspec:\n%s", err, src)
	}
	plan, err := pipeline.Compile(p)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return plan
}

func TestParseValidWindows(t *testing.T) {
	tests := []struct {
		name      string
		yaml      string
		spec      windows.Spec
		input     [][]string
		names     []string
		timeSlot  int
		timeCoord pipeline.Coord
	}{
		{
			name: "tumbling, key as a string, no lateness",
			yaml: spec("time: {field: ts}", "stages:", "  - window:", "      tumbling: 10s", "      key: user",
				"      aggregate: {n: count(), total: sum(amount)}"),
			spec:     windows.Spec{Type: windows.TumblingType, Size: 10000},
			input:    [][]string{{"ts"}, {"user"}, {"amount"}},
			names:    []string{"user", "window_start", "window_end", "n", "total"},
			timeSlot: 0,
		},
		{
			name: "session, dotted key, lateness",
			yaml: spec("time: {field: meta.ts, allowed_lateness: 500ms}", "stages:", "  - window:",
				"      session: {gap: 5m}", "      key: [user.id]", "      aggregate: {last_page: last(page.url)}"),
			spec:     windows.Spec{Type: windows.SessionType, Gap: 300000},
			input:    [][]string{{"meta", "ts"}, {"user", "id"}, {"page", "url"}},
			names:    []string{"user.id", "window_start", "window_end", "revision", "last_page"},
			timeSlot: 0,
		},
		{
			name: "hopping, no key, processing time",
			yaml: spec("stages:", "  - window:", "      hopping: {size: 1h30m, slide: 1500ms}",
				"      aggregate: {p50: 'quantile(latency, 0.5)', n: count()}"),
			spec:     windows.Spec{Type: windows.HoppingType, Size: 5400000, Slide: 1500},
			input:    [][]string{{"latency"}},
			names:    []string{"window_start", "window_end", "p50", "n"},
			timeSlot: -1,
		},
		{
			name: "time from the record timestamp",
			yaml: spec("time: {field: _timestamp}", "stages:", "  - window:", "      tumbling: 1s",
				"      aggregate: {n: count()}"),
			spec:      windows.Spec{Type: windows.TumblingType, Size: 1000},
			input:     nil,
			names:     []string{"window_start", "window_end", "n"},
			timeSlot:  -1,
			timeCoord: pipeline.CoordTimestamp,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := mustPlan(t, tt.yaml)
			if plan.Window == nil {
				t.Fatal("no window plan")
			}
			if plan.Window.Spec != tt.spec {
				t.Errorf("Spec = %+v, want %+v", plan.Window.Spec, tt.spec)
			}
			if !reflect.DeepEqual(plan.Input, tt.input) {
				t.Errorf("Input = %q, want %q", plan.Input, tt.input)
			}
			if !reflect.DeepEqual(plan.Window.Names, tt.names) {
				t.Errorf("Names = %q, want %q", plan.Window.Names, tt.names)
			}
			if plan.TimeSlot != tt.timeSlot || plan.TimeFrom != tt.timeCoord {
				t.Errorf("TimeSlot, TimeFrom = %d, %d; want %d, %d", plan.TimeSlot, plan.TimeFrom, tt.timeSlot, tt.timeCoord)
			}
		})
	}
}

func TestCompileOutput(t *testing.T) {
	t.Run("no stages writes records as they are", func(t *testing.T) {
		plan := mustPlan(t, spec("source: {file: in.jsonl}"))
		if !reflect.DeepEqual(plan.Output, pipeline.Output{Raw: true}) || plan.Input != nil || plan.Window != nil {
			t.Errorf("Output = %+v, Input = %q, Window = %v", plan.Output, plan.Input, plan.Window)
		}
	})
	t.Run("filter and coerce write the raw record with coerced values", func(t *testing.T) {
		plan := mustPlan(t, spec("stages:", `  - filter: _topic != "x" && amount > 1`, "  - coerce: {qty: int, amount: float}"))
		want := pipeline.Output{Raw: true, Coerced: []int{1, 0}}
		if !reflect.DeepEqual(plan.Output, want) {
			t.Errorf("Output = %+v, want %+v", plan.Output, want)
		}
		if want := [][]string{{"amount"}, {"qty"}}; !reflect.DeepEqual(plan.Input, want) {
			t.Errorf("Input = %q, want %q", plan.Input, want)
		}
		wantVars := []pipeline.Var{{Name: "_topic", Slot: -1, Coord: pipeline.CoordTopic}, {Name: "amount", Slot: 0}}
		if got := plan.Steps[0].Filter.Vars; !reflect.DeepEqual(got, wantVars) {
			t.Errorf("filter vars = %+v, want %+v", got, wantVars)
		}
	})
	t.Run("project names the output", func(t *testing.T) {
		plan := mustPlan(t, spec("stages:", "  - project: {b: y, a: 'x * 2', t: _offset}", "  - filter: a > 1"))
		if plan.Output.Raw || !reflect.DeepEqual(plan.Output.Names, []string{"b", "a", "t"}) {
			t.Fatalf("Output = %+v, want names b, a, t", plan.Output)
		}
		proj := plan.Steps[0].Project
		wantSlots := []int{proj[0].Slot, proj[1].Slot, proj[2].Slot}
		if !reflect.DeepEqual(plan.Output.Slots, wantSlots) {
			t.Errorf("Output.Slots = %v, want %v", plan.Output.Slots, wantSlots)
		}
		if want := [][]string{{"y"}, {"x"}}; !reflect.DeepEqual(plan.Input, want) {
			t.Errorf("Input = %q, want %q", plan.Input, want)
		}
		if got := plan.Steps[1].Filter.Vars; !reflect.DeepEqual(got, []pipeline.Var{{Name: "a", Slot: proj[1].Slot}}) {
			t.Errorf("filter after project reads %+v, want slot %d", got, proj[1].Slot)
		}
	})
	t.Run("coerce after project is not a raw coercion", func(t *testing.T) {
		plan := mustPlan(t, spec("stages:", "  - project: {n: x}", "  - coerce: {n: int}"))
		if plan.Output.Raw || plan.Output.Coerced != nil || !reflect.DeepEqual(plan.Output.Names, []string{"n"}) {
			t.Errorf("Output = %+v", plan.Output)
		}
	})
	t.Run("expression locals and builtins are not fields", func(t *testing.T) {
		plan := mustPlan(t, spec("stages:", "  - filter: let t = amount * 2; t > limit && len(tags) > 0"))
		if want := [][]string{{"amount"}, {"limit"}, {"tags"}}; !reflect.DeepEqual(plan.Input, want) {
			t.Errorf("Input = %q, want %q", plan.Input, want)
		}
	})
}

func TestParseState(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want *pipeline.State
	}{
		{"absent", spec("name: x"), nil},
		{"defaults", spec("name: x", "state:", "  dir: st"),
			&pipeline.State{Dir: "st", CheckpointEvery: 10 * time.Second, Backend: "memory", MemoryLimit: 512 << 20, Line: 3}},
		{"every field", spec("state: {dir: /var/eddy, checkpoint_every: 250ms, backend: memory, memory_limit: 2GiB}"),
			&pipeline.State{Dir: "/var/eddy", CheckpointEvery: 250 * time.Millisecond, Backend: "memory", MemoryLimit: 2 << 30, Line: 1}},
		{"pebble", spec("state: {dir: st, backend: pebble, memory_limit: 256MiB}"),
			&pipeline.State{Dir: "st", CheckpointEvery: 10 * time.Second, Backend: "pebble", MemoryLimit: 256 << 20, Line: 1}},
		{"decimal size", spec("state: {dir: st, memory_limit: 100MB}"),
			&pipeline.State{Dir: "st", CheckpointEvery: 10 * time.Second, Backend: "memory", MemoryLimit: 100e6, Line: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := pipeline.Parse("p.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(p.State, tt.want) {
				t.Errorf("State = %+v, want %+v", p.State, tt.want)
			}
		})
	}
}

func TestParseServe(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want *pipeline.Serve
	}{
		{"absent", spec("name: x"), nil},
		{"defaults", spec("name: x", "serve: {}"),
			&pipeline.Serve{Listen: "127.0.0.1:8080", MaxKeys: 1_000_000, Line: 2}},
		{"every field", spec("serve: {listen: ':9000', ttl: 1m, max_keys: 10, tls_cert: c, tls_key: k, client_ca: ca}"),
			&pipeline.Serve{Listen: ":9000", TTL: time.Minute, MaxKeys: 10, TLSCert: "c", TLSKey: "k", ClientCA: "ca", Line: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := pipeline.Parse("p.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(p.Serve, tt.want) {
				t.Errorf("Serve = %+v, want %+v", p.Serve, tt.want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "specs")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	abs := filepath.Join(dir, "abs.jsonl")
	path := filepath.Join(sub, "p.yaml")
	src := spec(
		"source: {file: data/in.jsonl}",
		"dlq: {file: ../dead.jsonl}",
		"sinks:",
		"  - file: out.jsonl",
		`  - file: "-"`,
		"  - file: "+abs,
		"state: {dir: state}",
		"serve: {tls_cert: tls/s.crt, tls_key: "+abs+", client_ca: ../ca.pem}",
	)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if p.File != path {
		t.Errorf("File = %q, want %q", p.File, path)
	}
	if want := filepath.Join(sub, "data", "in.jsonl"); p.Source.File != want {
		t.Errorf("Source.File = %q, want %q", p.Source.File, want)
	}
	if want := filepath.Join(dir, "dead.jsonl"); p.DLQ == nil || p.DLQ.File != want {
		t.Errorf("DLQ = %+v, want %q", p.DLQ, want)
	}
	if want := filepath.Join(sub, "state"); p.State == nil || p.State.Dir != want {
		t.Errorf("State = %+v, want dir %q", p.State, want)
	}
	if want := (pipeline.Serve{Listen: pipeline.DefaultServeListen, MaxKeys: pipeline.DefaultServeMaxKeys, TLSCert: filepath.Join(sub, "tls", "s.crt"), TLSKey: abs, ClientCA: filepath.Join(dir, "ca.pem"), Line: 8}); p.Serve == nil || *p.Serve != want {
		t.Errorf("Serve = %+v, want %+v", p.Serve, want)
	}
	var sinks []string
	for _, s := range p.Sinks {
		sinks = append(sinks, s.File)
	}
	if want := []string{filepath.Join(sub, "out.jsonl"), "-", abs}; !reflect.DeepEqual(sinks, want) {
		t.Errorf("sinks = %q, want %q", sinks, want)
	}

	t.Run("stdin and no dlq stay as written", func(t *testing.T) {
		path := filepath.Join(dir, "stdin.yaml")
		if err := os.WriteFile(path, []byte(spec("source: {file: '-'}")), 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := pipeline.Load(path)
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if p.Source.File != "-" || p.DLQ != nil || p.Sinks != nil {
			t.Errorf("Source, DLQ, Sinks = %+v, %v, %v", p.Source, p.DLQ, p.Sinks)
		}
	})
	t.Run("errors name the file", func(t *testing.T) {
		path := filepath.Join(dir, "bad.yaml")
		if err := os.WriteFile(path, []byte(spec("name: x", "late: maybe")), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := pipeline.Load(path)
		if want := path + `:2: late: must be dlq or drop, not "maybe"`; err == nil || err.Error() != want {
			t.Errorf("Load error = %v, want %s", err, want)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		_, err := pipeline.Load(filepath.Join(dir, "nope.yaml"))
		if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "read pipeline: ") {
			t.Errorf("Load error = %v, want a wrapped fs.ErrNotExist", err)
		}
	})
}

// knownBug is in coerce_test.go.

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		fullSpec,
		"",
		"name: x\n",
		"source: {file: '-'}\nstages: []\n",
		"time: {field: ts}\nlate: drop\nstages:\n  - window: {tumbling: 10s, aggregate: {n: count()}}\n",
		"stages:\n  - window:\n      session: {gap: 1m}\n      key: [a, b.c]\n      aggregate: {x: first(d), q: 'quantile(e, 0.5)'}\n",
		"stages:\n  - project: {a: b}\n  - filter: c > 1\n",
		"stages:\n  - filter: |\n      x > 1 &&\n      y > > 2\n",
		"stages:\n  - window:\n      hopping: {size: 10s, slide: 20s}\n      aggregate: {n: median(x)}\n",
		"stages: [\n",
		"a: &x {file: y}\nsource: *x\nsinks: [*x, *x]\n",
		"stages:\n  - coerce: {a.b: integer}\n  - join: x\n  - filter: x\n    project: {}\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		const name = "fuzz.yaml"
		p, err := pipeline.Parse(name, []byte(src))
		if err == nil {
			if p == nil {
				t.Fatal("Parse returned neither a pipeline nor an error")
			}
			if p.File != name {
				t.Errorf("File = %q, want %q", p.File, name)
			}
			if _, err := pipeline.Compile(p); err != nil {
				t.Errorf("Parse accepted a spec that does not compile: %v", err)
			}
			return
		}
		if p != nil {
			t.Errorf("Parse returned a pipeline with its error %v", err)
		}
		es, ok := err.(pipeline.Errors)
		if !ok {
			t.Fatalf("error is %T, want pipeline.Errors: %v", err, err)
		}
		if len(es) == 0 {
			t.Fatal("empty pipeline.Errors")
		}
		for _, e := range es {
			if e == nil {
				t.Fatal("nil entry in pipeline.Errors")
			}
			if e.File != name {
				t.Errorf("File = %q, want %q: %v", e.File, name, e)
			}
			// Only a file yaml cannot read may lack a line.
			wholeFile := e.Path == "" && strings.HasPrefix(e.Msg, "invalid YAML: ")
			if e.Line < 0 || e.Line == 0 && !wholeFile {
				t.Errorf("Line = %d: %v", e.Line, e)
			}
		}
	})
}

// stripPos drops the rune position table, which the tests compare separately.
func stripPos(e pipeline.Expr) pipeline.Expr {
	e.Pos = nil
	return e
}
