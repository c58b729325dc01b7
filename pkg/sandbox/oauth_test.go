package sandbox

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const testState = "state-0123456789abcdefghij"

func pkce() (verifier, challenge string) {
	verifier = "verifier-" + strings.Repeat("x", 50)
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

func authorizeURL(base string, params map[string]string) string {
	_, challenge := pkce()
	v := url.Values{"response_type": {"code"}, "client_id": {DefaultClientID},
		"redirect_uri": {"http://127.0.0.1:53682/callback"}, "scope": {"rest_webservices restlets"},
		"state": {testState}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	for k, val := range params {
		if val == "" {
			v.Del(k)
		} else {
			v.Set(k, val)
		}
	}
	return base + pathAuthorize + "?" + v.Encode()
}

func TestAuthorizationCodeFlow(t *testing.T) {
	s, base := newSandbox(t, Config{Events: 20})
	r := doRequest(t, "GET", authorizeURL(base, nil), nil, nil)
	if r.status != http.StatusFound {
		t.Fatalf("authorize: %d %s", r.status, r.body)
	}
	loc, err := url.Parse(r.header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if loc.Host != "127.0.0.1:53682" || loc.Path != "/callback" {
		t.Errorf("redirected to %v", loc)
	}
	q := loc.Query()
	for k, want := range map[string]string{"state": testState, "role": "3", "entity": "99", "company": DefaultAccount} {
		if got := q.Get(k); got != want {
			t.Errorf("redirect %s = %q, want %q", k, got, want)
		}
	}
	if !strings.HasPrefix(loc.RawQuery, "state=") {
		t.Errorf("redirect query %q does not start with state", loc.RawQuery)
	}
	code := q.Get("code")
	if code == "" {
		t.Fatal("no code in redirect")
	}
	verifier, _ := pkce()
	exchange := func(code, verifier string) response {
		return postForm(t, base+pathToken, url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {"http://127.0.0.1:53682/callback"}, "code_verifier": {verifier}}, DefaultClientID, DefaultClientSecret)
	}
	tr := exchange(code, verifier)
	if tr.status != 200 || tr.header.Get("Content-Type") != "application/json" {
		t.Fatalf("token: %d %v %s", tr.status, tr.header, tr.body)
	}
	var tok map[string]any
	tr.decode(t, &tok)
	if tok["expires_in"] != "3600" || tok["token_type"] != "bearer" {
		t.Errorf("token response %v: want expires_in \"3600\" (a string) and token_type bearer", tok)
	}
	at, rt := tok["access_token"].(string), tok["refresh_token"].(string)
	if strings.Count(at, ".") != 2 || strings.Count(rt, ".") != 2 {
		t.Fatalf("tokens are not JWTs: %q %q", at, rt)
	}
	// The tokens are RS256 JWTs with NetSuite's kids.
	for _, c := range []struct{ tok, kidPrefix string }{{at, "c." + DefaultAccount + "."}, {rt, "s.SYSTEM.2020_1"}} {
		parsed, err := jwt.Parse(c.tok, func(*jwt.Token) (any, error) { return &s.cfg.SigningKey.PublicKey, nil },
			jwt.WithTimeFunc(func() time.Time { return fixedNow }))
		if err != nil {
			t.Fatalf("verify %q: %v", c.tok, err)
		}
		if kid, _ := parsed.Header["kid"].(string); !strings.HasPrefix(kid, c.kidPrefix) {
			t.Errorf("kid = %q, want prefix %q", kid, c.kidPrefix)
		}
	}
	if r := doRequest(t, "GET", base+pathRecord+"calendarevent?limit=1", nil, bearer(at)); r.status != 200 {
		t.Errorf("API call with the new token: %d %s", r.status, r.body)
	}
	// The code is single-use.
	if r := exchange(code, verifier); r.status != 400 || string(r.body) != `{"error":"invalid_grant"}` {
		t.Errorf("code reuse: %d %s", r.status, r.body)
	}
	// A wrong verifier fails (and burns the code).
	r = doRequest(t, "GET", authorizeURL(base, nil), nil, nil)
	loc, _ = url.Parse(r.header.Get("Location"))
	if r := exchange(loc.Query().Get("code"), "wrong-verifier-"+strings.Repeat("y", 40)); r.status != 400 || string(r.body) != `{"error":"invalid_grant"}` {
		t.Errorf("wrong verifier: %d %s", r.status, r.body)
	}
}

func TestAuthorizeErrors(t *testing.T) {
	_, base := newSandbox(t, Config{Events: 10})
	tests := []struct {
		name      string
		params    map[string]string
		wantPage  bool   // error page, no redirect
		wantError string // error= in the redirect
	}{
		{"unknown client", map[string]string{"client_id": "nope"}, true, ""},
		{"plain http redirect to a remote host", map[string]string{"redirect_uri": "http://example.com/cb"}, true, ""},
		{"no redirect", map[string]string{"redirect_uri": ""}, true, ""},
		{"https redirect", map[string]string{"redirect_uri": "https://app.example.com/cb"}, false, ""},
		{"custom scheme redirect", map[string]string{"redirect_uri": "nsflow://callback"}, false, ""},
		{"localhost redirect", map[string]string{"redirect_uri": "http://localhost:8080/cb"}, false, ""},
		{"wrong response type", map[string]string{"response_type": "token"}, false, "unsupported_response_type"},
		{"missing state", map[string]string{"state": ""}, false, "invalid_request"},
		{"short state", map[string]string{"state": "short"}, false, "invalid_request"},
		{"no scope", map[string]string{"scope": ""}, false, "invalid_scope"},
		{"unknown scope", map[string]string{"scope": "rest_webservices bogus"}, false, "invalid_scope"},
		{"mcp with others", map[string]string{"scope": "mcp restlets"}, false, "invalid_scope"},
		{"no PKCE", map[string]string{"code_challenge": "", "code_challenge_method": ""}, false, "invalid_request"},
		{"plain PKCE", map[string]string{"code_challenge_method": "plain"}, false, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := doRequest(t, "GET", authorizeURL(base, tt.params), nil, nil)
			if tt.wantPage {
				if r.status != 400 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") || r.header.Get("Location") != "" {
					t.Errorf("got %d %v, want an HTML error page", r.status, r.header)
				}
				return
			}
			if r.status != http.StatusFound {
				t.Fatalf("status %d %s, want a redirect", r.status, r.body)
			}
			loc, _ := url.Parse(r.header.Get("Location"))
			q := loc.Query()
			if got := q.Get("error"); got != tt.wantError {
				t.Errorf("error = %q, want %q (redirect %s)", got, tt.wantError, loc)
			}
			if tt.wantError != "" && q.Get("code") != "" {
				t.Errorf("error redirect carries a code")
			}
			if tt.wantError == "" && q.Get("code") == "" {
				t.Errorf("success redirect has no code")
			}
			if st := tt.params["state"]; tt.wantError != "" && st != "" && q.Get("state") != st {
				t.Errorf("state not echoed: %q", q.Get("state"))
			}
		})
	}
}

