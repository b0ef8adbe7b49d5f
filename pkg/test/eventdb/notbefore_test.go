package eventdb_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/adopt/originaltest"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// TestMigrationBackfillsNotBefore: migration 5 gives the outstanding rows
// stored without a not_before the one the original's rule gives them (the
// poster read the expiry itself until then); final rows and rows that have
// one keep theirs.
func TestMigrationBackfillsNotBefore(t *testing.T) {
	ctx := testenv.Context(t)
	pool, _ := testenv.NewPool(t)
	if _, err := eventdb.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	texts, want := originaltest.HoldTexts()
	insert := func(hash, text, status string, notBefore *time.Time) {
		t.Helper()
		if _, err := pool.Exec(ctx, `INSERT INTO credential_log (system_type_cd, corp_num, prev_event_id, prev_event_date,
			last_event_id, last_event_date, credential_type_cd, schema_name, schema_version, credential_json, credential_hash,
			process_success, not_before)
			VALUES ('BC_REG', 'C1', 0, '0001-01-01', 1, '2020-01-01', 'REG', 's', '1', $2, $1, nullif($3, ''), $4)`,
			hash, text, status, notBefore); err != nil {
			t.Fatal(err)
		}
	}
	for hash, text := range texts {
		insert(hash, text, "", nil)
	}
	insert("posted", texts["expires-later"]+" ", "Y", nil)
	want["posted"] = ""
	set := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	insert("has-one", texts["expires-later"]+"  ", "", &set)
	want["has-one"] = "2030-01-02T03:04:05Z"
	// The rows above were stored as before version 5: run it (again), and
	// the versions after it (goose applies none out of order).
	if _, err := pool.Exec(ctx, `DELETE FROM goose_db_version WHERE version_id >= 5`); err != nil {
		t.Fatal(err)
	}
	res, err := eventdb.Migrate(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Applied) == 0 || res.Applied[0] != 5 {
		t.Errorf("applied %v, want version 5 first", res.Applied)
	}
	if diff := cmp.Diff(want, originaltest.NotBefores(t, pool)); diff != "" {
		t.Errorf("not_before by hash (-want +got):\n%s", diff)
	}
}
