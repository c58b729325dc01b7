package netsuite

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	rsaKeyOnce sync.Once
	rsaKey     *rsa.PrivateKey
)

func testRSAKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	rsaKeyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		rsaKey = k
	})
	return rsaKey
}

func testECKey(t *testing.T, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// m2mEndpoint is a fake token endpoint that verifies client assertions the
// way NetSuite documents it.
func m2mEndpoint(t *testing.T, pub crypto.PublicKey, wantAlg, tokenURL *string, assertions *[]string, mu *sync.Mutex) *fakeTokenEndpoint {
	return newFakeTokenEndpoint(t, func(n int, c tokenCall, w http.ResponseWriter) {
		fail := func(format string, args ...any) {
			t.Errorf("token call %d: "+format, append([]any{n}, args...)...)
			writeJSON(w, 400, `{"error":"invalid_request"}`)
		}
		if c.Authorization != "" {
			fail("Authorization header sent: M2M must not use Basic auth")
			return
		}
		if c.Form.Get("grant_type") != "client_credentials" ||
			c.Form.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" ||
			c.Form.Has("client_id") || c.Form.Has("client_secret") || c.Form.Has("scope") {
			fail("form = %v", c.Form)
			return
		}
		a := c.Form.Get("client_assertion")
		mu.Lock()
		*assertions = append(*assertions, a)
		mu.Unlock()
		claims := jwt.MapClaims{}
		tok, err := jwt.ParseWithClaims(a, claims, func(*jwt.Token) (any, error) { return pub, nil },
			jwt.WithValidMethods([]string{*wantAlg}), jwt.WithAudience(*tokenURL), jwt.WithIssuer(testClientID),
			jwt.WithTimeFunc(func() time.Time { return newFakeClock().Now().Add(time.Minute) }))
		if err != nil {
			fail("assertion does not verify: %v", err)
			return
		}
		if tok.Header["kid"] != "cert-id-42" || tok.Header["typ"] != "JWT" || tok.Header["alg"] != *wantAlg {
			fail("header = %v", tok.Header)
			return
		}
		iat, _ := claims.GetIssuedAt()
		exp, _ := claims.GetExpirationTime()
		if iat == nil || exp == nil || exp.Sub(iat.Time) != time.Hour {
			fail("exp - iat = %v, want 3600s", exp.Sub(iat.Time))
			return
		}
		scope, ok := claims["scope"].([]any)
		if !ok || len(scope) != 2 || scope[0] != "rest_webservices" || scope[1] != "restlets" {
			fail("scope = %#v, want [rest_webservices restlets]", claims["scope"])
			return
		}
		writeJSON(w, 200, fmt.Sprintf(`{"access_token":"m2m-access-%d","expires_in":"3600","token_type":"bearer"}`, n))
	})
}

func TestClientCredentialsAssertion(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		key     crypto.Signer
		alg     string
		wantAlg string
	}{
		{"RSA default PS256", testRSAKey(t), "", "PS256"},
		{"RSA PS512 override", testRSAKey(t), "PS512", "PS512"},
		{"EC P-256", testECKey(t, elliptic.P256()), "", "ES256"},
		{"EC P-384", testECKey(t, elliptic.P384()), "", "ES384"},
		{"EC P-521", testECKey(t, elliptic.P521()), "", "ES512"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var assertions []string
			wantAlg, tokenURL := tt.wantAlg, ""
			ep := m2mEndpoint(t, tt.key.Public(), &wantAlg, &tokenURL, &assertions, &mu)
			tokenURL = ep.URL()
			clock := newFakeClock()
			logs := &logBuffer{}
			src, err := NewClientCredentialsTokenSource(M2MConfig{
				AccountID: "TSTDRV1234567", ClientID: testClientID, TokenURL: tokenURL, CertificateID: "cert-id-42",
				PrivateKey: tt.key, Algorithm: tt.alg, Scopes: []string{"rest_webservices", "restlets"},
				Clock: clock.Now, Logger: logs.logger(),
			})
			if err != nil {
				t.Fatal(err)
			}
			if src.Algorithm() != tt.wantAlg {
				t.Errorf("Algorithm = %s", src.Algorithm())
			}
			tok, err := src.Token(t.Context())
			if err != nil || tok.AccessToken != "m2m-access-1" {
				t.Fatalf("Token = %v, %v", tok, err)
			}
			if !tok.Expiry.Equal(clock.Now().Add(time.Hour)) {
				t.Errorf("expiry = %v", tok.Expiry)
			}
			if tok, _ := src.Token(t.Context()); tok.AccessToken != "m2m-access-1" {
				t.Error("token not cached")
			}
			clock.Advance(56 * time.Minute)
			tok, err = src.Token(t.Context())
			if err != nil || tok.AccessToken != "m2m-access-2" {
				t.Fatalf("second token = %v, %v", tok, err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(assertions) != 2 || assertions[0] == assertions[1] {
				t.Errorf("assertions = %d (distinct %v), want a new one per token", len(assertions), len(assertions) == 2 && assertions[0] != assertions[1])
			}
			assertNoSecrets(t, "logs", logs.String(), assertions...)
			assertNoSecrets(t, "logs", logs.String(), "m2m-access-1", "m2m-access-2")
		})
	}
}

func TestClientCredentialsDefaultsAndRefusal(t *testing.T) {
	t.Parallel()
	key := testECKey(t, elliptic.P256())
	ep := newFakeTokenEndpoint(t, func(_ int, c tokenCall, w http.ResponseWriter) {
		claims := jwt.MapClaims{}
		_, _, _ = jwt.NewParser().ParseUnverified(c.Form.Get("client_assertion"), claims)
		if s, ok := claims["scope"].([]any); !ok || len(s) != 1 || s[0] != "rest_webservices" {
			t.Errorf("default scope = %#v", claims["scope"])
		}
		writeJSON(w, 401, `{"error":"invalid_client"}`)
	})
	src, err := NewClientCredentialsTokenSource(M2MConfig{AccountID: "1", ClientID: "c", TokenURL: ep.URL(), CertificateID: "k", PrivateKey: key})
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Token(t.Context())
	if !IsAuth(err) || IsRetryable(err) {
		t.Fatalf("err = %v, want a permanent auth error", err)
	}
	_, _ = src.Token(t.Context())
	if n := len(ep.Calls()); n != 1 {
		t.Errorf("token calls = %d, want 1 (refusal remembered)", n)
	}
}

func TestClientCredentialsConfigErrors(t *testing.T) {
	t.Parallel()
	rsaK := testRSAKey(t)
	ecK := testECKey(t, elliptic.P256())
	_, edK, _ := ed25519.GenerateKey(rand.Reader)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	for name, cfg := range map[string]M2MConfig{
		"no client":     {AccountID: "1", CertificateID: "k", PrivateKey: ecK},
		"no cert":       {AccountID: "1", ClientID: "c", PrivateKey: ecK},
		"no key":        {AccountID: "1", ClientID: "c", CertificateID: "k"},
		"rsa with ES":   {AccountID: "1", ClientID: "c", CertificateID: "k", PrivateKey: rsaK, Algorithm: "ES256"},
		"rsa RS256":     {AccountID: "1", ClientID: "c", CertificateID: "k", PrivateKey: rsaK, Algorithm: "RS256"},
		"ec wrong size": {AccountID: "1", ClientID: "c", CertificateID: "k", PrivateKey: ecK, Algorithm: "ES384"},
		"ed25519":       {AccountID: "1", ClientID: "c", CertificateID: "k", PrivateKey: edK},
		"small rsa":     {AccountID: "1", ClientID: "c", CertificateID: "k", PrivateKey: small},
	} {
		if _, err := NewClientCredentialsTokenSource(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: err = %v, want ErrInvalidConfig", name, err)
		}
	}
}

func TestParsePrivateKeyPEM(t *testing.T) {
	t.Parallel()
	rsaK := testRSAKey(t)
	ecK := testECKey(t, elliptic.P384())
	pkcs8RSA, _ := x509.MarshalPKCS8PrivateKey(rsaK)
	pkcs8EC, _ := x509.MarshalPKCS8PrivateKey(ecK)
	sec1, _ := x509.MarshalECPrivateKey(ecK)
	enc := func(typ string, b []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}) }
	cert := enc("CERTIFICATE", []byte("not really a certificate"))
	_, edK, _ := ed25519.GenerateKey(rand.Reader)
	pkcs8Ed, _ := x509.MarshalPKCS8PrivateKey(edK)

	for name, tt := range map[string]struct {
		data []byte
		want crypto.PublicKey
	}{
		"PKCS#1":            {enc("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaK)), rsaK.Public()},
		"PKCS#8 RSA":        {enc("PRIVATE KEY", pkcs8RSA), rsaK.Public()},
		"PKCS#8 EC":         {enc("PRIVATE KEY", pkcs8EC), ecK.Public()},
		"SEC1":              {enc("EC PRIVATE KEY", sec1), ecK.Public()},
		"after certificate": {append(append(cert, enc("EC PARAMETERS", []byte{6, 5, 43, 129, 4, 0, 34})...), enc("EC PRIVATE KEY", sec1)...), ecK.Public()},
	} {
		k, err := ParsePrivateKeyPEM(tt.data)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if eq, ok := k.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(tt.want) {
			t.Errorf("%s: wrong key", name)
		}
	}
	for name, data := range map[string][]byte{
		"empty":     nil,
		"garbage":   []byte("-----BEGIN NOTHING-----"),
		"cert only": cert,
		"encrypted": enc("ENCRYPTED PRIVATE KEY", []byte{1, 2, 3}),
		"corrupt":   enc("RSA PRIVATE KEY", []byte("corrupt-key-material-XYZ")),
		"ed25519":   enc("PRIVATE KEY", pkcs8Ed),
	} {
		_, err := ParsePrivateKeyPEM(data)
		if !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: err = %v, want ErrInvalidConfig", name, err)
		}
		if err != nil && strings.Contains(err.Error(), "XYZ") {
			t.Errorf("%s: error echoes key material", name)
		}
	}
}
