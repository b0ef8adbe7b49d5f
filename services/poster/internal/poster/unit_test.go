package poster

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/services/poster/internal/agent"
)

// laneShape writes lanes as "A0 A1|B0" per request (credential hashes),
// lanes separated by " ; ".
func laneShape(lanes []lane) string {
	var ls []string
	for _, l := range lanes {
		var rs []string
		for _, r := range l {
			var hs []string
			for _, c := range r.creds {
				hs = append(hs, c.hash)
			}
			rs = append(rs, strings.Join(hs, " "))
		}
		ls = append(ls, strings.Join(rs, "|"))
	}
	return strings.Join(ls, " ; ")
}

func TestPack(t *testing.T) {
	mk := func(corp string, n int) *unit {
		u := &unit{corp: corp}
		for i := 0; i < n; i++ {
			u.creds = append(u.creds, &cred{hash: fmt.Sprintf("%s%d", corp, i)})
		}
		return u
	}
	tests := []struct {
		name  string
		units []*unit
		size  int
		want  string
	}{
		{"small units share a request", []*unit{mk("A", 2), mk("B", 1), mk("C", 2)}, 5, "A0 A1 B0 C0 C1"},
		{"a unit that does not fit starts the next request", []*unit{mk("A", 3), mk("B", 3)}, 5, "A0 A1 A2 ; B0 B1 B2"},
		{"a unit larger than a request gets its own lane of consecutive requests",
			[]*unit{mk("A", 1), mk("B", 7), mk("C", 1)}, 3, "B0 B1 B2|B3 B4 B5|B6 ; A0 C0"},
		{"exactly one request", []*unit{mk("A", 5)}, 5, "A0 A1 A2 A3 A4"},
		{"empty units are skipped", []*unit{mk("A", 0), mk("B", 1)}, 5, "B0"},
		{"shared requests are of even size, not full ones and a remainder",
			[]*unit{mk("A", 2), mk("B", 2), mk("C", 1), mk("D", 2), mk("E", 1)}, 5, "A0 A1 B0 B1 ; C0 D0 D1 E0"},
		{"lanes do not count towards the shared requests",
			[]*unit{mk("A", 2), mk("B", 6), mk("C", 2), mk("D", 1)}, 5, "B0 B1 B2 B3 B4|B5 ; A0 A1 C0 C1 D0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, laneShape(pack(tc.units, tc.size))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// fakeAgent drives a limiter with a clock: each answer arrives rtt after
// its start, and answers come limit per rtt (a saturated agent).
type fakeAgent struct {
	l   *limiter
	now time.Time
}

func newFakeAgent(adaptive bool, initial int) *fakeAgent {
	return newScaledFakeAgent(adaptive, controllerScale, initial)
}

func newScaledFakeAgent(adaptive bool, sc limitScale, initial int) *fakeAgent {
	f := &fakeAgent{l: newLimiter(adaptive, sc, initial, 16), now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	f.l.now = func() time.Time { return f.now }
	return f
}

func (f *fakeAgent) answer(rtt time.Duration, cost float64, saturated bool) {
	f.answerWeighted(rtt, cost, 1, saturated)
}

// answerWeighted answers a request of weight w (its share of a full
// request): a limit's worth of weight answers per round trip.
func (f *fakeAgent) answerWeighted(rtt time.Duration, cost, w float64, saturated bool) {
	f.now = f.now.Add(time.Duration(float64(rtt) * w / f.l.Limit()))
	f.l.succeeded(f.now.Add(-rtt), rtt, cost, w, saturated)
}

// TestLimiter drives the limiter with synthetic latencies.
func TestLimiter(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		name         string
		adaptive     bool
		initial      int
		run          func(f *fakeAgent)
		wantMin, max int
	}{
		{"grows while latency holds", true, 2, func(f *fakeAgent) {
			for i := 0; i < 200; i++ {
				f.answer(100*ms, 1, true)
			}
		}, 16, 16},
		{"does not grow when the limit is not used", true, 2, func(f *fakeAgent) {
			for i := 0; i < 200; i++ {
				f.answer(100*ms, 1, false)
			}
		}, 2, 2},
		{"shrinks when latency rises (queueing in the agent)", true, 12, func(f *fakeAgent) {
			for i := 0; i < warmUp; i++ { // the no-load latency learnt
				f.answer(100*ms, 1, true)
			}
			for i := 0; i < 60; i++ {
				f.answer(400*ms, 1, true)
			}
		}, 2, 6},
		{"settles where latency starts to rise, probes included", true, 2, func(f *fakeAgent) {
			// An agent that serves 6 requests at once: beyond that,
			// requests queue and latency grows in proportion. 5000
			// answers span several probes.
			for i := 0; i < 5000; i++ {
				rtt := 100 * ms
				if lim := f.l.Limit(); lim > 6 {
					rtt = time.Duration(float64(100*ms) * float64(lim) / 6)
				}
				f.answer(rtt, 1, true)
			}
		}, 6, 8},
		{"learns an agent that became slower for good", true, 8, func(f *fakeAgent) {
			for i := 0; i < 200; i++ {
				f.answer(100*ms, 1, true)
			}
			// From now on every request takes 300ms at any limit up
			// to 16: a probe relearns the no-load latency.
			for i := 0; i < 3000; i++ {
				f.answer(300*ms, 1, true)
			}
		}, 12, 16},
		{"cuts by a quarter on a failure", true, 12, func(f *fakeAgent) { f.l.failed() }, 9, 9},
		{"one cut per burst", true, 12, func(f *fakeAgent) {
			f.l.failed()
			f.l.failed()
			f.l.failed()
		}, 9, 9},
		{"never below one", true, 1, func(f *fakeAgent) {
			for i := 0; i < 10; i++ {
				f.now = f.now.Add(time.Hour)
				f.l.failed()
			}
		}, 1, 1},
		{"normalises by cost", true, 4, func(f *fakeAgent) {
			// Bigger requests take longer in proportion: no queueing.
			for i := 0; i < 300; i++ {
				f.answer(time.Duration(1+i%5)*100*ms, float64(1+i%5), true)
			}
		}, 16, 16},
		{"a fast agent's jitter is not a queue", true, 2, func(f *fakeAgent) {
			// A zero-latency agent on a busy machine: 1–4 ms round
			// trips are scheduling noise, not requests queued in it.
			for i := 0; i < 300; i++ {
				f.answer(time.Duration(1+i%4)*ms, 1, true)
			}
		}, 16, 16},
		{"an agent's latency jitter is not a queue", true, 2, func(f *fakeAgent) {
			// normal(150ms,40ms) at any limit: nothing queues.
			r := rand.New(rand.NewPCG(1, 2))
			for i := 0; i < 3000; i++ {
				f.answer(max(ms, time.Duration(150*float64(ms)+r.NormFloat64()*40*float64(ms))), 1, true)
			}
		}, 14, 16},
		{"settles where latency starts to rise, with jitter", true, 2, func(f *fakeAgent) {
			r := rand.New(rand.NewPCG(1, 2))
			for i := 0; i < 5000; i++ {
				rtt := max(ms, time.Duration(150*float64(ms)+r.NormFloat64()*40*float64(ms)))
				if lim := f.l.Limit(); lim > 6 {
					rtt = rtt * time.Duration(lim) / 6
				}
				f.answer(rtt, 1, true)
			}
		}, 6, 10},
		{"fixed stays at the maximum", false, 2, func(f *fakeAgent) {
			f.l.failed()
			f.answer(time.Second, 1, true)
		}, 16, 16},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeAgent(tc.adaptive, tc.initial)
			tc.run(f)
			f.l.mu.Lock()
			f.l.probing = false // read the limit, not a probe's half
			f.l.mu.Unlock()
			if got := f.l.Limit(); got < float64(tc.wantMin) || got > float64(tc.max) {
				t.Errorf("limit = %g, want %d–%d", got, tc.wantMin, tc.max)
			}
		})
	}
}

// The synthetic VON-X agent of the limiter tests: 40 slots, requests of
// 20 credentials, each answer one group of 5.
const (
	synthSlots  = 40.0
	synthSize   = 20
	synthWeight = 5.0 / synthSize
)

// TestLimiterVONX drives a VON-X limiter (granular, counted in
// credentials of requests of 20) against a synthetic agent of 40 slots:
// requests of one group of 5 credentials, 150 ms each while no more than
// 40 credentials are in flight; beyond that they queue and every one
// waits its turn (latency grows in proportion).
func TestLimiterVONX(t *testing.T) {
	const ms = time.Millisecond
	const slots, size, w = synthSlots, synthSize, synthWeight
	r := rand.New(rand.NewPCG(3, 4))
	agentRTT := func(limit float64, jitter bool) time.Duration {
		d := 150 * ms
		if jitter {
			// normal(150ms,40ms) per credential: a group answers with
			// its slowest of 5.
			d = 0
			for range 5 {
				d = max(d, time.Duration(150*float64(ms)+r.NormFloat64()*40*float64(ms)))
			}
		}
		return time.Duration(float64(d) * max(1, limit*size/slots))
	}
	tests := []struct {
		name           string
		initial        int
		answers        int
		wantLo, wantHi float64 // credentials in flight allowed at the end
		withinAnswers  int     // the limit first reaches wantLo within this many answers (0: not checked)
		jitter         bool    // each credential takes normal(150ms,40ms)
	}{
		// Within two to four credentials queued: 42–44 of 40, allowing for
		// the probes' halving and the step of one credential per round
		// trip.
		{name: "settles a few credentials above the agent's slots", initial: 1, answers: 4000, wantLo: 40, wantHi: 48},
		// Slow start: half a limit per round trip until a queue is seen;
		// from 20 to 40 credentials in about two round trips (16 answers
		// of 5 credentials), not twenty.
		{name: "slow start finds the capacity in a few round trips", initial: 1, answers: 400, wantLo: 40, wantHi: 48, withinAnswers: 40},
		// Started far above the capacity (8 requests of 20 for 40 slots):
		// the warm-up's no-load latency is a queued one; the probes learn
		// the true one and the limit comes down.
		{name: "started above the capacity, comes down to it", initial: 8, answers: 6000, wantLo: 38, wantHi: 52},
		// A group of 5 answers with the slowest of its credentials
		// (about 196 ms at no load): the spread is noise, not a queue,
		// through the probes too.
		{name: "jitter is not a queue, probes included", initial: 1, answers: 8000, wantLo: 38, wantHi: 64, jitter: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newScaledFakeAgent(true, vonxScale(size), tc.initial)
			reached := 0
			for i := 0; i < tc.answers; i++ {
				f.answerWeighted(agentRTT(f.l.Limit(), tc.jitter), 1, w, true)
				if reached == 0 && f.l.Limit()*size >= tc.wantLo {
					reached = i + 1
				}
			}
			f.l.mu.Lock()
			f.l.probing = false
			f.l.mu.Unlock()
			if got := f.l.Limit() * size; got < tc.wantLo || got > tc.wantHi {
				t.Errorf("limit = %.1f credentials, want %.0f–%.0f", got, tc.wantLo, tc.wantHi)
			}
			if tc.withinAnswers > 0 && (reached == 0 || reached > tc.withinAnswers) {
				t.Errorf("limit reached %.0f credentials after %d answers, want within %d", tc.wantLo, reached, tc.withinAnswers)
			}
		})
	}
}

