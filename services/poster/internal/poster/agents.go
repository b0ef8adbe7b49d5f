package poster

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/services/poster/internal/agent"
)

// errNoAgent means no agent can take a request now (all down or
// misconfigured).
var errNoAgent = errors.New("no healthy agent")

// agentState is one agent: its client, health, misconfiguration and
// adaptive limit.
type agentState struct {
	client  *agent.Client
	limiter *limiter

	// guarded by agents.mu
	healthy      bool
	checked      bool // health known at least once
	healthErr    string
	misconfUntil time.Time
	misconfMsg   string
	inflight     int
	// load is the requests in flight weighted by their credentials (a
	// full request is 1): what the adaptive limit bounds.
	load float64

	// The agent's series of the per-agent gauges, resolved once: they are
	// set after every answer.
	healthyGauge, noLoadGauge, latencyGauge, replicasGauge prometheus.Gauge
}

func (a *agentState) name() string { return a.client.Endpoint.Name() }

// agents spreads requests over the healthy agents within each one's
// adaptive limit and the replica's maximum, and keeps their health.
type agents struct {
	log  *zap.Logger
	m    *metrics
	list []*agentState
	max  int // BCREG_POSTER_MAX_INFLIGHT (maxRoomLocked)
	// byLoad: max bounds the load, not the requests (adaptive VON-X).
	byLoad   bool
	interval time.Duration
	retry    time.Duration // misconfiguration retry
	size     int           // credentials in a full request
	// tellProbe, when set, tells the other replicas a probe's result
	// (sharer.tellProbe); set before the first request.
	tellProbe func(agent string, r probeResult)
	// need is the share of a request that must fit in an agent's room
	// for it to start: any room (0) for the controller, whose limit
	// counts whole requests; half of it for VON-X (granular), so the
	// limit is reached on average, neither overshot by the largest
	// requests nor never reached by them.
	need float64
	// saturation: a request that leaves less room than this (full
	// requests) found the limit in use, so its answer may grow it.
	saturation float64
	now        func() time.Time

	mu       sync.Mutex
	inflight int
	// waiting is the requests waiting in acquire, weighted as load.
	waiting float64
	changed chan struct{} // closed and replaced on every change
}

func newAgents(log *zap.Logger, m *metrics, eps []agent.Endpoint, s Settings, sc limitScale, size int, interval time.Duration) *agents {
	hc := agent.NewHTTPClient(s.MaxInflight)
	a := &agents{log: log, m: m, max: s.MaxInflight, interval: interval, retry: s.MisconfigRetry, size: max(1, size),
		saturation: 1, now: time.Now, changed: make(chan struct{})}
	if sc.granular() {
		a.need, a.saturation = 0.5, 0.5
		a.byLoad = s.Adaptive
	}
	for _, ep := range eps {
		name := ep.Name()
		l := newLimiter(s.Adaptive, sc, s.InitialInflight, s.MaxInflight)
		l.probed = func(r probeResult) { a.probed(name, r) }
		a.list = append(a.list, &agentState{
			client:        &agent.Client{Endpoint: ep, HTTP: hc},
			limiter:       l,
			healthyGauge:  m.healthy.WithLabelValues(name),
			noLoadGauge:   m.noLoad.WithLabelValues(name),
			latencyGauge:  m.latency.WithLabelValues(name),
			replicasGauge: m.replicas.WithLabelValues(name),
		})
	}
	a.updateGaugesLocked() // every agent's series from the start, at 0
	return a
}

// probed logs a probe's result, or a peer's taken instead, and tells the
// peers this replica's own, and the start of a probe it began on its own
// (for them to join): every probeEvery per agent, the agent's no-load
// latency over time and what a limit was read against.
func (a *agents) probed(agent string, r probeResult) {
	limit := zap.Float64("limit_credentials", math.Round(r.limit*float64(a.size)*10)/10)
	switch {
	case r.started:
		a.log.Debug("agent probe started", zap.String("agent", agent), limit)
	case r.from != "":
		a.log.Info("agent no-load latency taken from another replica's probe: this replica's probe met a queue",
			zap.String("agent", agent), zap.String("peer", r.from), zap.Duration("no_load_latency", r.noLoad),
			zap.Duration("noise", r.noise), limit)
		return
	default:
		a.log.Info("agent no-load latency measured", zap.String("agent", agent), zap.Duration("no_load_latency", r.noLoad),
			zap.Duration("noise", r.noise), zap.Int("answers", r.answers), zap.Float64("limit_divided_by", r.div), limit)
	}
	if a.tellProbe != nil {
		a.tellProbe(agent, r)
	}
}

