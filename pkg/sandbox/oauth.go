package sandbox

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// OAuth 2.0 paths.
const (
	pathAuthorize = "/app/login/oauth2/authorize.nl"
	pathToken     = "/services/rest/auth/oauth2/v1/token"
	pathRevoke    = "/services/rest/auth/oauth2/v1/revoke"
)

const (
	assertionType    = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	codeTTL          = 10 * time.Minute
	maxAssertionLife = 3600
	tokenIssuer      = "https://system.netsuite.com"
	tokenRole        = 3
)

var knownScopes = map[string]bool{"restlets": true, "rest_webservices": true, "suite_analytics": true,
	"mcp": true, "openid": true, "email": true}

type authCode struct {
	redirectURI string
	challenge   string
	scope       []string
	expires     time.Time
	used        bool
}

type refreshGrant struct {
	expires time.Time
	revoked bool
	scope   []string
}

type accessGrant struct {
	expires time.Time
	parent  *refreshGrant // nil for client credentials
	gen     uint64
}

// authState holds codes, tokens and registered certificates.
type authState struct {
	mu      sync.Mutex
	key     *rsa.PrivateKey
	codes   map[string]*authCode
	access  map[string]*accessGrant
	refresh map[string]*refreshGrant
	certs   map[string]crypto.PublicKey
	gen     uint64
	issued  int
	primary string // the refresh token of Config / RefreshToken()
}

func newAuthState(key *rsa.PrivateKey) *authState {
	return &authState{key: key, codes: map[string]*authCode{}, access: map[string]*accessGrant{},
		refresh: map[string]*refreshGrant{}, certs: map[string]crypto.PublicKey{}}
}

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// signingKey returns the token signing key, generating it on first use.
// Callers hold a.mu.
func (a *authState) signingKey() (*rsa.PrivateKey, error) {
	if a.key == nil {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, fmt.Errorf("generate signing key: %w", err)
		}
		a.key = k
	}
	return a.key, nil
}

// sign issues a JWT in NetSuite's token shape. Callers hold a.mu.
func (s *Sandbox) sign(kind string, ttl time.Duration, scope []string, now time.Time) (string, error) {
	key, err := s.auth.signingKey()
	if err != nil {
		return "", err
	}
	kid := "s.SYSTEM.2020_1"
	if kind == "a" {
		kid = "c." + s.cfg.Account + "." + now.UTC().Format("2006-01-02_15-04-05")
	}
	claims := jwt.MapClaims{
		"sub":   fmt.Sprintf("%d;%d", tokenRole, integrationUserID),
		"aud":   []string{"a5bd9bd0-4a33-4d7b-9b37-6c3a4a0a0b1e;" + s.cfg.Account, s.cfg.ClientID},
		"scope": scope,
		"iss":   tokenIssuer,
		"oit":   now.Unix(),
		"exp":   now.Add(ttl).Unix(),
		"iat":   now.Unix(),
		"jti":   fmt.Sprintf("%d.%s.%s_%d.0", integrationUserID, kind, randomToken(12), now.UnixMilli()),
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = kid
	str, err := t.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return str, nil
}

// issueAccess mints an access token. Callers hold s.auth.mu.
func (s *Sandbox) issueAccess(parent *refreshGrant, scope []string, now time.Time) (string, error) {
	tok, err := s.sign("a", s.cfg.AccessTokenTTL, scope, now)
	if err != nil {
		return "", err
	}
	a := s.auth
	a.access[tok] = &accessGrant{expires: now.Add(s.cfg.AccessTokenTTL), parent: parent, gen: a.gen}
	a.issued++
	if a.issued%1024 == 0 {
		for k, g := range a.access {
			if !now.Before(g.expires) || g.gen != a.gen {
				delete(a.access, k)
			}
		}
	}
	s.gov.mu.Lock()
	s.gov.access++
	s.gov.mu.Unlock()
	return tok, nil
}

// issueRefresh mints a refresh token. Callers hold s.auth.mu.
func (s *Sandbox) issueRefresh(scope []string, now time.Time) (string, *refreshGrant, error) {
	tok, err := s.sign("r", s.cfg.RefreshTokenTTL, scope, now)
	if err != nil {
		return "", nil, err
	}
	g := &refreshGrant{expires: now.Add(s.cfg.RefreshTokenTTL), scope: scope}
	s.auth.refresh[tok] = g
	s.gov.mu.Lock()
	s.gov.refresh++
	s.gov.mu.Unlock()
	return tok, g, nil
}

// RefreshToken returns the refresh token configured in Config, or the one
// generated for it. It stays valid until RefreshTokenTTL after New, or until
// revoked.
func (s *Sandbox) RefreshToken() string {
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	if s.auth.primary == "" {
		tok, _, err := s.issueRefresh([]string{"rest_webservices", "restlets"}, s.start)
		if err != nil {
			s.log.Error("issue refresh token", "error", err)
			return ""
		}
		// Its lifetime runs from New, like a token obtained just before.
		s.auth.primary = tok
	}
	return s.auth.primary
}

// checkBearer validates an Authorization header.
func (s *Sandbox) checkBearer(h string) bool {
	const prefix = "bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return false
	}
	tok := strings.TrimSpace(h[len(prefix):])
	now := s.cfg.Now()
	a := s.auth
	a.mu.Lock()
	defer a.mu.Unlock()
	g, ok := a.access[tok]
	if !ok || g.gen != a.gen || !now.Before(g.expires) {
		return false
	}
	if g.parent != nil && g.parent.revoked {
		return false
	}
	return true
}

