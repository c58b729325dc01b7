package main

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsflow/nsflow/pkg/broker"
	"github.com/nsflow/nsflow/pkg/config"
	"github.com/nsflow/nsflow/pkg/natsembed"
	"github.com/nsflow/nsflow/pkg/netsuite"
	"github.com/nsflow/nsflow/pkg/sandbox"
)

// closedPort returns an address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// TestCheckAllGood: a working account, NATS with the topology provisioned,
// and a SQLite sink: every check passes and the exit code is 0.
func TestCheckAllGood(t *testing.T) {
	t.Parallel()
	a := startSandbox(t, sandbox.Config{})
	srv, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir(), Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	nc, err := srv.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := broker.JetStream(nc, broker.NATSConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := broker.Provision(context.Background(), js, broker.DefaultTopology()); err != nil {
		t.Fatal(err)
	}
	env := a.environ("NETSUITE_REFRESH_TOKEN="+a.sb.RefreshToken(), "NATS_URL="+srv.ClientURL(),
		"NSFLOW_SINK=sqlite:"+filepath.Join(t.TempDir(), "events.db"))
	out, err := runCLI(t, env, "check")
	if err != nil {
		t.Fatalf("check: %v\n%s", err, out)
	}
	for _, want := range []string{"token endpoint", "suiteql", " rest ", "time zone", "deletedrecord", "attendees", "nats topology", "sink sqlite", "all checks passed"} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "FAIL") || strings.Contains(out, a.sb.RefreshToken()) {
		t.Fatalf("check output:\n%s", out)
	}
}

// TestCheckDiagnoses runs check against broken setups and holds it to
// naming the problem and the fix, with a failing exit code.
func TestCheckDiagnoses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(t *testing.T, a testAccount) []string // environment overrides
		want  []string
	}{
		{
			name: "wrong client secret",
			setup: func(t *testing.T, a testAccount) []string {
				return []string{"NETSUITE_REFRESH_TOKEN=" + a.sb.RefreshToken(), "NETSUITE_CLIENT_SECRET=not-the-secret"}
			},
			want: []string{"FAIL", "token endpoint", "invalid_client", "NETSUITE_CLIENT_SECRET", "Manage Integrations"},
		},
		{
			name: "expired or revoked refresh token",
			setup: func(t *testing.T, a testAccount) []string {
				rt := a.sb.RefreshToken()
				a.sb.RevokeRefreshTokens()
				return []string{"NETSUITE_REFRESH_TOKEN=" + rt}
			},
			want: []string{"FAIL", "invalid_grant", "nsflow auth login --account " + sandbox.DefaultAccount},
		},
		{
			name: "role without permission",
			setup: func(t *testing.T, a testAccount) []string {
				a.sb.SetFaults(sandbox.Faults{DenyPermission: true})
				return []string{"NETSUITE_REFRESH_TOKEN=" + a.sb.RefreshToken()}
			},
			want: []string{"ok    netsuite " + sandbox.DefaultAccount + " token endpoint", "FAIL", "INSUFFICIENT_PERMISSION", "REST Web Services", "SuiteAnalytics Workbook", "Lists > Events"},
		},
		{
			name: "nothing listens at the account host",
			setup: func(t *testing.T, a testAccount) []string {
				dead := "http://" + closedPort(t)
				return []string{"NETSUITE_REFRESH_TOKEN=" + a.sb.RefreshToken(), "NETSUITE_BASE_URL=" + dead, "NETSUITE_TOKEN_URL=" + dead + "/services/rest/auth/oauth2/v1/token"}
			},
			want: []string{"FAIL", "connection refused", "NETSUITE_BASE_URL"},
		},
		{
			name: "host without NetSuite (404)",
			setup: func(t *testing.T, a testAccount) []string {
				return []string{"NETSUITE_REFRESH_TOKEN=" + a.sb.RefreshToken(), "NETSUITE_TOKEN_URL=" + a.base + "/not/netsuite/token"}
			},
			want: []string{"FAIL", "404", "NETSUITE_ACCOUNT_ID", "_SB1"},
		},
		{
			name: "account host does not resolve",
			setup: func(t *testing.T, a testAccount) []string {
				bad := "http://nsflow-check-test.invalid"
				return []string{"NETSUITE_REFRESH_TOKEN=" + a.sb.RefreshToken(), "NETSUITE_BASE_URL=" + bad, "NETSUITE_TOKEN_URL=" + bad + "/services/rest/auth/oauth2/v1/token"}
			},
			want: []string{"FAIL", "does not resolve", "Company Information"},
		},
		{
			name: "wrong time zone",
			setup: func(t *testing.T, a testAccount) []string {
				return []string{"NETSUITE_REFRESH_TOKEN=" + a.sb.RefreshToken(), "NETSUITE_TIME_ZONE=Europe/Berlin"}
			},
			want: []string{"FAIL", "time zone", "NETSUITE_TIME_ZONE=Europe/Berlin", "Set Preferences"},
		},
		{
			name:  "no refresh token anywhere",
			setup: func(t *testing.T, a testAccount) []string { return nil },
			want:  []string{"FAIL", "no refresh token", "nsflow auth login --account " + sandbox.DefaultAccount},
		},
		{
			name: "NATS unreachable and sink unreachable",
			setup: func(t *testing.T, a testAccount) []string {
				return []string{"NETSUITE_REFRESH_TOKEN=" + a.sb.RefreshToken(), "NATS_URL=nats://" + closedPort(t), "NATS_CONNECT_TIMEOUT=2s",
					"NSFLOW_SINK=postgres://nsflow:secret@" + closedPort(t) + "/nsflow?connect_timeout=2"}
			},
			want: []string{"FAIL  nats", "NATS_URL", "FAIL  sink postgres", "NSFLOW_SINK"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := startSandbox(t, sandbox.Config{})
			env := a.environ(tt.setup(t, a)...)
			args := []string{"check", "--skip", "nats,sink", "--timeout", "10s"}
			if strings.HasPrefix(tt.name, "NATS") {
				args = []string{"check", "--skip", "netsuite", "--timeout", "10s"}
			}
			out, err := runCLI(t, env, args...)
			if !errors.Is(err, errChecksFailed) {
				t.Fatalf("check returned %v, want a failure\n%s", err, out)
			}
			for _, want := range tt.want {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, a.sb.RefreshToken()) || strings.Contains(out, "not-the-secret") || strings.Contains(out, "nsflow:secret") {
				t.Errorf("check printed a secret:\n%s", out)
			}
		})
	}
}