// notifyLocked wakes everyone waiting for a change.
func (a *agents) notifyLocked() {
	close(a.changed)
	a.changed = make(chan struct{})
	a.updateGaugesLocked()
}

func (a *agents) updateGaugesLocked() {
	limit := 0.0
	for _, s := range a.list {
		st := s.limiter.state()
		usable := 0.0
		if a.usableLocked(s) {
			limit += st.Limit
			usable = 1
		}
		s.healthyGauge.Set(usable)
		s.noLoadGauge.Set(st.NoLoad.Seconds())
		s.latencyGauge.Set(st.Smoothed.Seconds())
		s.replicasGauge.Set(float64(st.Replicas))
	}
	a.m.inflight.Set(float64(a.inflight))
	a.m.limit.Set(min(limit, float64(a.max)))
}

// usableLocked: healthy and not (still) misconfigured.
func (a *agents) usableLocked(s *agentState) bool {
	return s.healthy && !a.now().Before(s.misconfUntil)
}

// capacityLocked is how many more full requests may start now.
func (a *agents) capacityLocked() float64 {
	free := 0.0
	for _, s := range a.list {
		if a.usableLocked(s) {
			free += max(0, s.limiter.Limit()-s.load)
		}
	}
	return min(free, a.maxRoomLocked())
}

// maxRoomLocked is what BCREG_POSTER_MAX_INFLIGHT leaves room for, in full
// requests. With adaptive VON-X limits (byLoad) it bounds the load, as
// the limits do, not the number of requests: a slow agent's requests go
// out group by group, a few credentials each, and 16 of them held 37
// credentials, fewer than a 40-slot agent's capacity (85% of it with one
// poster). A fixed limit counts requests, as the original's
// MAX_CREDS_REQUESTS did.
func (a *agents) maxRoomLocked() float64 {
	if !a.byLoad {
		return float64(a.max - a.inflight)
	}
	load := 0.0
	for _, s := range a.list {
		load += s.load
	}
	return float64(a.max) - load
}

// weight is a request's share of a full request.
func (a *agents) weight(creds int) float64 {
	return min(1, float64(max(1, creds))/float64(a.size))
}

// gate is the consume loop's Gate: it waits until an agent is usable and
// has room for another request, so nothing is pulled that cannot be sent
// at once. It returns false while no agent is usable (the loop then pulls
// nothing: no delivery is burned while the agent is down).
func (a *agents) gate(ctx context.Context) bool {
	deadline := time.NewTimer(2 * time.Second)
	defer deadline.Stop()
	for {
		a.mu.Lock()
		usable := false
		for _, s := range a.list {
			usable = usable || a.usableLocked(s)
		}
		room := a.capacityLocked() + a.ahead() - a.waiting
		ch := a.changed
		a.mu.Unlock()
		if !usable {
			return false
		}
		if room > 0 {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-ch:
		case <-deadline.C:
			// Re-check usability now and then (a misconfiguration pause
			// ends by time, not by an event).
			deadline.Reset(2 * time.Second)
		}
	}
}

// fineShare is the most of an agent's limit one request takes while the
// agent is steered by the slot: its slots come free and fill again in
// steps of an eighth or less. Requests of 20 credentials (three groups of
// about 12, 5 and 3) against a limit of 42 left slots idle after every
// large answer and queued credentials after every large send: one poster
// kept 94% of a 40 × 150 ms agent busy, two 86%; requests of at most 5
// kept 97% and 96% (docs/benchmarks/poster-adaptive.md, "third step").
const fineShare = 1.0 / 8

