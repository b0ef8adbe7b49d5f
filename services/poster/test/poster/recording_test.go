package poster_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/devkit/agentsim"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
	"github.com/bcgov/bcreg-events/services/poster/internal/poster"
)

// databaseOutage makes the test's event database refuse every connection
// and ends the open ones (what a PostgreSQL restart does to a poster,
// scoped to this test's database); the returned func ends the outage.
func (e *env) databaseOutage() func() {
	e.t.Helper()
	ctx := testenv.Context(e.t)
	admin, err := pgx.Connect(ctx, testenv.AdminURL(e.t))
	if err != nil {
		e.t.Fatal(err)
	}
	name := testenv.DatabaseName(e.dbURL)
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{name}.Sanitize()+" ALLOW_CONNECTIONS false"); err != nil {
		e.t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name); err != nil {
		e.t.Fatal(err)
	}
	return func() {
		defer admin.Close(ctx)
		if _, err := admin.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{name}.Sanitize()+" ALLOW_CONNECTIONS true"); err != nil {
			e.t.Fatal(err)
		}
		e.pool.Reset() // the test's own connections were ended too
	}
}

// TestAnswersRecordedAcrossDatabaseOutage: the database goes away while
// requests are at the agent. Their answers are recorded once it is back
// (the write is retried within the lease), so nothing is posted twice, and
// every credential ends Y.
func TestAnswersRecordedAcrossDatabaseOutage(t *testing.T) {
	e := newEnv(t, agentsim.Config{Faults: agentsim.Faults{CredLatency: agentsim.Fixed(200 * time.Millisecond)}})
	creds := e.seedMany(30, 1, []int{1, 2})
	cfg := e.config("p1")
	cfg.Adaptive, cfg.MaxInflight, cfg.RequestSize = false, 4, 2
	cfg.Lease = 15 * time.Second // the outage is far shorter
	r := e.start(cfg)
	testenv.WaitFor(t, "requests in flight", func() bool { return e.currentSim().Stats().InFlight >= 3 })
	at := e.currentSim().Stats()
	end := e.databaseOutage()
	// Every request sent before the outage has its answer; the poster has
	// tried (and failed) to record them.
	testenv.WaitFor(t, "answers of the requests in flight", func() bool {
		st := e.currentSim().Stats()
		return st.Requests-st.InFlight >= at.Requests
	})
	testenv.WaitFor(t, "a failed record", func() bool { return r.p.EventDBFailing() })
	sent := e.currentSim().Stats().Requests
	end()
	rows := e.waitFinal(creds)
	if diff := cmp.Diff(map[string]int{"Y": len(creds)}, statusCounts(rows)); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	st := e.currentSim().Stats()
	t.Logf("outage with %d requests (%d credentials) in flight; %d requests sent by the time a record had failed; %d duplicates",
		at.InFlight, at.CredentialsInFlight, sent-at.Requests, st.Duplicates)
	if st.Duplicates != 0 {
		t.Errorf("%d duplicates at the agent, want 0: every answer is recorded once the database is back", st.Duplicates)
	}
	if got := testutilCounter(t, r, "bcreg_poster_answers_unrecorded_total"); got != 0 {
		t.Errorf("unrecorded answers = %v, want 0", got)
	}
}

// TestAnswersUnrecordedWhenOutageOutlastsLease: the database stays away
// longer than the claims' lease. Recording the answers gives up at the
// lease's end (after it another poster may post the credentials), the
// answers count as unrecorded, and once the database is back the
// credentials are posted again and end Y: the duplicates at the agent are
// at most the unrecorded answers.
func TestAnswersUnrecordedWhenOutageOutlastsLease(t *testing.T) {
	e := newEnv(t, agentsim.Config{Faults: agentsim.Faults{CredLatency: agentsim.Fixed(200 * time.Millisecond)}})
	creds := e.seedMany(30, 1, []int{1, 2})
	cfg := e.config("p1")
	cfg.Adaptive, cfg.MaxInflight, cfg.RequestSize = false, 4, 2
	cfg.Lease = 2 * time.Second // the outage outlasts it
	r := e.start(cfg)
	testenv.WaitFor(t, "requests in flight", func() bool { return e.currentSim().Stats().InFlight >= 3 })
	end := e.databaseOutage()
	testenv.WaitFor(t, "answers given up at the lease's end", func() bool {
		return testutilCounter(t, r, "bcreg_poster_answers_unrecorded_total") > 0
	})
	end()
	rows := e.waitFinal(creds)
	if diff := cmp.Diff(map[string]int{"Y": len(creds)}, statusCounts(rows)); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	unrecorded := testutilCounter(t, r, "bcreg_poster_answers_unrecorded_total")
	st := e.currentSim().Stats()
	t.Logf("%v answers unrecorded, %d duplicates at the agent", unrecorded, st.Duplicates)
	if float64(st.Duplicates) > unrecorded {
		t.Errorf("%d duplicates at the agent, want at most the %v unrecorded answers", st.Duplicates, unrecorded)
	}
}

// TestStopWaitsForTheAnswersOfRequestsInFlight: SIGTERM (the end of Run's
// context, through the daemon) while the agent holds a request for longer
// than BCREG_SHUTDOWN_TIMEOUT: the process does not close its pool before
// the answer is recorded, so the successor posts nothing twice.
func TestStopWaitsForTheAnswersOfRequestsInFlight(t *testing.T) {
	e := newEnv(t, agentsim.Config{Faults: agentsim.Faults{Latency: agentsim.Fixed(1500 * time.Millisecond)}})
	creds := e.seedMany(6, 1, []int{1})
	cfg := e.config("stopping")
	cfg.Adaptive, cfg.MaxInflight, cfg.RequestSize = false, 2, 1
	cfg.RequestTimeout, cfg.Lease = 3*time.Second, 8*time.Second
	cfg.ShutdownTimeout = 200 * time.Millisecond // far below the agent's time
	cfg.HTTP.Addr = freeLoopback(t)
	cfg.NATS = config.NATS{URL: config.URL(e.nats.URL())}
	cfg.EventDB = config.EventDB{URL: config.URL(e.dbURL)}
	ctx, sigterm := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- poster.Run(ctx, cfg, zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel))) }()
	testenv.WaitFor(t, "requests in flight", func() bool { return e.currentSim().Stats().InFlight >= 2 })
	sigterm()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(time.Minute): // a guard, not a timing
		t.Fatal("Run did not return after the stop")
	}
	if st := e.currentSim().Stats(); st.InFlight != 0 {
		t.Errorf("the process stopped with %d requests still at the agent", st.InFlight)
	}
	succ := e.config("successor")
	succ.Lease = 8 * time.Second
	e.start(succ)
	rows := e.waitFinal(creds)
	if diff := cmp.Diff(map[string]int{"Y": len(creds)}, statusCounts(rows)); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if st := e.currentSim().Stats(); st.Duplicates != 0 {
		t.Errorf("%d credentials issued twice after a graceful stop, want 0", st.Duplicates)
	}
}

func freeLoopback(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