// TestDiagnoseAPI covers answers the sandbox cannot give: a 401 with a
// token the token endpoint just issued (a role without REST Web Services),
// and a table the role cannot see.
func TestDiagnoseAPI(t *testing.T) {
	t.Parallel()
	ns := config.NetSuite{AccountID: "1234567", AuthMode: "refresh_token"}
	tests := []struct {
		err  error
		want []string
	}{
		{&netsuite.Error{StatusCode: 401, Details: []netsuite.ErrorDetail{{Code: "INVALID_LOGIN", Detail: "Invalid login attempt."}}},
			[]string{"refuses it here", "INVALID_LOGIN", "REST Web Services", "Log in using OAuth 2.0 Access Tokens"}},
		{&netsuite.Error{StatusCode: 400, Details: []netsuite.ErrorDetail{{Code: "INVALID_PARAMETER", Detail: "Invalid search query. Search error occurred: Record 'calendarevent' was not found."}}},
			[]string{"cannot see the table", "SuiteAnalytics Workbook", "Lists > Events"}},
		{&netsuite.Error{StatusCode: 429, Details: []netsuite.ErrorDetail{{Code: "CONCURRENCY_LIMIT_EXCEEDED"}}},
			[]string{"concurrency", "NETSUITE_CONCURRENCY", "Integration Governance"}},
		{&netsuite.Error{StatusCode: 503, Body: "maintenance"},
			[]string{"failed for now", "try again"}},
	}
	for _, tt := range tests {
		detail, fix := diagnoseAPI(tt.err, ns, "https://1234567.suitetalk.api.netsuite.com", "SuiteQL")
		got := detail + " / " + fix
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("diagnoseAPI(%v) = %q, lacks %q", tt.err, got, w)
			}
		}
	}
	m2m := config.NetSuite{AccountID: "1234567", AuthMode: "client_credentials"}
	detail, fix := diagnoseToken(&netsuite.TokenError{StatusCode: 400, Code: "invalid_grant"}, m2m, "https://x/token", "client assertion")
	if !strings.Contains(detail, "assertion") || !strings.Contains(fix, "NETSUITE_CERTIFICATE_ID") || !strings.Contains(fix, "M2M") {
		t.Errorf("M2M invalid_grant: %q / %q", detail, fix)
	}
	detail, fix = diagnoseToken(&netsuite.TokenError{StatusCode: 400, Code: "unauthorized_client"}, ns, "https://x/token", "refresh token")
	if !strings.Contains(fix, "Authorization Code Grant") {
		t.Errorf("unauthorized_client: %q / %q", detail, fix)
	}
}

func TestCheckWithoutAccountWarns(t *testing.T) {
	t.Parallel()
	out, err := runCLI(t, []string{"NSFLOW_SINK=sqlite:" + filepath.Join(t.TempDir(), "e.db")}, "check", "--skip", "nats")
	if err != nil || !strings.Contains(out, "WARN  netsuite") || !strings.Contains(out, "sandbox") {
		t.Fatalf("check without an account: %v\n%s", err, out)
	}
}