// fineFloor is the fewest credentials a request is cut to by fineShare.
// Smaller requests cost more rounds (of the poster and the database)
// than they smooth, and a group's latency, that of its slowest
// credential, changed with the size as the limit grew: cut to an eighth
// of a small starting limit, a jittery agent's latency read as a queue
// (65% of its capacity where requests of 5 kept 90%).
const fineFloor = 5

// requestShape is how a batch's requests are cut now: at most a full
// request (BCREG_POSTER_REQUEST_SIZE) each, whole. While some usable agent is steered by the slot
// (limiter.fineLocked: a VON-X agent whose store calls take long enough
// for their slots to matter, or are not measured yet) they go out group
// by group, and are cut to fineShare of the smallest such agent's limit
// (fineFloor at least).
// A fixed limit (BCREG_POSTER_ADAPTIVE=false, the original's way) sends
// whole full requests, as the original did.
func (a *agents) requestShape() (perRequest int, byGroup bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	perRequest = a.size
	for _, s := range a.list {
		if a.usableLocked(s) && s.limiter.Fine() {
			byGroup = true
			creds := s.limiter.Estimate() * float64(a.size)
			perRequest = min(perRequest, max(fineFloor, int(math.Ceil(creds*fineShare))))
		}
	}
	return perRequest, byGroup
}

// aheadShare is the share of the agents' limits pulled ahead (see ahead).
const aheadShare = 0.5

// ahead is the load (full requests) pulled before an agent has room for
// it: half the limits, at least a full request. Requests are then ready
// to go the moment others are answered, so the agent does not wait for
// the poster's pull, load and claim in between; requests of one group
// (VON-X) are answered often, several at a time.
func (a *agents) ahead() float64 {
	total := 0.0
	for _, s := range a.list {
		if a.usableLocked(s) {
			total += s.limiter.Limit()
		}
	}
	return max(1, aheadShare*total)
}

// slot is one request's hold on an agent.
type slot struct {
	a       *agents
	s       *agentState
	weight  float64 // share of a full request
	started time.Time
	// sent is when the request went out (after the database work before
	// it); its round trip is measured from there.
	sent      time.Time
	saturated bool
	once      sync.Once
}

// acquire waits for room for a request of creds credentials on a usable
// agent and picks the one with the most room left. A request may start
// while the agent's weighted load is below its limit, so a full request
// is never starved by smaller ones (it may overshoot by less than one
// request). It fails with errNoAgent when none is usable.
func (a *agents) acquire(ctx context.Context, creds int) (*slot, error) {
	w := a.weight(creds)
	a.mu.Lock()
	a.waiting += w
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.waiting -= w
		a.mu.Unlock()
	}()
	for {
		a.mu.Lock()
		var best *agentState
		bestRoom, usable := 0.0, false
		for _, s := range a.list {
			if !a.usableLocked(s) {
				continue
			}
			usable = true
			room := s.limiter.Limit() - s.load
			if fits := room > 0 && (room >= a.need*w || s.load == 0); fits && room > bestRoom {
				best, bestRoom = s, room
			}
		}
		if !usable {
			a.mu.Unlock()
			return nil, errNoAgent
		}
		if underMax := a.maxRoomLocked() >= w-1e-9 || a.inflight == 0; best != nil && underMax {
			best.inflight++
			best.load += w
			a.inflight++
			sl := &slot{a: a, s: best, weight: w, started: time.Now(), saturated: best.load > best.limiter.Limit()-a.saturation}
			a.updateGaugesLocked()
			a.mu.Unlock()
			return sl, nil
		}
		ch := a.changed
		a.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-ch:
		case <-time.After(time.Second):
		}
	}
}

// release ends the request and feeds its result to the agent's limiter:
// ok with its cost, or a failure.
func (sl *slot) release(ok bool, cost float64) {
	sl.once.Do(func() {
		if ok {
			from := sl.sent
			if from.IsZero() {
				from = sl.started
			}
			sl.s.limiter.succeeded(sl.started, time.Since(from), cost, sl.weight, sl.saturated)
		} else {
			sl.s.limiter.failed()
		}
		a := sl.a
		a.mu.Lock()
		sl.s.inflight--
		sl.s.load = max(0, sl.s.load-sl.weight)
		if sl.s.inflight == 0 {
			sl.s.load = 0 // no drift from float sums
		}
		a.inflight--
		a.notifyLocked()
		a.mu.Unlock()
	})
}

