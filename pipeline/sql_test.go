package pipeline

import (
	"strings"
	"testing"
)

func sqlFor(t *testing.T, spec, table, dialect string) (string, error) {
	t.Helper()
	p, err := Parse("p.yaml", []byte(spec))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	plan, err := Compile(p)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return SQL(plan, table, dialect)
}

func TestSQLGolden(t *testing.T) {
	got, err := sqlFor(t, `time: {field: ts}
stages:
  - window: {tumbling: 10s, key: k, aggregate: {n: count()}}
`, "raw", "duckdb")
	if err != nil {
		t.Fatal(err)
	}
	want := `-- eddy: equal to the engine's rows when no record is late (SQL has no watermark)
WITH timed AS (
  -- event time in epoch ms from "ts"
  SELECT *,
    coalesce(TRY_CAST("ts"::VARCHAR AS BIGINT), epoch_ms(TRY_CAST("ts"::VARCHAR AS TIMESTAMP)), TRY_CAST(floor(TRY_CAST("ts"::VARCHAR AS DOUBLE)) AS BIGINT)) AS __eddy_ts,
    "_partition" AS __eddy_coord_partition,
    "_offset" AS __eddy_coord_offset
  FROM "raw"
),
src AS (
  -- records without a valid event time are dead letters
  SELECT * FROM timed WHERE __eddy_ts IS NOT NULL
),
win AS (
  -- tumbling 10000ms: the window starting at floor(ts / size) * size
  SELECT *, (__eddy_ts - (((__eddy_ts % 10000) + 10000) % 10000)) AS __eddy_ws, (__eddy_ts - (((__eddy_ts % 10000) + 10000) % 10000)) + 10000 AS __eddy_we FROM src
)
SELECT "k",
  epoch_ms(__eddy_ws) AS window_start,
  epoch_ms(__eddy_we) AS window_end,
  count(*) AS "n"
FROM win
GROUP BY "k", __eddy_ws, __eddy_we
ORDER BY __eddy_we, __eddy_ws, "k" NULLS FIRST`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestSQLFragments(t *testing.T) {
	tests := []struct {
		name, spec string
		want       []string
	}{
		{"filter operators", `time: {field: ts}
stages:
  - filter: 'a == "x" && (b != 2 || !c) and d in ["p", "q"] && (e ?? 0) >= 1.5 && upper(f) startsWith "A"'
  - window: {tumbling: 1s, aggregate: {n: count()}}
`, []string{
			`WHERE ((((("a" IS NOT DISTINCT FROM 'x') AND (("b" IS DISTINCT FROM 2) OR (NOT "c"))) AND (("d" IN ('p', 'q')) IS TRUE)) AND (coalesce("e", 0) >= (1.5)::DOUBLE)) AND starts_with(upper("f"), 'A'))`,
		}},
		{"coerce project coordinates", `time: {field: ts}
stages:
  - coerce: {amount: float, n: int, when: timestamp}
  - project: {amt: amount * 2, line: _offset, t: _topic, label: 'amount > 10 ? "big" : lower(name) + "!"', r: n / 3, p: n ** 2}
  - window: {hopping: {size: 1m, slide: 20s}, key: label, aggregate: {s: sum(amt)}}
`, []string{
			`SELECT * REPLACE (TRY_CAST("amount" AS DOUBLE) AS "amount", TRY_CAST("n" AS BIGINT) AS "n", epoch_ms(coalesce(`,
			`WHERE ("amount" IS NULL OR TRY_CAST("amount" AS DOUBLE) IS NOT NULL) AND`,
			`SELECT ("amount" * 2) AS "amt", __eddy_coord_offset AS "line", __eddy_coord_topic AS "t", (CASE WHEN ("amount" > 10) THEN 'big' ELSE (lower("name") || '!') END) AS "label", ("n"::DOUBLE / 3) AS "r", pow("n", 2) AS "p", __eddy_ts, __eddy_coord_topic, __eddy_coord_partition, __eddy_coord_offset`,
			`"_topic" AS __eddy_coord_topic`,
			`unnest(generate_series((__eddy_ts - (((__eddy_ts % 20000) + 20000) % 20000)) - 80000, (__eddy_ts - (((__eddy_ts % 20000) + 20000) % 20000)), 20000)) AS __eddy_ws`,
			`WHERE __eddy_ws > __eddy_ts - 60000`,
			`sum("amt") AS "s"`,
		}},
		{"session every aggregate lateness", `time: {field: ts, allowed_lateness: 5s}
stages:
  - window:
      session: {gap: 30s}
      key: [user, site]
      aggregate:
        a: count(v)
        b: count_distinct(v)
        c: avg(v)
        d: min(v)
        e: max(v)
        f: quantile(v, 0.29)
        g: first(v)
        h: last(v)
`, []string{
			`coalesce(__eddy_ts - lag(__eddy_ts) OVER (PARTITION BY "user", "site" ORDER BY __eddy_ts, __eddy_coord_partition, __eddy_coord_offset) > 30000, true)::INT AS __eddy_new`,
			`sum(__eddy_new) OVER (PARTITION BY "user", "site" ORDER BY __eddy_ts, __eddy_coord_partition, __eddy_coord_offset ROWS UNBOUNDED PRECEDING) AS __eddy_sid`,
			`min(__eddy_ts) OVER (PARTITION BY "user", "site", __eddy_sid) AS __eddy_ws, max(__eddy_ts) OVER (PARTITION BY "user", "site", __eddy_sid) + 30000 AS __eddy_we`,
			"epoch_ms(__eddy_we) AS window_end,\n  0 AS revision,\n  count(\"v\") AS \"a\"",
			`count(DISTINCT "v") AS "b"`, `avg("v") AS "c"`, `min("v") AS "d"`, `max("v") AS "e"`,
			`CASE WHEN count("v") > 0 THEN list_sort(list("v") FILTER (WHERE "v" IS NOT NULL))[CAST(floor(0.29 * (count("v") - 1) + 1e-9) AS BIGINT) + 1]::DOUBLE END AS "f"`,
			`first("v" ORDER BY __eddy_ts, __eddy_coord_partition, __eddy_coord_offset) FILTER (WHERE "v" IS NOT NULL) AS "g"`,
			`last("v" ORDER BY __eddy_ts, __eddy_coord_partition, __eddy_coord_offset) FILTER (WHERE "v" IS NOT NULL) AS "h"`,
			`ORDER BY __eddy_we, __eddy_ws, "user" NULLS FIRST, "site" NULLS FIRST`,
		}},
		{"quoting", `time: {field: ts}
stages:
  - filter: 'name == "it''s"'
  - window: {tumbling: 1s, aggregate: {n: count()}}
`, []string{`FROM "we""ird"`, `("name" IS NOT DISTINCT FROM 'it''s')`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sqlFor(t, tc.spec, `we"ird`, "duckdb")
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("missing\n  %s\nin\n%s", w, got)
				}
			}
		})
	}
}

