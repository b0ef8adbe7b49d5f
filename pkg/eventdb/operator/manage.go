package operator

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bcgov/bcreg-events/pkg/eventdb"
)

// The operators' `manage` script (docs/design/manage-script.md): the SQL
// of its bcregctl twins, and of the active event-poller's detection of
// rows the script's own SQL changed by hand.

// WorkItems selects event_by_corp_filing rows to turn into requeues.
type WorkItems struct {
	// Kind is what selects them.
	Kind WorkItemKind
	// Types are the corporation types of SkippedTypes.
	Types []string
	// Limit bounds the rows read (0: no bound).
	Limit int
}

// WorkItemKind is a selection of event_by_corp_filing rows.
type WorkItemKind int

// The selections.
const (
	// HandQueued: rows without a process date. Every row the builder
	// records has one and adopt imports only processed rows, so these are
	// rows a person inserted (queueOrganization) or reset
	// (requeueFailedEvents, requeueSkippedCorpTypes, …). ebcf_pd_null.
	HandQueued WorkItemKind = iota + 1
	// FailedItems: rows the builder failed (N), requeueFailedEvents'
	// rows. ebcf_ps.
	FailedItems
	// SkippedTypes: rows skipped as out of scope for one of Types
	// (process_msg '<type>: Skipped…', requeueSkippedCorpTypes' test).
	SkippedTypes
)

// CorpItems are one corporation's selected rows.
type CorpItems struct {
	CorpNum   string  `json:"corp_num"`
	RecordIDs []int64 `json:"record_ids"`
}

