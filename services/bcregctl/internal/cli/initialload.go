package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/discovery"
	"github.com/bcgov/bcreg-events/pkg/eventdb/operator"
	"github.com/bcgov/bcreg-events/pkg/initload"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/regclock"
	"github.com/bcgov/bcreg-events/pkg/sourcedb"
)

func init() {
	register("initial-load", "run (or resume, or re-run) the initial load under the poller's lock, with progress", runInitialLoad)
}

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

func runInitialLoad(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "initial-load", "[--page N] [--wait] [--yes]",
		"BCREG_SOURCE_DB_URL, BCREG_EVENT_DB_URL, BCREG_NATS_URL, BCREG_POLL_LOOKBACK, BCREG_INITIAL_LOAD_PAGE, BCREG_POLL_PUBLISH_TIMEOUT")
	page := fs.Int("page", 0, "corporations published (and progress recorded) per step (default BCREG_INITIAL_LOAD_PAGE)")
	wait := fs.Bool("wait", false, "wait for the active event-poller to release the poller lock instead of failing")
	yes := fs.Bool("yes", false, "confirm a re-run over an existing watermark (every corporation is published again)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	var cfg initialLoadConfig
	if err := config.Load(&cfg); err != nil {
		return err
	}
	if *page > 0 {
		cfg.Page = *page
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
	_, unfinished, err := discovery.UnfinishedInitialLoad(ctx, pool, system)
	if err != nil {
		return err
	}
	if wm, ok, err := discovery.CurrentWatermark(ctx, pool, system); err != nil {
		return err
	} else if ok && !unfinished && !*yes {
		return fmt.Errorf("%w: the watermark exists (event %d): a re-run publishes every corporation again (nothing unchanged is issued); add --yes",
			errUsage, wm.EventID)
	}
	lock, err := takePollerLock(ctx, e, pool, *wait)
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

	bar := newProgress(e.stderr)
	run, err := initload.Run(ctx, initload.Options{
		System: system, Source: src, EventDB: lock.Conn(), LookBack: cfg.LookBack, Page: cfg.Page,
		Now: regclock.Now,
		Publish: func(ctx context.Context, msgs []bus.Outgoing) error {
			return bus.PublishRounds(ctx, js, msgs, bus.RoundOptions{Timeout: cfg.PublishTimeout, Backoff: cfg.Backoff,
				OnStall: func(waiting, attempt int, lastErr error) {
					bar.note(fmt.Sprintf("%s did not accept %d CorpEvents in time (stream full or NATS unreachable; attempt %d): %v; retrying",
						bus.StreamEvents, waiting, attempt, lastErr))
				}})
		},
		OnProgress: bar.update,
		Log:        e.log,
	})
	bar.done()
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
	fmt.Fprintf(e.stdout, "initial load run %d finished: %d corporations published; watermark event %d at %s\n",
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

// progress shows a load's advance: a bar redrawn in place on a terminal,
// a plain line every few seconds otherwise (logs, pipes, CI).
type progress struct {
	w      io.Writer
	tty    bool
	last   time.Time
	drawn  bool
	latest initload.Progress
}

func newProgress(w io.Writer) *progress {
	return &progress{w: w, tty: isTerminal(w)}
}

// lineEvery is how often a plain progress line is written.
const lineEvery = 5 * time.Second

func (p *progress) update(pr initload.Progress) {
	p.latest = pr
	if p.tty {
		const width = 30
		frac := 0.0
		if pr.Total > 0 {
			frac = float64(pr.Published) / float64(pr.Total)
		}
		n := int(frac * width)
		fmt.Fprintf(p.w, "\r[%s%s] %5.1f%% %d/%d corporations, %.0f/s, ETA %s   ", strings.Repeat("#", n), strings.Repeat(".", width-n),
			frac*100, pr.Published, pr.Total, pr.PerSecond, pr.ETA.Round(time.Second))
		p.drawn = true
		return
	}
	if !pr.Finished && time.Since(p.last) < lineEvery {
		return
	}
	p.last = time.Now()
	fmt.Fprintf(p.w, "initial load run %d: %d of %d corporations published (%.0f/s, ETA %s, last %s)\n",
		pr.RunID, pr.Published, pr.Total, pr.PerSecond, pr.ETA.Round(time.Second), pr.LastCorpNum)
}

// note writes a message without garbling the bar.
func (p *progress) note(msg string) {
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
	fmt.Fprintln(p.w, msg)
}

func (p *progress) done() {
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
