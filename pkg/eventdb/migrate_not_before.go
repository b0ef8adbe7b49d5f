package eventdb

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/bcgov/bcreg-events/pkg/credential"
)

// notBeforeMigration (version 5, in Go because it applies
// credential.OriginalHold, the one rule, rather than a copy of it in SQL):
// until then the poster read a future expiry_date itself when a row had no
// not_before (rows adopted from the original). Now every statement reads
// only not_before, so the outstanding rows stored without one get it here;
// adoption sets it since. The down migration leaves the values (they are
// what the old poster would have set on the first delivery).
var notBeforeMigration = goose.NewGoMigration(5,
	&goose.GoFunc{RunTx: backfillNotBefore},
	&goose.GoFunc{RunTx: func(context.Context, *sql.Tx) error { return nil }})

// backfillNotBefore sets not_before of outstanding rows without one whose
// credential holds them back (a future expiry_date).
func backfillNotBefore(ctx context.Context, tx *sql.Tx) error {
	// ::text: credential_json is json from version 7 on, and a re-run of
	// this version on a connection that ran it before must not change the
	// cached statement's result type.
	rows, err := tx.QueryContext(ctx, `SELECT record_id, credential_json::text FROM credential_log
WHERE process_success IS NULL AND not_before IS NULL ORDER BY record_id`)
	if err != nil {
		return fmt.Errorf("backfill not_before: %w", err)
	}
	defer rows.Close()
	type hold struct {
		id int64
		nb time.Time
	}
	var holds []hold
	now := time.Now()
	for rows.Next() {
		var h hold
		var text string
		if err := rows.Scan(&h.id, &text); err != nil {
			return fmt.Errorf("backfill not_before: %w", err)
		}
		if nb := OriginalNotBefore(text, now); nb != nil {
			h.nb = *nb
			holds = append(holds, h)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("backfill not_before: %w", err)
	}
	rows.Close()
	for _, h := range holds {
		if _, err := tx.ExecContext(ctx, `UPDATE credential_log SET not_before = $2 WHERE record_id = $1`, h.id, h.nb); err != nil {
			return fmt.Errorf("backfill not_before of record %d: %w", h.id, err)
		}
	}
	return nil
}

// OriginalNotBefore is when a credential the original generated may be
// posted (credential.OriginalHold, read from its stored text); nil for at
// once. Only texts naming a hold date are parsed. Migration 5 and the
// adoption of the original's database (pkg/eventdb/adopt) apply it.
func OriginalNotBefore(text string, now time.Time) *time.Time {
	named := false
	for _, key := range credential.OriginalHold {
		named = named || strings.Contains(text, key)
	}
	if !named {
		return nil
	}
	var attrs map[string]any
	if err := json.Unmarshal([]byte(text), &attrs); err != nil {
		return nil // not an object: nothing to hold it by
	}
	nb := credential.OriginalHold.NotBefore(attrs, now)
	if nb.IsZero() {
		return nil
	}
	return &nb
}
