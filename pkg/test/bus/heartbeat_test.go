package bus_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap/zaptest"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/lifecycle"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// TestConsumeHeartbeatStopsWhileEveryWorkerIsStuck: the consume loop beats
// while it waits for messages and while a worker is free; once every
// worker is stuck in the handler it stops, so liveness fails after the
// bound (on the test's clock); when the handlers return it beats again.
func TestConsumeHeartbeatStopsWhileEveryWorkerIsStuck(t *testing.T) {
	js, topo := setup(t)
	const bound = time.Minute
	clock := testenv.NewClock(time.Date(2026, 11, 27, 14, 0, 0, 0, time.UTC))
	health := lifecycle.NewHealth(zaptest.NewLogger(t), lifecycle.WithClock(clock.Now), lifecycle.WithLivenessBound(bound))
	beat := health.Heartbeat("consume BCREG_EVENTS")
	entered := make(chan string, 2)
	release := make(chan struct{})
	consumeWith(t, js, topo, func(o *bus.ConsumeOptions) {
		// Two workers; a short batch wait, so an idle pull ends quickly.
		o.Workers, o.BatchSize, o.BatchWait = 2, 2, 50*time.Millisecond
		o.Heartbeat = beat.Beat
	}, func(_ context.Context, batch []jetstream.Msg) []error {
		entered <- string(batch[0].Data())
		<-release
		return make([]error, len(batch))
	})
	live := func() bool { failed, _ := health.Live(); return !failed }
	// beatsAfter moves the clock past the bound and waits for the loop to
	// beat again.
	beatsAfter := func(what string) {
		t.Helper()
		clock.Advance(bound + time.Second)
		waitFor(t, "a beat "+what, live)
	}

	beatsAfter("while idle")
	publishEvent(t, js, "A0000001", "hb-1", []byte("first"))
	if got := <-entered; got != "first" {
		t.Fatalf("handler got %q", got)
	}
	beatsAfter("while one of two workers is stuck")
	publishEvent(t, js, "A0000002", "hb-2", []byte("second"))
	if got := <-entered; got != "second" {
		t.Fatalf("handler got %q", got)
	}
	// Both workers hold a message: the loop's last beat came before the
	// pull that fetched the second one, and the next needs a free worker.
	clock.Advance(bound + time.Second)
	failed, report := health.Live()
	if !failed {
		t.Fatal("liveness holds although every worker has been stuck longer than the bound")
	}
	if want := fmt.Sprintf("consume BCREG_EVENTS: no heartbeat for %v (bound %v, BCREG_LIVENESS_BOUND): stuck\n", bound+time.Second, bound); report != want {
		t.Errorf("report %q, want %q", report, want)
	}
	close(release)
	waitFor(t, "a beat once the workers are free again", live)
}
