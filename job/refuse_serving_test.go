package job

import (
	"testing"

	"github.com/eddyhq/eddy/pipeline"
)

// TestCheckRunServingSinks: sinks that write to a server name no file, so
// two of them (or one beside a file sink) are not "two writers on one file".
func TestCheckRunServingSinks(t *testing.T) {
	p, err := pipeline.Parse("p.yaml", []byte(`source: {file: in.jsonl}
time: {field: ts}
stages:
  - window: {tumbling: 10s, key: [user], aggregate: {n: count()}}
sinks:
  - redis: {addr: 127.0.0.1:6379}
  - influxdb: {url: http://127.0.0.1:8086, db: d}
  - prometheus: {remote_write: http://127.0.0.1:9090/api/v1/write}
  - redis: {addr: 127.0.0.1:6380}
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := checkRun(p, Options{}); err != nil {
		t.Errorf("checkRun: %v", err)
	}
}
