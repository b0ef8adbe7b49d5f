package bus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap/zaptest"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// beforeDeadLetter is the mover's JetStream with a seam: hook runs once,
// just before the first dead letter is published, so a test can put an
// event exactly between the mover's read of the original and its write.
type beforeDeadLetter struct {
	jetstream.JetStream
	once sync.Once
	hook func()
}

func (b *beforeDeadLetter) PublishMsg(ctx context.Context, m *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	if strings.HasPrefix(m.Subject, bus.DLQPrefix+".") {
		b.once.Do(b.hook)
	}
	return b.JetStream.PublishMsg(ctx, m, opts...)
}

// TestMoverLeavesNoDeadLetterForAMessageAckedMeanwhile: the mover reads an
// exhausted message and, before it dead-letters it, the handler of its last
// delivery acknowledges it after all (the work queue removes it). The
// message was delivered: no dead letter may stay. Without the ack the same
// move stores exactly one dead letter and removes the original.
func TestMoverLeavesNoDeadLetterForAMessageAckedMeanwhile(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ack     bool
		wantDLQ int
	}{
		{name: "acked between the mover's read and its write", ack: true, wantDLQ: 0},
		{name: "not acked: moved", ack: false, wantDLQ: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := testenv.NewNATS(t)
			_, js := n.Connect(t)
			topo := testTopology()
			// The held delivery must stay acknowledgeable for the whole test.
			topo.BuilderAckWait = time.Hour
			ctx := testenv.Context(t)
			if err := topo.Apply(ctx, js); err != nil {
				t.Fatal(err)
			}
			publishEvent(t, js, "M1", "m1", []byte(`{"payload":"late"}`))
			cons, err := js.Consumer(ctx, bus.StreamEvents, bus.ConsumerBuilder)
			if err != nil {
				t.Fatal(err)
			}
			// The handler's (last) delivery, held unanswered.
			mb, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			var held jetstream.Msg
			for m := range mb.Messages() {
				held = m
			}
			if held == nil {
				t.Fatal("no delivery within a minute")
			}
			md, err := held.Metadata()
			if err != nil {
				t.Fatal(err)
			}
			// The server's MAX_DELIVERIES advisory for it, as the consumer's
			// leader publishes it.
			adv, _ := json.Marshal(map[string]any{"type": "io.nats.jetstream.advisory.v1.max_deliver",
				"stream": bus.StreamEvents, "consumer": bus.ConsumerBuilder, "stream_seq": md.Sequence.Stream, "deliveries": topo.BuilderMaxDeliver})
			subject := fmt.Sprintf("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.%s.%s", bus.StreamEvents, bus.ConsumerBuilder)
			if _, err := js.Publish(ctx, subject, adv); err != nil {
				t.Fatal(err)
			}

			hooked := &beforeDeadLetter{JetStream: js, hook: func() {
				if !tc.ack {
					return
				}
				if err := held.DoubleAck(ctx); err != nil {
					t.Errorf("late ack: %v", err)
				}
				// The work queue removes an acknowledged message on its own
				// time after the ack's answer.
				waitFor(t, "acknowledged original removed", func() bool { return streamMsgs(t, js, bus.StreamEvents) == 0 })
			}}
			mctx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { defer close(done); _ = bus.RunMover(mctx, hooked, zaptest.NewLogger(t), fastBackoff) }()
			defer func() { cancel(); <-done }()
			mover, err := js.Consumer(ctx, bus.StreamAdvisories, bus.ConsumerMover)
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, "advisory handled", func() bool {
				ci, err := mover.Info(ctx)
				return err == nil && ci.AckFloor.Stream >= 1 && ci.NumAckPending == 0 && ci.NumPending == 0
			})
			if got := len(dlqEntries(t, js)); got != tc.wantDLQ {
				t.Errorf("%d dead letters, want %d", got, tc.wantDLQ)
			}
			if got := streamMsgs(t, js, bus.StreamEvents); got != 0 {
				t.Errorf("%d messages left in %s, want 0", got, bus.StreamEvents)
			}
		})
	}
}
