// Package poller is the event-poller service: discovery of changed
// corporations in the registry and their publication as CorpEvents.
//
// Replicas may run; only the holder of the poller's PostgreSQL advisory
// lock polls (the others retry the lock every BCREG_POLL_LOCK_RETRY and take
// over when the holder's session ends). The holder runs cycles: the initial
// load while no watermark exists, then a poll of the events since the
// watermark minus the look-back, then the future-dated re-queues that have
// come due, then the rows the operators' manage script changed by hand.
// Every write to the event database goes through the lock's own
// connection, so a poller that lost its lock cannot move the watermark
// (the outbox of credentials reset by hand is published on the
// connection that holds those corporations' locks, as the builders do).
//
// While it holds the lock the poller is also the pipeline's one alerting
// owner (package alert: thresholds evaluated every BCREG_ALERT_INTERVAL,
// failed polls reported, posted to BCREG_WEBHOOK_URL) and prunes
// corp_history_log when BCREG_HISTORY_RETENTION is set and audits OrgBook
// at BCREG_AUDIT_SCHEDULE; a standby does none of it, so two replicas send
// one alert, not two.
package poller

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/audit"
	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/daemon"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/discovery"
	"github.com/bcgov/bcreg-events/pkg/lifecycle"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/services/event-poller/internal/alert"
)

// Config is the event-poller's configuration (variables BCREG_*).
type Config struct {
	config.Logging
	config.HTTP
	config.NATS
	bus.Topology
	bus.Backoff
	config.EventDB
	config.SourceDB
	Poll
	alert.Config
	Audit

	// Once runs one cycle and exits (the --once flag, for cron-style runs).
	Once bool `ignored:"true"`
}

// Initial-load modes (BCREG_INITIAL_LOAD).
const (
	InitialLoadAuto = "auto" // load every corporation on first start
	InitialLoadSkip = "skip" // start from the newest event
)

// Poll holds the poller's own settings.
type Poll struct {
	Interval    time.Duration `envconfig:"POLL_INTERVAL" default:"30s"`
	LookBack    time.Duration `envconfig:"POLL_LOOKBACK" default:"10m"`
	InitialLoad string        `envconfig:"INITIAL_LOAD" default:"auto"`
	// LoadPage is how many corporations the initial load publishes (and
	// records its progress) at a time.
	LoadPage int `envconfig:"INITIAL_LOAD_PAGE" default:"1000"`
	// LockRetry is how often a standby replica tries the poller lock: the
	// longest a dead holder goes unreplaced (after PostgreSQL ends its
	// session).
	LockRetry time.Duration `envconfig:"POLL_LOCK_RETRY" default:"2s"`
	// WarnCorps and ErrorCorps are the corporations-per-poll thresholds of
	// a warning and an error log (the poll proceeds either way).
	WarnCorps  int `envconfig:"POLL_WARN_CORPS" default:"10000"`
	ErrorCorps int `envconfig:"POLL_ERROR_CORPS" default:"100000"`
	// PublishTimeout bounds one publishing attempt; a full stream or an
	// unreachable NATS is retried after it, for as long as it takes.
	PublishTimeout time.Duration `envconfig:"POLL_PUBLISH_TIMEOUT" default:"30s"`
	// HistoryRetention, when set, makes the active poller delete
	// corp_history_log snapshots older than this every PruneInterval,
	// keeping each corporation's latest (0: keep everything).
	HistoryRetention time.Duration `envconfig:"HISTORY_RETENTION" default:"0"`
	PruneInterval    time.Duration `envconfig:"PRUNE_INTERVAL" default:"1h"`
	// Profile is the credential profile of credentials stored without one
	// that the poller publishes again after a reset by hand ("": history).
	Profile string `envconfig:"PROFILE" default:"history"`
}

