package poster_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/devkit/agentsim"
	"github.com/bcgov/bcreg-events/pkg/eventdb/delivery"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
	"github.com/bcgov/bcreg-events/services/poster/internal/poster"
)

// seedMany publishes bundles for corps, bundle sizes cycling through sizes.
func (e *env) seedMany(corps, bundlesPerCorp int, sizes []int) []seeded {
	var all []seeded
	k := 0
	for b := 0; b < bundlesPerCorp; b++ {
		for c := 0; c < corps; c++ {
			n := sizes[k%len(sizes)]
			k++
			specs := make([]credSpec, n)
			all = append(all, e.seedBundle(fmt.Sprintf("BC%07d", c+1), specs...)...)
		}
	}
	return all
}

// assertDeliveredOnce checks that every seeded credential is Y with the
// agent's id, was issued exactly once, in per-corporation order, and that
// nothing is left in the stream or dead-lettered.
func (e *env) assertDeliveredOnce(creds []seeded, rows map[string]row) {
	t := e.t
	t.Helper()
	order, count := issuedNames(e.received())
	ids := map[string]bool{}
	for _, r := range e.received() {
		ids[r.Result] = true
	}
	for _, c := range creds {
		r := rows[c.hash]
		if r.Status != delivery.Issued || !ids[r.Msg] {
			t.Errorf("%s: status %q msg %q, want Y with the agent's result id", c.name, r.Status, r.Msg)
		}
		if count[c.name] != 1 {
			t.Errorf("%s issued %d times, want once", c.name, count[c.name])
		}
	}
	if len(order) != len(creds) {
		t.Errorf("agent issued %d credentials, want %d", len(order), len(creds))
	}
	checkOrder(t, order)
	testenv.WaitFor(t, "stream drained", func() bool { return e.streamMsgs(bus.StreamCreds) == 0 })
	if dls := e.deadLetters(); len(dls) != 0 {
		t.Errorf("%d dead letters, want none: %+v", len(dls), dls[0].Reason)
	}
}

// TestDeliversEveryCredentialExactlyOnce: N bundles, no faults, one poster:
// each credential issued once, marked Y with its id, every bundle acked.
// A bundle larger than a request goes out as consecutive requests.
func TestDeliversEveryCredentialExactlyOnce(t *testing.T) {
	e := newEnv(t, agentsim.Config{Faults: agentsim.Faults{Latency: agentsim.Fixed(5 * time.Millisecond)}})
	creds := e.seedMany(40, 2, []int{1, 2, 3})
	big := make([]credSpec, 47) // three requests of 20, 20, 7
	creds = append(creds, e.seedBundle("BC9999999", big...)...)
	r := e.start(e.config("p1"))
	rows := e.waitFinal(creds)
	e.assertDeliveredOnce(creds, rows)
	if st := e.currentSim().Stats(); st.Duplicates != 0 || st.Failed != 0 {
		t.Errorf("simulator stats: %+v, want no duplicates or failures", st)
	}
	if failed, report := r.health.Ready(testenv.Context(t)); failed || !strings.Contains(report, "agent: ok") {
		t.Errorf("readiness: failed=%v\n%s", failed, report)
	}
}

// TestOrderAcrossThreeReplicas: three posters on one durable consumer,
// random agent latency, several bundles per corporation: each
// corporation's credentials reach the agent in record_id order and once.
func TestOrderAcrossThreeReplicas(t *testing.T) {
	e := newEnv(t, agentsim.Config{Seed: 7, Faults: agentsim.Faults{
		Latency: agentsim.Uniform(time.Millisecond, 40*time.Millisecond), CredLatency: agentsim.Uniform(0, 10*time.Millisecond)}})
	creds := e.seedMany(25, 4, []int{1, 3, 2, 7})
	for _, id := range []string{"p1", "p2", "p3"} {
		cfg := e.config(id)
		cfg.RequestSize = 4 // more requests, more chances to overtake
		e.start(cfg)
	}
	rows := e.waitFinal(creds)
	e.assertDeliveredOnce(creds, rows)
}

