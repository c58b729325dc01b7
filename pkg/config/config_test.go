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
	if err == nil || !strings.Contains(err.Error(), "NETSUITE_CLIENT_SECRET") || !strings.Contains(err.Error(), "NETSUITE_REFRESH_TOKEN") {
		t.Fatalf("err = %v, want the missing variables named", err)
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