// TestLimiterReplicasShare: replicas posting to one agent (40 slots,
// 150 ms, latency growing with the credentials in flight beyond the
// slots) that hear of each other keep the queue of one replica, 2–4
// credentials, and equal limits; on their own thresholds each kept its
// own 2–4.
func TestLimiterReplicasShare(t *testing.T) {
	const ms = time.Millisecond
	const slots, size, w = synthSlots, synthSize, synthWeight
	tests := []struct {
		name     string
		replicas int
		share    bool
		// the credentials in flight over the agent's slots, mean over
		// the last half of the run (the agent's queue)
		wantLo, wantHi float64
	}{
		{name: "one replica", replicas: 1, wantLo: 1.5, wantHi: 4.5},
		{name: "two replicas sharing", replicas: 2, share: true, wantLo: 1.5, wantHi: 4.5},
		{name: "three replicas sharing", replicas: 3, share: true, wantLo: 1.5, wantHi: 4.5},
		{name: "two replicas on their own", replicas: 2, wantLo: 4.5, wantHi: 9},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Date(2026, 1, 1, 0, 0, 3, 0, time.UTC)
			ls := make([]*limiter, tc.replicas)
			next := make([]time.Time, tc.replicas) // each replica's next answer
			for i := range ls {
				ls[i] = newLimiter(true, vonxScale(size), 1, 16)
				ls[i].now = func() time.Time { return now }
				next[i] = now.Add(time.Duration(i) * ms)
			}
			total := func() float64 {
				sum := 0.0
				for _, l := range ls {
					sum += l.Limit() * size
				}
				return sum
			}
			var queue, n float64
			each := make([]float64, tc.replicas) // sums of each replica's limit
			const answers = 12000
			for k := 0; k < answers; k++ {
				i := 0 // the replica answered next
				for j := range next {
					if next[j].Before(next[i]) {
						i = j
					}
				}
				now = next[i]
				if tc.share && k%10 == 0 { // the others heard now and then
					for a := range ls {
						for b := range ls {
							if a != b {
								ls[a].peers.set(fmt.Sprint(b), false, now)
							}
						}
					}
				}
				inFlight := total()
				rtt := time.Duration(float64(150*ms) * max(1, inFlight/slots))
				ls[i].succeeded(now.Add(-rtt), rtt, 1, w, true)
				next[i] = now.Add(time.Duration(float64(rtt) * w / ls[i].Limit()))
				if k >= answers/2 {
					queue += inFlight - slots
					for j, l := range ls {
						each[j] += l.Limit() * size
					}
					n++
				}
			}
			if got := queue / n; got < tc.wantLo || got > tc.wantHi {
				t.Errorf("mean queue = %.1f credentials, want %.1f–%.1f (limits at the end: %.1f credentials)", got, tc.wantLo, tc.wantHi, total())
			}
			// Each replica's mean limit within a fifth of their mean: one
			// with most of the load probed last (its few requests took
			// long to answer) and learnt the others' queue as no load.
			lo, hi := slices.Min(each)/n, slices.Max(each)/n
			if mean := (queue/n + slots) / float64(tc.replicas); lo < 0.8*mean || hi > 1.2*mean {
				t.Errorf("mean limits %.1f–%.1f credentials, want each within a fifth of %.1f", lo, hi, mean)
			}
		})
	}
}

