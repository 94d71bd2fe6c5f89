package cmd

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/eddyhq/eddy/fixtures"
	"github.com/eddyhq/eddy/internal/runtest"
)

// queryDB opens a DuckDB file (or "" in memory) and returns one value.
func queryDB(t *testing.T, path, q string) string {
	t.Helper()
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var s sql.NullString
	if err := db.QueryRow(q).Scan(&s); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return s.String
}

func exportOK(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	code, _, stderr := runCLI(t, stdin, append([]string{"export"}, args...)...)
	if code != 0 {
		t.Fatalf("eddy export %s: exit %d\n%s", strings.Join(args, " "), code, stderr)
	}
	return stderr
}

func TestExportFileToDuckDB(t *testing.T) {
	dir := t.TempDir()
	var b bytes.Buffer
	if err := fixtures.Generate(&b, "nexmark", fixtures.Options{Count: 3000, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	in := runtest.WriteFile(t, dir, "nexmark.jsonl", b.String())
	db := filepath.Join(dir, "out.duckdb")
	stderr := exportOK(t, "", "--input", in, "--duckdb", db, "--table", "events", "--batch-rows", "1000")
	if want := "eddy: exported 3000 rows to " + db + " (table events)\n"; !strings.HasSuffix(stderr, want) {
		t.Errorf("stderr %q, want it to end with %q", stderr, want)
	}
	cols := queryDB(t, db, `SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY column_index) FROM duckdb_columns() WHERE table_name = 'events'`)
	// persons, auctions and bids share one table: their fields are the union
	for _, c := range []string{"_topic VARCHAR", "_partition INTEGER", "_offset BIGINT", "_timestamp TIMESTAMP", "_key VARCHAR",
		"type VARCHAR", "id BIGINT", "dateTime TIMESTAMP", "expires TIMESTAMP", "price BIGINT", "auction BIGINT", "url VARCHAR"} {
		if !strings.Contains(cols, c) {
			t.Errorf("columns %q lack %q", cols, c)
		}
	}
	if got := queryDB(t, db, `SELECT count(*) || ' ' || count(DISTINCT _offset) || ' ' || min(_offset) || ' ' || max(_offset) || ' ' || any_value(_topic) FROM events`); got != "3000 3000 1 3000 "+in {
		t.Errorf("rows: %s", got)
	}

	// the same export again adds nothing
	stderr = exportOK(t, "", "--input", in, "--duckdb", db, "--table", "events")
	if !strings.Contains(stderr, "exported 3000 rows") || !strings.Contains(stderr, "3000 of them were there already") {
		t.Errorf("rerun: %q", stderr)
	}
	if got := queryDB(t, db, `SELECT count(*) FROM events`); got != "3000" {
		t.Errorf("after the rerun: %s rows, want 3000", got)
	}
	// replace, with a line range and a filter
	stderr = exportOK(t, "", "--input", in, "--duckdb", db, "--table", "events", "--mode", "replace",
		"--from", "101", "--to", "201", "--where", `type == "bid"`)
	want := queryDB(t, "", fmt.Sprintf(`SELECT count(*) FROM read_json('%s', format='newline_delimited') WITH ORDINALITY AS j(type) WHERE type = 'bid' AND ordinality BETWEEN 101 AND 200`, in))
	if got := queryDB(t, db, `SELECT count(*) FROM events WHERE _offset BETWEEN 101 AND 200 AND type = 'bid'`); got != want || !strings.Contains(stderr, "exported "+want+" rows") {
		t.Errorf("replace with range and filter: %s rows (%q), want %s", got, stderr, want)
	}
	if got := queryDB(t, db, `SELECT count(*) FROM events`); got != want {
		t.Errorf("replace kept %s rows, want %s", got, want)
	}
}

func TestExportBadRecordsAndStdin(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "x.duckdb")
	stdin := "{\"a\":1}\nnot json\n[1,2]\n\n{\"a\":2,\"b\":\"x\"}\n"
	stderr := exportOK(t, stdin, "--input", "-", "--duckdb", db, "--table", "t", "--where", "a > 1 || a == nil")
	if !strings.Contains(stderr, "eddy: skipped 2 records that are not JSON objects (first: - line 2: invalid JSON") {
		t.Errorf("stderr %q should count the bad records", stderr)
	}
	if !strings.HasSuffix(stderr, "eddy: exported 1 rows to "+db+" (table t)\n") {
		t.Errorf("stderr %q", stderr)
	}
	if got := queryDB(t, db, `SELECT _topic || ' ' || _offset || ' ' || a || ' ' || b FROM t`); got != "- 5 2 x" {
		t.Errorf("row: %q", got)
	}
}

func TestExportParquet(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for i := range 250 {
		fmt.Fprintf(&b, `{"i":%d,"ts":"2026-01-01T00:00:%02dZ"}`+"\n", i, i%60)
	}
	in := runtest.WriteFile(t, dir, "in.jsonl", b.String())
	file := filepath.Join(dir, "one.parquet")
	stderr := exportOK(t, "", "--input", in, "--parquet", file)
	if !strings.HasSuffix(stderr, "eddy: exported 250 rows to "+file+"\n") {
		t.Errorf("stderr %q", stderr)
	}
	if got := queryDB(t, "", fmt.Sprintf(`SELECT any_value(typeof(ts)) || ' ' || count(*) || ' ' || sum(i) FROM read_parquet('%s')`, file)); got != "TIMESTAMP 250 31125" {
		t.Errorf("parquet: %s", got)
	}
	parts := filepath.Join(dir, "parts")
	stderr = exportOK(t, "", "--input", in, "--parquet", parts, "--rotate", "100")
	if !strings.HasSuffix(stderr, "eddy: exported 250 rows to "+parts+" (3 files)\n") {
		t.Errorf("stderr %q", stderr)
	}
	names, _ := filepath.Glob(filepath.Join(parts, "part-00000[123]-*Z.parquet"))
	if len(names) != 3 {
		t.Errorf("files %q, want 3 parts", names)
	}
	if got := queryDB(t, "", fmt.Sprintf(`SELECT count(*) FROM read_parquet('%s/*.parquet')`, parts)); got != "250" {
		t.Errorf("parts hold %s rows", got)
	}
}

func TestExportUsage(t *testing.T) {
	dir := t.TempDir()
	in := runtest.WriteFile(t, dir, "in.jsonl", "{\"a\":1}\n")
	db := filepath.Join(dir, "x.duckdb")
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--duckdb", db, "--table", "t"}, 2, "give one source"},
		{[]string{"--input", in, "-t", "x", "--duckdb", db, "--table", "t"}, 2, "give one source"},
		{[]string{"--input", in}, 2, "give one destination"},
		{[]string{"--input", in, "--duckdb", db, "--parquet", "p"}, 2, "give one destination"},
		{[]string{"--input", in, "--duckdb", db}, 2, "--duckdb needs --table"},
		{[]string{"--input", in, "--parquet", "p", "--table", "t"}, 2, "--table and --mode go with --duckdb"},
		{[]string{"--input", in, "--duckdb", db, "--table", "t", "--rotate", "1m"}, 2, "--rotate goes with --parquet"},
		{[]string{"--input", in, "--duckdb", db, "--table", "t", "--mode", "merge"}, 2, `--mode "merge"`},
		{[]string{"--input", in, "--parquet", "p", "--rotate", "0"}, 2, "must be positive"},
		{[]string{"--input", in, "--parquet", "p", "--rotate", "often"}, 2, "want a row count"},
		{[]string{"--input", in, "--duckdb", db, "--table", "t", "--from", "-5"}, 2, "must not be negative"},
		{[]string{"--input", in, "--duckdb", db, "--table", "t", "--from", "last:5"}, 2, "--from takes a line number (N or offset:N), not last:5"},
		{[]string{"--input", in, "--duckdb", db, "--table", "t", "--from", "time:-1m"}, 2, "have no timestamps"},
		{[]string{"--input", in, "--duckdb", db, "--table", "t", "--from", "offset:x"}, 2, `--from: start position "offset:x": want offset: with a number`},
		{[]string{"--input", in, "--duckdb", db, "--table", "t", "--from", "15m"}, 2, "--from 15m: a duration goes back from now"},
		{[]string{"--input", in, "--duckdb", db, "--table", "t", "--from", "soon"}, 2, `--from "soon": want earliest, latest, offset:N, last:N, time:RFC3339 or time:-15m, or N`},
		{[]string{"--input", in, "--duckdb", db, "--table", "t", "--to", "latest"}, 2, "--to latest: want an offset or a time"},
		{[]string{"--input", in, "--duckdb", db, "--table", "t", "--to", "2026-01-01T00:00:00Z"}, 2, "have no timestamps"},
		{[]string{"--input", in, "--duckdb", db, "--table", "t", "--where", "a = 1"}, 2, "does not compile"},
		{[]string{"--input", in, "--duckdb", db, "--table", "t", "extra"}, 2, "accepts 0 arg(s)"},
		{[]string{"--input", filepath.Join(dir, "missing.jsonl"), "--duckdb", db, "--table", "t"}, 1, "open input"},
		{[]string{"--input", in, "--duckdb", filepath.Join(in, "x.duckdb"), "--table", "t"}, 1, "open duckdb"},
		{[]string{"--input", in, "--parquet", filepath.Join(dir, "no", "such", "x.parquet")}, 1, "no such file or directory"},
	}
	for _, tt := range tests {
		code, _, stderr := runCLI(t, "", append([]string{"export"}, tt.args...)...)
		if code != tt.code || !strings.Contains(stderr, tt.want) {
			t.Errorf("export %q: exit %d, stderr %q; want exit %d and %q", tt.args, code, stderr, tt.code, tt.want)
		}
	}
}

