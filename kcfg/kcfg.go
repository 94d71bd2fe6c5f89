// Package kcfg turns the ways engineers already configure Kafka clients —
// flags, a Java client.properties file, librdkafka-style `-X key=value`
// overrides and environment variables — into franz-go client options.
//
// Precedence, lowest first: the properties file, environment variables,
// flags, then -X overrides. Secrets (passwords, JAAS configs, key
// passwords, OAuth client secrets and token commands) never appear in
// String, Redacted, errors or logs. SASL OAUTHBEARER tokens come from a
// token endpoint, a command or a locally built unsecured JWT (oauth.go).
package kcfg

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// Config is a resolved client configuration: properties with their Java (or
// librdkafka) names.
type Config struct {
	props map[string]string
	// Warn receives warnings (e.g. TLS verification disabled); nil discards.
	Warn func(string)
}

// Keys that hold secrets; their values are never printed.
var secretKeys = map[string]bool{
	"sasl.password": true, "sasl.jaas.config": true, "ssl.key.password": true,
	"ssl.keystore.password": true, "ssl.truststore.password": true, "ssl.key.pem": true,
	"basic.auth.user.info": true, "schema.registry.basic.auth.user.info": true, "bearer.auth.token": true,
	"schema.registry.ssl.truststore.password": true, "schema.registry.ssl.keystore.password": true,
	"schema.registry.ssl.key.password": true,
	"sasl.oauthbearer.client.secret":   true, "eddy.sasl.oauthbearer.token.command": true,
}

// Aliases map librdkafka and eddy spellings onto one name.
var aliases = map[string]string{
	"metadata.broker.list":                "bootstrap.servers",
	"sasl.mechanisms":                     "sasl.mechanism",
	"ssl.ca.location":                     "ssl.truststore.location",
	"ssl.certificate.location":            "ssl.keystore.certificate.location",
	"ssl.key.location":                    "ssl.keystore.key.location",
	"enable.ssl.certificate.verification": "eddy.ssl.verify",
}

// Known lists every property eddy understands (after aliasing).
var Known = []string{
	"bootstrap.servers", "client.id", "security.protocol", "sasl.mechanism",
	"sasl.username", "sasl.password", "sasl.jaas.config",
	"ssl.truststore.location", "ssl.truststore.type", "ssl.keystore.location", "ssl.keystore.type",
	"ssl.keystore.certificate.location", "ssl.keystore.key.location", "ssl.key.password",
	"ssl.endpoint.identification.algorithm", "eddy.ssl.server.name", "eddy.ssl.verify",
	"ssl.truststore.password", "ssl.keystore.password",
	"request.timeout.ms", "socket.connection.setup.timeout.ms",
	"sasl.oauthbearer.token.endpoint.url", "sasl.oauthbearer.client.id", "sasl.oauthbearer.client.secret",
	"sasl.oauthbearer.scope", "sasl.oauthbearer.header.urlencode", "eddy.sasl.oauthbearer.token.command",
}

// ignored are common Java-client properties that do not apply to eddy;
// they are accepted silently so existing files load unchanged.
var ignored = regexp.MustCompile(`^(key|value)\.(de)?serializer$|^(acks|linger\.ms|batch\.size|compression\.type|retries|retry\.backoff\.ms|max\.poll\.records|auto\.offset\.reset|enable\.auto\.commit|group\.id|client\.dns\.lookup|sasl\.login\..*|sasl\.oauthbearer\.(clock\.skew\.seconds|expected\.(audience|issuer)|jwks\.endpoint\..*|scope\.claim\.name|sub\.claim\.name)|ssl\.protocol|ssl\.enabled\.protocols|ssl\.cipher\.suites|basic\.auth\..*|schema\.registry\..*|interceptor\.classes|metric\..*|reconnect\..*)$`)

// Merge returns a configuration with base's properties overridden by
// top's; top's Warn is kept.
func Merge(base, top *Config) *Config {
	out := &Config{props: map[string]string{}, Warn: top.Warn}
	for k, v := range base.props {
		out.props[k] = v
	}
	for k, v := range top.props {
		out.props[k] = v
	}
	return out
}

