package lookup_test

import (
	"context"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddyhq/eddy/internal/runtest"
	"github.com/eddyhq/eddy/kcfg"
	"github.com/eddyhq/eddy/lookup"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/value"
)

func rec(key, val string, p int32) *kgo.Record {
	r := &kgo.Record{Topic: "users", Partition: p, Key: []byte(key)}
	if val != "" {
		r.Value = []byte(val)
	}
	return r
}

func kafkaTable(t *testing.T, addr string, limit int64, columns ...string) (*lookup.Table, error) {
	cluster := func([]string, string) (*kcfg.Config, error) {
		c := kcfg.New()
		return c, c.Set("bootstrap.servers", addr)
	}
	return lookup.Open(context.Background(),
		pipeline.Table{Name: "users", Kafka: &pipeline.KafkaTable{Topic: "users", Key: "uid", Columns: columns}, MemoryLimit: limit},
		lookup.Options{Keys: []string{"uid"}, Kafka: cluster})
}

// TestKafkaTable reads a compacted topic to its end before Open returns
// (the latest value per key; a tombstone deletes its key), then applies
// what is produced while it is open.
func TestKafkaTable(t *testing.T) {
	addr := runtest.Cluster(t, "users")
	runtest.Produce(t, addr,
		rec("u1", `{"name":"ann","tier":"gold"}`, 0),
		rec("u2", `{"name":"bob","tier":"free"}`, 1),
		rec("u3", `{"name":"cy"}`, 2),
		rec("u1", `{"name":"ann","tier":"platinum","since":2020}`, 0),
		rec("u2", "", 1), // tombstone
	)
	tab, err := kafkaTable(t, addr, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	if got := strings.Join(tab.Columns(), ","); got != "uid,name,tier,since" {
		t.Fatalf("columns %s, want uid,name,tier,since (the key, then the value fields seen)", got)
	}
	k, _ := tab.Keyed("uid")
	get := func(key string) string {
		row, ok := k.Get(value.OfString(key))
		if !ok {
			return "missing"
		}
		return text(row)
	}
	for key, want := range map[string]string{
		"u1": `"u1" "ann" "platinum" 2020`,
		"u2": "missing",
		"u3": `"u3" "cy" null null`,
	} {
		if got := get(key); got != want {
			t.Errorf("%s: %s, want %s", key, got, want)
		}
	}
	if tab.Rows() != 2 || tab.Bytes() <= 0 {
		t.Errorf("rows %d bytes %d", tab.Rows(), tab.Bytes())
	}
	before := tab.Bytes()
	runtest.Produce(t, addr,
		rec("u2", `{"name":"bob","tier":"gold","colour":"red"}`, 1), // back, with a field not kept
		rec("u3", "", 2),
		rec("u4", `{"name":"di"}`, 0),
	)
	waitFor(t, "the live records", func() bool { return get("u3") == "missing" && get("u2") != "missing" && get("u4") != "missing" })
	if got := get("u2"); got != `"u2" "bob" "gold" null` {
		t.Errorf("u2 after the live records: %s", got)
	}
	if tab.Rows() != 3 || tab.Bytes() <= before {
		t.Errorf("rows %d bytes %d (before %d)", tab.Rows(), tab.Bytes(), before)
	}
	if err := tab.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestKafkaTableOverLimit fails the table when the topic grows over the
// memory limit: Err stops the run.
func TestKafkaTableOverLimit(t *testing.T) {
	addr := runtest.Cluster(t, "users")
	runtest.Produce(t, addr, rec("u1", `{"name":"ann"}`, 0))
	if _, err := kafkaTable(t, addr, 10); err == nil || !strings.Contains(err.Error(), "more than its memory_limit of 10B") {
		t.Fatalf("open over the limit: %v", err)
	}
	tab, err := kafkaTable(t, addr, 1000, "name")
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	runtest.Produce(t, addr, rec("u2", `{"name":"`+strings.Repeat("x", 2000)+`"}`, 1))
	waitFor(t, "the table to fail", func() bool { return tab.Err() != nil })
	if !strings.Contains(tab.Err().Error(), "table users: topic users holds more than its memory_limit of 1000B") {
		t.Errorf("err %v", tab.Err())
	}
}