func TestSQLErrors(t *testing.T) {
	win := "  - window: {tumbling: 1s, aggregate: {n: count()}}\n"
	twoSources := "sources: {a: {file: a.jsonl}, b: {file: b.jsonl}}\ntime: {field: ts}\nstages:\n"
	joinAB := "  - join: {with: b, on: {k: k}, between: [0s, 1s], select: [v]}\n"
	tests := []struct {
		name, spec, dialect, want string
	}{
		{"dialect", "time: {field: ts}\nstages:\n" + win, "postgres", `dialect "postgres" is not supported (only duckdb)`},
		{"processing time", "stages:\n" + win, "duckdb", "p.yaml: time: cannot translate to SQL: processing time (no time.field)"},
		{"no window", "time: {field: ts}\nstages:\n  - filter: a > 1\n", "duckdb", "p.yaml: stages: cannot translate to SQL: the pipeline has no window stage"},
		{"dotted time", "time: {field: a.ts}\nstages:\n" + win, "duckdb", `p.yaml:1: time.field: cannot translate to SQL: dotted path "a.ts"`},
		{"builtin", "time: {field: ts}\nstages:\n  - filter: len(name) > 3\n" + win, "duckdb",
			`p.yaml:3: stages[0].filter: cannot translate to SQL: function len() in "len(name) > 3" (column 1)`},
		{"dotted path in filter", "time: {field: ts}\nstages:\n  - filter: user.tier == \"gold\"\n" + win, "duckdb",
			`p.yaml:3: stages[0].filter: cannot translate to SQL: member access user.tier (dotted paths are not supported`},
		{"matches", "time: {field: ts}\nstages:\n  - filter: name matches \"^a\"\n" + win, "duckdb",
			`stages[0].filter: cannot translate to SQL: operator matches in "name matches \"^a\""`},
		{"headers", "time: {field: ts}\nstages:\n  - project: {h: _headers}\n" + win, "duckdb",
			`stages[0].project.h: cannot translate to SQL: the coordinate _headers`},
		{"date call", "time: {field: ts}\nstages:\n  - filter: ts > date(\"2026-01-01T00:00:00Z\")\n" + win, "duckdb",
			`stages[0].filter: cannot translate to SQL: function date()`},
		{"let", "time: {field: ts}\nstages:\n  - filter: let x = 1; x > 0\n" + win, "duckdb",
			`stages[0].filter: cannot translate to SQL: let binding`},
		{"dotted key", "time: {field: ts}\nstages:\n  - window: {tumbling: 1s, key: user.tier, aggregate: {n: count()}}\n", "duckdb",
			`p.yaml:3: stages[0].window.key: cannot translate to SQL: dotted path "user.tier"`},
		{"dotted aggregate", "time: {field: ts}\nstages:\n  - window: {tumbling: 1s, aggregate: {n: sum(a.b)}}\n", "duckdb",
			`stages[0].window.aggregate.n: cannot translate to SQL: dotted path "a.b" in sum(a.b)`},
		{"sources without a join", "sources: {a: {file: a.jsonl}, b: {file: b.jsonl}}\ntime: {field: ts}\nstages:\n" + win, "duckdb",
			`p.yaml:1: sources: cannot translate to SQL: several sources without a join stage are not translated`},
		{"coordinate before a join", twoSources + "  - filter: _offset > 3\n" + joinAB, "duckdb",
			`p.yaml:4: stages[0].filter: cannot translate to SQL: the coordinate _offset (the sources of a join are read as tables without Kafka coordinates)`},
		{"dotted select of a join", twoSources + strings.Replace(joinAB, "select: [v]", "select: [v, b.w.x]", 1), "duckdb",
			`p.yaml:4: stages[0].join.select[1]: cannot translate to SQL: dotted path "w.x"`},
		{"coordinate select of a join", twoSources + strings.Replace(joinAB, "select: [v]", "select: [v, _key]", 1), "duckdb",
			`stages[0].join.select[1]: cannot translate to SQL: the coordinate _key`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sqlFor(t, tc.spec, "raw", tc.dialect)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
