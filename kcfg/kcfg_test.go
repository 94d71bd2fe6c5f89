package kcfg

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadProperties(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		want    map[string]string
		wantErr string // "FILE" stands for the file's path
		bug     string // known deviation from Java properties: skip with this reason
	}{
		{
			name: "separators, comments and blank lines",
			file: "# a comment\n! another\n\n  bootstrap.servers=a:9092,b:9092\nclient.id : eddy-test\n\tsasl.mechanism =  PLAIN  \n",
			want: map[string]string{"bootstrap.servers": "a:9092,b:9092", "client.id": "eddy-test", "sasl.mechanism": "PLAIN"},
		},
		{
			name: "the first separator splits; the value keeps the rest",
			file: "bootstrap.servers: host:9092\nsasl.jaas.config=a=b:c\n",
			want: map[string]string{"bootstrap.servers": "host:9092", "sasl.jaas.config": "a=b:c"},
		},
		{
			name: "continuation lines are joined without their indentation",
			file: "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\\n" +
				"    username=\"eddy\" \\\n    password=\"pw\";\nclient.id=x\n",
			want: map[string]string{
				"sasl.jaas.config": `org.apache.kafka.common.security.scram.ScramLoginModule required username="eddy" password="pw";`,
				"client.id":        "x",
			},
		},
		{
			name: "a continued line starting with # is not a comment",
			file: "client.id=a\\\n#b\n",
			want: map[string]string{"client.id": "a#b"},
		},
		{
			name: "an escaped backslash at the end does not continue",
			file: "client.id=a\\\\\nsasl.mechanism=PLAIN\n",
			want: map[string]string{"client.id": `a\`, "sasl.mechanism": "PLAIN"},
		},
		{
			name: "librdkafka names are aliases",
			file: "metadata.broker.list=k:1\nsasl.mechanisms=SCRAM-SHA-256\nssl.ca.location=/ca.pem\nssl.certificate.location=/c.pem\nssl.key.location=/k.pem\nenable.ssl.certificate.verification=false\n",
			want: map[string]string{"bootstrap.servers": "k:1", "sasl.mechanism": "SCRAM-SHA-256",
				"ssl.truststore.location": "/ca.pem", "ssl.keystore.certificate.location": "/c.pem",
				"ssl.keystore.key.location": "/k.pem", "eddy.ssl.verify": "false"},
		},
		{
			name: "Java client properties that do not apply are ignored",
			file: "bootstrap.servers=k:1\nkey.serializer=org.apache.kafka.common.serialization.StringSerializer\n" +
				"value.deserializer=x\nacks=all\nlinger.ms=5\ngroup.id=g\nauto.offset.reset=earliest\n" +
				"sasl.login.refresh.buffer.seconds=300\nschema.registry.auto.register.schemas=false\nssl.enabled.protocols=TLSv1.3\n" +
				"schema.registry.url=http://sr\nbasic.auth.user.info=u:p\n", // the registry's are kept (Registry)
			want: map[string]string{"bootstrap.servers": "k:1", "schema.registry.url": "http://sr", "basic.auth.user.info": "u:p"},
		},
		{
			name:    "unknown keys are errors with file and line",
			file:    "# header\nbootstrap.servers=k:1\n\nbootstrap.server=k:2\n",
			wantErr: `FILE:4: unknown Kafka client property "bootstrap.server" (docs/kafka.md lists those eddy takes)`,
		},
		{
			name:    "a continued unknown key is reported at its first line",
			file:    "client.id=a\nnope=a \\\n  b\n",
			wantErr: `FILE:2: unknown Kafka client property "nope" (docs/kafka.md lists those eddy takes)`,
		},
		{
			name:    "a line without a separator",
			file:    "bootstrap.servers=k:1\njust-a-word\n",
			wantErr: "FILE:2: expected key=value",
		},
		{
			name: "a continuation at the end of the file ends the value",
			file: "client.id=abc\\",
			want: map[string]string{"client.id": "abc"},
		},
		{
			name: "whitespace separates key and value",
			file: "client.id eddy\n",
			want: map[string]string{"client.id": "eddy"},
		},
		{
			name: "escapes are decoded",
			file: `ssl.truststore.location=C:\\certs\\ca.pem` + "\n",
			want: map[string]string{"ssl.truststore.location": `C:\certs\ca.pem`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.bug != "" {
				t.Skip("known bug: " + tt.bug)
			}
			path := writeTemp(t, "client.properties", tt.file)
			c := New()
			err := c.LoadProperties(path)
			if tt.wantErr != "" {
				want := strings.ReplaceAll(tt.wantErr, "FILE", path)
				if err == nil || err.Error() != want {
					t.Fatalf("error = %v, want %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(c.props) != len(tt.want) {
				t.Errorf("props = %v, want %v", c.props, tt.want)
			}
			for k, v := range tt.want {
				if got := c.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
	if err := New().LoadProperties(filepath.Join(t.TempDir(), "missing.properties")); err == nil || !strings.HasPrefix(err.Error(), "kafka config: open ") {
		t.Errorf("missing file: %v", err)
	}
}

func TestPrecedence(t *testing.T) {
	file := writeTemp(t, "p", "bootstrap.servers=file:1\nclient.id=from-file\nsasl.username=file-user\nsasl.mechanism=PLAIN\n")
	env := map[string]string{"EDDY_BROKERS": "env:1", "EDDY_SASL_USERNAME": "env-user", "EDDY_SECURITY_PROTOCOL": "SASL_PLAINTEXT"}
	c := New()
	steps := []struct {
		name  string
		apply func() error
		want  map[string]string
	}{
		{"file", func() error { return c.LoadProperties(file) },
			map[string]string{"bootstrap.servers": "file:1", "client.id": "from-file", "sasl.username": "file-user", "security.protocol": ""}},
		{"env over file", func() error { c.FromEnv(func(k string) string { return env[k] }); return nil },
			map[string]string{"bootstrap.servers": "env:1", "client.id": "from-file", "sasl.username": "env-user", "security.protocol": "SASL_PLAINTEXT"}},
		{"flags over env", func() error { return c.Set("bootstrap.servers", "flag:1") },
			map[string]string{"bootstrap.servers": "flag:1", "sasl.username": "env-user", "sasl.mechanism": "PLAIN"}},
		{"-X over flags, by an alias", func() error { return c.SetOverride("metadata.broker.list=x:1, x:2") },
			map[string]string{"bootstrap.servers": "x:1, x:2", "client.id": "from-file"}},
		{"-X with = in the value", func() error { return c.SetOverride("sasl.jaas.config=a=b") },
			map[string]string{"sasl.jaas.config": "a=b"}},
	}
	for _, s := range steps {
		if err := s.apply(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		for k, v := range s.want {
			if got := c.Get(k); got != v {
				t.Errorf("after %s: %s = %q, want %q", s.name, k, got, v)
			}
		}
	}
	if got := c.Brokers(); len(got) != 2 || got[0] != "x:1" || got[1] != "x:2" {
		t.Errorf("Brokers() = %q", got)
	}
	// Unset environment variables change nothing.
	c.FromEnv(func(string) string { return "" })
	if c.Get("sasl.username") != "env-user" {
		t.Error("an empty environment cleared a property")
	}
}

func TestSetAndOverrideErrors(t *testing.T) {
	c := New()
	for _, tt := range []struct{ kv, wantErr string }{
		{"bootstrap.server=x", `unknown Kafka client property "bootstrap.server" (docs/kafka.md lists those eddy takes)`},
		{"noequals", "-X noequals: expected key=value"},
		{"acks=all", ""}, // ignored Java property
		{" client.id =x", ""},
	} {
		err := c.SetOverride(tt.kv)
		if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("SetOverride(%q) = %v, want %q", tt.kv, err, tt.wantErr)
		}
	}
	if got := c.Get("client.id"); got != "x" {
		t.Errorf("client.id = %q (the key is trimmed, the value kept)", got)
	}
}

func TestAliases(t *testing.T) {
	for alias, name := range aliases {
		c := New()
		if err := c.Set(alias, "v-"+alias); err != nil {
			t.Errorf("Set(%q): %v", alias, err)
			continue
		}
		if got := c.Get(name); got != "v-"+alias {
			t.Errorf("Set(%q) then Get(%q) = %q", alias, name, got)
		}
		if !isKnown(name) {
			t.Errorf("alias %q points at %q, which is not in Known", alias, name)
		}
	}
}

func isKnown(k string) bool {
	for _, x := range Known {
		if x == k {
			return true
		}
	}
	return false
}

func TestJAASCredentials(t *testing.T) {
	tests := []struct {
		name               string
		props              map[string]string
		wantUser, wantPass string
	}{
		{"plain module", map[string]string{"sasl.jaas.config": `org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="s3cret";`},
			"alice", "s3cret"},
		{"scram module, spacing and escaped quote", map[string]string{"sasl.jaas.config": `org.apache.kafka.common.security.scram.ScramLoginModule required
			username = "bob"   password="a\"b c";`}, "bob", `a"b c`},
		{"explicit properties win", map[string]string{"sasl.username": "u", "sasl.password": "p",
			"sasl.jaas.config": `x required username="alice" password="s3cret";`}, "u", "p"},
		{"user from properties, password from JAAS", map[string]string{"sasl.username": "u",
			"sasl.jaas.config": `x required username="alice" password="s3cret";`}, "u", "s3cret"},
		{"no credentials", map[string]string{}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New()
			for k, v := range tt.props {
				if err := c.Set(k, v); err != nil {
					t.Fatal(err)
				}
			}
			u, p := c.credentials()
			if u != tt.wantUser || p != tt.wantPass {
				t.Errorf("credentials() = %q, %q; want %q, %q", u, p, tt.wantUser, tt.wantPass)
			}
		})
	}
}

