package netsuite_test

import (
	"context"
	"fmt"
	"github.com/nsflow/nsflow/pkg/natsembed/natstest"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/oauth2"

	"github.com/nsflow/nsflow/pkg/netsuite"
	"github.com/nsflow/nsflow/pkg/tokencache"
)

// TestSharedKVStoreOneRefresh: five replicas, each with its own NATS
// connection and token source, share the token through JetStream KV. Many
// concurrent Token calls cause exactly one refresh at NetSuite; later, when
// the token is rejected (401), one replica refreshes and the others pick the
// new token up from the store.
func TestSharedKVStoreOneRefresh(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	ep := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if _, _, ok := r.BasicAuth(); !ok || r.PostFormValue("grant_type") != "refresh_token" {
			http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"shared-access-%d","expires_in":"3600","token_type":"bearer"}`, n)
	}))
	t.Cleanup(ep.Close)

	url := startJetStream(t)
	var srcs []*netsuite.RefreshTokenSource
	for range 5 {
		kv := kvBucket(t, url, "netsuite_state")
		src, err := netsuite.NewRefreshTokenSource(netsuite.RefreshConfig{
			AccountID: "1234567_SB1", ClientID: "cid", ClientSecret: "csecret", RefreshToken: "rt",
			TokenURL: ep.URL + "/services/rest/auth/oauth2/v1/token",
			Store:    tokencache.New(kv, "1234567_SB1"),
		})
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, src)
	}

	tokens := func() []string {
		var wg sync.WaitGroup
		out := make([]string, 20)
		for i := range out {
			wg.Go(func() {
				tok, err := srcs[i%len(srcs)].Token(context.WithoutCancel(t.Context()))
				if err != nil {
					t.Errorf("caller %d: %v", i, err)
					return
				}
				out[i] = tok.AccessToken
			})
		}
		wg.Wait()
		return out
	}
	for i, got := range tokens() {
		if got != "shared-access-1" {
			t.Errorf("caller %d got %q", i, got)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("token endpoint calls = %d, want exactly 1", n)
	}

	// NetSuite rejects the token: every replica reports it.
	for _, s := range srcs {
		s.Invalidate(t.Context(), &oauth2.Token{AccessToken: "shared-access-1"})
	}
	for i, got := range tokens() {
		if got != "shared-access-2" {
			t.Errorf("after invalidation caller %d got %q", i, got)
		}
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("token endpoint calls = %d, want 2 (one refresh per rejection)", n)
	}
}

func startJetStream(t *testing.T) string { return natstest.Start(t).ClientURL() }

func kvBucket(t *testing.T, url, name string) jetstream.KeyValue {
	_, kv := natstest.Bucket(t, url, name)
	return kv
}
