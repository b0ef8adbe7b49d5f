package bus

import (
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// The consume loop's per-stage series, shared by every service (the
// builder, the poster and the dlq-mover in each). They are package-level so
// the loop and the dead-letter paths count without being handed a registry;
// RegisterMetrics exposes them on a service's registry.
var (
	stageMessages = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bcreg_stage_messages_total",
		Help: "Messages settled by a stage's consume loop, by result: processed (acked), failed (redelivered after a back-off), waiting (redelivered on purpose, not a failure), renewed (a waiting message stored again under a fresh id before its last delivery), dead_lettered."},
		[]string{"stage", "result"})
	stageDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "bcreg_stage_handler_duration_seconds",
		Help:    "Time a stage's handler took for one call (a batch of messages for the builder and the poster).",
		Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 12)}, []string{"stage"})
	deadLetters = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bcreg_dead_letters_total",
		Help: "Dead letters stored in BCREG_DLQ, by the stage that wrote them (builder, poster, mover)."},
		[]string{"stage"})
	reconciled = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bcreg_dlq_reconciled_total",
		Help: "Messages the dlq reconciler moved to BCREG_DLQ because their max-deliveries advisory never reached the dlq-mover, by original stream."},
		[]string{"stream"})
	strandedGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "bcreg_stranded_messages",
		Help: "Messages past MaxDeliver still in a work stream at the dlq reconciler's last pass (moved on the next pass), by stream."},
		[]string{"stream"})
)

// Results of bcreg_stage_messages_total.
const (
	ResultProcessed    = "processed"
	ResultFailed       = "failed"
	ResultWaiting      = "waiting"
	ResultRenewed      = "renewed"
	ResultDeadLettered = "dead_lettered"
)

var stageInit sync.Map

// initStage makes a stage's series visible at zero before anything
// happens, so dashboards and rate() see them from the start.
func initStage(stage string) {
	if _, done := stageInit.LoadOrStore(stage, true); done {
		return
	}
	for _, r := range []string{ResultProcessed, ResultFailed, ResultWaiting, ResultRenewed, ResultDeadLettered} {
		stageMessages.WithLabelValues(stage, r)
	}
	stageDuration.WithLabelValues(stage)
	deadLetters.WithLabelValues(stage)
}

// RegisterMetrics exposes the consume loop's series on reg. Registering on
// a registry that already has them is not an error.
func RegisterMetrics(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{stageMessages, stageDuration, deadLetters, reconciled, strandedGauge} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return err
			}
		}
	}
	return nil
}
