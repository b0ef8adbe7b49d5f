package poster

import (
	"math"
	"sync"
	"time"
)

// limiter adapts how many requests may be in flight to one agent, in the
// style of TCP Vegas: it knows the agent's latency with no queue (noLoad)
// and estimates how many requests wait inside the agent as
// limit × (1 − noLoad/latency). While that queue is small the limit grows
// by one per round trip; while it is large the limit shrinks by one per
// round trip; a failed request (5xx, timeout, refused) cuts it by a
// quarter at once. So the poster keeps the agent busy without queueing in
// it: queued credentials only add latency, and an overloaded agent gets
// slower (docs/design/agent.md §8), which is why the original's operators had to
// hand-tune pod counts.
//
// noLoad is the lowest moving average of the latency since the last probe
// (not the lowest sample: see succeeded). Every probeEvery the
// limiter halves the requests it admits until a few requests that started
// during the probe have answered: the agent's queue drains, their latency
// average is the true no-load latency again. Without the probe a limit that keeps
// one request queued would never see it and would creep up (the known
// Vegas ratchet); with it, an agent that became slower for good is learnt
// too.
//
// Latencies are normalised by a request's cost (credentials for the
// controller, which issues one after another; store calls for VON-X), so
// requests of different sizes compare.
//
// The limit counts full requests (BCREG_POSTER_REQUEST_SIZE credentials):
// a request of fewer credentials takes its share (weight = credentials /
// request size) of the limit, grows it by its share of a round trip and
// counts as that share of a probe. The agent's capacity is credentials
// issued at once, and the pipeline's requests are of every size (a batch
// of bundles packs into full requests and a remainder): counted per
// request, a limit learnt on small requests let several full ones in at
// once (a burst of queueing, the limit cut back) and a limit of full
// requests left the agent idle while small ones were in flight.
type limiter struct {
	mu       sync.Mutex
	adaptive bool
	min, max float64
	limit    float64
	noLoad   float64
	// smoothed is a moving average of the normalised latency; dev is a
	// moving average of a sample's distance from it (the agent's jitter).
	smoothed     float64
	dev          float64
	samples      int // answers seen (up to warmUp)
	lastDecrease time.Time
	now          func() time.Time

	probeEvery time.Duration
	nextProbe  time.Time
	probing    bool
	probeStart time.Time
	probeSum   float64
	probeSeen  float64
}

// Vegas thresholds, in requests queued inside the agent.
const (
	vegasAlpha = 0.5 // below: grow
	vegasBeta  = 1.5 // above: shrink
	// smoothing is the weight of a new sample in the moving average.
	smoothing = 0.2
	// backoffFactor is the cut on a failed request.
	backoffFactor = 0.75
	// queueNoise is the latency increase per unit of work below which
	// no queue is assumed.
	queueNoise = 5 * time.Millisecond
	// warmUp is the answers the moving average needs before its lowest
	// value is the no-load latency (about two of its time constants).
	warmUp = 10
	// defaultProbeEvery is how often the no-load latency is measured anew.
	defaultProbeEvery = 20 * time.Second
)

func newLimiter(adaptive bool, initial, maximum int) *limiter {
	l := &limiter{adaptive: adaptive, min: 1, max: float64(maximum), now: time.Now, probeEvery: defaultProbeEvery}
	l.limit = float64(max(1, min(initial, maximum)))
	if !adaptive {
		l.limit = l.max
	}
	return l
}

// Limit is the number of requests allowed in flight now.
func (l *limiter) Limit() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.limitLocked()
}

func (l *limiter) limitLocked() int {
	lim := int(math.Floor(l.limit))
	if l.probing {
		lim = max(1, lim/2)
	}
	return lim
}

// LimiterState is one agent's adaptive limiter at a moment, for
// diagnostics (the poster benchmark's BENCH_TRACE prints it).
type LimiterState struct {
	// Agent is the agent's name (its base URL, redacted).
	Agent string
	// Limit is the requests allowed in flight now (halved while probing).
	Limit int
	// Estimate is the limit before rounding and probing.
	Estimate float64
	// NoLoad and Smoothed are the no-load and the smoothed latency per
	// unit of agent work (0 before the first answer).
	NoLoad, Smoothed time.Duration
	// Probing: a probe is measuring the no-load latency anew.
	Probing bool
}

