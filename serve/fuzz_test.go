package serve

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/value"
)

// FuzzBatchGet feeds batchGet arbitrary bodies: it answers 200 with one
// result per key asked for, or 400/413 with an error, never anything else
// and never a panic.
func FuzzBatchGet(f *testing.F) {
	for _, s := range []string{`{"keys":[["u1","DE"]]}`, `{"keys":[]}`, `{"keys":[["u1",1.5],["x",null],[true,"DE"]]}`,
		`{"keys":"u1"}`, `{"keys":[["u1"]]}`, `{"keys":[["u1","DE"]]} trailing`, `[`, `{"keys":[[{"a":1},"b"]]}`, `{"keys":[[1e400,"x"]]}`} {
		f.Add(s)
	}
	tb := NewTable(testLayout, TableOptions{})
	_ = tb.Write(row("u1", value.OfString("DE"), 0, 60, 0, 1, 1))
	h, err := Handler(Config{Pipeline: "clicks", Table: tb, MaxBatch: 50})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/v1/features/clicks:batchGet", strings.NewReader(body)))
		var out struct {
			Results []json.RawMessage
			Error   string
		}
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatalf("status %d, body not JSON: %v\n%s", w.Code, err, w.Body)
		}
		switch w.Code {
		case 200:
			var req struct{ Keys []json.RawMessage }
			if err := json.Unmarshal([]byte(body), &req); err != nil {
				t.Fatalf("200 for a body encoding/json refuses: %v", err)
			}
			if len(out.Results) != len(req.Keys) {
				t.Fatalf("%d results for %d keys", len(out.Results), len(req.Keys))
			}
		case 400, 413:
			if out.Error == "" {
				t.Fatalf("%d without an error message: %s", w.Code, w.Body)
			}
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
	})
}

// FuzzKeyParams: keyParams reads a query as url.ParseQuery does: where
// ParseQuery finds only key parameters and no error, the same values in
// the same order; where it finds another name, an error.
func FuzzKeyParams(f *testing.F) {
	for _, s := range []string{"key=u1&key=DE", "key=u%31&&key=D%45", "key=a+b", "user=u1", "key=%zz", "key", "k%65y=x", "=x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		if strings.Contains(q, ";") {
			return // ParseQuery refuses a semicolon; keyParams keeps it in a value
		}
		want, werr := url.ParseQuery(q)
		got, err := keyParams(q, nil)
		if werr != nil {
			if err == nil {
				t.Fatalf("keyParams(%q) = %q, ParseQuery: %v", q, got, werr)
			}
			return
		}
		other := false
		for k := range want {
			other = other || k != "key"
		}
		switch {
		case other && err == nil:
			t.Fatalf("keyParams(%q) = %q, no error for %v", q, got, want)
		case !other && err != nil:
			t.Fatalf("keyParams(%q): %v, ParseQuery %v", q, err, want)
		case !other && strings.Join(got, "\x00") != strings.Join(want["key"], "\x00"):
			t.Fatalf("keyParams(%q) = %q, ParseQuery %q", q, got, want["key"])
		}
	})
}
