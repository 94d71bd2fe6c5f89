package duck

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/source"
	"github.com/eddyhq/eddy/value"
)

func openParquet(t *testing.T, path string, o ParquetOptions) *Parquet {
	t.Helper()
	p, err := OpenParquet(path, o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParquetRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.parquet")
	p := openParquet(t, path, ParquetOptions{Coordinates: true, BatchRows: 2})
	recs := []source.Record{
		{Topic: "orders", Partition: 1, Offset: 10, Timestamp: 1767225600000, Key: []byte("k1"),
			Value: []byte(`{"i":1,"f":1.5,"s":"x","b":true,"ts":"2026-01-01T00:00:10Z","obj":{"a":1}}`)},
		{Topic: "orders", Partition: 1, Offset: 11, Timestamp: 1767225601000,
			Value: []byte(`{"i":2,"f":2,"s":"y","b":false,"ts":"2026-01-01T00:00:11Z","obj":[1]}`)},
		{Topic: "orders", Partition: 0, Offset: 3, Timestamp: 1767225602000, Value: []byte(`{"i":3.5,"new":"z"}`)},
	}
	writeRecords(t, p, recs)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the file exists before Close: %v", err)
	}
	if p.Written() != 0 {
		t.Errorf("Written = %d before Close, want 0", p.Written())
	}
	closeTable(t, p)
	if p.Written() != 3 || !slices.Equal(p.Files(), []string{path}) {
		t.Errorf("Written %d files %q, want 3 and [%s]", p.Written(), p.Files(), path)
	}
	db := openRead(t, "")
	from := fmt.Sprintf("read_parquet('%s')", path)
	same(t, "columns", describe(t, db, from), []string{
		"_topic VARCHAR", "_partition INTEGER", "_offset BIGINT", "_timestamp TIMESTAMP", "_key VARCHAR",
		"i DOUBLE", "f DOUBLE", "s VARCHAR", "b BOOLEAN", "ts TIMESTAMP", "obj JSON", "new VARCHAR"})
	same(t, "rows", dump(t, db, "SELECT * FROM "+from), []string{
		`orders|1|10|2026-01-01 00:00:00|k1|1.0|1.5|x|true|2026-01-01 00:00:10|{"a":1}|NULL`,
		`orders|1|11|2026-01-01 00:00:01|NULL|2.0|2.0|y|false|2026-01-01 00:00:11|[1]|NULL`,
		`orders|0|3|2026-01-01 00:00:02|NULL|3.5|NULL|NULL|NULL|NULL|NULL|z`,
	})
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the file", len(entries))
	}

	// a second run replaces the file as a whole
	p = openParquet(t, path, ParquetOptions{})
	writeJSON(t, p, `{"only":1}`)
	closeTable(t, p)
	same(t, "replaced", dump(t, db, "SELECT * FROM "+from), []string{"1"})
}

