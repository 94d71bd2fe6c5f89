package kcfg

import (
	"reflect"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/format"
)

func TestRegistryProperties(t *testing.T) {
	tests := []struct {
		name, props string
		want        format.Config
		err         string
	}{
		{name: "none", props: "bootstrap.servers=b:9092\nschema.registry.auto.register.schemas=false\n"},
		{name: "user info", props: "schema.registry.url=https://a:8081, https://b:8081\nbasic.auth.credentials.source=USER_INFO\nbasic.auth.user.info=u:p:w\n" +
			"schema.registry.ssl.truststore.location=ca.pem\nschema.registry.ssl.truststore.password=x\n",
			want: format.Config{URLs: []string{"https://a:8081", "https://b:8081"}, User: "u", Password: "p:w", TLS: format.TLSConfig{CAFile: "ca.pem"}}},
		{name: "prefixed user info", props: "schema.registry.url=http://sr\nschema.registry.basic.auth.user.info=u:p\n",
			want: format.Config{URLs: []string{"http://sr"}, User: "u", Password: "p"}},
		{name: "url", props: "schema.registry.url=http://u:p@sr:8081/x\nbasic.auth.credentials.source=URL\n",
			want: format.Config{URLs: []string{"http://sr:8081/x"}, User: "u", Password: "p"}},
		{name: "sasl inherit", props: "schema.registry.url=http://sr\nbasic.auth.credentials.source=SASL_INHERIT\nsasl.username=k\nsasl.password=s\n",
			want: format.Config{URLs: []string{"http://sr"}, User: "k", Password: "s"}},
		{name: "bearer", props: "schema.registry.url=http://sr\nbearer.auth.credentials.source=STATIC_TOKEN\nbearer.auth.token=tok\n",
			want: format.Config{URLs: []string{"http://sr"}, BearerToken: "tok"}},
		{name: "keystore", props: "schema.registry.url=https://sr\nschema.registry.ssl.keystore.location=me.pem\n",
			want: format.Config{URLs: []string{"https://sr"}, TLS: format.TLSConfig{CertFile: "me.pem", KeyFile: "me.pem"}}},
		{name: "jks", props: "schema.registry.url=https://sr\nschema.registry.ssl.truststore.type=JKS\n", err: "schema.registry.ssl.truststore.type JKS: eddy reads PEM files only"},
		{name: "source", props: "schema.registry.url=https://sr\nbasic.auth.credentials.source=OAUTH\n", err: "basic.auth.credentials.source OAUTH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New()
			if err := c.readProperties("p", strings.NewReader(tt.props)); err != nil {
				t.Fatal(err)
			}
			got, err := c.Registry()
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestRegistrySecretsAreRedacted(t *testing.T) {
	c := New()
	props := "schema.registry.url=http://sr\nbasic.auth.user.info=u:hunter2\nbearer.auth.token=tok123\n"
	if err := c.readProperties("p", strings.NewReader(props)); err != nil {
		t.Fatal(err)
	}
	if s := c.String(); strings.Contains(s, "hunter2") || strings.Contains(s, "tok123") || !strings.Contains(s, "schema.registry.url=http://sr") {
		t.Errorf("redacted: %s", s)
	}
	if got := Redact("basic.auth.user.info=u:hunter2"); got != "basic.auth.user.info=***" {
		t.Errorf("Redact = %q", got)
	}
}

func TestRegistryFromEnv(t *testing.T) {
	env := map[string]string{"EDDY_SCHEMA_REGISTRY": "http://a, http://b", "EDDY_SCHEMA_REGISTRY_USER_INFO": "u:p", "EDDY_SCHEMA_REGISTRY_TOKEN": ""}
	got := RegistryFromEnv(func(k string) string { return env[k] })
	want := format.Config{URLs: []string{"http://a", "http://b"}, User: "u", Password: "p"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
