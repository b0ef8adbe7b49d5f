package operator

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bcgov/bcreg-events/pkg/eventdb"
)

// CorpWorkItem is one event_by_corp_filing row as the operator sees it
// (NULL text columns read as "").
type CorpWorkItem struct {
	RecordID      int64      `db:"record_id"`
	PrevEventID   int64      `db:"prev_event_id"`
	PrevEventDate time.Time  `db:"prev_event_date"`
	LastEventID   int64      `db:"last_event_id"`
	LastEventDate time.Time  `db:"last_event_date"`
	Reason        string     `db:"reason"`
	Success       string     `db:"process_success"`
	Msg           string     `db:"process_msg"`
	EntryDate     time.Time  `db:"entry_date"`
	ProcessDate   *time.Time `db:"process_date"`
}

// CorpCredential is one credential_log row as the operator sees it (NULL
// text columns read as "").
type CorpCredential struct {
	RecordID    int64      `db:"record_id"`
	Type        string     `db:"credential_type_cd"`
	ID          string     `db:"credential_id"`
	Reason      string     `db:"credential_reason"`
	Status      string     `db:"process_success"` // Y, N, D, A or "" (outstanding)
	Msg         string     `db:"process_msg"`     // Y: the agent's result id; N, D: why
	Hash        string     `db:"credential_hash"`
	EntryDate   time.Time  `db:"entry_date"`
	PublishedAt *time.Time `db:"published_at"`
	ProcessDate *time.Time `db:"process_date"`
	Attempts    int        `db:"attempts"`
}

// CorpWorkItems returns the latest limit work items of corpNum, newest
// first.
func CorpWorkItems(ctx context.Context, db eventdb.Querier, corpNum string, limit int) ([]CorpWorkItem, error) {
	rows, err := db.Query(ctx, `SELECT record_id, prev_event_id, prev_event_date, last_event_id, last_event_date,
	coalesce(reason, '') AS reason, coalesce(process_success, '') AS process_success,
	coalesce(process_msg, '') AS process_msg, entry_date, process_date
FROM event_by_corp_filing WHERE corp_num = $1 ORDER BY record_id DESC LIMIT $2`, corpNum, limit)
	if err != nil {
		return nil, fmt.Errorf("work items of %s: %w", corpNum, err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByName[CorpWorkItem])
	if err != nil {
		return nil, fmt.Errorf("work items of %s: %w", corpNum, err)
	}
	return list, nil
}

// CorpCredentials returns the latest limit credential_log rows of corpNum,
// newest first.
func CorpCredentials(ctx context.Context, db eventdb.Querier, corpNum string, limit int) ([]CorpCredential, error) {
	rows, err := db.Query(ctx, `SELECT record_id, credential_type_cd, coalesce(credential_id, '') AS credential_id,
	coalesce(credential_reason, '') AS credential_reason, coalesce(process_success, '') AS process_success,
	coalesce(process_msg, '') AS process_msg, credential_hash, entry_date, published_at, process_date, attempts
FROM credential_log WHERE corp_num = $1 ORDER BY record_id DESC LIMIT $2`, corpNum, limit)
	if err != nil {
		return nil, fmt.Errorf("credentials of %s: %w", corpNum, err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByName[CorpCredential])
	if err != nil {
		return nil, fmt.Errorf("credentials of %s: %w", corpNum, err)
	}
	return list, nil
}
