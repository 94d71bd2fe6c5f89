package job

import (
	"context"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eddyhq/eddy/format"
	"github.com/eddyhq/eddy/kcfg"
	"github.com/eddyhq/eddy/pipeline"
	"github.com/eddyhq/eddy/sink"
)

// schemas is the schema cache of the pipeline's format (SchemaCache).
func (r *runner) schemas(ctx context.Context) (*format.Cache, error) {
	flag, env := r.registryFlags()
	return SchemaCache(ctx, r.p, flag, env, r.srcCfg)
}

// SchemaCache is the schema cache of pipeline p's format (nil for json),
// its registry settings merged, highest first, from flag, the spec's
// source.kafka.registry, the properties of the source's cluster srcCfg
// (nil: none) and env.
func SchemaCache(ctx context.Context, p *pipeline.Pipeline, flag, env format.Config, srcCfg *kcfg.Config) (*format.Cache, error) {
	if !format.NeedsRegistry(p.Format) {
		return nil, nil
	}
	cl, err := registryClient(p, flag, env, srcCfg, "format "+p.Format)
	if err != nil {
		return nil, err
	}
	return format.NewCache(ctx, cl, format.CacheOptions{}), nil
}

// registryFlags is the --schema-registry flag's settings and the
// environment's.
func (r *runner) registryFlags() (flag, env format.Config) {
	if r.o.SchemaRegistry != nil {
		flag, env = r.o.SchemaRegistry()
	}
	return flag, env
}

// registryClient is the schema registry for what (a format, a sink):
// the settings merged, highest first, from flag, p's
// source.kafka.registry, the properties of cluster (nil: none) and env.
func registryClient(p *pipeline.Pipeline, flag, env format.Config, cluster *kcfg.Config, what string) (*sr.Client, error) {
	layers := []format.Config{flag}
	if k := p.Source.Kafka; k != nil {
		layers = append(layers, SpecRegistry(k.Registry))
	}
	if cluster != nil {
		props, err := cluster.Registry()
		if err != nil {
			return nil, specErr(err)
		}
		layers = append(layers, props)
	}
	cfg := MergeRegistry(append(layers, env)...)
	if len(cfg.URLs) == 0 {
		return nil, specErr(fmt.Errorf("%s needs a schema registry: --schema-registry, source.kafka.registry.url, schema.registry.url in the client properties or EDDY_SCHEMA_REGISTRY", what))
	}
	cl, err := cfg.Client()
	if err != nil {
		return nil, specErr(err)
	}
	return cl, nil
}

// checkAvroSinks refuses a Kafka sink of format avro when the rows are
// records passed through as they came (no named fields to derive the
// schema from).
func checkAvroSinks(p *pipeline.Pipeline, plan *pipeline.Plan) error {
	for i, t := range p.Sinks {
		if t.Kafka != nil && t.Kafka.Format == "avro" && plan.Output.Raw && plan.Window == nil {
			return specErr(fmt.Errorf("sinks[%d].kafka.format: avro needs rows with named fields to derive the schema from; add a project stage or a window", i))
		}
	}
	return nil
}

// avroRows is the Avro encoder of a Kafka sink with format avro (nil for
// json): subject TOPIC-value (the topic-name strategy), schemas registered
// in the registry of the sink's cluster.
func (r *runner) avroRows(t *pipeline.KafkaTarget) (*sink.AvroRows, error) {
	if t.Format != "avro" {
		return nil, nil
	}
	cfg, err := r.targetConfig(t)
	if err != nil {
		return nil, err
	}
	flag, env := r.registryFlags()
	cl, err := registryClient(r.p, flag, env, cfg, "kafka sink "+t.Topic+" with format avro")
	if err != nil {
		return nil, err
	}
	return sink.NewAvroRows(cl, t.Topic+"-value", t.Topic), nil
}

// SpecRegistry is source.kafka.registry as a format.Config.
func SpecRegistry(s *pipeline.Registry) format.Config {
	var c format.Config
	if s == nil {
		return c
	}
	if s.URL != "" {
		c.URLs = []string{s.URL}
	}
	c.User, c.Password, c.BearerToken = s.User, s.Password, s.Token
	if c.Password == "" {
		c.User, c.Password, _ = strings.Cut(s.User, ":")
	}
	if t := s.TLS; t != nil {
		c.TLS = format.TLSConfig{CAFile: t.CA, CertFile: t.Cert, KeyFile: t.Key, InsecureSkipVerify: t.Insecure}
	}
	return c
}

// MergeRegistry merges registry settings given highest first: the URLs
// of the first that has any; the credentials (basic auth or a token) of
// the first that has any, as a whole; each TLS file of the first that
// names it; certificate checks off when any turns them off.
func MergeRegistry(layers ...format.Config) format.Config {
	var out format.Config
	auth := false
	for _, l := range layers {
		if len(out.URLs) == 0 {
			out.URLs = l.URLs
		}
		if !auth && (l.User != "" || l.BearerToken != "") {
			out.User, out.Password, out.BearerToken, auth = l.User, l.Password, l.BearerToken, true
		}
		if out.TLS.CAFile == "" {
			out.TLS.CAFile = l.TLS.CAFile
		}
		if out.TLS.CertFile == "" && out.TLS.KeyFile == "" {
			out.TLS.CertFile, out.TLS.KeyFile = l.TLS.CertFile, l.TLS.KeyFile
		}
		out.TLS.InsecureSkipVerify = out.TLS.InsecureSkipVerify || l.TLS.InsecureSkipVerify
		if out.Timeout == 0 {
			out.Timeout = l.Timeout
		}
	}
	return out
}
