//go:build integration

package cmd

import (
	"strings"
	"testing"
)

// Kafka Connect dead letters produced by kcat (not by eddy) are decoded,
// listed by class, and replayed to their original topic exactly once; kcat
// reads the replayed records back with the incremented replay count.
func TestIntegrationDLQConnectReplay(t *testing.T) {
	env := itSetup(t)
	adm := itAdmin(t, env.brokers)
	dlq, orig := itName("connect.dlq"), itName("orders")
	itCreateTopic(t, adm, dlq)
	itCreateTopic(t, adm, orig)
	for i, v := range []string{`{"id":1,"amount":"x"}`, `{"id":2,"amount":"y"}`, `{"id":3}`} {
		class := "org.apache.kafka.connect.errors.DataException"
		if i == 2 {
			class = "java.lang.NullPointerException"
		}
		itKcat(t, strings.NewReader(v+"\n"), "-b", env.brokers, "-P", "-t", dlq, "-X", "enable.idempotence=true",
			"-H", "__connect.errors.topic="+orig, "-H", "__connect.errors.partition=0",
			"-H", "__connect.errors.offset="+string(rune('0'+i)), "-H", "__connect.errors.exception.class.name="+class,
			"-H", "__connect.errors.exception.message=bad amount", "-H", "__connect.errors.stage=VALUE_CONVERTER",
			"-H", "trace=abc")
	}
	code, out, stderr := runCLI(t, "", "-b", env.brokers, "dlq", "list", "-t", dlq)
	if code != 0 || !strings.Contains(out, "DataException") || !strings.Contains(out, "NullPointerException") {
		t.Fatalf("dlq list: %d\n%s\n%s", code, out, stderr)
	}
	group := itName("replay")
	for run := range 2 {
		code, _, stderr = runCLI(t, "", "-b", env.brokers, "dlq", "replay", "-t", dlq, "--to", "original", "--group", group)
		if code != 0 {
			t.Fatalf("replay run %d: %d %s", run, code, stderr)
		}
	}
	recs := itConsumeJSON(t, env.brokers, orig)
	if len(recs) != 3 {
		t.Fatalf("the original topic has %d records after two replay runs, want 3 (exactly once)", len(recs))
	}
	for _, r := range recs {
		h := map[string]string{}
		for i := 0; i+1 < len(r.Headers); i += 2 {
			h[r.Headers[i]] = r.Headers[i+1]
		}
		if h["eddy.replay.count"] != "1" || h["trace"] != "abc" || h["__connect.errors.topic"] != "" {
			t.Errorf("replayed record headers %v: want eddy.replay.count=1, trace kept, __connect.errors.* dropped", h)
		}
	}
}
