package serve

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eddyhq/eddy/value"
)

// testServer serves a table holding u1/DE (two windows, the later kept)
// and u2/FR over real HTTP on loopback.
func testServer(t *testing.T, cfg Config) *httptest.Server {
	t.Helper()
	tb := NewTable(testLayout, TableOptions{})
	for _, r := range []struct {
		user, country  string
		start, end, rv int64
		n              int64
		revenue        float64
	}{{"u1", "DE", 0, 60, 0, 3, 1.5}, {"u1", "DE", 60, 120, 1, 2, 4.25}, {"u2", "FR", 0, 60, 0, 7, 0}} {
		if err := tb.Write(row(r.user, value.OfString(r.country), r.start, r.end, r.rv, r.n, r.revenue)); err != nil {
			t.Fatal(err)
		}
	}
	cfg.Pipeline, cfg.Table = "clicks", tb
	h, err := Handler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, method, url, token, body string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestHandlers(t *testing.T) {
	notReady := errors.New("restoring state")
	ready := error(nil)
	srv := testServer(t, Config{Ready: func() error { return ready }, MaxBatch: 3})
	u1 := `{"key":{"user":"u1","country":"DE"},"window_start":"1970-01-01T00:01:00.000Z","window_end":"1970-01-01T00:02:00.000Z","revision":1,"aggregates":{"n":2,"revenue":4.25}`
	tests := []struct {
		name, method, path, body string
		notReady                 bool
		status                   int
		want                     []string // substrings of the response body
	}{
		{"get", "GET", "/v1/features/clicks?key=u1&key=DE", "", false, 200, []string{u1 + `,"age_ms":`}},
		{"get the other key", "GET", "/v1/features/clicks?key=u2&key=FR", "", false, 200, []string{`"n":7`, `"revision":0`}},
		{"get a missing key", "GET", "/v1/features/clicks?key=u3&key=DE", "", false, 404, []string{`{"error":"no closed window for this key","key":{"user":"u3","country":"DE"}}`}},
		{"key order matters", "GET", "/v1/features/clicks?key=DE&key=u1", "", false, 404, []string{"no closed window"}},
		{"one key value of two", "GET", "/v1/features/clicks?key=u1", "", false, 400, []string{"1 key value(s) given: give 2 key value(s) as ?key=V, one per key field in this order: user, country"}},
		{"escaped values", "GET", "/v1/features/clicks?key=u%31&&key=D%45", "", false, 200, []string{u1 + `,"age_ms":`}},
		{"a bad escape", "GET", "/v1/features/clicks?key=u%zz&key=DE", "", false, 400, []string{`query parameter \"key=u%zz\"`}},
		{"a field name instead of key", "GET", "/v1/features/clicks?user=u1&key=DE", "", false, 400, []string{`unknown query parameter \"user\"`}},
		{"another pipeline", "GET", "/v1/features/views?key=u1&key=DE", "", false, 404, []string{`no pipeline \"views\" here (this server serves \"clicks\")`}},
		{"batch", "POST", "/v1/features/clicks:batchGet", `{"keys":[["u1","DE"],["nobody","DE"],["u2","FR"]]}`, false, 200,
			[]string{`{"results":[{"found":true,` + u1[1:] + `,"age_ms":`, `{"found":false,"key":{"user":"nobody","country":"DE"}}`, `"n":7`}},
		{"batch empty", "POST", "/v1/features/clicks:batchGet", `{"keys":[]}`, false, 200, []string{`{"results":[]}`}},
		{"batch too many", "POST", "/v1/features/clicks:batchGet", `{"keys":[["a","b"],["a","b"],["a","b"],["a","b"]]}`, false, 400, []string{"4 keys asked for, at most 3 per request"}},
		{"batch wrong length", "POST", "/v1/features/clicks:batchGet", `{"keys":[["u1","DE"],"u1"]}`, false, 400, []string{"keys[1]: 1 value(s), want 2 (user, country)"}},
		{"batch not JSON", "POST", "/v1/features/clicks:batchGet", `keys=u1`, false, 400, []string{`want a JSON object {\"keys\": [[V, …], …]}`}},
		{"batch data after the object", "POST", "/v1/features/clicks:batchGet", `{"keys":[]} {"keys":[]}`, false, 400, []string{"data after it"}},
		{"batch unknown field", "POST", "/v1/features/clicks:batchGet", `{"key":[["u1","DE"]]}`, false, 400, []string{`unknown field \"key\"`}},
		{"batch an object value", "POST", "/v1/features/clicks:batchGet", `{"keys":[["u1",{"a":1}]]}`, false, 400, []string{"keys[0][1]: a key value is a string, number, boolean or null"}},
		{"batch too big", "POST", "/v1/features/clicks:batchGet", `{"keys":["` + strings.Repeat("x", maxBody) + `"]}`, false, 413, []string{"too large"}},
		{"batch without the verb", "POST", "/v1/features/clicks", `{"keys":[]}`, false, 404, []string{"POST goes to /v1/features/{pipeline}:batchGet"}},
		{"batch another pipeline", "POST", "/v1/features/views:batchGet", `{"keys":[]}`, false, 404, []string{`no pipeline \"views\"`}},
		{"healthz", "GET", "/healthz", "", true, 200, []string{`{"ok":true}`}},
		{"readyz not ready", "GET", "/readyz", "", true, 503, []string{`{"ready":false,"reason":"restoring state"}`}},
		{"readyz", "GET", "/readyz", "", false, 200, []string{`{"ready":true}`}},
		{"metrics", "GET", "/metrics", "", false, 200, []string{`eddy_serve_keys{pipeline="clicks"} 2`, `eddy_serve_stale_rows_total{pipeline="clicks"} 0`, "eddy_serve_request_seconds_bucket",
			`eddy_serve_requests_total{code="200",route="get"} 3`, `eddy_serve_requests_total{code="400",route="get"} 3`, `eddy_serve_requests_total{code="413",route="batchGet"} 1`}},
		{"openapi", "GET", "/openapi.json", "", false, 200, []string{`"openapi": "3.0.3"`}},
		{"unknown route", "GET", "/v2/features/clicks", "", false, 404, nil},
		{"wrong method", "DELETE", "/v1/features/clicks", "", false, 405, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ready = nil
			if tt.notReady {
				ready = notReady
			}
			status, body, hdr := do(t, tt.method, srv.URL+tt.path, "", tt.body)
			if status != tt.status {
				t.Errorf("status %d, want %d; body %s", status, tt.status, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("body lacks %s\n%s", w, body)
				}
			}
			if strings.HasPrefix(tt.path, "/v1/") && status != 405 {
				if ct := hdr.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type %q", ct)
				}
				if cl := hdr.Get("Content-Length"); cl != strconv.Itoa(len(body)) {
					t.Errorf("Content-Length %q, body of %d bytes", cl, len(body))
				}
				var v any
				if err := json.Unmarshal([]byte(body), &v); err != nil {
					t.Errorf("body is not JSON: %v\n%s", err, body)
				}
			}
		})
	}
}

