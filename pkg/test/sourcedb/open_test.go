package sourcedb_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bcgov/bcreg-events/pkg/sourcedb"
	"github.com/bcgov/bcreg-events/pkg/testkit/sourcetest"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// TestOpen: the registry database opens on its own (no event schema, no
// migration) and reads; a failure names BCREG_SOURCE_DB_URL, not the
// password.
func TestOpen(t *testing.T) {
	ctx := testenv.Context(t)
	url := sourcetest.WholeFixture(t, sourcetest.Template(t))
	pool, err := sourcedb.Open(ctx, url, "BCREG_SOURCE_DB_URL")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var corps int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM bc_registries.corporation`).Scan(&corps); err != nil {
		t.Fatal(err)
	}
	if corps == 0 {
		t.Error("the registry fixture reads no corporation")
	}
	var eventTables int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_name IN ('credential_log', 'goose_db_version')`).Scan(&eventTables); err != nil {
		t.Fatal(err)
	}
	if eventTables != 0 {
		t.Errorf("opening the registry created %d event-database tables", eventTables)
	}

	octx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	_, err = sourcedb.Open(octx, "postgres://u:hunter2@127.0.0.1:1/db?connect_timeout=2", "BCREG_SOURCE_DB_URL")
	if err == nil || !strings.Contains(err.Error(), "BCREG_SOURCE_DB_URL") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("unreachable registry: error %v, want one naming BCREG_SOURCE_DB_URL without the password", err)
	}
}
