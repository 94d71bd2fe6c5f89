package job

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
)

// TestReportDelivery writes rows and dead letters to real files, one of
// them /dev/full (every write fails with ENOSPC), closes them, and checks
// that the report names exactly the destinations that did not take
// everything, with their counts.
func TestReportDelivery(t *testing.T) {
	ok := filepath.Join(t.TempDir(), "ok.jsonl")
	okDead := filepath.Join(t.TempDir(), "dead.jsonl")
	for _, tc := range []struct {
		name       string
		sinks      []string
		dlq        string // "" : stderr
		rows, dead int
		want       []string
	}{
		{"all delivered", []string{ok}, okDead, 3, 2, nil},
		{"full sink", []string{ok, "/dev/full"}, okDead, 3, 2,
			[]string{"eddy: file /dev/full: 0 of 3 rows written, 3 not"}},
		{"full dlq", []string{ok}, "/dev/full", 3, 2,
			[]string{"eddy: dlq file /dev/full: 0 of 2 dead letters written, 2 not"}},
		{"nothing given", []string{"/dev/full"}, "/dev/full", 0, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &pipeline.Pipeline{}
			var sinks []sink.Sink
			for _, path := range tc.sinks {
				p.Sinks = append(p.Sinks, pipeline.Target{File: path})
				s, err := sink.OpenJSONL(path)
				if err != nil {
					t.Fatal(err)
				}
				for range tc.rows {
					_ = s.Write(&sink.Row{JSON: []byte(`{"a":1}`)})
				}
				_ = s.Close()
				sinks = append(sinks, s)
			}
			p.DLQ = &pipeline.Target{File: tc.dlq}
			d, err := sink.OpenDeadFile(tc.dlq)
			if err != nil {
				t.Fatal(err)
			}
			for range tc.dead {
				_ = d.WriteDead(&sink.DeadLetter{Error: "bad", StageIndex: -1, StageKind: "decode", Value: []byte("x")})
			}
			_ = d.Close()

			var out bytes.Buffer
			ReportDelivery(&out, p, sinks, d)
			var got []string
			if s := strings.TrimSpace(out.String()); s != "" {
				got = strings.Split(s, "\n")
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("report:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestLabelTarget: messages name a target without the empty parts its
// fingerprint description keeps.
func TestLabelTarget(t *testing.T) {
	for _, tc := range []struct {
		t    pipeline.Target
		want string
	}{
		{pipeline.Target{InfluxDB: &pipeline.InfluxDBTarget{URL: "http://h:8086", DB: "eddy"}}, "influxdb http://h:8086 db eddy"},
		{pipeline.Target{InfluxDB: &pipeline.InfluxDBTarget{URL: "http://h:8086", Org: "o", Bucket: "b", Measurement: "m"}},
			"influxdb http://h:8086 org o bucket b measurement m"},
		{pipeline.Target{File: "-"}, "stdout"},
		{pipeline.Target{Kafka: &pipeline.KafkaTarget{Topic: "out"}}, "kafka topic out"},
		{pipeline.Target{Kafka: &pipeline.KafkaTarget{Topic: "out", Key: []string{"a", "b"}}}, "kafka topic out key a,b"},
		{pipeline.Target{Prometheus: &pipeline.PrometheusTarget{RemoteWrite: "http://h/api/v1/write"}}, "prometheus http://h/api/v1/write"},
	} {
		if got := labelTarget(tc.t); got != tc.want {
			t.Errorf("labelTarget = %q, want %q", got, tc.want)
		}
	}
}
