package cmd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eddyhq/eddy/fixtures"
	"github.com/eddyhq/eddy/internal/runtest"
)

// pacedReader hands out r's bytes at no more than rate bytes per second
// from its first Read on, in reads of at least a millisecond's bytes (or
// of the caller's whole buffer), so that the pacing itself costs few
// system calls.
type pacedReader struct {
	r     io.Reader
	rate  float64
	start time.Time
	n     int64
}

func (p *pacedReader) Read(b []byte) (int, error) {
	if p.start.IsZero() {
		p.start = time.Now()
	}
	chunk := min(int64(len(b)), max(1, int64(p.rate/1000)))
	for {
		allowed := int64(time.Since(p.start).Seconds()*p.rate) - p.n
		if allowed >= chunk {
			if int64(len(b)) > allowed {
				b = b[:allowed]
			}
			n, err := p.r.Read(b)
			p.n += int64(n)
			return n, err
		}
		time.Sleep(time.Millisecond)
	}
}

var recordsIn = regexp.MustCompile(`(?m)^eddy_records_in_total\{[^}]*\} (\S+)$`)

// BenchmarkServeLookups measures eddy serve's lookup latency under load:
// an open-loop load generator on loopback asks for 20,000 keys a second
// (GET /v1/features, keys drawn from the users of the stream) for 3 s
// while the pipeline ingests clickstream events from stdin, paced at
// 200,000 events a second (event time at the same rate, per-user 1 s
// windows closing every second). Latency is from each request's
// scheduled start (so a stall counts against every request it delays)
// to its answer (sent-p99-ms: from its sending, which hides such stalls;
// lag-p99-ms: from its schedule to its sending, the generator's own
// lateness).
// It reports p50/p99/p999 in ms, the heap's size (heap-MB: eddy serve
// collects at GOGC=400), the CPU the process got (cpu-cores: its
// user+system time over the wall time of the load; on a machine shared
// with other work it tells what the figures were measured on), the lookups and events
// per second reached and the share of lookups that found a window; it
// never fails for being slow (docs/performance.md has the figures).
//
// The target is the first case; the second, a quarter of both rates,
// shows how the figures scale on the machine at hand.
//
//	go test ./cmd -run '^$' -bench ServeLookups -benchtime 1x -count 3
func BenchmarkServeLookups(b *testing.B) {
	for _, c := range []struct{ events, lookups int }{{200_000, 20_000}, {50_000, 5_000}} {
		b.Run(fmt.Sprintf("events=%dk/lookups=%dk", c.events/1000, c.lookups/1000), func(b *testing.B) {
			serveLoad(b, c.events, c.lookups)
		})
	}
}

func serveLoad(b *testing.B, eventRate, lookupRate int) {
	const (
		load    = 3 * time.Second
		warmup  = 1500 * time.Millisecond
		workers = 64
	)
	dir := b.TempDir()
	in := filepath.Join(dir, "clicks.jsonl")
	f, err := os.Create(in)
	if err != nil {
		b.Fatal(err)
	}
	count := int(float64(eventRate) * (warmup + load + time.Second).Seconds())
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := fixtures.Generate(bw, "clickstream", fixtures.Options{Count: count, Seed: 9, Rate: float64(eventRate)}); err != nil {
		b.Fatal(err)
	}
	if err := errors.Join(bw.Flush(), f.Close()); err != nil {
		b.Fatal(err)
	}
	st, err := os.Stat(in)
	if err != nil {
		b.Fatal(err)
	}
	lineBytes := float64(st.Size()) / float64(count)
	// the keys asked for: users of the first two seconds of the stream
	var users []string
	seen := map[string]bool{}
	head, err := os.Open(in)
	if err != nil {
		b.Fatal(err)
	}
	sc := bufio.NewScanner(head)
	for i := 0; i < 2*eventRate && sc.Scan(); i++ {
		l := sc.Bytes()
		if j := bytes.Index(l, []byte(`"user_id":"`)); j >= 0 {
			u := string(l[j+11 : j+11+bytes.IndexByte(l[j+11:], '"')])
			if !seen[u] {
				seen[u] = true
				users = append(users, u)
			}
		}
	}
	head.Close()
	spec := runtest.WriteFile(b, dir, "p.yaml", `name: bench
source: {file: in.jsonl}
time: {field: ts, max_out_of_order: 100ms}
stages:
  - coerce: {amount: float}
  - window:
      tumbling: 1s
      key: [user_id]
      aggregate: {events: count(), spent: sum(amount), pages: count_distinct(page)}
`)
	var p50s, p99s, p999s, sent99s, lag99s, rates, evRates, hits, cores, heaps []float64
	for range b.N {
		ctx, cancel := context.WithCancelCause(context.Background())
		var stdout, stderr syncBuffer
		done := make(chan int, 1)
		data, err := os.Open(in)
		if err != nil {
			b.Fatal(err)
		}
		stdin := &pacedReader{r: data, rate: float64(eventRate) * lineBytes}
		go func() {
			done <- run(ctx, []string{"serve", spec, "--input", "-", "--listen", "127.0.0.1:0"}, stdin, &stdout, &stderr)
		}()
		var url string
		deadline := time.Now().Add(30 * time.Second)
		for url == "" && time.Now().Before(deadline) {
			if m := servingAt.FindStringSubmatch(stderr.String()); m != nil {
				url = m[1]
			}
			time.Sleep(10 * time.Millisecond)
		}
		if url == "" {
			b.Fatalf("eddy serve did not start:\n%s", stderr.String())
		}
		client := &http.Client{}
		eventsIn := func() float64 {
			resp, err := client.Get(url + "/metrics")
			if err != nil {
				b.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			m := recordsIn.FindSubmatch(body)
			if m == nil {
				return 0
			}
			v, _ := strconv.ParseFloat(string(m[1]), 64)
			return v
		}
		time.Sleep(warmup)
		b.ResetTimer()
		ev0, t0, cpu0 := eventsIn(), time.Now(), cpuTime()
		lat, svc, lag, found := loadLoop(b, strings.TrimPrefix(url, "http://"), "/v1/features/bench?key=", users, lookupRate, load, workers)
		elapsed, cpu := time.Since(t0), cpuTime()-cpu0
		ev1 := eventsIn()
		cores = append(cores, cpu.Seconds()/elapsed.Seconds())
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms) // the heap's size, as grown under eddy serve's GOGC
		heaps = append(heaps, float64(ms.HeapSys)/(1<<20))
		b.StopTimer()
		cancel(interrupted{syscall.SIGTERM})
		if code := <-done; code != 0 {
			b.Fatalf("eddy serve exit %d:\n%s", code, stderr.String())
		}
		data.Close()
		slices.Sort(lat)
		slices.Sort(svc)
		slices.Sort(lag)
		q := func(l []time.Duration, f float64) float64 {
			return float64(l[min(len(l)-1, int(f*float64(len(l))))]) / 1e6
		}
		p50s, p99s, p999s = append(p50s, q(lat, 0.5)), append(p99s, q(lat, 0.99)), append(p999s, q(lat, 0.999))
		sent99s = append(sent99s, q(svc, 0.99))
		lag99s = append(lag99s, q(lag, 0.99))
		rates = append(rates, float64(len(lat))/elapsed.Seconds())
		evRates = append(evRates, (ev1-ev0)/elapsed.Seconds())
		hits = append(hits, 100*float64(found)/float64(len(lat)))
	}
	med := func(xs []float64) float64 { slices.Sort(xs); return xs[len(xs)/2] }
	b.ReportMetric(med(p50s), "p50-ms")
	b.ReportMetric(med(p99s), "p99-ms")
	b.ReportMetric(med(p999s), "p999-ms")
	b.ReportMetric(med(sent99s), "sent-p99-ms")
	b.ReportMetric(med(lag99s), "lag-p99-ms")
	b.ReportMetric(med(rates), "lookups/s")
	b.ReportMetric(med(evRates), "events/s")
	b.ReportMetric(med(hits), "found-%")
	b.ReportMetric(med(cores), "cpu-cores")
	b.ReportMetric(med(heaps), "heap-MB")
	b.ReportMetric(0, "ns/op")
}

