package eventdb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// TableCounts are the status figures of one work table, as the original's
// status report counted them (processed, outstanding, failed) plus ours.
type TableCounts struct {
	Processed   int64 `json:"processed"`
	Outstanding int64 `json:"outstanding"`
	Failed      int64 `json:"failed"`        // N
	Skipped     int64 `json:"skipped"`       // S
	DeadLetter  int64 `json:"dead_lettered"` // D
	Held        int64 `json:"held"`          // A
	Waiting     int64 `json:"waiting"`       // outstanding with not_before in the future
	Unpublished int64 `json:"unpublished"`   // outbox: not yet in a bundle on BCREG_CREDS
	// Released: credentials the sweep handed back to the outbox because
	// their bundle left BCREG_CREDS without an answer (ever).
	Released int64 `json:"released"`
}

// PipelineCounts are the event database's figures for a status report.
type PipelineCounts struct {
	WatermarkEventID   int64                  `json:"watermark_event_id"`
	WatermarkEventDate *time.Time             `json:"watermark_event_date,omitempty"`
	InitialLoadRunning bool                   `json:"initial_load_running"`
	InitialLoad        *InitialLoadProgress   `json:"initial_load,omitempty"`
	Tables             map[string]TableCounts `json:"tables"`
}

// InitialLoadProgress is where the unfinished initial load stands.
type InitialLoadProgress struct {
	RunID     int64     `json:"run_id"`
	Published int64     `json:"published"`
	Total     int64     `json:"total"`
	StartedAt time.Time `json:"started_at"`
}

// Counts reads the status figures in a handful of aggregate queries.
func Counts(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}) (PipelineCounts, error) {
	var pc PipelineCounts
	pc.Tables = map[string]TableCounts{}
	var date *time.Time
	err := q.QueryRow(ctx, `SELECT COALESCE(max(event_id), 0),
		(SELECT event_date FROM last_event WHERE event_id > 0 ORDER BY record_id DESC LIMIT 1)
		FROM last_event WHERE event_id > 0`).Scan(&pc.WatermarkEventID, &date)
	if err != nil {
		return pc, fmt.Errorf("count watermark: %w", err)
	}
	pc.WatermarkEventDate = date
	var il InitialLoadProgress
	err = q.QueryRow(ctx, `SELECT run_id, published, total, started_at FROM initial_load
		WHERE finished_at IS NULL ORDER BY run_id DESC LIMIT 1`).Scan(&il.RunID, &il.Published, &il.Total, &il.StartedAt)
	switch {
	case err == nil:
		pc.InitialLoadRunning, pc.InitialLoad = true, &il
	case !errors.Is(err, pgx.ErrNoRows):
		return pc, fmt.Errorf("count initial load: %w", err)
	}
	for _, table := range []string{"event_by_corp_filing", "corp_history_log"} {
		var c TableCounts
		// Table names come from the fixed list above, never from input.
		err := q.QueryRow(ctx, `SELECT
			count(*) FILTER (WHERE process_date IS NOT NULL),
			count(*) FILTER (WHERE process_date IS NULL),
			count(*) FILTER (WHERE process_success = 'N'),
			count(*) FILTER (WHERE process_success = 'S')
			FROM `+table).Scan(&c.Processed, &c.Outstanding, &c.Failed, &c.Skipped)
		if err != nil {
			return pc, fmt.Errorf("count %s: %w", table, err)
		}
		pc.Tables[table] = c
	}
	var c TableCounts
	err = q.QueryRow(ctx, `SELECT
		count(*) FILTER (WHERE process_success IN ('Y', 'N', 'D')),
		count(*) FILTER (WHERE process_success IS NULL AND `+isDue+`),
		count(*) FILTER (WHERE process_success = 'N'),
		count(*) FILTER (WHERE process_success = 'D'),
		count(*) FILTER (WHERE process_success = 'A'),
		count(*) FILTER (WHERE process_success IS NULL AND NOT `+isDue+`),
		count(*) FILTER (WHERE process_success IS NULL AND published_at IS NULL AND `+isDue+`),
		count(*) FILTER (WHERE rearmed > 0)
		FROM credential_log`).Scan(&c.Processed, &c.Outstanding, &c.Failed, &c.DeadLetter, &c.Held, &c.Waiting, &c.Unpublished, &c.Released)
	if err != nil {
		return pc, fmt.Errorf("count credential_log: %w", err)
	}
	pc.Tables["credential_log"] = c
	return pc, nil
}
