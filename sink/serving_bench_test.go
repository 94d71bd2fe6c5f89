package sink

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eddyhq/eddy/pipeline"
)

// The serving sinks' own cost, in process: each writes b.N rows of 10,000
// keys to a stand-in server on loopback that reads every request and
// answers at once (an HTTP server that discards the body; a RESP server
// that answers each command with :0), so what is measured is the
// encoding (line protocol and gzip, prompb and snappy, the script's
// arguments), the batching and the client's I/O. The real servers'
// figures are BenchmarkRedisIntegration and the others (integration tag).

// discardHTTP answers every request with status after reading its body.
func discardHTTP(b *testing.B, status int) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(status)
	}))
	b.Cleanup(srv.Close)
	return srv.URL
}

// fakeRESP is a loopback server that reads RESP commands (arrays of bulk
// strings) and answers each with the integer 0, SCRIPT LOAD with the
// script's SHA, and HELLO with an error (go-redis then speaks RESP2).
func fakeRESP(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveRESP(c)
		}
	}()
	return ln.Addr().String()
}

func serveRESP(c net.Conn) {
	defer c.Close()
	r, w := bufio.NewReaderSize(c, 1<<16), bufio.NewWriterSize(c, 1<<16)
	for {
		args, err := readRESP(r)
		if err != nil {
			return
		}
		switch {
		case len(args) >= 2 && strings.EqualFold(args[0], "SCRIPT"):
			sha := redisNewer.Hash()
			w.WriteString("$" + strconv.Itoa(len(sha)) + "\r\n" + sha + "\r\n")
		case len(args) >= 1 && strings.EqualFold(args[0], "HELLO"):
			w.WriteString("-ERR unknown command\r\n")
		default:
			w.WriteString(":0\r\n")
		}
		if r.Buffered() == 0 {
			if w.Flush() != nil {
				return
			}
		}
	}
}

// readRESP reads one command: *N then N bulk strings. Only the first two
// arguments are kept (the command's name), the rest are skipped.
func readRESP(r *bufio.Reader) ([]string, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	n, _ := strconv.Atoi(string(line[1 : len(line)-2]))
	var args []string
	for i := 0; i < n; i++ {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return nil, err
		}
		l, _ := strconv.Atoi(string(line[1 : len(line)-2]))
		if i < 2 {
			buf := make([]byte, l+2)
			if _, err := io.ReadFull(r, buf); err != nil {
				return nil, err
			}
			args = append(args, string(buf[:l]))
		} else if _, err := r.Discard(l + 2); err != nil {
			return nil, err
		}
	}
	return args, nil
}

// benchEncode writes b.N rows of 10,000 keys (two aggregates) through s.
func benchEncode(b *testing.B, s Sink) {
	cpu0 := writeBenchRows(b, s, time.Now().Add(-50*time.Minute).UnixMilli())
	// the process's CPU (the stand-in server's included) per row: what
	// the wall clock shows on a loaded machine is mostly waiting
	cpu := selfCPU() - cpu0
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/row")
}

// writeBenchRows writes b.N rows of 10,000 keys, windows of 10 s from
// start, through s, closes it and reports rows/s; it returns selfCPU as
// of the first row.
func writeBenchRows(b *testing.B, s Sink, start int64) time.Duration {
	b.Helper()
	users := make([]string, 10000)
	for i := range users {
		users[i] = "u" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := selfCPU()
	for i := 0; i < b.N; i++ {
		end := start + int64(i/len(users))*10000
		if err := s.Write(testRow(users[i%len(users)], end, 0, int64(i), float64(i)/3)); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	return cpu0
}

// selfCPU is this process's CPU time (user + system), all threads.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkRedisEncode(b *testing.B) {
	s, err := NewRedis(context.Background(), &pipeline.RedisTarget{Addr: fakeRESP(b), Prefix: "bench"}, ServingOptions{Layout: testLayout})
	if err != nil {
		b.Fatal(err)
	}
	benchEncode(b, s)
}

func BenchmarkInfluxDBEncode(b *testing.B) {
	s, err := NewInfluxDB(context.Background(), &pipeline.InfluxDBTarget{URL: discardHTTP(b, http.StatusNoContent), DB: "bench"}, ServingOptions{Layout: testLayout})
	if err != nil {
		b.Fatal(err)
	}
	benchEncode(b, s)
}

func BenchmarkPrometheusEncode(b *testing.B) {
	s, err := NewPrometheus(context.Background(), &pipeline.PrometheusTarget{RemoteWrite: discardHTTP(b, http.StatusNoContent) + "/api/v1/write", Prefix: "bench"},
		ServingOptions{Layout: testLayout})
	if err != nil {
		b.Fatal(err)
	}
	benchEncode(b, s)
}