// Validate checks the poller's settings.
func (p Poll) Validate() error {
	var errs []error
	if p.Interval < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("BCREG_POLL_INTERVAL=%v: want at least 100ms", p.Interval))
	}
	if p.LookBack < 0 {
		errs = append(errs, fmt.Errorf("BCREG_POLL_LOOKBACK=%v: must not be negative", p.LookBack))
	}
	if p.InitialLoad != InitialLoadAuto && p.InitialLoad != InitialLoadSkip {
		errs = append(errs, fmt.Errorf("BCREG_INITIAL_LOAD=%q: want %q or %q", p.InitialLoad, InitialLoadAuto, InitialLoadSkip))
	}
	if p.LoadPage < 1 || p.LoadPage > 100000 {
		errs = append(errs, fmt.Errorf("BCREG_INITIAL_LOAD_PAGE=%d: want 1 to 100000", p.LoadPage))
	}
	if p.LockRetry < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("BCREG_POLL_LOCK_RETRY=%v: want at least 10ms", p.LockRetry))
	}
	if p.WarnCorps < 1 || p.ErrorCorps < p.WarnCorps {
		errs = append(errs, fmt.Errorf("BCREG_POLL_WARN_CORPS=%d, BCREG_POLL_ERROR_CORPS=%d: want 1 <= warn <= error", p.WarnCorps, p.ErrorCorps))
	}
	if p.PublishTimeout < time.Second {
		errs = append(errs, fmt.Errorf("BCREG_POLL_PUBLISH_TIMEOUT=%v: want at least 1s", p.PublishTimeout))
	}
	if p.HistoryRetention < 0 {
		errs = append(errs, fmt.Errorf("BCREG_HISTORY_RETENTION=%v: must not be negative (0 keeps everything)", p.HistoryRetention))
	}
	if p.Profile != "" && p.Profile != "history" && p.Profile != "snapshot" {
		errs = append(errs, fmt.Errorf("BCREG_PROFILE=%q: want history or snapshot", p.Profile))
	}
	if p.PruneInterval < time.Second {
		errs = append(errs, fmt.Errorf("BCREG_PRUNE_INTERVAL=%v: want at least 1s", p.PruneInterval))
	}
	return errors.Join(errs...)
}

// system is the source system this poller reads (COLIN).
const system = messages.SystemBCReg

