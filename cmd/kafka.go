package cmd

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/eddyhq/eddy/format"
	"github.com/eddyhq/eddy/kcfg"
)

// kafkaFlags are the Kafka connection flags of one invocation.
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
	registry   string
	context    string
}

// kafkaFlagSet defines the Kafka connection flags, with pointers into k.
func kafkaFlagSet(k *kafkaFlags) *pflag.FlagSet {
	f := pflag.NewFlagSet("kafka", pflag.ContinueOnError)
	f.StringVarP(&k.brokers, "brokers", "b", "", "Kafka bootstrap `BROKERS`, comma separated (default $EDDY_BROKERS)")
	f.StringVar(&k.configFile, "kafka-config", "", "Java client properties `FILE` (bootstrap.servers, security.protocol, sasl.*, ssl.*); default $EDDY_KAFKA_CONFIG")
	f.StringArrayVarP(&k.overrides, "property", "X", nil, "client property `key=value` (Java or librdkafka name), repeatable; wins over everything")
	f.BoolVar(&k.tls, "tls", false, "connect with TLS (security.protocol SSL, or SASL_SSL with SASL)")
	f.StringVar(&k.tlsCA, "tls-ca", "", "PEM `FILE` with the CA certificates to trust")
	f.StringVar(&k.tlsCert, "tls-cert", "", "PEM client certificate `FILE`")
	f.StringVar(&k.tlsKey, "tls-key", "", "PEM client key `FILE`")
	f.StringVar(&k.tlsServer, "tls-server-name", "", "expected server `NAME` in the broker's certificate")
	f.BoolVar(&k.tlsSkip, "tls-insecure-skip-verify", false, "do not verify the broker's certificate (warns)")
	f.StringVar(&k.saslMech, "sasl-mechanism", "", "SASL `MECHANISM`: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER")
	f.StringVar(&k.saslUser, "sasl-user", "", "SASL `USER` (or $EDDY_SASL_USERNAME)")
	f.StringVar(&k.saslPass, "sasl-password", "", "SASL password; prefer $EDDY_SASL_PASSWORD, which stays out of ps and shell history")
	f.StringVar(&k.context, "context", "", "named cluster `NAME` from eddy's config file (default $EDDY_CONTEXT, else the file's current:)")
	f.StringVar(&k.registry, "schema-registry", "", "schema registry `URL` of a spec's format avro, protobuf or json-schema in eddy run (over the spec, schema.registry.url and $EDDY_SCHEMA_REGISTRY)")
	return f
}

// withKafkaFlags gives a command that talks to Kafka the connection flags,
// as persistent flags so that its subcommands (dlq list, ...) take them too.
// They are read back by name from the invoked command (readKafkaFlags).
func withKafkaFlags(c *cobra.Command) *cobra.Command {
	c.PersistentFlags().AddFlagSet(kafkaFlagSet(new(kafkaFlags)))
	completeTopicFlags(c)
	return c
}

// completeTopicFlags makes the shell complete -t/--topic (and tui's
// :attach) of c and its subcommands with the cluster's topics.
func completeTopicFlags(c *cobra.Command) {
	if c.Flags().Lookup("topic") != nil {
		_ = c.RegisterFlagCompletionFunc("topic", completeTopics)
	}
	for _, sub := range c.Commands() {
		completeTopicFlags(sub)
	}
}

// completeTopics lists the topics of the cluster the command's flags,
// environment and context name, that start with what was typed; internal
// topics only when asked for by their "__" prefix. A cluster that does not
// answer within two seconds completes nothing.
func completeTopics(c *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
	none := cobra.ShellCompDirectiveNoFileComp
	cfg, err := kafkaConfig(c)
	if err != nil {
		return nil, none
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	cl, err := cfg.Client(ctx, 2*time.Second)
	if err != nil {
		return nil, none
	}
	defer cl.Close()
	tds, err := kadm.NewClient(cl).ListTopicsWithInternal(ctx)
	if err != nil {
		return nil, none
	}
	var names []string
	for _, name := range tds.Names() {
		if strings.HasPrefix(name, prefix) && (strings.HasPrefix(prefix, "__") || !strings.HasPrefix(name, "__")) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, none
}

// acceptKafkaFlagsFirst lets the connection flags come before the command
// name (eddy -b X run p.yaml, as the docs write it). To find the command,
// cobra skips the root's flags and must know which of them take a value
// (--tls does not): the root declares them, hidden, for that alone; the
// command found parses them, and one that does not take them refuses them.
func acceptKafkaFlagsFirst(root *cobra.Command) {
	f := kafkaFlagSet(new(kafkaFlags))
	f.VisitAll(func(fl *pflag.Flag) { fl.Hidden = true })
	root.Flags().AddFlagSet(f)
}

// readKafkaFlags reads the connection flags of the invoked command c (zero
// values when c does not take them).
func readKafkaFlags(c *cobra.Command) kafkaFlags {
	fs := c.Flags()
	str := func(name string) string { v, _ := fs.GetString(name); return v }
	set := func(name string) bool { v, _ := fs.GetBool(name); return v }
	overrides, _ := fs.GetStringArray("property")
	return kafkaFlags{
		brokers: str("brokers"), configFile: str("kafka-config"), overrides: overrides,
		tlsCA: str("tls-ca"), tlsCert: str("tls-cert"), tlsKey: str("tls-key"), tlsServer: str("tls-server-name"),
		tlsSkip: set("tls-insecure-skip-verify"), tls: set("tls"),
		saslMech: str("sasl-mechanism"), saslUser: str("sasl-user"), saslPass: str("sasl-password"),
		registry: str("schema-registry"), context: str("context"),
	}
}

// contextConfig is the named cluster of eddy's config file that name (or
// else $EDDY_CONTEXT, or else the file's current:) selects, as the base of
// a command's Kafka settings, and its name; an empty Config and "" when
// none is selected.
func contextConfig(name string) (*kcfg.Config, string, error) {
	if name == "" {
		name = os.Getenv("EDDY_CONTEXT")
	}
	cs, err := kcfg.LoadContexts(kcfg.DefaultContextsPath(os.Getenv))
	if err != nil {
		return nil, "", usageError{err}
	}
	ctx, err := cs.Select(name)
	if err != nil || ctx == nil {
		return kcfg.New(), "", usageErr(err)
	}
	cfg, err := ctx.Config()
	if err != nil {
		return nil, "", usageError{err}
	}
	return cfg, ctx.Name, nil
}

// usageErr wraps a non-nil err as a usage error.
func usageErr(err error) error {
	if err == nil {
		return nil
	}
	return usageError{err}
}

// registryConfig is the schema registry of the --schema-registry flag
// and of the environment (job.Options.SchemaRegistry).
func registryConfig(c *cobra.Command) (flag, env format.Config) {
	if u := readKafkaFlags(c).registry; u != "" {
		flag.URLs = []string{u}
	}
	return flag, kcfg.RegistryFromEnv(os.Getenv)
}

// kafkaConfig resolves the connection settings: properties file, then
// environment, then flags, then -X overrides.
func kafkaConfig(c *cobra.Command) (*kcfg.Config, error) {
	kflags := readKafkaFlags(c)
	cfg, _, err := contextConfig(kflags.context)
	if err != nil {
		return nil, err
	}
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
