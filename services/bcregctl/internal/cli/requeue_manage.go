package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/delivery"
	"github.com/bcgov/bcreg-events/pkg/eventdb/operator"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/services/bcregctl/internal/corpops"
)

// The twins of the manage script's requeue commands beyond `corp` and
// `failed` (docs/operations.md, "The manage script";
// docs/design/manage-script.md).

func newRequeueProcessed(e *env) *cobra.Command {
	o := requeueFailedOpts{status: delivery.Issued, action: "requeue-processed-creds", allowed: []string{delivery.Issued}}
	c := &cobra.Command{
		Use:   "processed-creds [--since TIME|DURATION] [--dry-run] [--json]",
		Short: "re-post credentials already posted (Y), in fresh bundles (manage: requeueProcessedCreds; use with caution)",
		Long: settings(`Make every credential the agent accepted (Y), or those accepted since
--since, outstanding again and publish them in fresh bundles, in their order:
OrgBook receives each again. The twin of manage's requeueProcessedCreds (use
with caution: it re-posts everything). Recorded in operator_action.`,
			"BCREG_NATS_URL, BCREG_EVENT_DB_URL, BCREG_PROFILE (the profile of credentials stored without one)"),
		Example: `  bcregctl requeue processed-creds --dry-run
  bcregctl requeue processed-creds --since 2026-03-01T00:00:00Z --json`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error { return requeueFailed(c.Context(), e, o) },
	}
	f := c.Flags()
	f.StringVar(&o.since, "since", "", "only credentials posted since TIME (RFC 3339) or DURATION ago (e.g. 24h)")
	f.BoolVar(&o.dryRun, "dry-run", false, "list the corporations, change nothing")
	f.BoolVar(&o.asJSON, "json", false, "print the result as JSON")
	f.DurationVar(&o.lockWait, "lock-wait", time.Minute, "longest wait for a builder working on the same corporations")
	return c
}

// itemsOpts are the flags of the work-item twins.
type itemsOpts struct {
	dryRun, asJSON bool
}

// requeueItemsResult is the --json answer of the work-item twins.
type requeueItemsResult struct {
	DryRun bool                 `json:"dry_run"`
	Items  []operator.CorpItems `json:"work_items"`
	corpops.Handed
}

func newRequeueFailedEvents(e *env) *cobra.Command {
	var o itemsOpts
	c := &cobra.Command{
		Use:   "failed-events [--dry-run] [--json]",
		Short: "re-process the corporations of failed work items (N) (manage: requeueFailedEvents)",
		Long: settings(`Publish a requeue CorpEvent (event 0 to the watermark) for each corporation
with a failed (N) event_by_corp_filing row, and mark those rows as handed
over to it (Y, "requeued as <msg id>"): the requeue's own row carries the
outcome. The twin of manage's requeueFailedEvents, which reset the rows for
the original to process their own range again; here the whole history is
regenerated and only what changed is issued. Recorded in operator_action
with the rows' ids.`,
			"BCREG_NATS_URL, BCREG_EVENT_DB_URL"),
		Example: `  bcregctl requeue failed-events --dry-run
  bcregctl requeue failed-events --json`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return requeueWorkItems(c.Context(), e, o, operator.WorkItems{Kind: operator.FailedItems}, "requeue-failed-events", "event_by_corp_filing N")
		},
	}
	c.Flags().BoolVar(&o.dryRun, "dry-run", false, "list the corporations and rows, change nothing")
	c.Flags().BoolVar(&o.asJSON, "json", false, "print the result as JSON")
	return c
}

func newRequeueSkippedTypes(e *env) *cobra.Command {
	var o itemsOpts
	c := &cobra.Command{
		Use:   "skipped-types [--dry-run] [--json] TYPE...",
		Short: "re-process the corporations of the given types skipped as out of scope (manage: requeueSkippedCorpTypes)",
		Long: settings(`Publish a requeue CorpEvent (event 0 to the watermark) for each corporation
whose event_by_corp_filing row was skipped as out of scope with one of the
types (process_msg '<TYPE>: Skipped…', the script's own test), and mark those
rows as handed over to it. Change the profile's scope first: a corporation
still out of scope is skipped again. The twin of manage's
requeueSkippedCorpTypes. Recorded in operator_action with the rows' ids.`,
			"BCREG_NATS_URL, BCREG_EVENT_DB_URL"),
		Example: `  bcregctl requeue skipped-types FI LIB PAR --dry-run`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return fmt.Errorf("%w: name at least one corporation TYPE", errUsage)
			}
			for _, t := range args {
				if strings.TrimSpace(t) == "" || strings.ContainsAny(t, "%_:") {
					return fmt.Errorf("%w: corporation type %q", errUsage, t)
				}
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			return requeueWorkItems(c.Context(), e, o, operator.WorkItems{Kind: operator.SkippedTypes, Types: args},
				"requeue-skipped-types", "event_by_corp_filing skipped "+strings.Join(args, " "))
		},
	}
	c.Flags().BoolVar(&o.dryRun, "dry-run", false, "list the corporations and rows, change nothing")
	c.Flags().BoolVar(&o.asJSON, "json", false, "print the result as JSON")
	return c
}

