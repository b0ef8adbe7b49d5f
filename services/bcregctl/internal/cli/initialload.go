package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/discovery"
	"github.com/bcgov/bcreg-events/pkg/eventdb/operator"
	"github.com/bcgov/bcreg-events/pkg/initload"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/progress"
	"github.com/bcgov/bcreg-events/pkg/regclock"
	"github.com/bcgov/bcreg-events/pkg/sourcedb"
)

func init() { register(newInitialLoad) }

// initialLoadConfig reads the poller's settings of the load, so the
// command and the poller load alike.
type initialLoadConfig struct {
	config.NATS
	config.EventDB
	config.SourceDB
	bus.Backoff
	LookBack       time.Duration `envconfig:"POLL_LOOKBACK" default:"10m"`
	Page           int           `envconfig:"INITIAL_LOAD_PAGE" default:"1000"`
	PublishTimeout time.Duration `envconfig:"POLL_PUBLISH_TIMEOUT" default:"30s"`
}

type initialLoadOpts struct {
	page              int
	wait, yes, asJSON bool
}

// initialLoadResult is initial-load's --json answer.
type initialLoadResult struct {
	RunID     int64 `json:"run_id"`
	Resumed   bool  `json:"resumed"`
	Published int64 `json:"published"`
	Total     int64 `json:"total"`
	// WatermarkEventDate is the registry's BC local clock, with its offset.
	WatermarkEventID   int64     `json:"watermark_event_id"`
	WatermarkEventDate time.Time `json:"watermark_event_date"`
}

func newInitialLoad(e *env) *cobra.Command {
	var o initialLoadOpts
	c := &cobra.Command{
		Use:   "initial-load [--page N] [--wait] [--yes] [--json]",
		Short: "run (or resume, or re-run) the initial load under the poller's lock, with progress",
		Long: settings(`Publish a CorpEvent for every corporation in the registry, under the
event-poller's lock, resuming an unfinished run where it stopped. Progress goes
to stderr: a bar on a terminal, a line every few seconds otherwise.`,
			"BCREG_SOURCE_DB_URL, BCREG_EVENT_DB_URL, BCREG_NATS_URL, BCREG_POLL_LOOKBACK, BCREG_INITIAL_LOAD_PAGE, BCREG_POLL_PUBLISH_TIMEOUT"),
		Example: `  bcregctl initial-load --wait
  bcregctl initial-load --yes --json   # a re-run over an existing watermark`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error { return runInitialLoad(c.Context(), e, o) },
	}
	f := c.Flags()
	f.IntVar(&o.page, "page", 0, "corporations published (and progress recorded) per step (default BCREG_INITIAL_LOAD_PAGE)")
	f.BoolVar(&o.wait, "wait", false, "wait for the active event-poller to release the poller lock instead of failing")
	f.BoolVar(&o.yes, "yes", false, "confirm a re-run over an existing watermark (every corporation is published again)")
	f.BoolVar(&o.asJSON, "json", false, "print the result as JSON")
	return c
}

func runInitialLoad(ctx context.Context, e *env, o initialLoadOpts) error {
	var cfg initialLoadConfig
	if err := config.Load(&cfg); err != nil {
		return err
	}
	if o.page > 0 {
		cfg.Page = o.page
	}
	pool, err := eventdb.Open(ctx, cfg.EventDB.URL.Value(), "BCREG_EVENT_DB_URL")
	if err != nil {
		return err
	}
	defer pool.Close()
	src, err := sourcedb.Open(ctx, cfg.SourceDB.URL.Value(), "BCREG_SOURCE_DB_URL")
	if err != nil {
		return err
	}
	defer src.Close()

	system := messages.SystemBCReg
	prev, unfinished, err := discovery.UnfinishedInitialLoad(ctx, pool, system)
	if err != nil {
		return err
	}
	if wm, ok, err := discovery.CurrentWatermark(ctx, pool, system); err != nil {
		return err
	} else if ok && !unfinished && !o.yes {
		return fmt.Errorf("%w: the watermark exists (event %d): a re-run publishes every corporation again (nothing unchanged is issued); add --yes",
			errUsage, wm.EventID)
	}
	lock, err := takePollerLock(ctx, e, pool, o.wait)
	if err != nil {
		return err
	}
	defer lock.Release(context.WithoutCancel(ctx))
	if err := eventdb.KeepAliveSession(ctx, lock.Conn()); err != nil {
		e.log.Warn("poller lock: keepalive settings not applied")
	}
	nc, js, err := bus.Connect(ctx, cfg.NATS, "bcregctl-initial-load", e.log)
	if err != nil {
		return err
	}
	defer nc.Close()

	// A resumed run's earlier progress counts toward the total, not the rate.
	bar := progress.New(e.stderr, "initial load", "corporations", prev.Total, progress.Options{Done: prev.Published})
	run, err := initload.Run(ctx, initload.Options{
		System: system, Source: src, EventDB: lock.Conn(), LookBack: cfg.LookBack, Page: cfg.Page,
		Now: regclock.Now,
		Publish: func(ctx context.Context, msgs []bus.Outgoing) error {
			return bus.PublishRounds(ctx, js, msgs, bus.RoundOptions{Timeout: cfg.PublishTimeout, Backoff: cfg.Backoff,
				OnStall: func(waiting, attempt int, lastErr error) {
					bar.Note(fmt.Sprintf("%s did not accept %d CorpEvents in time (stream full or NATS unreachable; attempt %d): %v; retrying",
						bus.StreamEvents, waiting, attempt, lastErr))
				}})
		},
		OnProgress: func(p initload.Progress) {
			bar.SetTotal(p.Total)
			bar.Set(p.Published)
		},
		Log: e.log,
	})
	bar.Finish()
	if errors.Is(err, initload.ErrNoEvents) {
		return fmt.Errorf("initial load: %w (BCREG_SOURCE_DB_URL=%s)", err, cfg.SourceDB.URL)
	}
	if err != nil {
		return err
	}
	if _, err := operator.RecordAction(ctx, pool, "initial-load", fmt.Sprintf("%s run %d", system, run.RunID), run.Published,
		map[string]any{"run_id": run.RunID, "watermark_event_id": run.Watermark.EventID, "total": run.Total, "resumed": unfinished}); err != nil {
		return err
	}
	if o.asJSON {
		return writeJSON(e.stdout, initialLoadResult{RunID: run.RunID, Resumed: unfinished, Published: run.Published, Total: run.Total,
			WatermarkEventID: run.Watermark.EventID, WatermarkEventDate: regclock.WithOffset(regclock.Registry, run.Watermark.Date.Time)})
	}
	fmt.Fprintf(e.stdout, "initial load run %d finished: %d corporations published; watermark event %d at %s (BC local)\n",
		run.RunID, run.Published, run.Watermark.EventID, run.Watermark.Date)
	return nil
}

// takePollerLock takes the event-poller's advisory lock, so the load never
// overlaps an active poller (or another load).
func takePollerLock(ctx context.Context, e *env, pool *pgxpool.Pool, wait bool) (*eventdb.SessionLock, error) {
	key := eventdb.LockKey(eventdb.LockPoller, messages.SystemBCReg)
	told := false
	for {
		lock, ok, err := eventdb.TryLock(ctx, pool, key)
		if err != nil {
			return nil, err
		}
		if ok {
			return lock, nil
		}
		if !wait {
			return nil, errors.New("the poller lock is held by an active event-poller (or another initial load): scale the event-pollers to 0 first, or pass --wait")
		}
		if !told {
			fmt.Fprintln(e.stderr, "initial-load: waiting for the poller lock (an event-poller is active)…")
			told = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}