// SelectWorkItems returns the selected rows of system, by corporation (in
// the order of their first row).
func SelectWorkItems(ctx context.Context, q eventdb.Querier, system string, sel WorkItems) ([]CorpItems, error) {
	var where string
	switch sel.Kind {
	case HandQueued:
		where = `process_date IS NULL`
	case FailedItems:
		where = `process_success = 'N'`
	case SkippedTypes:
		// The script's own test: process_msg like '<type>: Skipped%'.
		where = `process_msg LIKE ANY (SELECT t || ': Skipped%' FROM unnest($3::text[]) AS t)`
	default:
		return nil, fmt.Errorf("select work items: unknown selection %d", sel.Kind)
	}
	args := []any{system, nil}
	if sel.Limit > 0 {
		args[1] = sel.Limit
	}
	if sel.Kind == SkippedTypes {
		args = append(args, sel.Types)
	}
	rows, err := q.Query(ctx, `SELECT corp_num, array_agg(record_id ORDER BY record_id)
FROM (SELECT record_id, corp_num FROM event_by_corp_filing
      WHERE system_type_cd = $1 AND `+where+`
      ORDER BY record_id LIMIT $2) r
GROUP BY corp_num ORDER BY min(record_id)`, args...)
	if err != nil {
		return nil, fmt.Errorf("select work items: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (CorpItems, error) {
		var c CorpItems
		err := r.Scan(&c.CorpNum, &c.RecordIDs)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("select work items: %w", err)
	}
	return list, nil
}

// HandedOver is the process_msg prefix of a work item made a requeue.
const HandedOver = "requeued as "

// MarkHandedOver records that the rows of each corporation became its
// requeue CorpEvent, msgIDs[corp]: processed (Y), its message id in
// process_msg. The requeue's own row then carries the outcome. A row a
// person changed again meanwhile is left alone (only rows still as
// selected: without a process date, or N, or S).
func MarkHandedOver(ctx context.Context, q eventdb.Querier, items []CorpItems, msgIDs map[string]string) (int64, error) {
	var ids []int64
	var msgs []string
	for _, c := range items {
		for _, id := range c.RecordIDs {
			ids, msgs = append(ids, id), append(msgs, eventdb.ProcessMsg(HandedOver+msgIDs[c.CorpNum]))
		}
	}
	if len(ids) == 0 {
		return 0, nil
	}
	tag, err := q.Exec(ctx, `UPDATE event_by_corp_filing e
SET process_date = LOCALTIMESTAMP, process_success = 'Y', process_msg = u.msg
FROM unnest($1::bigint[], $2::text[]) AS u(id, msg)
WHERE e.record_id = u.id AND (e.process_date IS NULL OR e.process_success IN ('N', 'S'))`, ids, msgs)
	if err != nil {
		return 0, fmt.Errorf("mark work items requeued: %w", err)
	}
	return tag.RowsAffected(), nil
}

// FailedHistoryCorps returns the corporations with a failed (N)
// corp_history_log row, requeueFailedCorps' selection, in corp_num order.
func FailedHistoryCorps(ctx context.Context, q eventdb.Querier, system string) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT DISTINCT corp_num FROM corp_history_log
WHERE system_type_cd = $1 AND process_success = 'N' ORDER BY corp_num`, system)
	if err != nil {
		return nil, fmt.Errorf("find failed corporations: %w", err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("find failed corporations: %w", err)
	}
	return list, nil
}

// Forgotten counts what ForgetCorps deleted.
type Forgotten struct {
	Credentials int64 `json:"credentials_deleted"`
	Snapshots   int64 `json:"snapshots_deleted"`
}

// ForgetCorps deletes the credential_log and corp_history_log rows of
// corps, as requeueOrganization does, so their next processing issues
// everything again. Call it holding the corporations' locks.
func ForgetCorps(ctx context.Context, q eventdb.Querier, system string, corps []string) (Forgotten, error) {
	var f Forgotten
	tag, err := q.Exec(ctx, `DELETE FROM credential_log WHERE system_type_cd = $1 AND corp_num = ANY($2)`, system, corps)
	if err != nil {
		return f, fmt.Errorf("forget corporations: credentials: %w", err)
	}
	f.Credentials = tag.RowsAffected()
	if tag, err = q.Exec(ctx, `DELETE FROM corp_history_log WHERE system_type_cd = $1 AND corp_num = ANY($2)`, system, corps); err != nil {
		return f, fmt.Errorf("forget corporations: snapshots: %w", err)
	}
	f.Snapshots = tag.RowsAffected()
	return f, nil
}

// Relationships returns (dry) or deletes the relationship (REL)
// credentials of corp naming related as associated_registration_id,
// queueOrgForRelnsUpdate's rows, and returns their record ids.
func Relationships(ctx context.Context, q eventdb.Querier, system, corp, related string, remove bool) ([]int64, error) {
	where := ` WHERE system_type_cd = $1 AND corp_num = $2 AND credential_type_cd = 'REL'
  AND credential_json->>'associated_registration_id' = $3`
	stmt := `SELECT record_id FROM credential_log` + where + ` ORDER BY record_id`
	if remove {
		stmt = `DELETE FROM credential_log` + where + ` RETURNING record_id`
	}
	rows, err := q.Query(ctx, stmt, system, corp, related)
	if err != nil {
		return nil, fmt.Errorf("relationship credentials of %s to %s: %w", corp, related, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("relationship credentials of %s to %s: %w", corp, related, err)
	}
	return ids, nil
}

// HandReset is a credential_log row reset to no status by hand.
type HandReset struct {
	RecordID int64
	CorpNum  string
}

// HandResets returns up to limit credential_log rows of system that were
// reset to no status by hand (migration 7's trigger marked them and put
// them back into the outbox), oldest first. cl_hand_reset.
func HandResets(ctx context.Context, q eventdb.Querier, system string, limit int) ([]HandReset, error) {
	rows, err := q.Query(ctx, `SELECT record_id, corp_num FROM credential_log
WHERE hand_reset_at IS NOT NULL AND system_type_cd = $1 ORDER BY record_id LIMIT $2`, system, limit)
	if err != nil {
		return nil, fmt.Errorf("find credentials reset by hand: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (HandReset, error) {
		var h HandReset
		err := r.Scan(&h.RecordID, &h.CorpNum)
		return h, err
	})
	if err != nil {
		return nil, fmt.Errorf("find credentials reset by hand: %w", err)
	}
	return list, nil
}

// ClearHandResets removes the mark of rows handled.
func ClearHandResets(ctx context.Context, q eventdb.Querier, ids []int64) error {
	if _, err := q.Exec(ctx, `UPDATE credential_log SET hand_reset_at = NULL WHERE record_id = ANY($1)`, ids); err != nil {
		return fmt.Errorf("clear the marks of credentials reset by hand: %w", err)
	}
	return nil
}

// ManageFigures answer the manage script's status commands over the event
// database, with the same SQL tests (docs/operations.md, "The manage
// script").
type ManageFigures struct {
	// Since starts the windows of PostedSince and StagedSince.
	Since time.Time `json:"since"`
	// RecordCounts: getRecordCounts, the rows of each table.
	RecordCounts map[string]int64 `json:"record_counts"`
	// Credentials: getCredentialPostRate's credential summary.
	Credentials CredentialSummary `json:"credentials"`
	// PostedSince: getCredentialPostRate, credentials posted (Y) since.
	PostedSince int64 `json:"posted_since"`
	// StagedSince: getCredentialStageRate, credentials stored since and
	// not yet answered.
	StagedSince int64 `json:"staged_since"`
	// FailedReasons: getFailedCredErrors, the failed (N) credentials by
	// reason; FailedTotal their sum.
	FailedReasons []FailedReason `json:"failed_reasons"`
	FailedTotal   int64          `json:"failed_total"`
}

// CredentialSummary is getCredentialPostRate's summary of credential_log.
type CredentialSummary struct {
	Total       int64 `json:"total_credentials"`
	Unprocessed int64 `json:"unprocessed"`
	Processed   int64 `json:"processed"`
	Posted      int64 `json:"posted"`
	Held        int64 `json:"held"` // any status but Y and N (ours: A, D)
	Errors      int64 `json:"errors"`
}

// FailedReason is one reason of failed credentials and how many.
type FailedReason struct {
	Count   int64  `json:"count"`
	Message string `json:"process_msg"`
}

// Manage reads the ManageFigures; since is an instant, compared with the
// tables' local timestamps in the database's time zone. The record counts
// scan every table: status reads them on demand.
func Manage(ctx context.Context, q eventdb.Querier, since time.Time) (ManageFigures, error) {
	m := ManageFigures{Since: since, RecordCounts: map[string]int64{}, FailedReasons: []FailedReason{}}
	rows, err := q.Query(ctx, `SELECT table_schema, table_name FROM information_schema.tables
WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`)
	if err != nil {
		return m, fmt.Errorf("record counts: %w", err)
	}
	tables, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]string, error) {
		var t [2]string
		err := r.Scan(&t[0], &t[1])
		return t, err
	})
	if err != nil {
		return m, fmt.Errorf("record counts: %w", err)
	}
	for _, t := range tables {
		var n int64
		if err := q.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{t[0], t[1]}.Sanitize()).Scan(&n); err != nil {
			return m, fmt.Errorf("record counts: %s: %w", t[1], err)
		}
		m.RecordCounts[t[1]] = n
	}
	local := `($1::timestamptz AT TIME ZONE current_setting('TimeZone'))`
	c := &m.Credentials
	if err := q.QueryRow(ctx, `SELECT count(1), count(1) FILTER (WHERE process_success IS NULL),
    count(1) FILTER (WHERE process_success IS NOT NULL), count(1) FILTER (WHERE process_success = 'Y'),
    count(1) FILTER (WHERE process_success IS NOT NULL AND process_success != 'Y' AND process_success != 'N'),
    count(1) FILTER (WHERE process_success = 'N'),
    count(1) FILTER (WHERE process_success = 'Y' AND process_date >= `+local+`),
    count(1) FILTER (WHERE process_success IS NULL AND entry_date >= `+local+`)
FROM credential_log`, since).Scan(&c.Total, &c.Unprocessed, &c.Processed, &c.Posted, &c.Held, &c.Errors,
		&m.PostedSince, &m.StagedSince); err != nil {
		return m, fmt.Errorf("credential summary: %w", err)
	}
	rows, err = q.Query(ctx, `SELECT count(*), coalesce(process_msg, '') FROM credential_log WHERE process_success = 'N'
GROUP BY process_msg ORDER BY count(*) DESC, process_msg`)
	if err != nil {
		return m, fmt.Errorf("failed credential reasons: %w", err)
	}
	reasons, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (FailedReason, error) {
		var f FailedReason
		err := r.Scan(&f.Count, &f.Message)
		return f, err
	})
	if err != nil {
		return m, fmt.Errorf("failed credential reasons: %w", err)
	}
	for _, f := range reasons {
		m.FailedReasons = append(m.FailedReasons, f)
		m.FailedTotal += f.Count
	}
	return m, nil
}
