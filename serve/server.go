package serve

import (
	"bytes"
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/eddyhq/eddy/sink"
	"github.com/eddyhq/eddy/value"
)

// Config is what the HTTP handlers answer from.
type Config struct {
	// Pipeline is the name lookups give in /v1/features/{pipeline}.
	Pipeline string
	Table    *Table
	// Registry is served at /metrics; the handler adds the server's own
	// collectors (requests, their latency, the table) to it. Nil: a
	// registry of the server's own.
	Registry *prometheus.Registry
	// Ready says whether /readyz answers 200: nil, or why not. Nil Ready:
	// always ready.
	Ready func() error
	// Token, when set, is the bearer token every route but /healthz and
	// /readyz requires (compared in constant time).
	Token string
	// MaxBatch is the most keys one batchGet may ask for; default 1000.
	MaxBatch int
}

// DefaultMaxBatch is Config.MaxBatch's default.
const DefaultMaxBatch = 1000

// maxBody bounds a batchGet's request body.
const maxBody = 1 << 20

// Route is one route the server serves, as the OpenAPI document names it.
type Route struct{ Method, Path string }

// Routes lists every route Handler serves (the OpenAPI document's test
// holds the two together).
func Routes() []Route {
	return []Route{
		{"GET", "/v1/features/{pipeline}"},
		{"POST", "/v1/features/{pipeline}:batchGet"},
		{"GET", "/healthz"},
		{"GET", "/readyz"},
		{"GET", "/metrics"},
		{"GET", "/openapi.json"},
	}
}

//go:embed openapi.json
var openAPI []byte

// OpenAPI is the OpenAPI 3 document served at /openapi.json.
func OpenAPI() []byte { return openAPI }

type handler struct {
	cfg  Config
	keys []string
	bufs sync.Pool
}

// Handler serves the feature lookups, the probes, the metrics and the
// OpenAPI document.
func Handler(cfg Config) (http.Handler, error) {
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if cfg.Ready == nil {
		cfg.Ready = func() error { return nil }
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	h := &handler{cfg: cfg, keys: cfg.Table.Keys()}
	h.bufs.New = func() any { b := make([]byte, 0, 512); return &b }
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "eddy_serve_requests_total",
		Help: "HTTP requests eddy serve answered, by route and status code."}, []string{"route", "code"})
	lat := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "eddy_serve_request_seconds",
		Help:    "Time eddy serve took to answer, by route.",
		Buckets: []float64{.0001, .00025, .0005, .001, .002, .005, .01, .05, .25, 1}}, []string{"route"})
	for _, c := range []prometheus.Collector{reqs, lat, tableCollector{cfg.Table, cfg.Pipeline}} {
		if err := cfg.Registry.Register(c); err != nil {
			return nil, fmt.Errorf("serve metrics: %w", err)
		}
	}
	mux := http.NewServeMux()
	handle := func(pattern, route string, auth bool, f http.HandlerFunc) {
		var hf http.Handler = f
		if auth && cfg.Token != "" {
			hf = h.auth(hf)
		}
		mux.Handle(pattern, instrument(reqs, lat.WithLabelValues(route), route, hf))
	}
	handle("GET /v1/features/{pipeline}", "get", true, h.get)
	handle("POST /v1/features/{pipeline}", "batchGet", true, h.batchGet)
	handle("GET /healthz", "healthz", false, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, []byte(`{"ok":true}`))
	})
	handle("GET /readyz", "readyz", false, h.ready)
	handle("GET /metrics", "metrics", true, promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{}).ServeHTTP)
	handle("GET /openapi.json", "openapi", true, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, openAPI)
	})
	return mux, nil
}

func (h *handler) auth(next http.Handler) http.Handler {
	want := []byte("Bearer " + h.cfg.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="eddy"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong bearer token (Authorization: Bearer TOKEN)")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (h *handler) ready(w http.ResponseWriter, _ *http.Request) {
	if err := h.cfg.Ready(); err != nil {
		b := append([]byte(`{"ready":false,"reason":`), value.AppendString(nil, err.Error())...)
		writeJSON(w, http.StatusServiceUnavailable, append(b, '}'))
		return
	}
	writeJSON(w, http.StatusOK, []byte(`{"ready":true}`))
}

// pipeline checks the path's pipeline name; false: answered with a 404.
func (h *handler) pipeline(w http.ResponseWriter, name string) bool {
	if name != h.cfg.Pipeline {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no pipeline %q here (this server serves %q)", name, h.cfg.Pipeline))
		return false
	}
	return true
}

func (h *handler) keyHelp() string {
	if len(h.keys) == 0 {
		return "the pipeline has no key fields: give no key"
	}
	return fmt.Sprintf("give %d key value(s) as ?key=V, one per key field in this order: %s", len(h.keys), strings.Join(h.keys, ", "))
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	if !h.pipeline(w, r.PathValue("pipeline")) {
		return
	}
	var arr [4]string
	vals, err := keyParams(r.URL.RawQuery, arr[:0])
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("%v: %s", err, h.keyHelp()))
		return
	}
	if len(vals) != len(h.keys) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("%d key value(s) given: %s", len(vals), h.keyHelp()))
		return
	}
	var scratch [512]byte
	l, ok := h.cfg.Table.Get(vals, scratch[:0])
	bp := h.bufs.Get().(*[]byte)
	defer h.bufs.Put(bp)
	out := (*bp)[:0]
	if !ok {
		out = append(out, `{"error":"no closed window for this key","key":`...)
		out = h.appendKey(out, vals)
		writeJSON(w, http.StatusNotFound, append(out, '}'))
		*bp = out
		return
	}
	out = appendFound(out, l, false)
	writeJSON(w, http.StatusOK, out)
	*bp = out
}