// faultCase is one agent fault that must end with every credential
// delivered, nothing N or D, nothing dead-lettered.
type faultCase struct {
	name string
	sim  agentsim.Config
	cfg  func(*poster.Config)
	// during runs the fault; it returns when the fault is over.
	during func(t *testing.T, e *env)
	// noAttempts: the fault must not count attempts (health gate).
	noAttempts bool
}

func TestFaultsEndWithEveryCredentialDelivered(t *testing.T) {
	cases := []faultCase{
		{
			name: "5xx_burst",
			sim:  agentsim.Config{Faults: agentsim.Faults{ErrorRate: 1, ErrorStatus: 502}},
			during: func(t *testing.T, e *env) {
				testenv.WaitFor(t, "errors", func() bool { return e.currentSim().Stats().Injected.Errors >= 3 })
				setFaults(t, e, agentsim.Faults{})
			},
		},
		{
			name: "hang_beyond_timeout",
			sim:  agentsim.Config{Faults: agentsim.Faults{HangRate: 1}},
			cfg:  func(c *poster.Config) { c.RequestTimeout = 300 * time.Millisecond },
			during: func(t *testing.T, e *env) {
				testenv.WaitFor(t, "hangs", func() bool { return e.currentSim().Stats().Injected.Hangs >= 2 })
				setFaults(t, e, agentsim.Faults{})
			},
		},
		{
			name:       "not_synchronised_period",
			sim:        agentsim.Config{Faults: agentsim.Faults{UnsyncedFor: agentsim.Duration(1500 * time.Millisecond)}},
			during:     func(t *testing.T, e *env) { time.Sleep(1500 * time.Millisecond) },
			noAttempts: true,
		},
		{
			name: "agent_restart",
			sim:  agentsim.Config{Faults: agentsim.Faults{CredLatency: agentsim.Fixed(200 * time.Millisecond)}},
			during: func(t *testing.T, e *env) {
				testenv.WaitFor(t, "first issue", func() bool { return e.currentSim().Stats().Requests > 0 })
				e.stopSim()
				time.Sleep(time.Second)
				e.restartSim(agentsim.Config{})
			},
			noAttempts: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.sim)
			creds := e.seedMany(12, 2, []int{1, 2, 3})
			cfg := e.config("p1")
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			e.start(cfg)
			tc.during(t, e)
			rows := e.waitFinal(creds)
			if diff := cmp.Diff(map[string]int{"Y": len(creds)}, statusCounts(rows)); diff != "" {
				t.Errorf("statuses (-want +got):\n%s", diff)
			}
			order, count := issuedNames(e.received())
			checkOrder(t, order)
			for _, c := range creds {
				if count[c.name] < 1 {
					t.Errorf("%s never issued", c.name)
				}
				if tc.noAttempts && rows[c.hash].Attempts != 0 {
					t.Errorf("%s: %d attempts counted while the agent was unhealthy, want 0", c.name, rows[c.hash].Attempts)
				}
			}
			testenv.WaitFor(t, "stream drained", func() bool { return e.streamMsgs(bus.StreamCreds) == 0 })
			if dls := e.deadLetters(); len(dls) != 0 {
				t.Errorf("%d dead letters, want none", len(dls))
			}
		})
	}
}

func setFaults(t *testing.T, e *env, f agentsim.Faults) {
	t.Helper()
	if err := e.currentSim().SetFaults(f); err != nil {
		t.Fatal(err)
	}
}

