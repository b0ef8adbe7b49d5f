package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/delivery"
	"github.com/bcgov/bcreg-events/pkg/eventdb/operator"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/outbox"
	"github.com/bcgov/bcreg-events/pkg/progress"
	"github.com/bcgov/bcreg-events/pkg/regclock"
	"github.com/bcgov/bcreg-events/services/bcregctl/internal/corpops"
)

func init() { register(newRequeue) }

type requeueConfig struct {
	config.NATS
	config.EventDB
	config.SourceDB
	bus.Backoff
	Profile string `envconfig:"PROFILE" default:"history"`
}

func newRequeue(e *env) *cobra.Command {
	return group("requeue", "re-process corporations or re-post credentials: the twins of the manage script's requeue commands",
		`  bcregctl requeue corp 0191294 A9592574
  bcregctl requeue failed --since 24h
  bcregctl requeue failed-events --dry-run`,
		newRequeueCorp(e), newRequeueFailed(e), newRequeueProcessed(e), newRequeueFailedEvents(e),
		newRequeueSkippedTypes(e), newRequeueFailedCorps(e), newRequeueRelationships(e))
}

// requeuedCorp is one corporation `requeue corp` published.
type requeuedCorp struct {
	CorpNum string `json:"corp_num"`
	MsgID   string `json:"msg_id"`
}

// requeueCorpResult is `requeue corp`'s --json answer.
type requeueCorpResult struct {
	DryRun bool           `json:"dry_run"`
	Corps  []requeuedCorp `json:"corps"`
	// Forgotten is what --fresh deleted (or, with --dry-run, would delete).
	Forgotten *operator.Forgotten `json:"forgotten,omitempty"`
	// LastEventDate ends the range: the registry's BC local clock, with
	// its offset.
	LastEventID   int64     `json:"last_event_id"`
	LastEventDate time.Time `json:"last_event_date"`
}

// requeueCorpOpts are the flags of `requeue corp`.
type requeueCorpOpts struct {
	lastID                int64
	fresh, dryRun, asJSON bool
	lockWait              time.Duration
}

