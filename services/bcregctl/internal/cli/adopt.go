package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/adopt"
	"github.com/bcgov/bcreg-events/pkg/eventdb/delivery"
	"github.com/bcgov/bcreg-events/pkg/initload"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/progress"
	"github.com/bcgov/bcreg-events/pkg/regclock"
	"github.com/bcgov/bcreg-events/pkg/regevent"
	"github.com/bcgov/bcreg-events/pkg/sourcedb"
	"github.com/bcgov/bcreg-events/services/bcregctl/internal/corpops"
)

func init() { register(newAdopt) }

type adoptConfig struct {
	config.NATS
	config.EventDB
	config.SourceDB
	bus.Topology
	bus.Backoff
	LookBack time.Duration `envconfig:"POLL_LOOKBACK" default:"10m"`
}

type adoptOpts struct {
	from, wmDate          string
	dryRun, force, asJSON bool
}

// adoptReport is adopt's --json answer: what the original holds and, unless
// a dry run, what was imported.
type adoptReport struct {
	DryRun bool   `json:"dry_run"`
	Layout string `json:"layout"`
	// WatermarkEventDate is the registry's BC local clock, with its offset.
	WatermarkEventID   int64     `json:"watermark_event_id"`
	WatermarkEventDate time.Time `json:"watermark_event_date"`
	Credentials        int64     `json:"credentials"`
	WorkItems          int64     `json:"work_items"`
	Queued             []string  `json:"queued"`
	// Failed are the corporations the original failed on (N) and never
	// retried; they are requeued with the queued ones.
	Failed       []string `json:"failed"`
	WindowEvents int      `json:"window_events"`
	// Profile is the BCREG_PROFILE matching the original's generator.
	Profile           string           `json:"profile"`
	Imported          int64            `json:"credentials_imported"`
	ByStatus          map[string]int64 `json:"credentials_by_status,omitempty"`
	WorkItemsImported int64            `json:"work_items_imported"`
	Requeued          []string         `json:"requeued"`
}

