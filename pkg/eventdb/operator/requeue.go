package operator

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/delivery"
)

// An operator's retry of credentials the agent rejected (N) or that were
// given up after their attempts (D): `bcregctl requeue failed` makes the
// rows outstanding again, with their attempts and claims cleared
// (eventdb.ResetSet), and publishes them in fresh bundles. The poster's
// half is delivery.ResetForRetry (a requeued dead letter's bundle).

// FailedSince selects failed credentials by when they failed.
type FailedSince struct {
	// Since, when set, keeps the rows that failed at or after it.
	Since time.Time
	// Statuses are the failed statuses to select (default N and D).
	Statuses []string
}

func (f FailedSince) statuses() []string {
	if len(f.Statuses) == 0 {
		return []string{delivery.Rejected, delivery.Dead}
	}
	return f.Statuses
}

// FailedCorps returns, in corp_num order, the corporations of system with
// credentials in a failed status (N, D) that failed since f.Since.
func FailedCorps(ctx context.Context, q eventdb.Querier, system string, f FailedSince) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT DISTINCT corp_num FROM credential_log
WHERE system_type_cd = $1 AND process_success = ANY($2)
  AND ($3::timestamptz IS NULL OR process_date >= ($3::timestamptz AT TIME ZONE current_setting('TimeZone')))
ORDER BY corp_num`, system, f.statuses(), nullTime(f.Since))
	if err != nil {
		return nil, fmt.Errorf("find failed credentials: %w", err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("find failed credentials: %w", err)
	}
	return list, nil
}

// ResetFailed makes the failed credentials of corps (as selected by f)
// outstanding and unpublished again, and returns their hashes. Call it
// holding the corporations' locks (LockCorps), then publish their outbox:
// if the publish does not happen, the builder's sweep publishes them.
func ResetFailed(ctx context.Context, q eventdb.Querier, system string, corps []string, f FailedSince) ([]string, error) {
	var hashes []string
	err := eventdb.RetryConflicts(ctx, func() error {
		rows, err := q.Query(ctx, `UPDATE credential_log c SET `+eventdb.ResetSet+`, published_at = NULL
FROM (SELECT record_id FROM credential_log
      WHERE system_type_cd = $1 AND corp_num = ANY($2) AND process_success = ANY($3)
        AND ($4::timestamptz IS NULL OR process_date >= ($4::timestamptz AT TIME ZONE current_setting('TimeZone')))
      ORDER BY record_id FOR UPDATE) p
WHERE c.record_id = p.record_id
RETURNING c.credential_hash`, system, corps, f.statuses(), nullTime(f.Since))
		if err != nil {
			return err
		}
		hashes, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reset failed credentials: %w", err)
	}
	return hashes, nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
