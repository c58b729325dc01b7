package config

import "fmt"

// Standalone configures `nsflow run`: every stage in one process with an
// embedded NATS server. Flags override these.
type Standalone struct {
	Extractor
	DataDir     string `env:"NSFLOW_DATA_DIR" envDefault:"./data"`
	Sink        string `env:"NSFLOW_SINK"`
	SinkDeletes string `env:"NSFLOW_SINK_DELETES" envDefault:"delete"`
	// SandboxEvents is the generated data set size when the sandbox is used.
	SandboxEvents int    `env:"NSFLOW_SANDBOX_EVENTS" envDefault:"10000"`
	SandboxSeed   int64  `env:"NSFLOW_SANDBOX_SEED" envDefault:"1"`
	NATSListen    string `env:"NSFLOW_NATS_LISTEN" envDefault:"127.0.0.1:-1"`
	// NATSSyncAlways fsyncs every JetStream write (survives power loss, much slower).
	NATSSyncAlways bool `env:"NSFLOW_NATS_SYNC_ALWAYS"`
}

// UseSandbox reports whether no real NetSuite account is configured.
func (c Standalone) UseSandbox() bool { return c.NetSuite.AccountID == "" && len(c.Accounts) == 0 }

// Validate checks the standalone settings.
func (c Standalone) Validate() error {
	if err := c.Common.Validate(); err != nil {
		return err
	}
	if !c.UseSandbox() {
		if err := c.validateAccounts(); err != nil {
			return err
		}
	}
	if c.SandboxEvents < 0 {
		return fmt.Errorf("NSFLOW_SANDBOX_EVENTS=%d: must not be negative", c.SandboxEvents)
	}
	if c.SinkDeletes != "delete" && c.SinkDeletes != "mark" {
		return fmt.Errorf("NSFLOW_SINK_DELETES=%q: want delete or mark", c.SinkDeletes)
	}
	return nil
}
