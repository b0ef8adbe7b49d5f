package eventdb

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// AlertState is what the alerting owner (the active event-poller)
// remembers of one alert between evaluations and across failovers.
type AlertState struct {
	Key        string
	StatusCode string // ERROR, WARNING or INFO
	Active     bool
	// LastValue is, for an alert on a growing count, the count when the
	// last message was sent.
	LastValue int64
	Message   string
	SentAt    time.Time // zero: never sent
}

// AlertStates reads every stored alert state.
func AlertStates(ctx context.Context, q Querier) (map[string]AlertState, error) {
	rows, err := q.Query(ctx, `SELECT alert_key, status_code, active, last_value, coalesce(message, ''), sent_at FROM alert_state`)
	if err != nil {
		return nil, fmt.Errorf("read alert state: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AlertState, error) {
		var s AlertState
		var sent *time.Time
		err := r.Scan(&s.Key, &s.StatusCode, &s.Active, &s.LastValue, &s.Message, &sent)
		if sent != nil {
			s.SentAt = *sent
		}
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("read alert state: %w", err)
	}
	out := make(map[string]AlertState, len(list))
	for _, s := range list {
		out[s.Key] = s
	}
	return out, nil
}

// SaveAlertState stores one alert's state.
func SaveAlertState(ctx context.Context, q Querier, s AlertState) error {
	if _, err := q.Exec(ctx, `INSERT INTO alert_state (alert_key, status_code, active, last_value, message, sent_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, now())
ON CONFLICT (alert_key) DO UPDATE SET status_code = excluded.status_code, active = excluded.active,
    last_value = excluded.last_value, message = excluded.message, sent_at = excluded.sent_at, updated_at = now()`,
		s.Key, s.StatusCode, s.Active, s.LastValue, s.Message, nullTime(s.SentAt)); err != nil {
		return fmt.Errorf("save alert state %s: %w", s.Key, err)
	}
	return nil
}

// AlertFigures are the event database's inputs to the alert rules.
type AlertFigures struct {
	// Outstanding are due credentials not yet posted.
	Outstanding int64
	// BuilderFailed counts work items in N; CredFailed and CredDead
	// credentials in N and D. Alerts fire on their growth.
	BuilderFailed, CredFailed, CredDead int64
	// Attempting counts outstanding credentials with failed attempts.
	Attempting int64
	// Released counts credentials the sweep handed back to the outbox
	// because their bundle left BCREG_CREDS without an answer (grows).
	Released int64
	// LastAnswer is when the agent last answered (Y or N); OldestWaiting
	// when the oldest outstanding credential was published to the poster.
	LastAnswer, OldestWaiting *time.Time
}

// ReadAlertFigures reads AlertFigures with index-backed queries (the
// alerting owner runs it every minute).
func ReadAlertFigures(ctx context.Context, q Querier) (AlertFigures, error) {
	var f AlertFigures
	err := q.QueryRow(ctx, `SELECT
    (SELECT count(*) FROM credential_log WHERE process_success IS NULL AND `+isDue+`),
    (SELECT count(*) FROM event_by_corp_filing WHERE process_success = 'N'),
    (SELECT count(*) FROM credential_log WHERE process_success = 'N'),
    (SELECT count(*) FROM credential_log WHERE process_success = 'D'),
    (SELECT count(*) FROM credential_log WHERE process_success IS NULL AND attempts > 0),
    (SELECT count(*) FROM credential_log WHERE rearmed > 0),
    (SELECT max(process_date) FROM credential_log WHERE process_success IN ('Y', 'N')) AT TIME ZONE current_setting('TimeZone'),
    (SELECT min(published_at) FROM credential_log
      WHERE process_success IS NULL AND published_at IS NOT NULL AND `+isDue+`)`).
		Scan(&f.Outstanding, &f.BuilderFailed, &f.CredFailed, &f.CredDead, &f.Attempting, &f.Released, &f.LastAnswer, &f.OldestWaiting)
	if err != nil {
		return f, fmt.Errorf("read alert figures: %w", err)
	}
	return f, nil
}
