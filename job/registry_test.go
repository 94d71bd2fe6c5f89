package job

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/eddyhq/eddy/format"
	"github.com/eddyhq/eddy/internal/runtest"
	"github.com/eddyhq/eddy/pipeline"
)

func TestMergeRegistry(t *testing.T) {
	flag := format.Config{URLs: []string{"http://flag"}}
	spec := SpecRegistry(&pipeline.Registry{URL: "http://spec", User: "su:sp", TLS: &pipeline.RegistryTLS{CA: "spec-ca.pem"}})
	props := format.Config{URLs: []string{"http://props"}, BearerToken: "tok",
		TLS: format.TLSConfig{CAFile: "props-ca.pem", CertFile: "c.pem", KeyFile: "k.pem", InsecureSkipVerify: true}}
	env := format.Config{URLs: []string{"http://env"}, User: "eu", Password: "ep"}
	tests := []struct {
		name   string
		layers []format.Config
		want   format.Config
	}{
		{"flag over all", []format.Config{flag, spec, props, env}, format.Config{URLs: []string{"http://flag"}, User: "su", Password: "sp",
			TLS: format.TLSConfig{CAFile: "spec-ca.pem", CertFile: "c.pem", KeyFile: "k.pem", InsecureSkipVerify: true}}},
		{"props over env, credentials as a whole", []format.Config{{}, {}, props, env}, format.Config{URLs: []string{"http://props"}, BearerToken: "tok",
			TLS: props.TLS}},
		{"env alone", []format.Config{{}, env}, env},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MergeRegistry(tt.layers...); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestSpecRegistry(t *testing.T) {
	got := SpecRegistry(&pipeline.Registry{URL: "u", User: "a", Password: "b:c", Token: ""})
	if got.User != "a" || got.Password != "b:c" || !reflect.DeepEqual(got.URLs, []string{"u"}) {
		t.Errorf("got %+v", got)
	}
	if got := SpecRegistry(nil); !reflect.DeepEqual(got, format.Config{}) {
		t.Errorf("nil: %+v", got)
	}
}

// TestKafkaSinkAvro: a kafka sink with format avro registers the schema
// derived from the rows under TOPIC-value (srfake) and writes framed
// Avro; the dead-letter topic keeps the input's bytes as they came; a
// pipeline passing records through unchanged is refused before anything
// opens, and a sink without a registry says so.
func TestKafkaSinkAvro(t *testing.T) {
	addr := runtest.Cluster(t, "ev", "out", "ev.dlq")
	reg := srfake.New()
	defer reg.Close()
	runtest.Produce(t, addr, &kgo.Record{Topic: "ev", Value: []byte(`{"user":"ada","n":2}`)}, &kgo.Record{Topic: "ev", Value: []byte(`not json`)})
	dir := t.TempDir()
	spec := runtest.WriteFile(t, dir, "p.yaml", "source: {kafka: {brokers: ["+addr+"], topic: ev, stop: caught-up}}\n"+
		"stages:\n  - project: {user: user, n: n}\n"+
		"sinks:\n  - kafka: {topic: out, format: avro}\ndlq: {kafka: {topic: ev.dlq}}\n")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	withReg := func() (format.Config, format.Config) {
		return format.Config{URLs: []string{reg.URL()}}, format.Config{}
	}
	j, err := openSpec(ctx, spec, Options{Stderr: &stderr, SchemaRegistry: withReg})
	if err == nil {
		_, err = j.Run(ctx)
		err = errors.Join(err, j.Close())
	}
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	out := runtest.TopicRecords(t, addr, "out")
	v, ok := reg.GetSchema("out-value", 1)
	if len(out) != 1 || !ok || !strings.Contains(v.Schema.Schema, `"name":"user","type":["null","string"]`) {
		t.Fatalf("out %v, schema %+v %v", out, v, ok)
	}
	var got map[string]any
	if out[0].Value[0] != 0 || int(binary.BigEndian.Uint32(out[0].Value[1:5])) != v.ID {
		t.Fatalf("not framed with id %d: % x", v.ID, out[0].Value)
	}
	if err := avro.Unmarshal(avro.MustParse(v.Schema.Schema), out[0].Value[5:], &got); err != nil || got["user"] != "ada" || got["n"] != int64(2) {
		t.Errorf("record %v, %v", got, err)
	}
	if dead := runtest.TopicRecords(t, addr, "ev.dlq"); len(dead) != 1 || string(dead[0].Value) != "not json" {
		t.Errorf("dead letters %v", dead)
	}

	for _, tc := range []struct{ spec, want string }{
		{"source: {kafka: {brokers: [" + addr + "], topic: ev}}\nsinks:\n  - kafka: {topic: out, format: avro}\n", "sinks[0].kafka.format: avro needs rows with named fields"},
		{"source: {kafka: {brokers: [" + addr + "], topic: ev}}\nstages: [{project: {n: n}}]\nsinks:\n  - kafka: {topic: out, format: avro}\n", "kafka sink out with format avro needs a schema registry"},
	} {
		if j, err := openSpec(ctx, runtest.WriteFile(t, dir, "bad.yaml", tc.spec), Options{Stderr: &stderr}); err == nil || !strings.Contains(err.Error(), tc.want) {
			if j != nil {
				j.Close()
			}
			t.Errorf("err = %v, want %q", err, tc.want)
		}
	}
}

// openSpec loads the spec at path and opens its job.
func openSpec(ctx context.Context, path string, o Options) (*Job, error) {
	p, err := pipeline.Load(path)
	if err != nil {
		return nil, err
	}
	return Open(ctx, p, o)
}
