package netsuite

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// ScopeRESTWebServices is the OAuth 2.0 scope for the REST record API and
// SuiteQL.
const ScopeRESTWebServices = "rest_webservices"

const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// M2MConfig configures NewClientCredentialsTokenSource.
type M2MConfig struct {
	AccountID string // required
	// ClientID of the integration record: the assertion's "iss". Required.
	ClientID string
	// TokenURL defaults to DefaultTokenURL(AccountID); it is also the
	// assertion's "aud".
	TokenURL string
	// CertificateID from Setup > Integration > OAuth 2.0 Client Credentials
	// (M2M) Setup: the assertion's "kid". Required.
	CertificateID string
	// PrivateKey of the uploaded certificate: RSA (3072/4096 bits per
	// NetSuite) or EC P-256/P-384/P-521. Any crypto.Signer works (an HSM or
	// KMS key too). Required.
	PrivateKey crypto.Signer
	// Algorithm overrides the default (PS256 for RSA; ES256/384/512 by
	// curve). RSA accepts PS256, PS384, PS512; EC only its curve's ES*.
	Algorithm string
	// Scopes default to [rest_webservices].
	Scopes []string
	// Store is an optional cache shared by replicas.
	Store        TokenStore
	EarlyRefresh time.Duration // default 5m
	LockTTL      time.Duration // default 30s
	LockWait     time.Duration // default 2×LockTTL
	Clock        func() time.Time
	Metrics      *Metrics
	Logger       *slog.Logger
	HTTPClient   *http.Client
}

// ClientCredentialsTokenSource is a TokenSource for the OAuth 2.0 client
// credentials (M2M) grant: each new access token is requested with a freshly
// signed JWT assertion (header typ=JWT, alg, kid=CertificateID; claims
// iss=ClientID, scope, aud=TokenURL, iat=now, exp=now+3600). No refresh
// token is involved, so there is no 7-day expiry. The request carries no
// Basic header.
//
// A refusal by the token endpoint (invalid_client, a certificate that is not
// mapped, ...) is remembered for 5 minutes, during which Token returns it
// without calling the endpoint.
type ClientCredentialsTokenSource struct {
	cache    *tokenCache
	account  string
	clientID string
	tokenURL string
	certID   string
	key      crypto.Signer
	method   *signerMethod
	scopes   []string
	hc       *http.Client
	now      func() time.Time
}

var _ TokenSource = (*ClientCredentialsTokenSource)(nil)

