package sink

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang/snappy"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/value"
)

// decodeWriteRequest reads a WriteRequest back as one line per series:
// name{labels} t=v t=v.
func decodeWriteRequest(t *testing.T, b []byte) []string {
	t.Helper()
	fields := func(b []byte, f func(num protowire.Number, typ protowire.Type, v []byte, x uint64)) {
		for len(b) > 0 {
			num, typ, n := protowire.ConsumeTag(b)
			if n < 0 {
				t.Fatal("bad tag")
			}
			b = b[n:]
			switch typ {
			case protowire.BytesType:
				v, n := protowire.ConsumeBytes(b)
				f(num, typ, v, 0)
				b = b[n:]
			case protowire.Fixed64Type:
				x, n := protowire.ConsumeFixed64(b)
				f(num, typ, nil, x)
				b = b[n:]
			case protowire.VarintType:
				x, n := protowire.ConsumeVarint(b)
				f(num, typ, nil, x)
				b = b[n:]
			default:
				t.Fatalf("type %d", typ)
			}
		}
	}
	var out []string
	fields(b, func(_ protowire.Number, _ protowire.Type, ts []byte, _ uint64) {
		var labels, samples []string
		fields(ts, func(num protowire.Number, _ protowire.Type, m []byte, _ uint64) {
			var a, c string
			fields(m, func(n protowire.Number, typ protowire.Type, v []byte, x uint64) {
				switch {
				case num == 1 && n == 1:
					a = string(v)
				case num == 1:
					c = string(v)
				case n == 1:
					c = fmt.Sprint(math.Float64frombits(x))
				default:
					a = fmt.Sprint(int64(x))
				}
			})
			if num == 1 {
				labels = append(labels, a+"="+c)
			} else {
				samples = append(samples, a+"="+c)
			}
		})
		out = append(out, strings.Join(labels, ",")+" "+strings.Join(samples, " "))
	})
	return out
}

func TestPrometheusWriteRequest(t *testing.T) {
	l := Layout{Pipeline: "clicks", Keys: []string{"user", "pipeline"}, Revision: true, Aggregates: []string{"n", "avg-ms", "name"}}
	s, err := NewPrometheus(context.Background(), &pipeline.PrometheusTarget{RemoteWrite: "http://h/api/v1/write", Prefix: "eddy"}, ServingOptions{Layout: l})
	if err != nil {
		t.Fatal(err)
	}
	row := func(user string, end, rev, n int64, avg value.Value) {
		w, err := l.read(&Row{Vals: []value.Value{value.OfString(user), value.OfString("p"), value.OfTime(end - 10), value.OfTime(end),
			value.OfInt(rev), value.OfInt(n), avg, value.OfString("text")}})
		if err != nil {
			t.Fatal(err)
		}
		s.add(&w)
	}
	row("a", 30, 0, 3, value.OfFloat(1.5))
	row("b", 20, 0, 1, value.Value{})
	row("a", 20, 0, 2, value.OfFloat(0.5)) // earlier window, later row: sorted before
	row("a", 30, 1, 4, value.OfFloat(2))   // a revision in the batch: replaces (a, 30)
	got := decodeWriteRequest(t, appendWriteRequest(nil, s.prepare()))
	want := []string{
		"__name__=eddy_n,exported_pipeline=p,pipeline=clicks,user=a 20=2 30=4",
		"__name__=eddy_avg_ms,exported_pipeline=p,pipeline=clicks,user=a 20=0.5 30=2",
		"__name__=eddy_n,exported_pipeline=p,pipeline=clicks,user=b 20=1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("series:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if s.stale != 2 {
		t.Errorf("stale = %d, want 2 (the replaced revision of both series)", s.stale)
	}
	for in, want := range map[string]string{"a-b.c": "a_b_c", "9lives": "_9lives", "ok_1": "ok_1", "": "_"} {
		if got := promName(in); got != want {
			t.Errorf("promName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPrometheusFailures injects failures with an httptest server (the
// real Prometheus cannot be made to answer 5xx on demand): 5xx is retried,
// a 400 for old samples falls back to one request per series and counts
// the refused as stale, another 4xx fails naming the server.
func TestPrometheusFailures(t *testing.T) {
	for _, tt := range []struct {
		name      string
		answer    func(n int32, body []string) (int, string)
		wantTries int32
		wantErr   string
		wantStale int64
	}{
		{"5xx then ok", func(n int32, _ []string) (int, string) {
			if n < 3 {
				return 503, "busy"
			}
			return 204, ""
		}, 3, "", 0},
		{"out of order series", func(_ int32, body []string) (int, string) {
			if len(body) > 1 || strings.Contains(body[0], "user=a") {
				return 400, "out of order sample"
			}
			return 204, ""
		}, 4, "", 1},
		// a sample before the server's head block is held nowhere: not stale, a failure
		{"out of bounds", func(int32, []string) (int, string) { return 400, "out of bounds" }, 1,
			"prometheus URL: write 2 rows: HTTP 400 Bad Request: out of bounds", 0},
		{"4xx", func(int32, []string) (int, string) { return 401, "no" }, 1,
			"prometheus URL: write 2 rows: HTTP 401 Unauthorized: no", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var tries atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := tries.Add(1)
				z, _ := io.ReadAll(r.Body)
				b, err := snappy.Decode(nil, z)
				if err != nil || r.Header.Get("Content-Encoding") != "snappy" {
					t.Errorf("body: %v", err)
				}
				code, msg := tt.answer(n, decodeWriteRequest(t, b))
				w.WriteHeader(code)
				io.WriteString(w, msg)
			}))
			defer srv.Close()
			l := Layout{Pipeline: "p", Keys: []string{"user"}, Aggregates: []string{"n"}}
			s, err := NewPrometheus(context.Background(), &pipeline.PrometheusTarget{RemoteWrite: srv.URL},
				ServingOptions{Layout: l, Retry: Retry{Attempts: 3, Base: time.Millisecond, Max: time.Millisecond}})
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range []string{"a", "b"} {
				if err := s.Write(&Row{Vals: []value.Value{value.OfString(u), value.OfTime(0), value.OfTime(10), value.OfInt(1)}}); err != nil {
					t.Fatal(err)
				}
			}
			err = s.Close()
			got := ""
			if err != nil {
				got = strings.ReplaceAll(err.Error(), srv.URL, "URL")
			}
			if got != tt.wantErr || tries.Load() != tt.wantTries || s.Stale() != tt.wantStale {
				t.Errorf("after %d tries, stale %d: %s\nwant after %d, stale %d: %s", tries.Load(), s.Stale(), got, tt.wantTries, tt.wantStale, tt.wantErr)
			}
		})
	}
}
