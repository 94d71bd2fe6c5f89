package kcfg

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
)

// OAUTHBEARER token sources, in the order oauthSource tries them:
//
//   - eddy.sasl.oauthbearer.token.command: a shell command whose standard
//     output is the token (an eddy property; the Java client has none);
//   - sasl.oauthbearer.token.endpoint.url: an OAuth client-credentials token
//     endpoint (http/https; file:// reads a token from a file, as Java does),
//     with the client id, secret and scope from sasl.oauthbearer.client.id,
//     sasl.oauthbearer.client.secret and sasl.oauthbearer.scope or the JAAS
//     options clientId, clientSecret and scope;
//   - the JAAS option unsecuredLoginStringClaim_sub: an unsigned JWT (alg
//     none) built locally, what Kafka's default unsecured validator accepts;
//     for test clusters only.
//
// Tokens are cached and fetched again once 80% of their lifetime has passed.

// refreshFraction is the part of a token's lifetime after which it is renewed.
const refreshFraction = 0.8

// defaultLifetime is assumed for a token whose lifetime is not known.
const defaultLifetime = 5 * time.Minute

// fetchFunc returns a token and how long it is valid.
type fetchFunc func(ctx context.Context) (token string, lifetime time.Duration, err error)

// tokenCache hands out a cached token until refreshFraction of its lifetime
// has passed, then fetches a new one.
type tokenCache struct {
	fetch     fetchFunc
	mu        sync.Mutex
	token     string
	refreshAt time.Time
}

func (tc *tokenCache) get(ctx context.Context) (string, error) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.token != "" && time.Now().Before(tc.refreshAt) {
		return tc.token, nil
	}
	tok, life, err := tc.fetch(ctx)
	if err != nil {
		return "", err
	}
	if tok == "" {
		return "", errors.New("OAUTHBEARER: the token source returned an empty token")
	}
	if life <= 0 {
		life = defaultLifetime
	}
	tc.token = tok
	tc.refreshAt = time.Now().Add(time.Duration(float64(life) * refreshFraction))
	return tok, nil
}

// jaasOptions returns the key="value" options of sasl.jaas.config.
func (c *Config) jaasOptions() map[string]string {
	out := map[string]string{}
	for _, m := range jaasRe.FindAllStringSubmatch(c.props["sasl.jaas.config"], -1) {
		out[m[1]] = strings.ReplaceAll(m[2], `\"`, `"`)
	}
	return out
}

// oauthMechanism builds the OAUTHBEARER mechanism from the configured token
// source.
func (c *Config) oauthMechanism() (sasl.Mechanism, error) {
	fetch, err := c.oauthSource()
	if err != nil {
		return nil, err
	}
	tc := &tokenCache{fetch: fetch}
	return oauth.Oauth(func(ctx context.Context) (oauth.Auth, error) {
		tok, err := tc.get(ctx)
		if err != nil {
			return oauth.Auth{}, err
		}
		return oauth.Auth{Token: tok}, nil
	}), nil
}

func (c *Config) oauthSource() (fetchFunc, error) {
	jaas := c.jaasOptions()
	if cmd := c.props["eddy.sasl.oauthbearer.token.command"]; cmd != "" {
		return func(ctx context.Context) (string, time.Duration, error) { return commandToken(ctx, cmd) }, nil
	}
	if u := c.props["sasl.oauthbearer.token.endpoint.url"]; u != "" {
		ep := tokenEndpoint{
			url:    u,
			id:     firstSet(c.props["sasl.oauthbearer.client.id"], jaas["clientId"]),
			secret: firstSet(c.props["sasl.oauthbearer.client.secret"], jaas["clientSecret"]),
			scope:  firstSet(c.props["sasl.oauthbearer.scope"], jaas["scope"]),
		}
		ep.urlencode = strings.EqualFold(c.props["sasl.oauthbearer.header.urlencode"], "true")
		if strings.HasPrefix(u, "file:") {
			return ep.fileToken, nil
		}
		if ep.id == "" || ep.secret == "" {
			return nil, errors.New("OAUTHBEARER token endpoint needs a client id and secret: sasl.oauthbearer.client.id/secret or clientId/clientSecret in sasl.jaas.config")
		}
		return ep.fetch, nil
	}
	if _, ok := jaas["unsecuredLoginStringClaim_sub"]; ok {
		claims, life, err := unsecuredClaims(jaas)
		if err != nil {
			return nil, err
		}
		return func(context.Context) (string, time.Duration, error) {
			return unsecuredJWT(claims, time.Now(), life), life, nil
		}, nil
	}
	return nil, errors.New("OAUTHBEARER needs a token source: sasl.oauthbearer.token.endpoint.url, eddy.sasl.oauthbearer.token.command, or unsecuredLoginStringClaim_sub in sasl.jaas.config")
}

