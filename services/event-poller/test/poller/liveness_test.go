package poller_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
	"github.com/bcgov/bcreg-events/services/event-poller/internal/poller"
)

// livez returns the side port's /livez status and body.
func livez(t *testing.T, addr string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/livez")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestLivenessNoticesAStuckPollLoop: /livez fails once the poll loop has
// been stuck in a step (here an initial-load page that does not return)
// longer than BCREG_LIVENESS_BOUND on the poller's clock, names the loop,
// and recovers when the loop turns again; a loop waiting for its next
// cycle is idle, not stuck, however long the wait.
func TestLivenessNoticesAStuckPollLoop(t *testing.T) {
	e := newEnv(t)
	addr := freeAddr(t)
	const bound = time.Minute
	cfg := e.config(func(c *poller.Config) { c.HTTP.Addr, c.HTTP.LivenessBound = addr, bound })
	clock := testenv.NewClock(time.Now())
	stuck, release, waiting := make(chan struct{}), make(chan struct{}), make(chan struct{}, 1)
	var once sync.Once
	e.start(cfg, poller.Hooks{
		Now: clock.Now,
		AfterPublish: func(step string) error {
			if step == poller.StepLoadPage {
				once.Do(func() { close(stuck); <-release })
			}
			return nil
		},
		Pace: func(ctx context.Context) {
			select {
			case waiting <- struct{}{}:
			default:
			}
			<-ctx.Done()
		},
	})
	select {
	case <-stuck:
	case <-time.After(time.Minute):
		t.Fatal("the initial load's first page did not finish publishing within a minute")
	}
	waitFor(t, "the side port", func() bool { return readyz(addr) != 0 })
	if code, body := livez(t, addr); code != http.StatusOK {
		t.Fatalf("/livez %d %q at the start of a step, want 200", code, body)
	}
	clock.Advance(bound + time.Second)
	code, body := livez(t, addr)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "poll loop (event-poller): no heartbeat for 1m1s") {
		t.Errorf("/livez %d %q with the poll loop stuck past the bound, want 503 naming the poll loop", code, body)
	}

	close(release)
	select {
	case <-waiting:
	case <-time.After(time.Minute):
		t.Fatal("the poller did not finish its first cycle within a minute")
	}
	if code, body := livez(t, addr); code != http.StatusOK {
		t.Errorf("/livez %d %q after the loop turned again, want 200", code, body)
	}
	clock.Advance(3 * bound)
	if code, body := livez(t, addr); code != http.StatusOK {
		t.Errorf("/livez %d %q while the loop waits for its next cycle, want 200 (idle is not stuck)", code, body)
	}
}
