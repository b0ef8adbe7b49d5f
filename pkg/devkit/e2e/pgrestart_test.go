package e2e

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bcgov/bcreg-events/pkg/devkit/agentsim"
	"github.com/bcgov/bcreg-events/pkg/testkit/localpg"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// privateEventDB starts a PostgreSQL server of the test's own (the shared
// one serves the source database and other tests) and returns it with the
// URL of a fresh event database on it.
func privateEventDB(t *testing.T) (*localpg.Server, string) {
	t.Helper()
	srv := testenv.NewPostgres(t)
	ctx := testenv.Context(t)
	conn, err := pgx.Connect(ctx, srv.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE events"); err != nil {
		t.Fatal(err)
	}
	return srv, srv.URL("events")
}

// TestPostgresRestartMidPosting restarts the event database's server with
// `pg_ctl restart -m immediate` while both posters have requests at the
// agent. The answers of those requests are recorded once the server is
// back, and no poster sends while it cannot record. Duplicates at the
// agent come only from a poster killed mid-request or a reply lost after
// issue, each bounded by the credentials in flight; this test has neither,
// so it wants none (the code before the fix issued 12–18 of 51 twice,
// about as many as were in flight at the restart, plus what lanes sent
// while the database was down).
func TestPostgresRestartMidPosting(t *testing.T) {
	p := newPipeline(t, "snapshot")
	want := expectedDeliveries(t, p.sourceDB, "snapshot")
	srv, eventDB := privateEventDB(t)
	p.eventDB = eventDB
	p.env["BCREG_EVENT_DB_URL"] = eventDB
	p.env["BCREG_POSTER_REQUEST_SIZE"] = "2"
	p.env["BCREG_POSTER_MAX_INFLIGHT"] = "4"
	p.env["BCREG_POSTER_ADAPTIVE"] = "false"
	// Claims a crashed statement left behind run out soon.
	p.env["BCREG_POSTER_LEASE"] = "15s"
	p.startSim(map[string]string{"BCREG_SIM_LATENCY": "uniform(100ms,200ms)", "BCREG_SIM_SEED": "11"})
	p.startService("event-poller", "event-poller")
	p.startService("credential-builder-1", "credential-builder")
	p.startService("poster-1", "poster")
	p.startService("poster-2", "poster")
	ctx := testenv.Context(t)

	var before agentsim.Stats
	waitUntil(t, "posting under way with requests in flight", 2*time.Minute, func() bool {
		st, err := p.sim.Stats(ctx)
		before = st
		return err == nil && st.Issued >= int64(len(want)/5) && st.CredentialsInFlight >= 4
	})
	if err := srv.Restart(ctx, "immediate"); err != nil {
		t.Fatal(err)
	}
	after, _ := p.sim.Stats(ctx)
	t.Logf("PostgreSQL restarted (immediate) with %d requests, %d credentials at the agent; %d issued before, %d when it was back",
		before.InFlight, before.CredentialsInFlight, before.Issued, after.Issued)

	p.waitIdle(4*time.Minute, len(want))
	dups := p.checkDelivered(want, true)
	st, _ := p.sim.Stats(ctx)
	t.Logf("after the restart: %d credentials delivered, %d duplicates at the agent (bound: %d credentials in flight at the restart; %d requests in all)",
		len(want), dups, before.CredentialsInFlight, st.Requests)
	if dups != 0 {
		t.Errorf("%d duplicates at the agent (%d credentials were in flight at the restart), want none: no poster was killed and no reply lost", dups, before.CredentialsInFlight)
	}
}
