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
// Several replicas posting to one agent hear of each other (peers.go) and,
// steered by the slot, each keeps 1/n of the thresholds: its estimate is
// its own share of the agent's queue. A replica that starts a probe of
// its own says so and the others join it (heardProbeStart), and a peer's
// probe of the same round, clearly faster, is taken instead of this
// one's (heardProbe).
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
	scale    limitScale
	min, max float64
	limit    float64
	noLoad   float64
	// smoothed is a moving average of the normalised latency; dev is a
	// moving average of a sample's distance from it (the agent's jitter).
	smoothed float64
	dev      float64
	// noise is the agent's own spread: dev at the end of the warm-up,
	// then the mean deviation of each probe's answers (both at no load;
	// see the noise floor in succeeded).
	noise   float64
	samples int // answers seen (up to warmUp)
	// steady: a queue has been seen since the start; until then the
	// limit grows by half per round trip (slow start) rather than by a
	// slot.
	steady       bool
	lastDecrease time.Time
	now          func() time.Time

	probeEvery time.Duration
	nextProbe  time.Time
	// probeDiv is what a probe divides the limit by: 2, doubled while
	// each halving still makes the agent clearly faster (a limit far
	// above the capacity, as an initial limit set too high).
	probeDiv     float64
	probing      bool
	probeStart   time.Time
	probeSeen    float64
	probeSamples []weighted
	// probeAnswered counts the probe's answers, dropped ones included.
	probeAnswered int

	// peers are the other replicas posting to this agent (sharer): this
	// replica keeps its share of the thresholds (shareLocked).
	peers peerTable
	// ownProbe is this replica's last probe; peerProbe the best probe of
	// another replica heard since (see heardProbe).
	ownProbe, peerProbe probeResult
	tookPeerProbe       bool // for ownProbe's round: once per round

	// probed, when set, is told each probe's result and each no-load
	// latency taken from a peer's probe (after the lock is released): the
	// poster logs them and tells its peers its own.
	probed func(probeResult)
	news   []probeResult // for probed, once the lock is released
}

// probeResult is what one probe measured: the agent's no-load latency and
// its spread per unit of work, from answers answers, with the limit
// divided by div (2, or more when halving made the agent clearly faster
// each time); limit is the estimate it returns to (full requests). from
// names the replica whose probe it was when another's was taken (""
// for this one's), at when it ended or was heard. started marks news of
// a probe this replica just began on its own (nothing measured yet), for
// the others to join.
type probeResult struct {
	noLoad, noise time.Duration
	answers       int
	div, limit    float64
	from          string
	at            time.Time
	started       bool
}

// peerProbeWindow is how far apart two replicas' probes may end and still
// be taken for one measurement: they probe together, at multiples of
// probeEvery, so one probe round ends within a few seconds everywhere.
const peerProbeWindow = defaultProbeEvery / 2

// weighted is a latency sample and its request's weight.
type weighted struct{ v, w float64 }

// limitScale is how finely a limiter counts, by the agent's protocol.
type limitScale struct {
	// slot is one agent slot in full requests for VON-X (1/size: a
	// request of one group holds a slot per credential for one store
	// call), where the limit may be steered by the slot (fineLocked); 0
	// for the controller, which issues a request's credentials one after
	// another, so its limit counts whole requests.
	slot float64
}

// granular: the limit is not rounded down to whole requests (VON-X,
// whose requests are of every size: rounded to requests of 20 credentials
// the limit could not come within a sixth of a 40-slot agent's capacity).
func (sc limitScale) granular() bool { return sc.slot > 0 }

// Vegas thresholds while steered by the slot, in slots (credentials)
// queued inside the agent.
const (
	fineAlpha = 2 // below: grow
	fineBeta  = 4 // above: shrink
)

// Coarse Vegas thresholds, in full requests queued inside the agent
// (the controller, and a fast VON-X agent: see fineLocked).
const (
	vegasAlpha = 0.5 // below: grow
	vegasBeta  = 1.5 // above: shrink
)

