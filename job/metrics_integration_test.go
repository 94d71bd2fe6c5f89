//go:build integration

package job

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestIntegrationMetricsScraped: the real Prometheus of scripts/serving.sh
// scrapes a run's /metrics (its job "eddy" reads targets from a file_sd
// directory), and PromQL over HTTP answers the run's counters.
func TestIntegrationMetricsScraped(t *testing.T) {
	prom, targets := os.Getenv("EDDY_TEST_PROMETHEUS"), os.Getenv("EDDY_TEST_PROMETHEUS_TARGETS")
	if prom == "" || targets == "" {
		t.Skip("EDDY_TEST_PROMETHEUS and EDDY_TEST_PROMETHEUS_TARGETS unset: run under scripts/serving.sh up")
	}
	name := "metrics_" + strconv.FormatInt(time.Now().UnixNano(), 36) // a fresh pipeline label per run
	spec := "name: " + name + "\nsource: {file: '-'}\nstages:\n  - filter: a > 1\n"
	addr := freeAddr(t)
	w, wait := runPiped(t, spec, Options{Metrics: addr})
	defer func() { w.Close(); wait() }()

	const n = 1000
	var in strings.Builder
	for i := range n {
		fmt.Fprintf(&in, "{\"a\":%d}\n", i%4)
	}
	io.WriteString(w, in.String())

	target := filepath.Join(targets, name+".json")
	if err := os.WriteFile(target, []byte(`[{"targets":["`+addr+`"]}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(target)

	want := map[string]float64{"eddy_records_in_total": n, "eddy_records_passed_total": n / 2, "eddy_records_filtered_total": n / 2}
	for metric, v := range want {
		q := metric + `{job="eddy",pipeline="` + name + `"}`
		var got []float64
		deadline := time.Now().Add(60 * time.Second)
		for {
			got = promQuery(t, prom, q)
			if len(got) == 1 && got[0] == v {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s = %v, want [%v]", q, got, v)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
}

// promQuery runs an instant PromQL query and returns the sample values.
func promQuery(t *testing.T, prom, q string) []float64 {
	t.Helper()
	resp, err := http.Get(prom + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string
		Data   struct {
			Result []struct{ Value [2]any }
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Status != "success" {
		t.Fatalf("query %s: %v %s", q, err, body.Status)
	}
	var vals []float64
	for _, r := range body.Data.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("query %s: value %v", q, r.Value)
		}
		vals = append(vals, v)
	}
	return vals
}
