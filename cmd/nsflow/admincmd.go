package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/nsflow/nsflow/pkg/admin"
	"github.com/nsflow/nsflow/pkg/broker"
	"github.com/nsflow/nsflow/pkg/config"
	"github.com/nsflow/nsflow/pkg/extractor"
)

// connectJS connects to NATS_URL with the environment's NATS settings.
func connectJS(ctx context.Context, environ []string, stderr io.Writer) (*nats.Conn, jetstream.JetStream, config.Common, error) {
	var cfg config.Transformer
	if err := config.Load(environ, &cfg); err != nil {
		return nil, nil, cfg.Common, err
	}
	nc, err := broker.Connect(ctx, cfg.NATS, newLogger(stderr, "error"))
	if err != nil {
		return nil, nil, cfg.Common, err
	}
	js, err := broker.JetStream(nc, cfg.NATS)
	if err != nil {
		nc.Close()
		return nil, nil, cfg.Common, err
	}
	return nc, js, cfg.Common, nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newDLQCmd(environ []string, stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "dlq", Short: "List, show and redrive dead letters (stream DLQ)"}
	var (
		stage   string
		limit   int
		asJSON  bool
		payload bool
		all     bool
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List dead letters: sequence, stage, error class, record id, reason",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			nc, js, _, err := connectJS(cmd.Context(), environ, stderr)
			if err != nil {
				return err
			}
			defer nc.Close()
			dls, err := admin.ListDeadLetters(cmd.Context(), js, stage, limit)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(stdout, dls)
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SEQ\tSTAGE\tCLASS\tACCOUNT\tRECORD\tAT\tREASON")
			for _, d := range dls {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Sequence, d.Stage, d.Class, d.Account, d.RecordID, d.At.Format(time.RFC3339), truncate(d.Reason, 120))
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&stage, "stage", "", "only this stage (transformer, loader)")
	list.Flags().IntVar(&limit, "limit", 100, "at most this many (0 = all)")
	list.Flags().BoolVar(&asJSON, "json", false, "JSON output")

	show := &cobra.Command{
		Use:   "show SEQ",
		Short: "Show one dead letter's headers (and its payload with --payload: it may hold PII)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			seq, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil {
				return fmt.Errorf("SEQ %q: want a DLQ stream sequence number from `nsflow dlq list`", args[0])
			}
			nc, js, _, err := connectJS(cmd.Context(), environ, stderr)
			if err != nil {
				return err
			}
			defer nc.Close()
			d, h, data, err := admin.ShowDeadLetter(cmd.Context(), js, seq)
			if err != nil {
				return err
			}
			out := map[string]any{"dead_letter": d, "headers": h}
			if payload {
				out["payload"] = json.RawMessage(data)
				if !json.Valid(data) {
					out["payload"] = string(data)
				}
			}
			return printJSON(stdout, out)
		},
	}
	show.Flags().BoolVar(&payload, "payload", false, "include the payload")

	redrive := &cobra.Command{
		Use:   "redrive [SEQ...]",
		Short: "Republish dead letters to their original subject (after fixing the cause) and remove them from the DLQ",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && !all {
				return fmt.Errorf("name the sequences to redrive, or --all (with --stage to narrow it)")
			}
			nc, js, _, err := connectJS(cmd.Context(), environ, stderr)
			if err != nil {
				return err
			}
			defer nc.Close()
			var seqs []uint64
			for _, a := range args {
				s, err := strconv.ParseUint(a, 10, 64)
				if err != nil {
					return fmt.Errorf("SEQ %q: not a sequence number", a)
				}
				seqs = append(seqs, s)
			}
			if all {
				dls, err := admin.ListDeadLetters(cmd.Context(), js, stage, 0)
				if err != nil {
					return err
				}
				for _, d := range dls {
					seqs = append(seqs, d.Sequence)
				}
			}
			for _, s := range seqs {
				subj, err := admin.Redrive(cmd.Context(), js, s)
				if err != nil {
					return err
				}
				fmt.Fprintf(stdout, "redrove %d to %s\n", s, subj)
			}
			return nil
		},
	}
	redrive.Flags().BoolVar(&all, "all", false, "redrive every dead letter (of --stage)")
	redrive.Flags().StringVar(&stage, "stage", "", "with --all: only this stage")
	cmd.AddCommand(list, show, redrive)
	return cmd
}

