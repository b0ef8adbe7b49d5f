package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Stream and consumer names (fixed: operators and dashboards use them).
const (
	StreamEvents     = "BCREG_EVENTS"
	StreamCreds      = "BCREG_CREDS"
	StreamDLQ        = "BCREG_DLQ"
	StreamAdvisories = "BCREG_ADVISORIES"

	ConsumerBuilder = "credential-builder"
	ConsumerPoster  = "poster"
	ConsumerMover   = "dlq-mover"

	// AdvisorySubjects is what BCREG_ADVISORIES captures: every consumer's
	// MAX_DELIVERIES advisory (the mover ignores streams that are not ours).
	AdvisorySubjects = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>"
)

// Topology holds the settings of the streams and consumers. Embed it in a
// service's config; every field is a BCREG_ variable with a default.
type Topology struct {
	// Mode: check (the default: the services only check the topology
	// `bcregctl migrate` applied) or apply (they apply it at start, as
	// make run and compose do); see topology_check.go.
	Mode           string        `envconfig:"JS_TOPOLOGY" default:"check"`
	Replicas       int           `envconfig:"JS_REPLICAS" default:"1"`
	DedupWindow    time.Duration `envconfig:"JS_DEDUP_WINDOW" default:"20m"`
	EventsMaxBytes int64         `envconfig:"JS_EVENTS_MAX_BYTES" default:"1073741824"`
	CredsMaxBytes  int64         `envconfig:"JS_CREDS_MAX_BYTES" default:"4294967296"`
	DLQMaxAge      time.Duration `envconfig:"JS_DLQ_MAX_AGE" default:"720h"`
	// DLQMaxBytes bounds BCREG_DLQ (DiscardNew: a full DLQ refuses new
	// dead letters, which then stay in their work stream, redelivered),
	// so mass rejection cannot fill the store the work streams share.
	DLQMaxBytes       int64         `envconfig:"JS_DLQ_MAX_BYTES" default:"1073741824"`
	AdvisoriesMaxAge  time.Duration `envconfig:"JS_ADVISORIES_MAX_AGE" default:"72h"`
	BuilderAckWait    time.Duration `envconfig:"JS_BUILDER_ACK_WAIT" default:"2m"`
	BuilderMaxDeliver int           `envconfig:"JS_BUILDER_MAX_DELIVER" default:"10"`
	PosterAckWait     time.Duration `envconfig:"JS_POSTER_ACK_WAIT" default:"5m"`
	PosterMaxDeliver  int           `envconfig:"JS_POSTER_MAX_DELIVER" default:"100"`
	MaxAckPending     int           `envconfig:"JS_MAX_ACK_PENDING" default:"2000"`
	// ReconcileInterval is how often the dlq reconciler (beside the
	// dlq-mover) looks for messages that exhausted MaxDeliver without
	// their advisory being handled; one is moved when two passes in a row
	// find it.
	ReconcileInterval time.Duration `envconfig:"JS_DLQ_RECONCILE_INTERVAL" default:"5m"`
}

// DefaultTopology returns the documented defaults (used by tests and tools
// that do not load the environment).
func DefaultTopology() Topology {
	return Topology{
		Mode: TopologyCheck, Replicas: 1, DedupWindow: 20 * time.Minute,
		EventsMaxBytes: 1 << 30, CredsMaxBytes: 4 << 30, DLQMaxBytes: 1 << 30,
		DLQMaxAge: 30 * 24 * time.Hour, AdvisoriesMaxAge: 72 * time.Hour,
		BuilderAckWait: 2 * time.Minute, BuilderMaxDeliver: 10,
		PosterAckWait: 5 * time.Minute, PosterMaxDeliver: 100,
		MaxAckPending: 2000, ReconcileInterval: 5 * time.Minute,
	}
}

// Validate checks the limits.
func (t Topology) Validate() error {
	var errs []error
	if t.Mode != TopologyCheck && t.Mode != TopologyApply {
		errs = append(errs, fmt.Errorf("BCREG_JS_TOPOLOGY=%q: want check or apply", t.Mode))
	}
	if t.DLQMaxBytes < 1<<20 {
		errs = append(errs, fmt.Errorf("BCREG_JS_DLQ_MAX_BYTES=%d: want at least 1 MiB", t.DLQMaxBytes))
	}
	if t.Replicas < 1 || t.Replicas > 5 {
		errs = append(errs, fmt.Errorf("BCREG_JS_REPLICAS=%d: want 1 to 5", t.Replicas))
	}
	if t.DedupWindow < 15*time.Minute {
		errs = append(errs, fmt.Errorf("BCREG_JS_DEDUP_WINDOW=%v: want at least 15m (a retried publish must still be recognised)", t.DedupWindow))
	}
	if t.BuilderMaxDeliver < 2 || t.PosterMaxDeliver < 2 {
		errs = append(errs, errors.New("BCREG_JS_BUILDER_MAX_DELIVER and BCREG_JS_POSTER_MAX_DELIVER: want at least 2"))
	}
	if t.BuilderAckWait < time.Second || t.PosterAckWait < time.Second {
		errs = append(errs, errors.New("BCREG_JS_BUILDER_ACK_WAIT and BCREG_JS_POSTER_ACK_WAIT: want at least 1s"))
	}
	if t.ReconcileInterval < time.Second || t.ReconcileInterval > 24*time.Hour {
		errs = append(errs, fmt.Errorf("BCREG_JS_DLQ_RECONCILE_INTERVAL=%v: want 1s to 24h", t.ReconcileInterval))
	}
	return errors.Join(errs...)
}

