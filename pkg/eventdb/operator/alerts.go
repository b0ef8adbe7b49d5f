package operator

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bcgov/bcreg-events/pkg/eventdb"
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
func AlertStates(ctx context.Context, q eventdb.Querier) (map[string]AlertState, error) {
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
func SaveAlertState(ctx context.Context, q eventdb.Querier, s AlertState) error {
	if _, err := q.Exec(ctx, `INSERT INTO alert_state (alert_key, status_code, active, last_value, message, sent_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, now())
ON CONFLICT (alert_key) DO UPDATE SET status_code = excluded.status_code, active = excluded.active,
    last_value = excluded.last_value, message = excluded.message, sent_at = excluded.sent_at, updated_at = now()`,
		s.Key, s.StatusCode, s.Active, s.LastValue, s.Message, nullTime(s.SentAt)); err != nil {
		return fmt.Errorf("save alert state %s: %w", s.Key, err)
	}
	return nil
}
