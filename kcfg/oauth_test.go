package kcfg

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// decodeJWT splits an unsigned JWT into its header and claims.
func decodeJWT(t *testing.T, tok string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || parts[2] != "" {
		t.Fatalf("token %q: want header.payload. with an empty signature", tok)
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
	}
	return header, claims
}

func TestUnsecuredJWT(t *testing.T) {
	jaas := `org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required
		unsecuredLoginStringClaim_sub="alice" unsecuredLoginListClaim_scope=",read,write" unsecuredLoginLifetimeSeconds="600";`
	c := New()
	for k, v := range map[string]string{"bootstrap.servers": "k:1", "sasl.mechanism": "OAUTHBEARER", "sasl.jaas.config": jaas} {
		if err := c.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	fetch, err := c.oauthSource()
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().Unix()
	tok, life, err := fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if life != 10*time.Minute {
		t.Errorf("lifetime %v, want 10m", life)
	}
	header, claims := decodeJWT(t, tok)
	if header["alg"] != "none" || len(header) != 1 {
		t.Errorf("header %v, want only alg none", header)
	}
	iat, _ := claims["iat"].(float64)
	exp, _ := claims["exp"].(float64)
	if claims["sub"] != "alice" || int64(iat) < before || exp-iat != 600 {
		t.Errorf("claims %v: want sub alice, iat now, exp iat+600", claims)
	}
	if sc, _ := claims["scope"].([]any); len(sc) != 2 || sc[0] != "read" || sc[1] != "write" {
		t.Errorf("scope claim %v, want [read write]", claims["scope"])
	}
	if got := jwtLifetime(tok, time.Unix(int64(iat), 0)); got != 10*time.Minute {
		t.Errorf("jwtLifetime = %v, want 10m", got)
	}

	// an explicit exp claim wins: the way to build an expired token
	claims2, _, err := unsecuredClaims(map[string]string{"unsecuredLoginStringClaim_sub": "a", "unsecuredLoginNumberClaim_exp": "1000"})
	if err != nil {
		t.Fatal(err)
	}
	if _, cl := decodeJWT(t, unsecuredJWT(claims2, time.Now(), time.Hour)); cl["exp"] != float64(1000) {
		t.Errorf("exp %v, want 1000", cl["exp"])
	}
}

func TestOAuthSourceChoice(t *testing.T) {
	for _, tt := range []struct {
		name    string
		props   map[string]string
		wantErr string
	}{
		{"nothing configured", map[string]string{}, "OAUTHBEARER needs a token source"},
		{"endpoint without secret", map[string]string{"sasl.oauthbearer.token.endpoint.url": "http://idp/token", "sasl.oauthbearer.client.id": "id"},
			"needs a client id and secret"},
		{"endpoint with properties", map[string]string{"sasl.oauthbearer.token.endpoint.url": "http://idp/token",
			"sasl.oauthbearer.client.id": "id", "sasl.oauthbearer.client.secret": "s", "sasl.oauthbearer.header.urlencode": "true",
			"sasl.oauthbearer.expected.audience": "ignored", "sasl.login.callback.handler.class": "ignored"}, ""},
		{"endpoint with JAAS credentials", map[string]string{"sasl.oauthbearer.token.endpoint.url": "http://idp/token",
			"sasl.jaas.config": `org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientId="id" clientSecret="s" scope="kafka";`}, ""},
		{"token file", map[string]string{"sasl.oauthbearer.token.endpoint.url": "file:///tmp/tok"}, ""},
		{"command", map[string]string{"eddy.sasl.oauthbearer.token.command": "echo t"}, ""},
		{"bad lifetime", map[string]string{"sasl.jaas.config": `x required unsecuredLoginStringClaim_sub="a" unsecuredLoginLifetimeSeconds="soon";`},
			"unsecuredLoginLifetimeSeconds"},
		{"bad number claim", map[string]string{"sasl.jaas.config": `x required unsecuredLoginStringClaim_sub="a" unsecuredLoginNumberClaim_exp="x";`},
			"unsecuredLoginNumberClaim_exp"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := New()
			tt.props["bootstrap.servers"] = "k:1"
			tt.props["sasl.mechanism"] = "OAUTHBEARER"
			for k, v := range tt.props {
				if err := c.Set(k, v); err != nil {
					t.Fatal(err)
				}
			}
			_, err := c.Opts()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Opts: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Opts error %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestCommandToken(t *testing.T) {
	exp := time.Now().Add(time.Hour)
	jwt := unsecuredJWT(map[string]any{"sub": "a"}, exp.Add(-time.Hour), time.Hour)
	tok, life, err := commandToken(context.Background(), "printf '%s\\n' '"+jwt+"'")
	if err != nil || tok != jwt {
		t.Fatalf("token %q, %v; want %q", tok, err, jwt)
	}
	if life < 59*time.Minute || life > time.Hour {
		t.Errorf("lifetime %v, want about 1h from the exp claim", life)
	}
	const secret = "cmd-secret-42"
	_, _, err = commandToken(context.Background(), "echo nope >&2; exit 3 # "+secret)
	if err == nil || !strings.Contains(err.Error(), "nope") || strings.Contains(err.Error(), secret) {
		t.Errorf("failing command: %v; want the stderr line and not the command", err)
	}
	if _, _, err = commandToken(context.Background(), "true"); err == nil || !strings.Contains(err.Error(), "printed no token") {
		t.Errorf("silent command: %v", err)
	}
}

// TestTokenCacheRefresh checks the token is fetched again once 80% of its
// lifetime has passed, and not before.
func TestTokenCacheRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fetches := 0
		tc := &tokenCache{fetch: func(context.Context) (string, time.Duration, error) {
			fetches++
			return "tok" + string(rune('0'+fetches)), 100 * time.Second, nil
		}}
		get := func() string {
			tok, err := tc.get(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		if got := get(); got != "tok1" {
			t.Fatalf("first token %q", got)
		}
		time.Sleep(79 * time.Second)
		if got := get(); got != "tok1" || fetches != 1 {
			t.Fatalf("at 79s: %q after %d fetches, want the cached tok1", got, fetches)
		}
		time.Sleep(time.Second)
		if got := get(); got != "tok2" || fetches != 2 {
			t.Fatalf("at 80s: %q after %d fetches, want a fresh tok2", got, fetches)
		}
	})
}

func TestTokenCacheErrorNotCached(t *testing.T) {
	fail := true
	tc := &tokenCache{fetch: func(context.Context) (string, time.Duration, error) {
		if fail {
			return "", 0, errors.New("idp down")
		}
		return "t", 0, nil
	}}
	if _, err := tc.get(context.Background()); err == nil {
		t.Fatal("want the fetch error")
	}
	fail = false
	if tok, err := tc.get(context.Background()); err != nil || tok != "t" {
		t.Fatalf("after recovery: %q, %v", tok, err)
	}
}

// TestTokenEndpoint exercises the client-credentials exchange. httptest
// stands in for the identity provider's token endpoint only; no issue names
// that server, so a real one is not required.
func TestTokenEndpoint(t *testing.T) {
	const secret = "client-secret-42+/"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, pw, ok := r.BasicAuth()
		if r.Method != http.MethodPost || r.FormValue("grant_type") != "client_credentials" {
			http.Error(w, `{"error":"unsupported_grant_type"}`, http.StatusBadRequest)
			return
		}
		if ok && id == "eddy" && pw == url.QueryEscape(secret) {
			w.Write([]byte(`{"access_token":"encoded","expires_in":60}`))
			return
		}
		if !ok || id != "eddy" || pw != secret {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":"invalid_client","error_description":"bad credentials"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token":"tok-` + r.FormValue("scope") + `","token_type":"Bearer","expires_in":300}`))
	}))
	defer srv.Close()

	ep := tokenEndpoint{url: srv.URL, id: "eddy", secret: secret, scope: "kafka"}
	tok, life, err := ep.fetch(context.Background())
	if err != nil || tok != "tok-kafka" || life != 5*time.Minute {
		t.Fatalf("fetch = %q, %v, %v; want tok-kafka, 5m", tok, life, err)
	}
	ep.urlencode = true
	if tok, _, err := ep.fetch(context.Background()); err != nil || tok != "encoded" {
		t.Fatalf("with header.urlencode: %q, %v; want the secret URL-encoded", tok, err)
	}
	ep.urlencode = false
	ep.secret = "wrong-" + secret
	_, _, err = ep.fetch(context.Background())
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "invalid_client bad credentials") ||
		strings.Contains(err.Error(), secret) {
		t.Fatalf("wrong secret: %v; want the status and OAuth error, never the secret", err)
	}
}

func TestExplainNamesMechanism(t *testing.T) {
	c := New()
	c.Set("bootstrap.servers", "k:1")
	c.Set("sasl.mechanism", "oauthbearer")
	for _, tt := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("%w: {\"status\":\"invalid_token\"}", kerr.SaslAuthenticationFailed),
			`authentication failed at k:1 (OAUTHBEARER): SASL_AUTHENTICATION_FAILED: SASL Authentication failed.: {"status":"invalid_token"}`},
		{errors.New("OAUTHBEARER token endpoint http://idp: 401 Unauthorized: invalid_client"),
			"authentication failed at k:1 (OAUTHBEARER): OAUTHBEARER token endpoint http://idp: 401 Unauthorized: invalid_client"},
	} {
		if got := c.Explain(tt.err).Error(); got != tt.want {
			t.Errorf("Explain = %q\nwant      %q", got, tt.want)
		}
	}
}
