package bench

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/devkit/agentsim"
)

// postingResult is one posting run.
type postingResult struct {
	N          int
	Profile    string
	Posters    int
	Replicas   int // BCREG_JS_REPLICAS (0 in reports of before R3: 1)
	CapLimited bool
	Boxed      bool
	Box        time.Duration

	Backlog int64 // credentials published and not yet answered at the start
	// Bundles in BCREG_CREDS at the start, and the poster consumer's
	// deliveries over the run (more than Bundles: redeliveries).
	Bundles, Deliveries uint64

	// Zero-latency agent: from the posters' start to the last answer.
	Creds          int64 // answered Y in the run
	Wall           time.Duration
	Overall        float64 // Creds / Wall
	Steady         float64 // middle 80% of the answers
	NRows, DRows   int64
	Sim            agentsim.Stats
	CapacityPerSec float64 // the capacity-limited agent's capacity

	// Capacity-limited agent: issued over the window after the warm-up.
	Window        time.Duration
	WindowIssued  int64
	Achieved      float64
	BacklogRanOut bool
	// Slots sampled every 100 ms over the window: the agent's mean busy
	// slots, mean credentials waiting for one, and the share of samples
	// with a slot idle and nothing waiting (capacity the posters left
	// unused, as opposed to a queue they built).
	MeanIssuing, MeanWaiting, IdleShare float64
	// Limiters: each poster's adaptive limiter over the same window,
	// sampled every second (its side port's gauges): what it took for the
	// no-load latency and what it saw, so a queue the posters kept can be
	// told from a no-load latency one of them learnt too high.
	Limiters []limiterSample

	// The disk the run left: its event database and NATS store after the
	// posters stopped (goal 5).
	EventDBBytes, StoreBytes int64

	Usage   usage
	TopSQL  []statement
	Perf    *perfProfile
	GoCPU   *goProfile // the posters' CPU profiles (pprof), zero-latency runs
	Metrics posterMetrics
}

// r is the run's JetStream replicas.
func (p *postingResult) r() int { return max(p.Replicas, 1) }

func (p *postingResult) agent(o *Options) string {
	if p.CapLimited {
		return fmt.Sprintf("capacity %d × %s", o.SimCapacity, o.SimCredLatency)
	}
	return "zero latency"
}

func (p *postingResult) line() string {
	ts := time.Now().Format("15:04:05")
	if p.CapLimited {
		return fmt.Sprintf("%s bench: posting N=%d %s, R%d, %d poster(s), capacity-limited agent: %.1f credentials/s over %s = %.1f%% of %.1f (failed requests %d, duplicates %d)\n",
			ts, p.N, p.Profile, p.r(), p.Posters, p.Achieved, p.Window.Round(time.Second), 100*p.Achieved/p.CapacityPerSec, p.CapacityPerSec, p.Sim.Failed, p.Sim.Duplicates)
	}
	atLeast := ""
	if p.Boxed {
		atLeast = "≥ "
	}
	return fmt.Sprintf("%s bench: posting N=%d %s, R%d, %d poster(s), zero-latency agent: %s%.0f credentials/s overall, %.0f steady (%d credentials in %s; N %d, D %d, duplicates %d)\n",
		ts, p.N, p.Profile, p.r(), p.Posters, atLeast, p.Overall, p.Steady, p.Creds, p.Wall.Round(100*time.Millisecond), p.NRows, p.DRows, p.Sim.Duplicates)
}