// Run runs the service until ctx ends (or, with Once, for one cycle). The
// service passes no options.
func Run(ctx context.Context, cfg Config, log *zap.Logger, opts ...Option) error {
	var h Hooks
	for _, o := range opts {
		o(&h)
	}
	if h.Now == nil {
		h.Now = time.Now
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	worker := func(wctx context.Context, deps daemon.Deps) error {
		s := newService(cfg, deps, h)
		err := s.run(wctx)
		if cfg.Once && err == nil {
			stop() // one cycle done: shut the frame down (an error does so itself)
		}
		return err
	}
	return daemon.Run(ctx, log, daemon.Options{
		Name: "event-poller", HTTP: cfg.HTTP, NATS: &cfg.NATS, Topology: &cfg.Topology,
		EventDB: &cfg.EventDB, SourceDB: &cfg.SourceDB, Backoff: cfg.Backoff, Now: h.Now,
	}, worker)
}

// Option changes how Run runs the poller. The service passes none; the
// tests in services/event-poller/test use WithHooks.
type Option func(*Hooks)

// Hooks let a caller observe the poller and stop it at chosen points, as a
// crash would. Nil fields do nothing.
type Hooks struct {
	// Now returns the instant now (default: the clock); BC local wall
	// times are derived from it by the registry's clock (regclock), and
	// the poll loop's heartbeat (/livez) is judged by it.
	Now func() time.Time
	// AfterPublish runs after a step's PubAcks, before its database write;
	// an error abandons the cycle there. step is StepPoll, StepLoadPage or
	// StepFuture.
	AfterPublish func(step string) error
	// OnCycle runs when an active poller starts a cycle.
	OnCycle func()
	// Pace, when set, replaces the wait of BCREG_POLL_INTERVAL between
	// cycles: the next cycle starts when it returns. Cycled receives each
	// cycle's outcome. Together they let a caller step the poller.
	Pace   func(ctx context.Context)
	Cycled func(err error)
	// Standby runs each time a replica finds the poller lock held by
	// another; Evaluated after each alert evaluation's reading of the
	// pipeline (the previous evaluation is then complete).
	Standby, Evaluated func()
	// AuditDue, when set, replaces the wait for BCREG_AUDIT_SCHEDULE: the
	// scheduled audit runs each time it returns true (false stops the
	// schedule); Audited receives each scheduled audit's outcome.
	AuditDue func(ctx context.Context) bool
	Audited  func(rep *audit.Report, err error)
}

// WithHooks runs the poller with h.
func WithHooks(h Hooks) Option { return func(dst *Hooks) { *dst = h } }

// Steps of a cycle after whose PubAcks Hooks.AfterPublish runs.
const (
	StepPoll     = "poll"      // a poll's CorpEvents, before the watermark moves
	StepLoadPage = "load-page" // a page of the initial load, before its progress is recorded
	StepFuture   = "future"    // due future-dated re-queues, before they are marked published
)

// service is one poller replica.
type service struct {
	cfg   Config
	log   *zap.Logger
	js    jetstream.JetStream
	edb   *pgxpool.Pool
	src   *pgxpool.Pool
	hooks Hooks
	m     *metrics
	// refused holds the reason the last poll was refused, for /readyz.
	refused atomic.Pointer[error]
	// alerts are the alerting series; monitor is the alert monitor while
	// this replica is active (nil on a standby).
	alerts  *alert.Metrics
	monitor atomic.Pointer[alert.Monitor]
	// beat is the poll loop's heartbeat for /livez: it beats on each lock
	// attempt, cycle, initial-load page and publishing round, and pauses
	// while the loop waits for its next turn.
	beat   *lifecycle.Heartbeat
	auditM *auditMetrics
	// seen are the window's events known to be in event_seen, for this
	// replica's lock tenure (rows leave event_seen only beyond the
	// look-back horizon while a poller runs: seenSet).
	seen seenSet
}

func newService(cfg Config, deps daemon.Deps, h Hooks) *service {
	s := &service{cfg: cfg, log: deps.Log, js: deps.JS, edb: deps.EventDB, src: deps.SourceDB, hooks: h,
		m: newMetrics(deps.Health.Registry()), alerts: alert.NewMetrics(deps.Health.Registry()),
		beat: deps.Health.Heartbeat("poll loop (event-poller)"), auditM: newAuditMetrics(deps.Health.Registry())}
	deps.Health.AddCheck("watermark", func(context.Context) error {
		if p := s.refused.Load(); p != nil {
			return *p
		}
		return nil
	})
	return s
}

// errLockHeld reports that another replica is the active poller.
var errLockHeld = errors.New("another event-poller holds the poller lock")

// errLockLost reports that the lock's connection died: another replica may
// be active now.
var errLockLost = errors.New("poller lock lost (its database session ended)")

// run alternates between standing by for the lock and polling while
// holding it, until ctx ends. With Once it makes one attempt.
func (s *service) run(ctx context.Context) error {
	key := eventdb.LockKey(eventdb.LockPoller, system)
	for {
		lock, err := s.acquire(ctx, key)
		if err != nil || lock == nil {
			return err // ctx ended, or Once and the lock is held
		}
		s.m.active.Set(1)
		s.seen = seenSet{}
		s.log.Info("active poller: holding the poller lock")
		err = s.lead(ctx, lock)
		lock.Release(context.WithoutCancel(ctx))
		s.m.active.Set(0)
		if s.cfg.Once || ctx.Err() != nil {
			return err
		}
		s.log.Warn("no longer the active poller; standing by", zap.Error(err))
	}
}

// acquire tries the lock every LockRetry until it is taken or ctx ends.
func (s *service) acquire(ctx context.Context, key int64) (*eventdb.SessionLock, error) {
	logged := false
	for {
		s.beat.Beat()
		lock, ok, err := eventdb.TryLock(ctx, s.edb, key)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("poller lock: event database unreachable", zap.Error(err))
		case ok:
			// A holder that vanishes without closing its connection loses
			// the lock within about half a minute, not hours.
			if kerr := eventdb.KeepAliveSession(ctx, lock.Conn()); kerr != nil {
				s.log.Warn("poller lock: keepalive settings not applied", zap.Error(kerr))
			}
			return lock, nil
		case s.cfg.Once:
			return nil, fmt.Errorf("event-poller --once: %w; nothing done", errLockHeld)
		default:
			if !logged {
				s.log.Info("standby: another event-poller is active")
				logged = true
			}
			if err == nil && s.hooks.Standby != nil {
				s.hooks.Standby()
			}
		}
		s.beat.Pause()
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(s.cfg.LockRetry):
		}
	}
}

