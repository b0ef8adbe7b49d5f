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
	"github.com/bcgov/bcreg-events/pkg/lifecycle"
)

func init() { register(newMigrate) }

// migrateConfig is what migrate reads.
type migrateConfig struct {
	config.NATS
	bus.Topology
	config.EventDB
	config.Start
}

func newMigrate(e *env) *cobra.Command {
	var dbOnly, natsOnly bool
	c := &cobra.Command{
		Use:   "migrate [--db-only | --nats-only]",
		Short: "apply event-database migrations and the JetStream topology (idempotent)",
		Long: settings(`Apply the event database's migrations and the JetStream streams and consumers.
Idempotent: two concurrent runs are safe.`, "BCREG_EVENT_DB_URL, BCREG_NATS_URL, BCREG_JS_*"),
		Example: `  bcregctl migrate              # both
  bcregctl migrate --db-only    # after a database restore
  bcregctl migrate --nats-only  # after rebuilding NATS: streams and consumers back`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if dbOnly && natsOnly {
				return fmt.Errorf("%w: --db-only and --nats-only exclude each other", errUsage)
			}
			return runMigrate(c.Context(), e, dbOnly, natsOnly)
		},
	}
	c.Flags().BoolVar(&dbOnly, "db-only", false, "apply only the database migrations")
	c.Flags().BoolVar(&natsOnly, "nats-only", false, "apply only the JetStream topology")
	return c
}

func runMigrate(ctx context.Context, e *env, dbOnly, natsOnly bool) error {
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
	if !natsOnly {
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
		fmt.Fprintf(e.stdout, "event database %s: schema version %d (applied: %s)\n", cfg.EventDB.URL, res.Current, appliedText(res.Applied))
	}
	if !dbOnly {
		nc, js, err := bus.ConnectWait(startCtx, cfg.NATS, "bcregctl", e.log, retry)
		if err != nil {
			return err
		}
		defer nc.Close()
		if err := cfg.Topology.Apply(ctx, js); err != nil {
			return fmt.Errorf("apply topology on %s (BCREG_NATS_URL): %w", cfg.NATS.URL, err)
		}
		fmt.Fprintf(e.stdout, "JetStream topology applied on %s\n", cfg.NATS.URL)
	}
	return nil
}

func appliedText(versions []int64) string {
	if len(versions) == 0 {
		return "none, up to date"
	}
	return strings.Trim(fmt.Sprint(versions), "[]")
}