func TestRefreshWithoutRotationAndExpiry(t *testing.T) {
	clk := &testClock{t: fixedNow}
	s, base := newSandbox(t, Config{Events: 10, Now: clk.Now, RefreshTokenTTL: 48 * time.Hour, AccessTokenTTL: time.Hour})
	rt := s.RefreshToken()
	refresh := func() response {
		return postForm(t, base+pathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, DefaultClientID, DefaultClientSecret)
	}
	var first string
	for i := range 2 {
		r := refresh()
		if r.status != 200 {
			t.Fatalf("refresh %d: %d %s", i, r.status, r.body)
		}
		var tok map[string]any
		r.decode(t, &tok)
		if _, ok := tok["refresh_token"]; ok {
			t.Errorf("refresh %d rotated the refresh token: %v", i, tok)
		}
		if i == 0 {
			first = tok["access_token"].(string)
		}
	}
	// Access tokens expire after AccessTokenTTL.
	clk.Advance(59 * time.Minute)
	if r := doRequest(t, "GET", base+pathRecord+"calendarevent?limit=1", nil, bearer(first)); r.status != 200 {
		t.Fatalf("token before expiry: %d", r.status)
	}
	clk.Advance(2 * time.Minute)
	r := doRequest(t, "GET", base+pathRecord+"calendarevent?limit=1", nil, bearer(first))
	if r.status != 401 || errorCode(t, r) != codeInvalidLogin {
		t.Errorf("expired access token: %d %s", r.status, r.body)
	}
	// The refresh token expires after RefreshTokenTTL from New.
	clk.Advance(47 * time.Hour)
	if r := refresh(); r.status != 400 || string(r.body) != `{"error":"invalid_grant"}` {
		t.Errorf("expired refresh token: %d %s", r.status, r.body)
	}
}

