package eventdb

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
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
func DueFutureRequeues(ctx context.Context, q Querier, system string, now time.Time, limit int) ([]FutureRequeue, error) {
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
// CorpEvents' PubAcks).
func MarkFutureRequeuesPublished(ctx context.Context, q Querier, recordIDs []int64) error {
	if len(recordIDs) == 0 {
		return nil
	}
	if _, err := q.Exec(ctx, `UPDATE future_requeue SET published_at = now() WHERE record_id = ANY($1) AND published_at IS NULL`, recordIDs); err != nil {
		return fmt.Errorf("mark future re-queues published: %w", err)
	}
	return nil
}

// AddFutureRequeues records corporations to re-process when their future
// events become effective; a row already recorded (same corporation and
// last event) is left alone.
func AddFutureRequeues(ctx context.Context, q Querier, system string, rs []FutureRequeue) error {
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
	if _, err := q.Exec(ctx, `INSERT INTO future_requeue (system_type_cd, corp_num, due_at, event_id, first_event_id, first_event_date)
SELECT $1, r.corp_num, r.due_at, r.event_id, r.first_event_id, r.first_event_date
FROM unnest($2::text[], $3::timestamp[], $4::bigint[], $5::bigint[], $6::timestamp[])
     AS r(corp_num, due_at, event_id, first_event_id, first_event_date)
ON CONFLICT (system_type_cd, corp_num, event_id) DO NOTHING`, system, corps, due, ids, firstIDs, firstDates); err != nil {
		return fmt.Errorf("record future re-queues: %w", err)
	}
	return nil
}
