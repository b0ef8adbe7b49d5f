package poster_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/devkit/agentsim"
	"github.com/bcgov/bcreg-events/pkg/eventdb/delivery"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
	"github.com/bcgov/bcreg-events/services/poster/internal/poster"
)

// Waiting must never spend the JetStream deliveries that are the safety
// net: a bundle that waits (agent misconfigured, held behind an older row,
// poster stopping) far more often than BCREG_JS_POSTER_MAX_DELIVER still
// ends with every credential Y and no dead letter. Only counted agent
// attempts make a credential D.

// waitMaxDeliver is the consumer's MaxDeliver in these tests (MaxAttempts
// must stay below it).
const waitMaxDeliver = 4

// lowMaxDeliver sets the poster consumer's MaxDeliver to waitMaxDeliver and
// returns a config that fits it.
func (e *env) lowMaxDeliver(id string) poster.Config {
	e.t.Helper()
	e.topo.PosterMaxDeliver = waitMaxDeliver
	if err := e.topo.Apply(testenv.Context(e.t), e.js); err != nil {
		e.t.Fatal(err)
	}
	cfg := e.config(id)
	cfg.Topology = e.topo
	cfg.MaxAttempts = waitMaxDeliver - 1
	return cfg
}

// givenUp reports whether any credential became D or any dead letter was
// written: what the old code did on a waiting bundle's last delivery.
func (e *env) givenUp() bool {
	for _, r := range e.rows() {
		if r.Status == delivery.Dead {
			return true
		}
	}
	return e.streamMsgs(bus.StreamDLQ) > 0
}

// assertAllIssuedNoDeadLetter: every credential Y with no attempt counted,
// no dead letter, the stream drained.
func (e *env) assertAllIssuedNoDeadLetter(creds []seeded) {
	e.t.Helper()
	rows := e.waitFinal(creds)
	got := map[string]int{}
	for _, c := range creds {
		r := rows[c.hash]
		got[r.Status]++
		if r.Attempts != 0 {
			e.t.Errorf("%s: %d attempts counted, want 0 (nothing failed at the agent)", c.name, r.Attempts)
		}
	}
	if diff := cmp.Diff(map[string]int{"Y": len(creds)}, got); diff != "" {
		e.t.Errorf("statuses (-want +got):\n%s", diff)
	}
	testenv.WaitFor(e.t, "stream drained", func() bool { return e.streamMsgs(bus.StreamCreds) == 0 })
	if dls := e.deadLetters(); len(dls) != 0 {
		e.t.Errorf("%d dead letters, want none; first: %s", len(dls), dls[0].Reason)
	}
	if _, count := issuedNames(e.received()); len(count) != len(creds) {
		e.t.Errorf("agent issued %d distinct credentials, want %d", len(count), len(creds))
	}
}

// TestMisconfiguredLongerThanMaxDeliver: the agent answers every request
// with a configuration error while each bundle is retried more than
// MaxDeliver times; once fixed, everything is issued.
func TestMisconfiguredLongerThanMaxDeliver(t *testing.T) {
	e := newEnv(t, agentsim.Config{})
	wrong, sw, url := wrongAgent(t)
	cfg := e.lowMaxDeliver("p1")
	creds := e.seedMany(6, 1, []int{2, 1})
	cfg.Config.URLs = url
	cfg.MisconfigRetry = 50 * time.Millisecond
	e.start(cfg)
	// Every credential refused by the wrong agent more than MaxDeliver
	// times over (or the old behaviour: given up).
	testenv.WaitFor(t, "retries beyond MaxDeliver", func() bool {
		return wrong.Stats().Rejected >= int64(len(creds)*(2*waitMaxDeliver+1)) || e.givenUp()
	})
	if e.givenUp() {
		t.Fatalf("waiting for a misconfigured agent gave credentials up: %v, %d dead letters", statusCounts(e.rows()), e.streamMsgs(bus.StreamDLQ))
	}
	sw.set(e.currentSim().Handler()) // an operator fixes the agent
	e.assertAllIssuedNoDeadLetter(creds)
}

// TestHeldLongerThanMaxDeliver: a corporation's newer bundle waits behind
// an older row another poster holds for longer than MaxDeliver holds; when
// the older row is final, the newer ones go.
func TestHeldLongerThanMaxDeliver(t *testing.T) {
	e := newEnv(t, agentsim.Config{})
	ctx := testenv.Context(t)
	cfg := e.lowMaxDeliver("p1")
	cfg.HoldDelay, cfg.HoldMax = 10*time.Millisecond, 20*time.Millisecond
	older := e.seedBundle("BC0000001", credSpec{})
	if _, err := e.pool.Exec(ctx, `UPDATE credential_log SET claimed_by = 'other/1', claimed_until = now() + interval '1 hour' WHERE credential_hash = $1`, older[0].hash); err != nil {
		t.Fatal(err)
	}
	newer := e.seedBundle("BC0000001", credSpec{}, credSpec{})
	r := e.start(cfg)
	testenv.WaitFor(t, "held beyond MaxDeliver", func() bool {
		return testutilCounter(t, r, "bcreg_poster_held_back_total") >= 2*waitMaxDeliver+1 || e.givenUp()
	})
	if e.givenUp() {
		t.Fatalf("a held bundle was given up: %v, %d dead letters", statusCounts(e.rows()), e.streamMsgs(bus.StreamDLQ))
	}
	// The other poster finishes the older row.
	if _, err := e.pool.Exec(ctx, `UPDATE credential_log SET process_success = 'Y', process_date = LOCALTIMESTAMP, process_msg = 'elsewhere', claimed_until = NULL WHERE credential_hash = $1`, older[0].hash); err != nil {
		t.Fatal(err)
	}
	e.assertAllIssuedNoDeadLetter(newer)
}

// TestRepeatedStopsSpendNoDeliveries: a bundle whose lane is cut by a
// graceful stop, more often than MaxDeliver, loses nothing and is sent
// nothing twice.
func TestRepeatedStopsSpendNoDeliveries(t *testing.T) {
	e := newEnv(t, agentsim.Config{Faults: agentsim.Faults{CredLatency: agentsim.Fixed(50 * time.Millisecond)}})
	cfg := e.lowMaxDeliver("p")
	cfg.Adaptive, cfg.MaxInflight, cfg.RequestSize = false, 1, 1
	creds := e.seedBundle("BC0000001", make([]credSpec, waitMaxDeliver+3)...) // a lane of one request per credential
	for i := range waitMaxDeliver + 1 {
		cfg.ID = "p" + string(rune('a'+i))
		r := e.start(cfg)
		before := len(e.received())
		testenv.WaitFor(t, "a request in flight", func() bool {
			return e.currentSim().Stats().InFlight >= 1 || len(e.received()) > before
		})
		r.stop()
		if e.givenUp() {
			t.Fatalf("stop %d gave credentials up: %v, %d dead letters", i+1, statusCounts(e.rows()), e.streamMsgs(bus.StreamDLQ))
		}
	}
	cfg.ID = "last"
	e.start(cfg)
	e.assertAllIssuedNoDeadLetter(creds)
	if st := e.currentSim().Stats(); st.Duplicates != 0 {
		t.Errorf("%d duplicates at the agent, want 0", st.Duplicates)
	}
}
