// Package pgpool opens PostgreSQL connection pools the one way every
// database of the project is opened: the URL checked strictly, errors naming
// the server and the setting with the password scrubbed, an optional pool
// size, and a ping so a wrong address fails at start-up. The packages that
// own a database (eventdb, source) open theirs through it.
package pgpool

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/lifecycle"
)

// Open connects a pool of at most maxConns connections (0: pgx's default,
// the larger of 4 and the CPUs, unless the URL sets pool_max_conns) to the
// database at url, read from setting, and checks it answers.
func Open(ctx context.Context, url, setting string, maxConns int) (*pgxpool.Pool, error) {
	// Checked strictly first: pgx accepts some URLs whose unencoded
	// password it then takes for a host and port, and quotes in errors.
	if _, err := config.ParseURL(url); err != nil {
		return nil, lifecycle.Permanent(fmt.Errorf("%s: %w", setting, err))
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, lifecycle.Permanent(fmt.Errorf("%s=%s: %w", setting, config.RedactURL(url), config.ScrubError(err, config.URL(url).Credentials()...)))
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
		err = fmt.Errorf("connect to %s (%s): %w", config.RedactURL(url), setting, err)
		if refusedForGood(err) {
			err = lifecycle.Permanent(err)
		}
		return nil, err
	}
	return pool, nil
}

// refusedForGood: the server answered and refused the login (class 28:
// wrong password or role, no pg_hba entry) or has no such database
// (3D000); waiting at start-up will not change that.
func refusedForGood(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (strings.HasPrefix(pgErr.Code, "28") || pgErr.Code == "3D000")
}