// openRequeue loads the requeue settings and opens the event database.
func openRequeue(ctx context.Context) (requeueConfig, *pgxpool.Pool, error) {
	var cfg requeueConfig
	if err := config.Load(&cfg); err != nil {
		return cfg, nil, err
	}
	pool, err := eventdb.Open(ctx, cfg.EventDB.URL.Value(), "BCREG_EVENT_DB_URL")
	return cfg, pool, err
}

func requeueWorkItems(ctx context.Context, e *env, o itemsOpts, sel operator.WorkItems, action, target string) error {
	cfg, pool, err := openRequeue(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	items, err := operator.SelectWorkItems(ctx, pool, messages.SystemBCReg, sel)
	if err != nil {
		return err
	}
	res := requeueItemsResult{DryRun: o.dryRun, Items: nonNil(items)}
	if len(items) > 0 && !o.dryRun {
		// The range ends at the watermark: these rows' corporations need
		// no registry read to be requeued.
		now := time.Now()
		last, err := corpops.Plan(ctx, pool, nil, nil, 0, now)
		if err != nil {
			return err
		}
		nc, js, err := bus.Connect(ctx, cfg.NATS, "bcregctl-requeue", e.log)
		if err != nil {
			return err
		}
		defer nc.Close()
		if res.Handed, err = corpops.RequeueItems(ctx, js, pool, cfg.Backoff, items, last, now, action, target); err != nil {
			return err
		}
	}
	res.Corps, res.MsgIDs = nonNil(res.Corps), nonNil(res.MsgIDs)
	if o.asJSON {
		return writeJSON(e.stdout, res)
	}
	for _, it := range items {
		fmt.Fprintf(e.stdout, "%s: rows %v\n", it.CorpNum, it.RecordIDs)
	}
	switch {
	case len(items) == 0:
		fmt.Fprintf(e.stdout, "%s: no work item matches; nothing to do\n", action)
	case o.dryRun:
		fmt.Fprintf(e.stdout, "%s (dry run): %d corporation(s) would be requeued\n", action, len(items))
	default:
		fmt.Fprintf(e.stdout, "%s: %d corporation(s) requeued, %d work item(s) marked as handed over\n", action, len(res.Corps), res.Marked)
	}
	return nil
}

// requeueCorpsResult is the --json answer of failed-corps and
// relationships.
type requeueCorpsResult struct {
	DryRun bool     `json:"dry_run"`
	Corps  []string `json:"corps"`
	MsgIDs []string `json:"msg_ids"`
	// Forgotten is what failed-corps deleted (or would delete).
	Forgotten *operator.Forgotten `json:"forgotten,omitempty"`
	// Deleted are the relationship credentials' record ids relationships
	// deleted (or would delete).
	Deleted []int64 `json:"deleted_record_ids,omitempty"`
}

func newRequeueFailedCorps(e *env) *cobra.Command {
	var o requeueCorpOpts
	c := &cobra.Command{
		Use:   "failed-corps [--dry-run] [--json]",
		Short: "issue again everything of the corporations with a failed snapshot (manage: requeueFailedCorps)",
		Long: settings(`For each corporation with a failed (N) corp_history_log row (rows adopted from
the original: our builder records failures in event_by_corp_filing, see
failed-events): delete its credential_log and corp_history_log rows, holding
its lock, and publish a requeue CorpEvent (event 0 to the watermark), so
everything is issued again, as requeue corp --fresh does. The twin of
manage's requeueFailedCorps, which also reset every event_by_corp_filing row
of those corporations; here the requeue is one new row. Recorded in
operator_action.`,
			"BCREG_NATS_URL, BCREG_EVENT_DB_URL"),
		Example: `  bcregctl requeue failed-corps --dry-run --json`,
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return requeueForgetting(c.Context(), e, o, func(ctx context.Context, pool *pgxpool.Pool, res *requeueCorpsResult) error {
				corps, err := operator.FailedHistoryCorps(ctx, pool, messages.SystemBCReg)
				if err != nil || len(corps) == 0 {
					return err
				}
				res.Corps = corps
				f, err := corpops.Forget(ctx, pool, corps, o.lockWait, o.dryRun)
				res.Forgotten = &f
				return err
			}, "requeue-failed-corps")
		},
	}
	f := c.Flags()
	f.BoolVar(&o.dryRun, "dry-run", false, "list the corporations and the rows it would delete, change nothing")
	f.BoolVar(&o.asJSON, "json", false, "print the result as JSON")
	f.DurationVar(&o.lockWait, "lock-wait", time.Minute, "longest wait for a builder working on the same corporations")
	return c
}

