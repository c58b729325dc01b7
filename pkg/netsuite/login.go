package netsuite

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"html/template"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
)

// LoginConfig configures Login, the authorization-code flow behind
// `nsflow auth login`.
//
// NetSuite sends the browser back to RedirectURL, which must be listed,
// byte for byte, on the integration record's "Redirect URI" field. Real
// NetSuite accepts only https (or a custom scheme) there. With an https
// loopback RedirectURL such as https://127.0.0.1:8976/callback, Login serves
// the callback over TLS with a throw-away self-signed certificate; the
// browser warns once about it. The local sandbox accepts plain http.
type LoginConfig struct {
	// AccountID of the account to log into. When empty, AuthorizeURL
	// defaults to SystemAuthorizeURL and the token URL is derived from the
	// company (account id) NetSuite puts on the redirect.
	AccountID    string
	ClientID     string // required
	ClientSecret string // required
	// AuthorizeURL defaults to DefaultAuthorizeURL(AccountID).
	AuthorizeURL string
	// TokenURL defaults to DefaultTokenURL(AccountID).
	TokenURL string
	// RedirectURL defaults to http://127.0.0.1:<port>/callback with the
	// port of the listener. Its host must be a loopback address or
	// "localhost".
	RedirectURL string
	// Scopes default to [rest_webservices]; they are sent space-separated.
	Scopes []string
	// ListenAddr defaults to the host:port of RedirectURL, or 127.0.0.1:0.
	ListenAddr string
	HTTPClient *http.Client
	Logger     *slog.Logger
	// Clock (default time.Now) stamps the access token's expiry.
	Clock func() time.Time
}

// LoginResult is what a successful login yields. Token carries the access
// and refresh tokens: store them as secrets (SaveCredentialsFile writes 0600).
type LoginResult struct {
	Token *oauth2.Token
	// RefreshTokenExpiry comes from the refresh token's exp claim (zero if
	// unknown). NetSuite's default is 7 days after login.
	RefreshTokenExpiry time.Time
	// Company is the account id NetSuite reports; Role and Entity are the
	// internal ids of the role and user that authorized the integration.
	Company, Role, Entity string
}

// Credentials returns the result in the credentials-file form.
func (r *LoginResult) Credentials(clientID string) *Credentials {
	return &Credentials{
		AccountID:          r.Company,
		ClientID:           clientID,
		RefreshToken:       r.Token.RefreshToken,
		RefreshTokenExpiry: r.RefreshTokenExpiry,
		AccessToken:        r.Token.AccessToken,
		AccessTokenExpiry:  r.Token.Expiry,
		Role:               r.Role,
		Entity:             r.Entity,
	}
}

type loginOutcome struct {
	res *LoginResult
	err error
}

