package sourcetest

import (
	"fmt"
	"testing"
)

// Clone copies every corporation of the registry at dbURL `copies` times
// under new numbers (corp_num || '-' || k) with their rows, and adds the
// indexes production has (corp_num, event_id, addr_id), so a batch looks
// like a production-sized one. Filings and addresses are shared by the
// copies, as repeated ids are in the fixture; so are events, unless
// withEvents gives each copy its own event rows (same event ids, the
// copy's corp_num). For load tests and benchmarks.
func Clone(t testing.TB, dbURL string, copies int, withEvents bool) {
	t.Helper()
	tables := []struct{ table, set string }{
		{"corporation", "corp_num = corp_num || '-' || k"},
		{"corp_state", "corp_num = corp_num || '-' || k"},
		{"corp_name", "corp_num = corp_num || '-' || k"},
		{"jurisdiction", "corp_num = corp_num || '-' || k"},
		{"office", "corp_num = corp_num || '-' || k"},
		{"corp_party", "corp_num = corp_num || '-' || k, bus_company_num = bus_company_num || '-' || k"},
	}
	if withEvents {
		tables = append(tables, struct{ table, set string }{"event", "corp_num = corp_num || '-' || k"})
	}
	for _, tc := range tables {
		// The statements are fixed text: table names and expressions come
		// from the list above, the count is an integer.
		exec(t, dbURL, fmt.Sprintf(`CREATE TEMP TABLE c AS SELECT t.*, k FROM bc_registries.%[1]s t, generate_series(1, %[2]d) k;
UPDATE c SET %[3]s;
ALTER TABLE c DROP COLUMN k;
INSERT INTO bc_registries.%[1]s SELECT * FROM c;
DROP TABLE c`, tc.table, copies, tc.set))
	}
	exec(t, dbURL, `CREATE INDEX ON bc_registries.corporation (corp_num);
CREATE INDEX ON bc_registries.corp_state (corp_num);
CREATE INDEX ON bc_registries.corp_name (corp_num);
CREATE INDEX ON bc_registries.jurisdiction (corp_num);
CREATE INDEX ON bc_registries.office (corp_num);
CREATE INDEX ON bc_registries.corp_party (corp_num);
CREATE INDEX ON bc_registries.corp_party (bus_company_num);
CREATE INDEX ON bc_registries.event (event_id);
CREATE INDEX ON bc_registries.event (event_timestmp);
CREATE INDEX ON bc_registries.filing (event_id);
CREATE INDEX ON bc_registries.address (addr_id);
ANALYZE`)
}
