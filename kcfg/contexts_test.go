package kcfg

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadContexts(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "prod.properties"), []byte("security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\nbootstrap.servers=from-file:1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, file, pick string
		want             map[string]string // properties of the selected context's Config
		wantErr          string
	}{
		{name: "current", file: "current: local\ncontexts:\n  local:\n    brokers: localhost:9092\n  prod:\n    brokers: [b1:9093, b2:9093]\n",
			want: map[string]string{"bootstrap.servers": "localhost:9092"}},
		{name: "named over current", pick: "prod", file: "current: local\ncontexts:\n  local: {brokers: l:1}\n  prod:\n    brokers: [b1:9093, 'b2:9093']\n    kafka_config: prod.properties\n    properties:\n      sasl.username: analyst\n      fetch.wait.max.ms: 100\n    registry: https://sr:8081\n",
			want: map[string]string{"bootstrap.servers": "b1:9093,b2:9093", "security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
				"sasl.username": "analyst", "fetch.max.wait.ms": "100", "schema.registry.url": "https://sr:8081"}},
		{name: "none selected", file: "contexts:\n  a: {brokers: x:1}\n", want: nil},
		{name: "unknown context", pick: "stage", file: "contexts:\n  a: {brokers: x:1}\n  b: {brokers: y:1}\n",
			wantErr: `context "stage" is not in FILE (defined: a, b)`},
		{name: "current names none", file: "current: gone\ncontexts:\n  a: {brokers: x:1}\n", wantErr: "FILE:1: current: names no context (defined: a)"},
		{name: "unknown key", file: "contexts:\n  a:\n    broker: x:1\n", wantErr: "FILE:3: contexts.a.broker: unknown key (want brokers, kafka_config, properties or registry)"},
		{name: "bad property", file: "contexts:\n  a:\n    properties:\n      fetch.wait.max.ms: soon\n", wantErr: "FILE:4: contexts.a.properties.fetch.wait.max.ms: property fetch.max.wait.ms=soon: want a whole number of ms above 0"},
		{name: "unknown property", file: "contexts:\n  a:\n    properties: {bootstrap.server: x}\n", wantErr: `FILE:3: contexts.a.properties.bootstrap.server: unknown Kafka client property "bootstrap.server"`},
		{name: "empty brokers", file: "contexts:\n  a: {brokers: []}\n", wantErr: "FILE:2: contexts.a.brokers: must name at least one host:port"},
		{name: "not yaml", file: "contexts: [\n", wantErr: "FILE: "},
		{name: "top-level key", file: "context: a\n", wantErr: "FILE:1: context: unknown key (want current or contexts)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "config.yaml")
			if err := os.WriteFile(path, []byte(tt.file), 0o600); err != nil {
				t.Fatal(err)
			}
			var ctx *Context
			cs, err := LoadContexts(path)
			if err == nil {
				ctx, err = cs.Select(tt.pick)
			}
			if tt.wantErr != "" {
				if want := strings.ReplaceAll(tt.wantErr, "FILE", path); err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("error %v, want %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == nil {
				if ctx != nil {
					t.Fatalf("selected %s, want none", ctx.Name)
				}
				return
			}
			cfg, err := ctx.Config()
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.want {
				if got := cfg.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
	if cs, err := LoadContexts(filepath.Join(dir, "missing.yaml")); cs != nil || err != nil {
		t.Errorf("a missing file: %v %v, want no contexts and no error", cs, err)
	}
	if _, err := (*Contexts)(nil).Select("prod"); err == nil || !strings.Contains(err.Error(), "no config file with contexts") {
		t.Errorf("a name without a file: %v", err)
	}
}

func TestDefaultContextsPath(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tt := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"EDDY_CONFIG": "/x/c.yaml", "HOME": "/h"}, "/x/c.yaml"},
		{map[string]string{"XDG_CONFIG_HOME": "/xdg", "HOME": "/h"}, "/xdg/eddy/config.yaml"},
		{map[string]string{"HOME": "/h"}, "/h/.config/eddy/config.yaml"},
	} {
		if got := DefaultContextsPath(env(tt.env)); got != tt.want {
			t.Errorf("%v: %q, want %q", tt.env, got, tt.want)
		}
	}
}
