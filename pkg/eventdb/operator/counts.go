package operator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/discovery"
)

// isDue is "the credential may be posted now" (eventdb.DueSQL).
var isDue = eventdb.DueSQL("")

// TableCounts are the status figures of one work table, as the original's
// status report counted them (processed, outstanding, failed) plus ours.
// Processed and Skipped, and every figure of corp_history_log, are totals
// (read with CountAll only).
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
	// Attempting: outstanding credentials with failed attempts.
	Attempting int64 `json:"attempting"`
}

// PipelineCounts are the event database's figures for a status report.
type PipelineCounts struct {
	// WatermarkEventID and WatermarkEventDate are the poller's watermark
	// (CurrentWatermark); 0 and absent before the first one.
	WatermarkEventID   int64                  `json:"watermark_event_id"`
	WatermarkEventDate *time.Time             `json:"watermark_event_date,omitempty"`
	InitialLoadRunning bool                   `json:"initial_load_running"`
	InitialLoad        *InitialLoadProgress   `json:"initial_load,omitempty"`
	Tables             map[string]TableCounts `json:"tables"`
	// LastAnswer is when the agent last answered (Y or N); OldestWaiting
	// when the oldest due, unanswered credential was published to the
	// poster. Absent when there is none.
	LastAnswer    *time.Time `json:"last_answer,omitempty"`
	OldestWaiting *time.Time `json:"oldest_waiting,omitempty"`
}

// InitialLoadProgress is where the unfinished initial load stands.
type InitialLoadProgress struct {
	RunID     int64     `json:"run_id"`
	Published int64     `json:"published"`
	Total     int64     `json:"total"`
	StartedAt time.Time `json:"started_at"`
}

// CountScope says which figures Counts reads.
type CountScope int

const (
	// CountState reads the figures bounded by the work waiting and the
	// failures, each through an index, so their cost does not grow with
	// the tables' history: the alerts read them every minute.
	CountState CountScope = iota + 1
	// CountAll adds the totals: processed and skipped rows, and
	// corp_history_log (no status index). Counting a table's history
	// scans it (about 0.5 s per 200,000 credentials): status and the
	// console read them, on demand (docs/design/operator-tooling.md,
	// "One set of figures").
	CountAll
)

// Counts reads the status figures of system in a handful of aggregate
// queries.
func Counts(ctx context.Context, q eventdb.Querier, system string, scope CountScope) (PipelineCounts, error) {
	pc := PipelineCounts{Tables: map[string]TableCounts{}}
	wm, ok, err := discovery.CurrentWatermark(ctx, q, system)
	if err != nil {
		return pc, fmt.Errorf("count: %w", err)
	}
	if ok {
		pc.WatermarkEventID, pc.WatermarkEventDate = wm.EventID, &wm.Date.Time
	}
	var il InitialLoadProgress
	err = q.QueryRow(ctx, `SELECT run_id, published, total, started_at FROM initial_load
		WHERE finished_at IS NULL ORDER BY run_id DESC LIMIT 1`).Scan(&il.RunID, &il.Published, &il.Total, &il.StartedAt)
	switch {
	case err == nil:
		pc.InitialLoadRunning, pc.InitialLoad = true, &il
	case !errors.Is(err, pgx.ErrNoRows):
		return pc, fmt.Errorf("count initial load: %w", err)
	}
	var eb, cl TableCounts
	// Each subquery has its index: ebcf_pd_null, ebcf_ps, cl_ps_pd_desc,
	// cl_rearmed, and cl_outstanding for the outstanding rows' figures.
	err = q.QueryRow(ctx, `SELECT
    (SELECT count(*) FROM event_by_corp_filing WHERE process_date IS NULL),
    (SELECT count(*) FROM event_by_corp_filing WHERE process_success = 'N'),
    (SELECT count(*) FROM credential_log WHERE process_success = 'N'),
    (SELECT count(*) FROM credential_log WHERE process_success = 'D'),
    (SELECT count(*) FROM credential_log WHERE process_success = 'A'),
    (SELECT count(*) FROM credential_log WHERE rearmed > 0),
    GREATEST((SELECT max(process_date) FROM credential_log WHERE process_success = 'Y'),
             (SELECT max(process_date) FROM credential_log WHERE process_success = 'N')) AT TIME ZONE current_setting('TimeZone'),
    o.*
FROM (SELECT count(*) FILTER (WHERE `+isDue+`),
             count(*) FILTER (WHERE NOT `+isDue+`),
             count(*) FILTER (WHERE published_at IS NULL AND `+isDue+`),
             count(*) FILTER (WHERE attempts > 0),
             min(published_at) FILTER (WHERE published_at IS NOT NULL AND `+isDue+`)
      FROM credential_log WHERE process_success IS NULL) o`).
		Scan(&eb.Outstanding, &eb.Failed, &cl.Failed, &cl.DeadLetter, &cl.Held, &cl.Released, &pc.LastAnswer,
			&cl.Outstanding, &cl.Waiting, &cl.Unpublished, &cl.Attempting, &pc.OldestWaiting)
	if err != nil {
		return pc, fmt.Errorf("count work: %w", err)
	}
	if scope == CountAll {
		var answered int64
		err = q.QueryRow(ctx, `SELECT
    (SELECT count(*) FILTER (WHERE process_date IS NOT NULL) FROM event_by_corp_filing),
    (SELECT count(*) FROM event_by_corp_filing WHERE process_success = 'S'),
    (SELECT count(*) FROM credential_log WHERE process_success = 'Y')`).Scan(&eb.Processed, &eb.Skipped, &answered)
		if err != nil {
			return pc, fmt.Errorf("count totals: %w", err)
		}
		cl.Processed = answered + cl.Failed + cl.DeadLetter
		var ch TableCounts
		err = q.QueryRow(ctx, `SELECT
			count(*) FILTER (WHERE process_date IS NOT NULL),
			count(*) FILTER (WHERE process_date IS NULL),
			count(*) FILTER (WHERE process_success = 'N'),
			count(*) FILTER (WHERE process_success = 'S')
			FROM corp_history_log`).Scan(&ch.Processed, &ch.Outstanding, &ch.Failed, &ch.Skipped)
		if err != nil {
			return pc, fmt.Errorf("count corp_history_log: %w", err)
		}
		pc.Tables["corp_history_log"] = ch
	}
	pc.Tables["event_by_corp_filing"], pc.Tables["credential_log"] = eb, cl
	return pc, nil
}