// New returns an empty configuration.
func New() *Config { return &Config{props: map[string]string{}} }

// Set sets a property by Java or librdkafka name. Unknown names are errors
// (so typos do not silently do nothing), except common Java-client
// properties that do not apply, which are ignored.
func (c *Config) Set(key, value string) error {
	key = strings.TrimSpace(key)
	if a, ok := aliases[key]; ok {
		key = a
	}
	if isRegistryKey(key) {
		c.props[key] = value
		return nil
	}
	if k, ok := tuningAliases[key]; ok {
		key = k
	}
	if _, ok := tuning[key]; ok {
		if err := checkTuning(key, strings.TrimSpace(value)); err != nil {
			return err
		}
		c.props[key] = strings.TrimSpace(value)
		return nil
	}
	if ignored.MatchString(key) {
		return nil
	}
	known := false
	for _, k := range Known {
		if k == key {
			known = true
			break
		}
	}
	if !known {
		return fmt.Errorf("unknown Kafka client property %q (docs/kafka.md lists those eddy takes)", key)
	}
	c.props[key] = value
	return nil
}

// Get returns a property's value ("" when unset).
func (c *Config) Get(key string) string { return c.props[key] }

// LoadProperties reads a Java properties file (key=value or key: value,
// # and ! comments, backslash line continuations).
func (c *Config) LoadProperties(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("kafka config: %w", err)
	}
	defer f.Close()
	return c.readProperties(path, f)
}

func (c *Config) readProperties(name string, r io.Reader) error {
	sc := bufio.NewScanner(r)
	lineNo, startLine := 0, 0
	var logical strings.Builder
	flush := func() error {
		line := logical.String()
		logical.Reset()
		if line == "" {
			return nil
		}
		key, val, ok := splitProperty(line)
		if !ok {
			return fmt.Errorf("%s:%d: expected key=value", name, startLine)
		}
		if err := c.Set(key, val); err != nil {
			return fmt.Errorf("%s:%d: %w", name, startLine, err)
		}
		return nil
	}
	for sc.Scan() {
		lineNo++
		line := strings.TrimLeft(sc.Text(), " \t\f")
		if logical.Len() == 0 {
			startLine = lineNo
			if line == "" || line[0] == '#' || line[0] == '!' {
				continue
			}
		}
		// an odd number of trailing backslashes continues the line
		n := len(line) - len(strings.TrimRight(line, "\\"))
		if n%2 == 1 {
			logical.WriteString(line[:len(line)-1])
			continue
		}
		logical.WriteString(line)
		if err := flush(); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return flush()
}

// splitProperty splits a logical properties line the Java way: the key ends
// at the first unescaped '=', ':' or whitespace; escapes are decoded in both.
func splitProperty(line string) (key, val string, ok bool) {
	i := 0
	for i < len(line) {
		ch := line[i]
		if ch == '\\' {
			i += 2
			continue
		}
		if ch == '=' || ch == ':' || ch == ' ' || ch == '\t' || ch == '\f' {
			break
		}
		i++
	}
	if i >= len(line) {
		return "", "", false
	}
	key = line[:min(i, len(line))]
	rest := strings.TrimLeft(line[i:], " \t\f")
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = strings.TrimLeft(rest[1:], " \t\f")
	}
	return unescape(key), unescape(strings.TrimRight(rest, " \t")), true
}

