package discovery

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/regevent"
)

// CurrentWatermark returns the watermark of system: the latest event date
// recorded in last_event and the highest event id at that date. ok is false
// when none exists (no row, or only the original's seed row with event 0).
func CurrentWatermark(ctx context.Context, q eventdb.Querier, system string) (w regevent.Position, ok bool, err error) {
	err = q.QueryRow(ctx, `SELECT event_id, event_date FROM last_event
WHERE system_type_cd = $1 AND event_id > 0
ORDER BY event_date DESC, event_id DESC LIMIT 1`, system).Scan(&w.EventID, &w.Date.Time)
	if errors.Is(err, pgx.ErrNoRows) {
		return regevent.Position{}, false, nil
	}
	if err != nil {
		return regevent.Position{}, false, fmt.Errorf("read watermark: %w", err)
	}
	return w, true, nil
}

// AdvanceTo records w as the watermark of system only if it comes after
// the current one (or there is none): a watermark never moves back, so an
// older position (a forced re-adoption of an original the poller has
// since overtaken) is never written. It returns the watermark afterwards
// and whether w became it. Run it in the caller's transaction.
func AdvanceTo(ctx context.Context, q eventdb.Querier, system string, w regevent.Position) (current regevent.Position, moved bool, err error) {
	cur, ok, err := CurrentWatermark(ctx, q, system)
	if err != nil {
		return cur, false, err
	}
	if ok && !cur.Before(w) {
		return cur, false, nil
	}
	if _, err := q.Exec(ctx, `INSERT INTO last_event (system_type_cd, event_id, event_date) VALUES ($1, $2, $3)`,
		system, w.EventID, w.Date.Time); err != nil {
		return cur, false, fmt.Errorf("set watermark: %w", err)
	}
	return w, true, nil
}

// UnseenEvents returns the events of evs not yet in event_seen, in the
// order given.
func UnseenEvents(ctx context.Context, q eventdb.Querier, system string, evs []regevent.Event) ([]regevent.Event, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	ids, corps, _ := seenArrays(evs)
	rows, err := q.Query(ctx, `SELECT e.ord
FROM unnest($2::bigint[], $3::text[]) WITH ORDINALITY AS e(event_id, corp_num, ord)
WHERE NOT EXISTS (SELECT 1 FROM event_seen s
                  WHERE s.system_type_cd = $1 AND s.event_id = e.event_id AND s.corp_num = e.corp_num)
ORDER BY e.ord`, system, ids, corps)
	if err != nil {
		return nil, fmt.Errorf("filter seen events: %w", err)
	}
	ords, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("filter seen events: %w", err)
	}
	out := make([]regevent.Event, 0, len(ords))
	for _, o := range ords {
		out = append(out, evs[o-1])
	}
	return out, nil
}

// MarkSeen records events in event_seen (already recorded ones are left
// alone).
func MarkSeen(ctx context.Context, q eventdb.Querier, system string, evs []regevent.Event) error {
	if len(evs) == 0 {
		return nil
	}
	ids, corps, dates := seenArrays(evs)
	if _, err := q.Exec(ctx, `INSERT INTO event_seen (system_type_cd, event_id, corp_num, event_date)
SELECT $1, e.event_id, e.corp_num, e.event_date
FROM unnest($2::bigint[], $3::text[], $4::timestamp[]) AS e(event_id, corp_num, event_date)
ON CONFLICT DO NOTHING`, system, ids, corps, dates); err != nil {
		return fmt.Errorf("record seen events: %w", err)
	}
	return nil
}

// AdvanceWatermark records a poll's outcome in one transaction on q (rules
// 2 and 3): its new events in event_seen, the new watermark in last_event,
// and the pruning of event_seen rows dated before pruneBefore (beyond the
// look-back horizon, never read again).
func AdvanceWatermark(ctx context.Context, q eventdb.TxBeginner, system string, w regevent.Position, seen []regevent.Event, pruneBefore time.Time) error {
	return pgx.BeginFunc(ctx, q, func(tx pgx.Tx) error {
		if err := MarkSeen(ctx, tx, system, seen); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO last_event (system_type_cd, event_id, event_date) VALUES ($1, $2, $3)`,
			system, w.EventID, w.Date.Time); err != nil {
			return fmt.Errorf("advance watermark: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM event_seen WHERE system_type_cd = $1 AND event_date < $2`, system, pruneBefore); err != nil {
			return fmt.Errorf("prune seen events: %w", err)
		}
		return nil
	})
}

func seenArrays(evs []regevent.Event) (ids []int64, corps []string, dates []time.Time) {
	ids = make([]int64, len(evs))
	corps = make([]string, len(evs))
	dates = make([]time.Time, len(evs))
	for i, e := range evs {
		ids[i], corps[i], dates[i] = e.EventID, e.CorpNum, e.Date.Time
	}
	return ids, corps, dates
}
