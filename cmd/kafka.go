package cmd

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/eddyhq/eddy/kcfg"
)

// kafkaFlags are the global Kafka connection flags.
type kafkaFlags struct {
	brokers    string
	configFile string
	overrides  []string
	tlsCA      string
	tlsCert    string
	tlsKey     string
	tlsServer  string
	tlsSkip    bool
	tls        bool
	saslMech   string
	saslUser   string
	saslPass   string
}

var kflags kafkaFlags

func addKafkaFlags(root *cobra.Command) {
	kflags = kafkaFlags{}
	f := root.PersistentFlags()
	f.StringVarP(&kflags.brokers, "brokers", "b", "", "Kafka bootstrap `BROKERS`, comma separated (default $EDDY_BROKERS)")
	f.StringVar(&kflags.configFile, "kafka-config", "", "Java client properties `FILE` (bootstrap.servers, security.protocol, sasl.*, ssl.*); default $EDDY_KAFKA_CONFIG")
	f.StringArrayVarP(&kflags.overrides, "property", "X", nil, "client property `key=value` (Java or librdkafka name), repeatable; wins over everything")
	f.BoolVar(&kflags.tls, "tls", false, "connect with TLS (security.protocol SSL, or SASL_SSL with SASL)")
	f.StringVar(&kflags.tlsCA, "tls-ca", "", "PEM `FILE` with the CA certificates to trust")
	f.StringVar(&kflags.tlsCert, "tls-cert", "", "PEM client certificate `FILE`")
	f.StringVar(&kflags.tlsKey, "tls-key", "", "PEM client key `FILE`")
	f.StringVar(&kflags.tlsServer, "tls-server-name", "", "expected server `NAME` in the broker's certificate")
	f.BoolVar(&kflags.tlsSkip, "tls-insecure-skip-verify", false, "do not verify the broker's certificate (warns)")
	f.StringVar(&kflags.saslMech, "sasl-mechanism", "", "SASL `MECHANISM`: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
	f.StringVar(&kflags.saslUser, "sasl-user", "", "SASL `USER` (or $EDDY_SASL_USERNAME)")
	f.StringVar(&kflags.saslPass, "sasl-password", "", "SASL password; prefer $EDDY_SASL_PASSWORD, which stays out of ps and shell history")
}

// kafkaConfig resolves the connection settings: properties file, then
// environment, then flags, then -X overrides.
func kafkaConfig(c *cobra.Command) (*kcfg.Config, error) {
	cfg := kcfg.New()
	cfg.Warn = func(s string) { fmt.Fprintf(c.ErrOrStderr(), "eddy: warning: %s\n", s) }
	file := kflags.configFile
	if file == "" {
		file = os.Getenv("EDDY_KAFKA_CONFIG")
	}
	if file != "" {
		if err := cfg.LoadProperties(file); err != nil {
			return nil, usageError{err}
		}
	}
	cfg.FromEnv(os.Getenv)
	set := func(k, v string) {
		if v != "" {
			_ = cfg.Set(k, v)
		}
	}
	set("bootstrap.servers", kflags.brokers)
	set("ssl.truststore.location", kflags.tlsCA)
	set("ssl.keystore.certificate.location", kflags.tlsCert)
	set("ssl.keystore.key.location", kflags.tlsKey)
	set("eddy.ssl.server.name", kflags.tlsServer)
	set("sasl.mechanism", kflags.saslMech)
	set("sasl.username", kflags.saslUser)
	set("sasl.password", kflags.saslPass)
	if kflags.tlsSkip {
		set("eddy.ssl.verify", "false")
	}
	if kflags.tls || kflags.tlsCA != "" || kflags.tlsCert != "" || kflags.tlsSkip {
		if cfg.Get("sasl.mechanism") != "" || cfg.Get("sasl.username") != "" {
			set("security.protocol", "SASL_SSL")
		} else if cfg.Get("security.protocol") == "" {
			set("security.protocol", "SSL")
		}
	}
	for _, kv := range kflags.overrides {
		if err := cfg.SetOverride(kv); err != nil {
			return nil, usageError{err}
		}
	}
	return cfg, nil
}
