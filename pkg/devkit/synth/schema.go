package synth

import (
	"context"
	_ "embed"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/bcgov/bcreg-events/pkg/testkit/fixture"
)

// schemaSQL creates the bc_registries schema and the eleven source tables
// as the development fixture does, when missing.
//
//go:embed schema.sql
var schemaSQL string

// Group is the fixture_group value of every synthetic row.
const Group = "synthetic"

// indexes are the production registry's indexes that the pipeline's queries
// use (docs/design/registry.md §2, §3): per-corporation look-ups, events by id and by
// timestamp (the poller's watermark), addresses by id, FBO links both ways,
// and state rows by start and end event (the poller's affected-corporation
// query). Named, so that a second seed finds them.
var indexes = []string{
	`CREATE INDEX IF NOT EXISTS synth_corporation_corp_num ON bc_registries.corporation (corp_num)`,
	// The initial load pages through corporation numbers in "C" order.
	`CREATE INDEX IF NOT EXISTS synth_corporation_corp_num_c ON bc_registries.corporation (corp_num COLLATE "C")`,
	`CREATE INDEX IF NOT EXISTS synth_corp_state_corp_num ON bc_registries.corp_state (corp_num)`,
	`CREATE INDEX IF NOT EXISTS synth_corp_state_start_event_id ON bc_registries.corp_state (start_event_id)`,
	`CREATE INDEX IF NOT EXISTS synth_corp_state_end_event_id ON bc_registries.corp_state (end_event_id)`,
	`CREATE INDEX IF NOT EXISTS synth_corp_name_corp_num ON bc_registries.corp_name (corp_num)`,
	`CREATE INDEX IF NOT EXISTS synth_jurisdiction_corp_num ON bc_registries.jurisdiction (corp_num)`,
	`CREATE INDEX IF NOT EXISTS synth_office_corp_num ON bc_registries.office (corp_num)`,
	`CREATE INDEX IF NOT EXISTS synth_address_addr_id ON bc_registries.address (addr_id)`,
	`CREATE INDEX IF NOT EXISTS synth_event_event_id ON bc_registries.event (event_id)`,
	`CREATE INDEX IF NOT EXISTS synth_event_corp_num ON bc_registries.event (corp_num)`,
	`CREATE INDEX IF NOT EXISTS synth_event_event_timestmp ON bc_registries.event (event_timestmp)`,
	`CREATE INDEX IF NOT EXISTS synth_filing_event_id ON bc_registries.filing (event_id)`,
	`CREATE INDEX IF NOT EXISTS synth_conv_event_event_id ON bc_registries.conv_event (event_id)`,
	`CREATE INDEX IF NOT EXISTS synth_corp_party_corp_num ON bc_registries.corp_party (corp_num)`,
	`CREATE INDEX IF NOT EXISTS synth_corp_party_bus_company_num ON bc_registries.corp_party (bus_company_num)`,
}

// ensureSchema creates the schema, the source tables and, when the
// corp_type table is empty, the code tables with their rows. The code tables
// are taken as one unit: a database that has corp_type rows (the dev
// fixture's, a real registry's) keeps its own.
func ensureSchema(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, schemaSQL); err != nil {
		return fmt.Errorf("create source tables: %w", err)
	}
	var haveCodes bool
	err := tx.QueryRow(ctx, `SELECT to_regclass('bc_registries.corp_type') IS NOT NULL`).Scan(&haveCodes)
	if err == nil && haveCodes {
		err = tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM bc_registries.corp_type)`).Scan(&haveCodes)
	}
	if err != nil {
		return fmt.Errorf("check code tables: %w", err)
	}
	if haveCodes {
		return nil
	}
	// The fixture's code tables, so that synthetic and fixture databases
	// decode alike. The file sets the session's search_path; a
	// transaction-local one keeps a pooled connection as it was.
	sql := strings.Replace(fixture.CodeTablesSQL, "SET search_path TO bc_registries, public;", "SET LOCAL search_path TO bc_registries, public;", 1)
	if _, err := tx.Exec(ctx, sql); err != nil {
		return fmt.Errorf("load code tables: %w", err)
	}
	return nil
}

// createIndexes creates the production indexes that do not exist yet and
// refreshes the planner statistics of the source tables.
func createIndexes(ctx context.Context, tx pgx.Tx) error {
	for _, stmt := range indexes {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("create index: %w", err)
		}
	}
	for _, t := range tableNames() {
		if _, err := tx.Exec(ctx, "ANALYZE bc_registries."+t); err != nil {
			return fmt.Errorf("analyze %s: %w", t, err)
		}
	}
	return nil
}