func newRequeueCorp(e *env) *cobra.Command {
	var o requeueCorpOpts
	c := &cobra.Command{
		Use:   "corp [--fresh] [--last-event-id N] [--dry-run] [--json] CORP_NUM...",
		Short: "re-process corporations over their whole history (manage: queueOrganization; --fresh: requeueOrganization)",
		Long: settings(`Publish a CorpEvent (reason requeue) for each corporation over its full range:
event 0 at 0001-01-01T00:00:00 to the registry's newest event (the watermark
when the registry cannot be read). The builder regenerates it; only changed
credentials are issued: the hashes skip what OrgBook already has. Recorded in
operator_action.

The twin of manage's queueOrganization. With --fresh, the twin of
requeueOrganization: the corporations' credential_log and corp_history_log
rows are deleted first (holding their locks), so everything is issued again,
including credentials OrgBook already has. Unlike the script, the
corporation's event_by_corp_filing rows are kept: the requeue is a new row.`,
			"BCREG_NATS_URL, BCREG_EVENT_DB_URL, BCREG_SOURCE_DB_URL (the newest event)"),
		Example: `  bcregctl requeue corp 0191294 A9592574
  bcregctl requeue corp --fresh 0191294 --dry-run
  bcregctl requeue corp 0191294 --last-event-id 123456 --json`,
		Args: func(_ *cobra.Command, args []string) error {
			for _, c := range args {
				if strings.TrimSpace(c) == "" {
					return fmt.Errorf("%w: a blank corporation number", errUsage)
				}
			}
			if len(args) == 0 {
				return fmt.Errorf("%w: name at least one CORP_NUM", errUsage)
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error { return requeueCorps(c.Context(), e, o, args) },
	}
	f := c.Flags()
	f.Int64Var(&o.lastID, "last-event-id", 0, "end the range at this registry event instead of the newest")
	f.BoolVar(&o.fresh, "fresh", false, "delete the corporations' credential_log and corp_history_log rows first: everything is issued again")
	f.BoolVar(&o.dryRun, "dry-run", false, "show the range (and with --fresh the rows it would delete), change nothing")
	f.BoolVar(&o.asJSON, "json", false, "print the result as JSON")
	f.DurationVar(&o.lockWait, "lock-wait", time.Minute, "longest wait for a builder working on the same corporations (--fresh)")
	return c
}

// requeueFailedOpts are the flags of `requeue failed` and
// `requeue processed-creds`.
type requeueFailedOpts struct {
	since, status  string
	dryRun, asJSON bool
	lockWait       time.Duration
	// action is the operator_action recorded; allowed the statuses
	// --status may name.
	action  string
	allowed []string
}

// requeueFailedResult is `requeue failed`'s --json answer.
type requeueFailedResult struct {
	DryRun      bool     `json:"dry_run"`
	Corps       []string `json:"corps"`
	Credentials int      `json:"credentials_reset"`
	Published   int      `json:"published"`
	DLQRemoved  []uint64 `json:"dlq_removed"`
}

func newRequeueFailed(e *env) *cobra.Command {
	o := requeueFailedOpts{action: "requeue-failed", allowed: []string{delivery.Rejected, delivery.Dead}}
	c := &cobra.Command{
		Use:     "failed [--since TIME|DURATION] [--status N,D] [--dry-run] [--json]",
		Aliases: []string{"failed-creds"},
		Short:   "re-post credentials the agent rejected (N) or gave up on (D) in fresh bundles (manage: requeueFailedCreds)",
		Long: settings(`Make credentials the agent rejected (N) or gave up on (D) outstanding again
and publish them in fresh bundles; their poster dead letters are removed from
BCREG_DLQ. Recorded in operator_action. Progress goes to stderr.

Also named failed-creds: the twin of manage's requeueFailedCreds, which
resets only N (the original had no D); --status N does exactly that.`,
			"BCREG_NATS_URL, BCREG_EVENT_DB_URL, BCREG_PROFILE (the profile of credentials stored without one)"),
		Example: `  bcregctl requeue failed --since 24h
  bcregctl requeue failed --status N --since 2026-03-01T00:00:00Z --dry-run --json`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error { return requeueFailed(c.Context(), e, o) },
	}
	f := c.Flags()
	f.StringVar(&o.since, "since", "", "only credentials that failed since TIME (RFC 3339, e.g. 2026-03-01T00:00:00Z) or DURATION ago (e.g. 24h)")
	f.StringVar(&o.status, "status", "N,D", "the failed statuses to re-post: N (rejected), D (given up), or both")
	f.BoolVar(&o.dryRun, "dry-run", false, "list the corporations, change nothing")
	f.BoolVar(&o.asJSON, "json", false, "print the result as JSON")
	f.DurationVar(&o.lockWait, "lock-wait", time.Minute, "longest wait for a builder working on the same corporations")
	return c
}

func requeueCorps(ctx context.Context, e *env, o requeueCorpOpts, args []string) error {
	var corps []string
	for _, c := range args {
		if !slices.Contains(corps, c) {
			corps = append(corps, c)
		}
	}
	var cfg requeueConfig
	if err := config.Load(&cfg); err != nil {
		return err
	}
	pool, err := eventdb.Open(ctx, cfg.EventDB.URL.Value(), "BCREG_EVENT_DB_URL")
	if err != nil {
		return err
	}
	defer pool.Close()
	// A registry that cannot be read (src nil) ends the range at the
	// watermark.
	src, srcErr := openOptional(ctx, cfg.SourceDB.URL.Value(), "BCREG_SOURCE_DB_URL")
	if srcErr == nil {
		defer src.Close()
	}
	now := time.Now()
	last, err := corpops.Plan(ctx, pool, src, corps, o.lastID, now)
	if err != nil && srcErr != nil {
		return fmt.Errorf("%w (the registry cannot be read: %v)", err, srcErr)
	}
	if err != nil {
		return err
	}
	if srcErr != nil {
		fmt.Fprintf(e.stderr, "requeue: the registry cannot be read (%v); the range ends at the watermark, event %d\n", srcErr, last.EventID)
	}
	res := requeueCorpResult{DryRun: o.dryRun, LastEventID: last.EventID, LastEventDate: regclock.WithOffset(regclock.Registry, last.Date.Time)}
	if o.fresh {
		f, err := corpops.Forget(ctx, pool, corps, o.lockWait, o.dryRun)
		if err != nil {
			return err
		}
		res.Forgotten = &f
		if !o.dryRun {
			if _, err := operator.RecordAction(ctx, pool, "requeue-corp-fresh", messages.SystemBCReg+" "+strings.Join(corps, " "),
				f.Credentials, map[string]any{"corps": corps, "credentials_deleted": f.Credentials, "snapshots_deleted": f.Snapshots}); err != nil {
				return err
			}
		}
	}
	ids := make([]string, len(corps))
	if !o.dryRun {
		nc, js, err := bus.Connect(ctx, cfg.NATS, "bcregctl-requeue", e.log)
		if err != nil {
			return err
		}
		defer nc.Close()
		if ids, err = corpops.Publish(ctx, js, pool, cfg.Backoff, corps, last, now, "cli"); err != nil {
			return err
		}
	}
	if o.asJSON {
		res.Corps = []requeuedCorp{}
		for i, c := range corps {
			res.Corps = append(res.Corps, requeuedCorp{CorpNum: c, MsgID: ids[i]})
		}
		return writeJSON(e.stdout, res)
	}
	verb := "requeued"
	if o.dryRun {
		verb = "would requeue"
	}
	for i, c := range corps {
		if o.dryRun {
			fmt.Fprintf(e.stdout, "%s %s\n", verb, c)
		} else {
			fmt.Fprintf(e.stdout, "%s %s (msg id %s)\n", verb, c, ids[i])
		}
	}
	if f := res.Forgotten; f != nil {
		fmt.Fprintf(e.stdout, "requeue corp --fresh: %d credential_log and %d corp_history_log row(s) %s\n", f.Credentials, f.Snapshots,
			map[bool]string{true: "would be deleted", false: "deleted"}[o.dryRun])
	}
	fmt.Fprintf(e.stdout, "requeue corp: %d corporation(s), range event 0 to event %d at %s (BC local)\n", len(corps), last.EventID, last.Date)
	return nil
}

// requeueBatch is how many corporations one locked step of `requeue
// failed` resets and publishes.
const requeueBatch = 100

func requeueFailed(ctx context.Context, e *env, o requeueFailedOpts) error {
	sel, err := parseFailedSince(o.since, o.status, o.allowed, time.Now())
	if err != nil {
		return err
	}
	var cfg requeueConfig
	if err := config.Load(&cfg); err != nil {
		return err
	}
	pool, err := eventdb.Open(ctx, cfg.EventDB.URL.Value(), "BCREG_EVENT_DB_URL")
	if err != nil {
		return err
	}
	defer pool.Close()
	corps, err := operator.FailedCorps(ctx, pool, messages.SystemBCReg, sel)
	if err != nil {
		return err
	}
	res := requeueFailedResult{DryRun: o.dryRun, Corps: nonNil(corps), DLQRemoved: []uint64{}}
	if len(corps) == 0 || o.dryRun {
		switch {
		case o.asJSON:
			return writeJSON(e.stdout, res)
		case len(corps) == 0:
			fmt.Fprintln(e.stdout, "requeue failed: no failed credentials match; nothing to do")
		default:
			fmt.Fprintf(e.stdout, "requeue failed (dry run): %d corporation(s): %s\n", len(corps), strings.Join(corps, " "))
		}
		return nil
	}
	nc, js, err := bus.Connect(ctx, cfg.NATS, "bcregctl-requeue", e.log)
	if err != nil {
		return err
	}
	defer nc.Close()

	// A fresh nonce: these credentials' earlier bundle may still be in the
	// de-duplication window under the plain id.
	nonce := fmt.Sprintf("requeue-failed:%d", time.Now().UnixNano())
	pub := &outbox.Publisher{JS: js, Log: e.log, System: messages.SystemBCReg, Profile: cfg.Profile, MaxBytes: outbox.MaxBytesFor(js),
		Nonce: nonce, Backoff: cfg.Backoff, Timeout: 30 * time.Second}
	var reset []string
	var published int
	failedBatches := 0
	bar := progress.New(e.stderr, "requeue failed", "corporations", int64(len(corps)), progress.Options{})
	for start := 0; start < len(corps); start += requeueBatch {
		batch := corps[start:min(start+requeueBatch, len(corps))]
		r, p, err := corpops.ResetAndPublish(ctx, pool, pub, batch, sel, o.lockWait)
		reset, published = append(reset, r...), published+p
		if err != nil {
			// Each batch's failure is named here; the exit message counts them.
			bar.Note(fmt.Sprintf("requeue failed: corporations %s…: %v", batch[0], err))
			failedBatches++
		}
		bar.Add(int64(len(batch)))
	}
	bar.Finish()
	removed, dlqErr := removePosterDeadLetters(ctx, js, reset)
	if dlqErr != nil {
		dlqErr = fmt.Errorf("dead letters not removed: %w", dlqErr)
	}
	if _, err := operator.RecordAction(ctx, pool, o.action, fmt.Sprintf("credential_log %s since %s", strings.Join(sel.Statuses, ","), sinceText(sel)),
		int64(len(reset)), map[string]any{"corps": corps, "credentials": len(reset), "published": published, "nonce": nonce,
			"dlq_removed": removed}); err != nil {
		return err
	}
	if o.asJSON {
		res.Credentials, res.Published, res.DLQRemoved = len(reset), published, nonNil(removed)
		if err := writeJSON(e.stdout, res); err != nil {
			return err
		}
		return errors.Join(batchesErr(failedBatches), dlqErr)
	}
	fmt.Fprintf(e.stdout, "requeue failed: %d credential(s) of %d corporation(s) reset to outstanding, %d published in fresh bundles, %d dead letter(s) removed\n",
		len(reset), len(corps), published, len(removed))
	if n := len(reset) - published; n > 0 {
		fmt.Fprintf(e.stdout, "requeue failed: %d credential(s) not published now stay in the outbox; the builders' sweep publishes them\n", n)
	}
	return errors.Join(batchesErr(failedBatches), dlqErr)
}

// removePosterDeadLetters deletes the poster's dead letters about the
// given credentials: they are being posted again.
func removePosterDeadLetters(ctx context.Context, js jetstream.JetStream, hashes []string) ([]uint64, error) {
	if len(hashes) == 0 {
		return nil, nil
	}
	want := map[string]bool{}
	for _, h := range hashes {
		want[h] = true
	}
	entries, err := bus.ListDLQ(ctx, js, bus.DLQFilter{Stage: messages.StagePoster}, 0)
	if err != nil {
		return nil, err
	}
	var removed []uint64
	for _, en := range entries {
		h := en.DeadLetter.OriginalHeaders[bus.HeaderCredentialHash]
		if len(h) == 0 || !want[h[0]] {
			continue
		}
		if err := bus.DeleteDLQ(ctx, js, en.Seq); err != nil {
			return removed, err
		}
		removed = append(removed, en.Seq)
	}
	return removed, nil
}

// parseFailedSince reads --since (RFC 3339 or a duration back from now)
// and --status.
func parseFailedSince(since, statuses string, allowed []string, now time.Time) (operator.FailedSince, error) {
	var f operator.FailedSince
	for _, s := range strings.Split(statuses, ",") {
		s = strings.ToUpper(strings.TrimSpace(s))
		if !slices.Contains(allowed, s) {
			return f, fmt.Errorf("%w: --status %q: want %s", errUsage, statuses, strings.Join(allowed, ", "))
		}
		if !slices.Contains(f.Statuses, s) {
			f.Statuses = append(f.Statuses, s)
		}
	}
	if since == "" {
		return f, nil
	}
	var err error
	f.Since, err = parseSince(since, now)
	return f, err
}

// parseSince reads a --since: RFC 3339, or a positive duration back from
// now.
func parseSince(since string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(since); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("%w: --since %s: a duration must be positive", errUsage, since)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, since)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: --since %q: want RFC 3339 (2026-03-01T00:00:00Z) or a duration (24h)", errUsage, since)
	}
	return t, nil
}

func sinceText(f operator.FailedSince) string {
	if f.Since.IsZero() {
		return "ever"
	}
	return f.Since.UTC().Format(time.RFC3339)
}

// batchesErr is the exit message of `requeue failed` when batches failed
// (each was named on stderr as it failed).
func batchesErr(n int) error {
	if n == 0 {
		return nil
	}
	return fmt.Errorf("%d batch(es) of up to %d corporations failed (named above); run it again to retry them", n, requeueBatch)
}