func newReplayCmd(environ []string, stdout, stderr io.Writer) *cobra.Command {
	var (
		stage, sinkName string
		since           string
		fromSeq         uint64
	)
	cmd := &cobra.Command{
		Use:   "replay",
		Short: "Make a stage re-read its input stream from a time or sequence (no NetSuite calls)",
		Long: `Replay re-creates the durable consumer of a stage with a new start, so the
stage re-reads its input stream when it is (re)started: the loader from EVENTS
(back-fill a new or emptied sink, or repair one), the transformer from
NETSUITE_RAW (re-map raw records after a mapping fix). Stop the stage first.
Sinks are idempotent, so replaying what is already loaded changes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			stream, consumer, err := admin.ReplayTarget(stage, sinkName)
			if err != nil {
				return err
			}
			var t time.Time
			if since != "" {
				if t, err = time.Parse(time.RFC3339, since); err != nil {
					if d, derr := time.ParseDuration(since); derr == nil {
						t, err = time.Now().Add(-d), nil
					} else {
						return fmt.Errorf("--since %q: want RFC 3339 (2024-01-31T00:00:00Z) or a duration ago (24h)", since)
					}
				}
			}
			nc, js, _, err := connectJS(cmd.Context(), environ, stderr)
			if err != nil {
				return err
			}
			defer nc.Close()
			if err := admin.Replay(cmd.Context(), js, stream, consumer, t, fromSeq); err != nil {
				return err
			}
			from := fmt.Sprintf("sequence %d", fromSeq)
			if !t.IsZero() {
				from = t.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(stdout, "consumer %s on %s now starts at %s; start the %s to replay\n", consumer, stream, from, stage)
			return nil
		},
	}
	cmd.Flags().StringVar(&stage, "stage", "loader", "stage to replay into: loader or transformer")
	cmd.Flags().StringVar(&sinkName, "sink", "sqlite", "with --stage loader: the sink name (sqlite, postgres, jsonl, aep)")
	cmd.Flags().StringVar(&since, "since", "", "start time (RFC 3339) or a duration ago (e.g. 72h)")
	cmd.Flags().Uint64Var(&fromSeq, "from-seq", 0, "start stream sequence")
	return cmd
}

func newStatusCmd(environ []string, stdout, stderr io.Writer) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Streams, consumer lag per stage, extractor cursors",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			nc, js, common, err := connectJS(cmd.Context(), environ, stderr)
			if err != nil {
				return err
			}
			defer nc.Close()
			st, err := admin.ReadStatus(cmd.Context(), js, common.Topology.StateBucket)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(stdout, st)
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "STREAM\tMESSAGES\tBYTES\tFIRST\tLAST")
			for _, s := range st.Streams {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", s.Name, s.Messages, s.Bytes, s.FirstSeq, s.LastSeq)
			}
			fmt.Fprintln(tw, "\nCONSUMER\tSTREAM\tLAG\tIN FLIGHT\tREDELIVERED\tACKED TO\tLAST ACTIVE")
			for _, c := range st.Consumers {
				last := "-"
				if !c.LastActive.IsZero() {
					last = time.Since(c.LastActive).Round(time.Second).String() + " ago"
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\n", c.Name, c.Stream, c.Pending, c.AckPending, c.Redelivered, c.AckFloor, last)
			}
			fmt.Fprintln(tw, "\nCURSOR\tLAST MODIFIED\tID\tSAVED")
			for _, c := range st.Cursors {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", c.Key, c.LastModified.Format(time.RFC3339), c.ID, c.UpdatedAt.Format(time.RFC3339))
			}
			if len(st.Backfills) > 0 {
				fmt.Fprintln(tw, "\nBACKFILL\tSINCE\tEND\tWINDOWS READ\tSTATE\tSTARTED")
				for _, b := range st.Backfills {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", b.Account, backfillSince(b), b.End.Format(time.RFC3339),
						backfillWindows(b), backfillState(b), b.CreatedAt.Format(time.RFC3339))
				}
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "JSON output")
	return cmd
}

func backfillSince(b extractor.BackfillRecord) string {
	if b.Since.IsZero() {
		return "the first event"
	}
	return b.Since.Format(time.RFC3339)
}

func backfillWindows(b extractor.BackfillRecord) string {
	switch {
	case b.Done:
		return "all"
	case b.Planned:
		return fmt.Sprintf("%d of %d", b.WindowsDone, b.Windows)
	default:
		return fmt.Sprintf("%d of %d planned so far", b.WindowsDone, b.Windows)
	}
}

func backfillState(b extractor.BackfillRecord) string {
	if b.Done {
		return "done"
	}
	return "running or stopped (resumes at the next pass)"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
