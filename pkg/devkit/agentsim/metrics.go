package agentsim

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the simulator's Prometheus metrics, in its own registry.
type metrics struct {
	reg              *prometheus.Registry
	requests         *prometheus.CounterVec
	issued           prometheus.Counter
	rejected         prometheus.Counter
	faults           *prometheus.CounterVec
	requestsInFlight prometheus.Gauge
	credsInFlight    prometheus.Gauge
	obThrottled      prometheus.Counter
}

func newMetrics(mode string) *metrics {
	constLabels := prometheus.Labels{"mode": mode}
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        "bcreg_sim_requests_total",
			Help:        "Issue requests received, by reply code (dropped and aborted for no reply).",
			ConstLabels: constLabels,
		}, []string{"code"}),
		issued: prometheus.NewCounter(prometheus.CounterOpts{
			Name:        "bcreg_sim_credentials_issued_total",
			Help:        "Credentials issued.",
			ConstLabels: constLabels,
		}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name:        "bcreg_sim_credentials_rejected_total",
			Help:        "Credentials answered with success false.",
			ConstLabels: constLabels,
		}),
		faults: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        "bcreg_sim_faults_injected_total",
			Help:        "Faults injected, by kind.",
			ConstLabels: constLabels,
		}, []string{"kind"}),
		requestsInFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name:        "bcreg_sim_requests_in_flight",
			Help:        "Issue requests being handled.",
			ConstLabels: constLabels,
		}),
		credsInFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name:        "bcreg_sim_credentials_in_flight",
			Help:        "Credentials admitted and not yet answered.",
			ConstLabels: constLabels,
		}),
		obThrottled: prometheus.NewCounter(prometheus.CounterOpts{
			Name:        "bcreg_sim_orgbook_throttled_total",
			Help:        "OrgBook API requests answered 429 (over BCREG_SIM_ORGBOOK_RATE).",
			ConstLabels: constLabels,
		}),
	}
	m.reg.MustRegister(m.requests, m.issued, m.rejected, m.faults, m.requestsInFlight, m.credsInFlight, m.obThrottled)
	return m
}
