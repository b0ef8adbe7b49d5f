package poster

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest"

	"github.com/bcgov/bcreg-events/services/poster/internal/agent"
)

// TestRequestShape: a slow adaptive VON-X agent gets requests cut by
// group to an eighth of its limit (at least fineFloor); a fast one, a
// fixed limit or the controller whole requests of the configured size.
func TestRequestShape(t *testing.T) {
	tests := []struct {
		name      string
		adaptive  bool
		sc        limitScale
		limit     float64       // full requests (0: as started)
		noLoad    time.Duration // 0: not measured yet
		wantSize  int
		wantGroup bool
	}{
		{"unmeasured VON-X agent: by group, at the floor", true, vonxScale(20), 0, 0, fineFloor, true},
		{"slow VON-X agent: an eighth of 42 credentials", true, vonxScale(20), 2.1, 150 * time.Millisecond, 6, true},
		{"slow VON-X agent with a large limit: the request size at most", true, vonxScale(20), 12, 150 * time.Millisecond, 20, true},
		{"fast VON-X agent: whole requests", true, vonxScale(20), 2.1, 5 * time.Millisecond, 20, false},
		{"fixed limit: whole requests", false, vonxScale(20), 0, 150 * time.Millisecond, 20, false},
		{"controller: whole requests", true, controllerScale, 2, 150 * time.Millisecond, 20, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newAgents(zaptest.NewLogger(t), newMetrics(prometheus.NewRegistry()), []agent.Endpoint{{BaseURL: "http://agent:5000/bcreg"}},
				Settings{MaxInflight: 16, InitialInflight: 1, Adaptive: tc.adaptive}, tc.sc, 20, 0)
			s := a.list[0]
			s.healthy, s.checked = true, true
			if tc.limit > 0 {
				s.limiter.limit = tc.limit
			}
			s.limiter.noLoad = float64(tc.noLoad)
			size, byGroup := a.requestShape()
			if diff := cmp.Diff([2]any{tc.wantSize, tc.wantGroup}, [2]any{size, byGroup}); diff != "" {
				t.Errorf("(size, by group) (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMaxInflightBoundsTheLoad: with adaptive VON-X limits the replica's
// maximum bounds the credentials in flight (full requests' worth), so
// group-by-group requests of a few credentials fill it; a fixed limit
// counts requests, as the original did.
func TestMaxInflightBoundsTheLoad(t *testing.T) {
	tests := []struct {
		name     string
		adaptive bool
		want     int // requests of 2 credentials (of a full 20) that start at once
	}{
		{"adaptive: 4 full requests' worth", true, 40},
		{"fixed: 4 requests", false, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newAgents(zaptest.NewLogger(t), newMetrics(prometheus.NewRegistry()), []agent.Endpoint{{BaseURL: "http://agent:5000/bcreg"}},
				Settings{MaxInflight: 4, InitialInflight: 4, Adaptive: tc.adaptive}, vonxScale(20), 20, 0)
			s := a.list[0]
			s.healthy, s.checked = true, true
			s.limiter.limit = 100 // the agent's limit is not what binds
			// A stopped context: acquire starts a request while there is
			// room and fails at once where it would wait.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			started := 0
			for ; started < 100; started++ {
				if _, err := a.acquire(ctx, 2); err != nil {
					break
				}
			}
			if started != tc.want {
				t.Errorf("%d requests started, want %d", started, tc.want)
			}
		})
	}
}

// TestProbeNewsHeard: a probe's news, as another replica encodes it
// (the wire contract between replicas of different versions),
// reaches the limiter of the agent it names, and a replica's own news is
// ignored.
func TestProbeNewsHeard(t *testing.T) {
	const agentURL = "http://agent:5000/bcreg"
	a := newAgents(zaptest.NewLogger(t), newMetrics(prometheus.NewRegistry()), []agent.Endpoint{{BaseURL: agentURL}},
		Settings{MaxInflight: 16, InitialInflight: 1, Adaptive: true}, vonxScale(20), 20, 0)
	sh := &sharer{log: zaptest.NewLogger(t), replica: "me", agents: a}
	probe := probeResult{noLoad: 151500 * time.Microsecond, noise: 400 * time.Microsecond, answers: 8, div: 2, limit: 1}
	for _, from := range []string{"me", "other"} {
		data, err := json.Marshal(probeMessage(from, a.list[0].name(), probe))
		if err != nil {
			t.Fatal(err)
		}
		want := `{"replica":"other","agent":"http://agent:5000/bcreg","probe":{"no_load_seconds":0.1515,"noise_seconds":0.0004}}`
		if diff := cmp.Diff(want, string(data)); from == "other" && diff != "" {
			t.Errorf("probe news (-want +got):\n%s", diff)
		}
		sh.heard(&nats.Msg{Subject: peersSubject, Data: data})
	}
	l := a.list[0].limiter
	got := [3]any{l.peerProbe.from, l.peerProbe.noLoad, l.peerProbe.noise}
	if diff := cmp.Diff([3]any{"other", probe.noLoad, probe.noise}, got); diff != "" {
		t.Errorf("peer probe heard (-want +got):\n%s", diff)
	}
	if n := l.peers.count(time.Now()); n != 1 {
		t.Errorf("%d peers heard, want 1 (its own news ignored)", n)
	}
}

// TestProbeStartHeard: the news that a replica began a probe, as another
// replica encodes it (the wire contract), makes the limiter of the agent
// it names join the probe; a replica's own news is ignored.
func TestProbeStartHeard(t *testing.T) {
	const agentURL = "http://agent:5000/bcreg"
	a := newAgents(zaptest.NewLogger(t), newMetrics(prometheus.NewRegistry()), []agent.Endpoint{{BaseURL: agentURL}},
		Settings{MaxInflight: 16, InitialInflight: 4, Adaptive: true}, vonxScale(20), 20, 0)
	l := a.list[0].limiter
	l.succeeded(time.Now().Add(-150*time.Millisecond), 150*time.Millisecond, 1, 1, false) // something measured
	sh := &sharer{log: zaptest.NewLogger(t), replica: "me", agents: a}
	started := probeResult{started: true, limit: 4, at: time.Now()}
	for _, tc := range []struct {
		from        string
		wantProbing bool
	}{{"me", false}, {"other", true}} {
		data, err := json.Marshal(probeMessage(tc.from, a.list[0].name(), started))
		if err != nil {
			t.Fatal(err)
		}
		want := `{"replica":"` + tc.from + `","agent":"http://agent:5000/bcreg","probe_started":true}`
		if diff := cmp.Diff(want, string(data)); diff != "" {
			t.Errorf("probe start news (-want +got):\n%s", diff)
		}
		sh.heard(&nats.Msg{Subject: peersSubject, Data: data})
		if got := l.state().Probing; got != tc.wantProbing {
			t.Errorf("news from %q: probing = %v, want %v", tc.from, got, tc.wantProbing)
		}
	}
}