// state is a snapshot of the limiter.
func (l *limiter) state() LimiterState {
	l.mu.Lock()
	defer l.mu.Unlock()
	return LimiterState{Limit: l.limitLocked(), Estimate: l.limit, NoLoad: time.Duration(l.noLoad),
		Smoothed: time.Duration(l.smoothed), Probing: l.probing}
}

// succeeded records a request that started at start and got an answer
// after rtt. cost is its size in units of agent work (≥ 1); weight is its
// share of a full request (0–1]; saturated says the limit was in use when
// it started (growing a limit nobody uses proves nothing).
func (l *limiter) succeeded(start time.Time, rtt time.Duration, cost, weight float64, saturated bool) {
	if !l.adaptive {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	sample := max(float64(rtt)/max(cost, 1), 1)
	if l.probing {
		if !start.Before(l.probeStart) {
			// The probe's mean, not its minimum: with jitter the
			// fastest answer is luck, not the agent's no-load latency.
			l.probeSum += sample * weight
			l.probeSeen += weight
			if l.probeSeen >= float64(max(1, int(l.limit)/2)) {
				mean := l.probeSum / l.probeSeen
				l.probing, l.noLoad, l.smoothed = false, mean, mean
				l.nextProbe = now.Add(l.probeEvery)
			}
		}
		return
	}
	if l.nextProbe.IsZero() {
		l.nextProbe = now.Add(l.probeEvery)
	}
	if l.smoothed == 0 {
		l.smoothed = sample
	} else {
		l.dev += (math.Abs(sample-l.smoothed) - l.dev) * smoothing
		l.smoothed += (sample - l.smoothed) * smoothing
	}
	// The lowest average, not the lowest sample: an agent whose latency
	// varies (normal(150ms,40ms)) answers some requests in 50 ms, and
	// that minimum read every ordinary answer as queueing (the limit
	// fell to 1–2 requests, 27% of the agent's capacity).
	// Until the average has seen warmUp answers it is one or two
	// samples, as lucky as a single one: it is followed, not yet taken
	// as a minimum (a lucky start held the limit at 3 for 20 s, until
	// the first probe).
	if l.samples < warmUp {
		l.samples++
		l.noLoad = l.smoothed
	} else if l.smoothed < l.noLoad {
		l.noLoad = l.smoothed
	}
	// Queueing shorter than the noise floor is jitter, not a queue
	// inside the agent: the poster's and the machine's own (scheduling,
	// GC; queueNoise, so a fast agent is not throttled by it) and the
	// agent's (1.5 × the mean deviation of its latency: the
	// moving average's own minimum undershoots its mean by about one),
	// at most half the no-load latency, so that the deviation a sudden
	// rise of the latency causes does not hide the queue it means.
	queue := 0.0
	if l.smoothed-l.noLoad > max(float64(queueNoise), min(1.5*l.dev, l.noLoad/2)) {
		queue = l.limit * (1 - l.noLoad/l.smoothed)
	}
	step := weight / l.limit // one per round trip: a limit's worth of answers
	switch {
	case queue < vegasAlpha && saturated:
		l.limit = min(l.max, l.limit+step)
	case queue > vegasBeta:
		l.limit = max(l.min, l.limit-step)
	}
	if saturated && l.limit >= 2 && now.After(l.nextProbe) {
		l.probing, l.probeStart, l.probeSum, l.probeSeen = true, now, 0, 0
	}
}

// failed records a request the agent did not answer properly: cut the
// limit, at most once per no-load latency so one burst is one cut.
func (l *limiter) failed() {
	if !l.adaptive {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.probing = false
	if now.Sub(l.lastDecrease) < time.Duration(max(l.noLoad, float64(100*time.Millisecond))) {
		return
	}
	l.lastDecrease = now
	l.limit = max(l.min, math.Floor(l.limit*backoffFactor))
}
