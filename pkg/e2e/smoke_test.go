package e2e

import (
	"testing"
	"time"

	"github.com/bcgov/bcreg-events/pkg/source/sourcetest"
	"github.com/bcgov/bcreg-events/pkg/testenv"
)

// TestEveryServiceStartsAnswersAndStops starts each binary against real
// dependencies, waits for its liveness endpoint, and checks that SIGTERM
// stops it cleanly (exit status 0) within the shutdown deadline.
func TestEveryServiceStartsAnswersAndStops(t *testing.T) {
	n := testenv.NewNATS(t)
	eventDB := testenv.NewDatabase(t)
	sourceDB := sourcetest.WholeFixture(t, sourcetest.Template(t))
	common := map[string]string{
		"BCREG_NATS_URL": n.URL(), "BCREG_EVENT_DB_URL": eventDB, "BCREG_SOURCE_DB_URL": sourceDB,
		"BCREG_MIGRATE": "true", "BCREG_PROFILE": "snapshot", "BCREG_SHUTDOWN_TIMEOUT": "5s",
		"BCREG_INITIAL_LOAD": "skip", "BCREG_LOG_LEVEL": "warn",
	}
	simAddr := freeAddr(t)
	common["BCREG_AGENT_URL"] = "http://" + simAddr + "/bcreg"

	sim := start(t, "vonx-sim", merge(common, map[string]string{"BCREG_SIM_ADDR": simAddr}))
	waitHTTP(t, sim, "http://"+simAddr+"/health", 10*time.Second)

	for _, svc := range []string{"event-poller", "credential-builder", "poster"} {
		t.Run(svc, func(t *testing.T) {
			addr := freeAddr(t)
			p := start(t, svc, merge(common, map[string]string{"BCREG_HTTP_ADDR": addr}))
			waitHTTP(t, p, "http://"+addr+"/livez", 30*time.Second)
			waitHTTP(t, p, "http://"+addr+"/readyz", 30*time.Second)
			if err := p.stop(t, 15*time.Second); err != nil {
				t.Errorf("%s exit after SIGTERM: %v\n%s", svc, err, p.out.String())
			}
		})
	}
	if err := sim.stop(t, 10*time.Second); err != nil {
		t.Errorf("vonx-sim exit after SIGTERM: %v", err)
	}
	ctl := start(t, "bcregctl", nil, "--help")
	select {
	case <-ctl.done:
		if ctl.err != nil {
			t.Errorf("bcregctl --help: %v", ctl.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("bcregctl --help hangs")
	}
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}
