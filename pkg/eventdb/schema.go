package eventdb

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgxpool"
)

// SchemaCheck is a readiness check: ready once the database's schema is at
// least the version this binary's migrations reach. A service never runs
// new code on an old schema (docs/operations.md §13: migrate first, then
// roll out); until the migrate Job has run it stays unready and gets no
// work. Once reached, it is not asked again (schemas do not go back).
func SchemaCheck(pool *pgxpool.Pool) func(context.Context) error {
	var reached atomic.Bool
	return func(ctx context.Context) error {
		if reached.Load() {
			return nil
		}
		have, want, err := SchemaVersions(ctx, pool)
		if err != nil {
			return err
		}
		if have < want {
			return fmt.Errorf("schema version %d, this build needs %d: run bcregctl migrate", have, want)
		}
		reached.Store(true)
		return nil
	}
}

// SchemaVersions returns the database's schema version (0 before the
// first migration) and the one this binary's migrations reach.
func SchemaVersions(ctx context.Context, pool *pgxpool.Pool) (have, want int64, err error) {
	p, closeDB, err := provider(pool)
	if err != nil {
		return 0, 0, fmt.Errorf("schema version: %w", err)
	}
	defer closeDB()
	for _, s := range p.ListSources() {
		want = max(want, s.Version)
	}
	// goose's version table; absent before the first migration.
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('goose_db_version') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, want, fmt.Errorf("schema version: %w", err)
	}
	if !exists {
		return 0, want, nil
	}
	if have, err = p.GetDBVersion(ctx); err != nil {
		return 0, want, fmt.Errorf("schema version: %w", err)
	}
	return have, want, nil
}