// NewClientCredentialsTokenSource validates cfg (including that the key
// fits the algorithm) and returns a source. It makes no network call.
func NewClientCredentialsTokenSource(cfg M2MConfig) (*ClientCredentialsTokenSource, error) {
	if err := ValidateAccountID(cfg.AccountID); err != nil {
		return nil, fmt.Errorf("new client credentials token source: %w", err)
	}
	switch {
	case cfg.ClientID == "":
		return nil, fmt.Errorf("new client credentials token source: %w: ClientID is required", ErrInvalidConfig)
	case cfg.CertificateID == "":
		return nil, fmt.Errorf("new client credentials token source: %w: CertificateID is required", ErrInvalidConfig)
	case cfg.PrivateKey == nil:
		return nil, fmt.Errorf("new client credentials token source: %w: PrivateKey is required", ErrInvalidConfig)
	}
	method, err := methodFor(cfg.PrivateKey.Public(), cfg.Algorithm)
	if err != nil {
		return nil, fmt.Errorf("new client credentials token source: %w", err)
	}
	tokenURL := cfg.TokenURL
	if tokenURL == "" {
		tokenURL = DefaultTokenURL(cfg.AccountID)
	}
	if err := checkHTTPURL(tokenURL); err != nil {
		return nil, fmt.Errorf("new client credentials token source: TokenURL: %w", err)
	}
	scopes := slices.Clone(cfg.Scopes)
	if len(scopes) == 0 {
		scopes = []string{ScopeRESTWebServices}
	}
	now := cfg.Clock
	if now == nil {
		now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("account", cfg.AccountID)
	s := &ClientCredentialsTokenSource{
		account:  cfg.AccountID,
		clientID: cfg.ClientID,
		tokenURL: tokenURL,
		certID:   cfg.CertificateID,
		key:      cfg.PrivateKey,
		method:   method,
		scopes:   scopes,
		hc:       tokenHTTPClient(cfg.HTTPClient, cfg.Metrics, cfg.AccountID),
		now:      now,
	}
	s.cache = newTokenCache(cacheConfig{
		account:   cfg.AccountID,
		kind:      "client_credentials",
		store:     cfg.Store,
		early:     cfg.EarlyRefresh,
		lockTTL:   cfg.LockTTL,
		lockWait:  cfg.LockWait,
		stickyFor: 5 * time.Minute,
		now:       now,
		log:       log,
		metrics:   cfg.Metrics,
		fetch:     s.fetch,
	})
	return s, nil
}

// Algorithm returns the JWS algorithm of the assertions.
func (s *ClientCredentialsTokenSource) Algorithm() string { return s.method.alg }

// Token returns a valid access token.
func (s *ClientCredentialsTokenSource) Token(ctx context.Context) (*oauth2.Token, error) {
	return s.cache.Token(ctx)
}

// Invalidate marks stale as rejected by NetSuite.
func (s *ClientCredentialsTokenSource) Invalidate(ctx context.Context, stale *oauth2.Token) {
	s.cache.Invalidate(ctx, stale)
}

// assertion signs a new client assertion valid for one hour.
func (s *ClientCredentialsTokenSource) assertion() (string, error) {
	now := s.now()
	t := jwt.NewWithClaims(s.method, jwt.MapClaims{
		"iss":   s.clientID,
		"scope": s.scopes,
		"aud":   s.tokenURL,
		"iat":   now.Unix(),
		"exp":   now.Add(time.Hour).Unix(),
	})
	t.Header["kid"] = s.certID
	signed, err := t.SignedString(s.key)
	if err != nil {
		return "", fmt.Errorf("sign client assertion: %w", err)
	}
	return signed, nil
}

func (s *ClientCredentialsTokenSource) fetch(ctx context.Context) (*oauth2.Token, error) {
	a, err := s.assertion()
	if err != nil {
		return nil, err
	}
	cc := clientcredentials.Config{
		TokenURL:  s.tokenURL,
		AuthStyle: oauth2.AuthStyleInParams, // with no client id/secret: no Basic header, no client_id
		EndpointParams: url.Values{
			"client_assertion_type": {clientAssertionType},
			"client_assertion":      {a},
		},
	}
	tok, err := cc.Token(context.WithValue(ctx, oauth2.HTTPClient, s.hc))
	if err != nil {
		return nil, fmt.Errorf("request client credentials token: %w", classifyTokenErr(ctx, s.account, err))
	}
	return normalize(tok, s.now()), nil
}

// signerMethod is a jwt.SigningMethod over any crypto.Signer, for the
// algorithms NetSuite accepts for client assertions.
type signerMethod struct {
	alg    string
	hash   crypto.Hash
	pss    bool
	ecSize int // bytes per coordinate for ES*
}

func (m *signerMethod) Alg() string { return m.alg }

func (m *signerMethod) Verify(string, []byte, any) error {
	return errors.New("netsuite: signerMethod only signs")
}

func (m *signerMethod) Sign(signingString string, key any) ([]byte, error) {
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: key is not a crypto.Signer", ErrInvalidConfig)
	}
	h := m.hash.New()
	h.Write([]byte(signingString))
	digest := h.Sum(nil)
	var opts crypto.SignerOpts = m.hash
	if m.pss {
		opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: m.hash}
	}
	sig, err := signer.Sign(rand.Reader, digest, opts)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	if m.ecSize == 0 {
		return sig, nil
	}
	// crypto.Signer gives ASN.1 DER for ECDSA; JWS wants R||S, fixed size.
	var rs struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(sig, &rs); err != nil {
		return nil, fmt.Errorf("decode ecdsa signature: %w", err)
	}
	out := make([]byte, 2*m.ecSize)
	rs.R.FillBytes(out[:m.ecSize])
	rs.S.FillBytes(out[m.ecSize:])
	return out, nil
}