// splitFloor is the no-load latency of a store call from which a VON-X
// agent is steered by the slot and its requests go out group by group
// (splitGroups): below it a group's slots are free again too soon to
// matter, every extra request costs the poster and the database a round
// (a fifth of the throughput at a zero-latency agent), and the poster's
// own scheduling noise is larger than a few credentials' queue.
const splitFloor = 20 * time.Millisecond

// fineLocked reports whether the limit is steered by the slot: a VON-X
// agent (granular) whose store calls take splitFloor or more at no load,
// or are not measured yet. From the first request: requests of several
// groups in flight while the limit was learnt hid the slots they would
// take later, and the limit overshot the agent's capacity twofold.
func (l *limiter) fineLocked() bool {
	return l.adaptive && l.scale.granular() && (l.noLoad == 0 || l.noLoad >= float64(splitFloor))
}

// Fine reports whether the limit is steered by the slot (fineLocked).
func (l *limiter) Fine() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fineLocked()
}

// Scales of the two protocols.
func vonxScale(size int) limitScale { return limitScale{slot: 1 / float64(max(1, size))} }

var controllerScale = limitScale{}

const (
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
	// probeAnswers is the fewest answers a probe's mean and spread are
	// taken from: a probe of two or three answers at a small limit gave
	// a lucky mean and almost no spread, every answer after it read as a
	// queue, and the limit collapsed (half of a jittery agent's capacity).
	probeAnswers = 8
	// maxProbeAnswers bounds a probe that waits for a queue to drain
	// (drainingLocked).
	maxProbeAnswers = 4 * probeAnswers
	// defaultProbeEvery is how often the no-load latency is measured anew.
	defaultProbeEvery = 20 * time.Second
)

func newLimiter(adaptive bool, sc limitScale, initial, maximum int) *limiter {
	l := &limiter{adaptive: adaptive, scale: sc, min: 1, max: float64(maximum), now: time.Now, probeEvery: defaultProbeEvery}
	if sc.granular() {
		l.min = sc.slot
	}
	l.limit = float64(max(1, min(initial, maximum)))
	if !adaptive {
		l.limit = l.max
	}
	return l
}

// Limit is the load (full requests) allowed in flight now.
func (l *limiter) Limit() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.limitLocked()
}

func (l *limiter) limitLocked() float64 {
	lim := l.limit
	if !l.scale.granular() {
		lim = math.Floor(lim)
	}
	if l.probing {
		lim = max(l.min, lim/l.probeDiv)
		if !l.scale.granular() {
			lim = math.Floor(lim)
		}
	}
	return lim
}

// Estimate is the limit before rounding and probing (full requests).
func (l *limiter) Estimate() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.limit
}

// LimiterState is one agent's adaptive limiter at a moment, for
// diagnostics (the poster benchmark's BENCH_TRACE prints it).
type LimiterState struct {
	// Agent is the agent's name (its base URL, redacted).
	Agent string
	// Limit is the load allowed in flight now, in full requests
	// (divided while probing).
	Limit float64
	// Estimate is the limit before rounding and probing.
	Estimate float64
	// NoLoad and Smoothed are the no-load and the smoothed latency per
	// unit of agent work (0 before the first answer).
	NoLoad, Smoothed time.Duration
	// Noise is the agent's spread at no load, per unit of work: twice
	// it is the latency increase read as jitter, not a queue.
	Noise time.Duration
	// Probing: a probe is measuring the no-load latency anew.
	Probing bool
	// Replicas is the poster replicas heard posting to the agent, this
	// one included; Share is this one's part of the agent's queue (1/n
	// while steered by the slot, else 1).
	Replicas int
	Share    float64
}

// state is a snapshot of the limiter.
func (l *limiter) state() LimiterState {
	l.mu.Lock()
	defer l.mu.Unlock()
	share, replicas := l.shareLocked(l.now())
	if !l.fineLocked() {
		share = 1 // steered by the full request: the thresholds are not shared
	}
	return LimiterState{Limit: l.limitLocked(), Estimate: l.limit, NoLoad: time.Duration(l.noLoad),
		Smoothed: time.Duration(l.smoothed), Noise: time.Duration(l.noise), Probing: l.probing, Replicas: replicas, Share: share}
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
	l.succeededLocked(start, rtt, cost, weight, saturated)
	l.flushNews()
}

