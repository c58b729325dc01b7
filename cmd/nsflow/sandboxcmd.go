package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/nsflow/nsflow/pkg/netsuite"
	"github.com/nsflow/nsflow/pkg/sandbox"
)

func newSandboxCmd(_ []string, stdout, stderr io.Writer) *cobra.Command {
	var (
		cfg      sandbox.Config
		addr     string
		logLevel string
	)
	cmd := &cobra.Command{
		Use:   "sandbox",
		Short: "Serve the local NetSuite sandbox (OAuth 2.0, REST record API, SuiteQL)",
		Long: `Sandbox serves a faithful local NetSuite on --addr: OAuth 2.0 (authorize, token,
revoke), the REST record API for calendarevent, SuiteQL, governance errors, and a
control API under /sandbox/v1/ for tests. Point the services at it with
NETSUITE_BASE_URL and NETSUITE_TOKEN_URL, and the printed client id, secret and
refresh token.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Logger = newLogger(stderr, logLevel)
			sb, err := sandbox.New(cfg)
			if err != nil {
				return err
			}
			c := sb.Config()
			base := "http://" + addr
			fmt.Fprintf(stdout, "NetSuite sandbox for account %s with %d events on %s\n", c.Account, c.Events, base)
			fmt.Fprintf(stdout, "NETSUITE_ACCOUNT_ID=%s\nNETSUITE_CLIENT_ID=%s\nNETSUITE_CLIENT_SECRET=%s\nNETSUITE_REFRESH_TOKEN=%s\n",
				c.Account, c.ClientID, c.ClientSecret, sb.RefreshToken())
			fmt.Fprintf(stdout, "NETSUITE_BASE_URL=%s\nNETSUITE_TOKEN_URL=%s/services/rest/auth/oauth2/v1/token\nNETSUITE_TIME_ZONE=%s\n", base, base, c.TimeZone)
			fmt.Fprintf(stdout, "(the real token URL would be %s)\n", netsuite.DefaultTokenURL(c.Account))
			return sb.ListenAndServe(cmd.Context(), addr)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "listen address")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "log level")
	sandbox.BindFlags(cmd.Flags(), &cfg)
	return cmd
}