func TestInvalidLoginBody(t *testing.T) {
	s, base := newSandbox(t, Config{Events: 10})
	want := `{"type":"https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html","title":"Unauthorized","status":401,` +
		`"o:errorDetails":[{"detail":"Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at Setup > Users/Roles > User Management > View Login Audit Trail.","o:errorCode":"INVALID_LOGIN"}]}`
	tok := accessToken(t, s, base)
	s.ExpireAccessTokens()
	for name, h := range map[string]http.Header{
		"missing": nil, "not bearer": {"Authorization": {"Basic abc"}}, "unknown": bearer("eyJhbGciOi.x.y"),
		"expired by control": bearer(tok),
	} {
		for _, u := range []string{base + pathRecord + "calendarevent", base + pathSuiteQL} {
			method := "GET"
			if strings.HasSuffix(u, "suiteql") {
				method = "POST"
			}
			r := doRequest(t, method, u, []byte(`{"q":"SELECT 1 FROM calendarevent"}`), h)
			if r.status != 401 || string(r.body) != want || r.header.Get("Content-Type") != ctError {
				t.Errorf("%s %s: %d %s %s", name, u, r.status, r.header.Get("Content-Type"), r.body)
			}
		}
	}
}

func TestTokenEndpointErrors(t *testing.T) {
	s, base := newSandbox(t, Config{Events: 10})
	rt := s.RefreshToken()
	tests := []struct {
		name       string
		form       url.Values
		user, pass string
		status     int
		body       string
	}{
		{"no client auth", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "", "", 401, `{"error":"invalid_client"}`},
		{"wrong secret", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, DefaultClientID, "bad", 401, `{"error":"invalid_client"}`},
		{"unknown refresh token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}}, DefaultClientID, DefaultClientSecret, 400, `{"error":"invalid_grant"}`},
		{"missing refresh token", url.Values{"grant_type": {"refresh_token"}}, DefaultClientID, DefaultClientSecret, 400, `{"error":"invalid_request"}`},
		{"unsupported grant", url.Values{"grant_type": {"password"}}, DefaultClientID, DefaultClientSecret, 400, `{"error":"unsupported_grant_type"}`},
		{"missing grant", url.Values{}, DefaultClientID, DefaultClientSecret, 400, `{"error":"invalid_request"}`},
		{"client credentials without assertion type", url.Values{"grant_type": {"client_credentials"}}, "", "", 400, `{"error":"invalid_request"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := postForm(t, base+pathToken, tt.form, tt.user, tt.pass)
			if r.status != tt.status || string(r.body) != tt.body {
				t.Errorf("got %d %s, want %d %s", r.status, r.body, tt.status, tt.body)
			}
		})
	}
	if r := doRequest(t, "GET", base+pathToken, nil, nil); r.status != 405 {
		t.Errorf("GET token: %d", r.status)
	}
}

func TestRevoke(t *testing.T) {
	s, base := newSandbox(t, Config{Events: 10})
	tok := accessToken(t, s, base)
	rt := s.RefreshToken()
	if r := postForm(t, base+pathRevoke, url.Values{"token": {rt}}, DefaultClientID, "bad"); r.status != 401 {
		t.Errorf("revoke with a bad secret: %d", r.status)
	}
	if r := postForm(t, base+pathRevoke, url.Values{"token": {rt}}, DefaultClientID, DefaultClientSecret); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if r := doRequest(t, "GET", base+pathRecord+"calendarevent", nil, bearer(tok)); r.status != 401 {
		t.Errorf("access token of a revoked refresh token: %d", r.status)
	}
	r := postForm(t, base+pathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, DefaultClientID, DefaultClientSecret)
	if r.status != 400 || string(r.body) != `{"error":"invalid_grant"}` {
		t.Errorf("refresh after revoke: %d %s", r.status, r.body)
	}
}

func TestRevokeRefreshTokensControl(t *testing.T) {
	s, base := newSandbox(t, Config{Events: 10, RefreshToken: "configured-refresh-token"})
	if s.RefreshToken() != "configured-refresh-token" {
		t.Fatalf("RefreshToken() = %q", s.RefreshToken())
	}
	tok := accessToken(t, s, base)
	if r := doRequest(t, "POST", base+"/sandbox/v1/tokens/revoke", nil, nil); r.status != 204 {
		t.Fatalf("control revoke: %d", r.status)
	}
	if r := doRequest(t, "GET", base+pathRecord+"calendarevent", nil, bearer(tok)); r.status != 401 {
		t.Errorf("access token after revoking all: %d", r.status)
	}
	r := postForm(t, base+pathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"configured-refresh-token"}}, DefaultClientID, DefaultClientSecret)
	if r.status != 400 {
		t.Errorf("configured refresh token after revoke: %d %s", r.status, r.body)
	}
}

type assertion struct {
	alg    jwt.SigningMethod
	key    crypto.Signer
	kid    string
	claims jwt.MapClaims
}

func (a assertion) sign(t *testing.T) string {
	t.Helper()
	tok := jwt.NewWithClaims(a.alg, a.claims)
	tok.Header["kid"] = a.kid
	s, err := tok.SignedString(a.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestClientCredentials(t *testing.T) {
	s, base := newSandbox(t, Config{Events: 10})
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RegisterCertificate("cert-es256", &ecKey.PublicKey); err != nil {
		t.Fatal(err)
	}
	// The PS256 key is registered through the control API as a PEM.
	rsaKey := signingKey(t)
	der, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pemText := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	body, _ := json.Marshal(map[string]string{"certificateId": "cert-ps256", "pem": pemText})
	if r := doRequest(t, "POST", base+"/sandbox/v1/certificates", body, nil); r.status != 201 {
		t.Fatalf("register PEM: %d %s", r.status, r.body)
	}
	aud := base + pathToken
	claims := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"iss": DefaultClientID, "scope": []string{"restlets", "rest_webservices"}, "aud": aud,
			"iat": fixedNow.Unix(), "exp": fixedNow.Add(time.Hour).Unix()}
		if mod != nil {
			mod(c)
		}
		return c
	}
	otherEC, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tests := []struct {
		name string
		a    assertion
		want string // "" = success
	}{
		{"ES256", assertion{jwt.SigningMethodES256, ecKey, "cert-es256", claims(nil)}, ""},
		{"PS256", assertion{jwt.SigningMethodPS256, rsaKey, "cert-ps256", claims(nil)}, ""},
		{"scope as a comma string", assertion{jwt.SigningMethodES256, ecKey, "cert-es256", claims(func(c jwt.MapClaims) { c["scope"] = "restlets,rest_webservices" })}, ""},
		{"scope as a space string", assertion{jwt.SigningMethodES256, ecKey, "cert-es256", claims(func(c jwt.MapClaims) { c["scope"] = "restlets rest_webservices" })}, ""},
		{"NetSuite host audience", assertion{jwt.SigningMethodES256, ecKey, "cert-es256", claims(func(c jwt.MapClaims) {
			c["aud"] = "https://tstdrv1234567.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token"
		})}, ""},
		{"bad audience", assertion{jwt.SigningMethodES256, ecKey, "cert-es256", claims(func(c jwt.MapClaims) { c["aud"] = "https://example.com/token" })}, "invalid_grant"},
		{"unknown kid", assertion{jwt.SigningMethodES256, ecKey, "nope", claims(nil)}, "invalid_grant"},
		{"kid of another key", assertion{jwt.SigningMethodES256, otherEC, "cert-es256", claims(nil)}, "invalid_grant"},
		{"exp - iat over an hour", assertion{jwt.SigningMethodES256, ecKey, "cert-es256", claims(func(c jwt.MapClaims) { c["exp"] = fixedNow.Add(61 * time.Minute).Unix() })}, "invalid_grant"},
		{"expired", assertion{jwt.SigningMethodES256, ecKey, "cert-es256", claims(func(c jwt.MapClaims) {
			c["iat"] = fixedNow.Add(-2 * time.Hour).Unix()
			c["exp"] = fixedNow.Add(-time.Hour).Unix()
		})}, "invalid_grant"},
		{"no exp", assertion{jwt.SigningMethodES256, ecKey, "cert-es256", claims(func(c jwt.MapClaims) { delete(c, "exp") })}, "invalid_grant"},
		{"wrong issuer", assertion{jwt.SigningMethodES256, ecKey, "cert-es256", claims(func(c jwt.MapClaims) { c["iss"] = "someone" })}, "invalid_grant"},
		{"RS256 is not accepted", assertion{jwt.SigningMethodRS256, rsaKey, "cert-ps256", claims(nil)}, "invalid_grant"},
		{"bad scope", assertion{jwt.SigningMethodES256, ecKey, "cert-es256", claims(func(c jwt.MapClaims) { c["scope"] = []string{"everything"} })}, "invalid_scope"},
		{"no scope", assertion{jwt.SigningMethodES256, ecKey, "cert-es256", claims(func(c jwt.MapClaims) { delete(c, "scope") })}, "invalid_scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := postForm(t, base+pathToken, url.Values{"grant_type": {"client_credentials"},
				"client_assertion_type": {assertionType}, "client_assertion": {tt.a.sign(t)}}, "", "")
			if tt.want != "" {
				if r.status != 400 || string(r.body) != `{"error":"`+tt.want+`"}` {
					t.Errorf("got %d %s (%s), want %s", r.status, r.body, r.header.Get("X-Sandbox-Reason"), tt.want)
				}
				return
			}
			if r.status != 200 {
				t.Fatalf("got %d %s (%s)", r.status, r.body, r.header.Get("X-Sandbox-Reason"))
			}
			var tok map[string]any
			r.decode(t, &tok)
			if _, ok := tok["refresh_token"]; ok || tok["expires_in"] != "3600" {
				t.Errorf("client credentials response %v", tok)
			}
			if r := doRequest(t, "GET", base+pathRecord+"calendarevent?limit=1", nil, bearer(tok["access_token"].(string))); r.status != 200 {
				t.Errorf("API call: %d", r.status)
			}
		})
	}
}

func TestRegisterCertificateRejects(t *testing.T) {
	s, _ := newSandbox(t, Config{Events: 10})
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	for name, k := range map[string]crypto.PublicKey{"rsa 1024": &small.PublicKey, "p224": &p224.PublicKey, "string": "key"} {
		if err := s.RegisterCertificate("c", k); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if err := s.RegisterCertificate("", &p224.PublicKey); err == nil {
		t.Error("empty ID accepted")
	}
}
