package poller

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the poller's Prometheus series (on the side port's /metrics).
type metrics struct {
	polls     *prometheus.CounterVec
	corps     prometheus.Counter
	newEvents prometheus.Counter
	published *prometheus.CounterVec
	stalls    prometheus.Counter
	duration  prometheus.Histogram
	lag       prometheus.Gauge
	active    prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bcreg_poller_polls_total",
			Help: "Polls by result: ok (published), quiet (no new events), refused (watermark failed its sanity check), error."}, []string{"result"}),
		corps: prometheus.NewCounter(prometheus.CounterOpts{Name: "bcreg_poller_corporations_found_total",
			Help: "Corporations published by polls (own events, state links, owners and firms)."}),
		newEvents: prometheus.NewCounter(prometheus.CounterOpts{Name: "bcreg_poller_new_events_total",
			Help: "Source events seen for the first time by polls."}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bcreg_poller_corp_events_published_total",
			Help: "CorpEvents acknowledged by BCREG_EVENTS, by reason (event, initial-load, future-dated)."}, []string{"reason"}),
		stalls: prometheus.NewCounter(prometheus.CounterOpts{Name: "bcreg_poller_publish_stalls_total",
			Help: "Publishing rounds that timed out (BCREG_EVENTS full or NATS unreachable) and were retried."}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "bcreg_poller_poll_duration_seconds",
			Help: "Duration of polls that completed.", Buckets: prometheus.ExponentialBuckets(0.01, 2.5, 10)}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{Name: "bcreg_poller_watermark_lag_seconds",
			Help: "BC local now minus the watermark's event date at the last poll."}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{Name: "bcreg_poller_active",
			Help: "1 while this replica holds the poller lock."}),
	}
	reg.MustRegister(m.polls, m.corps, m.newEvents, m.published, m.stalls, m.duration, m.lag, m.active)
	// Every label value at zero from the start, so rate() and the
	// dashboards see the series before the first occurrence.
	for _, r := range []string{"ok", "quiet", "refused", "error"} {
		m.polls.WithLabelValues(r)
	}
	for _, r := range []string{"event", "initial-load", "future-dated"} {
		m.published.WithLabelValues(r)
	}
	return m
}