// posting measures posters delivering a staged backlog (a copy of the
// staged event database and NATS store) to vonx-sim.
func (b *bencher) posting(ctx context.Context, st *stagedState, profile string, posters int, capLimited bool) (_ *postingResult, err error) {
	kind := "zero"
	if capLimited {
		kind = "cap"
	}
	name := b.runName("post", profile, fmt.Sprintf("r%d", st.replicas), kind, fmt.Sprintf("%dp", posters), st.n)
	b.logf("posting N=%d profile %s, R%d, %d poster(s), %s agent (%s)", st.n, profile, st.replicas, posters, kind, name)
	res := &postingResult{N: st.n, Profile: profile, Posters: posters, Replicas: st.replicas, CapLimited: capLimited, Box: b.opts.postingBoxFor(st.n),
		CapacityPerSec: float64(b.opts.SimCapacity) / b.opts.SimCredLatency.Seconds()}
	if err := b.c.createDB(ctx, name, st.eventDB); err != nil {
		return nil, err
	}
	defer b.c.dropDB(ctx, name)
	store := filepath.Join(b.c.natsDir, name)
	if err := copyDir(st.store, store); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer b.removeStore(store)
	// The staged store is every node's (a directory each under it): the
	// copy restarts the same cluster, whose replica groups elect their
	// leaders again before the clock starts (startNATS waits for them).
	r, err := b.newRun(ctx, name, name, "", store, profile, st.replicas)
	if err != nil {
		return nil, err
	}
	defer r.close(ctx)
	sim := []string{"BCREG_SIM_CAPACITY=0"}
	if capLimited {
		sim = []string{fmt.Sprintf("BCREG_SIM_CAPACITY=%d", b.opts.SimCapacity), "BCREG_SIM_CRED_LATENCY=" + b.opts.SimCredLatency.String()}
	}
	// The run reads vonx-sim's counters only; its record of every
	// credential would take 7.8 GB at N = 1,000,000 (history).
	sim = append(sim, "BCREG_SIM_NO_RECORD=true")
	if err := r.startSim(ctx, sim...); err != nil {
		return nil, err
	}
	if err := r.edb.QueryRow(ctx, `SELECT count(*) FROM credential_log WHERE process_success IS NULL AND published_at IS NOT NULL`).Scan(&res.Backlog); err != nil {
		return nil, fmt.Errorf("bench: backlog: %w", err)
	}
	res.Bundles = r.streamMsgs(ctx, bus.StreamCreds)
	planOff := b.resetStatements(ctx)
	m := r.startMeter()
	var perf *perfRecorder
	if b.opts.Perf && !capLimited && posters == 2 {
		perf = b.startPerf(name)
	}
	t0 := time.Now()
	for i := 1; i <= posters; i++ {
		role := fmt.Sprintf("poster-%d", i)
		if _, err := r.service(ctx, role, "poster", false, "BCREG_POSTER_ID="+role); err != nil {
			perf.stop()
			return nil, err
		}
	}
	var gocpu *pprofRecorder
	if !capLimited {
		gocpu = r.startPprof("poster", "poster")
	}
	if capLimited {
		err = b.capacityWindow(ctx, r, res)
	} else {
		err = r.waitFor(ctx, res.Box, 250*time.Millisecond, func() (bool, error) {
			if !r.drained(ctx, bus.StreamCreds, bus.ConsumerPoster) {
				return false, nil
			}
			due, _, err := r.outstanding(ctx)
			return due == 0, err
		})
		if errors.Is(err, errBoxed) {
			res.Boxed, err = true, nil
		}
	}
	detected := time.Since(t0)
	res.Usage = m.stop()
	for _, p := range r.procs {
		if strings.HasPrefix(r.roles[p], "poster") {
			if mm, err := scrape(ctx, p.addr); err == nil {
				res.Metrics.add(mm)
			}
		}
	}
	res.Perf = perf.stop()
	res.GoCPU = gocpu.stop()
	if err != nil {
		return nil, err
	}
	// Before the bench's own queries below.
	res.TopSQL = b.topStatements(ctx, []string{name}, 6, planOff)
	res.Sim, _ = r.sim.Stats(ctx)
	res.Deliveries = r.deliveries(ctx, bus.StreamCreds, bus.ConsumerPoster)
	var first, p10, p90, last *time.Time
	if err := r.edb.QueryRow(ctx, `SELECT count(*) FILTER (WHERE process_success = 'Y'),
       count(*) FILTER (WHERE process_success = 'N'), count(*) FILTER (WHERE process_success = 'D'),
       min(process_date)::timestamptz, max(process_date)::timestamptz,
       (percentile_disc(0.1) WITHIN GROUP (ORDER BY process_date) FILTER (WHERE process_success = 'Y'))::timestamptz,
       (percentile_disc(0.9) WITHIN GROUP (ORDER BY process_date) FILTER (WHERE process_success = 'Y'))::timestamptz
FROM credential_log WHERE process_date IS NOT NULL AND process_success IN ('Y', 'N', 'D')`).Scan(
		&res.Creds, &res.NRows, &res.DRows, &first, &last, &p10, &p90); err != nil {
		return nil, fmt.Errorf("bench: delivered credentials: %w", err)
	}
	res.Wall = detected
	if !capLimited && !res.Boxed && last != nil {
		if w := last.Sub(t0); w > 0 && w <= detected {
			res.Wall = w
		}
	}
	res.Overall = rate(res.Creds, res.Wall)
	if p10 != nil && p90 != nil && p90.After(*p10) {
		res.Steady = 0.8 * float64(res.Creds) / p90.Sub(*p10).Seconds()
	}
	r.stopServices()
	r.finishUsage(&res.Usage)
	res.EventDBBytes = b.c.dbSize(ctx, name)
	res.StoreBytes = dirSize(store)
	return res, nil
}