func newRequeueRelationships(e *env) *cobra.Command {
	var o requeueCorpOpts
	c := &cobra.Command{
		Use:   "relationships [--dry-run] [--json] CORP_NUM RELATED_CORP_NUM",
		Short: "issue again a corporation's relationship credentials to another (manage: queueOrgForRelnsUpdate)",
		Long: settings(`Delete CORP_NUM's relationship (REL) credentials whose associated_registration_id
is RELATED_CORP_NUM from credential_log and publish a requeue CorpEvent for
CORP_NUM (event 0 to the watermark): the relationship is generated again,
its hash is no longer known, and it is issued again. Use it where OrgBook
misses a relationship. The twin of manage's queueOrgForRelnsUpdate.
Recorded in operator_action with the deleted rows' ids.`,
			"BCREG_NATS_URL, BCREG_EVENT_DB_URL"),
		Example: `  bcregctl requeue relationships 0054321 FM0054321 --dry-run`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 2 || strings.TrimSpace(args[0]) == "" || strings.TrimSpace(args[1]) == "" {
				return fmt.Errorf("%w: want CORP_NUM RELATED_CORP_NUM", errUsage)
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			return requeueForgetting(c.Context(), e, o, func(ctx context.Context, pool *pgxpool.Pool, res *requeueCorpsResult) error {
				res.Corps = []string{args[0]}
				ids, err := operator.Relationships(ctx, pool, messages.SystemBCReg, args[0], args[1], !o.dryRun)
				res.Deleted = nonNil(ids)
				return err
			}, "requeue-relationships")
		},
	}
	c.Flags().BoolVar(&o.dryRun, "dry-run", false, "list the relationship credentials it would delete, change nothing")
	c.Flags().BoolVar(&o.asJSON, "json", false, "print the result as JSON")
	return c
}

// requeueForgetting runs forget (which deletes rows, or with --dry-run
// counts them, and names the corporations), then requeues the
// corporations to the watermark and records action.
func requeueForgetting(ctx context.Context, e *env, o requeueCorpOpts, forget func(context.Context, *pgxpool.Pool, *requeueCorpsResult) error, action string) error {
	cfg, pool, err := openRequeue(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	res := requeueCorpsResult{DryRun: o.dryRun}
	if err := forget(ctx, pool, &res); err != nil {
		return err
	}
	if len(res.Corps) > 0 && !o.dryRun {
		now := time.Now()
		last, err := corpops.Plan(ctx, pool, nil, nil, 0, now)
		if err != nil {
			return err
		}
		if _, err := operator.RecordAction(ctx, pool, action, messages.SystemBCReg+" "+strings.Join(res.Corps, " "), int64(len(res.Corps)),
			map[string]any{"corps": res.Corps, "forgotten": res.Forgotten, "deleted_record_ids": res.Deleted}); err != nil {
			return err
		}
		nc, js, err := bus.Connect(ctx, cfg.NATS, "bcregctl-requeue", e.log)
		if err != nil {
			return err
		}
		defer nc.Close()
		if res.MsgIDs, err = corpops.Publish(ctx, js, pool, cfg.Backoff, res.Corps, last, now, action); err != nil {
			return err
		}
	}
	res.Corps, res.MsgIDs = nonNil(res.Corps), nonNil(res.MsgIDs)
	if o.asJSON {
		return writeJSON(e.stdout, res)
	}
	verb := "requeued"
	if o.dryRun {
		verb = "would requeue"
	}
	fmt.Fprintf(e.stdout, "%s: %s %d corporation(s): %s\n", action, verb, len(res.Corps), strings.Join(res.Corps, " "))
	if f := res.Forgotten; f != nil {
		fmt.Fprintf(e.stdout, "%s: %d credential_log and %d corp_history_log row(s) %s\n", action, f.Credentials, f.Snapshots,
			map[bool]string{true: "would be deleted", false: "deleted"}[o.dryRun])
	}
	if res.Deleted != nil {
		fmt.Fprintf(e.stdout, "%s: relationship credential rows %v %s\n", action, res.Deleted,
			map[bool]string{true: "would be deleted", false: "deleted"}[o.dryRun])
	}
	return nil
}
