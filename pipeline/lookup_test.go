package pipeline_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/pipeline"
)

func TestLookupSpecErrors(t *testing.T) {
	head := []string{"source: {file: in.jsonl}", "tables:", "  products: {file: p.csv}", "  users: {kafka: {topic: users, key: uid}}"}
	for _, tc := range []struct {
		name  string
		lines []string
		want  string
	}{
		{"unknown table", []string{"stages:", "  - lookup: {table: prods, on: {pid: id}, select: [name]}"},
			`p.yaml:6: stages[0].lookup.table: unknown table "prods" (the tables section has products, users)`},
		{"bad on_missing", []string{"stages:", "  - lookup: {table: products, on: {pid: id}, select: [name], on_missing: skip}"},
			`p.yaml:6: stages[0].lookup.on_missing: must be null, drop or dlq, not "skip"`},
		{"no select", []string{"stages:", "  - lookup: {table: products, on: {pid: id}}"},
			`p.yaml:6: stages[0].lookup.select: is required`},
		{"two on pairs", []string{"stages:", "  - lookup: {table: products, on: {pid: id, x: y}, select: [name]}"},
			`p.yaml:6: stages[0].lookup.on: must be one pair field: key_column, e.g. on: {product_id: id}`},
		{"duplicate select", []string{"stages:", "  - lookup: {table: products, on: {pid: id}, select: [name, name]}"},
			`p.yaml:6: stages[0].lookup.select[1]: duplicate column "name"`},
		{"kafka table by another column", []string{"stages:", "  - lookup: {table: users, on: {u: name}, select: [name]}"},
			`p.yaml:6: stages[0].lookup.on: table users is keyed by its record key, column uid, not name`},
		{"key after project", []string{"stages:", "  - project: {a: amount}", "  - lookup: {table: products, on: {pid: id}, select: [name]}"},
			`p.yaml:7: stages[1].lookup.on: unknown field "pid": the project at stages[0] only has a`},
		{"unknown key", []string{"stages:", "  - lookup: {table: products, on: {pid: id}, select: [name], missing: drop}"},
			`p.yaml:6: stages[0].lookup.missing: unknown key (expected one of: table, on, select, on_missing)`},
		{"file format", []string{"  other: {file: p.txt}"},
			`p.yaml:5: tables.other.file: "p.txt": want a .jsonl, .ndjson, .json, .csv or .parquet file`},
		{"two kinds", []string{"  other: {file: p.csv, duckdb: {path: x.db, table: t}}"},
			`p.yaml:5: tables.other: needs exactly one of file, duckdb or kafka`},
		{"duckdb table and query", []string{"  other: {duckdb: {path: x.db, table: t, query: 'SELECT 1'}}"},
			`p.yaml:5: tables.other.duckdb: needs exactly one of table or query`},
		{"kafka without key", []string{"  other: {kafka: {topic: t}}"},
			`p.yaml:5: tables.other.kafka.key: is required: the column the record key is kept in`},
		{"kafka refresh", []string{"  other: {kafka: {topic: t, key: k}, refresh: 1m}"},
			`p.yaml:5: tables.other.refresh: a kafka table is kept live; refresh is for file and duckdb tables`},
		{"memory limit", []string{"  other: {file: o.jsonl, memory_limit: lots}"},
			`p.yaml:5: tables.other.memory_limit: invalid size "lots" (a positive number with B, KB, MB, GB, KiB, MiB or GiB, e.g. 512MiB)`},
		{"no tables", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lines := append(slices.Clone(head), tc.lines...)
			if tc.name == "no tables" {
				lines = []string{"source: {file: in.jsonl}", "stages:", "  - lookup: {table: products, on: {pid: id}, select: [name]}"}
				tc.want = `p.yaml:3: stages[0].lookup.table: unknown table "products": the spec has no tables section`
			}
			_, err := pipeline.Parse("p.yaml", []byte(spec(lines...)))
			var es pipeline.Errors
			if !errors.As(err, &es) {
				t.Fatalf("err = %v, want pipeline.Errors", err)
			}
			if got := firstLine(err); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestLookupCompile checks where the joined columns go: fresh slots after
// the inputs, seen by later stages under their names, and over a record
// field of the same name in a raw record.
func TestLookupCompile(t *testing.T) {
	p, err := pipeline.Parse("p.yaml", []byte(spec(
		"source: {file: in.jsonl}",
		"tables: {products: {file: p.csv}}",
		"stages:",
		"  - coerce: {category: string}",
		"  - lookup: {table: products, on: {pid: id}, select: [name, category], on_missing: null}",
		"  - filter: name != nil && qty > 1",
	)))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := pipeline.Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	// inputs in order: category (coerce), pid, name, qty
	var in []string
	for _, path := range plan.Input {
		in = append(in, path[0])
	}
	if want := []string{"category", "pid", "name", "qty"}; !slices.Equal(in, want) {
		t.Fatalf("inputs %v, want %v", in, want)
	}
	l := plan.Steps[1].Lookup
	if l.OnMissing != pipeline.MissingNull || !slices.Equal(l.Slots, []int{4, 5}) || l.KeySlot != 1 {
		t.Errorf("lookup op %+v", l)
	}
	f := plan.Steps[2].Filter
	if f.Vars[0].Name != "name" || f.Vars[0].Slot != 4 || f.Vars[1].Slot != 3 {
		t.Errorf("filter reads %+v, want name from slot 4 (joined), qty from 3", f.Vars)
	}
	if len(plan.Output.Coerced) != 0 {
		t.Errorf("coerced %v: the joined category replaces the coerced one", plan.Output.Coerced)
	}
	want := []pipeline.Joined{{Name: "name", Input: 2, Slot: 4}, {Name: "category", Input: 0, Slot: 5}}
	if !slices.Equal(plan.Output.Joined, want) {
		t.Errorf("joined %+v, want %+v", plan.Output.Joined, want)
	}
	if plan.Slots != 6 {
		t.Errorf("slots %d, want 6", plan.Slots)
	}
}

func TestLookupSQL(t *testing.T) {
	head := "source: {kafka: {brokers: [k:9092], topic: bids}}\ntime: {field: ts}\ntables:\n  users: {kafka: {topic: users, key: uid}}\n  products: {file: p.csv}\n  q: {duckdb: {path: x.db, query: 'SELECT 1 AS id'}}\n"
	compile := func(t *testing.T, stages string) *pipeline.Plan {
		t.Helper()
		p, err := pipeline.Parse("p.yaml", []byte(head+"stages:\n"+stages+"  - window: {tumbling: 10s, key: tier, aggregate: {n: count(), s: sum(score)}}\n"))
		if err != nil {
			t.Fatal(err)
		}
		plan, err := pipeline.Compile(p)
		if err != nil {
			t.Fatal(err)
		}
		return plan
	}
	for _, tc := range []struct {
		name, stages, dialect string
		want                  []string // in the script, or the error
		err                   bool
	}{
		{"flink temporal join", "  - lookup: {table: users, on: {bidder: uid}, select: [tier, score], on_missing: drop}\n", "flink", []string{
			"CREATE TEMPORARY TABLE `eddy_table_users` (\n  `uid` STRING,\n  `tier` STRING,\n  `score` DOUBLE,",
			"'connector' = 'upsert-kafka'", "PRIMARY KEY (`uid`) NOT ENFORCED", "WATERMARK FOR `__eddy_vt` AS `__eddy_vt`",
			"JOIN `eddy_table_users` FOR SYSTEM_TIME AS OF r.`__eddy_t` AS u\n  ON CAST(r.`bidder` AS STRING) = u.`uid`;",
		}, false},
		{"flink left join", "  - lookup: {table: users, on: {bidder: uid}, select: [tier, score]}\n", "flink", []string{"LEFT JOIN `eddy_table_users` FOR SYSTEM_TIME AS OF"}, false},
		{"flink refuses a file", "  - lookup: {table: products, on: {pid: id}, select: [tier, score]}\n", "flink", []string{
			"p.yaml:8: stages[0].lookup.table: cannot translate to SQL: table products is a file: Flink's filesystem connector is not a lookup source"}, true},
		{"duckdb left join", "  - lookup: {table: products, on: {pid: id}, select: [tier, score]}\n", "duckdb", []string{
			"LEFT JOIN (SELECT \"id\" AS __eddy_key, * FROM read_csv('p.csv')) AS __lk", "SELECT COLUMNS(c -> c NOT IN ('tier', 'score')) FROM src"}, false},
		{"duckdb inner join for dlq", "  - lookup: {table: products, on: {pid: id}, select: [tier, score], on_missing: dlq}\n", "duckdb", []string{"\n  JOIN (SELECT \"id\""}, false},
		{"duckdb refuses a topic", "  - lookup: {table: users, on: {bidder: uid}, select: [tier, score]}\n", "duckdb", []string{
			"stages[0].lookup.table: cannot translate to SQL: table users is a Kafka topic, which DuckDB cannot read"}, true},
		{"duckdb refuses a query", "  - lookup: {table: q, on: {x: id}, select: [tier, score]}\n", "duckdb", []string{
			"table q is a DuckDB query, which names tables of its own database"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan := compile(t, tc.stages)
			var out string
			var err error
			if tc.dialect == "flink" {
				out, err = pipeline.FlinkSQL(plan, pipeline.FlinkOptions{})
			} else {
				out, err = pipeline.SQL(plan, "raw", "duckdb")
			}
			if tc.err {
				if err == nil || !strings.Contains(err.Error(), tc.want[0]) {
					t.Fatalf("err %v, want %q", err, tc.want[0])
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("missing %q in:\n%s", w, out)
				}
			}
		})
	}
}
