package bus

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Topology ownership (docs/design/topology-ownership.md): `bcregctl
// migrate` (the Job) applies the streams and consumers; a service by
// default only checks that what it needs exists and is of the right kind,
// and leaves the rest as it finds it, so tuning done with the nats CLI
// survives a restart and the services' NATS user needs no right to change
// streams. BCREG_JS_TOPOLOGY=apply keeps the services applying it (make
// run, compose).
const (
	TopologyCheck = "check"
	TopologyApply = "apply"
)

// Descriptions of the streams and consumers, shown by `nats stream info`
// and `nats consumer info`.
var descriptions = map[string]string{
	StreamEvents:     "bcreg-events: corporations with new registry events, from the event-poller to the credential-builder (work queue)",
	StreamCreds:      "bcreg-events: credential bundles, from the credential-builder to the poster (work queue)",
	StreamDLQ:        "bcreg-events: dead letters of every stage with their reason; inspect, requeue or purge with bcregctl dlq",
	StreamAdvisories: "bcreg-events: JetStream max-deliveries advisories, read by the dlq-mover",
	ConsumerBuilder:  "bcreg-events credential-builder: builds credentials from BCREG_EVENTS",
	ConsumerPoster:   "bcreg-events poster: posts credentials from BCREG_CREDS to the issuing agent",
	ConsumerMover:    "bcreg-events dlq-mover: moves messages that exhausted their deliveries to BCREG_DLQ",
}

// Ensure makes the topology ready for a service: applied when
// BCREG_JS_TOPOLOGY=apply, else checked (Check), logging every tunable
// that differs from the configuration as a warning.
func (t Topology) Ensure(ctx context.Context, js jetstream.JetStream, log *zap.Logger) error {
	if t.Mode == TopologyApply {
		return t.Apply(ctx, js)
	}
	drift, err := t.Check(ctx, js)
	if err != nil {
		return err
	}
	for _, d := range drift {
		log.Warn("JetStream topology differs from the configuration (left as it is; bcregctl migrate applies the configuration)", zap.String("difference", d))
	}
	return nil
}

// ErrTopology marks a topology a service cannot run on: a stream or
// consumer missing or of the wrong kind.
var ErrTopology = errors.New("JetStream topology not ready: run bcregctl migrate")

// Check reads every stream and consumer without changing any. A missing
// one, or one whose subjects, retention, storage or ack policy differ from
// the configuration, is an error wrapping ErrTopology; differing limits
// (sizes, ages, ack wait, deliveries, replicas, descriptions) are
// returned as drift, one line each.
func (t Topology) Check(ctx context.Context, js jetstream.JetStream) (drift []string, err error) {
	var errs []error
	for _, want := range t.Streams() {
		st, err := js.Stream(ctx, want.Name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			errs = append(errs, fmt.Errorf("stream %s missing", want.Name))
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("check stream %s: %w", want.Name, err)
		}
		got := st.CachedInfo().Config
		if !slices.Equal(sorted(got.Subjects), sorted(want.Subjects)) || got.Retention != want.Retention || got.Storage != want.Storage {
			errs = append(errs, fmt.Errorf("stream %s is %v %v on %v, want %v %v on %v", want.Name,
				got.Retention, got.Storage, got.Subjects, want.Retention, want.Storage, want.Subjects))
		}
		drift = append(drift, differences("stream "+want.Name, []field{
			{"max_bytes", got.MaxBytes, want.MaxBytes}, {"max_age", got.MaxAge, want.MaxAge},
			{"discard", got.Discard, want.Discard}, {"duplicate_window", got.Duplicates, want.Duplicates},
			{"replicas", got.Replicas, want.Replicas}, {"description", got.Description, want.Description},
		})...)
	}
	for stream, want := range t.Consumers() {
		c, err := js.Consumer(ctx, stream, want.Durable)
		switch {
		case errors.Is(err, jetstream.ErrConsumerNotFound), errors.Is(err, jetstream.ErrStreamNotFound):
			errs = append(errs, fmt.Errorf("consumer %s on %s missing", want.Durable, stream))
			continue
		case err != nil:
			return nil, fmt.Errorf("check consumer %s on %s: %w", want.Durable, stream, err)
		}
		got := c.CachedInfo().Config
		if got.AckPolicy != want.AckPolicy || got.FilterSubject != want.FilterSubject || got.DeliverSubject != "" {
			errs = append(errs, fmt.Errorf("consumer %s on %s is not a pull consumer with %v, filter %q", want.Durable, stream, want.AckPolicy, want.FilterSubject))
		}
		drift = append(drift, differences("consumer "+want.Durable+" on "+stream, []field{
			{"ack_wait", got.AckWait, want.AckWait}, {"max_deliver", got.MaxDeliver, want.MaxDeliver},
			{"max_ack_pending", got.MaxAckPending, maxAckPending(want.MaxAckPending)},
			{"description", got.Description, want.Description},
		})...)
	}
	slices.Sort(drift)
	if len(errs) > 0 {
		return drift, errors.Join(append([]error{ErrTopology}, errs...)...)
	}
	return drift, nil
}

type field struct {
	name      string
	got, want any
}

func differences(what string, fields []field) []string {
	var out []string
	for _, f := range fields {
		if reflect.ValueOf(f.want).IsZero() {
			continue // not configured: the server's default, whatever it is
		}
		if f.got != f.want {
			out = append(out, fmt.Sprintf("%s: %s is %v, the configuration says %v", what, f.name, f.got, f.want))
		}
	}
	return out
}

// maxAckPending is what the server stores for a consumer created with n
// (0 takes the server's default, 1000).
func maxAckPending(n int) int {
	if n == 0 {
		return 1000
	}
	return n
}

func sorted(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}