// ExpireAccessTokens invalidates every access token issued so far.
func (s *Sandbox) ExpireAccessTokens() {
	s.auth.mu.Lock()
	s.auth.gen++
	s.auth.mu.Unlock()
}

// RevokeRefreshTokens revokes every refresh token (including the one of
// RefreshToken) and the access tokens issued from them.
func (s *Sandbox) RevokeRefreshTokens() {
	s.RefreshToken() // make sure the primary token exists, so it is revoked too
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	for _, g := range s.auth.refresh {
		g.revoked = true
	}
}

// RegisterCertificate registers the public key of a client-credentials
// certificate under certID, the kid that assertions must carry. RSA keys of
// at least 2048 bits (NetSuite requires 3072) and EC keys on P-256, P-384 or
// P-521 are accepted.
func (s *Sandbox) RegisterCertificate(certID string, pub crypto.PublicKey) error {
	if certID == "" {
		return errors.New("register certificate: empty certificate ID")
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return fmt.Errorf("register certificate: RSA key has %d bits, want at least 2048", k.N.BitLen())
		}
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
		default:
			return errors.New("register certificate: EC key must be on P-256, P-384 or P-521")
		}
	default:
		return fmt.Errorf("register certificate: unsupported key type %T", pub)
	}
	s.auth.mu.Lock()
	s.auth.certs[certID] = pub
	s.auth.mu.Unlock()
	return nil
}

// parsePublicKeyPEM reads a PEM "CERTIFICATE" or "PUBLIC KEY" block.
func parsePublicKeyPEM(data []byte) (crypto.PublicKey, error) {
	for {
		blk, rest := pem.Decode(data)
		if blk == nil {
			return nil, errors.New("parse PEM: no CERTIFICATE or PUBLIC KEY block")
		}
		switch blk.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse certificate: %w", err)
			}
			return c.PublicKey, nil
		case "PUBLIC KEY":
			k, err := x509.ParsePKIXPublicKey(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse public key: %w", err)
			}
			return k, nil
		}
		data = rest
	}
}

