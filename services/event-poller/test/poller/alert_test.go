package poller_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/eventdb/operator"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
	"github.com/bcgov/bcreg-events/services/event-poller/internal/alert"
	"github.com/bcgov/bcreg-events/services/event-poller/internal/poller"
)

// hook is a local webhook receiver.
type hook struct {
	mu   sync.Mutex
	got  []alert.Payload
	srv  *httptest.Server
	seen chan struct{}
}

func newHook(t *testing.T) *hook {
	h := &hook{seen: make(chan struct{}, 100)}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p alert.Payload
		_ = json.NewDecoder(r.Body).Decode(&p)
		h.mu.Lock()
		h.got = append(h.got, p)
		h.mu.Unlock()
		h.seen <- struct{}{}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) payloads() []alert.Payload {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]alert.Payload(nil), h.got...)
}

// TestAlertsComeFromTheActivePollerOnly: with two replicas, only the lock
// holder evaluates the alert rules, so a dead letter is announced once, not
// twice; when the active replica stops and the standby takes over, the
// stored alert state keeps it from announcing it again.
func TestAlertsComeFromTheActivePollerOnly(t *testing.T) {
	e := newEnv(t)
	h := newHook(t)
	cfg := e.config(func(c *poller.Config) {
		c.InitialLoad = poller.InitialLoadSkip
		c.Config = alert.Config{WebhookURL: config.Secret(h.srv.URL), WebhookLevel: 1, ProjectName: "p", FriendlyProjectName: "F",
			WebhookTimeout: time.Second, WebhookMaxPerHour: 10, AlertInterval: 50 * time.Millisecond, AlertRepeat: time.Hour,
			AlertQueueWarn: 10000, AlertQueueError: 100000, AlertWatermarkStale: time.Hour, AlertAgentStall: 15 * time.Minute}
	})
	ctx := testenv.Context(t)
	dl := bus.DeadLetterFor("builder", "corporation X1: no corporation row", 1, bus.StreamEvents, 7, bus.EventSubject("BC_REG", "X1"), nil, []byte(`{}`))
	if err := bus.PublishDeadLetter(ctx, e.js, dl, e.config().Backoff); err != nil {
		t.Fatal(err)
	}

	first := e.start(cfg, poller.Hooks{})
	select {
	case <-h.seen:
	case <-time.After(time.Minute):
		t.Fatal("no alert within a minute")
	}
	// The alert's state is stored before it is sent; a repeat would store
	// it again.
	sent := e.alertState(alert.KeyDeadLetters)
	var refused, evaluated atomic.Int64
	e.start(cfg, poller.Hooks{Standby: func() { refused.Add(1) }, Evaluated: func() { evaluated.Add(1) }}) // a standby
	waitFor(t, "the standby to be refused the lock", func() bool { return refused.Load() >= 3 })
	if err := first.stop(); err != nil {
		t.Fatalf("stop the active poller: %v", err)
	}
	// Its third reading begins after its second evaluation is complete.
	waitFor(t, "the standby to take over and evaluate twice", func() bool { return evaluated.Load() >= 3 })
	if n := e.logs.FilterMessage("active poller: holding the poller lock").Len(); n != 2 {
		t.Fatalf("the lock was taken %d times, want 2 (the standby took over)", n)
	}
	if diff := cmp.Diff(sent, e.alertState(alert.KeyDeadLetters)); diff != "" {
		t.Errorf("the new active poller announced the dead letter again: state (-before +after):\n%s", diff)
	}

	got := h.payloads()
	if len(got) != 1 {
		t.Fatalf("webhook got %d messages, want 1: %+v", len(got), got)
	}
	if p := got[0]; p.StatusCode != "WARNING" || p.ProjectName != "p" || p.FriendlyProjectName != "F" ||
		!strings.Contains(p.Message, "BCREG_DLQ holds 1 dead letter(s) (builder 1)") {
		t.Errorf("payload %+v", p)
	}
}

// alertState reads one alert's stored state.
func (e *env) alertState(key string) operator.AlertState {
	e.t.Helper()
	states, err := operator.AlertStates(testenv.Context(e.t), e.edb)
	if err != nil {
		e.t.Fatal(err)
	}
	st, ok := states[key]
	if !ok {
		e.t.Fatalf("no stored state for alert %s", key)
	}
	return st
}
