// Package daemon runs the common frame of every long-running service: it
// connects to what the service needs (NATS and the topology, the event
// database and its migrations, the source database), serves the side port
// with readiness checks on each, runs the service's workers, and shuts down
// in the order of docs/design/rules.md rule 9 within a deadline: readiness false,
// stop pulling, let in-flight work finish, drain NATS, close the pools.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/buildinfo"
	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/lifecycle"
	"github.com/bcgov/bcreg-events/pkg/pgpool"
	"github.com/bcgov/bcreg-events/pkg/sourcedb"
)

// Options says what a service needs.
type Options struct {
	Name     string
	HTTP     config.HTTP
	NATS     *config.NATS     // nil: no NATS
	Topology *bus.Topology    // checked (or applied, BCREG_JS_TOPOLOGY) at start when NATS is used
	EventDB  *config.EventDB  // nil: no event database
	SourceDB *config.SourceDB // nil: no source database
	// EventDBPoolSize is the event database pool's size derived from the
	// service's concurrency, used unless BCREG_EVENT_DB_POOL_SIZE is set
	// (0: pgx's default).
	EventDBPoolSize int
	// MinShutdown, when longer than BCREG_SHUTDOWN_TIMEOUT, is how long the
	// workers are given to stop (the poster: its request timeout plus the
	// time to record the answer).
	MinShutdown time.Duration
	// RunMover runs the dlq-mover, and the dlq reconciler every
	// Topology.ReconcileInterval, beside the workers.
	RunMover bool
	Backoff  bus.Backoff
	// Now is the clock the worker loops' heartbeats are judged by (nil:
	// time.Now); a service's tests step it through their hooks.
	Now func() time.Time
}

// Deps is what a service's workers get.
type Deps struct {
	Log      *zap.Logger
	Health   *lifecycle.Health
	NC       *nats.Conn
	JS       jetstream.JetStream
	EventDB  *pgxpool.Pool
	SourceDB *pgxpool.Pool
}

// Worker is one long-running loop of a service; it returns when ctx ends
// (after finishing or handing back its in-flight work).
type Worker func(ctx context.Context, deps Deps) error

// Run connects, starts the side port and the workers, and waits for ctx to
// end (a signal) or a worker to fail; then it shuts down in order.
func Run(ctx context.Context, log *zap.Logger, opts Options, workers ...Worker) (err error) {
	log.Info("starting", buildinfo.Get().Fields()...)
	health := lifecycle.NewHealth(log, lifecycle.WithLivenessBound(opts.HTTP.LivenessBound), lifecycle.WithClock(opts.Now),
		lifecycle.WithPprof(opts.HTTP.Pprof))
	if err := bus.RegisterMetrics(health.Registry()); err != nil {
		return fmt.Errorf("register metrics: %w", err)
	}
	deps := Deps{Log: log, Health: health}
	if err := health.Serve(opts.HTTP.Addr); err != nil {
		return err
	}
	defer health.Close()

	// Every dependency is awaited with back-off until BCREG_START_TIMEOUT:
	// in compose and Kubernetes they start in any order.
	startTimeout := opts.HTTP.Start.Timeout
	if startTimeout == 0 { // a config not loaded from the environment
		startTimeout = 2 * time.Minute
	}
	startCtx, cancelStart := context.WithTimeout(ctx, startTimeout)
	defer cancelStart()
	retry := lifecycle.DefaultConnectBackoff
	if opts.EventDB != nil {
		size := opts.EventDB.PoolSize
		if size == 0 {
			size = opts.EventDBPoolSize
		}
		if err := retry.Retry(startCtx, log, "event database (BCREG_EVENT_DB_URL)", func(ctx context.Context) (err error) {
			deps.EventDB, err = pgpool.Open(ctx, opts.EventDB.URL.Value(), "BCREG_EVENT_DB_URL", size)
			return err
		}); err != nil {
			return err
		}
		defer deps.EventDB.Close()
		health.AddCheck("event_db", PingCheck(deps.EventDB))
		health.AddCheck("event_db_schema", eventdb.SchemaCheck(deps.EventDB))
		if opts.EventDB.Migrate {
			res, err := eventdb.Migrate(startCtx, deps.EventDB)
			if err != nil {
				return err
			}
			log.Info("event database migrated", zap.Int64s("applied", res.Applied), zap.Int64("version", res.Current))
		}
	}
	if opts.SourceDB != nil {
		if err := retry.Retry(startCtx, log, "source database (BCREG_SOURCE_DB_URL)", func(ctx context.Context) (err error) {
			deps.SourceDB, err = sourcedb.Open(ctx, opts.SourceDB.URL.Value(), "BCREG_SOURCE_DB_URL")
			return err
		}); err != nil {
			return err
		}
		defer deps.SourceDB.Close()
		health.AddCheck("source_db", PingCheck(deps.SourceDB))
	}
	if opts.NATS != nil {
		if deps.NC, deps.JS, err = bus.ConnectWait(startCtx, *opts.NATS, opts.Name, log, retry); err != nil {
			return err
		}
		defer func() {
			dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if derr := bus.Drain(dctx, deps.NC); derr != nil {
				log.Warn("nats drain", zap.Error(derr))
			}
		}()
		health.AddCheck("nats", bus.ReadyCheck(deps.NC, deps.JS))
		if opts.Topology != nil {
			// Checked (or applied with BCREG_JS_TOPOLOGY=apply) until
			// migrate has created it: the Job may still be running.
			if err := retry.Retry(startCtx, log, "JetStream topology on "+opts.NATS.URL.String(), func(ctx context.Context) error {
				return opts.Topology.Ensure(ctx, deps.JS, log)
			}); err != nil {
				return err
			}
		}
	}
	cancelStart()

	// Workers run on their own context so a signal can be turned into an
	// orderly stop with a deadline.
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	all := workers
	if opts.RunMover && deps.JS != nil {
		var interval time.Duration // RunReconciler's default when 0
		if opts.Topology != nil {
			interval = opts.Topology.ReconcileInterval
		}
		all = append(all, func(ctx context.Context, d Deps) error { return bus.RunMover(ctx, d.JS, d.Log, opts.Backoff) },
			func(ctx context.Context, d Deps) error {
				return bus.RunReconciler(ctx, d.JS, d.Log, opts.Backoff, interval)
			})
	}
	errs := make(chan error, len(all))
	var wg sync.WaitGroup
	for _, w := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w(workCtx, deps); err != nil && !errors.Is(err, context.Canceled) {
				errs <- err
			}
		}()
	}
	log.Info("service started")
	var runErr error
	deadline := max(opts.HTTP.ShutdownTimeout, opts.MinShutdown)
	select {
	case <-ctx.Done():
		log.Info("shutting down", zap.Duration("deadline", deadline))
	case runErr = <-errs:
		log.Error("worker failed, shutting down", zap.Error(runErr))
	}
	health.SetDraining()
	stopWork()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(deadline):
		log.Error("workers did not stop within the shutdown deadline; unacked messages will be redelivered")
	}
	log.Info("stopped")
	return runErr
}

// PingCheck is a readiness check that pings a pool within a second.
func PingCheck(pool *pgxpool.Pool) lifecycle.Check {
	return func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		return pool.Ping(ctx)
	}
}
