package bus_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/messages"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// exhaust uses up the builder consumer's deliveries of the next message
// and returns its MAX_DELIVERIES advisory once BCREG_ADVISORIES has it.
func exhaust(t *testing.T, js jetstream.JetStream) *jetstream.RawStreamMsg {
	t.Helper()
	testenv.Exhaust(t, js, bus.StreamEvents, bus.ConsumerBuilder)
	waitFor(t, "max-deliveries advisory", func() bool { return streamMsgs(t, js, bus.StreamAdvisories) == 1 })
	return testenv.StreamMessages(t, js, bus.StreamAdvisories)[0]
}

func stageState(t *testing.T, js jetstream.JetStream) bus.StageState {
	t.Helper()
	s, err := bus.ReadStage(testenv.Context(t), js, bus.StreamEvents, bus.ConsumerBuilder)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func reconciledCount(t *testing.T) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	if err := bus.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "bcreg_dlq_reconciled_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "stream" && l.GetValue() == bus.StreamEvents {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatal("no bcreg_dlq_reconciled_total{stream=BCREG_EVENTS}")
	return 0
}

// TestReconcilerMovesMessageWhoseAdvisoryWasMissed: a message exhausts
// MaxDeliver while its advisory is lost (the advisories stream purged) and
// no mover runs. It stays in BCREG_EVENTS and status counts it stranded;
// the reconciler moves it to BCREG_DLQ on its second sighting, byte for
// byte, leaving a message that was handled alone; when the advisory then
// arrives after all, the mover stores no second dead letter.
func TestReconcilerMovesMessageWhoseAdvisoryWasMissed(t *testing.T) {
	js, topo := setup(t)
	ctx := testenv.Context(t)
	publishEvent(t, js, "R1", "r1", []byte(`{"payload":"stranded"}`))
	advisory := exhaust(t, js)
	if got := stageState(t, js); got.Messages != 1 || got.Stranded != 1 {
		t.Fatalf("stage after exhausting R1: %+v, want 1 message, stranded", got)
	}
	// A later message is handled normally.
	publishEvent(t, js, "R2", "r2", []byte(`{"payload":"fine"}`))
	cons, _ := js.Consumer(ctx, bus.StreamEvents, bus.ConsumerBuilder)
	mb, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	for m := range mb.Messages() {
		if err := m.DoubleAck(ctx); err != nil {
			t.Fatal(err)
		}
	}
	st, _ := js.Stream(ctx, bus.StreamAdvisories)
	if err := st.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	if got := stageState(t, js); got.Messages != 1 || got.Stranded != 1 || got.Pending != 0 || got.InFlight != 0 {
		t.Fatalf("stage before reconciling: %+v, want 1 message, stranded", got)
	}

	r := bus.NewReconciler(js, zaptest.NewLogger(t), fastBackoff)
	before := reconciledCount(t)
	for pass, want := range []int{0, 1, 0} {
		moved, err := r.Pass(ctx)
		if err != nil || moved != want {
			t.Fatalf("pass %d: moved %d (%v), want %d", pass+1, moved, err, want)
		}
	}
	if got := reconciledCount(t) - before; got != 1 {
		t.Errorf("bcreg_dlq_reconciled_total grew by %v, want 1", got)
	}
	dls := dlqEntries(t, js)
	if len(dls) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dls))
	}
	want := messages.DeadLetter{V: 1, Stage: "mover", Deliveries: uint64(topo.BuilderMaxDeliver), OriginalStream: bus.StreamEvents,
		OriginalSubject: "bcreg.events.BC_REG.R1", OriginalSeq: 1, CorpNum: "R1", PayloadBase64: []byte(`{"payload":"stranded"}`)}
	ignore := cmp.FilterPath(func(p cmp.Path) bool {
		s := p.String()
		return s == "FailedAt" || s == "OriginalHeaders" || s == "Reason"
	}, cmp.Ignore())
	if diff := cmp.Diff(want, dls[0], ignore); diff != "" {
		t.Errorf("dead letter (-want +got):\n%s", diff)
	}
	if !strings.Contains(dls[0].Reason, "reconciler") {
		t.Errorf("reason %q does not say the reconciler moved it", dls[0].Reason)
	}
	if got := stageState(t, js); got.Messages != 0 || got.Stranded != 0 {
		t.Errorf("stage after reconciling: %+v, want empty", got)
	}

	// The advisory arrives after all: the mover finds nothing to move.
	nc := js.Conn()
	if err := nc.PublishMsg(&nats.Msg{Subject: advisory.Subject, Data: advisory.Data}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "late advisory stored", func() bool { return streamMsgs(t, js, bus.StreamAdvisories) == 1 })
	mctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = bus.RunMover(mctx, js, zaptest.NewLogger(t), fastBackoff) }()
	defer func() { cancel(); <-done }()
	mover, _ := js.Consumer(ctx, bus.StreamAdvisories, bus.ConsumerMover)
	waitFor(t, "late advisory handled", func() bool {
		ci, err := mover.Info(ctx)
		return err == nil && ci.AckFloor.Stream >= advisory.Sequence+1 && ci.NumAckPending == 0
	})
	if n := len(dlqEntries(t, js)); n != 1 {
		t.Errorf("%d dead letters after the late advisory, want 1", n)
	}
}

// TestReconcilerLeavesInFlightAndPendingAlone: messages waiting for
// delivery, in flight, or waiting for a redelivery are never stranded.
func TestReconcilerLeavesInFlightAndPendingAlone(t *testing.T) {
	js, _ := setup(t)
	ctx := testenv.Context(t)
	for _, c := range []string{"F1", "F2", "F3"} {
		publishEvent(t, js, c, "f-"+c, []byte(`{}`))
	}
	cons, _ := js.Consumer(ctx, bus.StreamEvents, bus.ConsumerBuilder)
	mb, err := cons.Fetch(2, jetstream.FetchMaxWait(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	first := true
	for m := range mb.Messages() {
		if first {
			_ = m.NakWithDelay(time.Hour) // waits for a redelivery
		} else {
			_ = m.InProgress() // in flight
		}
		first = false
	}
	r := bus.NewReconciler(js, zaptest.NewLogger(t), fastBackoff)
	for pass := 1; pass <= 2; pass++ {
		if moved, err := r.Pass(ctx); err != nil || moved != 0 {
			t.Fatalf("pass %d: moved %d (%v), want 0", pass, moved, err)
		}
	}
	if got := stageState(t, js); got.Messages != 3 || got.Stranded != 0 {
		t.Errorf("stage: %+v, want 3 messages, none stranded", got)
	}
}
