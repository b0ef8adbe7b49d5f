package adopt

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bcgov/bcreg-events/pkg/eventdb"
)

// The target checks' refusals (docs/design/operator-tooling.md, "adopt").
var (
	// ErrSameDatabase reports an event database that is the original's
	// own: the same server (system identifier) and database.
	ErrSameDatabase = errors.New("the event database is the original's own database")
	// ErrOriginalTables reports an event database holding tables of the
	// original (a copy of it, or the original under another name).
	ErrOriginalTables = errors.New("the event database holds the original's tables")
)

// OpenOriginal opens the original's database (url, read from setting) for
// reading only: every transaction on it is READ ONLY
// (default_transaction_read_only), so no statement of an adoption, failed
// or not, can change it.
func OpenOriginal(ctx context.Context, rawURL, setting string) (*pgxpool.Pool, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// pgpool names the setting and scrubs the password.
		return eventdb.Open(ctx, rawURL, setting)
	}
	q := u.Query()
	q.Set("default_transaction_read_only", "on")
	u.RawQuery = q.Encode()
	return eventdb.Open(ctx, u.String(), setting)
}

// ourMarkers are, per table the original also has, a column and type only
// our schema (pkg/eventdb/migrations) gives it: the original's last_event
// counts events in INTEGER, and it had no msg_id, prev_event_date on
// corp_history_log, or published_at.
var ourMarkers = map[string]struct{ col, typ string }{
	"last_event":           {"event_id", "bigint"},
	"event_by_corp_filing": {"msg_id", ""},
	"corp_history_log":     {"prev_event_date", ""},
	"credential_log":       {"published_at", ""},
}

// CheckTarget refuses, before anything is written, an event database `to`
// that is the original `from` itself (compared by what the servers say:
// system identifier and database, not by their URLs) or that holds the
// original's tables. It only reads both. Every adoption, its dry run
// included, calls it before touching `to`.
func CheckTarget(ctx context.Context, to, from eventdb.Querier) error {
	toID, err := identity(ctx, to)
	if err != nil {
		return fmt.Errorf("check event database: %w", err)
	}
	fromID, err := identity(ctx, from)
	if err != nil {
		return fmt.Errorf("check original: %w", err)
	}
	if toID == fromID {
		return fmt.Errorf("adopt: %w (%s)", ErrSameDatabase, toID)
	}
	tables, err := readTables(ctx, to)
	if err != nil {
		return fmt.Errorf("check event database: %w", err)
	}
	var theirs []string
	for name, t := range tables {
		m := ourMarkers[name]
		if !t.has(m.col) || (m.typ != "" && t.types[m.col] != m.typ) {
			theirs = append(theirs, strings.ToUpper(name))
		}
	}
	if len(theirs) > 0 {
		slices.Sort(theirs)
		return fmt.Errorf("adopt: %w (%s)", ErrOriginalTables, strings.Join(theirs, ", "))
	}
	return nil
}

// identity names a database by what its server says: the cluster's system
// identifier (the same behind every host name, address or pooler) and the
// database. Where pg_control_system() is not granted, the postmaster's
// start time stands in for the system identifier.
func identity(ctx context.Context, q eventdb.Querier) (string, error) {
	var sys, db string
	err := q.QueryRow(ctx, `SELECT system_identifier::text, current_database() FROM pg_control_system()`).Scan(&sys, &db)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42501" { // insufficient_privilege
		err = q.QueryRow(ctx, `SELECT 'server started ' || pg_postmaster_start_time()::text, current_database()`).Scan(&sys, &db)
	} else if err == nil {
		sys = "system " + sys
	}
	if err != nil {
		return "", err
	}
	return sys + ", database " + db, nil
}
