package poster

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the poster's Prometheus metrics (bcreg_poster_*).
type metrics struct {
	requests      *prometheus.CounterVec // outcome: ok, transient, misconfigured
	duration      prometheus.Histogram
	credentials   *prometheus.CounterVec // status: Y, N, D (final outcomes; they sum to credentials finished)
	events        *prometheus.CounterVec // event: retry, waiting (may happen many times per credential)
	inflight      prometheus.Gauge
	limit         prometheus.Gauge
	agentErrors   *prometheus.CounterVec // kind: transport, timeout, status, content_type, shape, row, misconfigured
	healthy       *prometheus.GaugeVec   // agent
	noLoad        *prometheus.GaugeVec   // agent: the limiter's no-load latency per unit of work
	latency       *prometheus.GaugeVec   // agent: the limiter's moving average of it
	replicas      *prometheus.GaugeVec   // agent: poster replicas heard posting to it (peers.go)
	heldBack      prometheus.Counter
	leaseTakeover prometheus.Counter
	leaseRenewal  prometheus.Counter
	recordDelay   prometheus.Histogram
	unrecorded    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bcreg_poster_requests_total", Help: "Issue requests sent to the agent, by outcome (ok, transient, misconfigured).",
		}, []string{"outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "bcreg_poster_request_duration_seconds", Help: "Time from sending an issue request to its answer or failure.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320},
		}),
		credentials: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bcreg_poster_credentials_total", Help: "Credentials finished, by the final status the poster gave them (Y issued, N rejected, D dead): each credential is counted once, so the sum is the credentials finished.",
		}, []string{"status"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bcreg_poster_credential_events_total", Help: "Events on the way to a final status, by event (retry = a counted failed attempt; waiting = not due yet): a credential may have many.",
		}, []string{"event"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bcreg_poster_inflight", Help: "Issue requests in flight.",
		}),
		limit: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bcreg_poster_concurrency_limit", Help: "Requests allowed in flight now, counted in full requests of BCREG_POSTER_REQUEST_SIZE credentials (adaptive, summed over usable agents, at most BCREG_POSTER_MAX_INFLIGHT).",
		}),
		agentErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bcreg_poster_agent_errors_total", Help: "Agent failures by kind (transport, timeout, status, content_type, shape, row, misconfigured).",
		}, []string{"kind"}),
		healthy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "bcreg_poster_agent_healthy", Help: "Per agent of BCREG_AGENT_URL: 1 while it passes its health check and is not misconfigured (max over agents: posting can go on).",
		}, []string{"agent"}),
		noLoad: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "bcreg_poster_agent_noload_latency_seconds", Help: "Per agent of BCREG_AGENT_URL: the adaptive limiter's latency per unit of agent work (a credential, or a VON-X store call) with no queue in the agent, as its last probe measured it (0 before the first answer).",
		}, []string{"agent"}),
		latency: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "bcreg_poster_agent_latency_seconds", Help: "Per agent of BCREG_AGENT_URL: the adaptive limiter's moving average of the latency per unit of agent work; what it exceeds the no-load latency by is the queue the poster reads in the agent.",
		}, []string{"agent"}),
		replicas: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "bcreg_poster_agent_replicas", Help: "Per agent of BCREG_AGENT_URL: the poster replicas this one hears posting to it, itself included (each keeps 1/n of the agent's queue).",
		}, []string{"agent"}),
		heldBack: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bcreg_poster_held_back_total", Help: "Bundles held back behind an older outstanding credential of their corporation.",
		}),
		leaseTakeover: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bcreg_poster_lease_takeovers_total", Help: "Credentials taken over from a poster whose lease expired.",
		}),
		leaseRenewal: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bcreg_poster_lease_renewals_total", Help: "Claims renewed before a request because they might have run out during it (a fresh claim is not renewed).",
		}),
		recordDelay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "bcreg_poster_record_delay_seconds", Help: "Time from the agent's answer to its record in credential_log (long while the database is failing and the write is retried).",
			Buckets: []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300},
		}),
		unrecorded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bcreg_poster_answers_unrecorded_total", Help: "Agent answers (Y or N) that could not be recorded before the claims' lease ended: each is posted again, a duplicate at the agent.",
		}),
	}
	reg.MustRegister(m.recordDelay, m.unrecorded, m.requests, m.duration, m.credentials, m.events, m.inflight, m.limit, m.agentErrors, m.healthy, m.noLoad, m.latency, m.replicas, m.heldBack, m.leaseTakeover, m.leaseRenewal)
	// Every label value at zero from the start, so rate() and the alert
	// rules see the series before the first occurrence.
	for _, o := range []string{"ok", "transient", "misconfigured"} {
		m.requests.WithLabelValues(o)
	}
	for _, st := range []string{"Y", "N", "D"} {
		m.credentials.WithLabelValues(st)
	}
	for _, ev := range []string{"retry", "waiting"} {
		m.events.WithLabelValues(ev)
	}
	for _, k := range []string{"transport", "timeout", "status", "content_type", "shape", "row", "misconfigured"} {
		m.agentErrors.WithLabelValues(k)
	}
	return m
}