// TestBatchKeyValues: batch keys may be numbers, booleans and null, and a
// pipeline of one key field takes bare values.
func TestBatchKeyValues(t *testing.T) {
	l := testLayout
	l.Keys = []string{"id"}
	tb := NewTable(l, TableOptions{})
	for _, k := range []value.Value{value.OfInt(7), value.OfFloat(2.5), value.OfBool(false), {}} {
		r := row("", value.Value{}, 0, 60, 0, 1, 1)
		r.Vals = append([]value.Value{k}, r.Vals[2:]...)
		if err := tb.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	h, err := Handler(Config{Pipeline: "p", Table: tb})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	status, body, _ := do(t, "POST", srv.URL+"/v1/features/p:batchGet", "", `{"keys":[7, 7.0, [2.5], false, null, "7", 8]}`)
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	var res struct{ Results []struct{ Found bool } }
	if err := json.Unmarshal([]byte(body), &res); err != nil {
		t.Fatal(err)
	}
	var found []bool
	for _, r := range res.Results {
		found = append(found, r.Found)
	}
	if want := []bool{true, true, true, true, true, true, false}; !equal(found, want) {
		t.Errorf("found %v, want %v\n%s", found, want, body)
	}
	if status, body, _ := do(t, "GET", srv.URL+"/v1/features/p?key=7.0", "", ""); status != 404 {
		t.Errorf("GET ?key=7.0 = %d %s: a query's value is text, matched as given", status, body)
	}
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestToken(t *testing.T) {
	srv := testServer(t, Config{Token: "s3cret"})
	tests := []struct {
		path, token string
		status      int
	}{
		{"/v1/features/clicks?key=u1&key=DE", "s3cret", 200},
		{"/v1/features/clicks?key=u1&key=DE", "", 401},
		{"/v1/features/clicks?key=u1&key=DE", "s3cre", 401},
		{"/v1/features/clicks?key=u1&key=DE", "s3cret2", 401},
		{"/metrics", "", 401},
		{"/metrics", "s3cret", 200},
		{"/openapi.json", "", 401},
		{"/healthz", "", 200},
		{"/readyz", "", 200},
	}
	for _, tt := range tests {
		status, body, hdr := do(t, "GET", srv.URL+tt.path, tt.token, "")
		if status != tt.status {
			t.Errorf("%s with token %q: %d, want %d (%s)", tt.path, tt.token, status, tt.status, body)
		}
		if status == 401 && hdr.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", tt.path)
		}
	}
	status, _, _ := do(t, "POST", srv.URL+"/v1/features/clicks:batchGet", "", `{"keys":[]}`)
	if status != 401 {
		t.Errorf("batchGet without the token: %d, want 401", status)
	}
}

// TestOpenAPIHasEveryRoute: every route the server serves is in the
// OpenAPI document and every path of the document is served.
func TestOpenAPIHasEveryRoute(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi %q, want 3.x", doc.OpenAPI)
	}
	srv := testServer(t, Config{})
	served := map[string]bool{}
	for _, r := range Routes() {
		served[r.Method+" "+r.Path] = true
		if _, ok := doc.Paths[r.Path][strings.ToLower(r.Method)]; !ok {
			t.Errorf("%s %s is served but not in openapi.json", r.Method, r.Path)
		}
		// the route answers with something other than the mux's 404/405
		path := strings.ReplaceAll(r.Path, "{pipeline}", "clicks")
		body := ""
		if r.Method == "POST" {
			body = `{"keys":[]}`
		}
		if status, b, _ := do(t, r.Method, srv.URL+path, "", body); status == 404 && !strings.Contains(b, "{") || status == 405 {
			t.Errorf("%s %s listed in Routes is not served: %d %s", r.Method, path, status, b)
		}
	}
	for p, ops := range doc.Paths {
		for m := range ops {
			if !served[strings.ToUpper(m)+" "+p] {
				t.Errorf("openapi.json has %s %s, which Routes does not list", m, p)
			}
		}
	}
}