// cancel ends a slot that says nothing about the agent's capacity (the
// request was not sent, or the agent refused it for its configuration).
func (sl *slot) cancel() {
	sl.once.Do(func() {
		a := sl.a
		a.mu.Lock()
		sl.s.inflight--
		sl.s.load = max(0, sl.s.load-sl.weight)
		if sl.s.inflight == 0 {
			sl.s.load = 0 // no drift from float sums
		}
		a.inflight--
		a.notifyLocked()
		a.mu.Unlock()
	})
}

// setHealth records a health result and logs changes.
func (a *agents) setHealth(s *agentState, err error) {
	a.mu.Lock()
	was, known := s.healthy, s.checked
	s.checked = true
	s.healthy = err == nil
	s.healthErr = ""
	if err != nil {
		s.healthErr = err.Error()
	}
	a.notifyLocked()
	a.mu.Unlock()
	switch {
	case err == nil && (!was || !known):
		a.log.Info("agent healthy", zap.String("agent", s.name()))
	case err != nil && (was || !known):
		a.log.Warn("agent unhealthy: not pulling from it until its health check passes", zap.String("agent", s.name()), zap.Error(err))
	}
}

// check asks one agent's health endpoint now.
func (a *agents) check(ctx context.Context, s *agentState) bool {
	cctx, cancel := context.WithTimeout(ctx, max(a.interval, 2*time.Second))
	defer cancel()
	err := s.client.CheckHealth(cctx)
	if ctx.Err() != nil {
		return false
	}
	a.setHealth(s, err)
	return err == nil
}

// checkAll checks every agent.
func (a *agents) checkAll(ctx context.Context) {
	var wg sync.WaitGroup
	for _, s := range a.list {
		wg.Go(func() { a.check(ctx, s) })
	}
	wg.Wait()
}

// healthLoop checks the agents until ctx ends: every interval while one is
// down, every few intervals while all are up. A failed request checks its
// agent at once itself (check).
func (a *agents) healthLoop(ctx context.Context) {
	for {
		a.mu.Lock()
		down := false
		for _, s := range a.list {
			down = down || !s.healthy
		}
		a.mu.Unlock()
		wait := a.interval
		if !down {
			wait = 6 * a.interval
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		a.checkAll(ctx)
	}
}

// misconfigured stops sending to an agent for the retry interval: every
// row of a request came back with the same configuration error. It alerts
// (error log) the first time.
func (a *agents) misconfigured(s *agentState, msg string) {
	a.mu.Lock()
	first := s.misconfMsg == ""
	s.misconfUntil = a.now().Add(a.retry)
	s.misconfMsg = msg
	a.notifyLocked()
	a.mu.Unlock()
	a.m.agentErrors.WithLabelValues("misconfigured").Inc()
	if first {
		a.log.Error("agent misconfigured: stopped posting to it, retrying periodically; an operator must fix the agent or BCREG_AGENT_URL",
			zap.String("agent", s.name()), zap.String("agent_message", msg), zap.Duration("retry_every", a.retry))
	}
}

// configured clears a misconfiguration after a request went through.
func (a *agents) configured(s *agentState) {
	a.mu.Lock()
	was := s.misconfMsg != ""
	s.misconfMsg, s.misconfUntil = "", time.Time{}
	a.notifyLocked()
	a.mu.Unlock()
	if was {
		a.log.Info("agent configuration fixed: posting again", zap.String("agent", s.name()))
	}
}

// ready is the /readyz check: some agent healthy and not misconfigured.
func (a *agents) ready(context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var problems []string
	for _, s := range a.list {
		switch {
		case a.usableLocked(s):
			return nil
		case !s.checked:
			problems = append(problems, s.name()+": health not checked yet")
		case !s.healthy:
			problems = append(problems, s.name()+": "+s.healthErr)
		default:
			problems = append(problems, s.name()+": misconfigured: "+s.misconfMsg)
		}
	}
	return fmt.Errorf("no usable agent: %s", strings.Join(problems, "; "))
}