// cpuPerCred is the CPU of the posters, PostgreSQL and NATS per
// credential answered, in µs ("–" without credentials): what posting
// costs besides the agent.
func (p *postingResult) cpuPerCred() string {
	if p.Creds == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f", postingCPU(p))
}

// capacityWindow lets the posters warm up, then counts what the agent
// issues over the window.
func (b *bencher) capacityWindow(ctx context.Context, r *pipeRun, res *postingResult) error {
	sleep := func(d time.Duration) error {
		end := time.Now().Add(d)
		for time.Now().Before(end) {
			if err := r.checkAlive(); err != nil {
				return err
			}
			select {
			case <-ctx.Done():
				return errStopped
			case <-time.After(min(time.Second, time.Until(end))):
			}
		}
		return nil
	}
	if err := sleep(b.opts.CapWarmup); err != nil {
		return err
	}
	s1, err := r.sim.Stats(ctx)
	if err != nil {
		return fmt.Errorf("bench: vonx-sim stats: %w", err)
	}
	t1 := time.Now()
	if err := sampleSlots(ctx, r, t1.Add(b.opts.CapWindow), int64(b.opts.SimCapacity), res); err != nil {
		return err
	}
	s2, err := r.sim.Stats(ctx)
	if err != nil {
		return fmt.Errorf("bench: vonx-sim stats: %w", err)
	}
	res.Window = time.Since(t1)
	res.WindowIssued = s2.Issued - s1.Issued
	res.Achieved = rate(res.WindowIssued, res.Window)
	due, _, err := r.outstanding(ctx)
	res.BacklogRanOut = err == nil && due == 0
	return nil
}

// sampleSlots samples the agent's slots every 100 ms until end: where
// capacity goes unused (idle slots with nothing waiting) and how deep a
// queue the posters keep.
func sampleSlots(ctx context.Context, r *pipeRun, end time.Time, capacity int64, res *postingResult) error {
	var issuing, waiting, idle, n float64
	var posters []*proc
	for _, p := range r.procs {
		if strings.HasPrefix(r.roles[p], "poster") {
			posters = append(posters, p)
			res.Limiters = append(res.Limiters, limiterSample{Poster: r.roles[p]})
		}
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for ticks := 0; time.Now().Before(end); ticks++ {
		select {
		case <-ctx.Done():
			return errStopped
		case <-tick.C:
		}
		if err := r.checkAlive(); err != nil {
			return err
		}
		if ticks%10 == 0 {
			for i, p := range posters {
				if m, err := scrape(ctx, p.addr); err == nil {
					res.Limiters[i].add(m)
				}
			}
		}
		st, err := r.sim.Stats(ctx)
		if err != nil {
			return fmt.Errorf("bench: vonx-sim stats: %w", err)
		}
		issuing += float64(st.Issuing)
		waiting += float64(st.Waiting)
		if st.Waiting == 0 && st.Issuing < capacity {
			idle++
		}
		n++
	}
	if n > 0 {
		res.MeanIssuing, res.MeanWaiting, res.IdleShare = issuing/n, waiting/n, idle/n
	}
	return nil
}

// limiterSample is one poster's adaptive limiter over a capacity window
// (the bench's agent is one URL: the gauges' one series).
type limiterSample struct {
	Poster  string
	Samples int
	// Sums of the no-load and the smoothed latency per unit of agent
	// work, in seconds, and the highest no-load latency seen.
	NoLoadSum, LatencySum, NoLoadMax float64
	// ReplicasMin is the fewest poster replicas it heard posting to the
	// agent (bcreg_poster_agent_replicas; 0 where not sampled).
	ReplicasMin float64
}

func (l *limiterSample) add(m map[string]float64) {
	noLoad, lat := m["bcreg_poster_agent_noload_latency_seconds"], m["bcreg_poster_agent_latency_seconds"]
	l.Samples++
	l.NoLoadSum += noLoad
	l.LatencySum += lat
	l.NoLoadMax = max(l.NoLoadMax, noLoad)
	if r, ok := m["bcreg_poster_agent_replicas"]; ok && (l.ReplicasMin == 0 || r < l.ReplicasMin) {
		l.ReplicasMin = r
	}
}

// String is "no-load mean / smoothed mean (no-load max)" in ms, and the
// fewest replicas heard.
func (l limiterSample) String() string {
	if l.Samples == 0 {
		return "–"
	}
	n := float64(l.Samples)
	s := fmt.Sprintf("%.0f / %.0f ms (max %.0f)", 1000*l.NoLoadSum/n, 1000*l.LatencySum/n, 1000*l.NoLoadMax)
	if l.ReplicasMin > 0 {
		s += fmt.Sprintf(", hears %.0f", l.ReplicasMin)
	}
	return s
}