// TestProbesAlign: replicas that started at different moments probe an
// agent at the same wall-clock instants (multiples of the probe
// interval), so the agent's queue drains for all of them at once.
func TestProbesAlign(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var next []time.Time
	for _, offset := range []time.Duration{3 * time.Second, 11 * time.Second, 19 * time.Second} {
		f := newScaledFakeAgent(true, vonxScale(20), 1)
		f.now = base.Add(offset)
		f.answerWeighted(150*time.Millisecond, 1, 0.25, true)
		next = append(next, f.l.nextProbe)
	}
	want := []time.Time{base.Add(defaultProbeEvery), base.Add(defaultProbeEvery), base.Add(defaultProbeEvery)}
	if diff := cmp.Diff(want, next); diff != "" {
		t.Errorf("next probes (-want +got):\n%s", diff)
	}
}

// TestProbeReported: a probe's start is reported (the peers join it),
// and its end once, with the no-load latency and spread its answers
// measured (the poster logs it and tells the peers).
func TestProbeReported(t *testing.T) {
	f := newScaledFakeAgent(true, vonxScale(20), 4)
	var got []probeResult
	f.l.probed = func(r probeResult) { got = append(got, r) }
	for i := 0; !f.l.state().Probing && i < 2*warmUp; i++ { // a probe at once after the warm-up (granular)
		f.answerWeighted(300*time.Millisecond, 1, 0.25, true)
	}
	if !f.l.state().Probing {
		t.Fatal("no probe after the warm-up")
	}
	started := probeResult{started: true, limit: f.l.Estimate(), at: f.now}
	for i := 0; f.l.state().Probing && i < 100; i++ {
		rtt := 140 * time.Millisecond
		if i%2 == 1 {
			rtt = 160 * time.Millisecond
		}
		f.answerWeighted(rtt, 1, 0.25, true)
	}
	// 300 ms before, 150 ms at half the limit: clearly faster, so the
	// probe halved again (div 4) and was reported once, at its end.
	want := []probeResult{started, {noLoad: 150 * time.Millisecond, noise: 10 * time.Millisecond, answers: probeAnswers, div: 4, limit: f.l.Estimate(), at: f.now}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(probeResult{})); diff != "" {
		t.Errorf("probes reported (-want +got):\n%s", diff)
	}
}

