package poller

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bcgov/bcreg-events/pkg/alert"
	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/testenv"
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
	cfg := e.config(func(c *Config) {
		c.InitialLoad = InitialLoadSkip
		c.Config = alert.Config{WebhookURL: config.Secret(h.srv.URL), WebhookLevel: 1, ProjectName: "p", FriendlyProjectName: "F",
			WebhookTimeout: time.Second, WebhookMaxPerHour: 10, AlertInterval: 50 * time.Millisecond, AlertRepeat: time.Hour,
			AlertQueueWarn: 10000, AlertQueueError: 100000, AlertWatermarkStale: time.Hour, AlertAgentStall: 15 * time.Minute}
	})
	ctx := testenv.Context(t)
	dl := bus.DeadLetterFor("builder", "corporation X1: no corporation row", 1, bus.StreamEvents, 7, bus.EventSubject("BC_REG", "X1"), nil, []byte(`{}`))
	if err := bus.PublishDeadLetter(ctx, e.js, dl, e.config().Backoff); err != nil {
		t.Fatal(err)
	}

	first := e.start(cfg, hooks{})
	select {
	case <-h.seen:
	case <-time.After(20 * time.Second):
		t.Fatal("no alert within 20s")
	}
	e.start(cfg, hooks{}) // a standby
	time.Sleep(500 * time.Millisecond)
	if err := first.stop(); err != nil {
		t.Fatalf("stop the active poller: %v", err)
	}
	time.Sleep(time.Second) // the standby takes over and evaluates ~20 times
	if n := e.logs.FilterMessage("active poller: holding the poller lock").Len(); n != 2 {
		t.Fatalf("the lock was taken %d times, want 2 (the standby took over)", n)
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