// loadLoop sends rate GETs a second for d, each to path+key (keys in
// turn), from a bounded pool of workers over keep-alive connections to
// addr, and returns each request's latency from its scheduled start,
// from its sending, its sending's lateness, and how many found a window. Request i is due at
// start + i/rate and worker i%workers sends it: each worker sleeps a
// whole period (workers/rate, 3.2 ms at 20,000/s) between its requests,
// since Go's timers wake no sooner than about a millisecond and a single
// dispatcher would send requests 50 µs apart in late bursts. A request
// that finds its worker still busy is sent late and counts its wait.
// Each worker writes its request line and reads the status line, the
// headers and a Content-Length body itself (rawGet): net/http's client
// costs about as much CPU and garbage per request as the server it
// measures, and on a two-core machine that competes with the server for
// the same cores.
func loadLoop(b *testing.B, addr, path string, keys []string, rate int, d time.Duration, workers int) (lat, svc, lag []time.Duration, found int) {
	n := int(float64(rate) * d.Seconds())
	lat, svc, lag = make([]time.Duration, n), make([]time.Duration, n), make([]time.Duration, n)
	var mu sync.Mutex
	next := 0
	var wg sync.WaitGroup
	start := time.Now().Add(10 * time.Millisecond)
	interval := time.Second / time.Duration(rate)
	for w := range workers {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer conn.Close()
			br := bufio.NewReaderSize(conn, 16<<10)
			req := make([]byte, 0, 256)
			for i := w; i < n; i += workers {
				at := start.Add(time.Duration(i) * interval)
				time.Sleep(time.Until(at))
				sent := time.Now()
				req = append(append(append(req[:0], "GET "...), path...), keys[(i*7919)%len(keys)]...)
				req = append(req, " HTTP/1.1\r\nHost: eddy\r\n\r\n"...)
				status, err := rawGet(conn, br, req)
				if err != nil {
					b.Error(err)
					return
				}
				now := time.Now()
				mu.Lock()
				lat[next], svc[next], lag[next] = now.Sub(at), now.Sub(sent), sent.Sub(at)
				next++
				if status == 200 {
					found++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return lat[:next], svc[:next], lag[:next], found
}

// rawGet writes one HTTP/1.1 request on a keep-alive connection and reads
// its answer: the status code, and the body skipped by its
// Content-Length (eddy serve always sends one).
func rawGet(conn net.Conn, br *bufio.Reader, req []byte) (int, error) {
	if _, err := conn.Write(req); err != nil {
		return 0, err
	}
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, fmt.Errorf("status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("status line %q", line)
	}
	length := -1
	for {
		h, err := br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		if k, v, ok := bytes.Cut(h, []byte(":")); ok && bytes.EqualFold(k, []byte("Content-Length")) {
			if length, err = strconv.Atoi(string(bytes.TrimSpace(v))); err != nil {
				return 0, fmt.Errorf("header %q", h)
			}
		}
	}
	if length < 0 {
		return 0, fmt.Errorf("answer %d without a Content-Length", status)
	}
	_, err = br.Discard(length)
	return status, err
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
