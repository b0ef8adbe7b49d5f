// Package eventdbtest holds what the tests of pkg/eventdb's packages share:
// a migrated event database with published, outstanding credentials, as
// the poster and the outbox's sweep find them. Test code only.
package eventdbtest

import (
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// DeliveryDB is a migrated database with credentials h1..hn of corp C1 in
// record order.
func DeliveryDB(t *testing.T, n int) (*pgxpool.Pool, []string) {
	t.Helper()
	pool, _ := testenv.NewPool(t)
	ctx := testenv.Context(t)
	if _, err := eventdb.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	var hashes []string
	for i := 1; i <= n; i++ {
		h := fmt.Sprintf("h%d", i)
		if _, err := pool.Exec(ctx, `INSERT INTO credential_log (system_type_cd, corp_num, prev_event_id, prev_event_date,
			last_event_id, last_event_date, credential_type_cd, schema_name, schema_version, credential_json, credential_hash, published_at)
			VALUES ('BC_REG', 'C1', 0, '0001-01-01', 1, '2020-01-01', 'REG', 's', '1', '{}', $1, now())`, h); err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, h)
	}
	return pool, hashes
}
