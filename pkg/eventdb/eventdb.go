// Package eventdb owns the event-processor database's schema (numbered,
// embedded SQL migrations applied with goose under a PostgreSQL session
// lock, so two processes migrating at once is safe; migration 5 in Go),
// the advisory-lock helpers the services coordinate with, and what the
// packages beneath it share: the query interfaces (Querier, TxBeginner),
// the retry of lock conflicts and the SQL fragments of more than one
// concern (DueSQL, ResetSet, ProcessMsg). Each concern's SQL lives in a
// package of its own (docs/design/layout.md):
//
//   - discovery: the event-poller's watermark, seen events, future
//     re-queues and initial-load runs;
//   - outboxdb: the credential-builder's batch write and the outbox's rows;
//   - delivery: the poster's claims, leases and outcomes;
//   - operator: status figures, corporation history, operator_action,
//     requeue of failed credentials, retention, alert state;
//   - adopt: the import of the original's database.
//
// Every service opens and migrates the database through it (pkg/daemon,
// `bcregctl migrate`) and takes its locks here: the one active poller
// (TryLock), one builder per corporation (LockCorps).
package eventdb

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/bcgov/bcreg-events/pkg/pgpool"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Open connects a pool to the event database at url and checks it
// answers; the error names the server (password redacted) and the setting.
// The registry (source) database is opened by sourcedb.Open.
func Open(ctx context.Context, url, setting string) (*pgxpool.Pool, error) {
	return pgpool.Open(ctx, url, setting, 0)
}

// MigrationResult says what Migrate did.
type MigrationResult struct {
	Applied []int64 // versions applied by this run
	Current int64   // schema version afterwards
}

// Migrate applies every pending migration. Concurrent runs serialise on a
// PostgreSQL session advisory lock; a second run applies nothing.
func Migrate(ctx context.Context, pool *pgxpool.Pool) (MigrationResult, error) {
	p, closeDB, err := provider(pool)
	if err != nil {
		return MigrationResult{}, fmt.Errorf("migrate: %w", err)
	}
	defer closeDB()
	results, err := p.Up(ctx)
	if err != nil {
		var partial *goose.PartialError
		if errors.As(err, &partial) {
			return MigrationResult{}, fmt.Errorf("migrate: version %d failed: %w", partial.Failed.Source.Version, partial.Err)
		}
		return MigrationResult{}, fmt.Errorf("migrate: %w", err)
	}
	var res MigrationResult
	for _, r := range results {
		res.Applied = append(res.Applied, r.Source.Version)
	}
	if res.Current, err = p.GetDBVersion(ctx); err != nil {
		return res, fmt.Errorf("migrate: read version: %w", err)
	}
	return res, nil
}

// provider is goose's view of the embedded migrations on pool.
func provider(pool *pgxpool.Pool) (*goose.Provider, func(), error) {
	db := stdlib.OpenDBFromPool(pool)
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		_ = db.Close()
		return nil, nil, err
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		_ = db.Close()
		return nil, nil, err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub, goose.WithSessionLocker(locker),
		goose.WithGoMigrations(notBeforeMigration))
	if err != nil {
		_ = db.Close()
		return nil, nil, err
	}
	return p, func() { _ = db.Close() }, nil
}

// Querier is what every query on the event database runs on: a
// pool, a pooled connection or a transaction.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// TxBeginner starts transactions: a pool or a pooled connection.
type TxBeginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}