func TestListenCheck(t *testing.T) {
	tests := []struct {
		name    string
		l       Listen
		want    string
		wantErr string
	}{
		{"port only is loopback", Listen{Addr: ":8080"}, "127.0.0.1:8080", ""},
		{"loopback", Listen{Addr: "127.0.0.1:0"}, "127.0.0.1:0", ""},
		{"localhost", Listen{Addr: "localhost:80"}, "localhost:80", ""},
		{"ipv6 loopback", Listen{Addr: "[::1]:80"}, "[::1]:80", ""},
		{"all interfaces refused", Listen{Addr: "0.0.0.0:8080"}, "", "--listen 0.0.0.0:8080 is not a loopback address: refusing"},
		{"a name refused", Listen{Addr: "example.com:8080"}, "", "is not a loopback address"},
		{"tls alone is no authentication", Listen{Addr: "0.0.0.0:8080", TLSCert: "c", TLSKey: "k"}, "", "is not a loopback address"},
		{"with a token", Listen{Addr: "0.0.0.0:8080", Token: "t"}, "0.0.0.0:8080", ""},
		{"with mutual tls", Listen{Addr: "[::]:8080", TLSCert: "c", TLSKey: "k", ClientCA: "ca"}, "[::]:8080", ""},
		{"cert without key", Listen{Addr: ":1", TLSCert: "c"}, "", "--serve-tls-cert and --serve-tls-key go together"},
		{"client ca without tls", Listen{Addr: ":1", ClientCA: "ca"}, "", "--client-ca needs --serve-tls-cert and --serve-tls-key"},
		{"no port", Listen{Addr: "localhost"}, "", "want HOST:PORT or :PORT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.l.Check()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Check = %q, %v; want an error with %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Check = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestMutualTLS: with a client CA, a client without a certificate of that
// CA is refused at the handshake and one with it is answered.
func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := newCert(t, nil, nil, "eddy test ca", true)
	srvCert, srvKey := newCert(t, ca, caKey, "127.0.0.1", false)
	cliCert, cliKey := newCert(t, ca, caKey, "client", false)
	other, otherKey := newCert(t, nil, nil, "other ca", true)
	strangerCert, strangerKey := newCert(t, other, otherKey, "stranger", false)
	write := func(name string, blocks ...*pem.Block) string {
		var b []byte
		for _, bl := range blocks {
			b = append(b, pem.EncodeToMemory(bl)...)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	l := Listen{Addr: "127.0.0.1:0", TLSCert: write("s.crt", certPEM(srvCert)), TLSKey: write("s.key", keyPEM(t, srvKey)), ClientCA: write("ca.pem", certPEM(ca))}
	tb := NewTable(testLayout, TableOptions{})
	h, err := Handler(Config{Pipeline: "clicks", Table: tb, Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Start(h, l)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(time.Second)
	if !strings.HasPrefix(s.URL(), "https://") {
		t.Fatalf("URL %s, want https", s.URL())
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	client := func(certs ...tls.Certificate) *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs}}}
	}
	pair := func(c *x509.Certificate, k *ecdsa.PrivateKey) tls.Certificate {
		return tls.Certificate{Certificate: [][]byte{c.Raw}, PrivateKey: k}
	}
	if resp, err := client(pair(cliCert, cliKey)).Get(s.URL() + "/healthz"); err != nil {
		t.Errorf("client with a certificate of the CA: %v", err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("status %d", resp.StatusCode)
		}
	}
	for name, c := range map[string]*http.Client{"no certificate": client(), "another CA's certificate": client(pair(strangerCert, strangerKey))} {
		if resp, err := c.Get(s.URL() + "/healthz"); err == nil {
			resp.Body.Close()
			t.Errorf("client with %s was answered %d", name, resp.StatusCode)
		}
	}
}

func newCert(t *testing.T, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, cn string, isCA bool) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IsCA:        isCA, BasicConstraintsValid: true}
	if ip := net.ParseIP(cn); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

func certPEM(c *x509.Certificate) *pem.Block { return &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw} }

func keyPEM(t *testing.T, k *ecdsa.PrivateKey) *pem.Block {
	b, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return &pem.Block{Type: "EC PRIVATE KEY", Bytes: b}
}

// BenchmarkGet is one lookup over real HTTP on loopback, from
// GOMAXPROCS clients in parallel, against a table of 100,000 keys.
//
//	go test ./serve -run '^$' -bench Get -benchtime 2s
func BenchmarkGet(b *testing.B) {
	tb := NewTable(testLayout, TableOptions{})
	const keys = 100_000
	for i := range keys {
		_ = tb.Write(row(fmt.Sprint("u", i), value.OfString("DE"), 0, 60, 0, 1, 1))
	}
	h, err := Handler(Config{Pipeline: "clicks", Table: tb})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			resp, err := client.Get(fmt.Sprintf("%s/v1/features/clicks?key=u%d&key=DE", srv.URL, i*7919%keys))
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
			i++
		}
	})
}

// BenchmarkHandlerGet is one lookup through the handler alone, without
// a connection: routing, the metrics, the query, the table and the answer.
func BenchmarkHandlerGet(b *testing.B) {
	tb := NewTable(testLayout, TableOptions{})
	const keys = 10_000
	for i := range keys {
		_ = tb.Write(row(fmt.Sprint("u", i), value.OfString("DE"), 0, 60, 0, 1, 1))
	}
	h, err := Handler(Config{Pipeline: "clicks", Table: tb})
	if err != nil {
		b.Fatal(err)
	}
	reqs := make([]*http.Request, 64)
	for i := range reqs {
		reqs[i] = httptest.NewRequest(http.MethodGet, fmt.Sprintf("/v1/features/clicks?key=u%d&key=DE", i*7919%keys), nil)
	}
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clear(w.h)
		w.code = 0
		h.ServeHTTP(w, reqs[i%len(reqs)])
		if w.code != http.StatusOK {
			b.Fatalf("status %d", w.code)
		}
	}
}

// discardWriter is a ResponseWriter that keeps only the status.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}
func (w *discardWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(p), nil
}
