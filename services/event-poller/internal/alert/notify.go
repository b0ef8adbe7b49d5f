package alert

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/webhook"
)

// Metrics are the alerting series (bcreg_alerts_*).
type Metrics struct {
	sent       *prometheus.CounterVec
	failed     prometheus.Counter
	suppressed *prometheus.CounterVec
}

// NewMetrics registers the alerting series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bcreg_alerts_sent_total",
			Help: "Alert messages the webhook accepted, by severity (the message's statusCode: ERROR, WARNING, INFO)."}, []string{"severity"}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{Name: "bcreg_alerts_failed_total",
			Help: "Alert messages the webhook did not accept (error, timeout, non-2xx answer)."}),
		suppressed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bcreg_alerts_suppressed_total",
			Help: "Alert messages not sent, by reason: rate (BCREG_WEBHOOK_MAX_PER_HOUR), queue (the webhook is too slow)."}, []string{"reason"}),
	}
	for _, l := range []Level{Error, Warning, Info} {
		m.sent.WithLabelValues(l.String())
	}
	m.suppressed.WithLabelValues("rate")
	m.suppressed.WithLabelValues("queue")
	if reg != nil {
		reg.MustRegister(m.sent, m.failed, m.suppressed)
	}
	return m
}

// queueSize is how many messages may wait for the webhook; more are
// dropped, so a slow webhook never holds up the caller.
const queueSize = 32

// Notifier posts messages to the webhook.
type Notifier struct {
	cfg    Config
	client *http.Client
	log    *zap.Logger
	m      *Metrics
	queue  chan Payload
	now    func() time.Time

	mu         sync.Mutex
	sent       []time.Time // accepted for sending within the last hour
	suppressed int         // dropped by the hourly cap since the last message
}

// NewNotifier makes a notifier; Run posts what Notify queues.
func NewNotifier(cfg Config, log *zap.Logger, m *Metrics) *Notifier {
	if m == nil {
		m = NewMetrics(nil)
	}
	return &Notifier{cfg: cfg, client: &http.Client{Timeout: cfg.WebhookTimeout}, log: log, m: m,
		queue: make(chan Payload, queueSize), now: time.Now}
}

// Notify queues a message and returns at once. It returns false when the
// message is not sent: below the level filter, no webhook configured, over
// the hourly cap, or the queue is full.
func (n *Notifier) Notify(level Level, message string) bool {
	if !n.cfg.Enabled() || int(level) > n.cfg.WebhookLevel {
		return false
	}
	n.mu.Lock()
	now := n.now()
	keep := n.sent[:0]
	for _, t := range n.sent {
		if now.Sub(t) < time.Hour {
			keep = append(keep, t)
		}
	}
	n.sent = keep
	if len(n.sent) >= n.cfg.WebhookMaxPerHour {
		n.suppressed++
		n.mu.Unlock()
		n.m.suppressed.WithLabelValues("rate").Inc()
		n.log.Warn("alert not sent: hourly limit reached (BCREG_WEBHOOK_MAX_PER_HOUR)",
			zap.String("status_code", level.String()), zap.String("alert", message))
		return false
	}
	if n.suppressed > 0 {
		message += fmt.Sprintf(" (%d further alert(s) were not sent in the last hour: BCREG_WEBHOOK_MAX_PER_HOUR=%d)", n.suppressed, n.cfg.WebhookMaxPerHour)
	}
	p := webhook.Message(n.cfg.ProjectName, n.cfg.FriendlyProjectName, level, message)
	select {
	case n.queue <- p:
		n.sent = append(n.sent, now)
		n.suppressed = 0
		n.mu.Unlock()
		return true
	default:
		n.mu.Unlock()
		n.m.suppressed.WithLabelValues("queue").Inc()
		n.log.Warn("alert not sent: the webhook is too slow, queue full", zap.String("alert", message))
		return false
	}
}

// Run posts queued messages until ctx ends; what is still queued then is
// dropped.
func (n *Notifier) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-n.queue:
			n.post(ctx, p)
		}
	}
}

// post sends one message; a failure is logged and counted, never retried
// (the next evaluation re-raises a condition that lasts).
func (n *Notifier) post(ctx context.Context, p Payload) {
	if err := webhook.Post(ctx, n.client, n.cfg.WebhookURL.Value(), p); err != nil {
		n.m.failed.Inc()
		n.log.Warn("alert not sent", zap.String("status_code", p.StatusCode), zap.String("alert", p.Message), zap.Error(err))
		return
	}
	n.m.sent.WithLabelValues(p.StatusCode).Inc()
	n.log.Info("alert sent", zap.String("status_code", p.StatusCode), zap.String("alert", p.Message))
}
