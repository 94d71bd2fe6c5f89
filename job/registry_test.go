package job

import (
	"reflect"
	"testing"

	"github.com/eddyhq/eddy/format"
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
