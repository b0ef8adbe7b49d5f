// Package pgpool opens PostgreSQL connection pools the one way every
// database of the project is opened: the URL checked strictly, errors naming
// the server and the setting with the password scrubbed, an optional pool
// size, and a ping so a wrong address fails at start-up. The packages that
// own a database (eventdb, source) open theirs through it.
package pgpool

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bcgov/bcreg-events/pkg/config"
)

// Open connects a pool of at most maxConns connections (0: pgx's default,
// the larger of 4 and the CPUs, unless the URL sets pool_max_conns) to the
// database at url, read from setting, and checks it answers.
func Open(ctx context.Context, url, setting string, maxConns int) (*pgxpool.Pool, error) {
	// Checked strictly first: pgx accepts some URLs whose unencoded
	// password it then takes for a host and port, and quotes in errors.
	if _, err := config.ParseURL(url); err != nil {
		return nil, fmt.Errorf("%s: %w", setting, err)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("%s=%s: %w", setting, config.RedactURL(url), config.ScrubError(err, config.URL(url).Credentials()...))
	}
	if maxConns > 0 {
		cfg.MaxConns = int32(maxConns)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s (%s): %w", config.RedactURL(url), setting, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to %s (%s): %w", config.RedactURL(url), setting, err)
	}
	return pool, nil
}
