package kcfg

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/eddyhq/eddy/format"
)

// RegistryKeys are the Java serializers' schema registry properties eddy
// reads (for the avro, protobuf and json-schema formats); other
// schema.registry.* and basic.auth.* properties are ignored.
var RegistryKeys = []string{
	"schema.registry.url",
	"basic.auth.credentials.source", "basic.auth.user.info", "schema.registry.basic.auth.user.info",
	"bearer.auth.credentials.source", "bearer.auth.token",
	"schema.registry.ssl.truststore.location", "schema.registry.ssl.truststore.type", "schema.registry.ssl.truststore.password",
	"schema.registry.ssl.keystore.location", "schema.registry.ssl.keystore.type", "schema.registry.ssl.keystore.password",
	"schema.registry.ssl.key.password",
}

// Registry returns the schema registry settings of the properties; URLs
// is empty when schema.registry.url is not set. basic.auth.credentials.source
// may be USER_INFO (the default: basic.auth.user.info), URL (the user info
// of the URL) or SASL_INHERIT (the Kafka SASL user); bearer.auth.token
// gives a bearer token. TLS files must be PEM.
func (c *Config) Registry() (format.Config, error) {
	p := c.props
	rc := format.Config{URLs: splitURLs(p["schema.registry.url"])}
	info := p["basic.auth.user.info"]
	if info == "" {
		info = p["schema.registry.basic.auth.user.info"]
	}
	switch src := strings.ToUpper(p["basic.auth.credentials.source"]); src {
	case "", "USER_INFO":
		if info != "" {
			rc.User, rc.Password, _ = strings.Cut(info, ":")
		}
	case "URL":
		for i, raw := range rc.URLs {
			u, err := url.Parse(raw)
			if err != nil {
				return rc, fmt.Errorf("schema.registry.url: invalid URL")
			}
			if u.User != nil {
				rc.User = u.User.Username()
				rc.Password, _ = u.User.Password()
				u.User = nil
				rc.URLs[i] = u.String()
			}
		}
	case "SASL_INHERIT":
		rc.User, rc.Password = c.credentials()
	default:
		return rc, fmt.Errorf("basic.auth.credentials.source %s: eddy knows USER_INFO, URL and SASL_INHERIT", src)
	}
	if tok := p["bearer.auth.token"]; tok != "" {
		if s := strings.ToUpper(p["bearer.auth.credentials.source"]); s != "" && s != "STATIC_TOKEN" {
			return rc, fmt.Errorf("bearer.auth.credentials.source %s: eddy knows STATIC_TOKEN only", s)
		}
		rc.BearerToken = tok
	}
	for _, k := range []string{"schema.registry.ssl.truststore.type", "schema.registry.ssl.keystore.type"} {
		if t := strings.ToUpper(p[k]); t != "" && t != "PEM" {
			return rc, fmt.Errorf("%s %s: eddy reads PEM files only", k, t)
		}
	}
	if p["schema.registry.ssl.key.password"] != "" {
		return rc, fmt.Errorf("schema.registry.ssl.key.password: encrypted private keys are not supported; decrypt the key first")
	}
	rc.TLS.CAFile = p["schema.registry.ssl.truststore.location"]
	if ks := p["schema.registry.ssl.keystore.location"]; ks != "" {
		rc.TLS.CertFile, rc.TLS.KeyFile = ks, ks // one PEM file with certificate and key
	}
	return rc, nil
}

func isRegistryKey(k string) bool { return slices.Contains(RegistryKeys, k) }

// RegistryFromEnv reads the schema registry settings of the environment:
// EDDY_SCHEMA_REGISTRY (URLs, comma separated),
// EDDY_SCHEMA_REGISTRY_USER_INFO (user:password) and
// EDDY_SCHEMA_REGISTRY_TOKEN (a bearer token).
func RegistryFromEnv(getenv func(string) string) format.Config {
	rc := format.Config{URLs: splitURLs(getenv("EDDY_SCHEMA_REGISTRY"))}
	if info := getenv("EDDY_SCHEMA_REGISTRY_USER_INFO"); info != "" {
		rc.User, rc.Password, _ = strings.Cut(info, ":")
	}
	rc.BearerToken = getenv("EDDY_SCHEMA_REGISTRY_TOKEN")
	return rc
}

// splitURLs splits a comma-separated list, dropping empty entries.
func splitURLs(s string) []string {
	var out []string
	for _, u := range strings.Split(s, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}