func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// handleAuthorize is the browser step of the authorization code grant. It
// approves at once and redirects back with a code.
func (s *Sandbox) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		errorPage(w, http.StatusMethodNotAllowed, "Method not allowed.")
		return
	}
	if err := r.ParseForm(); err != nil {
		errorPage(w, http.StatusBadRequest, "Invalid request.")
		return
	}
	q := r.Form
	if q.Get("client_id") != s.cfg.ClientID {
		errorPage(w, http.StatusBadRequest, "Invalid login attempt: the client ID is not valid or the integration record is disabled.")
		return
	}
	redirect, ok := validRedirect(q.Get("redirect_uri"))
	if !ok {
		errorPage(w, http.StatusBadRequest, "Invalid login attempt: the redirect URI is not valid for this integration record.")
		return
	}
	state := q.Get("state")
	fail := func(code string) {
		v := redirect.Query()
		v.Set("error", code)
		if state != "" {
			v.Set("state", state)
		}
		redirect.RawQuery = v.Encode()
		http.Redirect(w, r, redirect.String(), http.StatusFound)
	}
	if q.Get("response_type") != "code" {
		fail("unsupported_response_type")
		return
	}
	if !validState(state) {
		fail("invalid_request")
		return
	}
	scope, ok := parseScopes(q.Get("scope"))
	if !ok {
		fail("invalid_scope")
		return
	}
	challenge := q.Get("code_challenge")
	if q.Get("code_challenge_method") != "S256" || len(challenge) != 43 || !isBase64URL(challenge) {
		fail("invalid_request")
		return
	}
	code := randomToken(32)
	s.auth.mu.Lock()
	now := s.cfg.Now()
	for k, c := range s.auth.codes {
		if !now.Before(c.expires) {
			delete(s.auth.codes, k)
		}
	}
	s.auth.codes[code] = &authCode{redirectURI: q.Get("redirect_uri"), challenge: challenge, scope: scope,
		expires: now.Add(codeTTL)}
	s.auth.mu.Unlock()
	// Parameter order as NetSuite sends it: state, role, entity, company, code.
	extra := "state=" + url.QueryEscape(state) + "&role=" + strconv.Itoa(tokenRole) + "&entity=" +
		strconv.Itoa(integrationUserID) + "&company=" + url.QueryEscape(s.cfg.Account) + "&code=" + url.QueryEscape(code)
	if redirect.RawQuery != "" {
		redirect.RawQuery += "&" + extra
	} else {
		redirect.RawQuery = extra
	}
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

func errorPage(w http.ResponseWriter, status int, msg string) {
	body := "<!DOCTYPE html><html><head><title>Error</title></head><body><h1>Error</h1><p>" +
		html.EscapeString(msg) + "</p></body></html>"
	writeBody(w, status, "text/html; charset=utf-8", []byte(body))
}

// validRedirect accepts https, custom schemes, and plain http only for a
// loopback host (so a CLI can listen locally).
func validRedirect(raw string) (*url.URL, bool) {
	u, err := url.Parse(raw)
	if err != nil || raw == "" || u.Scheme == "" || u.Fragment != "" {
		return nil, false
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return u, u.Host != ""
	case "http":
		switch u.Hostname() {
		case "127.0.0.1", "localhost", "::1":
			return u, true
		}
		return nil, false
	case "javascript", "data", "file":
		return nil, false
	}
	return u, true
}

