package duck

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/eddyhq/eddy/sink"
)

func TestDescribe(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "d.duckdb")
	tables, err := Describe(ctx, path)
	if err != nil || tables != nil {
		t.Fatalf("Describe of a missing file = %v, %v; want no tables", tables, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Describe created %s (%v)", path, err)
	}
	for _, tc := range []struct {
		table string
		rows  []string
	}{
		{"b", []string{`{"x":1,"y":"a"}`, `{"x":2,"y":"b"}`, `{"x":3,"z":true}`}},
		{"a", []string{`{"k":"v"}`}},
	} {
		tb, err := OpenTable(path, tc.table, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range tc.rows {
			if err := tb.Write(&sink.Row{JSON: []byte(r)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := tb.Close(); err != nil {
			t.Fatal(err)
		}
	}
	tables, err = Describe(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	want := []TableInfo{{Name: "a", Columns: []string{"k"}, Rows: 1}, {Name: "b", Columns: []string{"x", "y", "z"}, Rows: 3}}
	if !reflect.DeepEqual(tables, want) {
		t.Errorf("Describe = %+v, want %+v", tables, want)
	}
}