// Login runs the authorization-code grant with PKCE (S256) and state. It
// listens on a loopback address, calls show with the authorize URL (print
// it or open a browser), waits for NetSuite's redirect, checks state (a
// mismatch ends the login without exchanging the code), exchanges the code
// with HTTP Basic client authentication and the PKCE verifier, answers the
// browser with a short HTML page, and returns the tokens. It returns when
// ctx ends, too.
func Login(ctx context.Context, cfg LoginConfig, show func(authURL string)) (*LoginResult, error) {
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, fmt.Errorf("login: %w: ClientID and ClientSecret are required", ErrInvalidConfig)
	}
	if show == nil {
		return nil, fmt.Errorf("login: %w: show callback is required", ErrInvalidConfig)
	}
	if cfg.AccountID != "" {
		if err := ValidateAccountID(cfg.AccountID); err != nil {
			return nil, fmt.Errorf("login: %w", err)
		}
	}
	authURL := cfg.AuthorizeURL
	switch {
	case authURL == "" && cfg.AccountID != "":
		authURL = DefaultAuthorizeURL(cfg.AccountID)
	case authURL == "":
		authURL = SystemAuthorizeURL
	}
	if err := checkHTTPURL(authURL); err != nil {
		return nil, fmt.Errorf("login: AuthorizeURL: %w", err)
	}
	if cfg.TokenURL != "" {
		if err := checkHTTPURL(cfg.TokenURL); err != nil {
			return nil, fmt.Errorf("login: TokenURL: %w", err)
		}
	}
	scopes := cfg.Scopes
	if len(scopes) == 0 {
		scopes = []string{ScopeRESTWebServices}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := cfg.Clock
	if now == nil {
		now = time.Now
	}

	var redirect *url.URL
	listenAddr := cfg.ListenAddr
	if cfg.RedirectURL != "" {
		u, err := url.Parse(cfg.RedirectURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !isLoopbackHost(u.Hostname()) {
			return nil, fmt.Errorf("login: %w: RedirectURL must be an http(s) URL on a loopback host", ErrInvalidConfig)
		}
		redirect = u
		if listenAddr == "" {
			port := u.Port()
			if port == "" {
				return nil, fmt.Errorf("login: %w: RedirectURL needs an explicit port (or set ListenAddr)", ErrInvalidConfig)
			}
			listenAddr = net.JoinHostPort(u.Hostname(), port)
		}
	}
	if listenAddr == "" {
		listenAddr = "127.0.0.1:0"
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", listenAddr)
	if err != nil {
		return nil, fmt.Errorf("login: listen for the callback: %w", err)
	}
	defer ln.Close()
	if redirect == nil {
		redirect = &url.URL{Scheme: "http", Host: ln.Addr().String(), Path: "/callback"}
	}
	callbackPath := redirect.Path
	if callbackPath == "" {
		callbackPath = "/"
	}

	state, err := randomURLSafe(32)
	if err != nil {
		return nil, fmt.Errorf("login: generate state: %w", err)
	}
	verifier := oauth2.GenerateVerifier()

	conf := oauth2.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		RedirectURL:  redirect.String(),
		Scopes:       scopes,
		Endpoint:     oauth2.Endpoint{AuthURL: authURL, AuthStyle: oauth2.AuthStyleInHeader},
	}
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {cfg.ClientID},
		"redirect_uri":          {redirect.String()},
		"scope":                 {strings.Join(scopes, " ")},
		"state":                 {state},
		"code_challenge":        {oauth2.S256ChallengeFromVerifier(verifier)},
		"code_challenge_method": {"S256"},
	}
	sep := "?"
	if strings.Contains(authURL, "?") {
		sep = "&"
	}
	// NetSuite's examples encode spaces as %20; QueryEscape writes "+" and
	// escapes a literal "+" as %2B, so this swap is exact.
	fullAuthURL := authURL + sep + strings.ReplaceAll(q.Encode(), "+", "%20")

	hc := tokenHTTPClient(cfg.HTTPClient, nil, cfg.AccountID)
	results := make(chan loginOutcome, 1)
	var done atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc(callbackPath, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		p := r.URL.Query()
		if !p.Has("code") && !p.Has("error") && !p.Has("state") {
			renderLoginPage(w, http.StatusBadRequest, "Not a NetSuite redirect", "This address only receives the NetSuite login redirect.")
			return
		}
		if !done.CompareAndSwap(false, true) {
			renderLoginPage(w, http.StatusConflict, "Already handled", "This login has already been completed. You can close this tab.")
			return
		}
		out := completeLogin(ctx, &conf, cfg, p, state, verifier, hc, now)
		if out.err != nil {
			renderLoginPage(w, http.StatusBadRequest, "nsflow login failed", out.err.Error()+" — return to the terminal for details.")
		} else {
			renderLoginPage(w, http.StatusOK, "nsflow is connected to NetSuite",
				"Account "+out.res.Company+" is authorized. You can close this tab and return to the terminal.")
		}
		results <- out
	})

	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	serveErr := make(chan error, 1)
	if redirect.Scheme == "https" {
		cert, err := selfSignedCert(redirect.Hostname(), now())
		if err != nil {
			return nil, fmt.Errorf("login: create callback certificate: %w", err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		go func() { serveErr <- srv.ServeTLS(ln, "", "") }()
	} else {
		go func() { serveErr <- srv.Serve(ln) }()
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()

	log.Info("waiting for the NetSuite login redirect", "redirect_uri", redirect.String())
	show(fullAuthURL)

	select {
	case out := <-results:
		if out.err != nil {
			return nil, fmt.Errorf("login: %w", out.err)
		}
		return out.res, nil
	case err := <-serveErr:
		return nil, fmt.Errorf("login: callback server stopped: %w", err)
	case <-ctx.Done():
		return nil, fmt.Errorf("login: wait for the NetSuite redirect: %w", ctx.Err())
	}
}

// completeLogin checks the redirect parameters and exchanges the code.
func completeLogin(ctx context.Context, conf *oauth2.Config, cfg LoginConfig, p url.Values, state, verifier string,
	hc *http.Client, now func() time.Time) loginOutcome {
	if code := p.Get("error"); code != "" {
		msg := fmt.Errorf("%w: NetSuite answered %q", ErrAuthorizationDenied, code)
		if d := p.Get("error_description"); d != "" {
			msg = fmt.Errorf("%w (%s)", msg, d)
		}
		return loginOutcome{err: fmt.Errorf("%w%s", msg, deniedHint(code))}
	}
	if subtle.ConstantTimeCompare([]byte(p.Get("state")), []byte(state)) != 1 {
		return loginOutcome{err: ErrStateMismatch}
	}
	code := p.Get("code")
	if code == "" {
		return loginOutcome{err: fmt.Errorf("%w: the redirect carries no code", ErrAuthorizationDenied)}
	}
	company := p.Get("company")
	account := cfg.AccountID
	if account == "" {
		account = company
	}
	tokenURL := cfg.TokenURL
	if tokenURL == "" {
		if ValidateAccountID(account) != nil {
			return loginOutcome{err: fmt.Errorf("%w: no account id configured and the redirect has no valid company", ErrInvalidConfig)}
		}
		tokenURL = DefaultTokenURL(account)
	}
	c := *conf
	c.Endpoint.TokenURL = tokenURL
	tok, err := c.Exchange(context.WithValue(ctx, oauth2.HTTPClient, hc), code, oauth2.VerifierOption(verifier))
	if err != nil {
		return loginOutcome{err: fmt.Errorf("exchange authorization code: %w", classifyTokenErr(ctx, account, err))}
	}
	if tok.RefreshToken == "" {
		return loginOutcome{err: fmt.Errorf("exchange authorization code: %w: the response has no refresh token", ErrMalformedResponse)}
	}
	t := normalize(tok, now())
	if company == "" {
		company = cfg.AccountID
	}
	return loginOutcome{res: &LoginResult{
		Token:              t,
		RefreshTokenExpiry: JWTExpiry(t.RefreshToken),
		Company:            company,
		Role:               p.Get("role"),
		Entity:             p.Get("entity"),
	}}
}

func deniedHint(code string) string {
	switch code {
	case "access_denied":
		return ": the user declined, or the role lacks \"Log in using OAuth 2.0 Access Tokens\""
	case "invalid_scope":
		return ": enable the requested scopes (REST Web Services) on the integration record"
	case "unauthorized_client":
		return ": tick \"Authorization Code Grant\" on the integration record"
	case "invalid_request":
		return ": check that the redirect URI matches the integration record exactly"
	}
	return ""
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}</style>
</head><body><h1>{{.Title}}</h1><p>{{.Message}}</p></body></html>
`))

func renderLoginPage(w http.ResponseWriter, status int, title, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_ = loginPage.Execute(w, struct{ Title, Message string }{title, msg})
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// randomURLSafe returns n random bytes, base64url-encoded (n=32 gives 43
// characters).
func randomURLSafe(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// selfSignedCert makes a one-day certificate for the loopback callback.
func selfSignedCert(host string, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "nsflow login callback"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if ip := net.ParseIP(host); ip != nil && !ip.Equal(net.IPv4(127, 0, 0, 1)) && !ip.Equal(net.IPv6loopback) {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("create certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
