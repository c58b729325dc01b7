package netsuite

import (
	"fmt"
	"strings"
)

// Paths of the NetSuite endpoints the client uses, relative to the base URL.
const (
	pathSuiteQL = "/services/rest/query/v1/suiteql"
	pathRecord  = "/services/rest/record/v1/"
	pathToken   = "/services/rest/auth/oauth2/v1/token"
	pathAuthz   = "/app/login/oauth2/authorize.nl"
)

// SystemAuthorizeURL is the account-independent authorize endpoint. Login uses
// it when neither AccountID nor AuthorizeURL is configured, and learns the
// account from the company parameter of the redirect.
const SystemAuthorizeURL = "https://system.netsuite.com" + pathAuthz

// HostID turns an account ID into the form NetSuite uses in host names:
// lower case, with "_" replaced by "-" ("1234567_SB1" becomes "1234567-sb1").
func HostID(accountID string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(accountID)), "_", "-")
}

// DefaultBaseURL is the REST (record API, SuiteQL, OAuth token) host of the
// account: "https://<hostid>.suitetalk.api.netsuite.com".
func DefaultBaseURL(accountID string) string {
	return "https://" + HostID(accountID) + ".suitetalk.api.netsuite.com"
}

// DefaultTokenURL is the OAuth 2.0 token endpoint of the account.
func DefaultTokenURL(accountID string) string {
	return DefaultBaseURL(accountID) + pathToken
}

// DefaultAuthorizeURL is the OAuth 2.0 authorize endpoint (UI host) of the
// account.
func DefaultAuthorizeURL(accountID string) string {
	return "https://" + HostID(accountID) + ".app.netsuite.com" + pathAuthz
}

// ValidateAccountID reports whether accountID looks like a NetSuite account ID
// ("1234567", "1234567_SB1", "TSTDRV1234567"): letters, digits, "_" and "-".
// The rule keeps the ID safe to use in host names, NATS KV keys and metric
// labels.
func ValidateAccountID(accountID string) error {
	if accountID == "" {
		return fmt.Errorf("%w: account id is empty", ErrInvalidConfig)
	}
	if len(accountID) > 64 {
		return fmt.Errorf("%w: account id is longer than 64 characters", ErrInvalidConfig)
	}
	for _, r := range accountID {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
		default:
			return fmt.Errorf("%w: account id %q has characters other than letters, digits, '_' and '-'", ErrInvalidConfig, accountID)
		}
	}
	return nil
}
