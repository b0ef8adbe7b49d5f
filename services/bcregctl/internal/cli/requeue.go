package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/delivery"
	"github.com/bcgov/bcreg-events/pkg/eventdb/operator"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/outbox"
	"github.com/bcgov/bcreg-events/services/bcregctl/internal/corpops"
)

func init() {
	register("requeue", "re-process corporations (corp CORP_NUM...) or re-post failed credentials (failed [--since T])", runRequeue)
}

type requeueConfig struct {
	config.NATS
	config.EventDB
	config.SourceDB
	bus.Backoff
	Profile string `envconfig:"PROFILE" default:"history"`
}

const requeueUsage = `usage: bcregctl requeue corp [--last-event-id N] CORP_NUM...
       bcregctl requeue failed [--since TIME|DURATION] [--status N,D] [--dry-run]

  corp    publish a CorpEvent (reason requeue) for each corporation over its full
          range: event 0 at 0001-01-01T00:00:00 to the registry's newest event.
          The builder regenerates it; only changed credentials are issued.
  failed  make credentials the agent rejected (N) or gave up on (D) outstanding
          again and publish them in fresh bundles; their poster dead letters are
          removed from BCREG_DLQ.

settings: BCREG_NATS_URL, BCREG_EVENT_DB_URL, BCREG_SOURCE_DB_URL (corp: the newest
event; the watermark is used when the registry cannot be read), BCREG_PROFILE
(failed: the profile of credentials stored without one). Both are recorded in
operator_action.`

func runRequeue(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(e.stderr, requeueUsage)
		// The subcommands' flags, so --help lists every flag.
		for _, sub := range []string{"corp", "failed"} {
			fmt.Fprintf(e.stderr, "\nflags of %s:\n", sub)
			fs, _ := requeueFlags(e, sub)
			fs.PrintDefaults()
		}
		if len(args) == 0 {
			return fmt.Errorf("%w: name what to requeue: corp or failed", errUsage)
		}
		return nil
	}
	switch args[0] {
	case "corp":
		return requeueCorps(ctx, e, args[1:])
	case "failed":
		return requeueFailed(ctx, e, args[1:])
	default:
		return fmt.Errorf("%w: unknown requeue subcommand %q (corp, failed)", errUsage, args[0])
	}
}

// requeueOpts are the flags of the requeue subcommands.
type requeueOpts struct {
	lastID        *int64
	since, status *string
	dryRun        *bool
	lockWait      *time.Duration
}

func requeueFlags(e *env, sub string) (*flag.FlagSet, requeueOpts) {
	var o requeueOpts
	if sub == "corp" {
		fs := newFlags(e, "requeue corp", "[--last-event-id N] CORP_NUM...", "BCREG_NATS_URL, BCREG_EVENT_DB_URL, BCREG_SOURCE_DB_URL")
		o.lastID = fs.Int64("last-event-id", 0, "end the range at this registry event instead of the newest")
		return fs, o
	}
	fs := newFlags(e, "requeue failed", "[--since TIME|DURATION] [--status N,D] [--dry-run]", "BCREG_NATS_URL, BCREG_EVENT_DB_URL")
	o.since = fs.String("since", "", "only credentials that failed since TIME (RFC 3339, e.g. 2026-03-01T00:00:00Z) or DURATION ago (e.g. 24h)")
	o.status = fs.String("status", "N,D", "the failed statuses to re-post: N (rejected), D (given up), or both")
	o.dryRun = fs.Bool("dry-run", false, "list the corporations, change nothing")
	o.lockWait = fs.Duration("lock-wait", time.Minute, "longest wait for a builder working on the same corporations")
	return fs, o
}

