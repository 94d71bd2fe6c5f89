//go:build integration

package sink

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/eddyhq/eddy/pipeline"
)

// benchServing writes b.N rows of 10,000 keys through s and reports rows/s
// and the CPU per row of both sides (loopback, the real server of
// scripts/serving.sh).
func benchServing(b *testing.B, s Sink, start int64, server string) {
	b.Helper()
	cpu := startCPU(b, server)
	writeBenchRows(b, s, start)
	cpu.report(b, b.N)
}

func BenchmarkRedisIntegration(b *testing.B) {
	addr := os.Getenv("EDDY_TEST_REDIS")
	if addr == "" {
		b.Skip("EDDY_TEST_REDIS not set")
	}
	s, err := NewRedis(context.Background(), &pipeline.RedisTarget{Addr: addr, Prefix: "bench"}, ServingOptions{Layout: testLayout})
	if err != nil {
		b.Fatal(err)
	}
	benchServing(b, s, time.Now().UnixMilli(), "redis")
}

func BenchmarkInfluxDBIntegration(b *testing.B) {
	base := os.Getenv("EDDY_TEST_INFLUXDB")
	if base == "" {
		b.Skip("EDDY_TEST_INFLUXDB not set")
	}
	// a new database each run: a run's points are then in time order per
	// series, as a pipeline writes them, and the series index is new
	influxQL(b, base, "", "DROP DATABASE bench")
	influxQL(b, base, "", "CREATE DATABASE bench")
	s, err := NewInfluxDB(context.Background(), &pipeline.InfluxDBTarget{URL: base, DB: "bench"}, ServingOptions{Layout: testLayout})
	if err != nil {
		b.Fatal(err)
	}
	benchServing(b, s, time.Now().UnixMilli(), "influxdb")
}

func BenchmarkPrometheusIntegration(b *testing.B) {
	base := os.Getenv("EDDY_TEST_PROMETHEUS")
	if base == "" {
		b.Skip("EDDY_TEST_PROMETHEUS not set")
	}
	s, err := NewPrometheus(context.Background(), &pipeline.PrometheusTarget{RemoteWrite: base + "/api/v1/write", Prefix: "bench" + strconv.FormatInt(time.Now().UnixNano(), 36)},
		ServingOptions{Layout: testLayout})
	if err != nil {
		b.Fatal(err)
	}
	// samples at most an hour old, per series in time order
	benchServing(b, s, time.Now().Add(-50*time.Minute).UnixMilli(), "prometheus")
}
