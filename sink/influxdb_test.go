package sink

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/value"
)

func TestInfluxLine(t *testing.T) {
	l := Layout{Pipeline: "p", Keys: []string{"user", "a region"}, Aggregates: []string{"n", "avg", "tag=x", "name", "ok", "last"},
		Counts: []bool{true}}
	row := func(keys [2]value.Value, aggs ...value.Value) *Row {
		return &Row{Vals: append(append(keys[:], value.OfTime(1000), value.OfTime(2000)), aggs...)}
	}
	str := value.OfString
	plain := []value.Value{value.OfInt(3), value.OfFloat(1.5), value.OfFloat(2), str("x"), value.OfBool(true), value.OfTime(1500)}
	tests := []struct {
		name        string
		measurement string
		keys        [2]value.Value
		aggs        []value.Value
		session     bool
		want        string
	}{
		{"plain", "clicks", [2]value.Value{str("u1"), str("eu")}, plain, false,
			`clicks,a\ region=eu,user=u1 n=3i,avg=1.5,tag\=x=2,name="x",ok=true,last=1500i 2000`},
		{"escapes", "my clicks,v2", [2]value.Value{str(`a,b=c d`), str("line\nbreak")},
			[]value.Value{value.OfInt(-1), value.OfFloat(1e21), value.OfFloat(0.5), str(`say "hi" \o/`), value.OfBool(false), value.OfTime(0)}, false,
			`my\ clicks\,v2,a\ region=line\nbreak,user=a\,b\=c\ d n=-1i,avg=1e+21,tag\=x=0.5,name="say \"hi\" \\o/",ok=false,last=0i 2000`},
		{"null and empty tags, null and NaN fields", "m", [2]value.Value{{}, str("")},
			[]value.Value{{}, value.OfFloat(math.NaN()), value.OfFloat(math.Inf(1)), {}, {}, value.OfInt(7)}, false,
			`m last=7 2000`},
		{"no aggregate can be written: window_start keeps the point", "m", [2]value.Value{str("u"), {}},
			[]value.Value{{}, value.OfFloat(math.NaN()), {}, {}, {}, {}}, false,
			`m,user=u window_start=1000i 2000`},
		{"a session window writes its start", "m", [2]value.Value{str("u"), {}},
			[]value.Value{{}, value.OfFloat(2.5), {}, {}, {}, {}}, true,
			`m,user=u avg=2.5,window_start=1000i 2000`},
		{"an integer of an aggregate that may be a float is written as one", "m", [2]value.Value{str("u"), str("r")},
			[]value.Value{value.OfInt(3), value.OfInt(2), value.OfInt(95077), str("x"), value.OfBool(true), value.OfTime(1500)}, false,
			`m,a\ region=r,user=u n=3i,avg=2,tag\=x=95077,name="x",ok=true,last=1500i 2000`},
		{"numeric key", "m", [2]value.Value{value.OfInt(42), value.OfFloat(0.25)}, plain, false,
			`m,a\ region=0.25,user=42 n=3i,avg=1.5,tag\=x=2,name="x",ok=true,last=1500i 2000`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := l
			l.Session = tt.session
			s, err := NewInfluxDB(context.Background(), &pipeline.InfluxDBTarget{URL: "http://h:8086", DB: "d", Measurement: tt.measurement}, ServingOptions{Layout: l})
			if err != nil {
				t.Fatal(err)
			}
			w, err := l.read(row(tt.keys, tt.aggs...))
			if err != nil {
				t.Fatal(err)
			}
			if got := string(s.appendLine(nil, &w)); got != tt.want+"\n" {
				t.Errorf("line\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestInfluxEndpoint(t *testing.T) {
	for _, tt := range []struct {
		t    pipeline.InfluxDBTarget
		want string
	}{
		{pipeline.InfluxDBTarget{URL: "http://h:8086", DB: "d b"}, "http://h:8086/write?db=d+b&precision=ms"},
		{pipeline.InfluxDBTarget{URL: "https://h/influx/", Org: "o", Bucket: "b", Token: "t"}, "https://h/influx/api/v2/write?bucket=b&org=o&precision=ms"},
	} {
		s, err := NewInfluxDB(context.Background(), &tt.t, ServingOptions{Layout: testLayout})
		if err != nil || s.endpoint != tt.want {
			t.Errorf("endpoint %q, %v; want %q", s.endpoint, err, tt.want)
		}
	}
	if _, err := NewInfluxDB(context.Background(), &pipeline.InfluxDBTarget{URL: "h:8086", DB: "d"}, ServingOptions{Layout: testLayout}); err == nil {
		t.Error("a URL without scheme was taken")
	}
}

// TestInfluxFailures injects failures with an httptest server (the real
// InfluxDB cannot be made to answer 5xx or 429 on demand): 5xx and 429 are
// retried with backoff, a 4xx fails at once naming the rejected line, and
// the body arrives gzipped with the v2 token.
func TestInfluxFailures(t *testing.T) {
	for _, tt := range []struct {
		name      string
		statuses  []int
		body      string
		wantTries int32
		wantErr   string
	}{
		{"ok", []int{204}, "", 1, ""},
		{"5xx then ok", []int{503, 500, 204}, "busy", 3, ""},
		{"429 then ok", []int{429, 204}, "slow down", 2, ""},
		{"5xx always", []int{503, 503, 503}, "busy", 3, "influxdb URL: write 2 points: HTTP 503 Service Unavailable: busy (gave up after 3 tries)"},
		{"4xx", []int{400}, `{"error":"unable to parse 'clicks,user=b n=2i,avg=2 20000': bad"}`, 1,
			`influxdb URL: write 2 points: HTTP 400 Bad Request: {"error":"unable to parse 'clicks,user=b n=2i,avg=2 20000': bad"}; rejected line 2 of the batch: clicks,user=b n=2i,avg=2 20000`},
		{"4xx unquoted", []int{401}, "unauthorized", 1,
			"influxdb URL: write 2 points: HTTP 401 Unauthorized: unauthorized; the batch's first line: clicks,user=a n=1i,avg=1 20000"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var tries atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := tries.Add(1)
				zr, err := gzip.NewReader(r.Body)
				if err != nil || r.Header.Get("Authorization") != "Token tok" || r.URL.Path != "/api/v2/write" {
					t.Errorf("request %s, %v, auth %q", r.URL, err, r.Header.Get("Authorization"))
					w.WriteHeader(500)
					return
				}
				if b, _ := io.ReadAll(zr); strings.Count(string(b), "\n") != 2 {
					t.Errorf("body %q", b)
				}
				w.WriteHeader(tt.statuses[n-1])
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			s, err := NewInfluxDB(context.Background(), &pipeline.InfluxDBTarget{URL: srv.URL, Org: "o", Bucket: "b", Token: "tok", Measurement: "clicks"},
				ServingOptions{Layout: testLayout, Retry: Retry{Attempts: 3, Base: time.Millisecond, Max: time.Millisecond}})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range []*Row{testRow("a", 20000, 0, 1, 1), testRow("b", 20000, 0, 2, 2)} {
				if err := s.Write(r); err != nil {
					t.Fatal(err)
				}
			}
			err = s.Close()
			got := ""
			if err != nil {
				got = strings.ReplaceAll(err.Error(), srv.URL, "URL")
			}
			if got != tt.wantErr || tries.Load() != tt.wantTries {
				t.Errorf("after %d tries: %s\nwant after %d: %s", tries.Load(), got, tt.wantTries, tt.wantErr)
			}
			if d := s.Delivery(); (d.Written == 2) != (tt.wantErr == "") || d.Total != 2 {
				t.Errorf("delivery %+v", d)
			}
			// every try but a last good one failed; every try after the first is a retry
			want := SendCounts{Written: 2, Errors: int64(tt.wantTries) - 1, Retries: int64(tt.wantTries) - 1}
			if tt.wantErr != "" {
				want.Written, want.Errors = 0, int64(tt.wantTries)
			}
			if got := s.SendCounts(); got != want {
				t.Errorf("send counts %+v, want %+v", got, want)
			}
		})
	}
}

// TestInfluxFlushEvery: a partial batch goes out on its own once its first
// point has waited the flush interval.
func TestInfluxFlushEvery(t *testing.T) {
	got := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(204)
		got <- struct{}{}
	}))
	defer srv.Close()
	s, err := NewInfluxDB(context.Background(), &pipeline.InfluxDBTarget{URL: srv.URL, DB: "d", Flush: "20ms"}, ServingOptions{Layout: testLayout})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(testRow("a", 20000, 0, 1, 1)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("the partial batch was not sent")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if d := s.Delivery(); d.Written != 1 {
		t.Errorf("delivery %+v", d)
	}
}

// TestInfluxBatchesInFlight: the sink sends a batch while the one before
// is still in flight, a batch holding a late revision waits until every
// earlier batch was accepted, Flush waits for all of them, and a batch
// that fails in the background fails the sink's next call.
func TestInfluxBatchesInFlight(t *testing.T) {
	var mu sync.Mutex
	var order []string // each request's first line, in arrival order
	done := 0          // requests answered
	arrived := make(chan string, 8)
	release := make(chan int, 8) // the status to answer the next blocked request with
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		zr, _ := gzip.NewReader(r.Body)
		b, _ := io.ReadAll(zr)
		line := strings.TrimSpace(string(b))
		mu.Lock()
		order = append(order, fmt.Sprintf("%s after %d", line, done))
		mu.Unlock()
		arrived <- line
		status := <-release
		mu.Lock()
		done++
		mu.Unlock()
		w.WriteHeader(status)
	}))
	defer srv.Close()
	s, err := NewInfluxDB(context.Background(), &pipeline.InfluxDBTarget{URL: srv.URL, DB: "d", BatchRows: 1, Measurement: "m"},
		ServingOptions{Layout: testLayout, Retry: Retry{Attempts: 1, Base: time.Millisecond, Max: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	wait := func(what string) string {
		select {
		case l := <-arrived:
			return l
		case <-time.After(10 * time.Second):
			t.Fatalf("%s never reached the server", what)
		}
		return ""
	}
	// two batches of revision 0: both in flight at once
	for _, r := range []*Row{testRow("a", 20000, 0, 1, 1), testRow("b", 20000, 0, 2, 2)} {
		if err := s.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	wait("the first batch")
	wait("the second batch, while the first was in flight")
	release <- 204
	release <- 204
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := s.Delivery(); d.Written != 2 || d.Total != 2 {
		t.Errorf("delivery after Flush %+v", d)
	}
	// a late revision of a's point while c's batch is in flight: sent
	// only once c's was answered
	if err := s.Write(testRow("c", 30000, 0, 1, 1)); err != nil {
		t.Fatal(err)
	}
	wait("c's batch")
	wrote := make(chan error, 1)
	go func() { wrote <- s.Write(testRow("a", 20000, 1, 9, 9)) }()
	time.Sleep(20 * time.Millisecond) // time for a wrong early send to show
	release <- 204
	if l := wait("the late revision"); l != "m,user=a n=9i,avg=9 20000" {
		t.Errorf("fourth request %q", l)
	}
	release <- 204
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(order) != 4 || order[3] != "m,user=a n=9i,avg=9 20000 after 3" {
		t.Errorf("requests: %q", order)
	}
	mu.Unlock()

	// a batch rejected in the background: the next call fails, and only
	// what the server accepted is written
	if err := s.Write(testRow("c", 20000, 0, 1, 1)); err != nil {
		t.Fatal(err)
	}
	wait("the fifth batch")
	release <- 400
	if err := s.Flush(context.Background()); err == nil || !strings.Contains(err.Error(), "HTTP 400") {
		t.Errorf("Flush after a rejected batch: %v", err)
	}
	if err := s.Write(testRow("d", 20000, 0, 1, 1)); err == nil {
		t.Error("a Write after a rejected batch was taken")
	}
	if d := s.Delivery(); d.Written != 4 || d.Total != 5 {
		t.Errorf("delivery after the rejection %+v", d)
	}
}
