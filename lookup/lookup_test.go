package lookup_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/eddyhq/eddy/engine"
	"github.com/eddyhq/eddy/lookup"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/value"
)

func write(t *testing.T, path, body string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func duck(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func open(t *testing.T, decl pipeline.Table, keys ...string) *lookup.Table {
	t.Helper()
	if decl.MemoryLimit == 0 {
		decl.MemoryLimit = pipeline.DefaultTableMemoryLimit
	}
	tab, err := lookup.Open(context.Background(), decl, lookup.Options{Keys: keys, Need: keys})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tab.Close() })
	return tab
}

func text(row []value.Value) string {
	var b []byte
	for i, v := range row {
		if i > 0 {
			b = append(b, ' ')
		}
		b = value.AppendJSON(b, v)
	}
	return string(b)
}

// TestSources reads one table from each kind of file and from DuckDB, and
// finds the same rows by key in each.
func TestSources(t *testing.T) {
	dir := t.TempDir()
	jsonl := write(t, filepath.Join(dir, "p.jsonl"), `{"id":1,"name":"apple","price":0.5}
{"id":2,"name":"bread","price":2.25}

{"id":3,"name":"cheese","price":7}
`)
	csv := write(t, filepath.Join(dir, "p.csv"), "id,name,price\n1,apple,0.5\n2,bread,2.25\n3,cheese,7\n")
	pq := filepath.Join(dir, "p.parquet")
	db := filepath.Join(dir, "p.db")
	duck(t, "", fmt.Sprintf("COPY (SELECT * FROM read_csv('%s')) TO '%s' (FORMAT parquet)", csv, pq))
	duck(t, db, fmt.Sprintf("CREATE TABLE products AS SELECT * FROM read_csv('%s')", csv))
	for _, tc := range []struct {
		name string
		decl pipeline.Table
	}{
		{"jsonl", pipeline.Table{File: jsonl}},
		{"csv", pipeline.Table{File: csv}},
		{"parquet", pipeline.Table{File: pq}},
		{"duckdb table", pipeline.Table{DuckDB: &pipeline.DuckDBTable{Path: db, Table: "products"}}},
		{"duckdb query", pipeline.Table{DuckDB: &pipeline.DuckDBTable{Path: db, Query: "SELECT id, name, price FROM products WHERE id < 3"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.decl.Name = "products"
			tab := open(t, tc.decl, "id", "name")
			if got := tab.Columns(); !slices.Equal(got, []string{"id", "name", "price"}) {
				t.Fatalf("columns %v", got)
			}
			byID, _ := tab.Keyed("id")
			byName, _ := tab.Keyed("name")
			for _, k := range []value.Value{value.OfInt(2), value.OfString("2"), value.OfFloat(2)} {
				row, ok := byID.Get(k)
				if !ok || text(row) != `2 "bread" 2.25` {
					t.Errorf("id %v: %v %v", k, text(row), ok)
				}
			}
			if row, ok := byName.Get(value.OfString("apple")); !ok || text(row) != `1 "apple" 0.5` {
				t.Errorf("name apple: %v %v", text(row), ok)
			}
			_, ok := byID.Get(value.OfInt(3))
			if want := tc.name != "duckdb query"; ok != want {
				t.Errorf("id 3 found %v, want %v", ok, want)
			}
			if _, ok := byID.Get(value.Value{}); ok {
				t.Error("a null key matched")
			}
			if tab.Bytes() <= 0 || tab.Loads() != 1 {
				t.Errorf("bytes %d loads %d", tab.Bytes(), tab.Loads())
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	dup := write(t, filepath.Join(dir, "dup.jsonl"), "{\"id\":1}\n{\"id\":2}\n{\"id\":1}\n")
	bad := write(t, filepath.Join(dir, "bad.jsonl"), "{\"id\":1}\n{\"id\":\n")
	big := write(t, filepath.Join(dir, "big.jsonl"), strings.Repeat("{\"id\":\"aaaaaaaaaaaaaaaaaaaaaaaa\"}\n", 1)+"{\"id\":2}\n")
	for _, tc := range []struct {
		decl pipeline.Table
		want string
	}{
		{pipeline.Table{File: dup}, `key column id has "1" in rows 1 and 3: a lookup needs one row per key`},
		{pipeline.Table{File: bad}, "bad.jsonl:2: "},
		{pipeline.Table{File: big, MemoryLimit: 100}, "over its memory_limit of 100B at row"},
		{pipeline.Table{File: filepath.Join(dir, "none.csv")}, "none.csv"},
	} {
		tc.decl.Name = "t"
		_, err := lookup.Open(context.Background(), tc.decl, lookup.Options{Keys: []string{"id"}})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "table t: ") {
			t.Errorf("%s: err %v, want it to contain %q", tc.decl.File, err, tc.want)
		}
	}
}

// rows collects what the engine writes and the dead letters.
type rows struct {
	out  []string
	dead []string
}

func (r *rows) Write(x *sink.Row) error { r.out = append(r.out, string(x.JSON)); return nil }
func (r *rows) WriteDead(d *sink.DeadLetter) error {
	r.dead = append(r.dead, d.StageKind+": "+d.Error)
	return nil
}
func (r *rows) Close() error { return nil }

// run runs the records through spec's pipeline with its tables open.
func run(t *testing.T, spec string, records ...string) (*rows, engine.Stats) {
	t.Helper()
	p, err := pipeline.Parse("p.yaml", []byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := pipeline.Compile(p)
	if err != nil {
		t.Fatal(err)
	}
	keys, need := lookup.Needs(p)
	tables := map[string]*lookup.Table{}
	for _, d := range p.Tables {
		tab, err := lookup.Open(context.Background(), d, lookup.Options{Keys: keys[d.Name], Need: need[d.Name]})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tab.Close() })
		tables[d.Name] = tab
	}
	if err := lookup.Check(p, tables); err != nil {
		t.Fatal(err)
	}
	out := &rows{}
	e, err := engine.New(plan, engine.Options{Sinks: []sink.Sink{out}, Dead: out, Tables: tables})
	if err != nil {
		t.Fatal(err)
	}
	var recs []source.Record
	for i, r := range records {
		recs = append(recs, source.Record{Value: []byte(r), Topic: "in", Offset: int64(i + 1), File: true, Timestamp: 1})
	}
	if err := e.Process(recs); err != nil {
		t.Fatal(err)
	}
	if err := e.Finish(); err != nil {
		t.Fatal(err)
	}
	st := e.Stats()
	if st.In != st.Passed+st.Filtered+st.Dead+st.Late {
		t.Errorf("accounting: %v", st)
	}
	return out, st
}

func TestStage(t *testing.T) {
	dir := t.TempDir()
	products := write(t, filepath.Join(dir, "products.jsonl"), `{"id":1,"name":"apple","category":"fruit","price":0.5}
{"id":2,"name":"bread","category":"bakery","price":2.25}
{"id":3,"name":"cheese","category":null,"price":7}
`)
	head := "source: {file: in.jsonl}\ntables: {products: {file: " + products + "}}\ntime: {field: ts}\nstages:\n"
	orders := []string{
		`{"ts":"2026-01-01T00:00:01Z","pid":1,"qty":3}`,
		`{"ts":"2026-01-01T00:00:02Z","pid":2,"qty":1,"name":"mine"}`,
		`{"ts":"2026-01-01T00:00:03Z","pid":9,"qty":2}`,
		`{"ts":"2026-01-01T00:00:04Z","qty":2}`,
		`{"ts":"2026-01-01T00:00:05Z","pid":"3","qty":4}`,
		`{}`,
	}
	for _, tc := range []struct {
		name, stages string
		out, dead    []string
		stats        string
	}{
		{"null keeps the record, fields null, appended or replaced in place",
			"  - lookup: {table: products, on: {pid: id}, select: [name, price]}\n",
			[]string{
				`{"ts":"2026-01-01T00:00:01Z","pid":1,"qty":3,"name":"apple","price":0.5}`,
				`{"ts":"2026-01-01T00:00:02Z","pid":2,"qty":1,"name":"bread","price":2.25}`,
				`{"ts":"2026-01-01T00:00:03Z","pid":9,"qty":2,"name":null,"price":null}`,
				`{"ts":"2026-01-01T00:00:04Z","qty":2,"name":null,"price":null}`,
				`{"ts":"2026-01-01T00:00:05Z","pid":"3","qty":4,"name":"cheese","price":7}`,
			}, []string{"time: ts: missing event time"}, "in=6 passed=5 filtered=0 dead=1 late=0 rows=5"},
		{"drop counts as filtered",
			"  - lookup: {table: products, on: {pid: id}, select: [category], on_missing: drop}\n",
			[]string{
				`{"ts":"2026-01-01T00:00:01Z","pid":1,"qty":3,"category":"fruit"}`,
				`{"ts":"2026-01-01T00:00:02Z","pid":2,"qty":1,"name":"mine","category":"bakery"}`,
				`{"ts":"2026-01-01T00:00:05Z","pid":"3","qty":4,"category":null}`,
			}, []string{"time: ts: missing event time"}, "in=6 passed=3 filtered=2 dead=1 late=0 rows=3"},
		{"dlq dead-letters with lookup_missing",
			"  - lookup: {table: products, on: {pid: id}, select: [name], on_missing: dlq}\n  - filter: qty > 2\n",
			[]string{
				`{"ts":"2026-01-01T00:00:01Z","pid":1,"qty":3,"name":"apple"}`,
				`{"ts":"2026-01-01T00:00:05Z","pid":"3","qty":4,"name":"cheese"}`,
			}, []string{
				`lookup: lookup_missing: table products has no row with id = 9 (the record's pid)`,
				`lookup: lookup_missing: table products has no row with id = null (the record's pid)`,
				"time: ts: missing event time",
			}, "in=6 passed=2 filtered=1 dead=3 late=0 rows=2"},
		{"joined fields in a filter and a project",
			"  - lookup: {table: products, on: {pid: id}, select: [name, price]}\n  - filter: price != nil\n  - project: {what: name, total: price * qty}\n",
			[]string{`{"what":"apple","total":1.5}`, `{"what":"bread","total":2.25}`, `{"what":"cheese","total":28}`},
			[]string{"time: ts: missing event time"}, "in=6 passed=3 filtered=2 dead=1 late=0 rows=3"},
		{"after a project",
			"  - project: {p: pid, n: qty}\n  - lookup: {table: products, on: {p: id}, select: [name], on_missing: drop}\n",
			[]string{`{"p":1,"n":3,"name":"apple"}`, `{"p":2,"n":1,"name":"bread"}`, `{"p":"3","n":4,"name":"cheese"}`},
			[]string{"time: ts: missing event time"}, "in=6 passed=3 filtered=2 dead=1 late=0 rows=3"},
		{"window keyed by a joined field, aggregating one",
			"  - lookup: {table: products, on: {pid: id}, select: [category, price], on_missing: drop}\n  - window: {tumbling: 1m, key: category, aggregate: {n: count(), spend: sum(price)}}\n",
			[]string{
				`{"category":null,"window_start":"2026-01-01T00:00:00.000Z","window_end":"2026-01-01T00:01:00.000Z","n":1,"spend":7}`,
				`{"category":"bakery","window_start":"2026-01-01T00:00:00.000Z","window_end":"2026-01-01T00:01:00.000Z","n":1,"spend":2.25}`,
				`{"category":"fruit","window_start":"2026-01-01T00:00:00.000Z","window_end":"2026-01-01T00:01:00.000Z","n":1,"spend":0.5}`,
			}, []string{"time: ts: missing event time"}, "in=6 passed=3 filtered=2 dead=1 late=0 rows=3"},
		{"a lookup keyed by a joined field",
			"  - lookup: {table: products, on: {pid: id}, select: [name], on_missing: drop}\n  - lookup: {table: products, on: {name: name}, select: [price]}\n  - project: {name: name, price: price}\n",
			[]string{`{"name":"apple","price":0.5}`, `{"name":"bread","price":2.25}`, `{"name":"cheese","price":7}`},
			[]string{"time: ts: missing event time"}, "in=6 passed=3 filtered=2 dead=1 late=0 rows=3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, st := run(t, head+tc.stages, orders...)
			if st.String() != tc.stats {
				t.Errorf("stats %v, want %s", st, tc.stats)
			}
			if !slices.Equal(got.out, tc.out) {
				t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got.out, "\n"), strings.Join(tc.out, "\n"))
			}
			for i := range got.dead {
				got.dead[i], _, _ = strings.Cut(got.dead[i], " (a record")
			}
			if len(got.dead) != len(tc.dead) {
				t.Fatalf("dead letters:\n%s\nwant:\n%s", strings.Join(got.dead, "\n"), strings.Join(tc.dead, "\n"))
			}
			for i := range got.dead {
				if !strings.HasPrefix(got.dead[i], tc.dead[i]) {
					t.Errorf("dead letter %d: %s, want %s…", i, got.dead[i], tc.dead[i])
				}
			}
		})
	}
}

func TestCheckColumns(t *testing.T) {
	dir := t.TempDir()
	products := write(t, filepath.Join(dir, "products.jsonl"), `{"id":1,"name":"apple"}`+"\n")
	src := "source: {file: in.jsonl}\ntables: {products: {file: " + products + "}}\nstages:\n  - lookup:\n      table: products\n      on: {pid: sku}\n      select: [name, colour]\n"
	p, err := pipeline.Parse("p.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	keys, need := lookup.Needs(p)
	tab, err := lookup.Open(context.Background(), p.Tables[0], lookup.Options{Keys: keys["products"], Need: need["products"]})
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	err = lookup.Check(p, map[string]*lookup.Table{"products": tab})
	want := `p.yaml:6: stages[0].lookup.on.pid: unknown column "sku": table products has id, name
p.yaml:7: stages[0].lookup.select[1]: unknown column "colour": table products has id, name`
	if err == nil || err.Error() != want {
		t.Errorf("err:\n%v\nwant:\n%s", err, want)
	}
}