func newAdopt(e *env) *cobra.Command {
	var o adoptOpts
	c := &cobra.Command{
		Use:   "adopt --from URL [--watermark-date TIME] [--dry-run] [--force] [--json]",
		Short: "switch over from the Python pipeline: import its event-processor database (--from URL)",
		Long: settings(`Import the Python pipeline's watermark, credential_log and processed work items
(8bc273a and pre-LEAR layouts), so polling continues from its watermark and
nothing already issued is issued again; the corporations it left queued are
requeued. Progress goes to stderr.`,
			"BCREG_EVENT_DB_URL (written), BCREG_SOURCE_DB_URL (the watermark's date and look-back window), BCREG_NATS_URL (corporations the original left queued), BCREG_POLL_LOOKBACK"),
		Example: `  bcregctl adopt --from 'postgres://bc_reg_db:...@<host>:5432/bc_reg_db' --dry-run
  bcregctl adopt --from 'postgres://bc_reg_db:...@<host>:5432/bc_reg_db'`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if o.from == "" {
				return fmt.Errorf("%w: adopt --from URL (the Python pipeline's event-processor database)", errUsage)
			}
			return runAdopt(c.Context(), e, o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.from, "from", "", "the original's event-processor database (postgres://user:password@host:port/db)")
	f.StringVar(&o.wmDate, "watermark-date", "", "the date of the original's watermark event (BC local, 2006-01-02T15:04:05) when its LAST_EVENT has none (8bc273a) and the registry cannot be read")
	f.BoolVar(&o.dryRun, "dry-run", false, "inspect the original and say what would be imported; change nothing")
	f.BoolVar(&o.force, "force", false, "import into an event database that already has a watermark, credentials or an initial load (known hashes are skipped)")
	f.BoolVar(&o.asJSON, "json", false, "print the result as JSON")
	return c
}

func runAdopt(ctx context.Context, e *env, opt adoptOpts) error {
	out := e.stdout
	if opt.asJSON {
		out = io.Discard // the JSON alone on stdout
	}
	var cfg adoptConfig
	if err := config.Load(&cfg); err != nil {
		return err
	}
	orig, err := adopt.OpenOriginal(ctx, opt.from, "--from")
	if err != nil {
		return err
	}
	defer orig.Close()
	system := messages.SystemBCReg
	o, err := adopt.Inspect(ctx, orig, system)
	if err != nil {
		return fmt.Errorf("%w (--from %s)", err, config.RedactURL(opt.from))
	}
	// Before anything is written, the dry run's included: never into the
	// original itself or a copy of its tables.
	pool, err := eventdb.Open(ctx, cfg.EventDB.URL.Value(), "BCREG_EVENT_DB_URL")
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := adopt.CheckTarget(ctx, pool, orig); err != nil {
		return fmt.Errorf("%w (BCREG_EVENT_DB_URL=%s, --from %s): adopt into a new, empty event database", err, cfg.EventDB.URL, config.RedactURL(opt.from))
	}
	fmt.Fprintf(out, "original (%s layout): watermark event %d, %d credentials, %d processed work items, %d corporations queued but not processed, %d failed (N) and never retried\n",
		o.Layout, o.Watermark.EventID, o.Credentials, o.WorkItems, len(o.Queued), len(o.Failed))

	// The watermark's date: the original's (pre-LEAR), the registry's
	// record of the event (8bc273a), or the operator's.
	wm := o.Watermark
	src, srcErr := openOptional(ctx, cfg.SourceDB.URL.Value(), "BCREG_SOURCE_DB_URL")
	if srcErr == nil {
		defer src.Close()
	}
	switch {
	case opt.wmDate != "":
		t, err := time.Parse("2006-01-02T15:04:05", opt.wmDate)
		if err != nil {
			return fmt.Errorf("%w: --watermark-date %q: want BC local time 2006-01-02T15:04:05", errUsage, opt.wmDate)
		}
		wm.Date.Time = t
	case o.WatermarkDated:
	case srcErr != nil:
		return fmt.Errorf("the original's watermark (event %d) has no date and the registry cannot be read (%w): pass --watermark-date", wm.EventID, srcErr)
	default:
		ts, ok, err := sourcedb.DiscoverEventDate(ctx, src, wm.EventID)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("the original's watermark, event %d, is not in the registry (BCREG_SOURCE_DB_URL): pass --watermark-date", wm.EventID)
		}
		wm.Date.Time = ts
	}
	var window []regevent.Event
	if src != nil {
		if window, err = initload.Window(ctx, src, wm, cfg.LookBack); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(e.stderr, "adopt: the registry cannot be read (%v): the first poll re-publishes the look-back window's corporations (nothing already issued is issued again)\n", srcErr)
	}
	profile := "history"
	if o.Layout == adopt.Layout8bc273a {
		profile = "snapshot"
	}
	rep := adoptReport{DryRun: opt.dryRun, Layout: o.Layout, WatermarkEventID: wm.EventID, WatermarkEventDate: regclock.WithOffset(regclock.Registry, wm.Date.Time),
		Credentials: o.Credentials, WorkItems: o.WorkItems, Queued: nonNil(o.Queued), Failed: nonNil(o.Failed), WindowEvents: len(window), Profile: profile,
		Requeued: []string{}}
	if opt.dryRun {
		fmt.Fprintf(out, "dry run: would import %d credentials and %d work items, set the watermark to event %d at %s, record %d look-back events as seen, and requeue %s\n",
			o.Credentials, o.WorkItems, wm.EventID, wm.Date, len(window), requeueSummary(o.Queued, o.Failed, o.Requeue()))
		fmt.Fprintf(out, "the original generated with the %s profile: set BCREG_PROFILE=%s\n", o.Layout, profile)
		rep.Requeued = nonNil(o.Requeue())
		return adoptJSON(e, opt, rep)
	}

	// Connect to NATS before importing when something must be published
	// afterwards, so an unreachable server stops the adoption early.
	var pub func([]string) ([]string, error)
	if len(o.Requeue()) > 0 {
		nc, js, err := bus.Connect(ctx, cfg.NATS, "bcregctl-adopt", e.log)
		if err != nil {
			return err
		}
		defer nc.Close()
		if err := cfg.Topology.Apply(ctx, js); err != nil {
			return fmt.Errorf("apply JetStream topology on %s: %w", cfg.NATS.URL, err)
		}
		pub = func(corps []string) ([]string, error) {
			msgs, ids, err := corpops.Messages(corps, wm, time.Now())
			if err != nil {
				return nil, err
			}
			return ids, bus.PublishRounds(ctx, js, msgs, bus.RoundOptions{Timeout: 30 * time.Second, Backoff: cfg.Backoff})
		}
	}
	if _, err := eventdb.Migrate(ctx, pool); err != nil {
		return err
	}
	bar := progress.New(e.stderr, "adopt", "rows", o.Credentials+o.WorkItems, progress.Options{})
	res, err := adopt.Run(ctx, pool, orig, o, adopt.Plan{System: system, Watermark: wm, Window: window, Force: opt.force,
		From: config.RedactURL(opt.from), Progress: bar.Set})
	bar.Finish()
	if errors.Is(err, adopt.ErrNotEmpty) {
		return fmt.Errorf("%w (BCREG_EVENT_DB_URL=%s): adopt into a new event database, or pass --force", err, cfg.EventDB.URL)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "adopted: %d of %d credentials imported (%s), %d of %d work items; watermark event %d at %s (BC local)%s; %d look-back events recorded as seen\n",
		res.Imported, res.Credentials, statusCounts(res.ByStatus), res.WorkItemsImported, res.WorkItems, res.Watermark.EventID,
		res.Watermark.Date, keptNote(res, wm), len(window))
	if pub != nil {
		if _, err := pub(res.Requeue); err != nil {
			return fmt.Errorf("adopted, but the %d corporations the original left queued or failed on were not requeued (%w): run `bcregctl requeue corp %s`",
				len(res.Requeue), err, strings.Join(res.Requeue, " "))
		}
		fmt.Fprintf(out, "requeued %s\n", requeueSummary(res.Queued, res.Failed, res.Requeue))
		rep.Requeued = nonNil(res.Requeue)
	}
	if n := res.ByStatus[delivery.Rejected]; n > 0 {
		fmt.Fprintf(out, "%d credentials the original's agent rejected (N) stay failed: see `bcregctl status`, and re-post them with `bcregctl requeue failed` once the cause is fixed\n", n)
	}
	fmt.Fprintf(out, "next: set BCREG_PROFILE=%s (the original's generator) and start the services; the first poll continues from the watermark\n", profile)
	rep.Imported, rep.ByStatus, rep.WorkItemsImported = res.Imported, res.ByStatus, res.WorkItemsImported
	// The watermark kept, when the event database's was already later.
	rep.WatermarkEventID, rep.WatermarkEventDate = res.Watermark.EventID, regclock.WithOffset(regclock.Registry, res.Watermark.Date.Time)
	return adoptJSON(e, opt, rep)
}

// adoptJSON writes the report when --json asked for it.
func adoptJSON(e *env, opt adoptOpts, rep adoptReport) error {
	if !opt.asJSON {
		return nil
	}
	return writeJSON(e.stdout, rep)
}

// statusCounts formats an adoption's credentials by status.
func statusCounts(by map[string]int64) string {
	var parts []string
	for _, s := range []string{"Y", "N", "D", "A", "outstanding"} {
		if n := by[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", s, n))
		}
	}
	return strings.Join(parts, ", ")
}

// keptNote says when the event database's later watermark was kept over
// the original's (it never moves back).
func keptNote(res adopt.Result, orig regevent.Position) string {
	if !res.WatermarkKept {
		return ""
	}
	return fmt.Sprintf(", kept: later than the original's event %d at %s", orig.EventID, orig.Date)
}

// requeueSummary says which corporations an adoption requeues and why.
func requeueSummary(queued, failed, all []string) string {
	return fmt.Sprintf("%d corporations (%d the original left queued, %d it failed on): %s", len(all), len(queued), len(failed), strings.Join(all, " "))
}
