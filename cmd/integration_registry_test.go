//go:build integration

package cmd

// Records written by an independent client through a real Schema
// Registry: scripts/registry/produce.py (confluent-kafka's AvroSerializer,
// ProtobufSerializer and JSONSerializer) against Apicurio Registry run by
// scripts/registry.sh, to the broker of scripts/kafka.sh. Skips unless
// EDDY_TEST_BROKERS and EDDY_TEST_REGISTRY are set:
//
//	export $(scripts/kafka.sh up) $(scripts/registry.sh up)
//	go test -tags integration -count=1 -run IntegrationRegistry ./cmd/ -v

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/internal/runtest"
)

func TestIntegrationRegistry(t *testing.T) {
	env := itSetup(t)
	reg, py := os.Getenv("EDDY_TEST_REGISTRY"), os.Getenv("EDDY_TEST_REGISTRY_PYTHON")
	if reg == "" || py == "" {
		t.Skip("EDDY_TEST_REGISTRY is not set; start a registry with: export $(scripts/registry.sh up)")
	}
	for _, k := range []string{"EDDY_SCHEMA_REGISTRY", "EDDY_SCHEMA_REGISTRY_USER_INFO", "EDDY_SCHEMA_REGISTRY_TOKEN"} {
		t.Setenv(k, "")
	}
	dir := t.TempDir()
	prefix := itName("reg")
	jsonl := filepath.Join(dir, "bids.jsonl")
	produce := exec.Command(py, filepath.Join("..", "scripts", "registry", "produce.py"), "--brokers", env.brokers,
		"--registry", reg, "--prefix", prefix, "--count", "6000", "--seed", "7", "--jsonl", jsonl)
	if out, err := produce.CombinedOutput(); err != nil {
		t.Fatalf("produce.py: %v\n%s", err, out)
	}

	spec := runtest.WriteFile(t, dir, "json.yaml", itWindow)
	code, jsonRows, stderr := runCLI(t, "", "run", spec, "--input", jsonl, "--dlq", filepath.Join(dir, "json-dead.jsonl"))
	if code != 0 {
		t.Fatalf("JSON run: %d %s", code, stderr)
	}
	jsonStats := itStatsLine(t, stderr)
	if jsonStats.In != 6000 || jsonStats.Dead != 0 || jsonStats.Late != 0 || jsonStats.Rows == 0 {
		t.Fatalf("JSON run stats %s: want in=6000, no dead or late records", jsonStats)
	}
	want := strings.Join(runtest.SortedLines(jsonRows), "\n")

	for _, tc := range []struct {
		topic, format string
		how           string // where the registry comes from: flag, spec or env
	}{
		{"avro", "avro", "flag"},
		{"protobuf", "protobuf", "flag"},     // registered by Python: a base64 descriptor
		{"protobuf-text", "protobuf", "env"}, // registered as .proto text
		{"jsonschema", "json-schema", "spec"},
		{"avro-evolve", "avro", "flag"}, // v1, v2 (adds currency), v3 (drops extra)
	} {
		t.Run(tc.topic, func(t *testing.T) {
			src := fmt.Sprintf("source: {kafka: {topic: %s-%s, start: earliest, stop: caught-up}}\n", prefix, tc.topic)
			args := []string{"-b", env.brokers}
			switch tc.how {
			case "flag":
				args = append(args, "--schema-registry", reg)
			case "env":
				t.Setenv("EDDY_SCHEMA_REGISTRY", reg)
			case "spec":
				src = fmt.Sprintf("source: {kafka: {topic: %s-%s, start: earliest, stop: caught-up, registry: {url: %q}}}\n", prefix, tc.topic, reg)
			}
			spec := runtest.WriteFile(t, dir, tc.topic+".yaml", src+"format: "+tc.format+"\n"+itWindow)
			dead := filepath.Join(dir, tc.topic+"-dead.jsonl")
			code, rows, stderr := runCLI(t, "", append(args, "run", spec, "--dlq", dead)...)
			if code != 0 {
				t.Fatalf("run: %d %s", code, stderr)
			}
			if st := itStatsLine(t, stderr); st != jsonStats {
				t.Errorf("stats %s, the JSON run's %s; dead letters: %.500s", st, jsonStats, itReadFile(t, dead))
			}
			if got := strings.Join(runtest.SortedLines(rows), "\n"); got != want {
				t.Errorf("rows differ from the JSON run's: %d vs %d rows", len(runtest.SortedLines(rows)), len(runtest.SortedLines(jsonRows)))
			}
			// the same on two workers, each decoding with its own decoder
			code, rows, stderr = runCLI(t, "", append(args, "run", spec, "--dlq", dead, "--workers", "2")...)
			if code != 0 || strings.Contains(stderr, "running on one worker") {
				t.Fatalf("run --workers 2: %d %s", code, stderr)
			}
			if st := itStatsLine(t, stderr); st != jsonStats {
				t.Errorf("--workers 2: stats %s, the JSON run's %s", st, jsonStats)
			}
			if got := strings.Join(runtest.SortedLines(rows), "\n"); got != want {
				t.Errorf("--workers 2: rows differ from the JSON run's")
			}
		})
	}

	// eddy tail decodes the same topics for reading: each value as JSON,
	// the same bids as the JSON file (compared by auction and price)
	t.Run("tail -s", func(t *testing.T) {
		pairs := func(lines []string) []string {
			var out []string
			for _, l := range lines {
				var b struct{ Auction, Price int64 }
				if err := json.Unmarshal([]byte(l), &b); err != nil {
					t.Fatalf("not a JSON bid: %.200s: %v", l, err)
				}
				out = append(out, fmt.Sprint(b.Auction, " ", b.Price))
			}
			slices.Sort(out)
			return out
		}
		want := pairs(strings.Split(strings.TrimSpace(itReadFile(t, jsonl)), "\n"))
		for _, tc := range []struct{ topic, format string }{{"avro", "avro"}, {"protobuf", "protobuf"}, {"jsonschema", "json-schema"}} {
			code, out, stderr := runCLI(t, "", "tail", "-b", env.brokers, "--schema-registry", reg, "-t", prefix+"-"+tc.topic, "-e", "-f", "%v\n", "-s", tc.format)
			if code != 0 || strings.Contains(stderr, "could not be decoded") {
				t.Fatalf("tail %s: %d %s", tc.topic, code, stderr)
			}
			if got := pairs(strings.Split(strings.TrimSpace(out), "\n")); !slices.Equal(got, want) {
				t.Errorf("tail -s %s: %d bids, the file's %d, or they differ", tc.format, len(got), len(want))
			}
		}
	})

	// eddy export decodes them into typed columns: every bid, the
	// auction a BIGINT and dateTime (timestamp-millis) a TIMESTAMP
	t.Run("export --format", func(t *testing.T) {
		for _, tc := range []struct{ topic, format string }{{"avro", "avro"}, {"protobuf", "protobuf"}} {
			db := filepath.Join(dir, tc.topic+".duckdb")
			code, _, stderr := runCLI(t, "", "export", "-b", env.brokers, "--schema-registry", reg, "-t", prefix+"-"+tc.topic,
				"--format", tc.format, "--duckdb", db, "--table", "bids")
			if code != 0 || !strings.Contains(stderr, "exported 6000 rows") || strings.Contains(stderr, "could not be decoded") {
				t.Fatalf("export %s: %d %s", tc.topic, code, stderr)
			}
			if got := queryDB(t, db, `SELECT typeof(auction) || ' ' || typeof(price) FROM bids LIMIT 1`); got != "BIGINT BIGINT" {
				t.Errorf("%s: types %s", tc.topic, got)
			}
		}
		db := filepath.Join(dir, "avro.duckdb")
		if got := queryDB(t, db, `SELECT typeof("dateTime") FROM bids LIMIT 1`); got != "TIMESTAMP" {
			t.Errorf("avro dateTime: %s", got)
		}
	})

	// eddy diff over the Avro topic: the same changes as the diff of the
	// JSON pipelines over the JSON file of the same bids.
	t.Run("diff over avro", func(t *testing.T) {
		filter := "  - filter: 'price % 3 != 0'\n"
		withFilter := strings.Replace(itWindow, "stages:\n", "stages:\n"+filter, 1)
		src := fmt.Sprintf("source: {kafka: {topic: %s-avro, start: earliest, stop: caught-up}}\nformat: avro\n", prefix)
		oldAvro := runtest.WriteFile(t, dir, "diff-old-avro.yaml", src+itWindow)
		newAvro := runtest.WriteFile(t, dir, "diff-new-avro.yaml", src+withFilter)
		oldJSON := runtest.WriteFile(t, dir, "diff-old-json.yaml", itWindow)
		newJSON := runtest.WriteFile(t, dir, "diff-new-json.yaml", withFilter)
		code, want, stderr := runCLI(t, "", "diff", oldJSON, newJSON, "--input", jsonl, "--json")
		if code != 0 {
			t.Fatalf("diff of the JSON pipelines: %d %s", code, stderr)
		}
		code, got, stderr := runCLI(t, "", "-b", env.brokers, "--schema-registry", reg, "diff", oldAvro, newAvro, "--json")
		if code != 0 {
			t.Fatalf("diff over the Avro topic: %d %s", code, stderr)
		}
		var w, g struct {
			Records int
			Changed []struct{ Columns []string }
			Same    int
		}
		if err := json.Unmarshal([]byte(want), &w); err != nil || w.Records != 6000 || len(w.Changed) == 0 || w.Same == 0 {
			t.Fatalf("JSON diff %+v, %v: want 6000 records, some windows changed and some the same", w, err)
		}
		json.Unmarshal([]byte(got), &g)
		strip := func(s string) string { // the stats name no source; the rest must be equal
			var m map[string]any
			json.Unmarshal([]byte(s), &m)
			delete(m, "old_stats")
			delete(m, "new_stats")
			b, _ := json.Marshal(m)
			return string(b)
		}
		if strip(got) != strip(want) {
			t.Errorf("diff over Avro: %d records, %d same, %d changed; want the JSON diff's %d, %d, %d", g.Records, g.Same, len(g.Changed), w.Records, w.Same, len(w.Changed))
		}
		code, _, stderr = runCLI(t, "", "-b", env.brokers, "diff", oldAvro, newAvro)
		if code != 2 || !strings.Contains(stderr, "format avro needs a schema registry") {
			t.Errorf("diff without a registry: exit %d, stderr %s", code, stderr)
		}
	})

	t.Run("no registry is a usage error", func(t *testing.T) {
		spec := runtest.WriteFile(t, dir, "none.yaml", fmt.Sprintf("source: {kafka: {topic: %s-avro, stop: caught-up}}\nformat: avro\n", prefix)+itWindow)
		code, _, stderr := runCLI(t, "", "-b", env.brokers, "run", spec)
		if code != 2 || !strings.Contains(stderr, "format avro needs a schema registry") {
			t.Errorf("exit %d, stderr %s", code, stderr)
		}
	})

	t.Run("an unreachable registry fails the run, no dead letters", func(t *testing.T) {
		spec := runtest.WriteFile(t, dir, "down.yaml", fmt.Sprintf("source: {kafka: {topic: %s-avro, stop: caught-up}}\nformat: avro\n", prefix)+itWindow)
		dead := filepath.Join(dir, "down-dead.jsonl")
		code, _, stderr := runCLI(t, "", "-b", env.brokers, "--schema-registry", "http://127.0.0.1:1/apis/ccompat/v7", "run", spec, "--dlq", dead)
		if code == 0 || !strings.Contains(stderr, "registry") {
			t.Errorf("exit %d, stderr %s", code, stderr)
		}
		if b, _ := os.ReadFile(dead); len(b) != 0 {
			t.Errorf("dead letters written: %.300s", b)
		}
	})

	// eddy's Avro sink, read back by an independent client: the windowed
	// rows from the Avro topic, written both as JSON (a file sink) and as
	// Avro (a kafka sink, format avro), decode with confluent-kafka's
	// AvroDeserializer (scripts/registry/consume.py) to the same rows
	t.Run("avro sink", func(t *testing.T) {
		out := prefix + "-out-avro"
		jsonOut := filepath.Join(dir, "sink.jsonl")
		spec := runtest.WriteFile(t, dir, "sink.yaml", fmt.Sprintf("source: {kafka: {topic: %s-avro, start: earliest, stop: caught-up}}\nformat: avro\n", prefix)+itWindow+
			fmt.Sprintf("sinks:\n  - file: %s\n  - kafka: {topic: %s, key: [auction], format: avro}\n", jsonOut, out))
		code, _, stderr := runCLI(t, "", "-b", env.brokers, "--schema-registry", reg, "run", spec)
		if code != 0 {
			t.Fatalf("run: %d %s", code, stderr)
		}
		want := runtest.SortedLines(itReadFile(t, jsonOut))
		if len(want) == 0 || strings.Join(want, "\n") != strings.Join(runtest.SortedLines(jsonRows), "\n") {
			t.Fatalf("the file sink's %d rows differ from the JSON run's %d", len(want), len(runtest.SortedLines(jsonRows)))
		}
		consume := exec.Command(py, filepath.Join("..", "scripts", "registry", "consume.py"), "--brokers", env.brokers,
			"--registry", reg, "--topic", out, "--count", fmt.Sprint(len(want)), "--expect", fmt.Sprint(len(want)))
		var cerr strings.Builder
		consume.Stderr = &cerr
		got, err := consume.Output()
		if err != nil {
			t.Fatalf("consume.py: %v\n%s", err, cerr.String())
		}
		var rows []string
		for _, l := range strings.Split(strings.TrimSpace(string(got)), "\n") {
			var rec struct {
				Key   string
				Value map[string]any
			}
			if err := json.Unmarshal([]byte(l), &rec); err != nil {
				t.Fatalf("consume.py line %.200s: %v", l, err)
			}
			if rec.Key != fmt.Sprint(rec.Value["auction"]) {
				t.Errorf("key %q, auction %v", rec.Key, rec.Value["auction"])
			}
			rows = append(rows, itCanonical(t, rec.Value))
		}
		slices.Sort(rows)
		var wantRows []string
		for _, l := range want {
			var v map[string]any
			if err := json.Unmarshal([]byte(l), &v); err != nil {
				t.Fatal(err)
			}
			wantRows = append(wantRows, itCanonical(t, v))
		}
		slices.Sort(wantRows)
		if !slices.Equal(rows, wantRows) {
			n := min(3, len(rows), len(wantRows))
			t.Errorf("Avro rows differ from the JSON sink's: %d vs %d; first %v vs %v", len(rows), len(wantRows), rows[:n], wantRows[:n])
		}
	})

	// a subject whose versions the derived schema is incompatible with
	// (auction was a string, under BACKWARD): the registry's 409 and its
	// reason end the run
	t.Run("avro sink refused", func(t *testing.T) {
		out := prefix + "-refused"
		subject := reg + "/subjects/" + out + "-value"
		itRegistryCall(t, "POST", subject+"/versions", `{"schema":"{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"auction\",\"type\":\"string\"}]}"}`)
		itRegistryCall(t, "PUT", reg+"/config/"+out+"-value", `{"compatibility":"BACKWARD"}`)
		spec := runtest.WriteFile(t, dir, "refused.yaml", fmt.Sprintf("source: {kafka: {topic: %s-avro, start: earliest, stop: caught-up}}\nformat: avro\n", prefix)+itWindow+
			fmt.Sprintf("sinks:\n  - kafka: {topic: %s, format: avro}\n", out))
		code, _, stderr := runCLI(t, "", "-b", env.brokers, "--schema-registry", reg, "run", spec)
		if code != 1 || !strings.Contains(stderr, "the schema registry refuses the schema for subject "+out+"-value (HTTP 409") ||
			!strings.Contains(stderr, "auction") {
			t.Errorf("exit %d, stderr %.1000s", code, stderr)
		}
	})
}

// itCanonical is v as JSON with sorted keys and numbers as they parse.
func itCanonical(t *testing.T, v map[string]any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// itRegistryCall sends a JSON body to the registry's Confluent API.
func itRegistryCall(t *testing.T, method, url, body string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %s %s", method, url, resp.Status, b)
	}
}
