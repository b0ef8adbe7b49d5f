package e2e

import (
	"syscall"
	"testing"
	"time"

	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// TestPipelineSurvivesCrashesAndFaults kills one builder and one poster with
// SIGKILL mid-run, restarts NATS (its file store survives), and makes the
// agent fail for a while; at the end every credential is delivered, in
// per-corporation order, and the duplicates the agent saw are reported.
func TestPipelineSurvivesCrashesAndFaults(t *testing.T) {
	p := newPipeline(t, "snapshot")
	want := expectedDeliveries(t, p.sourceDB, "snapshot")
	// Small batches, one credential per request and agent latency, so the
	// kills and the outage land while work is in flight.
	p.env["BCREG_BUILDER_BATCH"] = "3"
	p.env["BCREG_POSTER_REQUEST_SIZE"] = "1"
	p.env["BCREG_POSTER_MAX_INFLIGHT"] = "2"
	p.startSim(map[string]string{"BCREG_SIM_LATENCY": "uniform(100ms,200ms)", "BCREG_SIM_SEED": "7"})
	p.startService("event-poller", "event-poller")
	b1 := p.startService("credential-builder-1", "credential-builder")
	p.startService("credential-builder-2", "credential-builder")
	p1 := p.startService("poster-1", "poster")
	p.startService("poster-2", "poster")
	ctx := testenv.Context(t)

	waitUntil(t, "first deliveries", 2*time.Minute, func() bool {
		st, err := p.sim.Stats(ctx)
		return err == nil && st.Issued >= 5
	})
	_ = b1.cmd.Process.Signal(syscall.SIGKILL)
	_ = p1.cmd.Process.Signal(syscall.SIGKILL)
	t.Log("killed credential-builder-1 and poster-1 with SIGKILL")

	// The agent fails every request for a while.
	faults, err := p.sim.Faults(ctx)
	if err != nil {
		t.Fatal(err)
	}
	failing := faults
	failing.ErrorRate, failing.ErrorStatus = 1, 503
	if _, err := p.sim.SetFaults(ctx, failing); err != nil {
		t.Fatal(err)
	}
	// NATS restarts on the same port and store.
	p.nats.Server.Shutdown()
	p.nats.Server.WaitForShutdown()
	time.Sleep(time.Second)
	p.nats = testenv.StartNATS(t, p.nats.StoreDir, p.natsPort)
	t.Log("NATS restarted")
	time.Sleep(2 * time.Second)
	if _, err := p.sim.SetFaults(ctx, faults); err != nil {
		t.Fatal(err)
	}
	// The killed replicas come back, as a supervisor would restart them.
	p.startService("credential-builder-1b", "credential-builder")
	p.startService("poster-1b", "poster")

	p.waitIdle(4*time.Minute, len(want))
	dups := p.checkDelivered(want, true)
	st, _ := p.sim.Stats(ctx)
	t.Logf("after SIGKILL of a builder and a poster, a NATS restart and an agent outage: %d credentials delivered, %d duplicates seen by the agent (stats: %d requests, %d failed)",
		len(want), dups, st.Requests, st.Failed)
}

func waitUntil(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