// appendFound appends a lookup's answer object.
func appendFound(b []byte, l Lookup, found bool) []byte {
	b = append(b, '{')
	if found {
		b = append(b, `"found":true,`...)
	}
	b = append(b, l.Body...)
	b = append(b, `,"age_ms":`...)
	b = strconv.AppendInt(b, l.Age.Milliseconds(), 10)
	return append(b, '}')
}

// appendKey appends the key as an object of the key fields' text values.
func (h *handler) appendKey(b []byte, vals []string) []byte {
	b = append(b, '{')
	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, h.cfg.Table.keyNames[i]...)
		b = value.AppendString(b, v)
	}
	return append(b, '}')
}

func (h *handler) batchGet(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutSuffix(r.PathValue("pipeline"), ":batchGet")
	if !ok {
		writeError(w, http.StatusNotFound, "POST goes to /v1/features/{pipeline}:batchGet")
		return
	}
	if !h.pipeline(w, name) {
		return
	}
	keys, err := h.batchKeys(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		status := http.StatusBadRequest
		if errors.As(err, new(*http.MaxBytesError)) {
			status = http.StatusRequestEntityTooLarge
		}
		writeError(w, status, err.Error())
		return
	}
	bp := h.bufs.Get().(*[]byte)
	defer h.bufs.Put(bp)
	out := append((*bp)[:0], `{"results":[`...)
	var scratch [512]byte
	for i, vals := range keys {
		if i > 0 {
			out = append(out, ',')
		}
		l, ok := h.cfg.Table.Get(vals, scratch[:0])
		if ok {
			out = appendFound(out, l, true)
			continue
		}
		out = append(out, `{"found":false,"key":`...)
		out = append(h.appendKey(out, vals), '}')
	}
	out = append(out, "]}"...)
	writeJSON(w, http.StatusOK, out)
	*bp = out
}

// batchKeys reads {"keys": [K, …]}, each K the list of a key's values in
// key-field order, or one value when the pipeline has one key field.
// Values are strings, numbers, booleans or null, matched by their text.
func (h *handler) batchKeys(body io.Reader) ([][]string, error) {
	dec := json.NewDecoder(body)
	dec.UseNumber()
	dec.DisallowUnknownFields()
	var req struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf("want a JSON object {\"keys\": [[V, …], …]}: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("want one JSON object {\"keys\": [[V, …], …]}: data after it")
	}
	if len(req.Keys) > h.cfg.MaxBatch {
		return nil, fmt.Errorf("%d keys asked for, at most %d per request", len(req.Keys), h.cfg.MaxBatch)
	}
	out := make([][]string, len(req.Keys))
	for i, raw := range req.Keys {
		var parts []any
		if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '[' {
			d := json.NewDecoder(bytes.NewReader(t))
			d.UseNumber()
			if err := d.Decode(&parts); err != nil {
				return nil, fmt.Errorf("keys[%d]: %w", i, err)
			}
		} else {
			var v any
			d := json.NewDecoder(bytes.NewReader(t))
			d.UseNumber()
			if err := d.Decode(&v); err != nil {
				return nil, fmt.Errorf("keys[%d]: %w", i, err)
			}
			parts = []any{v}
		}
		if len(parts) != len(h.keys) {
			return nil, fmt.Errorf("keys[%d]: %d value(s), want %d (%s)", i, len(parts), len(h.keys), strings.Join(h.keys, ", "))
		}
		vals := make([]string, len(parts))
		for j, p := range parts {
			s, err := plainText(p)
			if err != nil {
				return nil, fmt.Errorf("keys[%d][%d]: %w", i, j, err)
			}
			vals[j] = s
		}
		out[i] = vals
	}
	return out, nil
}

// plainText is a JSON scalar in the text form rows' keys are matched by
// (sink.AppendPlain): 1 and 1.0 alike.
func plainText(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case nil:
		return "", nil
	case bool:
		return strconv.FormatBool(v), nil
	case json.Number:
		if i, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return string(sink.AppendPlain(nil, value.OfInt(i))), nil
		}
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			return "", err
		}
		return string(sink.AppendPlain(nil, value.OfFloat(f))), nil
	}
	return "", errors.New("a key value is a string, number, boolean or null")
}

