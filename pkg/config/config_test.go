package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	var c Loader
	if err := Load(nil, &c); err != nil {
		t.Fatal(err)
	}
	if c.Sink != "sqlite:./data/events.db" || c.BatchSize != 1000 || c.NATS.URL != "nats://127.0.0.1:4222" ||
		c.Topology.Consumer.AckWait != 2*time.Minute || !c.Provision {
		t.Fatalf("defaults not applied: %+v", c)
	}
}

func TestLoadRejectsNegativeBackfillSettings(t *testing.T) {
	t.Parallel()
	base := []string{"NETSUITE_ACCOUNT_ID=123", "NETSUITE_CLIENT_ID=c", "NETSUITE_CLIENT_SECRET=s"}
	for _, v := range []string{"NSFLOW_BACKFILL_WINDOW_ROWS", "NSFLOW_BACKFILL_READERS"} {
		var c Extractor
		err := Load(append(base, v+"=-1"), &c)
		if err == nil || !strings.Contains(err.Error(), v) {
			t.Errorf("%s=-1: err = %v, want it named", v, err)
		}
	}
	var c Extractor
	if err := Load(append(base, "NSFLOW_BACKFILL_READERS=12"), &c); err != nil || c.BackfillReaders != 12 {
		t.Fatalf("NSFLOW_BACKFILL_READERS=12: %v, readers %d", err, c.BackfillReaders)
	}
}

func TestLoadRejectsUnknownVariable(t *testing.T) {
	t.Parallel()
	var c Transformer
	err := Load([]string{"NSFLOW_BATCH_SIZ=10", "HOME=/root"}, &c)
	if err == nil || !strings.Contains(err.Error(), "NSFLOW_BATCH_SIZ") {
		t.Fatalf("err = %v, want it to name NSFLOW_BATCH_SIZ", err)
	}
}

func TestLoadAcceptsOtherServicesVariables(t *testing.T) {
	t.Parallel()
	var c Transformer
	// A shared .env holds the loader's and extractor's settings too.
	if err := Load([]string{"NSFLOW_SINK=jsonl:-", "NETSUITE_ACCOUNT_ID=123", "NSFLOW_RAW_MAX_AGE=48h"}, &c); err != nil {
		t.Fatal(err)
	}
	if c.Topology.Raw.MaxAge != 48*time.Hour {
		t.Fatalf("NSFLOW_RAW_MAX_AGE not applied: %v", c.Topology.Raw.MaxAge)
	}
}

func TestLoadNamesMissingNetSuiteSettings(t *testing.T) {
	t.Parallel()
	var c Extractor
	err := Load([]string{"NETSUITE_ACCOUNT_ID=123"}, &c)
	if err == nil || !strings.Contains(err.Error(), "NETSUITE_CLIENT_ID") || !strings.Contains(err.Error(), "NETSUITE_CLIENT_SECRET") {
		t.Fatalf("err = %v, want the missing variables named", err)
	}
	// The refresh token may come from a credentials file or the NATS token
	// cache, so it is not required.
	if err := Load([]string{"NETSUITE_ACCOUNT_ID=123", "NETSUITE_CLIENT_ID=c", "NETSUITE_CLIENT_SECRET=s"}, &c); err != nil {
		t.Fatalf("refresh-token account without NETSUITE_REFRESH_TOKEN: %v", err)
	}
	err = Load([]string{"NETSUITE_ACCOUNT_ID=123", "NETSUITE_AUTH_MODE=client_credentials", "NETSUITE_CLIENT_ID=c"}, &c)
	if err == nil || !strings.Contains(err.Error(), "NETSUITE_CERTIFICATE_ID") || !strings.Contains(err.Error(), "NETSUITE_PRIVATE_KEY") {
		t.Fatalf("M2M: err = %v, want the certificate and key named", err)
	}
}

