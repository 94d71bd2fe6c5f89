package cmd

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/eddyhq/eddy/internal/runtest"
)

const deploySpec = `name: d
source:
  kafka: {topic: bids, stop: caught-up}
time: {field: dateTime}
stages:
  - window: {tumbling: 1s, key: auction, aggregate: {n: count()}}
sinks:
  - file: "-"
`

// deploy refuses bad usage and untranslatable pipelines before it sends
// anything (exit 2), and names a gateway it cannot reach (exit 1).
func TestDeployRefusals(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "no", http.StatusTeapot)
	}))
	defer srv.Close()
	t.Setenv("EDDY_FLINK_GATEWAY", "")
	t.Setenv("EDDY_BROKERS", "")
	dir := t.TempDir()
	good := runtest.WriteFile(t, dir, "good.yaml", deploySpec)
	quant := runtest.WriteFile(t, dir, "q.yaml", strings.Replace(deploySpec, "n: count()", "p: 'quantile(price, 0.5)'", 1))
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"deploy", good, "-b", "k:9092"}, 2, "no gateway"},
		{[]string{"deploy", good, "--flink", "127.0.0.1:8083"}, 2, "want http://HOST:PORT"},
		{[]string{"deploy", "--flink", srv.URL}, 2, "one pipeline file"},
		{[]string{"deploy", "--status", "xyz", "--flink", srv.URL}, 2, "32 hexadecimal digits"},
		{[]string{"deploy", good, "--status", "0123456789abcdef0123456789abcdef", "--flink", srv.URL}, 2, "take a job id alone"},
		{[]string{"deploy", quant, "--flink", srv.URL, "-b", "k:9092"}, 2, "no quantile or percentile aggregate"},
		{[]string{"deploy", good, "--flink", srv.URL}, 2, "no brokers"},
		{[]string{"deploy", good, "--flink", srv.URL, "-b", "k:9092", "--parallelism", "-1"}, 2, "at least 1"},
	} {
		code, _, stderr := runCLI(t, "", c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", c.args, code, stderr, c.code, c.want)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the gateway got %d requests from refused deploys", n)
	}
	// a gateway's own error is a runtime failure naming it
	code, _, stderr := runCLI(t, "", "deploy", good, "--flink", srv.URL, "-b", "k:9092")
	if code != 1 || !strings.Contains(stderr, "HTTP 418") {
		t.Errorf("gateway error: exit %d, stderr %q", code, stderr)
	}
}

// sql --dialect flink takes the connection flags: brokers and SASL become
// the tables' properties, the password redacted unless --show-secrets.
func TestSQLFlinkConnection(t *testing.T) {
	t.Setenv("EDDY_BROKERS", "")
	dir := t.TempDir()
	spec := runtest.WriteFile(t, dir, "p.yaml", deploySpec)
	args := []string{"sql", spec, "--dialect", "flink", "-b", "k1:9093,k2:9093", "--sasl-mechanism", "PLAIN", "--sasl-user", "u", "--sasl-password", "pw\"x", "--tls"}
	code, out, stderr := runCLI(t, "", args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"'properties.bootstrap.servers' = 'k1:9093,k2:9093'",
		"'properties.security.protocol' = 'SASL_SSL'",
		"'properties.sasl.mechanism' = 'PLAIN'",
		"'properties.sasl.jaas.config' = '***'",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("script lacks %s", want)
		}
	}
	if strings.Contains(out, "pw") {
		t.Error("the password is printed")
	}
	_, out, _ = runCLI(t, "", append(args, "--show-secrets")...)
	if !strings.Contains(out, `org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="pw\"x";`) {
		t.Errorf("--show-secrets: no JAAS line with the password in\n%s", out)
	}
}

// A format: avro spec reads its topic with Flink's avro-confluent format
// from the registry eddy run would use: --schema-registry over the spec's,
// the spec's over EDDY_SCHEMA_REGISTRY.
func TestSQLFlinkAvroRegistry(t *testing.T) {
	t.Setenv("EDDY_BROKERS", "")
	t.Setenv("EDDY_SCHEMA_REGISTRY", "http://env:8081")
	dir := t.TempDir()
	avro := strings.Replace(deploySpec, "time:", "format: avro\ntime:", 1)
	noReg := runtest.WriteFile(t, dir, "p.yaml", avro)
	withReg := runtest.WriteFile(t, dir, "q.yaml", strings.Replace(avro, "stop: caught-up", "stop: caught-up, registry: {url: 'http://spec:8081'}", 1))
	for _, c := range []struct {
		spec string
		flag []string
		want string
	}{
		{noReg, nil, "http://env:8081"},
		{withReg, nil, "http://spec:8081"},
		{withReg, []string{"--schema-registry", "http://flag:8081"}, "http://flag:8081"},
	} {
		args := append([]string{"sql", c.spec, "--dialect", "flink", "-b", "k:9092"}, c.flag...)
		code, out, stderr := runCLI(t, "", args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		for _, want := range []string{"'value.format' = 'avro-confluent'", "'value.avro-confluent.url' = '" + c.want + "'"} {
			if !strings.Contains(out, want) {
				t.Errorf("%v: script lacks %s", c.flag, want)
			}
		}
	}
	t.Setenv("EDDY_SCHEMA_REGISTRY", "")
	code, _, stderr := runCLI(t, "", "sql", noReg, "--dialect", "flink", "-b", "k:9092")
	if code != 2 || !strings.Contains(stderr, "no schema registry") {
		t.Errorf("no registry: exit %d %s, want 2 naming the missing registry", code, stderr)
	}
}
