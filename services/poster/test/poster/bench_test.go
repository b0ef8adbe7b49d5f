package poster_test

import (
	"fmt"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/bcgov/bcreg-events/pkg/devkit/agentsim"
)

// Capacity-limited agent of the benchmark: 40 credentials issued at once,
// 200 ms each, so at most 200 credentials/s. Credentials beyond the 40
// slots queue and slow everyone down (OverloadPenalty, as an overloaded
// VON-X/OrgBook pair does); beyond 80 more the agent answers 503.
const (
	benchCapacity    = 40
	benchCredLatency = 200 * time.Millisecond
	benchQueueLimit  = 80
	benchCredentials = 3000
)

func benchCapacityPerSec() float64 { return float64(benchCapacity) / benchCredLatency.Seconds() }

// BenchmarkAdaptiveConcurrency measures delivery throughput against a
// capacity-limited vonx-sim, for the adaptive limit and for fixed
// concurrencies. Run it once per mode, in services/poster/test:
//
//	go test -run '^$' -bench AdaptiveConcurrency -benchtime 1x ./poster/
//
// Metrics: cred/s over the middle 80% of the run (steady state),
// pct_capacity (of 200 cred/s), failed_requests and overloaded at the
// agent, and the final adaptive limit. Figures: docs/benchmarks/poster-adaptive.md.
func BenchmarkAdaptiveConcurrency(b *testing.B) {
	modes := []struct {
		name     string
		adaptive bool
		max      int
		// mixed: requests of up to 20 credentials of several schemas
		// (bundles of 1–4 credentials, as the pipeline's history
		// bundles; small: 1.2 on average, as its snapshot bundles);
		// otherwise requests of up to 5 credentials of one schema.
		mixed, small bool
	}{
		{"adaptive_max32", true, 32, false, false},
		{"fixed32", false, 32, false, false},
		{"fixed16", false, 16, false, false},
		{"fixed8", false, 8, false, false},
		{"mixed20/adaptive_max16", true, 16, true, false},
		{"mixed20/fixed16", false, 16, true, false},
		{"mixed20/fixed8", false, 8, true, false},
		{"mixed20/fixed4", false, 4, true, false},
		{"small20/adaptive_max16", true, 16, true, true},
		{"small20/fixed8", false, 8, true, true},
	}
	b.Run("goal1", benchmarkAgentGoal)
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				res := runCapacityLoad(b, m.adaptive, m.max, m.mixed, m.small)
				b.ReportMetric(res.steadyRate, "cred/s")
				b.ReportMetric(100*res.steadyRate/benchCapacityPerSec(), "pct_capacity")
				b.ReportMetric(float64(res.failed), "failed_requests")
				b.ReportMetric(float64(res.overloaded), "overloaded")
				b.ReportMetric(float64(res.duplicates), "duplicates")
				b.ReportMetric(res.limit, "final_limit")
				b.ReportMetric(float64(res.maxInFlight), "max_creds_in_flight")
				b.Logf("%s: %.1f cred/s steady (%.1f%% of %.0f), %.1f cred/s overall, %d failed requests (%d overloaded), %d duplicates, final limit %.2f, %s",
					m.name, res.steadyRate, 100*res.steadyRate/benchCapacityPerSec(), benchCapacityPerSec(), res.overallRate,
					res.failed, res.overloaded, res.duplicates, res.limit, res.elapsed.Round(10*time.Millisecond))
				b.Logf("max credentials in flight at the agent %d (capacity %d)", res.maxInFlight, benchCapacity)
			}
		})
	}
}

type loadResult struct {
	steadyRate, overallRate        float64
	failed, overloaded, duplicates int64
	limit                          float64
	maxInFlight                    int64
	elapsed                        time.Duration
}

// mixedSchemas is the schema of a mixed bundle's i-th credential.
var mixedSchemas = []string{"registration.bc_registries", "relationship.bc_registries", "registration.bc_registries", "address.bc_registries"}

func runCapacityLoad(b *testing.B, adaptive bool, maxInflight int, mixed, small bool) loadResult {
	b.StopTimer()
	// The mixed mode's agent has no queue limit, like make bench's.
	queueLimit := benchQueueLimit
	if mixed {
		queueLimit = 0
	}
	e := newEnv(b, agentsim.Config{Seed: 1, Faults: agentsim.Faults{
		Capacity: benchCapacity, CredLatency: agentsim.Fixed(benchCredLatency),
		QueueLimit: queueLimit, OverloadPenalty: 0.5,
	}})
	var creds []seeded
	for c := 0; len(creds) < benchCredentials; c++ {
		specs := make([]credSpec, 1+c%2)
		if mixed {
			specs = make([]credSpec, 1+c%4)
			if small {
				specs = make([]credSpec, 1+min(1, c%5/4))
			}
			for i := range specs {
				specs[i] = credSpec{schema: mixedSchemas[i], version: "1.0.36"}
			}
		}
		creds = append(creds, e.seedBundle(fmt.Sprintf("BC%07d", c+1), specs...)...)
	}
	cfg := e.config("bench")
	cfg.RequestSize, cfg.MaxInflight, cfg.Adaptive, cfg.InitialInflight = 5, maxInflight, adaptive, 1
	if mixed {
		cfg.RequestSize = 20
	}
	cfg.RequestTimeout, cfg.MaxAttempts = 30*time.Second, 50
	cfg.Backoff.Base, cfg.Backoff.Max = 200*time.Millisecond, time.Second
	b.StartTimer()
	start := time.Now()
	r := e.start(cfg)
	stopTrace := make(chan struct{})
	if os.Getenv("BENCH_TRACE") != "" {
		go func() {
			for {
				select {
				case <-stopTrace:
					return
				case <-time.After(250 * time.Millisecond):
				}
				l := r.p.Limiters()[0]
				st := e.currentSim().Stats()
				fmt.Fprintf(os.Stderr, "limit %.2f noLoad %.0fms smoothed %.0fms probing %v issuing %d inflight %d\n",
					l.Estimate, float64(l.NoLoad)/1e6, float64(l.Smoothed)/1e6, l.Probing, st.Issuing, st.CredentialsInFlight)
			}
		}()
	}
	var slots slotSamples
	capacity := int64(e.currentSim().Faults().Capacity)
	stopAvg := make(chan struct{})
	avgDone := make(chan struct{})
	go func() {
		defer close(avgDone)
		for {
			select {
			case <-stopAvg:
				return
			case <-time.After(10 * time.Millisecond):
			}
			st := e.currentSim().Stats()
			if st.Issuing == 0 && st.Waiting == 0 {
				continue
			}
			slots.add(st.Issuing, st.Waiting, capacity)
		}
	}()
	e.waitFinal(creds)
	close(stopAvg)
	<-avgDone
	if slots.n > 0 {
		b.Logf("%s", slots)
	}
	close(stopTrace)
	elapsed := time.Since(start)
	b.StopTimer()

	recs := e.received()
	times := make([]time.Time, len(recs))
	for i, rc := range recs {
		times[i] = rc.ReceivedAt
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	lo, hi := len(times)/10, len(times)*9/10
	st := e.currentSim().Stats()
	res := loadResult{
		steadyRate:  float64(hi-lo) / times[hi].Sub(times[lo]).Seconds(),
		overallRate: float64(len(creds)) / elapsed.Seconds(),
		failed:      st.Failed, overloaded: st.Injected.Overloaded, duplicates: st.Duplicates,
		limit:       r.p.Limiters()[0].Limit,
		maxInFlight: st.MaxCredentialsInFlight,
		elapsed:     elapsed,
	}
	r.stop()
	return res
}
