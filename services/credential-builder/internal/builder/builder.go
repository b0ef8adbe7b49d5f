// Package builder is the credential-builder service: CorpEvents in,
// credentials stored (the outbox) and CredentialBundles out.
//
// Each handler call takes a batch of up to BCREG_BUILDER_BATCH messages from
// the shared durable consumer, coalesces the messages of one corporation
// into one unit (the widest event range), and then, under the advisory locks
// of the batch's corporations (rule 5), loads their snapshots in one go,
// generates their credentials, stores work items, changed snapshots and new
// credentials in one transaction (rule 4's outbox), publishes one bundle per
// corporation with every unpublished, due credential, marks them published
// and lets the consume loop ack. A sweep republishes what a crash or a full
// stream left unpublished.
package builder

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/credential"
	"github.com/bcgov/bcreg-events/pkg/daemon"
	"github.com/bcgov/bcreg-events/pkg/lifecycle"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/outbox"
	"github.com/bcgov/bcreg-events/pkg/sourcedb"
)

// Config is the credential-builder's configuration (variables BCREG_*).
type Config struct {
	config.Logging
	config.HTTP
	config.NATS
	bus.Topology
	bus.Backoff
	config.EventDB
	config.SourceDB
	Build
}

// Build holds the builder's own settings.
type Build struct {
	// Profile is the credential profile (generator version): snapshot or
	// history (docs/profiles.md; choose before the initial load and keep).
	Profile string `envconfig:"PROFILE" default:"history"`
	// PostAddresses posts address credentials instead of holding them back.
	PostAddresses bool `envconfig:"POST_ADDRESSES" default:"false"`
	// BatchSize is the most messages one handler call takes.
	BatchSize int `envconfig:"BUILDER_BATCH" default:"200"`
	// BatchWait is how long a batch begun by a message arriving at an
	// idle builder waits to fill (0: it takes what is waiting by then;
	// waiting messages never wait for more). Off by default: every second
	// of it is a second from commit to OrgBook.
	BatchWait time.Duration `envconfig:"BUILDER_BATCH_WAIT" default:"0s"`
	// Workers is how many batches one replica handles at once.
	Workers int `envconfig:"BUILDER_WORKERS" default:"2"`
	// PublishTimeout bounds the publishing of a batch's bundles; what is
	// not acknowledged by then stays in the outbox and its messages are
	// redelivered after a back-off.
	PublishTimeout time.Duration `envconfig:"BUILDER_PUBLISH_TIMEOUT" default:"10s"`
	// SweepInterval is how often the outbox is swept; SweepAge is how old
	// an unpublished credential must be before the sweep takes it over,
	// and how long ago a credential whose bundle is gone must have been
	// published before the sweep releases it.
	SweepInterval time.Duration `envconfig:"BUILDER_SWEEP_INTERVAL" default:"30s"`
	SweepAge      time.Duration `envconfig:"BUILDER_SWEEP_AGE" default:"1m"`
	// LockWait bounds the wait for corporations another batch holds; past
	// it the batch is retried later rather than holding its own locks.
	LockWait time.Duration `envconfig:"BUILDER_LOCK_WAIT" default:"1m"`
}

// Validate checks the builder's settings.
func (b Build) Validate() error {
	var errs []error
	if b.Profile != credential.ProfileSnapshot && b.Profile != credential.ProfileHistory {
		errs = append(errs, fmt.Errorf("BCREG_PROFILE=%q: want %q or %q", b.Profile, credential.ProfileSnapshot, credential.ProfileHistory))
	}
	if b.BatchSize < 1 || b.BatchSize > 5000 {
		errs = append(errs, fmt.Errorf("BCREG_BUILDER_BATCH=%d: want 1 to 5000", b.BatchSize))
	}
	if b.BatchWait < 0 || b.BatchWait > time.Second {
		errs = append(errs, fmt.Errorf("BCREG_BUILDER_BATCH_WAIT=%v: want 0 to 1s", b.BatchWait))
	}
	if b.Workers < 1 || b.Workers > 64 {
		errs = append(errs, fmt.Errorf("BCREG_BUILDER_WORKERS=%d: want 1 to 64", b.Workers))
	}
	if b.PublishTimeout < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("BCREG_BUILDER_PUBLISH_TIMEOUT=%v: want at least 100ms", b.PublishTimeout))
	}
	if b.SweepInterval < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("BCREG_BUILDER_SWEEP_INTERVAL=%v: want at least 10ms", b.SweepInterval))
	}
	if b.LockWait < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("BCREG_BUILDER_LOCK_WAIT=%v: want at least 100ms", b.LockWait))
	}
	if b.SweepAge < 0 {
		errs = append(errs, fmt.Errorf("BCREG_BUILDER_SWEEP_AGE=%v: must not be negative", b.SweepAge))
	}
	return errors.Join(errs...)
}