func TestLoadSeveralAccounts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("sb-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"NETSUITE_ACCOUNTS=1234567, 1234567_SB1,TSTDRV7",
		"NETSUITE_CLIENT_ID=shared-client", "NETSUITE_CLIENT_SECRET=shared-secret", "NETSUITE_TIME_ZONE=Europe/Berlin",
		"NETSUITE_REFRESH_TOKEN=never-shared",
		"NETSUITE_1234567_REFRESH_TOKEN=rt-prod", "NETSUITE_1234567_CONCURRENCY=8",
		"NETSUITE_1234567_SB1_CLIENT_ID=sb-client", "NETSUITE_1234567_SB1_CLIENT_SECRET_FILE=" + secret,
		"NETSUITE_1234567_SB1_BASE_URL=http://127.0.0.1:8080", "NETSUITE_1234567_SB1_CREDENTIALS_FILE=/run/sb1.json",
		"NETSUITE_TSTDRV7_AUTH_MODE=client_credentials", "NETSUITE_TSTDRV7_CERTIFICATE_ID=cert-1", "NETSUITE_TSTDRV7_PRIVATE_KEY=pem",
	}
	var c Extractor
	if err := Load(env, &c); err != nil {
		t.Fatal(err)
	}
	accts := c.NetSuiteAccounts()
	if len(accts) != 3 {
		t.Fatalf("%d accounts: %+v", len(accts), accts)
	}
	prod, sb, m2m := accts[0], accts[1], accts[2]
	if prod.AccountID != "1234567" || prod.ClientID != "shared-client" || prod.RefreshToken != "rt-prod" || prod.Concurrency != 8 ||
		prod.TimeZone != "Europe/Berlin" || prod.BaseURL != "" {
		t.Errorf("account 1234567: %+v", prod)
	}
	if sb.AccountID != "1234567_SB1" || sb.ClientID != "sb-client" || sb.ClientSecret != "sb-secret" || sb.RefreshToken != "" ||
		sb.BaseURL != "http://127.0.0.1:8080" || sb.CredentialsFile != "/run/sb1.json" || sb.Concurrency != 4 {
		t.Errorf("account 1234567_SB1 (per-account settings, shared defaults, a token that never falls back): %+v", sb)
	}
	if m2m.AuthMode != "client_credentials" || m2m.CertificateID != "cert-1" || m2m.ClientID != "shared-client" {
		t.Errorf("account TSTDRV7: %+v", m2m)
	}
	if got := sb.Var("CLIENT_ID"); got != "NETSUITE_1234567_SB1_CLIENT_ID" {
		t.Errorf("Var = %s", got)
	}
}

func TestLoadSeveralAccountsRejectsMistakes(t *testing.T) {
	t.Parallel()
	base := []string{"NETSUITE_ACCOUNTS=111,222", "NETSUITE_CLIENT_ID=c", "NETSUITE_CLIENT_SECRET=s"}
	tests := []struct {
		name string
		env  []string
		want string
	}{
		{"typo in a per-account setting", append(base, "NETSUITE_111_CLIENT_IDD=x"), "NETSUITE_111_CLIENT_IDD"},
		{"setting of an unlisted account", append(base, "NETSUITE_333_CLIENT_ID=x"), "NETSUITE_333_CLIENT_ID"},
		{"both forms", append(base, "NETSUITE_ACCOUNT_ID=111"), "both NETSUITE_ACCOUNT_ID and NETSUITE_ACCOUNTS"},
		{"duplicate", []string{"NETSUITE_ACCOUNTS=111,111", "NETSUITE_CLIENT_ID=c", "NETSUITE_CLIENT_SECRET=s"}, "twice"},
		{"missing per-account setting", append(base, "NETSUITE_222_AUTH_MODE=client_credentials"), "NETSUITE_222_CERTIFICATE_ID"},
		{"bad account id", []string{"NETSUITE_ACCOUNTS=12 34", "NETSUITE_CLIENT_ID=c", "NETSUITE_CLIENT_SECRET=s"}, "only letters"},
	}
	for _, tt := range tests {
		var c Extractor
		err := Load(tt.env, &c)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want it to mention %q", tt.name, err, tt.want)
		}
	}
}

func TestStandaloneWithSeveralAccountsUsesThem(t *testing.T) {
	t.Parallel()
	var c Standalone
	if err := Load([]string{"NETSUITE_ACCOUNTS=111", "NETSUITE_CLIENT_ID=c", "NETSUITE_CLIENT_SECRET=s"}, &c); err != nil {
		t.Fatal(err)
	}
	if c.UseSandbox() || len(c.NetSuiteAccounts()) != 1 {
		t.Fatalf("standalone with NETSUITE_ACCOUNTS uses the sandbox: %+v", c.Accounts)
	}
}

func TestLoadSecretFromFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "secret")
	if err := os.WriteFile(p, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"NETSUITE_ACCOUNT_ID=123", "NETSUITE_CLIENT_ID=c", "NETSUITE_CLIENT_SECRET_FILE=" + p, "NETSUITE_REFRESH_TOKEN=r"}
	var c Extractor
	if err := Load(env, &c); err != nil {
		t.Fatal(err)
	}
	if c.NetSuite.ClientSecret != "s3cret" {
		t.Fatalf("secret = %q", c.NetSuite.ClientSecret)
	}
	if err := Load(append(env, "NETSUITE_CLIENT_SECRET=x"), &c); err == nil {
		t.Fatal("both NAME and NAME_FILE accepted")
	}
}

func TestSecretsAreListed(t *testing.T) {
	t.Parallel()
	s := strings.Join(Secrets(), " ")
	for _, want := range []string{"NETSUITE_CLIENT_SECRET", "NETSUITE_REFRESH_TOKEN", "NETSUITE_ACCESS_TOKEN", "NETSUITE_PRIVATE_KEY", "NSFLOW_AEP_IMS_CLIENT_SECRET"} {
		if !strings.Contains(s, want) {
			t.Errorf("Secrets() lacks %s: %s", want, s)
		}
	}
}

// TestEnvExampleListsEveryVariable keeps .env.example, the documentation of
// every setting, in step with the code.
func TestEnvExampleListsEveryVariable(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for k := range Known() {
		if !strings.Contains(text, k+"=") {
			t.Errorf(".env.example does not list %s", k)
		}
	}
}