// flushNews releases the lock and tells probed what happened under it.
func (l *limiter) flushNews() {
	news, hook := l.news, l.probed
	l.news = nil
	l.mu.Unlock()
	if hook != nil {
		for _, r := range news {
			hook(r)
		}
	}
}

// heardProbe records another replica's probe of this agent, ended at at.
// All replicas probe together, and the one whose probe ends last (its
// few requests answer slowly: the replica with the smallest limit)
// measures while the others are back to their full limits, so it learns
// their queue as the no-load latency (156–171 ms for a 150 ms agent, and
// the noise floor with it) and takes the others' share of the agent: the
// replicas then swapped most of the load at every probe. A probe clearly
// faster than this replica's own of the same round is taken instead.
func (l *limiter) heardProbe(from string, noLoad, noise time.Duration, at time.Time) {
	if !l.adaptive || noLoad <= 0 || noise < 0 {
		return
	}
	l.mu.Lock()
	p := &l.peerProbe
	if at.Sub(p.at) > peerProbeWindow || noLoad < p.noLoad {
		*p = probeResult{noLoad: noLoad, noise: noise, from: from, at: at}
	}
	l.takePeerProbeLocked()
	l.flushNews()
}

// takePeerProbeLocked takes the peer's probe when it belongs to the round
// of this replica's last probe and is clearly faster: by more than the
// scheduling noise and one and a half times its own spread (a jittery
// agent's clean probes differ by chance, and that is no reason).
func (l *limiter) takePeerProbeLocked() {
	own, peer := l.ownProbe, l.peerProbe
	if own.at.IsZero() || peer.at.IsZero() || l.probing || l.tookPeerProbe || peer.at.Sub(own.at).Abs() > peerProbeWindow {
		return
	}
	if float64(peer.noLoad) >= l.noLoad-max(float64(queueNoise), 1.5*float64(peer.noise)) {
		return
	}
	l.noLoad, l.noise = float64(peer.noLoad), float64(peer.noise)
	l.tookPeerProbe = true
	taken := peer
	taken.limit = l.limit
	l.news = append(l.news, taken)
}

