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

// historyPrunable selects corp_history_log rows logged more than $1
// seconds ago that are not their corporation's latest.
const historyPrunable = `FROM corp_history_log c
    WHERE c.entry_date < LOCALTIMESTAMP - make_interval(secs => $1)
      AND EXISTS (SELECT 1 FROM corp_history_log n
                  WHERE n.corp_num = c.corp_num AND n.system_type_cd = c.system_type_cd AND n.record_id > c.record_id)`

// seenPrunable selects system $1's event_seen rows dated before $2.
const seenPrunable = `FROM event_seen WHERE system_type_cd = $1 AND event_date < $2`

// PruneHistory deletes the corp_history_log snapshots logged more than
// olderThan ago, except each corporation's latest (the builder compares a
// new snapshot with it to log only changes). It returns how many rows it
// deleted; ctx ending stops it between chunks. onChunk, when not nil, is
// told the running total after each chunk (progress).
func PruneHistory(ctx context.Context, q eventdb.Querier, olderThan time.Duration, onChunk func(deleted int64)) (int64, error) {
	return pruneChunks(ctx, q, "corp_history_log", `DELETE FROM corp_history_log WHERE record_id IN (
    SELECT c.record_id `+historyPrunable+` LIMIT $2)`, onChunk, olderThan.Seconds())
}

// CountHistory counts what PruneHistory would delete now (a dry run).
func CountHistory(ctx context.Context, q eventdb.Querier, olderThan time.Duration) (int64, error) {
	var n int64
	if err := q.QueryRow(ctx, `SELECT count(*) `+historyPrunable, olderThan.Seconds()).Scan(&n); err != nil {
		return 0, fmt.Errorf("count prunable corp_history_log: %w", err)
	}
	return n, nil
}

// PruneSeen deletes the event_seen rows of system dated before `before`
// (naive BC local): the poller never reads events older than its watermark
// minus the look-back again. onChunk is as PruneHistory's.
func PruneSeen(ctx context.Context, q eventdb.Querier, system string, before time.Time, onChunk func(deleted int64)) (int64, error) {
	return pruneChunks(ctx, q, "event_seen", `DELETE FROM event_seen WHERE ctid IN (
    SELECT ctid `+seenPrunable+` LIMIT $3)`, onChunk, system, before)
}

// CountSeen counts what PruneSeen would delete now (a dry run).
func CountSeen(ctx context.Context, q eventdb.Querier, system string, before time.Time) (int64, error) {
	var n int64
	if err := q.QueryRow(ctx, `SELECT count(*) `+seenPrunable, system, before).Scan(&n); err != nil {
		return 0, fmt.Errorf("count prunable event_seen: %w", err)
	}
	return n, nil
}

// pruneChunks runs a chunked delete (its last parameter is the chunk size)
// until a chunk deletes less than a full one.
func pruneChunks(ctx context.Context, q eventdb.Querier, table, sql string, onChunk func(int64), args ...any) (int64, error) {
	var total int64
	args = append(args, pruneChunk)
	for {
		tag, err := q.Exec(ctx, sql, args...)
		if err != nil {
			return total, fmt.Errorf("prune %s: %w", table, err)
		}
		total += tag.RowsAffected()
		if onChunk != nil {
			onChunk(total)
		}
		if tag.RowsAffected() < pruneChunk || ctx.Err() != nil {
			return total, nil
		}
	}
}