var (
	methodPS256 = &signerMethod{alg: "PS256", hash: crypto.SHA256, pss: true}
	methodPS384 = &signerMethod{alg: "PS384", hash: crypto.SHA384, pss: true}
	methodPS512 = &signerMethod{alg: "PS512", hash: crypto.SHA512, pss: true}
	methodES256 = &signerMethod{alg: "ES256", hash: crypto.SHA256, ecSize: 32}
	methodES384 = &signerMethod{alg: "ES384", hash: crypto.SHA384, ecSize: 48}
	methodES512 = &signerMethod{alg: "ES512", hash: crypto.SHA512, ecSize: 66}
)

// methodFor picks the algorithm for a public key, honouring override.
func methodFor(pub crypto.PublicKey, override string) (*signerMethod, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("%w: RSA key of %d bits is too small (NetSuite wants 3072 or 4096)", ErrInvalidConfig, k.N.BitLen())
		}
		switch override {
		case "", "PS256":
			return methodPS256, nil
		case "PS384":
			return methodPS384, nil
		case "PS512":
			return methodPS512, nil
		}
		return nil, fmt.Errorf("%w: algorithm %q does not fit an RSA key (PS256, PS384, PS512)", ErrInvalidConfig, override)
	case *ecdsa.PublicKey:
		var m *signerMethod
		switch k.Curve {
		case elliptic.P256():
			m = methodES256
		case elliptic.P384():
			m = methodES384
		case elliptic.P521():
			m = methodES512
		default:
			return nil, fmt.Errorf("%w: EC curve %s is not supported (P-256, P-384, P-521)", ErrInvalidConfig, k.Curve.Params().Name)
		}
		if override != "" && override != m.alg {
			return nil, fmt.Errorf("%w: algorithm %q does not fit a %s key (%s)", ErrInvalidConfig, override, k.Curve.Params().Name, m.alg)
		}
		return m, nil
	default:
		return nil, fmt.Errorf("%w: private key type %T is not supported (RSA or EC)", ErrInvalidConfig, pub)
	}
}

// ParsePrivateKeyPEM parses the first private key in PEM data: PKCS#1
// ("RSA PRIVATE KEY"), PKCS#8 ("PRIVATE KEY") or SEC1 ("EC PRIVATE KEY").
// Other blocks (certificates, EC parameters) are skipped. Encrypted keys are
// not supported. Errors never include key material.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, fmt.Errorf("parse private key: %w: no private key PEM block found", ErrInvalidConfig)
		}
		if _, encrypted := block.Headers["DEK-Info"]; encrypted || block.Type == "ENCRYPTED PRIVATE KEY" {
			return nil, fmt.Errorf("parse private key: %w: encrypted keys are not supported; decrypt it first (openssl pkey)", ErrInvalidConfig)
		}
		switch block.Type {
		case "RSA PRIVATE KEY":
			k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse PKCS#1 private key: %w", ErrInvalidConfig)
			}
			return k, nil
		case "EC PRIVATE KEY":
			k, err := x509.ParseECPrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse SEC1 private key: %w", ErrInvalidConfig)
			}
			return k, nil
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse PKCS#8 private key: %w", ErrInvalidConfig)
			}
			signer, ok := k.(crypto.Signer)
			if !ok {
				return nil, fmt.Errorf("parse PKCS#8 private key: %w: key type %T cannot sign", ErrInvalidConfig, k)
			}
			switch signer.(type) {
			case *rsa.PrivateKey, *ecdsa.PrivateKey:
				return signer, nil
			}
			return nil, fmt.Errorf("parse PKCS#8 private key: %w: key type %T is not RSA or EC", ErrInvalidConfig, k)
		}
	}
}
