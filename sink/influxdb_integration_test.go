//go:build integration

package sink

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/value"
)

// influxQL runs q on the test server's /query endpoint (InfluxQL over
// HTTP, independent of the sink) and returns the first series' rows.
func influxQL(t testing.TB, base, db, q string) [][]any {
	t.Helper()
	resp, err := http.PostForm(base+"/query", url.Values{"db": {db}, "q": {q}, "epoch": {"ms"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Results []struct {
			Series []struct {
				Columns []string
				Values  [][]any
			}
			Error string
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.Results) == 0 || out.Results[0].Error != "" {
		t.Fatalf("query %s: %v %+v", q, err, out)
	}
	if len(out.Results[0].Series) == 0 {
		return nil
	}
	return out.Results[0].Series[0].Values
}

func TestInfluxDBIntegration(t *testing.T) {
	base := os.Getenv("EDDY_TEST_INFLUXDB")
	if base == "" {
		t.Skip("EDDY_TEST_INFLUXDB not set (scripts/serving.sh up)")
	}
	db := "it" + time.Now().Format("150405000")
	influxQL(t, base, "", "CREATE DATABASE "+db)
	ctx := context.Background()
	s, err := NewInfluxDB(ctx, &pipeline.InfluxDBTarget{URL: base, DB: db, BatchRows: 2}, ServingOptions{Layout: testLayout})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*Row{
		testRow("a", 20000, 0, 1, 1.5),
		testRow("b c", 20000, 0, 2, 2),
		testRow("a", 30000, 0, 3, 3),
		testRow("a", 20000, 1, 9, 9), // a late revision: replaces the point of (a, 20000)
		testRow("a", 30000, 0, 3, 3), // written again (a rerun): changes nothing
	} {
		if err := s.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	got := influxQL(t, base, db, `SELECT "user", n, "avg" FROM clicks ORDER BY time`)
	want := "[20000 a 9 9] [20000 b c 2 2] [30000 a 3 3]"
	if fmt.Sprint(got) != "["+want+"]" {
		t.Errorf("points:\n got %v\nwant [%s]", got, want)
	}

	// a type conflict (avg written as a string) is a 4xx: it fails at once, naming the line
	bad := Layout{Pipeline: "clicks", Keys: []string{"user"}, Aggregates: []string{"avg"}}
	s, err = NewInfluxDB(ctx, &pipeline.InfluxDBTarget{URL: base, DB: db}, ServingOptions{Layout: bad})
	if err != nil {
		t.Fatal(err)
	}
	r := testRow("a", 40000, 0, 0, 0)
	r.Vals = append(r.Vals[:3], r.Vals[4])
	r.Vals[3] = value.OfString("x")
	if err := s.Write(r); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err == nil || !strings.Contains(err.Error(), "HTTP 400") || !strings.Contains(err.Error(), "clicks,user=a") {
		t.Errorf("type conflict: err = %v", err)
	}
}

// TestInfluxDBIntegrationServerRestart: the server is killed with -9 and
// started again while the sink retries a batch; the batch arrives.
func TestInfluxDBIntegrationServerRestart(t *testing.T) {
	base := os.Getenv("EDDY_TEST_INFLUXDB")
	if base == "" {
		t.Skip("EDDY_TEST_INFLUXDB not set (scripts/serving.sh up)")
	}
	db := "restart" + time.Now().Format("150405000")
	influxQL(t, base, "", "CREATE DATABASE "+db)
	ctx := context.Background()
	s, err := NewInfluxDB(ctx, &pipeline.InfluxDBTarget{URL: base, DB: db}, ServingOptions{Layout: testLayout})
	if err != nil {
		t.Fatal(err)
	}
	defer servingScript(t, "start", "influxdb")
	servingScript(t, "kill9", "influxdb")
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(time.Second)
		servingScript(t, "start", "influxdb")
	}()
	for _, u := range []string{"a", "b", "c"} {
		if err := s.Write(testRow(u, 20000, 0, 1, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatalf("flush across the restart: %v", err)
	}
	<-done
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(influxQL(t, base, db, `SELECT count(n) FROM clicks`)); got != "[[0 3]]" {
		t.Errorf("count after the restart = %s, want [[0 3]]", got)
	}
}
