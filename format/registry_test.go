package format

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eddyhq/eddy/decode"
	"github.com/eddyhq/eddy/value"
)

// slowRegistry answers after release is closed, counting calls, and fails
// the first failures calls with err.
type slowRegistry struct {
	Static
	release  chan struct{}
	calls    atomic.Int32
	failures int32
	err      error
}

func (r *slowRegistry) SchemaByID(ctx context.Context, id int) (sr.Schema, error) {
	n := r.calls.Add(1)
	if r.release != nil {
		<-r.release
	}
	if n <= r.failures {
		return sr.Schema{}, r.err
	}
	return r.Static.SchemaByID(ctx, id)
}

func static() Static {
	return Static{IDs: map[int]sr.Schema{1: {Schema: `"long"`}}}
}

func TestCacheCoalescesMisses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := &slowRegistry{Static: static(), release: make(chan struct{})}
		c := NewCache(t.Context(), reg, CacheOptions{})
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				if s, err := c.Schema(1); err != nil || s.Schema != `"long"` {
					t.Errorf("Schema(1) = %v, %v", s, err)
				}
			})
		}
		synctest.Wait() // all 20 are waiting, on the fetch or on its result
		close(reg.release)
		wg.Wait()
		if _, err := c.Schema(1); err != nil {
			t.Fatal(err)
		}
		if n := reg.calls.Load(); n != 1 {
			t.Errorf("%d fetches for one id, want 1", n)
		}
	})
}

func TestCacheRetriesThenSucceeds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := &slowRegistry{Static: static(), failures: 3, err: errors.New("connection refused")}
		c := NewCache(t.Context(), reg, CacheOptions{Backoff: time.Second, MaxBackoff: 3 * time.Second})
		start := time.Now()
		if _, err := c.Schema(1); err != nil {
			t.Fatal(err)
		}
		// waits 1 s, 2 s, 3 s (capped)
		if d := time.Since(start); d != 6*time.Second {
			t.Errorf("waited %v, want 6s", d)
		}
	})
}

func TestCacheGivesUpWithErrRegistry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := &slowRegistry{Static: static(), failures: 100, err: &sr.ResponseError{StatusCode: 503, Message: "unavailable"}}
		c := NewCache(t.Context(), reg, CacheOptions{Attempts: 4})
		_, err := c.Schema(1)
		if !errors.Is(err, ErrRegistry) || !Fatal(err) {
			t.Fatalf("err = %v, want ErrRegistry", err)
		}
		if n := reg.calls.Load(); n != 4 {
			t.Errorf("%d attempts, want 4", n)
		}
		// not cached: the next ask tries again
		reg.failures = 0
		if _, err := c.Schema(1); err != nil {
			t.Errorf("after recovery: %v", err)
		}
	})
}

func TestCacheClassifies(t *testing.T) {
	for _, tc := range []struct {
		name  string
		err   error
		want  error
		calls int32
	}{
		{"unauthorized", &sr.ResponseError{StatusCode: 401, Message: "bad"}, ErrRegistry, 1},
		{"bad request", &sr.ResponseError{StatusCode: 422, Message: "bad"}, ErrRegistry, 1},
		{"server error", &sr.ResponseError{StatusCode: 500}, ErrRegistry, 3},
	} {
		synctest.Test(t, func(t *testing.T) {
			reg := &slowRegistry{Static: static(), failures: 100, err: tc.err}
			c := NewCache(t.Context(), reg, CacheOptions{Attempts: 3})
			if _, err := c.Schema(1); !errors.Is(err, tc.want) {
				t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
			}
			if n := reg.calls.Load(); n != tc.calls {
				t.Errorf("%s: %d calls, want %d", tc.name, n, tc.calls)
			}
		})
	}
}

func TestCacheUnknownIDIsKeptForTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := &slowRegistry{Static: static()}
		c := NewCache(t.Context(), reg, CacheOptions{NotFoundTTL: time.Minute})
		for range 5 {
			_, err := c.Schema(99)
			if !errors.Is(err, ErrUnknownSchema) || Fatal(err) {
				t.Fatalf("err = %v, want ErrUnknownSchema", err)
			}
		}
		if n := reg.calls.Load(); n != 1 {
			t.Errorf("%d fetches, want 1", n)
		}
		time.Sleep(time.Minute) // fake time in the bubble
		reg.IDs[99] = sr.Schema{Schema: `"int"`}
		if _, err := c.Schema(99); err != nil {
			t.Errorf("after the TTL: %v", err)
		}
	})
}

func TestCacheStopsWithContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		reg := &slowRegistry{Static: static(), failures: 100, err: errors.New("refused")}
		c := NewCache(ctx, reg, CacheOptions{Backoff: time.Hour})
		done := make(chan error)
		go func() { _, err := c.Schema(1); done <- err }()
		synctest.Wait()
		cancel()
		if err := <-done; !errors.Is(err, ErrRegistry) || !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v", err)
		}
	})
}

// TestCacheOverHTTP runs franz-go's client against an httptest server that
// fails: it only tests that transport errors and 5xx answers are retried and
// a 404 is an unknown id (the real registry is tested elsewhere).
func TestCacheOverHTTP(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		switch {
		case r.URL.Path == "/schemas/ids/404":
			w.WriteHeader(404)
			w.Write([]byte(`{"error_code":40403,"message":"Schema not found"}`))
		case n <= 2:
			w.WriteHeader(503)
		default:
			w.Write([]byte(`{"schema":"\"long\""}`))
		}
	}))
	defer srv.Close()
	cl, err := Config{URLs: []string{srv.URL}}.Client()
	if err != nil {
		t.Fatal(err)
	}
	c := NewCache(t.Context(), cl, CacheOptions{Backoff: time.Millisecond})
	if s, err := c.Schema(1); err != nil || s.Schema != `"long"` {
		t.Fatalf("Schema(1) = %v, %v", s, err)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("%d calls, want 3", n)
	}
	if _, err := c.Schema(404); !errors.Is(err, ErrUnknownSchema) {
		t.Errorf("Schema(404) err = %v", err)
	}

	// nothing listens: retried, then ErrRegistry
	down, err := Config{URLs: []string{"http://127.0.0.1:1"}}.Client()
	if err != nil {
		t.Fatal(err)
	}
	c = NewCache(t.Context(), down, CacheOptions{Backoff: time.Millisecond, Attempts: 3})
	if _, err := c.Schema(1); !Fatal(err) {
		t.Errorf("unreachable: err = %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		c    Config
		want string
	}{
		{Config{}, "no URL"},
		{Config{URLs: []string{"http://r"}, User: "u", BearerToken: "t"}, "exclusive"},
		{Config{URLs: []string{"http://r"}, TLS: TLSConfig{CertFile: "c"}}, "both"},
		{Config{URLs: []string{"http://r"}, TLS: TLSConfig{CAFile: "/nonexistent"}}, "CA"},
	} {
		_, err := tc.c.Client()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err = %v, want %q", tc.c, err, tc.want)
		}
	}
}

// TestDecodersStopOnRegistryFailure: a registry that is down is the run's
// failure, not the record's, and a later record decodes once it is back.
func TestDecodersStopOnRegistryFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := &slowRegistry{Static: Static{IDs: map[int]sr.Schema{
			1: {Schema: bidAvro},
			4: {Schema: testProto, Type: sr.TypeProtobuf},
			8: {Schema: `{}`, Type: sr.TypeJSON},
		}}, failures: 3, err: errors.New("connection refused")}
		c := NewCache(t.Context(), reg, CacheOptions{Attempts: 3})
		avroRec := frameAvro(t, 1, bidAvro, map[string]any{"auction": int64(1), "bidder": int64(2), "price": int64(3),
			"channel": "c", "url": "u", "dateTime": time.UnixMilli(0).UTC(), "extra": ""})
		protoRec := protoRecord(t, 4, testProto, []int{1}, `{"price":"3"}`)
		jsonRec := append([]byte{0, 0, 0, 0, 8}, `{"price":3}`...)
		out := make([]value.Value, 1)
		for _, tc := range []struct {
			name string
			dec  interface {
				Decode([]byte, []value.Value) error
			}
			rec []byte
		}{
			{"avro", NewAvro(c, paths("price")), avroRec},
			{"protobuf", NewProtobuf(c, paths("price")), protoRec},
			{"json-schema", NewJSONSchema(c, decode.NewPlan(paths("price"))), jsonRec},
		} {
			reg.calls.Store(0)
			if err := tc.dec.Decode(tc.rec, out); !Fatal(err) {
				t.Errorf("%s: registry down: err = %v, want a fatal error", tc.name, err)
			}
			if err := tc.dec.Decode(tc.rec, out); err != nil || out[0] != value.OfInt(3) {
				t.Errorf("%s: registry back: %v, %v", tc.name, out[0], err)
			}
		}
	})
}
