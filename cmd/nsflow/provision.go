package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/nsflow/nsflow/pkg/broker"
	"github.com/nsflow/nsflow/pkg/config"
	"github.com/nsflow/nsflow/pkg/sink"
)

func newProvisionCmd(environ []string, stdout, stderr io.Writer) *cobra.Command {
	var sinks []string
	cmd := &cobra.Command{
		Use:   "provision",
		Short: "Create or update the streams, consumers and KV buckets on NATS_URL",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var cfg config.Transformer
			if err := config.Load(environ, &cfg); err != nil {
				return err
			}
			log := newLogger(stderr, cfg.LogLevel)
			nc, err := broker.Connect(cmd.Context(), cfg.NATS, log)
			if err != nil {
				return err
			}
			defer nc.Close()
			js, err := broker.JetStream(nc, cfg.NATS)
			if err != nil {
				return err
			}
			topo := cfg.Topology
			for _, s := range sinks {
				topo.Sinks = append(topo.Sinks, sink.Name(s))
			}
			if err := broker.Provision(cmd.Context(), js, topo); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "provisioned streams NETSUITE_RAW, EVENTS, DLQ; consumers transformer %v; buckets %s, %s\n",
				topo.Sinks, topo.StateBucket, topo.LeaseBucket)
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&sinks, "sink", []string{"sqlite:"}, "sink URL(s) to provision a loader consumer for")
	return cmd
}
