package job

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/eddyhq/eddy/pipeline"
)

// TestEveryKindHasAnOpener holds the job's openers and pipeline's kinds
// together: every kind a spec can name has an opener for each of its
// roles, and every opener opens a kind pipeline declares.
func TestEveryKindHasAnOpener(t *testing.T) {
	names := func(r pipeline.Role) []string {
		var out []string
		for _, k := range pipeline.Kinds(r) {
			out = append(out, k.Name)
		}
		return out
	}
	sinks, dead, sources := names(pipeline.AsSink), names(pipeline.AsDeadLetter), names(pipeline.AsSource)
	for _, n := range sinks {
		if _, ok := sinkKinds[n]; !ok {
			t.Errorf("pipeline sink kind %s has no opener in job (add job/sink_%s.go)", n, n)
		}
	}
	for _, n := range dead {
		if k, ok := sinkKinds[n]; !ok || k.openDead == nil {
			t.Errorf("pipeline dead-letter kind %s has no dead-letter opener in job", n)
		}
	}
	for n, k := range sinkKinds {
		if !slices.Contains(sinks, n) {
			t.Errorf("job opens sink kind %s, which pipeline does not declare", n)
		}
		if k.openDead != nil && !slices.Contains(dead, n) {
			t.Errorf("job opens dead letters of kind %s, which pipeline does not declare as a dead-letter kind", n)
		}
		if k.open == nil || k.describe == nil {
			t.Errorf("sink kind %s: open and describe are required", n)
		}
	}
	for _, n := range sources {
		if _, ok := sourceKinds[n]; !ok {
			t.Errorf("pipeline source kind %s has no opener in job (add job/source_%s.go)", n, n)
		}
	}
	for n, k := range sourceKinds {
		if !slices.Contains(sources, n) {
			t.Errorf("job opens source kind %s, which pipeline does not declare", n)
		}
		if k.open == nil || k.describe == nil || k.reads == nil || k.group == nil {
			t.Errorf("source kind %s: open, describe, reads and group are required", n)
		}
	}
}

// TestDescribe holds the names checkpoints and fingerprints give each
// kind: a change would refuse every existing state directory.
func TestDescribe(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	tests := []struct {
		t    pipeline.Target
		want string
	}{
		{pipeline.Target{File: f}, "file " + f},
		{pipeline.Target{File: "-"}, "stdout"},
		{pipeline.Target{Kafka: &pipeline.KafkaTarget{Topic: "out", Key: []string{"a", "b"}}}, "kafka topic out key a,b"},
		{pipeline.Target{DuckDB: &pipeline.DuckDBTarget{Path: f, Table: "t"}}, "duckdb " + f + " table t"},
		{pipeline.Target{Parquet: &pipeline.ParquetTarget{Path: f}}, "parquet " + f},
		{pipeline.Target{Parquet: &pipeline.ParquetTarget{Dir: f, Rotate: "1m"}}, "parquet dir " + f + " rotate 1m"},
		{pipeline.Target{Redis: &pipeline.RedisTarget{Addr: "h:6379", Prefix: "f"}}, "redis h:6379 db 0 prefix f"},
		{pipeline.Target{InfluxDB: &pipeline.InfluxDBTarget{URL: "http://h:8086", DB: "d"}}, "influxdb http://h:8086 db d org  bucket  measurement "},
		{pipeline.Target{Prometheus: &pipeline.PrometheusTarget{RemoteWrite: "http://h:9090/api/v1/write"}}, "prometheus http://h:9090/api/v1/write prefix "},
	}
	for _, tt := range tests {
		if got := describeTarget(tt.t); got != tt.want {
			t.Errorf("describeTarget(%+v) = %q, want %q", tt.t, got, tt.want)
		}
	}
	for _, tt := range []struct {
		s    pipeline.Source
		want string
	}{
		{pipeline.Source{File: f}, "file " + f},
		{pipeline.Source{Kafka: &pipeline.KafkaSource{Topics: []string{"b", "a"}}}, "kafka topics a,b"},
	} {
		if got := sourceKindOf(tt.s).describe(tt.s); got != tt.want {
			t.Errorf("describe(%+v) = %q, want %q", tt.s, got, tt.want)
		}
	}
}