// TestPerItemRejection: OrgBook refuses one credential of a request (C15):
// it ends N with the agent's reason and a DeadLetter naming it; the rest
// of its request is delivered.
func TestPerItemRejection(t *testing.T) {
	e := newEnv(t, agentsim.Config{Faults: agentsim.Faults{Rejections: agentsim.Rejections{
		{Attribute: "entity_name", Value: "BC0000002#002", Message: "Duplicate credential"}}}})
	var creds []seeded
	for c := 1; c <= 4; c++ {
		creds = append(creds, e.seedBundle(fmt.Sprintf("BC%07d", c), credSpec{}, credSpec{}, credSpec{})...)
	}
	e.start(e.config("p1"))
	rows := e.waitFinal(creds)
	var rejected seeded
	for _, c := range creds {
		want := delivery.Issued
		if c.name == "BC0000002#002" {
			want, rejected = delivery.Rejected, c
		}
		if rows[c.hash].Status != want {
			t.Errorf("%s: status %q, want %q", c.name, rows[c.hash].Status, want)
		}
	}
	if got := rows[rejected.hash].Msg; got != "Credential was not stored: Duplicate credential" {
		t.Errorf("rejected row's process_msg = %q", got)
	}
	testenv.WaitFor(t, "stream drained", func() bool { return e.streamMsgs(bus.StreamCreds) == 0 })
	dls := e.deadLetters()
	if len(dls) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dls))
	}
	dl := dls[0]
	if dl.Stage != "poster" || dl.CorpNum != "BC0000002" || dl.OriginalHeaders[poster.HeaderCredentialHash][0] != rejected.hash ||
		!strings.Contains(dl.Reason, "Credential was not stored: Duplicate credential") || len(dl.PayloadBase64) == 0 {
		t.Errorf("dead letter = %+v", dl)
	}
}

// switchable serves whichever simulator it points at.
type switchable struct{ h atomic.Pointer[http.Handler] }

func (s *switchable) ServeHTTP(w http.ResponseWriter, r *http.Request) { (*s.h.Load()).ServeHTTP(w, r) }

func (s *switchable) set(h http.Handler) { s.h.Store(&h) }

// wrongAgent serves an agent of another issuer (every row: "Unknown
// connection id") behind a switch; it returns the wrong agent, the switch
// and the agent URL.
func wrongAgent(t *testing.T) (*agentsim.Sim, *switchable, config.URL) {
	t.Helper()
	wrong, err := agentsim.New(agentsim.Config{Issuer: "bcreg-other"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wrong.Close() })
	sw := &switchable{}
	sw.set(wrong.Handler())
	srv := httptest.NewServer(sw)
	t.Cleanup(srv.Close)
	return wrong, sw, config.URL(srv.URL + "/bcreg")
}

// TestMisconfiguredAgentMarksNothing: every row answers "Unknown
// connection id" (the agent serves another issuer). The poster marks
// nothing, counts no attempt, reports not ready and stops pulling; it
// retries periodically and delivers once the agent is fixed.
func TestMisconfiguredAgentMarksNothing(t *testing.T) {
	e := newEnv(t, agentsim.Config{})
	wrong, sw, url := wrongAgent(t)
	creds := e.seedMany(6, 1, []int{2, 1})
	cfg := e.config("p1")
	cfg.Config.URLs = url
	cfg.MisconfigRetry = 500 * time.Millisecond
	r := e.start(cfg)
	testenv.WaitFor(t, "misconfiguration noticed", func() bool { return wrong.Stats().Rejected > 0 })
	testenv.WaitFor(t, "not ready", func() bool {
		failed, report := r.health.Ready(testenv.Context(t))
		return failed && strings.Contains(report, "misconfigured: Unknown connection id: bcreg")
	})
	time.Sleep(time.Second) // a few periodic retries
	for h, row := range e.rows() {
		if row.Status != "" || row.Attempts != 0 {
			t.Errorf("%s: status %q attempts %d, want untouched", h, row.Status, row.Attempts)
		}
	}
	if n := e.streamMsgs(bus.StreamCreds); n != 6 {
		t.Errorf("stream holds %d bundles, want all 6", n)
	}
	if dls := e.deadLetters(); len(dls) != 0 {
		t.Errorf("%d dead letters, want none", len(dls))
	}
	requests := wrong.Stats().Requests
	if requests > 6 {
		t.Errorf("%d requests to the misconfigured agent in ~2s, want only periodic retries", requests)
	}

	sw.set(e.currentSim().Handler()) // an operator fixes the agent
	rows := e.waitFinal(creds)
	if diff := cmp.Diff(map[string]int{"Y": len(creds)}, statusCounts(rows)); diff != "" {
		t.Errorf("after the fix (-want +got):\n%s", diff)
	}
	if failed, report := r.health.Ready(testenv.Context(t)); failed {
		t.Errorf("still not ready after the fix:\n%s", report)
	}
}

