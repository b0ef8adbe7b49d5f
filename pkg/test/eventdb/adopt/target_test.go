package adopt_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/adopt"
	"github.com/bcgov/bcreg-events/pkg/eventdb/adopt/originaltest"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// TestCheckTargetRefusesTheOriginal: the event database is refused when it
// is the original itself, reached by another URL (the servers' answers are
// compared, not the URLs), or when it holds the original's tables in
// either layout (a copy, or the state an adoption into the original left
// before this check: goose's table beside the original's); an empty or
// migrated database of ours is accepted. The check writes nothing.
func TestCheckTargetRefusesTheOriginal(t *testing.T) {
	ctx := testenv.Context(t)
	orig := originaltest.Create(t, testenv.NewDatabase(t), originaltest.Layout8bc273a)
	orig.Watermark(1000, time.Time{})
	from := testenv.Pool(t, orig.URL)

	sameByAnotherURL := orig.URL + "&application_name=another"
	if !strings.Contains(orig.URL, "?") {
		sameByAnotherURL = orig.URL + "?application_name=another"
	}
	migrated := testenv.NewDatabase(t)
	if _, err := eventdb.Migrate(ctx, testenv.Pool(t, migrated)); err != nil {
		t.Fatal(err)
	}
	copyOf := func(layout string) func(t *testing.T) string {
		return func(t *testing.T) string {
			return originaltest.Create(t, testenv.NewDatabase(t), layout).URL
		}
	}
	tests := []struct {
		name   string
		target func(t *testing.T) string
		want   error
	}{
		{"the original by another URL", func(*testing.T) string { return sameByAnotherURL }, adopt.ErrSameDatabase},
		{"a copy of an 8bc273a original", copyOf(originaltest.Layout8bc273a), adopt.ErrOriginalTables},
		{"a copy of a pre-LEAR original", copyOf(originaltest.LayoutPreLEAR), adopt.ErrOriginalTables},
		{"an original with goose's table", func(t *testing.T) string {
			u := copyOf(originaltest.LayoutPreLEAR)(t)
			if _, err := testenv.Pool(t, u).Exec(ctx, `CREATE TABLE goose_db_version (id SERIAL PRIMARY KEY, version_id BIGINT NOT NULL,
    is_applied BOOLEAN NOT NULL, tstamp TIMESTAMP DEFAULT now())`); err != nil {
				t.Fatal(err)
			}
			return u
		}, adopt.ErrOriginalTables},
		{"only the original's LAST_EVENT", func(t *testing.T) string {
			u := testenv.NewDatabase(t)
			if _, err := testenv.Pool(t, u).Exec(ctx, `CREATE TABLE LAST_EVENT (RECORD_ID SERIAL PRIMARY KEY, SYSTEM_TYPE_CD VARCHAR(255) NOT NULL,
    EVENT_ID INTEGER NOT NULL, EVENT_DATE TIMESTAMP NOT NULL, ENTRY_DATE TIMESTAMP NOT NULL)`); err != nil {
				t.Fatal(err)
			}
			return u
		}, adopt.ErrOriginalTables},
		{"an empty database", func(t *testing.T) string { return testenv.NewDatabase(t) }, nil},
		{"our migrated database", func(*testing.T) string { return migrated }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target := tc.target(t)
			before := originaltest.Fingerprint(t, target)
			beforeOrig := originaltest.Fingerprint(t, orig.URL)
			err := adopt.CheckTarget(ctx, testenv.Pool(t, target), from)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("CheckTarget: %v, want %v", err, tc.want)
			}
			if diff := cmp.Diff(before, originaltest.Fingerprint(t, target)); diff != "" {
				t.Errorf("the check changed the event database (-before +after):\n%s", diff)
			}
			if diff := cmp.Diff(beforeOrig, originaltest.Fingerprint(t, orig.URL)); diff != "" {
				t.Errorf("the check changed the original (-before +after):\n%s", diff)
			}
		})
	}

	// The original's own role is no superuser: its answers still name
	// the same server and database.
	t.Run("the original through a role without privileges", func(t *testing.T) {
		role := pgx.Identifier{"orig_reader_" + testenv.DatabaseName(orig.URL)}.Sanitize()
		admin := testenv.Pool(t, testenv.AdminURL(t))
		for _, sql := range []string{`CREATE ROLE ` + role + ` LOGIN PASSWORD 'reader'`,
			`GRANT CONNECT ON DATABASE ` + pgx.Identifier{testenv.DatabaseName(orig.URL)}.Sanitize() + ` TO ` + role} {
			if _, err := admin.Exec(ctx, sql); err != nil {
				t.Fatal(err)
			}
		}
		t.Cleanup(func() { _, _ = admin.Exec(context.Background(), `DROP ROLE IF EXISTS `+role) })
		u, _ := url.Parse(orig.URL)
		u.User = url.UserPassword(strings.Trim(role, `"`), "reader")
		reader := testenv.Pool(t, u.String())
		if err := adopt.CheckTarget(ctx, reader, from); !errors.Is(err, adopt.ErrSameDatabase) {
			t.Errorf("CheckTarget: %v, want %v", err, adopt.ErrSameDatabase)
		}
		reader.Close()
	})
}

// TestOpenOriginalReadsOnly: every transaction on the original's pool is
// read only, so no adoption can write there, whatever it runs.
func TestOpenOriginalReadsOnly(t *testing.T) {
	ctx := testenv.Context(t)
	orig := originaltest.Create(t, testenv.NewDatabase(t), originaltest.LayoutPreLEAR)
	orig.Watermark(1000, time.Date(2019, 3, 2, 9, 30, 0, 0, time.UTC))
	before := originaltest.Fingerprint(t, orig.URL)
	pool, err := adopt.OpenOriginal(ctx, orig.URL, "--from")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := adopt.Inspect(ctx, pool, "BC_REG"); err != nil {
		t.Fatalf("inspect through the read-only pool: %v", err)
	}
	for _, sql := range []string{`INSERT INTO LAST_EVENT (SYSTEM_TYPE_CD, EVENT_ID, EVENT_DATE, ENTRY_DATE) VALUES ('BC_REG', 2000, now(), now())`,
		`CREATE TABLE goose_db_version (id INT)`} {
		if _, err := pool.Exec(ctx, sql); err == nil || !strings.Contains(err.Error(), "read-only") {
			t.Errorf("%s: %v, want a read-only transaction's refusal", sql, err)
		}
	}
	if diff := cmp.Diff(before, originaltest.Fingerprint(t, orig.URL)); diff != "" {
		t.Errorf("the original changed (-before +after):\n%s", diff)
	}
}
