package delivery

import (
	"context"
	"fmt"
	"time"

	"github.com/bcgov/bcreg-events/pkg/eventdb"
)

// The poster's half of an operator's retry of credentials the agent
// rejected (N) or that were given up after their attempts (D): a requeued
// dead letter's bundle makes its rows outstanding again (ResetSet), and
// they are posted by that bundle. The other half is `bcregctl requeue
// failed` (operator.ResetFailed, then fresh bundles).

// ResetForRetry makes the rows among hashes that were rejected (N) or given
// up (D) before the instant `before` outstanding again, so they can be
// claimed and posted; rows that failed later (while the retrying bundle was
// being handled) are left alone, so one requeue retries a row once.
func ResetForRetry(ctx context.Context, db eventdb.Querier, hashes []string, before time.Time) (int64, error) {
	var n int64
	err := eventdb.RetryConflicts(ctx, func() error {
		tag, err := db.Exec(ctx, `UPDATE credential_log c SET `+eventdb.ResetSet+`
FROM (SELECT record_id FROM credential_log
      WHERE credential_hash = ANY($1) AND process_success IN ('N', 'D')
        AND process_date < ($2::timestamptz AT TIME ZONE current_setting('TimeZone'))
      ORDER BY record_id FOR UPDATE) p
WHERE c.record_id = p.record_id`, hashes, before)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("reset rows for retry: %w", err)
	}
	return n, nil
}
