package operator

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bcgov/bcreg-events/pkg/eventdb"
)

// This file holds the status report's reads beyond the counts: the posting
// rate and the most recent errors. Every query only reads, so a role with
// SELECT rights runs them.

// PostedPerMinute returns how many credentials the agent answered (Y or N)
// in each of the last `minutes` minutes, the last 60 seconds first, from
// credential_log.process_date (the database's local clock, as the poster
// writes it).
func PostedPerMinute(ctx context.Context, q eventdb.Querier, minutes int) ([]int64, error) {
	out := make([]int64, minutes)
	rows, err := q.Query(ctx, `SELECT floor(extract(epoch FROM LOCALTIMESTAMP - process_date) / 60)::int AS ago, count(*)
FROM credential_log
WHERE process_success IN ('Y', 'N') AND process_date > LOCALTIMESTAMP - make_interval(mins => $1)
GROUP BY 1`, minutes)
	if err != nil {
		return nil, fmt.Errorf("posting rate: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var ago int
		var n int64
		if err := rows.Scan(&ago, &n); err != nil {
			return nil, fmt.Errorf("posting rate: %w", err)
		}
		if ago >= 0 && ago < minutes {
			out[ago] += n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("posting rate: %w", err)
	}
	return out, nil
}

// RecentError is a failed work item or credential.
type RecentError struct {
	Table   string `json:"table"`
	CorpNum string `json:"corp_num"`
	// Status is N (failed) or D (dead-lettered after its attempts).
	Status  string    `json:"status"`
	Message string    `json:"message"`
	At      time.Time `json:"at"`
	// CredentialHash and CredentialType name a credential_log row.
	CredentialHash string `json:"credential_hash,omitempty"`
	CredentialType string `json:"credential_type,omitempty"`
}

// RecentErrors returns the limit most recent failures of the builder
// (event_by_corp_filing N) and the poster (credential_log N and D), newest
// first, as the original's status report listed its 20 most recent errors.
func RecentErrors(ctx context.Context, q eventdb.Querier, limit int) ([]RecentError, error) {
	// process_date is the server's local wall clock: read it as an instant
	// in the server's zone.
	rows, err := q.Query(ctx, `SELECT * FROM (
	(SELECT 'credential_log' AS tbl, corp_num, process_success, coalesce(process_msg, ''),
	        process_date AT TIME ZONE current_setting('TimeZone') AS at, credential_hash, credential_type_cd, record_id
	 FROM credential_log WHERE process_success IN ('N', 'D') AND process_date IS NOT NULL
	 ORDER BY process_date DESC, record_id DESC LIMIT $1)
	UNION ALL
	(SELECT 'event_by_corp_filing', corp_num, process_success, coalesce(process_msg, ''),
	        process_date AT TIME ZONE current_setting('TimeZone'), '', '', record_id
	 FROM event_by_corp_filing WHERE process_success = 'N' AND process_date IS NOT NULL
	 ORDER BY process_date DESC, record_id DESC LIMIT $1)) e
ORDER BY at DESC, tbl, record_id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("recent errors: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (RecentError, error) {
		var e RecentError
		var id int64
		err := r.Scan(&e.Table, &e.CorpNum, &e.Status, &e.Message, &e.At, &e.CredentialHash, &e.CredentialType, &id)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("recent errors: %w", err)
	}
	return list, nil
}
