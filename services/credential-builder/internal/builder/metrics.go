package builder

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the builder's Prometheus series (on the side port's /metrics).
type metrics struct {
	messages  *prometheus.CounterVec
	duration  prometheus.Histogram
	batchSize prometheus.Histogram
	stored    prometheus.Counter
	bundles   *prometheus.CounterVec
	backlog   prometheus.Gauge
	rearmed   *prometheus.CounterVec
	tooLarge  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bcreg_builder_messages_total",
			Help: "CorpEvents handled, by outcome: done (Y), skipped (S), failed (N, dead-lettered), retry (redelivered), invalid (undecodable, dead-lettered)."},
			[]string{"outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "bcreg_builder_batch_duration_seconds",
			Help: "Time to handle one batch: locks, load, generate, store, publish, mark.", Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 10)}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "bcreg_builder_batch_messages",
			Help: "Messages per handled batch.", Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000}}),
		stored: prometheus.NewCounter(prometheus.CounterOpts{Name: "bcreg_builder_credentials_stored_total",
			Help: "New credentials stored in credential_log (known hashes are not counted)."}),
		bundles: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bcreg_builder_bundles_published_total",
			Help: "CredentialBundles acknowledged by BCREG_CREDS and marked, by who published them (batch, sweep)."}, []string{"by"}),
		backlog: prometheus.NewGauge(prometheus.GaugeOpts{Name: "bcreg_builder_outbox_backlog",
			Help: "Unpublished, due, outstanding credentials at the last sweep."}),
		rearmed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bcreg_builder_abandoned_credentials_total",
			Help: "Outstanding credentials whose bundle left BCREG_CREDS without an answer, found by the sweep: republish (back to the outbox) or dead (D after losing their bundle too often)."},
			[]string{"action"}),
		tooLarge: prometheus.NewCounter(prometheus.CounterOpts{Name: "bcreg_builder_credentials_too_large_total",
			Help: "Credentials set to D because a bundle of one of them alone exceeds the NATS server's max payload."}),
	}
	reg.MustRegister(m.messages, m.duration, m.batchSize, m.stored, m.bundles, m.backlog, m.rearmed, m.tooLarge)
	// Every label value at zero from the start, so rate() and the
	// dashboards see the series before the first occurrence.
	for _, o := range []string{"done", "skipped", "failed", "retry", "invalid"} {
		m.messages.WithLabelValues(o)
	}
	for _, by := range []string{"batch", "sweep"} {
		m.bundles.WithLabelValues(by)
	}
	for _, a := range []string{"republish", "dead"} {
		m.rearmed.WithLabelValues(a)
	}
	return m
}