// lead runs cycles while the lock is held, with the alert monitor and the
// retention beside them.
func (s *service) lead(ctx context.Context, lock *eventdb.SessionLock) error {
	stop := s.startOwnerDuties(ctx)
	defer stop()
	s.report(ctx, alert.KeyLeader, alert.Info, fmt.Sprintf("event-poller %s is now the active poller", replicaName()))
	for {
		s.beat.Beat()
		if !lock.Alive(ctx) {
			if ctx.Err() != nil {
				return nil
			}
			return errLockLost
		}
		err := s.cycle(ctx, lock.Conn())
		s.beat.Beat()
		if s.hooks.Cycled != nil {
			s.hooks.Cycled(err)
		}
		if s.cfg.Once {
			return err
		}
		if err != nil && ctx.Err() == nil {
			s.log.Error("poll cycle failed; retrying next interval", zap.Error(err))
			s.report(ctx, alert.KeyPoll, alert.Error, "event-poller: poll cycle failed (retried every BCREG_POLL_INTERVAL): "+err.Error())
		}
		s.beat.Pause() // waiting for the next turn is not being stuck
		if s.hooks.Pace != nil {
			s.hooks.Pace(ctx)
		} else {
			select {
			case <-ctx.Done():
			case <-time.After(s.cfg.Interval):
			}
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// cycle runs the initial load when no watermark exists, then a poll, then
// the due future-dated re-queues, then the rows changed by hand (the
// manage script's SQL). edb is the lock's connection.
func (s *service) cycle(ctx context.Context, edb *pgxpool.Conn) error {
	if s.hooks.OnCycle != nil {
		s.hooks.OnCycle()
	}
	wm, ok, err := discovery.CurrentWatermark(ctx, edb, system)
	if err != nil {
		s.m.polls.WithLabelValues("error").Inc()
		return err
	}
	if !ok {
		if err := s.start(ctx, edb); err != nil {
			s.m.polls.WithLabelValues("error").Inc()
			return err
		}
		if wm, ok, err = discovery.CurrentWatermark(ctx, edb, system); err != nil || !ok {
			return err // no events in the registry yet: nothing to poll
		}
	}
	if err := s.poll(ctx, edb, wm); err != nil {
		return err
	}
	if err := s.requeueFuture(ctx, edb); err != nil {
		return err
	}
	return s.handChanged(ctx, edb, wm)
}

// start sets the first watermark: by an initial load (resuming an
// unfinished one), or, with BCREG_INITIAL_LOAD=skip, at the newest event.
func (s *service) start(ctx context.Context, edb *pgxpool.Conn) error {
	if s.cfg.InitialLoad == InitialLoadSkip {
		return s.skipLoad(ctx, edb)
	}
	return s.initialLoad(ctx, edb)
}
