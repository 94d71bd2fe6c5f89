//go:build integration

package sink

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/pipeline"
)

// promQL runs an instant query at ms on the test server's HTTP API
// (independent of the sink): "labels=value" per series, sorted.
func promQL(t testing.TB, base, q string, ms int64) []string {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/query?" + url.Values{"query": {q}, "time": {fmt.Sprintf("%.3f", float64(ms)/1000)}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Status string
		Data   struct {
			Result []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Status != "success" {
		t.Fatalf("query %s: %v %+v", q, err, out)
	}
	var got []string
	for _, r := range out.Data.Result {
		got = append(got, fmt.Sprintf("%s/%s=%v", r.Metric["user"], r.Metric["pipeline"], r.Value[1]))
	}
	sort.Strings(got)
	return got
}

func TestPrometheusIntegration(t *testing.T) {
	base := os.Getenv("EDDY_TEST_PROMETHEUS")
	if base == "" {
		t.Skip("EDDY_TEST_PROMETHEUS not set (scripts/serving.sh up)")
	}
	prefix := "it" + time.Now().Format("150405000")
	ctx := context.Background()
	s, err := NewPrometheus(ctx, &pipeline.PrometheusTarget{RemoteWrite: base + "/api/v1/write", Prefix: prefix, BatchRows: 2},
		ServingOptions{Layout: testLayout})
	if err != nil {
		t.Fatal(err)
	}
	// recent timestamps: Prometheus refuses samples older than its head block
	t1 := time.Now().Add(-2 * time.Minute).UnixMilli()
	t2 := t1 + 10000
	for _, r := range []*Row{
		testRow("a", t1, 0, 1, 1.5),
		testRow("b", t1, 0, 2, 2),
		testRow("a", t2, 0, 3, 3),
		testRow("a", t1, 1, 9, 9), // a late revision of a window sent: dropped, counted
	} {
		if err := s.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s.Stale() != 2 {
		t.Errorf("stale = %d, want 2 (the revision's two samples)", s.Stale())
	}
	for _, tt := range []struct {
		q    string
		at   int64
		want string
	}{
		{prefix + "_n", t1, "a/clicks=1 b/clicks=2"},
		{prefix + "_avg", t1, "a/clicks=1.5 b/clicks=2"},
		{prefix + "_n", t2, "a/clicks=3 b/clicks=2"},
	} {
		if got := strings.Join(promQL(t, base, tt.q, tt.at), " "); got != tt.want {
			t.Errorf("%s at %d = %s, want %s", tt.q, tt.at, got, tt.want)
		}
	}

	// a rerun (a restart from a checkpoint) sends the same rows to a new
	// sink, and a new one: the server already holds the old ones; nothing
	// fails and the new sample is there
	s, err = NewPrometheus(ctx, &pipeline.PrometheusTarget{RemoteWrite: base + "/api/v1/write", Prefix: prefix}, ServingOptions{Layout: testLayout})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*Row{testRow("a", t1, 0, 1, 1.5), testRow("a", t2, 0, 3, 3), testRow("a", t2+10000, 0, 4, 4)} {
		if err := s.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Errorf("rerun: %v", err)
	}
	if got := strings.Join(promQL(t, base, prefix+"_n{user=\"a\"}", t2+10000), " "); got != "a/clicks=4" {
		t.Errorf("after the rerun: %s", got)
	}
	if s.Stale() != 2 {
		t.Errorf("rerun stale = %d, want 2 (the row at t1, older than the newest the server holds; it takes the identical one at t2)", s.Stale())
	}
}