func TestParquetRotateRows(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	clock := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { clock = clock.Add(time.Millisecond); return clock }
	p := openParquet(t, dir, ParquetOptions{Dir: true, RotateRows: 100, BatchRows: 30, Clock: now})
	for i := range 250 {
		writeJSON(t, p, fmt.Sprintf(`{"i":%d,"o":{"a":%d},"z":null}`, i, i))
		if want := int64(i+1) / 100 * 100; p.Written() != want {
			t.Fatalf("after %d rows Written = %d, want %d", i+1, p.Written(), want)
		}
	}
	closeTable(t, p)
	// the clock is read when a file starts
	want := []string{
		"part-000001-20260101T120000.001Z.parquet",
		"part-000002-20260101T120000.002Z.parquet",
		"part-000003-20260101T120000.003Z.parquet",
	}
	same(t, "files", names(t, dir), want)
	db := openRead(t, "")
	for i, n := range []int64{100, 100, 50} {
		if got := count(t, db, fmt.Sprintf("SELECT count(*) FROM read_parquet('%s')", filepath.Join(dir, want[i]))); got != n {
			t.Errorf("%s has %d rows, want %d", want[i], got, n)
		}
	}
	same(t, "order", dump(t, db, fmt.Sprintf("SELECT min(i), max(i), count(*) FROM read_parquet('%s/*.parquet')", dir)), []string{"0|249|250"})
	// every file has every column with its type
	for _, name := range want {
		same(t, name, describe(t, db, fmt.Sprintf("read_parquet('%s')", filepath.Join(dir, name))), []string{"i BIGINT", "o JSON", "z VARCHAR"})
	}

	// another run continues the numbering and removes leftovers of killed runs
	if err := os.WriteFile(filepath.Join(dir, "part-000009-x.parquet.tmp"), []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	p = openParquet(t, dir, ParquetOptions{Dir: true, Clock: now})
	writeJSON(t, p, `{"i":1000}`)
	closeTable(t, p)
	got := names(t, dir)
	if len(got) != 4 || !strings.HasPrefix(got[3], "part-000004-") || !slices.IsSorted(got) {
		t.Errorf("files after the second run: %q", got)
	}
}

func TestParquetRotateTime(t *testing.T) {
	dir := t.TempDir()
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := openParquet(t, dir, ParquetOptions{Dir: true, RotateEvery: time.Minute, Clock: func() time.Time { return clock }})
	for i := range 10 {
		writeJSON(t, p, fmt.Sprintf(`{"i":%d}`, i))
		clock = clock.Add(25 * time.Second) // a new file every third row
	}
	// Flush finishes the open file
	if err := p.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if p.Written() != 10 {
		t.Errorf("Written after Flush = %d, want 10", p.Written())
	}
	closeTable(t, p)
	same(t, "files", names(t, dir), []string{
		"part-000001-20260101T000000.000Z.parquet",
		"part-000002-20260101T000115.000Z.parquet",
		"part-000003-20260101T000230.000Z.parquet",
		"part-000004-20260101T000345.000Z.parquet",
	})
}

func TestParquetWindowRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.parquet")
	p := openParquet(t, path, ParquetOptions{})
	names := []string{"country", "window_start", "window_end", "n"}
	for i := range 3 {
		err := p.Write(&sink.Row{Names: names, Vals: []value.Value{value.OfString("DE"),
			value.OfTime(int64(i) * 60000), value.OfTime(int64(i+1) * 60000), value.OfInt(int64(i))}})
		if err != nil {
			t.Fatal(err)
		}
	}
	closeTable(t, p)
	db := openRead(t, "")
	same(t, "columns", describe(t, db, fmt.Sprintf("read_parquet('%s')", path)),
		[]string{"country VARCHAR", "window_start TIMESTAMP", "window_end TIMESTAMP", "n BIGINT"})
}

func TestParquetErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path string
		o    ParquetOptions
		want string
	}{
		{filepath.Join(file, "x.parquet"), ParquetOptions{}, "not a directory"},
		{filepath.Join(dir, "missing", "x.parquet"), ParquetOptions{}, "no such file"},
		{file, ParquetOptions{Dir: true}, "not a directory"},
		{filepath.Join(dir, "x.parquet"), ParquetOptions{RotateRows: 10}, "needs a directory"},
	} {
		_, err := OpenParquet(tt.path, tt.o)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("OpenParquet(%s, %+v) = %v, want %q", tt.path, tt.o, err, tt.want)
		}
	}
	// a schema conflict fails the sink and writes no file
	path := filepath.Join(dir, "c.parquet")
	p := openParquet(t, path, ParquetOptions{})
	writeJSON(t, p, `{"a":true}`)
	if err := p.Write(jsonRow(`{"a":1}`)); err == nil || !strings.Contains(err.Error(), "BOOLEAN") {
		t.Errorf("conflict: %v", err)
	}
	if err := p.Close(); err == nil {
		t.Error("Close after a failure succeeded")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a file was written after the failure: %v", err)
	}
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// Two sinks in one process each have their own in-memory database.
func TestParquetTwoSinks(t *testing.T) {
	dir := t.TempDir()
	a := openParquet(t, filepath.Join(dir, "a.parquet"), ParquetOptions{})
	b := openParquet(t, filepath.Join(dir, "b.parquet"), ParquetOptions{})
	writeJSON(t, a, `{"x":1}`, `{"x":2}`)
	writeJSON(t, b, `{"y":"z"}`)
	closeTable(t, a)
	closeTable(t, b)
	db := openRead(t, "")
	same(t, "a", dump(t, db, fmt.Sprintf("SELECT * FROM read_parquet('%s')", filepath.Join(dir, "a.parquet"))), []string{"1", "2"})
	same(t, "b", dump(t, db, fmt.Sprintf("SELECT * FROM read_parquet('%s')", filepath.Join(dir, "b.parquet"))), []string{"z"})
}
