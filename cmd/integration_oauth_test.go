//go:build integration

package cmd

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// OAUTHBEARER on the broker's OAUTH listener, which validates unsecured JWTs
// with Kafka's own default handler: produce and tail with a token eddy
// builds from unsecuredLoginStringClaim_sub, and a token whose exp claim is
// in the past fails with exit 1 and one line naming the mechanism and the
// broker's reason.
func TestIntegrationOAuthBearer(t *testing.T) {
	env := itSetup(t)
	oauthBrokers := os.Getenv("EDDY_TEST_OAUTH_BROKERS")
	if oauthBrokers == "" {
		t.Skip("EDDY_TEST_OAUTH_BROKERS is not set; start a broker with: export $(scripts/kafka.sh up)")
	}
	const module = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required"
	oauth := func(jaas string, args ...string) []string {
		return append([]string{"-b", oauthBrokers, "-X", "security.protocol=SASL_PLAINTEXT",
			"-X", "sasl.mechanism=OAUTHBEARER", "-X", "sasl.jaas.config=" + module + " " + jaas + ";"}, args...)
	}
	good := `unsecuredLoginStringClaim_sub="eddy"`
	topic := itName("oauth")
	lines := `{"n":1}` + "\n" + `{"n":2}` + "\n" + `{"n":3}` + "\n"

	t.Run("good token", func(t *testing.T) {
		code, _, stderr := runCLI(t, lines, oauth(good, "produce", "-t", topic)...)
		if code != 0 || !strings.Contains(stderr, "produced 3 records") {
			t.Fatalf("produce: exit %d, stderr %q", code, stderr)
		}
		code, stdout, stderr := runCLI(t, "", oauth(good, "tail", "-t", topic, "-e")...)
		if code != 0 {
			t.Fatalf("tail: exit %d, stderr %q", code, stderr)
		}
		for _, want := range []string{`"n":1`, `"n":2`, `"n":3`} {
			if !strings.Contains(stdout, want) {
				t.Errorf("tail printed %q, want a record with %s", stdout, want)
			}
		}
		// the records went through the broker: the PLAINTEXT listener sees them
		if n := itRecords(t, itAdmin(t, env.brokers), topic); n != 3 {
			t.Errorf("topic has %d records, want 3", n)
		}
	})

	// an unsigned JWT as an identity provider or a token command would hand out
	enc := base64.RawURLEncoding
	now := time.Now().Unix()
	jwt := enc.EncodeToString([]byte(`{"alg":"none"}`)) + "." +
		enc.EncodeToString(fmt.Appendf(nil, `{"sub":"eddy","iat":%d,"exp":%d}`, now, now+600)) + "."
	tailWith := func(t *testing.T, props ...string) {
		t.Helper()
		args := []string{"-b", oauthBrokers, "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanism=OAUTHBEARER"}
		for _, p := range props {
			args = append(args, "-X", p)
		}
		code, stdout, stderr := runCLI(t, "", append(args, "tail", "-t", topic, "-e")...)
		if code != 0 || strings.Count(stdout, `"n":`) != 3 {
			t.Fatalf("tail: exit %d, stdout %q, stderr %q; want the 3 records", code, stdout, stderr)
		}
		if strings.Contains(stdout+stderr, jwt) {
			t.Errorf("the token appears in the output")
		}
	}

	t.Run("token command", func(t *testing.T) {
		tailWith(t, "eddy.sasl.oauthbearer.token.command=echo "+jwt)
	})

	// httptest stands in for the identity provider's token endpoint only (no
	// issue names that server); the broker is the real one.
	t.Run("token endpoint", func(t *testing.T) {
		calls := 0
		idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if id, pw, ok := r.BasicAuth(); !ok || id != "eddy" || pw != "idp-secret" || r.FormValue("grant_type") != "client_credentials" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			calls++
			fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":600}`, jwt)
		}))
		defer idp.Close()
		tailWith(t, "sasl.oauthbearer.token.endpoint.url="+idp.URL, "sasl.oauthbearer.client.id=eddy", "sasl.oauthbearer.client.secret=idp-secret")
		if calls != 1 {
			t.Errorf("token endpoint called %d times, want once (the token is cached across connections)", calls)
		}
	})

	t.Run("expired token", func(t *testing.T) {
		expired := good + ` unsecuredLoginNumberClaim_iat="1000" unsecuredLoginNumberClaim_exp="2000"`
		start := time.Now()
		code, _, stderr := runCLI(t, "", oauth(expired, "tail", "-t", topic, "-e")...)
		if code != 1 || !strings.HasPrefix(stderr, "eddy: authentication failed at "+oauthBrokers+" (OAUTHBEARER):") ||
			!strings.Contains(stderr, "invalid_token") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("exit %d, stderr %q: want 1 and one line naming OAUTHBEARER and the broker's invalid_token", code, stderr)
		}
		if took := time.Since(start); took > 15*time.Second {
			t.Errorf("took %v, want at most 15s", took)
		}
	})
}