func TestSecretsAreRedacted(t *testing.T) {
	const secret = "hunter2-do-not-print"
	c := New()
	for k, v := range map[string]string{
		"bootstrap.servers": "k:1", "sasl.username": "eddy", "sasl.password": secret,
		"sasl.jaas.config": `x required username="eddy" password="` + secret + `";`,
		"ssl.key.password": secret, "ssl.keystore.password": secret, "ssl.truststore.password": secret,
		"sasl.oauthbearer.client.secret": secret, "eddy.sasl.oauthbearer.token.command": "echo " + secret,
	} {
		if err := c.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	s := c.String()
	if strings.Contains(s, secret) || strings.Contains(strings.Join(c.Redacted(), "\n"), secret) {
		t.Fatalf("secret printed: %s", s)
	}
	for _, want := range []string{"bootstrap.servers=k:1", "sasl.username=eddy", "sasl.password=***", "sasl.jaas.config=***", "ssl.key.password=***",
		"sasl.oauthbearer.client.secret=***", "eddy.sasl.oauthbearer.token.command=***"} {
		if !strings.Contains(s, want) {
			t.Errorf("String() = %q, want it to contain %q", s, want)
		}
	}

	for _, tt := range []struct{ in, want, bug string }{
		{"sasl.password=" + secret, "sasl.password=***", ""},
		{"sasl.jaas.config=x password=\"" + secret + "\"", "sasl.jaas.config=***", ""},
		{"ssl.key.password=" + secret, "ssl.key.password=***", ""},
		{"sasl.oauthbearer.client.secret=" + secret, "sasl.oauthbearer.client.secret=***", ""},
		{"eddy.sasl.oauthbearer.token.command=echo " + secret, "eddy.sasl.oauthbearer.token.command=***", ""},
		{"bootstrap.servers=k:1", "bootstrap.servers=k:1", ""},
		{" sasl.password =" + secret, " sasl.password =***", ""},
		{"sasl.password:" + secret, "sasl.password:***", ""},
	} {
		if tt.bug != "" {
			t.Logf("skipped, known bug: %s", tt.bug)
			continue
		}
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}

	// Errors about secret properties do not carry the value either.
	for _, tt := range []struct{ kv, bug string }{
		{"sasl.pasword=" + secret, ""},
		{"sasl.password " + secret, ""},
	} {
		err := New().SetOverride(tt.kv)
		if err == nil {
			t.Errorf("SetOverride(%q) succeeded", tt.kv)
		} else if strings.Contains(err.Error(), secret) {
			if tt.bug == "" {
				t.Errorf("SetOverride(%q) = %v", tt.kv, err)
			} else {
				t.Logf("known bug: %s", tt.bug)
			}
		}
	}
	path := writeTemp(t, "p", "sasl.pasword="+secret+"\nsasl.password "+secret+"\n")
	if err := New().LoadProperties(path); err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("LoadProperties = %v", err)
	}
}

func TestOptsErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := writeTemp(t, "ca.pem", "this is not a certificate\n")
	tests := []struct {
		name    string
		props   map[string]string
		wantErr string // "" means Opts succeeds
	}{
		{"no brokers", map[string]string{"client.id": "x"}, "no brokers: pass -b/--brokers"},
		{"only separators", map[string]string{"bootstrap.servers": " , "}, "no brokers"},
		{"plaintext", map[string]string{"bootstrap.servers": "k:1"}, ""},
		{"bad security.protocol", map[string]string{"bootstrap.servers": "k:1", "security.protocol": "TLS"}, `security.protocol "TLS": expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL`},
		{"lower-case protocol", map[string]string{"bootstrap.servers": "k:1", "security.protocol": "sasl_plaintext", "sasl.username": "u"}, ""},
		{"bad mechanism", map[string]string{"bootstrap.servers": "k:1", "security.protocol": "SASL_PLAINTEXT", "sasl.username": "u", "sasl.mechanism": "GSSAPI"},
			`sasl.mechanism "GSSAPI": expected PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER`},
		{"SASL without user", map[string]string{"bootstrap.servers": "k:1", "security.protocol": "SASL_PLAINTEXT", "sasl.password": "pw"}, "SASL needs a user"},
		{"a mechanism implies SASL", map[string]string{"bootstrap.servers": "k:1", "sasl.mechanism": "SCRAM-SHA-512"}, "SASL needs a user"},
		{"SCRAM with user", map[string]string{"bootstrap.servers": "k:1", "sasl.mechanism": "scram-sha-256", "sasl.username": "u", "sasl.password": "p"}, ""},
		{"user from JAAS", map[string]string{"bootstrap.servers": "k:1", "security.protocol": "SASL_PLAINTEXT", "sasl.jaas.config": `x required username="u" password="p";`}, ""},
		{"missing CA file", map[string]string{"bootstrap.servers": "k:1", "security.protocol": "SSL", "ssl.ca.location": filepath.Join(dir, "nope.pem")}, "TLS CA file: open "},
		{"CA file without certificates", map[string]string{"bootstrap.servers": "k:1", "security.protocol": "SSL", "ssl.ca.location": notPEM}, "no PEM certificates"},
		{"JKS truststore", map[string]string{"bootstrap.servers": "k:1", "security.protocol": "SSL", "ssl.truststore.location": notPEM, "ssl.truststore.type": "JKS"}, "eddy reads PEM files only"},
		{"certificate without key", map[string]string{"bootstrap.servers": "k:1", "security.protocol": "SSL", "ssl.certificate.location": notPEM}, "needs both a certificate and a key"},
		{"SSL with system roots", map[string]string{"bootstrap.servers": "k:1", "security.protocol": "SASL_SSL", "sasl.username": "u"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New()
			for k, v := range tt.props {
				if err := c.Set(k, v); err != nil {
					t.Fatal(err)
				}
			}
			_, err := c.Opts()
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("Opts: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Opts error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestExplain(t *testing.T) {
	c := New()
	c.Set("bootstrap.servers", "k:1,k:2")
	tests := []struct {
		err        error
		wantPrefix string
		bug        string
	}{
		{&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, "cannot reach broker k:1,k:2: dial tcp: connection refused", ""},
		{kerr.SaslAuthenticationFailed, "authentication failed at k:1,k:2: ", ""},
		{fmt.Errorf("wrapped: %w\nsecond line", kerr.UnknownServerError), "kafka k:1,k:2: wrapped: UNKNOWN_SERVER_ERROR", ""},
		{context.DeadlineExceeded, "cannot reach broker k:1,k:2: no answer in time", ""},
	}
	for _, tt := range tests {
		if tt.bug != "" {
			t.Logf("skipped, known bug: %s", tt.bug)
			continue
		}
		got := c.Explain(tt.err).Error()
		if !strings.HasPrefix(got, tt.wantPrefix) || strings.Contains(got, "\n") {
			t.Errorf("Explain(%v) = %q, want prefix %q on one line", tt.err, got, tt.wantPrefix)
		}
	}
}

// testCerts makes a CA and a server certificate for 127.0.0.1 signed by it.
func testCerts(t *testing.T) (caPEM []byte, server tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "eddy test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kfake"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return caPEM, tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}
}

func TestTLS(t *testing.T) {
	caPEM, srv := testCerts(t)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(&tls.Config{Certificates: []tls.Certificate{srv}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	addr := cluster.ListenAddrs()[0]
	caFile := writeTemp(t, "ca.pem", string(caPEM))

	connect := func(props map[string]string) (*Config, error) {
		c := New()
		c.Set("bootstrap.servers", addr)
		for k, v := range props {
			if err := c.Set(k, v); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cl, err := c.Client(ctx, 5*time.Second)
		if err == nil {
			cl.Close()
		}
		return c, err
	}

	if _, err := connect(map[string]string{"security.protocol": "SSL", "ssl.ca.location": caFile}); err != nil {
		t.Errorf("TLS with the test CA: %v", err)
	}
	if _, err := connect(map[string]string{"security.protocol": "SSL", "ssl.ca.location": caFile, "eddy.ssl.server.name": "localhost"}); err != nil {
		t.Errorf("TLS with a server name in the certificate: %v", err)
	}
	if _, err := connect(map[string]string{"security.protocol": "SSL", "ssl.ca.location": caFile, "eddy.ssl.server.name": "other.example"}); err == nil {
		t.Error("TLS accepted a certificate for another name")
	}
	if _, err := connect(map[string]string{"security.protocol": "SSL"}); err == nil {
		t.Error("TLS trusted a certificate from an unknown CA")
	}
	var warned []string
	c := New()
	c.Warn = func(s string) { warned = append(warned, s) }
	c.Set("bootstrap.servers", addr)
	c.Set("security.protocol", "SSL")
	c.Set("enable.ssl.certificate.verification", "false")
	cl, err := c.Client(context.Background(), 5*time.Second)
	if err != nil {
		t.Errorf("TLS without verification: %v", err)
	} else {
		cl.Close()
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "verification is disabled") {
		t.Errorf("warnings = %q", warned)
	}
	// A plaintext client against a TLS listener fails instead of hanging.
	start := time.Now()
	if _, err := connect(nil); err == nil {
		t.Error("plaintext client connected to a TLS listener")
	} else if d := time.Since(start); d > 7*time.Second {
		t.Errorf("plaintext against TLS took %v", d)
	}
}

func TestSASL(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "eddy", "secret"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	addr := cluster.ListenAddrs()[0]
	connect := func(mech, user, pass string) error {
		c := New()
		c.Set("bootstrap.servers", addr)
		c.Set("security.protocol", "SASL_PLAINTEXT")
		c.Set("sasl.mechanism", mech)
		c.Set("sasl.username", user)
		c.Set("sasl.password", pass)
		cl, err := c.Client(context.Background(), 10*time.Second)
		if err == nil {
			cl.Close()
		}
		return err
	}
	if err := connect("SCRAM-SHA-512", "eddy", "secret"); err != nil {
		t.Fatalf("right password: %v", err)
	}
	for _, tt := range []struct{ name, mech, user, pass string }{
		{"wrong password", "SCRAM-SHA-512", "eddy", "wrong-password-42"},
		{"unknown user", "SCRAM-SHA-512", "mallory", "wrong-password-42"},
		{"wrong mechanism", "SCRAM-SHA-256", "eddy", "wrong-password-42"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			err := connect(tt.mech, tt.user, tt.pass)
			d := time.Since(start)
			if err == nil {
				t.Fatal("connected")
			}
			msg := err.Error()
			if strings.Contains(msg, tt.pass) || strings.Contains(msg, "\n") {
				t.Errorf("error = %q", msg)
			}
			if d > 3*time.Second {
				t.Errorf("failing took %v", d)
			}
			if !strings.HasPrefix(msg, "authentication failed at "+addr) {
				// kfake closes the connection on bad credentials where Kafka
				// answers SASL_AUTHENTICATION_FAILED; kgo then reports a bare
				// EOF, which Explain does not recognise.
				t.Errorf("error = %q, want it to say authentication failed", msg)
			}
		})
	}
}

// TestTuningProperties: the fetch, group and producer properties kcat
// users pass with -X, by librdkafka or Java name, reach the franz-go
// client; bad values and other names are refused clearly.
func TestTuningProperties(t *testing.T) {
	c := New()
	for _, kv := range []string{"bootstrap.servers=127.0.0.1:1", "fetch.wait.max.ms=250", "fetch.message.max.bytes=2097152",
		"fetch.min.bytes=10", "fetch.max.bytes=8388608", "session.timeout.ms=12000", "heartbeat.interval.ms=3000",
		"message.max.bytes=500000", "queued.max.messages.kbytes=4096", "fetch.error.backoff.ms=700", "fetch.queue.backoff.ms=1000", "queued.min.messages=200000", "receive.message.max.bytes=9000000"} {
		if err := c.SetOverride(kv); err != nil {
			t.Fatalf("-X %s: %v", kv, err)
		}
	}
	opts, err := c.Opts()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for key, want := range map[string]any{
		"FetchMaxWait":           250 * time.Millisecond,
		"FetchMaxPartitionBytes": int32(2097152),
		"FetchMinBytes":          int32(10),
		"FetchMaxBytes":          int32(4096 * 1024), // queued.max.messages.kbytes bounds a fetch below fetch.max.bytes
		"SessionTimeout":         12 * time.Second,
		"HeartbeatInterval":      3 * time.Second,
		"ProducerBatchMaxBytes":  int32(500000),
		"MaxConcurrentFetches":   2,
		"BrokerMaxReadBytes":     int32(9000000),
	} {
		if got := cl.OptValue(key); got != want {
			t.Errorf("%s = %v (%T), want %v (%T)", key, got, got, want, want)
		}
	}
	for _, tt := range []struct{ kv, want string }{
		{"fetch.wait.max.ms=soon", "property fetch.max.wait.ms=soon: want a whole number of ms above 0"},
		{"message.max.bytes=0", "property max.request.size=0: want a whole number of bytes above 0"},
		{"queued.max.messages=1000", `unknown Kafka client property "queued.max.messages"`},
	} {
		if err := New().SetOverride(tt.kv); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("-X %s: %v, want %q", tt.kv, err, tt.want)
		}
	}
}
