package serve

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
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
