//go:build integration

package job_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/fixtures"
	"github.com/eddyhq/eddy/internal/runtest"
	"github.com/eddyhq/eddy/job"
	"github.com/eddyhq/eddy/pipeline"
)

// TestIntegrationServingRun: a run through job writes one spec's windows to
// a file and to the real Redis, InfluxDB and Prometheus of
// scripts/serving.sh, and independent clients read back what the file
// holds: redis-cli the latest window of every key, InfluxQL one point per
// row, PromQL one series per key.
func TestIntegrationServingRun(t *testing.T) {
	redis, influx, prom := os.Getenv("EDDY_TEST_REDIS"), os.Getenv("EDDY_TEST_INFLUXDB"), os.Getenv("EDDY_TEST_PROMETHEUS")
	if redis == "" || influx == "" || prom == "" {
		t.Skip("EDDY_TEST_REDIS, EDDY_TEST_INFLUXDB and EDDY_TEST_PROMETHEUS unset: run under scripts/serving.sh up")
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "bids.jsonl")
	var bids bytes.Buffer // clean bids: a price that is a string in some rows would be a type conflict in InfluxDB
	if err := fixtures.Generate(&bids, "nexmark", fixtures.Options{Count: 20000, Seed: 11, Only: "bids", Disorder: 3 * time.Second,
		Start: time.Now().Add(-10 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, bids.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.jsonl")
	tag := strconv.FormatInt(time.Now().UnixNano(), 36) // a fresh prefix, db and metric per run
	db, measurement, prefix := "eddy_"+tag, "bids_"+tag, "bids_"+tag
	influxQL(t, influx, "", "CREATE DATABASE "+db)
	spec := fmt.Sprintf(`name: %s
source: {file: %s}
time: {field: dateTime}
stages:
  - window: {tumbling: 10s, key: [auction], aggregate: {n: count(), max_price: max(price)}}
sinks:
  - file: %s
  - redis: {addr: %q, prefix: %s, ttl: 1h}
  - influxdb: {url: %q, db: %s}
  - prometheus: {remote_write: %q, prefix: %s}
`, measurement, in, out, redis, prefix, influx, db, prom+"/api/v1/write", prefix)
	p, err := pipeline.Parse("serving.yaml", []byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	j, err := job.Open(ctx, p, job.Options{Stdout: io.Discard, Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	st, err := j.Run(ctx)
	j.Close()
	if err != nil {
		t.Fatal(err)
	}

	type row struct {
		Auction  int64  `json:"auction"`
		N        int64  `json:"n"`
		MaxPrice int64  `json:"max_price"`
		End      string `json:"window_end"`
	}
	latest := map[int64]row{}
	for _, l := range runtest.SortedFile(t, out) {
		var r row
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		if e, ok := latest[r.Auction]; !ok || r.End > e.End {
			latest[r.Auction] = r
		}
	}
	if int64(len(runtest.SortedFile(t, out))) != st.Rows || len(latest) == 0 {
		t.Fatalf("file holds %d rows of %d keys, the run counted %d", len(runtest.SortedFile(t, out)), len(latest), st.Rows)
	}

	host, port, _ := strings.Cut(redis, ":")
	keys, err := exec.Command("redis-cli", "-h", host, "-p", port, "--scan", "--pattern", prefix+":*").Output()
	if err != nil {
		t.Fatalf("redis-cli: %v", err)
	}
	if n := len(strings.Fields(string(keys))); n != len(latest) {
		t.Errorf("redis holds %d keys, want one per auction: %d", n, len(latest))
	}
	checked := 0
	for a, r := range latest {
		got, err := exec.Command("redis-cli", "-h", host, "-p", port, "hmget", fmt.Sprintf("%s:%d", prefix, a), "n", "max_price").Output()
		if err != nil {
			t.Fatalf("redis-cli: %v", err)
		}
		if f := strings.Fields(string(got)); len(f) != 2 || f[0] != strconv.FormatInt(r.N, 10) || f[1] != strconv.FormatInt(r.MaxPrice, 10) {
			t.Errorf("redis %s:%d = %q, want n=%d max_price=%d (the latest window, %s)", prefix, a, got, r.N, r.MaxPrice, r.End)
		}
		if checked++; checked == 50 {
			break
		}
	}

	res := influxQL(t, influx, db, fmt.Sprintf(`SELECT count(n) FROM %q`, measurement))
	if !strings.Contains(res, fmt.Sprintf(`,%d]]`, st.Rows)) {
		t.Errorf("influxdb count(n) = %s, want %d points", res, st.Rows)
	}

	// (recent windows: Prometheus refuses samples older than its head block)
	q := url.Values{"query": {fmt.Sprintf("count(count_over_time(%s_n[1h]))", prefix)}}
	resp, err := http.Get(prom + "/api/v1/query?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), fmt.Sprintf(`"%d"`, len(latest))) {
		t.Errorf("prometheus: %s, want %d series", body, len(latest))
	}
}

func influxQL(t *testing.T, base, db, q string) string {
	t.Helper()
	resp, err := http.PostForm(base+"/query?db="+url.QueryEscape(db), url.Values{"q": {q}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("influxql %q: %s %s", q, resp.Status, b)
	}
	return string(b)
}
