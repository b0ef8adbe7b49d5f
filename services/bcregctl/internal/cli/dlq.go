package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/services/bcregctl/internal/dlqops"
)

func init() { register(newDLQ) }

type dlqConfig struct {
	config.NATS
	config.EventDB
	bus.Backoff
}

const dlqSettings = "BCREG_NATS_URL, BCREG_EVENT_DB_URL (requeue and purge are recorded in operator_action)"

// dlqFilterFlags adds the filters list, requeue and purge share.
func dlqFilterFlags(c *cobra.Command, f *bus.DLQFilter) {
	c.Flags().StringVar(&f.Stage, "stage", "", "only dead letters of this stage: builder, poster or mover")
	c.Flags().StringVar(&f.CorpNum, "corp", "", "only dead letters of this corporation")
	c.Flags().StringVar(&f.Reason, "reason", "", "only dead letters whose reason contains this text")
}

func newDLQ(e *env) *cobra.Command {
	return group("dlq", "dead letters: list, show, requeue, purge (filters: --stage, --corp, --reason)",
		`  bcregctl dlq list --stage poster --corp 0191294
  bcregctl dlq show 42
  bcregctl dlq requeue 42
  bcregctl dlq purge --stage mover --yes`,
		newDLQList(e), newDLQShow(e), newDLQAct(e, "requeue"), newDLQAct(e, "purge"))
}

func newDLQList(e *env) *cobra.Command {
	var f bus.DLQFilter
	var limit int
	var asJSON bool
	c := &cobra.Command{
		Use:   "list [--stage S] [--corp C] [--reason TEXT] [--limit N] [--json]",
		Short: "list dead letters: SEQ, when, stage, corporation, deliveries, reason",
		Long:  settings("List the dead letters, oldest first.", "BCREG_NATS_URL"),
		Example: `  bcregctl dlq list --stage poster --corp 0191294
  bcregctl dlq list --reason "not stored" --json`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return withDLQ(c.Context(), e, func(_ dlqConfig, js jetstream.JetStream) error {
				entries, err := bus.ListDLQ(c.Context(), js, f, limit)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(e.stdout, nonNil(entries))
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "SEQ\tSTORED\tSTAGE\tCORP\tDELIVERIES\tFROM\tREASON")
				for _, en := range entries {
					dl := en.DeadLetter
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s#%d\t%s\n", en.Seq, en.StoredAt.UTC().Format(time.RFC3339), dl.Stage, dl.CorpNum,
						dl.Deliveries, dl.OriginalStream, dl.OriginalSeq, truncate(dl.Reason, 100))
				}
				return tw.Flush()
			})
		},
	}
	dlqFilterFlags(c, &f)
	c.Flags().IntVar(&limit, "limit", 0, "list at most N (0: all)")
	c.Flags().BoolVar(&asJSON, "json", false, "list as JSON")
	return c
}

// dlqShown is one dead letter as `dlq show` prints it: the entry and its
// payload, read back when it was kept apart.
type dlqShown struct {
	bus.DLQEntry
	Payload      string `json:"payload_text"`
	PayloadError string `json:"payload_error,omitempty"`
}