// ValidateConfig checks settings across sub-configs.
func (c Config) ValidateConfig() error {
	var errs []error
	if c.Workers*c.BatchSize > c.MaxAckPending {
		errs = append(errs, fmt.Errorf("BCREG_BUILDER_WORKERS × BCREG_BUILDER_BATCH = %d exceeds BCREG_JS_MAX_ACK_PENDING=%d: the consumer could not hand every worker a full batch",
			c.Workers*c.BatchSize, c.MaxAckPending))
	}
	if c.PublishTimeout >= c.BuilderAckWait {
		errs = append(errs, fmt.Errorf("BCREG_BUILDER_PUBLISH_TIMEOUT=%v: want less than BCREG_JS_BUILDER_ACK_WAIT=%v", c.PublishTimeout, c.BuilderAckWait))
	}
	return errors.Join(errs...)
}

// system is the source system this builder reads (COLIN).
const system = messages.SystemBCReg

// Run runs the service until ctx ends. The service passes no options.
func Run(ctx context.Context, cfg Config, log *zap.Logger, opts ...Option) error {
	var h Hooks
	for _, o := range opts {
		o(&h)
	}
	if h.Now == nil {
		h.Now = time.Now
	}
	profile, err := credential.New(cfg.Profile, credential.Options{PostAddresses: cfg.PostAddresses, Log: log})
	if err != nil {
		return fmt.Errorf("BCREG_PROFILE: %w", err)
	}
	// The two workers share one service, made when the first starts.
	var (
		once sync.Once
		s    *service
	)
	get := func(deps daemon.Deps) *service {
		once.Do(func() { s = newService(cfg, deps, profile, h) })
		return s
	}
	consume := func(ctx context.Context, deps daemon.Deps) error { return get(deps).consume(ctx) }
	sweep := func(ctx context.Context, deps daemon.Deps) error { return get(deps).sweepLoop(ctx) }
	return daemon.Run(ctx, log, daemon.Options{
		Name: "credential-builder", HTTP: cfg.HTTP, NATS: &cfg.NATS, Topology: &cfg.Topology,
		EventDB: &cfg.EventDB, SourceDB: &cfg.SourceDB, Backoff: cfg.Backoff, RunMover: true,
		// Two connections per worker, the outbox sweep, the dlq-mover and the
		// health check.
		EventDBPoolSize: 2*cfg.Workers + 3,
		Now:             h.Now,
	}, consume, sweep)
}

// Option changes how Run runs the builder. The service passes none; the
// tests in services/credential-builder/test use WithHooks.
type Option func(*Hooks)

// Hooks let a caller observe the builder and stop it at chosen points, as
// a crash would. An error returned by a hook abandons the batch there. Nil
// fields do nothing.
type Hooks struct {
	// Now returns the instant now (default: time.Now); "now" on the
	// registry's clock is read from it (regclock.At).
	Now func() time.Time
	// Locked runs while a batch holds its corporations' locks (before
	// loading); Unlocked just before they are released.
	Locked, Unlocked func(corpNums []string)
	// BeforeCommit runs inside the write transaction; AfterCommit after it;
	// AfterPublish after the bundles' PubAcks, before they are marked.
	BeforeCommit, AfterCommit, AfterPublish func() error
}

// WithHooks runs the builder with h.
func WithHooks(h Hooks) Option { return func(dst *Hooks) { *dst = h } }

// service is one builder replica.
type service struct {
	cfg     Config
	log     *zap.Logger
	js      jetstream.JetStream
	edb     *pgxpool.Pool
	loader  *sourcedb.Loader
	profile credential.Profile
	hooks   Hooks
	m       *metrics
	// beat is the consume loop's heartbeat for /livez.
	beat *lifecycle.Heartbeat
	// maxBytes is the largest bundle: below the server's max payload.
	maxBytes int
}

func newService(cfg Config, deps daemon.Deps, profile credential.Profile, h Hooks) *service {
	var opts []sourcedb.Option
	if profile.Name() == credential.ProfileSnapshot {
		opts = append(opts, sourcedb.CurrentOnly()) // all the 2018 generator reads
	}
	return &service{cfg: cfg, log: deps.Log, js: deps.JS, edb: deps.EventDB,
		loader: sourcedb.NewLoader(deps.SourceDB, deps.Log, opts...), profile: profile, hooks: h,
		m: newMetrics(deps.Health.Registry()), maxBytes: outbox.MaxBytesFor(deps.JS),
		beat: deps.Health.Heartbeat("consume BCREG_EVENTS (credential-builder)")}
}

// consume runs the shared consume loop on BCREG_EVENTS until ctx ends.
func (s *service) consume(ctx context.Context) error {
	s.log.Info("consuming CorpEvents", zap.String("profile", s.profile.Name()), zap.Int("batch", s.cfg.BatchSize),
		zap.Int("workers", s.cfg.Workers))
	return bus.Consume(ctx, s.js, s.log, bus.ConsumeOptions{
		Stream: bus.StreamEvents, Consumer: bus.ConsumerBuilder, Stage: messages.StageBuilder,
		Workers: s.cfg.Workers, BatchSize: s.cfg.BatchSize, BatchWait: s.cfg.BatchWait,
		MaxDeliver: s.cfg.BuilderMaxDeliver, AckWait: s.cfg.BuilderAckWait, Backoff: s.cfg.Backoff,
		Heartbeat: s.beat.Beat,
	}, s.handle)
}