// TestAttemptsExhaustedBecomeDead: an agent failing every request while
// its health check passes: each credential gets MaxAttempts attempts, then
// D and a DeadLetter; the bundle is acked.
func TestAttemptsExhaustedBecomeDead(t *testing.T) {
	e := newEnv(t, agentsim.Config{Faults: agentsim.Faults{ErrorRate: 1, ErrorStatus: 500}})
	creds := e.seedBundle("BC0000001", credSpec{}, credSpec{})
	cfg := e.config("p1")
	cfg.MaxAttempts = 3
	e.start(cfg)
	rows := e.waitFinal(creds)
	for _, c := range creds {
		if r := rows[c.hash]; r.Status != delivery.Dead || r.Attempts != 3 || !strings.Contains(r.Msg, "500") {
			t.Errorf("%s: %+v, want D after 3 attempts with the agent's error", c.name, r)
		}
	}
	testenv.WaitFor(t, "stream drained", func() bool { return e.streamMsgs(bus.StreamCreds) == 0 })
	if dls := e.deadLetters(); len(dls) != 2 {
		t.Errorf("%d dead letters, want one per credential (2)", len(dls))
	}
	// Each outcome is logged once: the bundle's two redeliveries by the
	// consume loop (with the corporation, the message id and the agent),
	// each credential's D by the poster.
	type line struct {
		Message, CorpNum, Agent string
		Attempts                int64
		HasMsgID                bool
	}
	var got []line
	for _, l := range e.logs.All() {
		m := l.ContextMap()
		corp, _ := m["corp_num"].(string)
		ag, _ := m["agent"].(string)
		n, _ := m["attempts"].(int64)
		id, _ := m["msg_id"].(string)
		got = append(got, line{l.Message, corp, ag, n, id != ""})
	}
	eps, err := cfg.Endpoints()
	if err != nil || len(eps) != 1 {
		t.Fatalf("endpoints %v, %v", eps, err)
	}
	agentName := eps[0].Name()
	transient := "transient failure, redelivering after back-off"
	dead := "credential dead-lettered after exhausting its attempts: D"
	want := []line{
		{transient, "BC0000001", agentName, 1, true}, {transient, "BC0000001", agentName, 2, true},
		{dead, "BC0000001", "", 3, true}, {dead, "BC0000001", "", 3, true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("warnings and errors logged (-want +got):\n%s", diff)
	}
}

// TestNotDueCredentialWaitsAndBlocksNothing: a credential whose not_before
// is in the future is not posted, blocks neither the bundle's ack nor the
// corporation's later credentials, and goes back to the outbox (published_at
// cleared) for the builder's sweep. When a credential may be posted is
// decided when its row is stored (credential.HoldDates): the poster reads
// only not_before, never the attributes.
func TestNotDueCredentialWaitsAndBlocksNothing(t *testing.T) {
	e := newEnv(t, agentsim.Config{})
	future := time.Now().Add(time.Hour)
	creds := e.seedBundle("BC0000001",
		credSpec{},
		credSpec{notBefore: &future, attrs: map[string]any{"expiry_date": future.UTC().Format("2006-01-02T15:04:05+00:00")}},
		credSpec{attrs: map[string]any{"expiry_date": future.UTC().Format("2006-01-02T15:04:05+00:00")}}, // no not_before: due
		credSpec{attrs: map[string]any{"expiry_date": "2001-01-01T00:00:00+00:00"}},                      // expired: due
		credSpec{},
	)
	e.start(e.config("p1"))
	testenv.WaitFor(t, "bundle acked", func() bool { return e.streamMsgs(bus.StreamCreds) == 0 })
	rows := e.rows()
	want := map[string]row{
		creds[0].hash: {Status: "Y", Published: true},
		creds[1].hash: {Status: "", Published: false, NotBefore: true},
		creds[2].hash: {Status: "Y", Published: true},
		creds[3].hash: {Status: "Y", Published: true},
		creds[4].hash: {Status: "Y", Published: true},
	}
	got := map[string]row{}
	for h, r := range rows {
		r.Msg = ""
		got[h] = r
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

// TestHeldBehindOlderOutstandingRow: a corporation's older row is held by
// another poster's live lease: the newer bundle waits (nothing sent) until
// the older row is final, then goes.
func TestHeldBehindOlderOutstandingRow(t *testing.T) {
	e := newEnv(t, agentsim.Config{})
	ctx := testenv.Context(t)
	older := e.seedBundle("BC0000001", credSpec{})
	// Another poster claimed the older row and is posting it.
	if _, err := e.pool.Exec(ctx, `UPDATE credential_log SET claimed_by = 'other/1', claimed_until = now() + interval '1 hour' WHERE credential_hash = $1`, older[0].hash); err != nil {
		t.Fatal(err)
	}
	newer := e.seedBundle("BC0000001", credSpec{}, credSpec{})
	other := e.seedBundle("BC0000002", credSpec{}) // another corporation is not held
	r := e.start(e.config("p1"))
	e.waitFinal(other)
	testenv.WaitFor(t, "the newer bundle held back", func() bool { return testutilCounter(t, r, "bcreg_poster_held_back_total") >= 1 })
	if rows := e.rows(); rows[newer[0].hash].Status != "" || rows[newer[1].hash].Status != "" {
		t.Fatalf("newer credentials posted while an older one is outstanding elsewhere")
	}
	if _, count := issuedNames(e.received()); count[newer[0].name] != 0 {
		t.Fatal("newer credential reached the agent before the older one")
	}
	// The other poster finishes: Y.
	if _, err := e.pool.Exec(ctx, `UPDATE credential_log SET process_success = 'Y', process_date = LOCALTIMESTAMP, process_msg = 'elsewhere' WHERE credential_hash = $1`, older[0].hash); err != nil {
		t.Fatal(err)
	}
	e.waitFinal(newer)
	if got := testutilCounter(t, r, "bcreg_poster_held_back_total"); got < 1 {
		t.Errorf("held-back counter = %v, want ≥ 1", got)
	}
}

// TestExpiredLeaseIsTakenOver: a crashed poster's claim whose lease ran
// out does not block: the rows are taken over and delivered.
func TestExpiredLeaseIsTakenOver(t *testing.T) {
	e := newEnv(t, agentsim.Config{})
	creds := e.seedBundle("BC0000001", credSpec{}, credSpec{})
	if _, err := e.pool.Exec(testenv.Context(t), `UPDATE credential_log SET claimed_by = 'crashed/1', claimed_until = now() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	r := e.start(e.config("p1"))
	rows := e.waitFinal(creds)
	if diff := cmp.Diff(map[string]int{"Y": 2}, statusCounts(rows)); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if got := testutilCounter(t, r, "bcreg_poster_lease_takeovers_total"); got != 2 {
		t.Errorf("takeovers = %v, want 2", got)
	}
}

// TestFreshClaimsAreNotRenewed: with a lease far longer than a request,
// the claims are sent as they were taken (no renewal statement), and they
// still keep two posters apart: every credential once, in order.
func TestFreshClaimsAreNotRenewed(t *testing.T) {
	e := newEnv(t, agentsim.Config{Seed: 3, Faults: agentsim.Faults{
		Latency: agentsim.Uniform(time.Millisecond, 30*time.Millisecond), CredLatency: agentsim.Uniform(0, 5*time.Millisecond)}})
	creds := e.seedMany(20, 3, []int{1, 3, 2})
	creds = append(creds, e.seedBundle("BC9999999", make([]credSpec, 25)...)...) // a lane of two requests
	var rs []*running
	for _, id := range []string{"p1", "p2"} {
		cfg := e.config(id)
		cfg.RequestSize, cfg.Lease = 5, time.Minute
		rs = append(rs, e.start(cfg))
	}
	rows := e.waitFinal(creds)
	e.assertDeliveredOnce(creds, rows)
	if st := e.currentSim().Stats(); st.Duplicates != 0 {
		t.Errorf("duplicates at the agent = %d, want 0", st.Duplicates)
	}
	for _, r := range rs {
		if got := testutilCounter(t, r, "bcreg_poster_lease_renewals_total"); got != 0 {
			t.Errorf("renewals = %v, want 0 (every claim was fresh)", got)
		}
	}
}

// TestClaimsThatCouldRunOutAreRenewed: a lane whose later requests start
// after the claim's spare time (lease − request timeout − margin) is
// renewed before them, and everything is delivered once.
func TestClaimsThatCouldRunOutAreRenewed(t *testing.T) {
	e := newEnv(t, agentsim.Config{Faults: agentsim.Faults{Latency: agentsim.Fixed(400 * time.Millisecond)}})
	creds := e.seedBundle("BC0000001", make([]credSpec, 12)...) // a lane of four requests, ~1.6s
	cfg := e.config("p1")
	cfg.RequestSize = 3
	cfg.Lease = cfg.RequestTimeout + poster.LeaseMargin + 500*time.Millisecond // spare: 0.5s
	r := e.start(cfg)
	rows := e.waitFinal(creds)
	e.assertDeliveredOnce(creds, rows)
	if got := testutilCounter(t, r, "bcreg_poster_lease_renewals_total"); got < 1 {
		t.Errorf("renewals = %v, want at least 1", got)
	}
}

// TestRetryRejectedResendsRejectedCredentials: an operator's bundle
// flagged retry_rejected re-sends its N and D credentials; without the
// flag a redelivered bundle leaves them alone.
func TestRetryRejectedResendsRejectedCredentials(t *testing.T) {
	e := newEnv(t, agentsim.Config{})
	ctx := testenv.Context(t)
	creds := e.seedBundle("BC0000001", credSpec{}, credSpec{}, credSpec{})
	// Drain the first bundle by hand as if it had been posted: one Y, one
	// N (rejected), one D (given up after its attempts).
	if _, err := e.pool.Exec(ctx, `UPDATE credential_log SET process_success = CASE credential_hash WHEN $1 THEN 'Y' WHEN $2 THEN 'N' ELSE 'D' END,
		attempts = CASE WHEN credential_hash = $3 THEN 10 ELSE 0 END,
		process_msg = 'earlier', process_date = LOCALTIMESTAMP - interval '1 minute'`, creds[0].hash, creds[1].hash, creds[2].hash); err != nil {
		t.Fatal(err)
	}
	b := e.bundleOf("BC0000001", creds)
	e.publish(b, "again") // a plain redelivery: nothing to send
	b.RetryRejected = true
	e.publish(b, "requeue:1")
	// The first published bundle (by seedBundle) is also in the stream.
	e.start(e.config("p1"))
	testenv.WaitFor(t, "stream drained", func() bool { return e.streamMsgs(bus.StreamCreds) == 0 })
	rows := e.rows()
	if rows[creds[1].hash].Status != "Y" || rows[creds[2].hash].Status != "Y" || rows[creds[0].hash].Msg != "earlier" {
		t.Errorf("rows: %+v", rows)
	}
	if _, count := issuedNames(e.received()); count[creds[1].name] != 1 || count[creds[2].name] != 1 || count[creds[0].name] != 0 {
		t.Errorf("issued: %v, want only the rejected and the given-up credential, once each", count)
	}
}

// TestMultipleAgentsUseTheHealthyOne: of two agents one never
// synchronises: every request goes to the other.
func TestMultipleAgentsUseTheHealthyOne(t *testing.T) {
	e := newEnv(t, agentsim.Config{})
	down, err := agentsim.New(agentsim.Config{Faults: agentsim.Faults{UnsyncedFor: -1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	srv := httptest.NewServer(down.Handler())
	defer srv.Close()
	creds := e.seedMany(10, 1, []int{1, 2})
	cfg := e.config("p1")
	cfg.Config.URLs = config.URL(srv.URL + "/bcreg," + e.agentURL())
	e.start(cfg)
	rows := e.waitFinal(creds)
	if diff := cmp.Diff(map[string]int{"Y": len(creds)}, statusCounts(rows)); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if st := down.Stats(); st.Requests != 0 {
		t.Errorf("unhealthy agent got %d requests, want 0", st.Requests)
	}
}

// TestKilledMidRequestLosesNothing: a poster killed with requests in
// flight (no ack, no mark, claims left behind) and a new one started:
// every credential ends Y, and the agent's duplicates are bounded by the
// credentials that were in flight.
//
// vonx-sim issues each request's credentials and then holds it unanswered
// until the client goes away (a hang after issue, with no end of its own),
// so once the victim has MaxInflight requests held nothing more can move:
// those requests are provably in flight, issued at the agent and unknown to
// the poster. Only the kill (poster.WithAbort) can end them; a kill that
// let them run (a no-op abort) would never return and fails at the guard.
func TestKilledMidRequestLosesNothing(t *testing.T) {
	hold := agentsim.Faults{HangRate: 1, AfterIssue: true, Capacity: 0}
	e := newEnv(t, agentsim.Config{Faults: hold})
	sim := e.currentSim()
	creds := e.seedMany(40, 1, []int{1, 2, 3})
	cfg := e.config("victim")
	cfg.Adaptive, cfg.MaxInflight, cfg.RequestSize = false, 4, 5
	// No held request may end on its own within any wait of the test: only
	// the kill cuts them.
	cfg.RequestTimeout = 2 * testenv.Guard
	cfg.Lease = cfg.RequestTimeout + poster.LeaseMargin
	victim := e.start(cfg)
	testenv.WaitFor(t, "the victim's requests held at the agent", func() bool {
		return sim.Stats().Injected.Hangs >= int64(cfg.MaxInflight)
	})
	st := sim.Stats()
	inflightReqs, inflightCreds := st.InFlight, st.CredentialsInFlight
	if st.Requests != int64(cfg.MaxInflight) || st.InFlight != st.Requests || st.Injected.Hangs != st.Requests ||
		st.Issued != inflightCreds || st.Failed != 0 {
		t.Fatalf("agent before the kill: %+v; want exactly %d requests, all issued and held", st, cfg.MaxInflight)
	}
	_, issued := issuedNames(sim.Received(0))
	inflight := map[string]bool{} // hashes of the credentials held at the agent
	for _, c := range creds {
		if issued[c.name] > 0 {
			inflight[c.hash] = true
		}
	}
	if len(inflight) != int(inflightCreds) {
		t.Fatalf("%d seeded credentials issued, the agent holds %d", len(inflight), inflightCreds)
	}

	killed := make(chan struct{})
	go func() { victim.kill(); close(killed) }()
	testenv.WaitFor(t, "the kill to cut the requests in flight", func() bool {
		select {
		case <-killed:
			return true
		default:
			return false
		}
	})
	// The held requests ended by the client going away (no answer), and the
	// victim sent nothing more; it recorded nothing and left its claims.
	testenv.WaitFor(t, "the agent to see the requests cut", func() bool { return sim.Stats().InFlight == 0 })
	if st := sim.Stats(); st.Requests != inflightReqs || st.Failed != inflightReqs || st.Issued != inflightCreds {
		t.Fatalf("agent after the kill: %+v; want the %d held requests ended unanswered, nothing more", st, inflightReqs)
	}
	after, live := e.rows(), e.liveClaims()
	for h := range inflight {
		if r := after[h]; r.Status != "" || r.Attempts != 0 || !live[h] {
			t.Errorf("in-flight credential %s after the kill: %+v, claimed %v; want no status, no attempt, the victim's claim", h[:12], r, live[h])
		}
	}
	bound := cfg.MaxInflight * cfg.RequestSize

	// The victim's lease runs out (set here rather than waited for), and a
	// fresh poster re-delivers what it left behind to an agent that answers.
	if err := sim.SetFaults(agentsim.Faults{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(testenv.Context(t), `UPDATE credential_log SET claimed_until = now() - interval '1 second' WHERE claimed_until IS NOT NULL`); err != nil {
		t.Fatal(err)
	}
	successor := e.start(e.config("successor"))
	rows := e.waitFinal(creds)
	if diff := cmp.Diff(map[string]int{"Y": len(creds)}, statusCounts(rows)); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	_, count := issuedNames(e.received())
	dups := 0
	for _, c := range creds {
		if count[c.name] < 1 {
			t.Errorf("%s lost", c.name)
		}
		dups += count[c.name] - 1
		// The agent issued each held credential, the victim never learned
		// it, the successor sent it again: exactly one duplicate each.
		if want := map[bool]int{false: 1, true: 2}[inflight[c.hash]]; count[c.name] != want {
			t.Errorf("%s issued %d times, want %d (in flight at the kill: %v)", c.name, count[c.name], want, inflight[c.hash])
		}
	}
	t.Logf("killed with %d requests (%d credentials) in flight; %d credentials, %d duplicates at the agent",
		inflightReqs, inflightCreds, len(creds), dups)
	if dups > bound {
		t.Errorf("%d duplicates, want at most the %d credentials the victim could have in flight", dups, bound)
	}
	if got := testutilCounter(t, successor, "bcreg_poster_lease_takeovers_total"); got != float64(len(live)) {
		t.Errorf("takeovers = %v, want the %d claims the victim left behind", got, len(live))
	}
	testenv.WaitFor(t, "stream drained", func() bool { return e.streamMsgs(bus.StreamCreds) == 0 })
}

// liveClaims are the hashes of the rows claimed by a lease not yet expired.
func (e *env) liveClaims() map[string]bool {
	e.t.Helper()
	rs, _ := e.pool.Query(testenv.Context(e.t), `SELECT credential_hash FROM credential_log WHERE claimed_until > now()`)
	hashes, err := pgx.CollectRows(rs, pgx.RowTo[string])
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]bool{}
	for _, h := range hashes {
		out[h] = true
	}
	return out
}

// TestShutdownFinishesRequestsInFlight: a graceful stop lets the requests
// in flight finish and records them (no duplicate on redelivery).
func TestShutdownFinishesRequestsInFlight(t *testing.T) {
	e := newEnv(t, agentsim.Config{Faults: agentsim.Faults{CredLatency: agentsim.Fixed(300 * time.Millisecond), Capacity: 0}})
	creds := e.seedMany(20, 1, []int{2})
	cfg := e.config("p1")
	cfg.Adaptive, cfg.MaxInflight, cfg.RequestSize = false, 2, 4
	r := e.start(cfg)
	testenv.WaitFor(t, "requests in flight", func() bool { return e.currentSim().Stats().InFlight >= 2 })
	stopped := make(chan struct{})
	go func() { r.stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(time.Minute): // a guard, not a timing: the stop waits for answers
		t.Fatal("graceful stop did not return")
	}
	e.start(e.config("p2"))
	rows := e.waitFinal(creds)
	if diff := cmp.Diff(map[string]int{"Y": len(creds)}, statusCounts(rows)); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if st := e.currentSim().Stats(); st.Duplicates != 0 {
		t.Errorf("%d duplicates after a graceful stop, want 0", st.Duplicates)
	}
}

func (e *env) bundleOf(corp string, creds []seeded) messages.CredentialBundle {
	e.t.Helper()
	b := messages.CredentialBundle{V: 1, System: "BC_REG", CorpNum: corp, CorpState: "ACT", Profile: "history"}
	rows, err := e.pool.Query(context.Background(), `SELECT credential_hash, schema_name, schema_version, credential_json, credential_id
		FROM credential_log WHERE corp_num = $1 ORDER BY record_id`, corp)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var c messages.Credential
		var text string
		if err := rows.Scan(&c.Hash, &c.Schema, &c.Version, &text, &c.CredentialID); err != nil {
			e.t.Fatal(err)
		}
		c.Type = "REG"
		c.Attributes = decodeAttrs(e.t, text)
		b.Credentials = append(b.Credentials, c)
	}
	return b
}