func newDLQShow(e *env) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "show SEQ [--json]",
		Short: "one dead letter, with its headers and payload (also when kept apart)",
		Long:  settings("Show one dead letter: where it came from, why, its headers and its payload.", "BCREG_NATS_URL"),
		Example: `  bcregctl dlq show 42
  bcregctl dlq show 42 --json`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("%w: dlq show SEQ (one sequence number)", errUsage)
			}
			if _, err := strconv.ParseUint(args[0], 10, 64); err != nil {
				return fmt.Errorf("%w: SEQ %q is not a number", errUsage, args[0])
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			seq, _ := strconv.ParseUint(args[0], 10, 64)
			return withDLQ(c.Context(), e, func(_ dlqConfig, js jetstream.JetStream) error {
				en, err := bus.GetDLQ(c.Context(), js, seq)
				if err != nil {
					return err
				}
				// A large dead letter's bytes are kept apart (payload_ref):
				// read them back; when they are lost, say why beside it.
				payload, perr := bus.DLQPayload(c.Context(), js, en.DeadLetter)
				out := dlqShown{DLQEntry: en, Payload: string(payload)}
				if perr != nil {
					out.PayloadError = perr.Error()
				}
				if asJSON {
					return writeJSON(e.stdout, out)
				}
				return showDeadLetter(e.stdout, out)
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return c
}

// showDeadLetter prints a dead letter for a person: the facts, the
// original headers, then the payload.
func showDeadLetter(w io.Writer, s dlqShown) error {
	dl := s.DeadLetter
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, kv := range [][2]string{
		{"seq", strconv.FormatUint(s.Seq, 10)}, {"stored", s.StoredAt.UTC().Format(time.RFC3339)}, {"stage", dl.Stage},
		{"corporation", dl.CorpNum}, {"deliveries", strconv.FormatUint(dl.Deliveries, 10)},
		{"from", fmt.Sprintf("%s#%d (%s)", dl.OriginalStream, dl.OriginalSeq, dl.OriginalSubject)},
		{"reason", dl.Reason}, {"decode error", s.DecodeError}, {"payload error", s.PayloadError},
	} {
		if kv[1] != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", kv[0], kv[1])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(dl.OriginalHeaders)) {
		fmt.Fprintf(tw, "header %s:\t%s\n", k, strings.Join(dl.OriginalHeaders[k], ", "))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	_, err := fmt.Fprintf(w, "payload:\n%s\n", s.Payload)
	return err
}

func newDLQAct(e *env, action string) *cobra.Command {
	var f bus.DLQFilter
	var yes bool
	c := &cobra.Command{
		Use:   action + " [--stage S] [--corp C] [--reason TEXT] [SEQ...]",
		Short: "publish dead letters back to their original stream, then remove them",
		Long: settings(`Publish each selected dead letter back to the stream it came from (a rejected
bundle flagged retry_rejected) and remove it only after the PubAck. Select by
sequence numbers, by filter, or both.`, dlqSettings),
		Example: `  bcregctl dlq requeue 42
  bcregctl dlq requeue --stage builder`,
		RunE: func(c *cobra.Command, args []string) error {
			if action == "purge" && !yes {
				return fmt.Errorf("%w: purge deletes dead letters for good; add --yes", errUsage)
			}
			return withDLQ(c.Context(), e, func(cfg dlqConfig, js jetstream.JetStream) error {
				entries, err := dlqops.Select(c.Context(), js, f, args)
				if errors.Is(err, dlqops.ErrNotSeq) {
					return fmt.Errorf("%w: %v", errUsage, err)
				}
				if err != nil {
					return err
				}
				pool, err := eventdb.Open(c.Context(), cfg.EventDB.URL.Value(), "BCREG_EVENT_DB_URL")
				if err != nil {
					return err
				}
				defer pool.Close()
				return actOnDLQ(c.Context(), e, js, pool, action, entries, f, cfg.Backoff)
			})
		},
	}
	dlqFilterFlags(c, &f)
	if action == "purge" {
		c.Short = "delete dead letters for good (--yes)"
		c.Long = settings("Delete the selected dead letters; the work tables keep their N and D rows.", dlqSettings)
		c.Example = `  bcregctl dlq purge 42 --yes
  bcregctl dlq purge --stage mover --yes`
		c.Flags().BoolVar(&yes, "yes", false, "confirm the purge")
	}
	return c
}

// withDLQ loads the settings, connects to NATS and runs fn.
func withDLQ(ctx context.Context, e *env, fn func(dlqConfig, jetstream.JetStream) error) error {
	var cfg dlqConfig
	if err := config.Load(&cfg); err != nil {
		return err
	}
	nc, js, err := bus.Connect(ctx, cfg.NATS, "bcregctl-dlq", e.log)
	if err != nil {
		return err
	}
	defer nc.Close()
	return fn(cfg, js)
}

// nonNil makes an empty list print as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// actOnDLQ requeues or purges entries (dlqops.Act), naming each failure on
// stderr and the count on stdout.
func actOnDLQ(ctx context.Context, e *env, js jetstream.JetStream, pool *pgxpool.Pool, action string, entries []bus.DLQEntry, f bus.DLQFilter, backoff bus.Backoff) error {
	done, failures, err := dlqops.Act(ctx, js, pool, action, entries, f, backoff, "")
	for _, fl := range failures {
		fmt.Fprintf(e.stderr, "dlq %s %d: %v\n", action, fl.Seq, fl.Err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s: %d of %d dead letters\n", action, len(done), len(entries))
	if len(failures) > 0 {
		return failures[0].Err
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
