package poster

import (
	"slices"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest"

	"github.com/bcgov/bcreg-events/services/poster/internal/agent"
)

// TestMetricSeries: the series operators sum and alert on. Final outcomes
// (Y, N, D: once per credential) and events on the way (retry, waiting:
// many per credential) are separate metrics, so a sum of either means
// something; the agent's health is per agent, so one down among several
// shows.
func TestMetricSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	eps := []agent.Endpoint{{BaseURL: "http://agent-a:5000/bcreg"}, {BaseURL: "http://agent-b:5000/bcreg"}}
	newAgents(zaptest.NewLogger(t), newMetrics(reg), eps, Settings{MaxInflight: 4, InitialInflight: 1}, vonxScale(20), 20, 0)
	got := seriesLabels(t, reg, "bcreg_poster_credentials_total", "bcreg_poster_credential_events_total", "bcreg_poster_agent_healthy",
		"bcreg_poster_agent_noload_latency_seconds", "bcreg_poster_agent_latency_seconds")
	perAgent := []string{"agent=http://agent-a:5000/bcreg", "agent=http://agent-b:5000/bcreg"}
	want := map[string][]string{
		"bcreg_poster_credentials_total":            {"status=D", "status=N", "status=Y"},
		"bcreg_poster_credential_events_total":      {"event=retry", "event=waiting"},
		"bcreg_poster_agent_healthy":                perAgent,
		"bcreg_poster_agent_noload_latency_seconds": perAgent,
		"bcreg_poster_agent_latency_seconds":        perAgent,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("series (-want +got):\n%s", diff)
	}
}

// seriesLabels lists, per metric name, its series as name=value of their
// labels, sorted.
func seriesLabels(t *testing.T, reg *prometheus.Registry, names ...string) map[string][]string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, mf := range mfs {
		if !slices.Contains(names, mf.GetName()) {
			continue
		}
		for _, m := range mf.GetMetric() {
			s := ""
			for i, l := range m.GetLabel() {
				if i > 0 {
					s += ","
				}
				s += l.GetName() + "=" + l.GetValue()
			}
			out[mf.GetName()] = append(out[mf.GetName()], s)
		}
		sort.Strings(out[mf.GetName()])
	}
	return out
}
