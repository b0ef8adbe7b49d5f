package e2e

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bcgov/bcreg-events/pkg/testkit/sourcetest"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// TestEveryServiceStartsAnswersAndStops starts each binary against real
// dependencies, waits for its liveness endpoint, scrapes its /metrics for
// the series docs/operations.md documents for it, and checks that SIGTERM
// stops it cleanly (exit status 0) within the shutdown deadline.
func TestEveryServiceStartsAnswersAndStops(t *testing.T) {
	n := testenv.NewNATS(t)
	eventDB := testenv.NewDatabase(t)
	sourceDB := sourcetest.WholeFixture(t, sourcetest.Template(t))
	common := map[string]string{
		"BCREG_NATS_URL": n.URL(), "BCREG_EVENT_DB_URL": eventDB, "BCREG_SOURCE_DB_URL": sourceDB,
		"BCREG_MIGRATE": "true", "BCREG_JS_TOPOLOGY": "apply", "BCREG_PROFILE": "snapshot", "BCREG_SHUTDOWN_TIMEOUT": "5s",
		"BCREG_INITIAL_LOAD": "skip", "BCREG_LOG_LEVEL": "warn",
	}
	simAddr := freeAddr(t)
	common["BCREG_AGENT_URL"] = "http://" + simAddr + "/bcreg"
	documented := documentedSeries(t)

	sim := start(t, "vonx-sim", merge(common, map[string]string{"BCREG_SIM_ADDR": simAddr}))
	waitHTTP(t, sim, "http://"+simAddr+"/health", time.Minute)

	for _, svc := range []string{"event-poller", "credential-builder", "poster"} {
		t.Run(svc, func(t *testing.T) {
			addr := freeAddr(t)
			p := start(t, svc, merge(common, map[string]string{"BCREG_HTTP_ADDR": addr}))
			waitHTTP(t, p, "http://"+addr+"/livez", 30*time.Second)
			waitHTTP(t, p, "http://"+addr+"/readyz", 30*time.Second)
			checkMetrics(t, "http://"+addr+"/metrics", documented[svc])
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
	case <-time.After(time.Minute):
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

// documentedSeries reads the metrics table of docs/operations.md (§16):
// service → the bcreg_ series it documents.
func documentedSeries(t *testing.T) map[string][]string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(root, "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `(event-poller|credential-builder|poster)` \\|(.*)\\|$")
	name := regexp.MustCompile("`(bcreg_[a-z0-9_]+)")
	out := map[string][]string{}
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		for _, n := range name.FindAllStringSubmatch(m[2], -1) {
			out[m[1]] = append(out[m[1]], n[1])
		}
	}
	if len(out) != 3 {
		t.Fatalf("docs/operations.md: metrics table rows for %d services, want 3", len(out))
	}
	return out
}

// checkMetrics scrapes url until every series is exposed (a series appears
// once its service registered it), for at most a minute (a guard).
func checkMetrics(t *testing.T, url string, series []string) {
	t.Helper()
	var missing []string
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		resp, err := http.Get(url)
		if err != nil {
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		missing = missing[:0]
		for _, s := range series {
			if !strings.Contains(string(body), "\n# TYPE "+s+" ") {
				missing = append(missing, s)
			}
		}
		if len(missing) == 0 {
			return
		}
	}
	t.Errorf("%s lacks documented series %v", url, missing)
}
