package sandbox_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/nsflow/nsflow/pkg/sandbox"
)

// Example starts a sandbox, trades its refresh token for an access token
// and runs a SuiteQL query.
func Example() {
	sb, err := sandbox.New(sandbox.Config{Events: 1000, Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	base, err := sb.Start("127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sb.Close()

	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {sb.RefreshToken()}}
	req, _ := http.NewRequest("POST", base+"/services/rest/auth/oauth2/v1/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(sb.Config().ClientID, sb.Config().ClientSecret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	token, _ := io.ReadAll(res.Body) // {"access_token":"…","expires_in":"3600","token_type":"bearer"}
	res.Body.Close()
	_ = token

	// POST base+"/services/rest/query/v1/suiteql?limit=1000" with
	// "Authorization: Bearer <access_token>", "Prefer: transient" and
	// {"q":"SELECT COUNT(*) AS n FROM calendarevent ce"}.
	fmt.Println(sb.LiveEventCount())
	// Output: 1000
}
