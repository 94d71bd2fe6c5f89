package flinkgw

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"
)

func TestSplit(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"SET 'a' = 'b';\nSELECT 1;", []string{"SET 'a' = 'b'", "SELECT 1"}},
		{"-- header; with a semicolon\nSELECT ';' AS `x;y`;\n", []string{"SELECT ';' AS `x;y`"}},
		{"SELECT 'it''s; fine';", []string{"SELECT 'it''s; fine'"}},
		{"EXECUTE STATEMENT SET\nBEGIN\nINSERT INTO a SELECT 1;\nINSERT INTO b SELECT 2;\nEND;\n",
			[]string{"EXECUTE STATEMENT SET\nBEGIN\nINSERT INTO a SELECT 1;\nINSERT INTO b SELECT 2;\nEND"}},
		{"-- only a comment\n", nil},
		{"SELECT 1", []string{"SELECT 1"}},
	} {
		got := Split(c.in)
		if strings.Join(got, "|") != strings.Join(c.want, "|") || len(got) != len(c.want) {
			t.Errorf("Split(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// Split never loses text outside comments: the statements joined hold every
// non-space rune of the script that is not in a comment line.
func FuzzSplit(f *testing.F) {
	f.Add("SET 'a' = 'b';\nSELECT 1;")
	f.Add("EXECUTE STATEMENT SET BEGIN INSERT INTO a SELECT 1; END;")
	f.Add("SELECT '`;'; -- x;\n SELECT `a'`;")
	f.Fuzz(func(t *testing.T, s string) {
		if strings.Contains(s, "--") || !utf8.ValidString(s) {
			return
		}
		var want, got strings.Builder
		for _, r := range s {
			if r != ';' && !strings.ContainsRune(" \t\r\n\v\f\u0085\u00a0", r) {
				want.WriteRune(r)
			}
		}
		for _, st := range Split(s) {
			for _, r := range st {
				if r != ';' && !strings.ContainsRune(" \t\r\n\v\f\u0085\u00a0", r) {
					got.WriteRune(r)
				}
			}
		}
		if want.String() != got.String() {
			t.Fatalf("Split(%q) lost text: %q vs %q", s, got.String(), want.String())
		}
	})
}

// The client's side of the protocol against a recorded-shape server: the
// unit test of the request sequence; the integration test runs the real
// gateway (cmd/integration_flink_test.go).
func TestExecuteSequence(t *testing.T) {
	var statuses atomic.Int32
	var fail atomic.Int32
	fail.Store(1)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/sessions", func(w http.ResponseWriter, r *http.Request) {
		if fail.Add(-1) >= 0 {
			http.Error(w, "busy", http.StatusServiceUnavailable) // retried
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"sessionHandle": "s1"})
	})
	mux.HandleFunc("POST /v1/sessions/s1/statements", func(w http.ResponseWriter, r *http.Request) {
		var body map[string]string
		json.NewDecoder(r.Body).Decode(&body)
		op := "ok"
		if strings.HasPrefix(body["statement"], "BAD") {
			op = "bad"
		} else if strings.HasPrefix(body["statement"], "SELECT") {
			op = "query"
		}
		json.NewEncoder(w).Encode(map[string]string{"operationHandle": op})
	})
	mux.HandleFunc("GET /v1/sessions/s1/operations/{op}/status", func(w http.ResponseWriter, r *http.Request) {
		st := "RUNNING"
		if statuses.Add(1)%2 == 0 {
			st = "FINISHED"
			if r.PathValue("op") == "bad" {
				st = "ERROR"
			}
		}
		json.NewEncoder(w).Encode(map[string]string{"status": st})
	})
	mux.HandleFunc("GET /v1/sessions/s1/operations/{op}/result/0", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("op") == "bad" {
			w.WriteHeader(http.StatusInternalServerError)
			json.NewEncoder(w).Encode(map[string]any{"errors": []string{"Internal server error.", "org.x.SqlGatewayException: failed\n\tat x\nCaused by: org.apache.calcite.sql.validate.SqlValidatorException: Column 'b' not found in any table\n\tat y"}})
			return
		}
		if r.PathValue("op") == "query" {
			// a query's first page: some rows, a job id, more to come
			w.Write([]byte(`{"resultType":"PAYLOAD","isQueryResult":true,"jobID":"fedcba9876543210fedcba9876543210","results":{"columns":[{"name":"x"}],"data":[{"kind":"INSERT","fields":[1]}]},"nextResultUri":"/v1/sessions/s1/operations/query/result/1"}`))
			return
		}
		// an INSERT's job id; the next page is never asked for
		w.Write([]byte(`{"resultType":"PAYLOAD","isQueryResult":false,"jobID":"0123456789abcdef0123456789abcdef","results":{"columns":[{"name":"job id"}],"data":[{"kind":"INSERT","fields":["0123456789abcdef0123456789abcdef"]}]},"nextResultUri":"/v1/sessions/s1/operations/ok/result/9"}`))
	})
	var notReady atomic.Int32
	mux.HandleFunc("GET /v1/sessions/s1/operations/query/result/1", func(w http.ResponseWriter, r *http.Request) {
		if notReady.Add(1) == 1 {
			w.Write([]byte(`{"resultType":"NOT_READY","isQueryResult":true,"jobID":"fedcba9876543210fedcba9876543210","results":{"columns":[{"name":"x"}],"data":[]},"nextResultUri":"/v1/sessions/s1/operations/query/result/1"}`))
			return
		}
		w.Write([]byte(`{"resultType":"PAYLOAD","isQueryResult":true,"jobID":"fedcba9876543210fedcba9876543210","results":{"columns":[{"name":"x"}],"data":[{"kind":"INSERT","fields":[2]},{"kind":"INSERT","fields":[3]}]},"nextResultUri":"/v1/sessions/s1/operations/query/result/2"}`))
	})
	mux.HandleFunc("GET /v1/sessions/s1/operations/query/result/2", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"resultType":"EOS","isQueryResult":true,"jobID":"fedcba9876543210fedcba9876543210","results":{"columns":[{"name":"x"}],"data":[]}}`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c, err := New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	c.Poll = time.Millisecond
	ctx := context.Background()
	s, err := c.Open(ctx, "t", nil)
	if err != nil {
		t.Fatalf("open after a 503: %v", err)
	}
	r, err := s.Execute(ctx, "INSERT INTO x SELECT 1")
	if err != nil {
		t.Fatal(err)
	}
	if r.JobID != "0123456789abcdef0123456789abcdef" || len(r.Rows) != 1 || r.Columns[0] != "job id" {
		t.Errorf("result %+v", r)
	}
	// a query's rows carry its job id too, and run over pages to EOS
	r, err = s.Execute(ctx, "SELECT x FROM t")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Rows) != 3 || r.Rows[2][0] != float64(3) {
		t.Errorf("query rows %v, want [[1] [2] [3]]", r.Rows)
	}
	_, err = s.Execute(ctx, "BAD")
	if err == nil || !strings.Contains(err.Error(), "Column 'b' not found") {
		t.Errorf("error %v, want the cause line", err)
	}
}

func TestNewRefusesBadURL(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:8083", "ftp://x", "http://"} {
		if _, err := New(u); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
}

// A gateway that is not there is retried, then named.
func TestUnreachable(t *testing.T) {
	c, _ := New("http://127.0.0.1:1")
	c.Retries = 1
	_, err := c.Open(context.Background(), "t", nil)
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("error %v, want the gateway named", err)
	}
}
