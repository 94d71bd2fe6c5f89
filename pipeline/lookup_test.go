package pipeline_test

import (
	"errors"
	"slices"
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
