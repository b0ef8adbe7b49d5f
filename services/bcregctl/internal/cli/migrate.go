package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/lifecycle"
)

func init() {
	register("migrate", "apply event-database migrations and the JetStream topology (idempotent)", runMigrate)
}

// migrateConfig is what migrate reads.
type migrateConfig struct {
	config.NATS
	bus.Topology
	config.EventDB
	config.Start
}

func runMigrate(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "migrate", "[--db-only | --nats-only]", "BCREG_EVENT_DB_URL, BCREG_NATS_URL, BCREG_JS_*")
	dbOnly := fs.Bool("db-only", false, "apply only the database migrations")
	natsOnly := fs.Bool("nats-only", false, "apply only the JetStream topology")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %s", errUsage, joinArgs(fs.Args()))
	}
	var cfg migrateConfig
	if err := config.Load(&cfg); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	// The Job may start before PostgreSQL or NATS accepts connections:
	// each is awaited with back-off until BCREG_START_TIMEOUT.
	startCtx, cancelStart := context.WithTimeout(ctx, cfg.Start.Timeout)
	defer cancelStart()
	retry := lifecycle.DefaultConnectBackoff
	if !*natsOnly {
		var pool *pgxpool.Pool
		if err := retry.Retry(startCtx, e.log, "event database (BCREG_EVENT_DB_URL)", func(ctx context.Context) (err error) {
			pool, err = eventdb.Open(ctx, cfg.EventDB.URL.Value(), "BCREG_EVENT_DB_URL")
			return err
		}); err != nil {
			return err
		}
		defer pool.Close()
		res, err := eventdb.Migrate(ctx, pool)
		if err != nil {
			return err
		}
		e.log.Info("event database migrated", zap.Stringer("db", cfg.EventDB.URL), zap.Int64s("applied", res.Applied), zap.Int64("version", res.Current))
	}
	if !*dbOnly {
		nc, js, err := bus.ConnectWait(startCtx, cfg.NATS, "bcregctl", e.log, retry)
		if err != nil {
			return err
		}
		defer nc.Close()
		if err := cfg.Topology.Apply(ctx, js); err != nil {
			return fmt.Errorf("apply topology on %s (BCREG_NATS_URL): %w", cfg.NATS.URL, err)
		}
		e.log.Info("JetStream topology applied", zap.Stringer("nats", cfg.NATS.URL))
	}
	return nil
}