// keyParams appends the values of a query's key parameters to vals, in
// their order; any other parameter is an error. It is url.ParseQuery's
// reading for the one parameter a lookup has, without the map
// (docs/performance.md: a lookup's garbage).
func keyParams(query string, vals []string) ([]string, error) {
	for query != "" {
		var kv string
		kv, query, _ = strings.Cut(query, "&")
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		k, err := unescapeQuery(k, kv)
		if err != nil {
			return nil, err
		}
		if k != "key" {
			return nil, fmt.Errorf("unknown query parameter %q", k)
		}
		if v, err = unescapeQuery(v, kv); err != nil {
			return nil, err
		}
		vals = append(vals, v)
	}
	return vals, nil
}

// unescapeQuery is url.QueryUnescape for a part of the parameter kv,
// without a new string when there is nothing to unescape.
func unescapeQuery(s, kv string) (string, error) {
	if !strings.ContainsAny(s, "%+") {
		return s, nil
	}
	u, err := url.QueryUnescape(s)
	if err != nil {
		return "", fmt.Errorf("query parameter %q: %v", kv, err)
	}
	return u, nil
}

// jsonType is the Content-Type of every answer, set without Header.Set's
// new slice per answer.
var jsonType = []string{"application/json"}

func writeJSON(w http.ResponseWriter, status int, b []byte) {
	w.Header()["Content-Type"] = jsonType
	if len(b) >= 2000 {
		// net/http sets a smaller answer's itself (it is all in its
		// buffer when the handler returns), without a header value to
		// allocate here
		w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	}
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, msg string) {
	b := append([]byte(`{"error":`), value.AppendString(nil, msg)...)
	writeJSON(w, status, append(b, '}'))
}

// Listen says where and how the server listens.
type Listen struct {
	// Addr is HOST:PORT; ":PORT" means loopback (127.0.0.1).
	Addr string
	// Token is the bearer token (Config.Token).
	Token string
	// TLSCert and TLSKey serve HTTPS; ClientCA requires client
	// certificates that chain to it (mutual TLS).
	TLSCert, TLSKey, ClientCA string
}

// Check refuses a listener that would let anyone who can reach it read
// the features: an address other than loopback needs a token or mutual
// TLS. It returns the address to listen on.
func (l Listen) Check() (string, error) {
	host, port, err := net.SplitHostPort(l.Addr)
	if err != nil {
		return "", fmt.Errorf("--listen %s: want HOST:PORT or :PORT: %w", l.Addr, err)
	}
	if (l.TLSCert == "") != (l.TLSKey == "") {
		return "", errors.New("--serve-tls-cert and --serve-tls-key go together")
	}
	if l.ClientCA != "" && l.TLSCert == "" {
		return "", errors.New("--client-ca needs --serve-tls-cert and --serve-tls-key (mutual TLS is TLS)")
	}
	if host == "" {
		return net.JoinHostPort("127.0.0.1", port), nil
	}
	if !loopback(host) && l.Token == "" && l.ClientCA == "" {
		return "", fmt.Errorf("--listen %s is not a loopback address: refusing to serve features to anyone who can reach it; give --token (or EDDY_SERVE_TOKEN) or mutual TLS (--serve-tls-cert, --serve-tls-key, --client-ca)", l.Addr)
	}
	return l.Addr, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// tlsConfig is the server's TLS settings, nil without a certificate.
func (l Listen) tlsConfig() (*tls.Config, error) {
	if l.TLSCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(l.TLSCert, l.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	c := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if l.ClientCA != "" {
		pem, err := os.ReadFile(l.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("client ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("client ca %s: no PEM certificate in it", l.ClientCA)
		}
		c.ClientCAs, c.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return c, nil
}

// Server is a running HTTP server.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	tls  bool
	done chan error
}

// Start checks l, listens and serves h until Shutdown.
func Start(h http.Handler, l Listen) (*Server, error) {
	addr, err := l.Check()
	if err != nil {
		return nil, err
	}
	tc, err := l.tlsConfig()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	if tc != nil {
		ln = tls.NewListener(ln, tc)
	}
	// a client may hold a connection idle (keep-alive) but not trickle a
	// request or its answer
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	s := &Server{srv: hs, ln: ln, tls: tc != nil, done: make(chan error, 1)}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// URL is the server's base URL (http or https, the address it listens on).
func (s *Server) URL() string {
	scheme := "http"
	if s.tls {
		scheme = "https"
	}
	return scheme + "://" + s.ln.Addr().String()
}

// Shutdown stops accepting and waits up to timeout for requests in flight.
func (s *Server) Shutdown(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if serr := <-s.done; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