func unescape(s string) string {
	if !strings.Contains(s, "\\") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+4 < len(s) {
				if r, err := strconv.ParseUint(s[i+1:i+5], 16, 32); err == nil {
					b.WriteRune(rune(r))
					i += 4
					continue
				}
			}
			b.WriteByte('u')
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// SetOverride applies one -X key=value.
func (c *Config) SetOverride(kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	if !ok {
		// never echo the argument: it may hold a secret after ':' or a space
		key := kv
		if i := strings.IndexAny(kv, ": \t"); i >= 0 {
			key = kv[:i]
		}
		return fmt.Errorf("-X %s: expected key=value", key)
	}
	return c.Set(k, v)
}

// Redact hides the value of a key=value pair whose key is a secret.
func Redact(kv string) string {
	i := strings.IndexAny(kv, "=:")
	if i >= 0 && secretKeys[aliasOf(strings.TrimSpace(kv[:i]))] {
		return kv[:i+1] + "***"
	}
	return kv
}

func aliasOf(k string) string {
	if a, ok := aliases[k]; ok {
		return a
	}
	return k
}

// FromEnv applies EDDY_BROKERS, EDDY_SASL_MECHANISM, EDDY_SASL_USERNAME,
// EDDY_SASL_PASSWORD and EDDY_SECURITY_PROTOCOL when set.
func (c *Config) FromEnv(getenv func(string) string) {
	for env, key := range map[string]string{
		"EDDY_BROKERS": "bootstrap.servers", "EDDY_SECURITY_PROTOCOL": "security.protocol",
		"EDDY_SASL_MECHANISM": "sasl.mechanism", "EDDY_SASL_USERNAME": "sasl.username",
		"EDDY_SASL_PASSWORD": "sasl.password",
	} {
		if v := getenv(env); v != "" {
			c.props[key] = v
		}
	}
}

// Brokers returns the seed brokers.
func (c *Config) Brokers() []string {
	var out []string
	for _, b := range strings.Split(c.props["bootstrap.servers"], ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// Redacted returns the properties with secrets replaced by "***", sorted.
func (c *Config) Redacted() []string {
	var out []string
	for k, v := range c.props {
		if secretKeys[k] {
			v = "***"
		}
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// String is the redacted configuration on one line.
func (c *Config) String() string { return strings.Join(c.Redacted(), " ") }

var jaasRe = regexp.MustCompile(`(\w+)\s*=\s*"((?:[^"\\]|\\.)*)"`)

// credentials returns the SASL user and password, from sasl.username and
// sasl.password or from a sasl.jaas.config PlainLoginModule/ScramLoginModule.
func (c *Config) credentials() (user, pass string) {
	user, pass = c.props["sasl.username"], c.props["sasl.password"]
	if jaas := c.props["sasl.jaas.config"]; jaas != "" {
		for _, m := range jaasRe.FindAllStringSubmatch(jaas, -1) {
			switch m[1] {
			case "username":
				if user == "" {
					user = m[2]
				}
			case "password":
				if pass == "" {
					pass = strings.ReplaceAll(m[2], `\"`, `"`)
				}
			}
		}
	}
	return user, pass
}

// Opts builds franz-go options: seed brokers, TLS and SASL, and bounded
// dial and request timeouts so an unreachable broker fails instead of
// hanging.
func (c *Config) Opts() ([]kgo.Opt, error) {
	brokers := c.Brokers()
	if len(brokers) == 0 {
		return nil, errors.New("no brokers: pass -b/--brokers, set EDDY_BROKERS, or bootstrap.servers in --kafka-config")
	}
	dial := 5 * time.Second
	if ms, err := strconv.Atoi(c.props["socket.connection.setup.timeout.ms"]); err == nil && ms > 0 {
		dial = time.Duration(ms) * time.Millisecond
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.DialTimeout(dial),
		kgo.RetryTimeout(30 * time.Second),
	}
	if ms, err := strconv.Atoi(c.props["request.timeout.ms"]); err == nil && ms > 0 {
		opts = append(opts, kgo.RequestTimeoutOverhead(time.Duration(ms)*time.Millisecond))
	}
	if id := c.props["client.id"]; id != "" {
		opts = append(opts, kgo.ClientID(id))
	} else {
		opts = append(opts, kgo.ClientID("eddy"))
	}
	proto := strings.ToUpper(c.props["security.protocol"])
	if proto == "" {
		proto = "PLAINTEXT"
		if c.props["sasl.mechanism"] != "" {
			proto = "SASL_PLAINTEXT"
		}
	}
	switch proto {
	case "PLAINTEXT", "SASL_PLAINTEXT":
	case "SSL", "SASL_SSL":
		tc, err := c.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	default:
		return nil, fmt.Errorf("security.protocol %q: expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", proto)
	}
	if strings.HasPrefix(proto, "SASL_") {
		m, err := c.mechanism()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.SASL(m))
	}
	return append(opts, c.tuningOpts()...), nil
}

func (c *Config) mechanism() (sasl.Mechanism, error) {
	if strings.EqualFold(c.props["sasl.mechanism"], "OAUTHBEARER") {
		return c.oauthMechanism()
	}
	user, pass := c.credentials()
	if user == "" {
		return nil, errors.New("SASL needs a user: sasl.username, --sasl-user, EDDY_SASL_USERNAME or sasl.jaas.config")
	}
	mech := strings.ToUpper(c.props["sasl.mechanism"])
	switch mech {
	case "", "PLAIN":
		return plain.Auth{User: user, Pass: pass}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism(), nil
	case "SCRAM-SHA-512":
		return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("sasl.mechanism %q: expected PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER", mech)
}

func (c *Config) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.props["eddy.ssl.server.name"]}
	if ca := c.props["ssl.truststore.location"]; ca != "" {
		if t := strings.ToUpper(c.props["ssl.truststore.type"]); t != "" && t != "PEM" {
			return nil, fmt.Errorf("ssl.truststore.type %s: eddy reads PEM files only (convert with keytool -exportcert -rfc)", t)
		}
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("TLS CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("TLS CA file %s: no PEM certificates in it", ca)
		}
		tc.RootCAs = pool
	}
	if c.props["ssl.key.password"] != "" {
		return nil, errors.New("ssl.key.password: encrypted private keys are not supported; decrypt the key first (openssl pkey -in key.pem -out key-plain.pem)")
	}
	certFile, keyFile := c.props["ssl.keystore.certificate.location"], c.props["ssl.keystore.key.location"]
	if ks := c.props["ssl.keystore.location"]; ks != "" && certFile == "" {
		if t := strings.ToUpper(c.props["ssl.keystore.type"]); t != "" && t != "PEM" {
			return nil, fmt.Errorf("ssl.keystore.type %s: eddy reads PEM files only", t)
		}
		certFile, keyFile = ks, ks // one PEM file with certificate and key
	}
	if certFile != "" || keyFile != "" {
		if certFile == "" || keyFile == "" {
			return nil, errors.New("TLS client authentication needs both a certificate and a key")
		}
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("TLS client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	if alg, set := c.props["ssl.endpoint.identification.algorithm"]; set && alg == "" && !tc.InsecureSkipVerify {
		// Java's way to turn off host name checks: still verify the chain
		tc.InsecureSkipVerify = true
		roots := tc.RootCAs
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("broker sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, ct := range cs.PeerCertificates[1:] {
				inter.AddCert(ct)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
			return err
		}
		if c.Warn != nil {
			c.Warn("ssl.endpoint.identification.algorithm is empty: the broker's host name is not checked")
		}
	}
	if v := strings.ToLower(c.props["eddy.ssl.verify"]); v == "false" || v == "0" {
		tc.InsecureSkipVerify = true
		if c.Warn != nil {
			c.Warn("TLS certificate verification is disabled: the broker's identity is not checked")
		}
	}
	return tc, nil
}

// Client creates a franz-go client with extra options and checks that the
// cluster answers within timeout, returning a one-line error that says
// whether the broker was unreachable or authentication failed.
func (c *Config) Client(ctx context.Context, timeout time.Duration, extra ...kgo.Opt) (*kgo.Client, error) {
	opts, err := c.Opts()
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := cl.Ping(pctx); err != nil {
		cl.Close()
		return nil, c.Explain(err)
	}
	return cl, nil
}

// Explain turns a connection error into one line saying which problem it is.
func (c *Config) Explain(err error) error {
	brokers := strings.Join(c.Brokers(), ",")
	var ne net.Error
	var oe *net.OpError
	usesSASL := strings.HasPrefix(strings.ToUpper(c.props["security.protocol"]), "SASL_") ||
		(c.props["security.protocol"] == "" && c.props["sasl.mechanism"] != "")
	switch {
	case errors.Is(err, kerr.SaslAuthenticationFailed) || strings.Contains(err.Error(), "SASL") || strings.Contains(err.Error(), "sasl") || strings.Contains(err.Error(), "OAUTHBEARER"):
		at := brokers
		if m := c.props["sasl.mechanism"]; m != "" {
			at += " (" + strings.ToUpper(m) + ")"
		}
		return fmt.Errorf("authentication failed at %s: %s", at, firstLine(err.Error()))
	case usesSASL && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)):
		// brokers may close the connection on bad credentials
		return fmt.Errorf("authentication failed at %s: the broker closed the connection during SASL (wrong user, password or mechanism?)", brokers)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("cannot reach broker %s: no answer in time (wrong address, or a TLS/plaintext mismatch?)", brokers)
	case errors.As(err, &oe), errors.As(err, &ne):
		return fmt.Errorf("cannot reach broker %s: %s", brokers, firstLine(err.Error()))
	}
	return fmt.Errorf("kafka %s: %s", brokers, firstLine(err.Error()))
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// JavaProperties returns the connection properties as the Java client
// (Flink's Kafka connector) takes them: security.protocol, sasl.mechanism,
// a sasl.jaas.config built from sasl.username and sasl.password when none is
// given, and PEM files as ssl.truststore.type/ssl.keystore.type PEM (a
// client certificate and key are read and inlined, as the Java client has no
// separate-file settings). eddy's own keys and bootstrap.servers are left
// out; the values include secrets.
func (c *Config) JavaProperties() (map[string]string, error) {
	out := map[string]string{}
	for k, v := range c.props {
		switch {
		case k == "bootstrap.servers", strings.HasPrefix(k, "eddy."), isRegistryKey(k),
			k == "sasl.username", k == "sasl.password",
			k == "ssl.keystore.certificate.location", k == "ssl.keystore.key.location":
			continue
		}
		out[k] = v
	}
	if out["sasl.jaas.config"] == "" {
		if user, pass := c.credentials(); user != "" {
			module := "org.apache.kafka.common.security.plain.PlainLoginModule"
			if strings.HasPrefix(strings.ToUpper(c.props["sasl.mechanism"]), "SCRAM-") {
				module = "org.apache.kafka.common.security.scram.ScramLoginModule"
			}
			q := func(s string) string {
				return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
			}
			out["sasl.jaas.config"] = module + " required username=" + q(user) + " password=" + q(pass) + ";"
		}
	}
	if ca := out["ssl.truststore.location"]; ca != "" && out["ssl.truststore.type"] == "" && !strings.HasSuffix(ca, ".jks") && !strings.HasSuffix(ca, ".p12") {
		out["ssl.truststore.type"] = "PEM"
	}
	cert, key := c.props["ssl.keystore.certificate.location"], c.props["ssl.keystore.key.location"]
	if cert != "" || key != "" {
		if cert == "" || key == "" {
			return nil, fmt.Errorf("a client certificate needs both ssl.certificate.location and ssl.key.location")
		}
		cb, err := os.ReadFile(cert)
		if err != nil {
			return nil, err
		}
		kb, err := os.ReadFile(key)
		if err != nil {
			return nil, err
		}
		out["ssl.keystore.type"] = "PEM"
		out["ssl.keystore.certificate.chain"] = strings.TrimSpace(string(cb))
		out["ssl.keystore.key"] = strings.TrimSpace(string(kb))
	}
	if c.props["eddy.ssl.verify"] == "false" {
		out["ssl.endpoint.identification.algorithm"] = ""
	}
	return out, nil
}