// succeededLocked is succeeded under the lock.
func (l *limiter) succeededLocked(start time.Time, rtt time.Duration, cost, weight float64, saturated bool) {
	now := l.now()
	sample := max(float64(rtt)/max(cost, 1), 1)
	if l.probing {
		if !start.Before(l.probeStart) {
			// The probe's mean, not its minimum: with jitter the
			// fastest answer is luck, not the agent's no-load latency.
			l.probeSeen += weight
			l.probeSamples = append(l.probeSamples, weighted{sample, weight})
			l.probeAnswered++
			need := l.limit / l.probeDiv
			if !l.scale.granular() {
				need = math.Floor(need)
			}
			if l.probeSeen >= max(l.min, need) && len(l.probeSamples) >= probeAnswers {
				if !l.steady && l.drainingLocked() {
					return
				}
				mean, dev := meanDev(l.probeSamples)
				deeper := l.scale.granular() && l.limit/l.probeDiv > 2*l.min &&
					mean < l.noLoad-max(float64(queueNoise), 1.5*max(dev, l.noise))
				l.noLoad, l.smoothed, l.noise = mean, mean, dev
				// A probe joined during the warm-up ends it: its mean
				// is the measurement the warm-up's average stood in
				// for, and following the average on would learn the
				// queue of a slow start again.
				l.samples = warmUp
				if deeper {
					// Halving made the agent clearly faster: it may
					// still queue at this half too. Halve again.
					l.probeDiv *= 2
					l.restartProbeLocked(now)
					return
				}
				l.probing = false
				l.nextProbe = l.probeAfter(now)
				l.ownProbe = probeResult{noLoad: time.Duration(mean), noise: time.Duration(dev), answers: len(l.probeSamples),
					div: l.probeDiv, limit: l.limit, at: now}
				l.tookPeerProbe = false
				l.news = append(l.news, l.ownProbe)
				l.takePeerProbeLocked()
			}
		}
		return
	}
	if l.nextProbe.IsZero() {
		l.nextProbe = l.probeAfter(now)
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
		l.noLoad, l.noise = l.smoothed, l.dev
		if l.samples == warmUp && l.scale.granular() {
			// Probe at once: a limit started above the agent's
			// capacity learnt a queued latency as the no-load one.
			l.nextProbe = now
		}
	} else if l.smoothed < l.noLoad-1.5*l.noise {
		// Lowered only by an average clearly below it: with jitter the
		// lowest of many averages is luck (normal(150ms,40ms): 30 ms
		// below their mean), and every answer after it read as a queue.
		l.noLoad = l.smoothed
	}
	// Queueing shorter than the noise floor is jitter, not a queue
	// inside the agent: the poster's and the machine's own (scheduling,
	// GC; queueNoise, so a fast agent is not throttled by it) and the
	// agent's (a multiple of the mean deviation of its latency: the
	// moving average's own minimum undershoots its mean by about one),
	// at most half the no-load latency.
	//
	// Steered by the slot (fine), the spread is the one at no load: a
	// queue spreads the latency too (more so with two replicas, each
	// seeing the other's requests come and go), and a floor that grew
	// with it hid the queue it meant. Steered by the full request (a
	// fast agent, or the controller), it is the current spread: there
	// the poster's own scheduling on a CPU-bound machine is most of the
	// latency, and a floor from an idle start throttled a zero-latency
	// agent to 3 requests in flight (a quarter of its throughput).
	fine := l.fineLocked()
	alpha, beta, unit, spread := vegasAlpha, vegasBeta, 1.0, 1.5*l.dev
	// share is this replica's part of the agents' load (1 alone): its
	// queue estimate is that part of the agent's queue, so the thresholds
	// and the step are too, and n replicas keep the queue of one.
	share := 1.0
	if fine {
		share, _ = l.shareLocked(now)
		alpha, beta, unit, spread = fineAlpha*share, fineBeta*share, l.scale.slot, 2*l.noise
	}
	// queue is in units: slots (fine) or full requests.
	queue := 0.0
	if l.smoothed-l.noLoad > max(float64(queueNoise), min(spread, l.noLoad/2)) {
		queue = l.limit * (1 - l.noLoad/l.smoothed) / unit
	}
	// One unit per round trip (a limit's worth of answers), the replica's
	// share of it.
	base := weight / l.limit * unit
	step := base * share
	if !l.steady && fine {
		if queue > alpha {
			l.steady = true
		} else if saturated {
			// Half a limit per round trip: a capacity of hundreds of
			// credentials is found in seconds, not minutes.
			step = max(step, weight/2)
		}
	}
	switch {
	case queue < alpha && saturated:
		l.limit = min(l.max, l.limit+step)
	case queue > beta:
		if fine {
			// Half the excess per round trip: a queue of twenty
			// credentials is gone in a few round trips, not twenty.
			// (queue and beta are this replica's part already.)
			step = base * max(share, (queue-beta)/2)
		}
		l.limit = max(l.min, l.limit-step)
	}
	if saturated && l.limit >= 2*l.min && now.After(l.nextProbe) {
		l.startProbeLocked(now)
		l.news = append(l.news, probeResult{started: true, limit: l.limit, at: now})
	}
}

