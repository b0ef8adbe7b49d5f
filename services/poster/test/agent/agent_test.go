package agent_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/devkit/agentsim"
	"github.com/bcgov/bcreg-events/services/poster/internal/agent"
)

func startSim(t *testing.T, cfg agentsim.Config) (*agentsim.Sim, *httptest.Server) {
	t.Helper()
	s, err := agentsim.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() { s.Close(); srv.Close() })
	return s, srv
}

var regItem = agent.Item{Schema: "registration.bc_registries", Version: "1.0.36",
	Attributes: map[string]any{"registration_id": "BC1", "entity_name": "One Ltd."}}

// TestIssueAgainstSim runs the client against vonx-sim: answers by
// position, and each request-level failure classified (P1–P3).
func TestIssueAgainstSim(t *testing.T) {
	relItem := agent.Item{Schema: "relationship.bc_registries", Version: "1.0.36", Attributes: map[string]any{"registration_id": "FM1"}}
	nope := agent.Item{Schema: "nope.schema", Version: "1.0", Attributes: map[string]any{}}
	tests := []struct {
		name      string
		sim       agentsim.Config
		path      string
		items     []agent.Item
		wantRows  []agent.Class
		wantKind  string
		wantMisc  bool
		wantRetry time.Duration
	}{
		{"C3 batch in order", agentsim.Config{}, "/bcreg", []agent.Item{regItem, relItem}, []agent.Class{agent.Issued, agent.Issued}, "", false, 0},
		{"C4 unknown schema among successes", agentsim.Config{}, "/bcreg", []agent.Item{regItem, nope}, []agent.Class{agent.Issued, agent.ConfigError}, "", false, 0},
		{"C13 unknown connection", agentsim.Config{}, "/other", []agent.Item{regItem}, []agent.Class{agent.ConfigError}, "", false, 0},
		{"C14 not synchronised", agentsim.Config{Faults: agentsim.Faults{UnsyncedFor: -1}}, "/bcreg", []agent.Item{regItem}, []agent.Class{agent.Transient}, "", false, 0},
		{"P1 5xx", agentsim.Config{Faults: agentsim.Faults{ErrorRate: 1, ErrorStatus: 503}}, "/bcreg", []agent.Item{regItem}, nil, agent.KindStatus, false, 0},
		{"P2 non-JSON 200", agentsim.Config{Faults: agentsim.Faults{NonJSONRate: 1}}, "/bcreg", []agent.Item{regItem}, nil, agent.KindContentType, false, 0},
		{"P3 short reply", agentsim.Config{Faults: agentsim.Faults{ShortRate: 1}}, "/bcreg", []agent.Item{regItem, relItem}, nil, agent.KindShape, false, 0},
		{"dropped connection", agentsim.Config{Faults: agentsim.Faults{DropRate: 1}}, "/bcreg", []agent.Item{regItem}, nil, agent.KindTransport, false, 0},
		{"hang beyond the timeout", agentsim.Config{Faults: agentsim.Faults{HangRate: 1}}, "/bcreg", []agent.Item{regItem}, nil, agent.KindTimeout, false, 0},
		{"wrong path is misconfiguration", agentsim.Config{}, "/bcreg/x", []agent.Item{regItem}, nil, agent.KindStatus, true, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, srv := startSim(t, tc.sim)
			c := &agent.Client{Endpoint: agent.Endpoint{IssueURL: srv.URL + tc.path + "/issue-credential"}, HTTP: agent.NewHTTPClient(4)}
			// Only the hang needs a deadline to run into; the others get one
			// a busy machine cannot reach, so they never fail as a timeout.
			timeout := time.Minute
			if tc.wantKind == agent.KindTimeout {
				timeout = 300 * time.Millisecond
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			rows, err := c.Issue(ctx, tc.items)
			if tc.wantKind != "" {
				var re *agent.RequestError
				if !errors.As(err, &re) || re.Kind != tc.wantKind || re.Misconfigured() != tc.wantMisc {
					t.Fatalf("error %v, want kind %s (misconfigured %v)", err, tc.wantKind, tc.wantMisc)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []agent.Class
			for _, r := range rows {
				got = append(got, agent.Classify(r))
			}
			if diff := cmp.Diff(tc.wantRows, got); diff != "" {
				t.Errorf("row classes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckHealth(t *testing.T) {
	tests := []struct {
		name string
		cfg  agentsim.Config
		path string
		ok   bool
	}{
		{"vonx synced", agentsim.Config{}, "/health", true},
		{"vonx not synced (451)", agentsim.Config{Faults: agentsim.Faults{UnsyncedFor: -1}}, "/health", false},
		{"controller ready", agentsim.Config{Mode: agentsim.ModeController}, "/readiness", true},
		{"controller not synced (503)", agentsim.Config{Mode: agentsim.ModeController, Faults: agentsim.Faults{UnsyncedFor: -1}}, "/readiness", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, srv := startSim(t, tc.cfg)
			c := &agent.Client{Endpoint: agent.Endpoint{HealthURL: srv.URL + tc.path}}
			if err := c.CheckHealth(context.Background()); (err == nil) != tc.ok {
				t.Errorf("CheckHealth = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	c := &agent.Client{Endpoint: agent.Endpoint{HealthURL: "http://127.0.0.1:1/health"}}
	if err := c.CheckHealth(context.Background()); err == nil {
		t.Error("an agent that is not listening is healthy")
	}
}