func firstSet(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// unsecuredClaims reads Kafka's unsecured-login JAAS options:
// unsecuredLoginStringClaim_NAME, unsecuredLoginNumberClaim_NAME,
// unsecuredLoginListClaim_NAME (the first character separates the items)
// and unsecuredLoginLifetimeSeconds (default 3600). An explicit iat or exp
// number claim replaces the computed one.
func unsecuredClaims(jaas map[string]string) (map[string]any, time.Duration, error) {
	claims := map[string]any{}
	life := time.Hour
	for k, v := range jaas {
		switch {
		case k == "unsecuredLoginLifetimeSeconds":
			s, err := strconv.ParseInt(v, 10, 64)
			if err != nil || s <= 0 {
				return nil, 0, fmt.Errorf("sasl.jaas.config unsecuredLoginLifetimeSeconds %q: expected a positive number of seconds", v)
			}
			life = time.Duration(s) * time.Second
		case strings.HasPrefix(k, "unsecuredLoginStringClaim_"):
			claims[strings.TrimPrefix(k, "unsecuredLoginStringClaim_")] = v
		case strings.HasPrefix(k, "unsecuredLoginNumberClaim_"):
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return nil, 0, fmt.Errorf("sasl.jaas.config %s %q: expected a number", k, v)
			}
			claims[strings.TrimPrefix(k, "unsecuredLoginNumberClaim_")] = n
		case strings.HasPrefix(k, "unsecuredLoginListClaim_"):
			var items []string
			if v != "" {
				items = strings.Split(v[1:], v[:1])
			}
			claims[strings.TrimPrefix(k, "unsecuredLoginListClaim_")] = items
		}
	}
	return claims, life, nil
}

// unsecuredJWT builds an unsigned JWT (header {"alg":"none"}, empty
// signature) with claims plus iat = now and exp = now+life unless claims
// set them.
func unsecuredJWT(claims map[string]any, now time.Time, life time.Duration) string {
	all := map[string]any{"iat": float64(now.Unix()), "exp": float64(now.Add(life).Unix())}
	for k, v := range claims {
		all[k] = v
	}
	payload, _ := json.Marshal(all) // maps of strings, numbers and string lists always marshal
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"none"}`)) + "." + enc.EncodeToString(payload) + "."
}

// jwtLifetime returns the time left until a JWT's exp claim, or 0 when tok
// is not a JWT with one.
func jwtLifetime(tok string, now time.Time) time.Duration {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return 0
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return 0
	}
	var claims struct {
		Exp float64 `json:"exp"`
	}
	if json.Unmarshal(raw, &claims) != nil || claims.Exp == 0 {
		return 0
	}
	return time.Unix(int64(claims.Exp), 0).Sub(now)
}

// commandToken runs cmd with sh -c; its trimmed standard output is the
// token. The token's lifetime comes from its exp claim when it is a JWT.
func commandToken(ctx context.Context, cmd string) (string, time.Duration, error) {
	var stdout, stderr bytes.Buffer
	x := exec.CommandContext(ctx, "sh", "-c", cmd)
	x.Stdout, x.Stderr = &stdout, &stderr
	if err := x.Run(); err != nil {
		// the command's text may hold secrets: name the property, not the command
		msg := firstLine(strings.TrimSpace(stderr.String()))
		if msg == "" {
			msg = err.Error()
		}
		return "", 0, fmt.Errorf("OAUTHBEARER: eddy.sasl.oauthbearer.token.command failed: %s", msg)
	}
	tok := strings.TrimSpace(stdout.String())
	if tok == "" {
		return "", 0, errors.New("OAUTHBEARER: eddy.sasl.oauthbearer.token.command printed no token")
	}
	return tok, jwtLifetime(tok, time.Now()), nil
}

type tokenEndpoint struct {
	url, id, secret, scope string
	urlencode              bool // sasl.oauthbearer.header.urlencode: encode id and secret in the basic auth header
}

func (ep tokenEndpoint) fileToken(context.Context) (string, time.Duration, error) {
	u, err := url.Parse(ep.url)
	if err != nil {
		return "", 0, fmt.Errorf("sasl.oauthbearer.token.endpoint.url: %w", err)
	}
	b, err := os.ReadFile(u.Path)
	if err != nil {
		return "", 0, fmt.Errorf("OAUTHBEARER token file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	return tok, jwtLifetime(tok, time.Now()), nil
}

// fetch exchanges the client credentials for an access token (RFC 6749
// section 4.4), the client authenticating with HTTP basic auth as the Java
// client does (id and secret URL-encoded first only with
// sasl.oauthbearer.header.urlencode=true, Java's default being false).
func (ep tokenEndpoint) fetch(ctx context.Context) (string, time.Duration, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	if ep.scope != "" {
		form.Set("scope", ep.scope)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.url, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, fmt.Errorf("sasl.oauthbearer.token.endpoint.url: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if ep.urlencode {
		req.SetBasicAuth(url.QueryEscape(ep.id), url.QueryEscape(ep.secret))
	} else {
		req.SetBasicAuth(ep.id, ep.secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", 0, fmt.Errorf("OAUTHBEARER token endpoint: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", 0, fmt.Errorf("OAUTHBEARER token endpoint: %w", err)
	}
	var r struct {
		AccessToken string      `json:"access_token"`
		ExpiresIn   json.Number `json:"expires_in"`
		Error       string      `json:"error"`
		Description string      `json:"error_description"`
	}
	jerr := json.Unmarshal(body, &r)
	if resp.StatusCode/100 != 2 {
		reason := strings.TrimSpace(r.Error + " " + r.Description)
		if jerr != nil || reason == "" {
			reason = "(no OAuth error in the answer)"
		}
		return "", 0, fmt.Errorf("OAUTHBEARER token endpoint %s: %s: %s", ep.url, resp.Status, reason)
	}
	if jerr != nil || r.AccessToken == "" {
		return "", 0, fmt.Errorf("OAUTHBEARER token endpoint %s: the answer has no access_token", ep.url)
	}
	life := jwtLifetime(r.AccessToken, time.Now())
	if s, err := r.ExpiresIn.Float64(); err == nil && s > 0 {
		life = time.Duration(s * float64(time.Second))
	}
	return r.AccessToken, life, nil
}