// drainingLocked says whether the probe's answers are still getting
// clearly faster (its later half's mean below its earlier half's by more
// than the scheduling noise and one and a half times the later half's
// spread): the queue met at its start is still draining. Its answers are
// dropped and the probe measures anew, all of them: keeping the later half
// kept the answers chosen for being fast, and a jittery agent's probe that
// read as draining by chance learnt a lucky no-load latency (the limit
// held at 74% of the capacity). After maxProbeAnswers answers in all it
// takes what it has. The requests a probe starts wait behind those in
// flight before it, its own and (joined) the other replicas': two posters
// halving a slow start's queue of 20 credentials together measured a
// 300 ms agent at 369 and 375 ms, with a spread that hid the queue after.
// Asked only until the first queue is seen (slow start, and the probe at
// the end of the warm-up): after it the queue is held within the
// thresholds, a few credentials whose drain costs a probe little, and
// waiting for it made every probe longer (a 2 s dip in the rate deeper
// than the benchmark's settling band of 10%).
func (l *limiter) drainingLocked() bool {
	n := len(l.probeSamples)
	if l.probeAnswered >= maxProbeAnswers {
		return false
	}
	early, late := l.probeSamples[:n/2], l.probeSamples[n/2:]
	earlyMean, _ := meanDev(early)
	lateMean, lateDev := meanDev(late)
	if lateMean >= earlyMean-max(float64(queueNoise), 1.5*lateDev) {
		return false
	}
	l.probeSamples, l.probeSeen = l.probeSamples[:0], 0
	return true
}

// meanDev is the weighted mean of xs and their weighted mean deviation
// from it.
func meanDev(xs []weighted) (mean, dev float64) {
	var sum, seen float64
	for _, x := range xs {
		sum += x.v * x.w
		seen += x.w
	}
	if seen == 0 {
		return 0, 0
	}
	mean = sum / seen
	for _, x := range xs {
		dev += math.Abs(x.v-mean) * x.w
	}
	return mean, dev / seen
}

// startProbeLocked halves the limit until the probe has its answers.
func (l *limiter) startProbeLocked(now time.Time) {
	l.probing, l.probeDiv = true, 2
	l.restartProbeLocked(now)
}

// restartProbeLocked counts the probe's answers from now on: those of
// requests started from now.
func (l *limiter) restartProbeLocked(now time.Time) {
	l.probeStart, l.probeSeen, l.probeSamples, l.probeAnswered = now, 0, l.probeSamples[:0], 0
}

// heardProbeStart joins another replica's probe of this agent, which has
// just begun: a replica that probes alone halves only its own share, the
// others' queue stays in the agent, and it learns that queue as the
// no-load latency. The aligned rounds (probeAfter) start together anyway;
// this is for the probe at the end of a replica's warm-up, which is its
// own: two posters starting together each learnt the other's slow start
// (a 300 ms agent measured at 505 and 565 ms) and overloaded it. A joined
// probe is not announced in turn (everyone heard the first), and a
// limiter with nothing measured yet or nothing to halve stays out.
func (l *limiter) heardProbeStart() {
	if !l.adaptive {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.probing || l.samples == 0 || l.limit < 2*l.min {
		return
	}
	l.startProbeLocked(l.now())
}

// shareLocked is this replica's share of the agent's queue, 1/n of the n
// replicas posting to it (1 while it hears of none), and n. 1/n rather than its
// limit's part of the limits: with thresholds in proportion to the limits
// nothing pulls unequal limits together, and the replica with the smaller
// one probed last and learnt the others' queue (peers.go).
func (l *limiter) shareLocked(now time.Time) (share float64, replicas int) {
	replicas = 1 + l.peers.count(now)
	return 1 / float64(replicas), replicas
}

// probeAfter is the next probe time after now: the next multiple of
// probeEvery on the wall clock, so that the replicas of a poster (whose
// clocks agree to milliseconds) probe an agent together. Probing alone,
// a replica halved only its own share while the others kept their queue
// in the agent, and it learnt their queue as the no-load latency (two
// posters: 83% of the capacity where one had 92%).
func (l *limiter) probeAfter(now time.Time) time.Time {
	return now.Truncate(l.probeEvery).Add(l.probeEvery)
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
	l.limit = max(l.min, l.limit*backoffFactor)
	if !l.scale.granular() {
		l.limit = math.Floor(l.limit)
	}
}
