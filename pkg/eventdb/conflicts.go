package eventdb

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Lock order: every statement that updates credential_log rows (the
// outbox's in pkg/eventdb/outboxdb, the poster's in pkg/eventdb/delivery,
// the operator's requeue in pkg/eventdb/operator) locks them in record_id
// order, in a sub-select with ORDER BY record_id FOR UPDATE, and retries a
// deadlock or serialization failure (RetryConflicts). A statement that
// locked by hash order instead (the builder's mark-published did)
// deadlocks with a claim of the same rows.

// RetryConflicts runs fn again (a few times) when PostgreSQL aborted it
// for a deadlock or a serialization failure, which a retry resolves. fn
// must be a whole statement or transaction (an aborted transaction cannot
// go on).
func RetryConflicts(ctx context.Context, fn func() error) error {
	var err error
	for i := 0; i < 5; i++ {
		if err = fn(); err == nil {
			return nil
		}
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || (pgErr.Code != "40P01" && pgErr.Code != "40001") {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(i+1) * 10 * time.Millisecond):
		}
	}
	return err
}
