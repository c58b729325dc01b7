// Package tokencache shares the current NetSuite OAuth 2.0 access token
// between extractor replicas through NATS JetStream KV, so that one replica
// refreshes it and the others reuse it instead of refreshing in a storm.
//
// Store implements netsuite.TokenStore on a bucket the caller provisions
// (for example netsuite_state, history 1) with two keys per account:
//
//   - token.<hostid>: the token as JSON (access token, token type, expiry,
//     and the refresh token when the source has one);
//   - token-lock.<hostid>: the refresh lock, {"holder", "expires"}.
//
// where <hostid> is netsuite.HostID(account) ("1234567_SB1" becomes
// "1234567-sb1").
//
// # Secrets
//
// The token value holds the access token and, for authorization-code
// credentials, the refresh token: both are bearer secrets. Only the
// extractor's NATS user may read or write this bucket; grant no other
// user (transformer, loader, dashboards) access to $KV.<bucket>.token.> and
// use TLS on the NATS connection outside a single host. The package never
// logs token values and its errors never contain them.
//
// # Lock protocol
//
// Lock creates token-lock.<hostid> with kv.Create, which succeeds only if
// the key is absent (or deleted). If it exists and its recorded expiry has
// passed (a replica crashed while refreshing), it is taken over with
// kv.Update on the revision that was read, so of two replicas that find
// the same stale lock only one wins. Otherwise Lock returns
// netsuite.ErrLocked. unlock deletes the key only at the revision this
// holder wrote, so a holder whose lease lapsed and was taken over cannot
// delete the new holder's lock. Expiries come from the holder's clock:
// replicas' clocks must agree to well within the lock TTL.
package tokencache