// TestSplitGroups: a VON-X request goes out as its (schema, version)
// groups in order of first appearance, one request each, in its lane;
// a request of one group is left as it is.
func TestSplitGroups(t *testing.T) {
	mk := func(id, schema, version string) *cred {
		return &cred{hash: id, c: messages.RawCredential{Credential: messages.Credential{Schema: schema, Version: version}}}
	}
	tests := []struct {
		name  string
		lanes []lane
		want  string
	}{
		{"one group stays whole", []lane{{{creds: []*cred{mk("A0", "reg", "1"), mk("B0", "reg", "1")}}}}, "A0 B0"},
		{"groups in order of first appearance, each in input order", []lane{{{creds: []*cred{
			mk("A0", "reg", "1"), mk("A1", "rel", "1"), mk("B0", "reg", "1"), mk("B1", "addr", "1"), mk("C0", "rel", "1"),
		}}}}, "A0 B0|A1 C0|B1"},
		{"a version is its own group", []lane{{{creds: []*cred{mk("A0", "reg", "1"), mk("A1", "reg", "2"), mk("B0", "reg", "1")}}}}, "A0 B0|A1"},
		{"a lane's requests split in turn, lanes apart", []lane{
			{{creds: []*cred{mk("A0", "reg", "1"), mk("A1", "rel", "1")}}, {creds: []*cred{mk("A2", "reg", "1")}}},
			{{creds: []*cred{mk("B0", "rel", "1"), mk("B1", "reg", "1")}}},
		}, "A0|A1|A2 ; B0|B1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, laneShape(splitGroups(tc.lanes))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestMustRenew: a claim is sent as it is while it outlasts the request
// with the margin; otherwise it is renewed first.
func TestMustRenew(t *testing.T) {
	p := &Poster{lease: 5 * time.Minute}
	p.cfg.RequestTimeout = 4 * time.Minute
	now := time.Now()
	for _, tc := range []struct {
		age  time.Duration
		want bool
	}{
		{0, false},
		{50 * time.Second, false},
		{56 * time.Second, true}, // 56s + 240s + 5s > 300s
		{time.Hour, true},
	} {
		if got := p.mustRenew(now.Add(-tc.age)); got != tc.want {
			t.Errorf("claim %v old: mustRenew = %v, want %v", tc.age, got, tc.want)
		}
	}
	if !p.mustRenew(time.Time{}) {
		t.Error("a claim of unknown age must be renewed")
	}
	// The shortest valid lease (request timeout + 5s) is always renewed.
	p.lease = p.cfg.RequestTimeout + LeaseMargin
	if !p.mustRenew(now) {
		t.Error("a lease with no room beyond the request must be renewed")
	}
}

// TestConfigFromEnvironment: defaults per protocol, the original's
// variables as fallbacks, and every problem reported at once.
func TestConfigFromEnvironment(t *testing.T) {
	vars := []string{"VONX_API_URL", "CONTROLLER_URL", "CREDS_REQUEST_SIZE", "MAX_CREDS_REQUESTS", "MAX_CRED_POSTING_TIMEOUT", "ISSUE_CRED_VERSION"}
	type got struct {
		URLs, Issue, Health string
		Size, Inflight      int
		Timeout             time.Duration
	}
	tests := []struct {
		name string
		env  map[string]string
		want got
	}{
		{"vonx defaults", nil, got{"http://localhost:5000/bcreg", "http://localhost:5000/bcreg/issue-credential", "http://localhost:5000/health", 20, 16, 240 * time.Second}},
		{"controller defaults", map[string]string{"BCREG_AGENT_PROTOCOL": "controller"},
			got{"http://localhost:5002", "http://localhost:5002/issue-credential", "http://localhost:5002/readiness", 5, 16, 240 * time.Second}},
		{"original vonx variables", map[string]string{"VONX_API_URL": "http://bcreg-agent:8000/bcreg", "CREDS_REQUEST_SIZE": "30", "MAX_CREDS_REQUESTS": "8"},
			got{"http://bcreg-agent:8000/bcreg", "http://bcreg-agent:8000/bcreg/issue-credential", "http://bcreg-agent:8000/health", 30, 8, 240 * time.Second}},
		{"original controller variables", map[string]string{"BCREG_AGENT_PROTOCOL": "controller", "CONTROLLER_URL": "http://bcreg-controller:5000",
			"ISSUE_CRED_VERSION": "V20", "MAX_CRED_POSTING_TIMEOUT": "100"},
			got{"http://bcreg-controller:5000", "http://bcreg-controller:5000/issue-credential-v20", "http://bcreg-controller:5000/readiness", 5, 16, 100 * time.Second}},
		{"new variables win", map[string]string{"VONX_API_URL": "http://ignored:1/bcreg", "BCREG_AGENT_URL": "http://a:8080/bcreg",
			"BCREG_AGENT_HEALTH_URL": "http://a:8080/status", "CREDS_REQUEST_SIZE": "30", "BCREG_POSTER_REQUEST_SIZE": "10"},
			got{"http://a:8080/bcreg", "http://a:8080/bcreg/issue-credential", "http://a:8080/status", 10, 16, 240 * time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clearEnv(t, vars)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var cfg Config
			if err := config.Load(&cfg); err != nil {
				t.Fatal(err)
			}
			eps, err := cfg.Endpoints()
			if err != nil {
				t.Fatal(err)
			}
			g := got{cfg.URLs.Value(), eps[0].IssueURL, eps[0].HealthURL, cfg.requestSize(), cfg.MaxInflight, cfg.RequestTimeout}
			if diff := cmp.Diff(tc.want, g); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	t.Run("every problem at once", func(t *testing.T) {
		clearEnv(t, vars)
		t.Setenv("BCREG_AGENT_PROTOCOL", "soap")
		t.Setenv("BCREG_AGENT_URL", "http://a/bcreg,ftp://b")
		t.Setenv("BCREG_AGENT_HEALTH_INTERVAL", "30s")
		t.Setenv("BCREG_POSTER_MAX_INFLIGHT", "0")
		t.Setenv("BCREG_POSTER_LEASE", "10s")
		var cfg Config
		err := config.Load(&cfg)
		if err == nil {
			t.Fatal("no error")
		}
		for _, want := range []string{"BCREG_AGENT_PROTOCOL", "ftp://b", "BCREG_AGENT_HEALTH_INTERVAL", "BCREG_POSTER_MAX_INFLIGHT", "BCREG_POSTER_LEASE"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error does not mention %s:\n%v", want, err)
			}
		}
	})
	t.Run("no duplicate variables", func(t *testing.T) {
		if d := config.Duplicates(Config{}); len(d) != 0 {
			t.Errorf("duplicate variables: %v", d)
		}
	})
}

// clearEnv unsets every variable the config reads plus the original ones.
func clearEnv(t *testing.T, extra []string) {
	t.Helper()
	for _, name := range append(config.EnvNames(Config{}), extra...) {
		t.Setenv(name, "") // restores the old value after the test
		os.Unsetenv(name)
	}
}

// TestItemsSendTheSameBytes: the body built from a bundle's attribute text
// (passed on verbatim where it can be) is byte for byte the body of the
// attributes decoded into maps, with the reason added, as the poster sent
// them before it kept the text.
func TestItemsSendTheSameBytes(t *testing.T) {
	creds := []messages.Credential{
		{Hash: "h1", Schema: "registration.registries.ca", Version: "1.0.42",
			Attributes: map[string]any{"entity_name": "One Ltd.", "effective_date": "2019-01-02T11:04:05+00:00", "n": json.Number("1.50"), "none": nil}},
		{Hash: "h2", Schema: "relationship.registries.ca", Version: "1.0.42", Reason: "Filing:NOCAD",
			Attributes: map[string]any{"entity_name": "Two Ltd."}},
		{Hash: "h3", Schema: "s", Version: "1", Attributes: map[string]any{"entity_name": "Café <&> Ltd.", "nested": map[string]any{"b": 1, "a": []any{"x"}}}},
		{Hash: "h4", Schema: "s", Version: "1"},
		{Hash: "h5", Schema: "s", Version: "1", Reason: "r", Attributes: map[string]any{"reason_description": "overwritten", "z": "\u2028"}},
		{Hash: "h6", Schema: "s", Version: "1", Reason: "Filing:<&>", Attributes: map[string]any{"a": 1, "z": []any{"y"}}},
		{Hash: "h7", Schema: "s", Version: "1", Reason: "Filing:ANNBC", Attributes: map[string]any{}},
		{Hash: "h8", Schema: "s", Version: "1", Reason: "Event:é\u2028", Attributes: map[string]any{"s": "t"}},
		{Hash: "h9", Schema: "s", Version: "1", Reason: "r", Attributes: map[string]any{"reason_description": "overwritten"}},
		{Hash: "h10", Schema: "s\"<", Version: "1é", Reason: "Filing:ANNBC", Attributes: map[string]any{"z": "y"}},
	}
	data, err := messages.Encode(messages.CredentialBundle{V: messages.Version, CorpNum: "A1", Credentials: creds})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := messages.DecodeRawBundle(data)
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := messages.DecodeBundle(data)
	if err != nil {
		t.Fatal(err)
	}
	w := &batch{p: &Poster{}}
	var crs []*cred
	var old []agent.Item
	for i, c := range raw.Credentials {
		crs = append(crs, &cred{hash: c.Hash, c: c})
		m := decoded.Credentials[i]
		attrs := map[string]any{}
		maps.Copy(attrs, m.Attributes)
		if m.Reason != "" {
			attrs["reason_description"] = m.Reason
		}
		old = append(old, agent.Item{Schema: m.Schema, Version: m.Version, Attributes: attrs})
	}
	items, _, err := w.items(crs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := agent.EncodeBody(items)
	if err != nil {
		t.Fatal(err)
	}
	want, err := agent.EncodeBody(old)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("body (-maps +text):\n%s", diff)
	}
	// The outbox's plain text goes out as it is, with or without a reason.
	for _, i := range []int{0, 1, 5, 6, 7, 9} {
		if _, verbatim := items[i].Attributes.(json.RawMessage); !verbatim {
			t.Errorf("%s: the outbox's plain text was decoded: %T", crs[i].hash, items[i].Attributes)
		}
	}
}

// historyBundle is a bundle like the history profile's: 3 credentials of
// 18 attributes each, every one with a reason.
func historyBundle(tb testing.TB) []byte {
	tb.Helper()
	var creds []messages.Credential
	for i := range 3 {
		attrs := map[string]any{"registration_id": "BC0191294", "registration_date": "1994-06-02T00:00:00+00:00",
			"registration_expiry_date": "", "registration_renewal_effective": "", "entity_type": "BC",
			"entity_name": "WESTERN PACIFIC HOLDINGS LTD.", "entity_name_effective": "1994-06-02T00:00:00+00:00",
			"entity_name_assumed": "", "entity_name_assumed_effective": "", "entity_name_trans": "", "entity_name_trans_effective": "",
			"entity_status": "ACT", "entity_status_effective": "1994-06-02T00:00:00+00:00", "extra_jurisdictional_registration": "",
			"expiry_date": "", "home_jurisdiction": "BC", "registered_jurisdiction": "BC", "effective_date": fmt.Sprintf("2019-0%d-02T11:04:05+00:00", i+1)}
		creds = append(creds, messages.Credential{Hash: fmt.Sprintf("%064d", i), Type: "REG", CredentialID: "BC0191294",
			Schema: "registration.registries.ca", Version: "1.0.42", Attributes: attrs, Reason: "Filing:ANNBC", EffectiveDate: "2019-01-02T11:04:05+00:00"})
	}
	data, err := messages.Encode(messages.CredentialBundle{V: messages.Version, System: messages.SystemBCReg, CorpNum: "0191294",
		CorpState: "ACT", Profile: "history", Credentials: creds})
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// BenchmarkBundleToBody: the poster's CPU per bundle between NATS and the
// agent's request body. "maps" is how it was done before the attributes
// were kept as text (decode into maps, add the reason, encode).
func BenchmarkBundleToBody(b *testing.B) {
	data := historyBundle(b)
	b.Run("maps", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			bd, err := messages.DecodeBundle(data)
			if err != nil {
				b.Fatal(err)
			}
			items := make([]agent.Item, len(bd.Credentials))
			for i, c := range bd.Credentials {
				attrs := maps.Clone(c.Attributes)
				attrs["reason_description"] = c.Reason
				items[i] = agent.Item{Schema: c.Schema, Version: c.Version, Attributes: attrs}
			}
			var buf strings.Builder
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(items); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("text", func(b *testing.B) {
		b.ReportAllocs()
		w := &batch{p: &Poster{}}
		for b.Loop() {
			bd, err := messages.DecodeRawBundle(data)
			if err != nil {
				b.Fatal(err)
			}
			crs := make([]*cred, len(bd.Credentials))
			for i, c := range bd.Credentials {
				crs[i] = &cred{hash: c.Hash, c: c}
			}
			items, _, err := w.items(crs)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := agent.EncodeBody(items); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestPeerTable: a replica counts until peerExpiry after it was last
// heard, and one that leaves is forgotten at once.
func TestPeerTable(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		run  func(p *peerTable)
		at   time.Duration
		want int
	}{
		{"two replicas heard", func(p *peerTable) { p.set("a", false, t0); p.set("b", false, t0) }, 0, 2},
		{"heard twice, counted once", func(p *peerTable) { p.set("a", false, t0); p.set("a", false, t0) }, 0, 1},
		{"still counted at the expiry", func(p *peerTable) { p.set("a", false, t0) }, peerExpiry, 1},
		{"forgotten after it", func(p *peerTable) { p.set("a", false, t0) }, peerExpiry + time.Millisecond, 0},
		{"a leaving replica forgotten at once", func(p *peerTable) { p.set("a", false, t0); p.set("b", false, t0); p.set("a", true, t0) }, 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p peerTable
			tc.run(&p)
			if got := p.count(t0.Add(tc.at)); got != tc.want {
				t.Errorf("count = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestHeardProbe: a peer's probe of the same round, clearly faster than
// this replica's own (which met the peer's queue), is taken instead, once
// per round; one faster by chance, or of another round, is not.
func TestHeardProbe(t *testing.T) {
	const ms = time.Millisecond
	type heard struct {
		during        bool          // heard while this replica probed (taken when its probe ends)
		after         time.Duration // else: ended this long after this replica's probe (negative: before)
		noLoad, noise time.Duration
	}
	tests := []struct {
		name       string
		heard      []heard
		wantNoLoad time.Duration
		wantTaken  []string
	}{
		{"a clean probe of the same round taken", []heard{{after: 2 * time.Second, noLoad: 152 * ms, noise: ms / 2}}, 152 * ms, []string{"peer"}},
		{"heard while this replica probed", []heard{{during: true, noLoad: 152 * ms, noise: ms / 2}}, 152 * ms, []string{"peer"}},
		{"faster by less than its spread", []heard{{after: time.Second, noLoad: 155 * ms, noise: 8 * ms}}, 163 * ms, nil},
		{"faster by less than the scheduling noise", []heard{{after: time.Second, noLoad: 159 * ms}}, 163 * ms, nil},
		{"another round", []heard{{after: -peerProbeWindow - time.Second, noLoad: 152 * ms, noise: ms / 2}}, 163 * ms, nil},
		{"taken once per round", []heard{{after: time.Second, noLoad: 155 * ms, noise: ms / 2}, {after: 2 * time.Second, noLoad: 150 * ms, noise: ms / 2}}, 155 * ms, []string{"peer"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newScaledFakeAgent(true, vonxScale(20), 4)
			var taken []string
			f.l.probed = func(r probeResult) {
				if r.from != "" {
					taken = append(taken, r.from)
				}
			}
			// The warm-up, then its probe at once: 163 ms (it met the
			// peer's queue).
			for i := 0; !f.l.state().Probing && i < 2*warmUp; i++ {
				f.answerWeighted(163*ms, 1, 0.25, true)
			}
			for _, h := range tc.heard {
				if h.during {
					f.l.heardProbe("peer", h.noLoad, h.noise, f.now)
				}
			}
			for i := 0; f.l.state().Probing && i < 100; i++ {
				f.answerWeighted(163*ms, 1, 0.25, true)
			}
			end := f.now
			for _, h := range tc.heard {
				if !h.during {
					f.l.heardProbe("peer", h.noLoad, h.noise, end.Add(h.after))
				}
			}
			if got := f.l.state().NoLoad; got != tc.wantNoLoad {
				t.Errorf("no-load latency %v, want %v", got, tc.wantNoLoad)
			}
			if diff := cmp.Diff(tc.wantTaken, taken); diff != "" {
				t.Errorf("peers' probes taken (-want +got):\n%s", diff)
			}
		})
	}
}

// TestProbeJoined: a replica that hears another's probe start joins it at
// once (its limit halved, its answers from then on measured) and does not
// announce it in turn; one with nothing measured, nothing to halve, a
// probe of its own running or a fixed limit stays out.
func TestProbeJoined(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		name     string
		adaptive bool
		scale    limitScale
		initial  int
		answers  int  // unsaturated answers before the news
		probing  bool // its own probe (saturated answers after the warm-up) running when the news comes
		wantJoin bool
	}{
		{"past the warm-up", true, vonxScale(20), 4, warmUp, false, true},
		{"in the warm-up", true, vonxScale(20), 4, 3, false, true},
		{"the controller", true, controllerScale, 4, warmUp, false, true},
		{"nothing measured yet", true, vonxScale(20), 4, 0, false, false},
		{"nothing to halve", true, controllerScale, 1, warmUp, false, false},
		{"its own probe running", true, vonxScale(20), 4, warmUp, true, false},
		{"a fixed limit", false, vonxScale(20), 4, warmUp, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newScaledFakeAgent(tc.adaptive, tc.scale, tc.initial)
			var news []probeResult
			f.l.probed = func(r probeResult) { news = append(news, r) }
			for i := 0; i < tc.answers; i++ {
				f.answerWeighted(150*ms, 1, 0.25, false) // unsaturated: no growth, no probe
			}
			if tc.probing {
				f.answerWeighted(150*ms, 1, 0.25, true) // the warm-up's probe at once (granular)
				if !f.l.state().Probing {
					t.Fatal("no probe of its own after the warm-up")
				}
			}
			before, announced := f.l.state(), len(news)
			f.l.heardProbeStart()
			after := f.l.state()
			if joined := after.Probing && !before.Probing; joined != tc.wantJoin {
				t.Fatalf("joined = %v (probing %v, then %v), want %v", joined, before.Probing, after.Probing, tc.wantJoin)
			}
			want := before.Limit
			if tc.wantJoin {
				want = before.Limit / 2
			}
			if after.Limit != want {
				t.Errorf("limit = %v after the news, want %v", after.Limit, want)
			}
			if len(news) != announced {
				t.Errorf("news after joining: %+v, want none (a joined probe is not announced)", news[announced:])
			}
		})
	}
}

// TestProbeJoinedEndsTheWarmUp: a probe joined during the warm-up ends it:
// its mean is the no-load latency from then on, not an average that
// follows a slow start's queue.
func TestProbeJoinedEndsTheWarmUp(t *testing.T) {
	const ms = time.Millisecond
	f := newScaledFakeAgent(true, vonxScale(20), 4)
	for i := 0; i < 3; i++ {
		f.answerWeighted(150*ms, 1, 0.25, false)
	}
	f.l.heardProbeStart()
	for i := 0; f.l.state().Probing && i < 100; i++ {
		f.answerWeighted(150*ms, 1, 0.25, false)
	}
	for i := 0; i < 2*warmUp; i++ { // a queue grows
		f.answerWeighted(time.Duration(200+10*i)*ms, 1, 0.25, false)
	}
	if got := f.l.state().NoLoad; got != 150*ms {
		t.Errorf("no-load latency %v after the joined probe and a growing queue, want 150ms", got)
	}
}

// TestProbeWaitsForTheDrain: a probe whose first answers still wait behind
// the queue met at its start measures once their latency stops falling,
// up to maxProbeAnswers answers; answers that vary by chance do not hold
// it up.
func TestProbeWaitsForTheDrain(t *testing.T) {
	const ms = time.Millisecond
	falling := func(from, by time.Duration, n int) []time.Duration {
		var ls []time.Duration
		for i := range n {
			ls = append(ls, from-time.Duration(i)*by)
		}
		return ls
	}
	draining := append(falling(480*ms, 30*ms, 6), 301*ms)
	tests := []struct {
		name       string
		steady     bool            // a queue seen before (past the slow start)
		latencies  []time.Duration // the probe's answers in order; the last repeats
		wantNoLoad time.Duration
		wantFed    int // answers until the probe ended
	}{
		{"a queue draining", false, draining, 301 * ms, 16},
		{"no queue", false, []time.Duration{301 * ms}, 301 * ms, probeAnswers},
		{"jitter", false, []time.Duration{280 * ms, 320 * ms, 330 * ms, 270 * ms, 300 * ms, 310 * ms, 290 * ms, 300 * ms}, 300 * ms, probeAnswers},
		// Jitter that reads as a drain: measured anew, not from the
		// fast half (285 ms).
		{"jitter read as a drain", false, []time.Duration{340 * ms, 330 * ms, 320 * ms, 330 * ms, 270 * ms, 260 * ms, 280 * ms, 270 * ms, 300 * ms}, 300 * ms, 2 * probeAnswers},
		// The last 8 of 32 answers (measured anew at 8, 16 and 24),
		// 990 − 20 × (24…31) ms.
		{"never settling: taken at the bound", false, falling(990*ms, 20*ms, maxProbeAnswers), 440 * ms, maxProbeAnswers},
		// (480 + 450 + … + 330 + 301 + 301) / 8.
		{"past the slow start: not waited for", true, draining, 379 * ms, probeAnswers},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newScaledFakeAgent(true, vonxScale(20), 8)
			f.l.steady = tc.steady
			var got []probeResult
			f.l.probed = func(r probeResult) {
				if !r.started {
					got = append(got, r)
				}
			}
			for i := 0; i < warmUp; i++ {
				f.answerWeighted(301*ms, 1, 1, false)
			}
			f.answerWeighted(301*ms, 1, 1, true) // the probe at once after the warm-up
			if !f.l.state().Probing {
				t.Fatal("no probe after the warm-up")
			}
			// Requests started during the probe, answered in order.
			probeStart, fed := f.now, 0
			for ; f.l.state().Probing && fed < 10*maxProbeAnswers; fed++ {
				rtt := tc.latencies[min(fed, len(tc.latencies)-1)]
				f.now = probeStart.Add(time.Duration(fed)*ms + rtt)
				f.l.succeeded(probeStart.Add(time.Duration(fed)*ms), rtt, 1, 1, false)
			}
			if len(got) != 1 {
				t.Fatalf("%d probe results, want 1", len(got))
			}
			if fed != tc.wantFed {
				t.Errorf("probe ended after %d answers, want %d", fed, tc.wantFed)
			}
			if got[0].noLoad.Round(ms) != tc.wantNoLoad {
				t.Errorf("no-load latency %v, want %v", got[0].noLoad, tc.wantNoLoad)
			}
		})
	}
}
