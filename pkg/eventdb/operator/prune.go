package operator

import (
	"context"
	"fmt"
	"time"

	"github.com/bcgov/bcreg-events/pkg/eventdb"
)

// Retention (docs/design/registry.md §4: corp_history_log retention is
// configurable; event_seen is pruned beyond the look-back horizon). Both
// deletes run in chunks, so neither holds long locks on a table the
// builders and the poller write.

// pruneChunk is how many rows one delete statement removes at most.
const pruneChunk = 5000

// PruneHistory deletes the corp_history_log snapshots logged more than
// olderThan ago, except each corporation's latest (the builder compares a
// new snapshot with it to log only changes). It returns how many rows it
// deleted; ctx ending stops it between chunks.
func PruneHistory(ctx context.Context, q eventdb.Querier, olderThan time.Duration) (int64, error) {
	var total int64
	for {
		tag, err := q.Exec(ctx, `DELETE FROM corp_history_log WHERE record_id IN (
    SELECT c.record_id FROM corp_history_log c
    WHERE c.entry_date < LOCALTIMESTAMP - make_interval(secs => $1)
      AND EXISTS (SELECT 1 FROM corp_history_log n
                  WHERE n.corp_num = c.corp_num AND n.system_type_cd = c.system_type_cd AND n.record_id > c.record_id)
    LIMIT $2)`, olderThan.Seconds(), pruneChunk)
		if err != nil {
			return total, fmt.Errorf("prune corp_history_log: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < pruneChunk || ctx.Err() != nil {
			return total, nil
		}
	}
}

// PruneSeen deletes the event_seen rows of system dated before `before`
// (naive BC local): the poller never reads events older than its watermark
// minus the look-back again.
func PruneSeen(ctx context.Context, q eventdb.Querier, system string, before time.Time) (int64, error) {
	var total int64
	for {
		tag, err := q.Exec(ctx, `DELETE FROM event_seen WHERE ctid IN (
    SELECT ctid FROM event_seen WHERE system_type_cd = $1 AND event_date < $2 LIMIT $3)`, system, before, pruneChunk)
		if err != nil {
			return total, fmt.Errorf("prune event_seen: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < pruneChunk || ctx.Err() != nil {
			return total, nil
		}
	}
}
