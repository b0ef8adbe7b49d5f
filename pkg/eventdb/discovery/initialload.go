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

// InitialLoadRun is a row of initial_load: one run of the initial load,
// resumable after a crash from LastCorpNum.
type InitialLoadRun struct {
	RunID int64
	// Watermark is the newest event noted at the run's start; it becomes
	// the watermark when the run finishes.
	Watermark regevent.Position
	// LastCorpNum is the last corporation published ("" before the first).
	LastCorpNum string
	Published   int64
	Total       int64
	StartedAt   time.Time
}

// UnfinishedInitialLoad returns the latest initial-load run of system that
// has not finished; ok is false when there is none.
func UnfinishedInitialLoad(ctx context.Context, q eventdb.Querier, system string) (r InitialLoadRun, ok bool, err error) {
	var last *string
	err = q.QueryRow(ctx, `SELECT run_id, watermark_event_id, watermark_event_date, last_corp_num, published, total, started_at
FROM initial_load WHERE system_type_cd = $1 AND finished_at IS NULL
ORDER BY run_id DESC LIMIT 1`, system).Scan(&r.RunID, &r.Watermark.EventID, &r.Watermark.Date.Time, &last, &r.Published, &r.Total, &r.StartedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return InitialLoadRun{}, false, nil
	}
	if err != nil {
		return InitialLoadRun{}, false, fmt.Errorf("read initial load: %w", err)
	}
	if last != nil {
		r.LastCorpNum = *last
	}
	return r, true, nil
}

// StartInitialLoad records a new run with the watermark noted at its start
// and, in the same transaction, the look-back window's events as seen: they
// are covered by the load, while events committed during it are not and are
// polled afterwards.
func StartInitialLoad(ctx context.Context, q eventdb.TxBeginner, system string, w regevent.Position, total int64, window []regevent.Event) (InitialLoadRun, error) {
	r := InitialLoadRun{Watermark: w, Total: total}
	err := pgx.BeginFunc(ctx, q, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO initial_load (system_type_cd, watermark_event_id, watermark_event_date, total)
VALUES ($1, $2, $3, $4) RETURNING run_id, started_at`, system, w.EventID, w.Date.Time, total).Scan(&r.RunID, &r.StartedAt); err != nil {
			return fmt.Errorf("start initial load: %w", err)
		}
		return MarkSeen(ctx, tx, system, window)
	})
	return r, err
}

// RecordInitialLoadProgress stores the last corporation published (every
// corporation up to it in corp_num order is published) and the count.
func RecordInitialLoadProgress(ctx context.Context, q eventdb.Querier, runID int64, lastCorpNum string, published, total int64) error {
	if _, err := q.Exec(ctx, `UPDATE initial_load SET last_corp_num = $2, published = $3, total = $4 WHERE run_id = $1`,
		runID, lastCorpNum, published, total); err != nil {
		return fmt.Errorf("record initial load progress: %w", err)
	}
	return nil
}

// FinishInitialLoad sets the watermark to the event noted at the run's
// start and closes the run, in one transaction.
func FinishInitialLoad(ctx context.Context, q eventdb.TxBeginner, system string, r InitialLoadRun) error {
	return pgx.BeginFunc(ctx, q, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO last_event (system_type_cd, event_id, event_date) VALUES ($1, $2, $3)`,
			system, r.Watermark.EventID, r.Watermark.Date.Time); err != nil {
			return fmt.Errorf("finish initial load: set watermark: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE initial_load SET finished_at = now() WHERE run_id = $1`, r.RunID); err != nil {
			return fmt.Errorf("finish initial load: %w", err)
		}
		return nil
	})
}

// SetWatermark records w as the watermark and, in the same transaction,
// the look-back window's events as seen (BCREG_INITIAL_LOAD=skip: start
// from the newest event without republishing the window).
func SetWatermark(ctx context.Context, q eventdb.TxBeginner, system string, w regevent.Position, window []regevent.Event) error {
	return pgx.BeginFunc(ctx, q, func(tx pgx.Tx) error {
		if err := MarkSeen(ctx, tx, system, window); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO last_event (system_type_cd, event_id, event_date) VALUES ($1, $2, $3)`,
			system, w.EventID, w.Date.Time); err != nil {
			return fmt.Errorf("set watermark: %w", err)
		}
		return nil
	})
}