func TestExportSchemaConflictFails(t *testing.T) {
	dir := t.TempDir()
	in := runtest.WriteFile(t, dir, "in.jsonl", "{\"a\":true}\n{\"a\":false}\n{\"a\":3}\n")
	db := filepath.Join(dir, "x.duckdb")
	code, _, stderr := runCLI(t, "", "export", "--input", in, "--duckdb", db, "--table", "t", "--batch-rows", "2")
	if code != 1 || !strings.Contains(stderr, `table "t", column "a": a BOOLEAN column cannot take BIGINT values (here 3)`) ||
		!strings.Contains(stderr, "eddy: exported 2 rows to") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if got := queryDB(t, db, "SELECT count(*) FROM t"); got != "2" {
		t.Errorf("table holds %s rows, want the first batch", got)
	}
}

func TestExportKafka(t *testing.T) {
	addr := runtest.Cluster(t, "orders")
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ctx := context.Background()
	for i := range 90 {
		r := &kgo.Record{Topic: "orders", Partition: int32(i % 3), Key: []byte(fmt.Sprintf("k%d", i)),
			Timestamp: base.Add(time.Duration(i) * time.Second), Value: []byte(fmt.Sprintf(`{"n":%d,"amount":%d.5}`, i, i))}
		if i == 4 {
			r.Key, r.Value = nil, []byte("tombstone?")
		}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cl.Close()
	db := filepath.Join(t.TempDir(), "k.duckdb")
	stderr := exportOK(t, "", "-b", addr, "-t", "orders", "--duckdb", db, "--table", "orders")
	if !strings.Contains(stderr, "exported 89 rows") || !strings.Contains(stderr, "skipped 1 records that are not JSON objects (first: orders/1 offset 1:") {
		t.Errorf("stderr %q", stderr)
	}
	got := queryDB(t, db, `SELECT string_agg(_topic || '/' || _partition || '/' || _offset || ' ' || _key || ' ' || strftime(_timestamp, '%H:%M:%S') || ' ' || n || ' ' || amount, '; ' ORDER BY n) FROM orders WHERE n IN (0, 5, 89)`)
	if want := "orders/0/0 k0 00:00:00 0 0.5; orders/2/1 k5 00:00:05 5 5.5; orders/2/29 k89 00:01:29 89 89.5"; got != want {
		t.Errorf("rows:\n got %s\nwant %s", got, want)
	}
	// offsets 10..19 of each partition, then the second minute by time
	exportOK(t, "", "-b", addr, "-t", "orders", "--from", "10", "--to", "20", "--duckdb", db, "--table", "range", "--mode", "replace")
	if got := queryDB(t, db, `SELECT count(*) || ' ' || min(_offset) || ' ' || max(_offset) FROM "range"`); got != "30 10 19" {
		t.Errorf("offset range: %s", got)
	}
	exportOK(t, "", "-b", addr, "-t", "orders", "--from", "offset:10", "--to", "offset:20", "--duckdb", db, "--table", "range", "--mode", "replace")
	if got := queryDB(t, db, `SELECT count(*) || ' ' || min(_offset) || ' ' || max(_offset) FROM "range"`); got != "30 10 19" {
		t.Errorf("offset:N range: %s", got)
	}
	exportOK(t, "", "-b", addr, "-t", "orders", "--from", "last:5", "--duckdb", db, "--table", "last")
	if got := queryDB(t, db, `SELECT count(*) || ' ' || min(_offset) || ' ' || max(_offset) FROM "last"`); got != "15 25 29" {
		t.Errorf("last:5: %s", got)
	}
	exportOK(t, "", "-b", addr, "-t", "orders", "--from", "2026-01-01T00:01:00Z", "--to", "2026-01-01T00:01:10Z", "--duckdb", db, "--table", "times")
	if got := queryDB(t, db, `SELECT count(*) || ' ' || min(n) || ' ' || max(n) FROM times`); got != "10 60 69" {
		t.Errorf("time range: %s", got)
	}
	exportOK(t, "", "-b", addr, "-t", "orders", "--from", "time:2026-01-01T00:01:00Z", "--to", "time:2026-01-01T00:01:10Z", "--duckdb", db, "--table", "times", "--mode", "replace")
	if got := queryDB(t, db, `SELECT count(*) || ' ' || min(n) || ' ' || max(n) FROM times`); got != "10 60 69" {
		t.Errorf("time: range: %s", got)
	}
	code, _, stderr := runCLI(t, "", "export", "-b", addr, "-t", "nope", "--duckdb", db, "--table", "x")
	if code != 1 || !strings.Contains(stderr, `topic "nope" does not exist`) {
		t.Errorf("unknown topic: exit %d %q", code, stderr)
	}
}

// TestExportKill builds eddy, kills an export of a large file with SIGKILL
// while it runs, and checks that the database opens with whole batches
// only; a second run completes the export without duplicates.
func TestExportKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the eddy binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "eddy")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	const n, batch = 400_000, 20_000
	in := filepath.Join(dir, "bids.jsonl")
	f, err := os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := fixtures.Generate(f, "nexmark", fixtures.Options{Count: n, Seed: 3, Only: "bids"}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	db := filepath.Join(dir, "bids.duckdb")
	args := []string{"export", "--input", in, "--duckdb", db, "--table", "bids", "--batch-rows", fmt.Sprint(batch)}

	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// kill once a few batches are on disk (the WAL and the database grow
	// with every commit), well before the end
	deadline := time.Now().Add(30 * time.Second)
	for size(db)+size(db+".wal") < 8<<20 {
		if time.Now().After(deadline) {
			t.Fatal("the export wrote nothing for 30 s")
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if strings.Contains(stderr.String(), "exported") {
		t.Fatalf("the export finished before the kill (%v): %s", err, stderr.String())
	}
	got := queryDB(t, db, "SELECT count(*) FROM bids")
	var rows int
	fmt.Sscan(got, &rows)
	t.Logf("killed with %d rows committed", rows)
	if rows == 0 || rows%batch != 0 || rows >= n {
		t.Fatalf("after the kill the table holds %d rows, want whole batches of %d, fewer than %d", rows, batch, n)
	}

	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("rerun: %v\n%s", err, out)
	}
	if want := fmt.Sprintf("eddy: exported %d rows to %s (table bids); %d of them were there already and were skipped\n", n, db, rows); !strings.HasSuffix(string(out), want) {
		t.Errorf("rerun said %q, want %q", out, want)
	}
	if got := queryDB(t, db, "SELECT count(*) || ' ' || count(DISTINCT _offset) || ' ' || min(_offset) || ' ' || max(_offset) FROM bids"); got != fmt.Sprintf("%d %d 1 %d", n, n, n) {
		t.Errorf("after the rerun: %s", got)
	}
}

func size(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// runInterrupted runs eddy export reading stdin from a pipe, sends one line,
// cancels the context (Ctrl-C) and ends the input.
func runInterrupted(t *testing.T, args ...string) (int, string) {
	t.Helper()
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb bytes.Buffer
	done := make(chan int)
	go func() { done <- run(ctx, append([]string{"export", "--input", "-"}, args...), pr, &out, &errb) }()
	// an io.Pipe write returns once the export has read it
	if _, err := pw.Write([]byte("{\"a\":1}\n{\"a\":2}\n")); err != nil {
		t.Fatal(err)
	}
	cancel()
	pw.Close()
	return <-done, errb.String()
}

func TestExportInterrupted(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "x.duckdb")
	code, stderr := runInterrupted(t, "--duckdb", db, "--table", "t")
	if code != 1 || !strings.Contains(stderr, "interrupted: run the same export again to complete it") {
		t.Errorf("duckdb: exit %d, stderr %q", code, stderr)
	}
	// what was read is committed
	if got := queryDB(t, db, "SELECT count(*) FROM t"); !strings.Contains(stderr, "exported "+got+" rows") {
		t.Errorf("table holds %s rows, stderr %q", got, stderr)
	}

	file := runtest.WriteFile(t, dir, "keep.parquet", "old")
	code, stderr = runInterrupted(t, "--parquet", file)
	if code != 1 || !strings.Contains(stderr, "interrupted: "+file+" was not written") || !strings.Contains(stderr, "exported 0 rows") {
		t.Errorf("parquet: exit %d, stderr %q", code, stderr)
	}
	if b, _ := os.ReadFile(file); string(b) != "old" {
		t.Errorf("an interrupted export replaced %s", file)
	}
	if _, err := os.Stat(file + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("left %s.tmp: %v", file, err)
	}
}

// TestExportFormat: --format avro decodes each record through the
// registry (srfake) into typed columns: a long as BIGINT, a
// timestamp-millis as TIMESTAMP, a nested record as JSON; a record that
// does not decode is skipped and counted; --where sees decoded fields.
// --format raw exports a file's lines as one VARCHAR column, value.
func TestExportFormat(t *testing.T) {
	addr := newKafka(t, "bids")
	reg := srfake.New()
	defer reg.Close()
	schema := `{"type":"record","name":"Bid","fields":[{"name":"auction","type":"long"},{"name":"price","type":"double"},
		{"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},
		{"name":"who","type":{"type":"record","name":"Who","fields":[{"name":"city","type":"string"}]}}]}`
	reg.SeedSchema("bids-value", 1, 3, sr.Schema{Schema: schema, Type: sr.TypeAvro})
	s := avro.MustParse(schema)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var recs []*kgo.Record
	for i := range 4 {
		payload, err := avro.Marshal(s, map[string]any{"auction": int64(100 + i), "price": float64(i) + 0.5,
			"at": base.Add(time.Duration(i) * time.Second), "who": map[string]any{"city": fmt.Sprintf("c%d", i)}})
		if err != nil {
			t.Fatal(err)
		}
		var h sr.ConfluentHeader
		v, _ := h.AppendEncode(nil, 3, nil)
		recs = append(recs, &kgo.Record{Topic: "bids", Partition: 0, Value: append(v, payload...)})
	}
	recs = append(recs, &kgo.Record{Topic: "bids", Partition: 0, Value: []byte(`{"auction":9}`)})
	runtest.Produce(t, addr, recs...)

	db := filepath.Join(t.TempDir(), "f.duckdb")
	stderr := exportOK(t, "", "-b", addr, "-t", "bids", "--format", "avro", "--schema-registry", reg.URL(), "--duckdb", db, "--table", "bids")
	if !strings.Contains(stderr, "exported 4 rows") || !strings.Contains(stderr, "skipped 1 records that could not be decoded as avro (first: bids/0 offset 4: wrong magic byte") {
		t.Errorf("stderr %q", stderr)
	}
	got := queryDB(t, db, `SELECT string_agg(auction || ' ' || price || ' ' || strftime("at", '%H:%M:%S') || ' ' || who.city, '; ' ORDER BY auction) FROM bids`)
	if want := "100 0.5 00:00:00 c0; 101 1.5 00:00:01 c1; 102 2.5 00:00:02 c2; 103 3.5 00:00:03 c3"; got != want {
		t.Errorf("rows:\n got %s\nwant %s", got, want)
	}
	if got := queryDB(t, db, `SELECT typeof(auction) || ' ' || typeof(price) || ' ' || typeof("at") || ' ' || typeof(who) FROM bids LIMIT 1`); got != "BIGINT DOUBLE TIMESTAMP STRUCT(city VARCHAR)" {
		t.Errorf("types %s", got)
	}
	exportOK(t, "", "-b", addr, "-t", "bids", "--format", "avro", "--schema-registry", reg.URL(), "--where", "who.city == 'c2'", "--duckdb", db, "--table", "one")
	if got := queryDB(t, db, `SELECT string_agg(auction::VARCHAR, ',') FROM one`); got != "102" {
		t.Errorf("--where on a decoded field: %s", got)
	}

	log := filepath.Join(t.TempDir(), "app.log")
	if err := os.WriteFile(log, []byte("12:00 INFO up\n12:01 ERROR \"disk\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	exportOK(t, "", "--input", log, "--format", "raw", "--where", `value contains "ERROR"`, "--duckdb", db, "--table", "log")
	if got := queryDB(t, db, `SELECT string_agg(_offset || ' ' || typeof(value) || ' ' || value, '; ') FROM log`); got != `2 VARCHAR 12:01 ERROR "disk"` {
		t.Errorf("raw: %s", got)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-b", addr, "-t", "bids", "--format", "avro"}, "--format avro needs a schema registry"},
		{[]string{"-b", addr, "-t", "bids", "--format", "xml"}, `--format "xml": want json, avro, protobuf, json-schema or raw`},
		{[]string{"--input", log, "--format", "protobuf"}, "--format protobuf reads a topic"},
	} {
		code, _, stderr := runCLI(t, "", append(append([]string{"export"}, tc.args...), "--duckdb", db, "--table", "x")...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d %s, want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}

// TestExportFormatTypes: an Avro export keeps the schema's types: a decimal
// is a DECIMAL(p,s) with its exact value, a record a STRUCT, an array a
// LIST, a map a MAP; a record written with a later schema version (a field
// added to the nested record) widens the STRUCT and the older rows read
// NULL there; one with a field removed keeps the field (NULL in its rows).
// The Parquet export keeps them too.
func TestExportFormatTypes(t *testing.T) {
	addr := newKafka(t, "typed")
	reg := srfake.New()
	defer reg.Close()
	v1 := `{"type":"record","name":"Order","fields":[
		{"name":"id","type":"long"},
		{"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":20,"scale":4}},
		{"name":"small","type":["null",{"type":"bytes","logicalType":"decimal","precision":6,"scale":2}],"default":null},
		{"name":"who","type":{"type":"record","name":"Who","fields":[{"name":"city","type":"string"},
			{"name":"since","type":{"type":"long","logicalType":"timestamp-millis"}}]}},
		{"name":"items","type":{"type":"array","items":"long"}},
		{"name":"attrs","type":{"type":"map","values":"double"}}]}`
	v2 := strings.Replace(v1, `{"name":"city","type":"string"},`, `{"name":"city","type":"string"},{"name":"zip","type":["null","string"],"default":null},`, 1)
	reg.SeedSchema("typed-value", 1, 3, sr.Schema{Schema: v1, Type: sr.TypeAvro})
	reg.SeedSchema("typed-value", 2, 4, sr.Schema{Schema: v2, Type: sr.TypeAvro})
	v3 := strings.Replace(v2, `,
			{"name":"since","type":{"type":"long","logicalType":"timestamp-millis"}}`, "", 1)
	reg.SeedSchema("typed-value", 3, 5, sr.Schema{Schema: v3, Type: sr.TypeAvro})
	since := time.Date(2020, 5, 6, 7, 8, 9, 0, time.UTC)
	framed := func(id int, schema string, v map[string]any) *kgo.Record {
		t.Helper()
		payload, err := avro.Marshal(avro.MustParse(schema), v)
		if err != nil {
			t.Fatal(err)
		}
		var h sr.ConfluentHeader
		b, _ := h.AppendEncode(nil, id, nil)
		return &kgo.Record{Topic: "typed", Partition: 0, Value: append(b, payload...)}
	}
	amount, _ := new(big.Rat).SetString("1234567890123456.7891")
	small, _ := new(big.Rat).SetString("-12.5")
	rec1 := framed(3, v1, map[string]any{"id": int64(1), "amount": amount, "small": small,
		"who": map[string]any{"city": "Oslo", "since": since}, "items": []int64{3, 4, 5}, "attrs": map[string]any{"a": 1.5}})
	rec2 := framed(4, v2, map[string]any{"id": int64(2), "amount": big.NewRat(1, 10000), "small": nil,
		"who": map[string]any{"city": "Rome", "zip": "00184", "since": since}, "items": []int64{}, "attrs": map[string]any{}})
	rec3 := framed(5, v3, map[string]any{"id": int64(3), "amount": big.NewRat(-5, 1), "small": big.NewRat(1, 4),
		"who": map[string]any{"city": "Pisa", "zip": nil}, "items": []int64{7}, "attrs": map[string]any{"b": 2.0}})
	// v2 again after v3: the column holds both already
	rec4 := framed(4, v2, map[string]any{"id": int64(4), "amount": big.NewRat(0, 1), "small": nil,
		"who": map[string]any{"city": "Bari", "zip": nil, "since": since}, "items": []int64{1, 2}, "attrs": map[string]any{}})
	runtest.Produce(t, addr, rec1, rec2, rec3, rec4)

	db := filepath.Join(t.TempDir(), "t.duckdb")
	exportOK(t, "", "-b", addr, "-t", "typed", "--format", "avro", "--schema-registry", reg.URL(), "--duckdb", db, "--table", "o")
	pq := filepath.Join(t.TempDir(), "o.parquet")
	exportOK(t, "", "-b", addr, "-t", "typed", "--format", "avro", "--schema-registry", reg.URL(), "--parquet", pq)
	for _, from := range []string{"o", fmt.Sprintf("read_parquet('%s')", pq)} {
		if got := queryDB(t, db, `SELECT typeof(amount) || ' | ' || typeof(small) || ' | ' || typeof(who) || ' | ' || typeof(items) || ' | ' || typeof(attrs) FROM `+from+` LIMIT 1`); got !=
			`DECIMAL(20,4) | DECIMAL(6,2) | STRUCT(city VARCHAR, since TIMESTAMP, zip VARCHAR) | BIGINT[] | MAP(VARCHAR, DOUBLE)` {
			t.Errorf("%s: types %s", from, got)
		}
		got := queryDB(t, db, `SELECT string_agg(id || ' ' || amount::VARCHAR || ' ' || coalesce(small::VARCHAR, 'null') || ' ' || who.city || ' ' ||
			coalesce(who.zip, 'null') || ' ' || coalesce(strftime(who.since, '%Y-%m-%d %H:%M:%S'), 'null') || ' ' || len(items) || ' ' || coalesce(items[2]::VARCHAR, 'null') || ' ' ||
			coalesce(attrs['a']::VARCHAR, 'null'), '; ' ORDER BY id) FROM `+from)
		if want := "1 1234567890123456.7891 -12.50 Oslo null 2020-05-06 07:08:09 3 4 1.5; 2 0.0001 null Rome 00184 2020-05-06 07:08:09 0 null null; " +
			"3 -5.0000 0.25 Pisa null null 1 null null; 4 0.0000 null Bari null 2020-05-06 07:08:09 2 2 null"; got != want {
			t.Errorf("%s: rows\n got %s\nwant %s", from, got, want)
		}
	}
	// exact: the decimal sums as a DECIMAL, not as a double
	if got := queryDB(t, db, `SELECT typeof(sum(amount)) || ' ' || sum(amount)::VARCHAR FROM o`); got != "DECIMAL(38,4) 1234567890123451.7892" {
		t.Errorf("sum %s", got)
	}
}
