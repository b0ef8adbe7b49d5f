// Package auditdb holds the event-database queries of `bcregctl audit`
// (docs/design/orgbook.md, "The audit").
package auditdb

import (
	"context"
	"fmt"
	"time"

	"github.com/bcgov/bcreg-events/pkg/eventdb"
)

// AuditCorp is what the event database says about one corporation, for
// `bcregctl audit` (docs/design/orgbook.md, "The audit").
type AuditCorp struct {
	// Processed: a work item of the corporation was processed (or it has
	// credentials, as an adopted deployment's corporations do).
	Processed bool
	// Pending: a work item waits to be processed; the audit skips the
	// corporation, as the original did.
	Pending bool
	// RegistrationDelivered: a registration credential reached the agent (Y).
	RegistrationDelivered bool
	// Rejected (N), GivenUp (D) and Stuck (outstanding, unpublished or held,
	// and due for longer than the audit's grace) count credentials.
	Rejected, GivenUp, Stuck int
}

// AuditCorps reads the audit's figures of corps in one query. Stuck counts
// outstanding credentials that have been due (entered, and past their
// not_before) for longer than grace before now.
func AuditCorps(ctx context.Context, q eventdb.Querier, system string, corps []string, now time.Time, grace time.Duration) (map[string]AuditCorp, error) {
	rows, err := q.Query(ctx, `
SELECT c.corp_num,
       EXISTS (SELECT 1 FROM event_by_corp_filing e WHERE e.system_type_cd = $1 AND e.corp_num = c.corp_num AND e.process_date IS NOT NULL)
         OR EXISTS (SELECT 1 FROM corp_history_log h WHERE h.system_type_cd = $1 AND h.corp_num = c.corp_num AND h.process_date IS NOT NULL)
         OR EXISTS (SELECT 1 FROM credential_log l WHERE l.system_type_cd = $1 AND l.corp_num = c.corp_num),
       EXISTS (SELECT 1 FROM event_by_corp_filing e WHERE e.system_type_cd = $1 AND e.corp_num = c.corp_num AND e.process_date IS NULL),
       coalesce(bool_or(l.credential_type_cd = 'REG' AND l.process_success = 'Y'), false),
       count(l.record_id) FILTER (WHERE l.process_success = 'N'),
       count(l.record_id) FILTER (WHERE l.process_success = 'D'),
       count(l.record_id) FILTER (WHERE l.process_success IS NULL
           AND greatest(l.entry_date AT TIME ZONE current_setting('TimeZone'), coalesce(l.not_before, '-infinity')) < $3::timestamptz)
FROM unnest($2::text[]) AS c(corp_num)
LEFT JOIN credential_log l ON l.system_type_cd = $1 AND l.corp_num = c.corp_num
GROUP BY c.corp_num`, system, corps, now.Add(-grace))
	if err != nil {
		return nil, fmt.Errorf("audit: read the event database: %w", err)
	}
	defer rows.Close()
	out := make(map[string]AuditCorp, len(corps))
	for rows.Next() {
		var corp string
		var a AuditCorp
		if err := rows.Scan(&corp, &a.Processed, &a.Pending, &a.RegistrationDelivered, &a.Rejected, &a.GivenUp, &a.Stuck); err != nil {
			return nil, fmt.Errorf("audit: read the event database: %w", err)
		}
		out[corp] = a
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: read the event database: %w", err)
	}
	return out, nil
}

// The registration ids an audit has seen are kept in a temporary table of
// the audit's own session, so finding OrgBook's topics the registry does
// not have needs no set of every id in memory. q must be one connection
// (temporary tables belong to a session).

// AuditStartKnown creates (or empties) the session's table of seen ids.
func AuditStartKnown(ctx context.Context, q eventdb.Querier) error {
	if _, err := q.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS audit_known (source_id text PRIMARY KEY);
TRUNCATE audit_known`); err != nil {
		return fmt.Errorf("audit: temporary table: %w", err)
	}
	return nil
}

// AuditAddKnown records registration ids as seen.
func AuditAddKnown(ctx context.Context, q eventdb.Querier, ids []string) error {
	if _, err := q.Exec(ctx, `INSERT INTO audit_known SELECT DISTINCT unnest($1::text[]) ON CONFLICT DO NOTHING`, ids); err != nil {
		return fmt.Errorf("audit: record seen ids: %w", err)
	}
	return nil
}

// AuditUnknown returns the ids among ids not recorded as seen, in order.
func AuditUnknown(ctx context.Context, q eventdb.Querier, ids []string) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT s FROM unnest($1::text[]) WITH ORDINALITY AS u(s, n)
WHERE NOT EXISTS (SELECT 1 FROM audit_known k WHERE k.source_id = u.s) ORDER BY n`, ids)
	if err != nil {
		return nil, fmt.Errorf("audit: unseen ids: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("audit: unseen ids: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: unseen ids: %w", err)
	}
	return out, nil
}

// Run is one audit's stored result (audit_run). Counts and Findings are
// JSON (package audit's types: this package cannot import it).
type Run struct {
	ID            int64
	StartedAt     time.Time
	Seconds       float64
	RanBy         string // "bcregctl" or "event-poller"
	Profile       string
	Audited       int
	Pending       int
	Ignored       int
	Topics        int
	FindingsTotal int
	Counts        []byte
	Findings      []byte
}

// SaveRun stores an audit's result and returns its id.
func SaveRun(ctx context.Context, q eventdb.Querier, r Run) (int64, error) {
	var id int64
	err := q.QueryRow(ctx, `INSERT INTO audit_run (started_at, seconds, ran_by, profile, audited, pending, ignored, topics,
    findings_total, counts, findings) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING run_id`,
		r.StartedAt, r.Seconds, r.RanBy, r.Profile, r.Audited, r.Pending, r.Ignored, r.Topics, r.FindingsTotal,
		string(r.Counts), string(r.Findings)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("audit: record the run: %w", err)
	}
	return id, nil
}

// LastRuns returns the newest n audits, newest first.
func LastRuns(ctx context.Context, q eventdb.Querier, n int) ([]Run, error) {
	rows, err := q.Query(ctx, `SELECT run_id, started_at, seconds, ran_by, profile, audited, pending, ignored, topics,
    findings_total, counts::text, findings::text FROM audit_run ORDER BY run_id DESC LIMIT $1`, n)
	if err != nil {
		return nil, fmt.Errorf("audit: read the last runs: %w", err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		var r Run
		var counts, findings string
		if err := rows.Scan(&r.ID, &r.StartedAt, &r.Seconds, &r.RanBy, &r.Profile, &r.Audited, &r.Pending, &r.Ignored,
			&r.Topics, &r.FindingsTotal, &counts, &findings); err != nil {
			return nil, fmt.Errorf("audit: read the last runs: %w", err)
		}
		r.Counts, r.Findings = []byte(counts), []byte(findings)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: read the last runs: %w", err)
	}
	return out, nil
}
