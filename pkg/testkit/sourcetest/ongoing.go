package sourcetest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Ongoing is a scenario of registry changes made after an initial load of
// the whole development fixture, each committed as the registry would
// (an event row with its filing and the records it starts or ends):
//
//   - company 0191294 changes its name (its own FILE event, NOALA);
//   - firm FM1227394 (owned by A9592574) gets a second owner, company
//     7078358 (a FILE event of the firm, FRCHG, starting an FBO row): the
//     owner has no event of its own but owns one more firm;
//   - an ADMIN event of company 8585951 ends the active state of company
//     2075204 and starts a historical (amalgamated) one: 2075204 has no
//     event of its own.
//
// Event ids start at OngoingFirstEventID, far above the fixture's.
type Ongoing struct {
	// EventIDs are the new events, in timestamp order.
	EventIDs []int64
	// Affected are the corporations the pre-LEAR discovery finds, in
	// corp_num order: the events' own corporations, 2075204 through its
	// state, and the FBO owners and firms of all of these (LP0475721 owned
	// by 0191294; A9592574 and 7078358 owning FM1227394).
	Affected []string
	// Changed are the corporations whose snapshot-profile credentials
	// change: 0191294 (name), 7078358 (a new owned firm), 2075204 (status).
	Changed []string
}

// OngoingFirstEventID is the first event id the scenarios use.
const OngoingFirstEventID = 990_000_001

// ApplyOngoing commits the Ongoing scenario's rows to the source database
// at dbURL, with event timestamps 3, 2 and 1 minutes before at (naive BC
// local), and returns it.
func ApplyOngoing(t testing.TB, dbURL string, at time.Time) Ongoing {
	t.Helper()
	e1, e2, e3 := int64(OngoingFirstEventID), int64(OngoingFirstEventID+1), int64(OngoingFirstEventID+2)
	t1, t2, t3 := at.Add(-3*time.Minute), at.Add(-2*time.Minute), at.Add(-time.Minute)
	exec(t, dbURL,
		// 0191294: name change.
		`INSERT INTO bc_registries.event (event_id, corp_num, event_typ_cd, event_timestmp, fixture_group) VALUES ($1, '0191294', 'FILE', $2, 'ongoing')`, e1, t1)
	exec(t, dbURL, `INSERT INTO bc_registries.filing (event_id, filing_typ_cd, effective_dt, fixture_group) VALUES ($1, 'NOALA', $2, 'ongoing')`, e1, t1)
	exec(t, dbURL, `UPDATE bc_registries.corp_name SET end_event_id = $1 WHERE corp_num = '0191294' AND corp_name_typ_cd = 'CO' AND end_event_id IS NULL`, e1)
	exec(t, dbURL, `INSERT INTO bc_registries.corp_name (corp_num, corp_name_typ_cd, start_event_id, corp_name_seq_num, end_event_id, srch_nme, corp_nme, fixture_group)
VALUES ('0191294', 'CO', $1, 1, NULL, 'RENAMEDHOLDINGS', 'RENAMED HOLDINGS LTD.', 'ongoing')`, e1)
	// FM1227394: a second owner, 7078358.
	exec(t, dbURL, `INSERT INTO bc_registries.event (event_id, corp_num, event_typ_cd, event_timestmp, fixture_group) VALUES ($1, 'FM1227394', 'FILE', $2, 'ongoing')`, e2, t2)
	exec(t, dbURL, `INSERT INTO bc_registries.filing (event_id, filing_typ_cd, effective_dt, fixture_group) VALUES ($1, 'FRCHG', $2, 'ongoing')`, e2, t2)
	exec(t, dbURL, `INSERT INTO bc_registries.corp_party (corp_party_id, corp_num, party_typ_cd, start_event_id, end_event_id, business_nme, bus_company_num, fixture_group)
VALUES ($1, 'FM1227394', 'FBO', $1, NULL, 'SECOND OWNER LTD.', '7078358', 'ongoing')`, e2)
	// 8585951's event ends 2075204's active state (an amalgamation).
	exec(t, dbURL, `INSERT INTO bc_registries.event (event_id, corp_num, event_typ_cd, event_timestmp, fixture_group) VALUES ($1, '8585951', 'ADMIN', $2, 'ongoing')`, e3, t3)
	exec(t, dbURL, `UPDATE bc_registries.corp_state SET end_event_id = $1 WHERE corp_num = '2075204' AND end_event_id IS NULL`, e3)
	exec(t, dbURL, `INSERT INTO bc_registries.corp_state (corp_num, start_event_id, end_event_id, state_typ_cd, fixture_group) VALUES ('2075204', $1, NULL, 'HAM', 'ongoing')`, e3)
	return Ongoing{
		EventIDs: []int64{e1, e2, e3},
		Affected: []string{"0191294", "2075204", "7078358", "8585951", "A9592574", "FM1227394", "LP0475721"},
		Changed:  []string{"0191294", "2075204", "7078358"},
	}
}

// AddEvent commits one event row (no filing, no records) for corpNum at ts
// (naive BC local) and returns nothing; a quick way to make a corporation
// "changed" for discovery.
func AddEvent(t testing.TB, dbURL string, eventID int64, corpNum string, ts time.Time) {
	t.Helper()
	var corp any = corpNum
	if corpNum == "" {
		corp = nil
	}
	exec(t, dbURL, `INSERT INTO bc_registries.event (event_id, corp_num, event_typ_cd, event_timestmp, fixture_group) VALUES ($1, $2, 'ADMIN', $3, 'added')`, eventID, corp, ts)
}

func exec(t testing.TB, dbURL, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("sourcetest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("sourcetest: %s: %v", sql, err)
	}
}