// Streams returns the stream definitions.
func (t Topology) Streams() []jetstream.StreamConfig {
	work := func(name, subj string, maxBytes int64) jetstream.StreamConfig {
		return jetstream.StreamConfig{
			Name: name, Subjects: []string{subj + ".>"},
			Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage,
			Replicas: t.Replicas, MaxBytes: maxBytes, Discard: jetstream.DiscardNew,
			Duplicates: t.DedupWindow, Description: descriptions[name],
		}
	}
	return []jetstream.StreamConfig{
		work(StreamEvents, EventsPrefix, t.EventsMaxBytes),
		work(StreamCreds, CredsPrefix, t.CredsMaxBytes),
		{
			Name: StreamDLQ, Subjects: []string{DLQPrefix + ".>", DLQDataPrefix + ".>"},
			Retention: jetstream.LimitsPolicy, Storage: jetstream.FileStorage,
			Replicas: t.Replicas, MaxAge: t.DLQMaxAge, Duplicates: t.DedupWindow,
			MaxBytes: t.DLQMaxBytes, Discard: jetstream.DiscardNew,
			AllowDirect: true, Description: descriptions[StreamDLQ],
		},
		{
			Name: StreamAdvisories, Subjects: []string{AdvisorySubjects},
			Retention: jetstream.LimitsPolicy, Storage: jetstream.FileStorage,
			Replicas: t.Replicas, MaxAge: t.AdvisoriesMaxAge, Description: descriptions[StreamAdvisories],
		},
	}
}

// Consumers returns the durable consumer definitions by stream.
func (t Topology) Consumers() map[string]jetstream.ConsumerConfig {
	return map[string]jetstream.ConsumerConfig{
		StreamEvents: {
			Durable: ConsumerBuilder, AckPolicy: jetstream.AckExplicitPolicy,
			AckWait: t.BuilderAckWait, MaxDeliver: t.BuilderMaxDeliver,
			MaxAckPending: t.MaxAckPending, Replicas: t.Replicas, Description: descriptions[ConsumerBuilder],
		},
		StreamCreds: {
			Durable: ConsumerPoster, AckPolicy: jetstream.AckExplicitPolicy,
			AckWait: t.PosterAckWait, MaxDeliver: t.PosterMaxDeliver,
			MaxAckPending: t.MaxAckPending, Replicas: t.Replicas, Description: descriptions[ConsumerPoster],
		},
		StreamAdvisories: {
			Durable: ConsumerMover, AckPolicy: jetstream.AckExplicitPolicy,
			AckWait: 30 * time.Second, MaxDeliver: -1, Replicas: t.Replicas, Description: descriptions[ConsumerMover],
		},
	}
}

// Apply creates or updates every stream and consumer. It is idempotent:
// applying the same topology twice changes nothing.
//
// Each request has a bound of its own and is retried until ctx ends: in a
// cluster the meta leader leaves unanswered the create of a stream another
// client is creating at the same moment (every replica of every service
// applies the topology at start), and a request sent during an election
// may go unanswered too. The retry finds the stream or consumer and
// updates it to the same configuration.
func (t Topology) Apply(ctx context.Context, js jetstream.JetStream) error {
	for _, sc := range t.Streams() {
		if err := applyRetry(ctx, func(actx context.Context) error {
			_, err := js.CreateOrUpdateStream(actx, sc)
			return err
		}); err != nil {
			return fmt.Errorf("apply stream %s: %w", sc.Name, err)
		}
	}
	for stream, cc := range t.Consumers() {
		if err := applyRetry(ctx, func(actx context.Context) error {
			_, err := js.CreateOrUpdateConsumer(actx, stream, cc)
			return err
		}); err != nil {
			return fmt.Errorf("apply consumer %s on %s: %w", cc.Durable, stream, err)
		}
	}
	return nil
}

// applyAttempt bounds one request of Apply.
const applyAttempt = 5 * time.Second

// applyRetry runs one request of Apply until it gets an answer: an
// unanswered attempt (timeout, no responders) is tried again after a short
// pause; an answer from the JetStream API (success or refusal) ends it.
func applyRetry(ctx context.Context, req func(context.Context) error) error {
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, applyAttempt)
		err := req(actx)
		cancel()
		if err == nil || !isAmbiguous(err) || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-time.After(Backoff{Base: 200 * time.Millisecond, Max: 2 * time.Second}.Delay(attempt)):
		}
	}
}

// MaxDeliver returns the configured MaxDeliver of a stream's consumer.
func (t Topology) MaxDeliver(stream string) int {
	return t.Consumers()[stream].MaxDeliver
}