func requeueCorps(ctx context.Context, e *env, args []string) error {
	fs, o := requeueFlags(e, "corp")
	lastID := o.lastID
	if err := fs.Parse(args); err != nil {
		return err
	}
	var corps []string
	for _, c := range fs.Args() {
		if strings.TrimSpace(c) == "" {
			return fmt.Errorf("%w: a blank corporation number", errUsage)
		}
		if !slices.Contains(corps, c) {
			corps = append(corps, c)
		}
	}
	if len(corps) == 0 {
		return fmt.Errorf("%w: name at least one CORP_NUM", errUsage)
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
	last, err := corpops.Plan(ctx, pool, src, corps, *lastID, now)
	if err != nil && srcErr != nil {
		return fmt.Errorf("%w (the registry cannot be read: %v)", err, srcErr)
	}
	if err != nil {
		return err
	}
	if srcErr != nil {
		fmt.Fprintf(e.stderr, "requeue: the registry cannot be read (%v); the range ends at the watermark, event %d\n", srcErr, last.EventID)
	}
	nc, js, err := bus.Connect(ctx, cfg.NATS, "bcregctl-requeue", e.log)
	if err != nil {
		return err
	}
	defer nc.Close()
	ids, err := corpops.Publish(ctx, js, pool, cfg.Backoff, corps, last, now, "cli")
	if err != nil {
		return err
	}
	for i, c := range corps {
		fmt.Fprintf(e.stdout, "requeued %s (msg id %s)\n", c, ids[i])
	}
	fmt.Fprintf(e.stdout, "requeue corp: %d corporation(s), range event 0 to event %d at %s\n", len(corps), last.EventID, last.Date)
	return nil
}

// requeueBatch is how many corporations one locked step of `requeue
// failed` resets and publishes.
const requeueBatch = 100

func requeueFailed(ctx context.Context, e *env, args []string) error {
	fs, o := requeueFlags(e, "failed")
	sinceFlag, statusFlag, dryRun, lockWait := o.since, o.status, o.dryRun, o.lockWait
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	sel, err := parseFailedSince(*sinceFlag, *statusFlag, time.Now())
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
	if len(corps) == 0 {
		fmt.Fprintln(e.stdout, "requeue failed: no failed credentials match; nothing to do")
		return nil
	}
	if *dryRun {
		fmt.Fprintf(e.stdout, "requeue failed (dry run): %d corporation(s): %s\n", len(corps), strings.Join(corps, " "))
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
	var firstErr error
	for start := 0; start < len(corps); start += requeueBatch {
		batch := corps[start:min(start+requeueBatch, len(corps))]
		r, p, err := corpops.ResetAndPublish(ctx, pool, pub, batch, sel, *lockWait)
		reset, published = append(reset, r...), published+p
		if err != nil {
			fmt.Fprintf(e.stderr, "requeue failed: corporations %s…: %v\n", batch[0], err)
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	removed, dlqErr := removePosterDeadLetters(ctx, js, reset)
	if dlqErr != nil {
		fmt.Fprintf(e.stderr, "requeue failed: dead letters not removed: %v\n", dlqErr)
	}
	if _, err := operator.RecordAction(ctx, pool, "requeue-failed", fmt.Sprintf("credential_log %s since %s", strings.Join(sel.Statuses, ","), sinceText(sel)),
		int64(len(reset)), map[string]any{"corps": corps, "credentials": len(reset), "published": published, "nonce": nonce,
			"dlq_removed": removed}); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "requeue failed: %d credential(s) of %d corporation(s) reset to outstanding, %d published in fresh bundles, %d dead letter(s) removed\n",
		len(reset), len(corps), published, len(removed))
	if n := len(reset) - published; n > 0 {
		fmt.Fprintf(e.stdout, "requeue failed: %d credential(s) not published now stay in the outbox; the builders' sweep publishes them\n", n)
	}
	return errors.Join(firstErr, dlqErr)
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
func parseFailedSince(since, statuses string, now time.Time) (operator.FailedSince, error) {
	var f operator.FailedSince
	for _, s := range strings.Split(statuses, ",") {
		s = strings.ToUpper(strings.TrimSpace(s))
		if s != delivery.Rejected && s != delivery.Dead {
			return f, fmt.Errorf("%w: --status %q: want N, D or N,D", errUsage, statuses)
		}
		if !slices.Contains(f.Statuses, s) {
			f.Statuses = append(f.Statuses, s)
		}
	}
	if since == "" {
		return f, nil
	}
	if d, err := time.ParseDuration(since); err == nil {
		if d <= 0 {
			return f, fmt.Errorf("%w: --since %s: a duration must be positive", errUsage, since)
		}
		f.Since = now.Add(-d)
		return f, nil
	}
	t, err := time.Parse(time.RFC3339, since)
	if err != nil {
		return f, fmt.Errorf("%w: --since %q: want RFC 3339 (2026-03-01T00:00:00Z) or a duration (24h)", errUsage, since)
	}
	f.Since = t
	return f, nil
}

func sinceText(f operator.FailedSince) string {
	if f.Since.IsZero() {
		return "ever"
	}
	return f.Since.UTC().Format(time.RFC3339)
}
