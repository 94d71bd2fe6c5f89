package format

import (
	"database/sql"
	"path/filepath"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eddyhq/eddy/duck"
	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
)

func TestDuckTypes(t *testing.T) {
	avroSchema := `{"type":"record","name":"R","fields":[
		{"name":"id","type":"long"},
		{"name":"d","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":3}},
		{"name":"big","type":{"type":"fixed","name":"F","size":20,"logicalType":"decimal","precision":40,"scale":2}},
		{"name":"n","type":["null",{"type":"record","name":"N","fields":[{"name":"a","type":"int"},{"name":"b","type":["null","N"]},
			{"name":"u","type":["int","string"]}]}]},
		{"name":"l","type":{"type":"array","items":{"type":"map","values":"boolean"}}},
		{"name":"e","type":{"type":"enum","name":"E","symbols":["A"]}}]}`
	c := cacheOf(t, map[int]sr.Schema{3: {Schema: avroSchema}, 4: {Schema: testProto, Type: sr.TypeProtobuf}})
	m, err := DuckTypes(c, "avro")([]byte{0, 0, 0, 0, 3})
	if err != nil {
		t.Fatal(err)
	}
	nested := `STRUCT("a" BIGINT, "b" ` // the recursion is cut to JSON at maxNest
	for name, want := range map[string]string{"d": "DECIMAL(9,3)", "l": `MAP(VARCHAR, BOOLEAN)[]`} {
		if m[name] != want {
			t.Errorf("avro %s: %q, want %q", name, m[name], want)
		}
	}
	if got := m["n"]; len(got) < len(nested) || got[:len(nested)] != nested {
		t.Errorf("avro n: %q", got)
	}
	for _, name := range []string{"id", "big", "e"} { // typed by their values, or beyond DECIMAL's 38 digits
		if got, ok := m[name]; ok {
			t.Errorf("avro %s declared %q", name, got)
		}
	}
	again, _ := DuckTypes(c, "avro")([]byte{0, 0, 0, 0, 3, 1})
	if len(again) != len(m) {
		t.Errorf("the same schema gives another map")
	}

	rec := protoRecord(t, 4, testProto, []int{2}, richJSON)
	m, err = DuckTypes(c, "protobuf")(rec)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"inner": `STRUCT("name" VARCHAR, "n" BIGINT)`, "tags": "VARCHAR[]",
		"attrs": "MAP(VARCHAR, BIGINT)", "nums": "BIGINT[]", "byname": `MAP(VARCHAR, STRUCT("name" VARCHAR, "n" BIGINT))`} {
		if m[name] != want {
			t.Errorf("protobuf %s: %q, want %q", name, m[name], want)
		}
	}
	for _, name := range []string{"id", "took", "maybe", "when", "color"} {
		if got, ok := m[name]; ok {
			t.Errorf("protobuf %s declared %q", name, got)
		}
	}
	if DuckTypes(c, "raw") != nil {
		t.Error("raw has declared types")
	}
}

// TestDuckTypesExport writes a decoded Protobuf record into a DuckDB table
// with its declared types, as eddy export does, and reads it back.
func TestDuckTypesExport(t *testing.T) {
	c := protoCache(t)
	dec, err := WholeJSON(c, "protobuf")
	if err != nil {
		t.Fatal(err)
	}
	types := DuckTypes(c, "protobuf")
	path := filepath.Join(t.TempDir(), "p.duckdb")
	tab, err := duck.OpenTable(path, "rich", duck.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rec := protoRecord(t, 4, testProto, []int{2}, richJSON)
	m, err := types(rec)
	if err != nil {
		t.Fatal(err)
	}
	js, err := dec(rec)
	if err != nil {
		t.Fatal(err)
	}
	tab.SetDeclared(m)
	if err := tab.WriteRecord(&sink.Row{JSON: js}, &source.Record{}); err != nil {
		t.Fatal(err)
	}
	if err := tab.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var got string
	q := `SELECT typeof("inner") || ' | ' || typeof(tags) || ' | ' || typeof(attrs) || ' | ' || typeof(byname) || ' || ' ||
		"inner".name || ' ' || "inner".n || ' ' || len(tags) || tags[2] || ' ' || attrs['y'] || ' ' || byname['k'].name || ' ' || list_sum(nums) FROM rich`
	if err := db.QueryRow(q).Scan(&got); err != nil {
		t.Fatal(err)
	}
	want := `STRUCT("name" VARCHAR, n BIGINT) | VARCHAR[] | MAP(VARCHAR, BIGINT) | MAP(VARCHAR, STRUCT("name" VARCHAR, n BIGINT)) || Ada 3 2b 2 Bo 6`
	if got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
}
