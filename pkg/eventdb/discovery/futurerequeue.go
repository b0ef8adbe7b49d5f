package discovery

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bcgov/bcreg-events/pkg/eventdb"
)

// FutureRequeue is a row of future_requeue: a corporation to re-process
// when a future-dated event becomes effective.
type FutureRequeue struct {
	RecordID int64
	CorpNum  string
	// DueAt is the naive BC local effective date of the last future event.
	DueAt time.Time
	// EventID is the last future event.
	EventID int64
	// FirstEventID and FirstEventDate are the first future event (its id
	// and timestamp): the re-queued work item's range starts there.
	FirstEventID   int64
	FirstEventDate time.Time
}

// DueFutureRequeues returns up to limit unpublished rows of system due at
// or before now (naive BC local), oldest first.
func DueFutureRequeues(ctx context.Context, q eventdb.Querier, system string, now time.Time, limit int) ([]FutureRequeue, error) {
	rows, err := q.Query(ctx, `SELECT record_id, corp_num, due_at, event_id,
       coalesce(first_event_id, event_id), coalesce(first_event_date, due_at)
FROM future_requeue
WHERE system_type_cd = $1 AND published_at IS NULL AND due_at <= $2
ORDER BY due_at, record_id LIMIT $3`, system, now, limit)
	if err != nil {
		return nil, fmt.Errorf("read due future re-queues: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (FutureRequeue, error) {
		var f FutureRequeue
		err := r.Scan(&f.RecordID, &f.CorpNum, &f.DueAt, &f.EventID, &f.FirstEventID, &f.FirstEventDate)
		return f, err
	})
	if err != nil {
		return nil, fmt.Errorf("read due future re-queues: %w", err)
	}
	return list, nil
}

// MarkFutureRequeuesPublished sets published_at on the rows (after their
// CorpEvents' PubAcks), each only while it is still due at the date that
// was published: a row a builder moved to a new date meanwhile stays armed.
func MarkFutureRequeuesPublished(ctx context.Context, q eventdb.Querier, published []FutureRequeue) error {
	if len(published) == 0 {
		return nil
	}
	ids := make([]int64, len(published))
	due := make([]time.Time, len(published))
	for i, f := range published {
		ids[i], due[i] = f.RecordID, f.DueAt
	}
	if _, err := q.Exec(ctx, `UPDATE future_requeue f SET published_at = now()
FROM unnest($1::bigint[], $2::timestamp[]) AS p(record_id, due_at)
WHERE f.record_id = p.record_id AND f.due_at = p.due_at AND f.published_at IS NULL`, ids, due); err != nil {
		return fmt.Errorf("mark future re-queues published: %w", err)
	}
	return nil
}

// AddFutureRequeues records corporations to re-process when their future
// events become effective. A row already recorded for the same corporation
// and event follows the event: a new effective date replaces its due_at
// and re-arms it (published_at cleared, so a re-queue that fired at the old
// date fires again at the new one); its range is refreshed. Re-recording the
// same date changes nothing. Of two rows for one corporation and event in
// rs, the earlier date is kept: when it comes due, the re-run records the
// later one.
func AddFutureRequeues(ctx context.Context, q eventdb.Querier, system string, rs []FutureRequeue) error {
	rs = earliestPerEvent(rs)
	if len(rs) == 0 {
		return nil
	}
	corps := make([]string, len(rs))
	due := make([]time.Time, len(rs))
	ids := make([]int64, len(rs))
	firstIDs := make([]int64, len(rs))
	firstDates := make([]time.Time, len(rs))
	for i, r := range rs {
		corps[i], due[i], ids[i], firstIDs[i], firstDates[i] = r.CorpNum, r.DueAt, r.EventID, r.FirstEventID, r.FirstEventDate
	}
	if _, err := q.Exec(ctx, `INSERT INTO future_requeue AS f (system_type_cd, corp_num, due_at, event_id, first_event_id, first_event_date)
SELECT $1, r.corp_num, r.due_at, r.event_id, r.first_event_id, r.first_event_date
FROM unnest($2::text[], $3::timestamp[], $4::bigint[], $5::bigint[], $6::timestamp[])
     AS r(corp_num, due_at, event_id, first_event_id, first_event_date)
ON CONFLICT (system_type_cd, corp_num, event_id) DO UPDATE
SET due_at = EXCLUDED.due_at, first_event_id = EXCLUDED.first_event_id, first_event_date = EXCLUDED.first_event_date,
    published_at = CASE WHEN f.due_at = EXCLUDED.due_at THEN f.published_at END
WHERE (f.due_at, f.first_event_id, f.first_event_date)
      IS DISTINCT FROM (EXCLUDED.due_at, EXCLUDED.first_event_id, EXCLUDED.first_event_date)`,
		system, corps, due, ids, firstIDs, firstDates); err != nil {
		return fmt.Errorf("record future re-queues: %w", err)
	}
	return nil
}

// earliestPerEvent keeps, of the rows for one corporation and event, the
// one due first (one statement may not update a row twice), in the order
// given.
func earliestPerEvent(rs []FutureRequeue) []FutureRequeue {
	type key struct {
		corp  string
		event int64
	}
	at := make(map[key]int, len(rs))
	out := make([]FutureRequeue, 0, len(rs))
	for _, r := range rs {
		k := key{r.CorpNum, r.EventID}
		i, seen := at[k]
		switch {
		case !seen:
			at[k] = len(out)
			out = append(out, r)
		case r.DueAt.Before(out[i].DueAt):
			out[i] = r
		}
	}
	return out
}