func validState(s string) bool {
	if len(s) < 22 || len(s) > 1024 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// parseScopes splits a space- or comma-separated scope list.
func parseScopes(s string) ([]string, bool) {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' })
	if len(f) == 0 {
		return nil, false
	}
	for _, sc := range f {
		if !knownScopes[sc] || (sc == "mcp" && len(f) > 1) {
			return nil, false
		}
	}
	return f, true
}

type oauthError struct {
	status int
	code   string
	reason string // logged and sent in X-Sandbox-Reason, never in the body
}

func (e *oauthError) Error() string { return e.code + ": " + e.reason }

func oauthErr(code, format string, args ...any) *oauthError {
	st := http.StatusBadRequest
	if code == "invalid_client" {
		st = http.StatusUnauthorized
	}
	return &oauthError{status: st, code: code, reason: fmt.Sprintf(format, args...)}
}

func (s *Sandbox) writeOAuthError(w http.ResponseWriter, e *oauthError) {
	s.log.Debug("oauth request refused", "error", e.code, "reason", e.reason)
	h := w.Header()
	h.Set("X-Sandbox-Reason", e.reason)
	h.Set("Cache-Control", "no-store")
	if e.code == "invalid_client" {
		h.Set("WWW-Authenticate", `Basic realm="NetSuite"`)
	}
	writeBody(w, e.status, "application/json", []byte(`{"error":"`+e.code+`"}`))
}

// clientAuth checks HTTP Basic client authentication.
func (s *Sandbox) clientAuth(r *http.Request) *oauthError {
	id, secret, ok := r.BasicAuth()
	if !ok {
		return oauthErr("invalid_client", "HTTP Basic client authentication is required")
	}
	// Values are form-encoded per RFC 6749 §2.3.1; accept raw ones too.
	match := func(got, want string) bool {
		if subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1 {
			return true
		}
		u, err := url.QueryUnescape(got)
		return err == nil && subtle.ConstantTimeCompare([]byte(u), []byte(want)) == 1
	}
	if !match(id, s.cfg.ClientID) || !match(secret, s.cfg.ClientSecret) {
		return oauthErr("invalid_client", "client ID or secret is wrong")
	}
	if bid := r.PostForm.Get("client_id"); bid != "" && bid != s.cfg.ClientID {
		return oauthErr("invalid_client", "client_id in the body differs from the authenticated client")
	}
	return nil
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	ExpiresIn    string `json:"expires_in"`
	TokenType    string `json:"token_type"`
}

func (s *Sandbox) handleToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		s.writeOAuthError(w, &oauthError{status: http.StatusMethodNotAllowed, code: "invalid_request", reason: "use POST"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		s.writeOAuthError(w, oauthErr("invalid_request", "cannot parse the form body: %v", err))
		return
	}
	var (
		resp tokenResponse
		oe   *oauthError
	)
	switch gt := r.PostForm.Get("grant_type"); gt {
	case "authorization_code":
		resp, oe = s.grantCode(r)
	case "refresh_token":
		resp, oe = s.grantRefresh(r)
	case "client_credentials":
		resp, oe = s.grantClientCredentials(r)
	case "":
		oe = oauthErr("invalid_request", "grant_type is missing")
	default:
		oe = oauthErr("unsupported_grant_type", "grant_type %q is not supported", gt)
	}
	if oe != nil {
		s.writeOAuthError(w, oe)
		return
	}
	resp.ExpiresIn = strconv.FormatInt(int64(s.cfg.AccessTokenTTL/time.Second), 10)
	resp.TokenType = "bearer"
	body, err := json.Marshal(resp)
	if err != nil {
		s.writeOAuthError(w, &oauthError{status: 500, code: "server_error", reason: err.Error()})
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeBody(w, http.StatusOK, "application/json", body)
}

func (s *Sandbox) grantCode(r *http.Request) (tokenResponse, *oauthError) {
	if oe := s.clientAuth(r); oe != nil {
		return tokenResponse{}, oe
	}
	f := r.PostForm
	code, verifier := f.Get("code"), f.Get("code_verifier")
	if code == "" {
		return tokenResponse{}, oauthErr("invalid_request", "code is missing")
	}
	now := s.cfg.Now()
	a := s.auth
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.codes[code]
	switch {
	case !ok:
		return tokenResponse{}, oauthErr("invalid_grant", "unknown authorization code")
	case c.used:
		return tokenResponse{}, oauthErr("invalid_grant", "authorization code already used")
	case !now.Before(c.expires):
		return tokenResponse{}, oauthErr("invalid_grant", "authorization code expired")
	}
	c.used = true
	if f.Get("redirect_uri") != c.redirectURI {
		return tokenResponse{}, oauthErr("invalid_grant", "redirect_uri does not match the authorization request")
	}
	sum := sha256.Sum256([]byte(verifier))
	if verifier == "" || base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge {
		return tokenResponse{}, oauthErr("invalid_grant", "code_verifier does not match the code_challenge")
	}
	rt, g, err := s.issueRefresh(c.scope, now)
	if err != nil {
		return tokenResponse{}, &oauthError{status: 500, code: "server_error", reason: err.Error()}
	}
	at, err := s.issueAccess(g, c.scope, now)
	if err != nil {
		return tokenResponse{}, &oauthError{status: 500, code: "server_error", reason: err.Error()}
	}
	return tokenResponse{AccessToken: at, RefreshToken: rt}, nil
}

func (s *Sandbox) grantRefresh(r *http.Request) (tokenResponse, *oauthError) {
	if oe := s.clientAuth(r); oe != nil {
		return tokenResponse{}, oe
	}
	tok := r.PostForm.Get("refresh_token")
	if tok == "" {
		return tokenResponse{}, oauthErr("invalid_request", "refresh_token is missing")
	}
	now := s.cfg.Now()
	a := s.auth
	a.mu.Lock()
	defer a.mu.Unlock()
	g, ok := a.refresh[tok]
	switch {
	case !ok:
		return tokenResponse{}, oauthErr("invalid_grant", "unknown refresh token")
	case g.revoked:
		return tokenResponse{}, oauthErr("invalid_grant", "RefreshTokenRevoked")
	case !now.Before(g.expires):
		return tokenResponse{}, oauthErr("invalid_grant", "RefreshTokenExpired")
	}
	at, err := s.issueAccess(g, g.scope, now)
	if err != nil {
		return tokenResponse{}, &oauthError{status: 500, code: "server_error", reason: err.Error()}
	}
	return tokenResponse{AccessToken: at}, nil
}

var assertionAlgs = []string{"PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}

func (s *Sandbox) grantClientCredentials(r *http.Request) (tokenResponse, *oauthError) {
	f := r.PostForm
	if f.Get("client_assertion_type") != assertionType {
		return tokenResponse{}, oauthErr("invalid_request", "client_assertion_type must be %s", assertionType)
	}
	assertion := f.Get("client_assertion")
	if assertion == "" {
		return tokenResponse{}, oauthErr("invalid_request", "client_assertion is missing")
	}
	now := s.cfg.Now()
	auds := []string{baseURL(r) + pathToken,
		"https://" + s.cfg.AccountHost() + ".suitetalk.api.netsuite.com" + pathToken}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(assertion, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		s.auth.mu.Lock()
		k, ok := s.auth.certs[kid]
		s.auth.mu.Unlock()
		if !ok {
			return nil, fmt.Errorf("unknown certificate ID (kid) %q", kid)
		}
		return k, nil
	}, jwt.WithValidMethods(assertionAlgs), jwt.WithIssuer(s.cfg.ClientID), jwt.WithAudience(auds...),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithLeeway(30*time.Second))
	if err != nil {
		return tokenResponse{}, oauthErr("invalid_grant", "client assertion rejected: %v", err)
	}
	iat, err1 := claims.GetIssuedAt()
	exp, err2 := claims.GetExpirationTime()
	if err1 != nil || err2 != nil || iat == nil || exp == nil {
		return tokenResponse{}, oauthErr("invalid_grant", "client assertion must carry iat and exp")
	}
	if life := exp.Unix() - iat.Unix(); life > maxAssertionLife || life <= 0 {
		return tokenResponse{}, oauthErr("invalid_grant", "exp - iat is %ds, must be within 1..3600s", life)
	}
	var scope []string
	switch v := claims["scope"].(type) {
	case string:
		sc, ok := parseScopes(v)
		if !ok {
			return tokenResponse{}, oauthErr("invalid_scope", "scope %q is not valid", v)
		}
		scope = sc
	case []any:
		for _, x := range v {
			str, ok := x.(string)
			if !ok || !knownScopes[str] {
				return tokenResponse{}, oauthErr("invalid_scope", "scope %v is not valid", x)
			}
			scope = append(scope, str)
		}
		if len(scope) == 0 {
			return tokenResponse{}, oauthErr("invalid_scope", "scope is empty")
		}
	default:
		return tokenResponse{}, oauthErr("invalid_scope", "scope claim is missing")
	}
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	at, err := s.issueAccess(nil, scope, now)
	if err != nil {
		return tokenResponse{}, &oauthError{status: 500, code: "server_error", reason: err.Error()}
	}
	return tokenResponse{AccessToken: at}, nil
}

func (s *Sandbox) handleRevoke(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		s.writeOAuthError(w, &oauthError{status: http.StatusMethodNotAllowed, code: "invalid_request", reason: "use POST"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		s.writeOAuthError(w, oauthErr("invalid_request", "cannot parse the form body: %v", err))
		return
	}
	if oe := s.clientAuth(r); oe != nil {
		s.writeOAuthError(w, oe)
		return
	}
	tok := r.PostForm.Get("token")
	if tok == "" {
		s.writeOAuthError(w, oauthErr("invalid_request", "token is missing"))
		return
	}
	s.auth.mu.Lock()
	if g, ok := s.auth.refresh[tok]; ok {
		g.revoked = true
	}
	delete(s.auth.access, tok)
	s.auth.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}
