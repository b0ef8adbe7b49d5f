package alert

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/eventdb/operator"
	"github.com/bcgov/bcreg-events/pkg/outbox"
	"github.com/bcgov/bcreg-events/pkg/pipeline"
)

// receiver is a local webhook that records what it is sent. While hold is
// set it answers nothing until hold is closed.
type receiver struct {
	mu       sync.Mutex
	payloads []Payload
	hold     chan struct{}
	marked   chan struct{}
	srv      *httptest.Server
}

// marker is the message drain queues behind the others.
const marker = "test marker: everything queued before it was posted"

func newReceiver(t *testing.T) *receiver {
	r := &receiver{marked: make(chan struct{}, 1)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var p Payload
		if err := json.NewDecoder(req.Body).Decode(&p); err != nil || req.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad payload", http.StatusBadRequest)
			return
		}
		if p.Message == marker {
			r.marked <- struct{}{}
			return
		}
		r.mu.Lock()
		r.payloads = append(r.payloads, p)
		hold := r.hold
		r.mu.Unlock()
		if hold != nil {
			<-hold
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) got() []Payload {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Payload(nil), r.payloads...)
}

// drain returns what the webhook received once each notifier posted
// everything queued on it so far: a marker queued behind those messages
// (bypassing the level filter and the hourly cap) arrives after them, as
// Run posts in order, one at a time. Nothing else can arrive later.
func (r *receiver) drain(t *testing.T, ns ...*Notifier) []Payload {
	t.Helper()
	for _, n := range ns {
		n.queue <- Payload{Message: marker}
		select {
		case <-r.marked:
		case <-time.After(time.Minute):
			t.Fatal("the notifier posted nothing for a minute")
		}
	}
	return r.got()
}

func testConfig(url string) Config {
	c := Config{WebhookURL: config.Secret(url), WebhookLevel: 2, ProjectName: DefaultProjectName,
		FriendlyProjectName: DefaultFriendlyProjectName, WebhookTimeout: time.Second, WebhookMaxPerHour: 100,
		AlertInterval: time.Minute, AlertRepeat: time.Hour, AlertQueueWarn: 10000, AlertQueueError: 100000,
		AlertWatermarkStale: time.Hour, AlertAgentStall: 15 * time.Minute}
	return c
}

func TestConfigFallsBackToTheOriginalsVariables(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want Config
	}{
		{"defaults", nil, Config{ProjectName: "von-bc-registries-agent", FriendlyProjectName: "BC Registries"}},
		{"original names", map[string]string{"WEBHOOK_URL": "http://hook/x", "WEBHOOK_LEVEL": "1", "PROJECT_NAME": "p", "FRIENDLY_PROJECT_NAME": "F"},
			Config{WebhookURL: "http://hook/x", WebhookLevel: 1, ProjectName: "p", FriendlyProjectName: "F"}},
		{"BCREG_ wins", map[string]string{"WEBHOOK_URL": "http://old", "WEBHOOK_LEVEL": "2", "BCREG_WEBHOOK_LEVEL": "0"},
			Config{WebhookURL: "http://old", WebhookLevel: 0, ProjectName: "von-bc-registries-agent", FriendlyProjectName: "BC Registries"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c Config
			c.ApplyFallbacks(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			if diff := cmp.Diff(tc.want, c); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestNotifierPayloadAndLevelFilter: the payload is the original's, and
// BCREG_WEBHOOK_LEVEL keeps errors only (0), adds warnings (1), adds
// information (2).
func TestNotifierPayloadAndLevelFilter(t *testing.T) {
	for level, want := range map[int][]string{0: {"ERROR"}, 1: {"ERROR", "WARNING"}, 2: {"ERROR", "WARNING", "INFO"}} {
		t.Run(Level(level).String(), func(t *testing.T) {
			r := newReceiver(t)
			cfg := testConfig(r.srv.URL)
			cfg.WebhookLevel = level
			n := NewNotifier(cfg, zap.NewNop(), nil)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go n.Run(ctx)
			n.Notify(Error, "e")
			n.Notify(Warning, "w")
			n.Notify(Info, "i")
			var gotCodes []string
			for _, p := range r.drain(t, n) {
				gotCodes = append(gotCodes, p.StatusCode)
				if p.ProjectName != "von-bc-registries-agent" || p.FriendlyProjectName != "BC Registries" || p.Message == "" {
					t.Errorf("payload %+v", p)
				}
			}
			if diff := cmp.Diff(want, gotCodes); diff != "" {
				t.Errorf("status codes sent (-want +got):\n%s", diff)
			}
		})
	}
	// The exact JSON keys the Rocket.Chat script reads.
	b, _ := json.Marshal(Payload{FriendlyProjectName: "BC Registries", ProjectName: "p", StatusCode: "ERROR", Message: "m"})
	if want := `{"friendlyProjectName":"BC Registries","projectName":"p","statusCode":"ERROR","message":"m"}`; string(b) != want {
		t.Errorf("payload JSON %s, want %s", b, want)
	}
}

// TestNotifierRateLimit: at most MaxPerHour messages an hour; the next one
// after the hour says how many were dropped.
func TestNotifierRateLimit(t *testing.T) {
	r := newReceiver(t)
	cfg := testConfig(r.srv.URL)
	cfg.WebhookMaxPerHour = 3
	n := NewNotifier(cfg, zap.NewNop(), nil)
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	n.now = func() time.Time { return clock }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go n.Run(ctx)
	for range 10 {
		n.Notify(Error, "outage")
	}
	if got := len(r.drain(t, n)); got != 3 {
		t.Fatalf("sent %d messages in the hour, want 3", got)
	}
	clock = clock.Add(time.Hour)
	n.Notify(Error, "still down")
	got := r.drain(t, n)
	if len(got) != 4 || !strings.Contains(got[3].Message, "7 further alert(s) were not sent") {
		t.Errorf("after the hour: %+v, want a 4th message counting 7 dropped", got)
	}
}

// TestNotifierNeverBlocks: a webhook that hangs costs the caller nothing;
// messages beyond the queue are dropped.
func TestNotifierNeverBlocks(t *testing.T) {
	r := newReceiver(t)
	hold := make(chan struct{})
	r.mu.Lock()
	r.hold = hold
	r.mu.Unlock()
	t.Cleanup(func() { close(hold) }) // before the server closes
	cfg := testConfig(r.srv.URL)
	cfg.WebhookTimeout = time.Hour // the first message hangs for the whole test
	n := NewNotifier(cfg, zap.NewNop(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go n.Run(ctx)
	done := make(chan int, 1)
	go func() {
		queued := 0
		for range 200 {
			if n.Notify(Error, "x") {
				queued++
			}
		}
		done <- queued
	}()
	var queued int
	select {
	case queued = <-done:
	case <-time.After(time.Minute):
		t.Fatal("Notify blocked behind a hanging webhook")
	}
	if queued > queueSize+1 {
		t.Errorf("%d messages queued, want at most %d", queued, queueSize+1)
	}
}

func ptr[T any](v T) *T { return &v }

func TestEvaluate(t *testing.T) {
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	th := Thresholds{QueueWarn: 10000, QueueError: 100000, WatermarkStale: time.Hour, AgentStall: 15 * time.Minute}
	healthy := func() pipeline.Report {
		return pipeline.Report{At: now,
			EventDB: operator.PipelineCounts{WatermarkEventID: 9, WatermarkEventDate: ptr(now.Add(-2 * time.Hour)), LastAnswer: ptr(now.Add(-time.Minute)),
				Tables: map[string]operator.TableCounts{}},
			DLQ:    pipeline.DLQ{ByStage: map[string]uint64{}},
			Source: &pipeline.Source{Read: true, NewestEventDate: ptr(now.Add(-2 * time.Hour))}}
	}
	// table changes one table's figures.
	table := func(f *pipeline.Report, name string, change func(*operator.TableCounts)) {
		c := f.EventDB.Tables[name]
		change(&c)
		f.EventDB.Tables[name] = c
	}
	creds := func(f *pipeline.Report, change func(*operator.TableCounts)) { table(f, "credential_log", change) }
	type got struct {
		Key   string
		Level Level
		Count int64
	}
	tests := []struct {
		name   string
		change func(*pipeline.Report)
		want   []got
	}{
		{"healthy", func(*pipeline.Report) {}, nil},
		{"failures and dead letters", func(f *pipeline.Report) {
			table(f, "event_by_corp_filing", func(c *operator.TableCounts) { c.Failed = 1 })
			creds(f, func(c *operator.TableCounts) { c.Failed, c.DeadLetter = 2, 3 })
			f.DLQ.Total, f.DLQ.ByStage["poster"] = 5, 5
		}, []got{{KeyFailures, Error, 6}, {KeyDeadLetters, Warning, 5}}},
		{"queue warning", func(f *pipeline.Report) { f.Events.Messages = 10001 }, []got{{KeyQueue, Warning, 0}}},
		{"queue error from credentials", func(f *pipeline.Report) { creds(f, func(c *operator.TableCounts) { c.Outstanding = 100001 }) }, []got{{KeyQueue, Error, 0}}},
		{"agent down", func(f *pipeline.Report) {
			creds(f, func(c *operator.TableCounts) { c.Outstanding = 4 })
			f.EventDB.OldestWaiting, f.EventDB.LastAnswer = ptr(now.Add(-20*time.Minute)), ptr(now.Add(-30*time.Minute))
		}, []got{{KeyAgent, Error, 0}}},
		{"agent slow but answering", func(f *pipeline.Report) {
			creds(f, func(c *operator.TableCounts) { c.Outstanding = 4 })
			f.EventDB.OldestWaiting = ptr(now.Add(-20 * time.Minute))
		}, nil},
		{"credentials republished after losing their bundle", func(f *pipeline.Report) { creds(f, func(c *operator.TableCounts) { c.Released = 3 }) }, []got{{KeyReleased, Warning, 3}}},
		{"abandoned credentials not released", func(f *pipeline.Report) {
			f.Abandoned = &outbox.Abandoned{Credentials: 2, Corps: []string{"BC1"}, Oldest: ptr(now.Add(-20 * time.Minute))}
		}, []got{{KeyAbandoned, Error, 0}}},
		{"abandoned credentials the next sweep releases", func(f *pipeline.Report) {
			f.Abandoned = &outbox.Abandoned{Credentials: 2, Corps: []string{"BC1"}, Oldest: ptr(now.Add(-time.Minute))}
		}, nil},
		{"watermark stale", func(f *pipeline.Report) { f.Source.NewestEventDate = ptr(now.Add(-30 * time.Minute)) }, []got{{KeyWatermark, Error, 0}}},
		{"unreachable", func(f *pipeline.Report) {
			f.Problems = []pipeline.Problem{{Of: pipeline.NATS, Err: context.DeadlineExceeded}}
		}, []got{{KeyUnreachable, Error, 0}}},
		// What could not be read is not judged: its zeros would read as
		// counts that fell (the growth alerts would start again from 0)
		// and a queue that emptied.
		{"unreadable figures are not judged", func(f *pipeline.Report) {
			f.Problems = []pipeline.Problem{{Of: pipeline.EventDB, Err: context.DeadlineExceeded}, {Of: pipeline.NATS, Err: context.DeadlineExceeded}}
			creds(f, func(c *operator.TableCounts) { c.Failed, c.Released, c.Outstanding = 2, 1, 100001 })
			f.DLQ.Total, f.Events.Messages = 3, 20000
			f.Source.NewestEventDate = ptr(now.Add(-30 * time.Minute))
		}, []got{{KeyUnreachable, Error, 0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := healthy()
			tc.change(&f)
			var res []got
			for _, fd := range Evaluate(f, th) {
				if fd.Growth && fd.Count == 0 {
					continue // a growth count at zero fires nothing
				}
				res = append(res, got{fd.Key, fd.Level, fd.Count})
			}
			if diff := cmp.Diff(tc.want, res); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

// memStore is an in-memory Store.
type memStore struct {
	mu sync.Mutex
	m  map[string]operator.AlertState
}

func (s *memStore) Load(context.Context) (map[string]operator.AlertState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]operator.AlertState{}
	for k, v := range s.m {
		out[k] = v
	}
	return out, nil
}

func (s *memStore) Save(_ context.Context, st operator.AlertState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]operator.AlertState{}
	}
	s.m[st.Key] = st
	return nil
}

// TestMonitorSendsAFewMessagesNotThousands: a lasting condition is sent
// once, again after the repeat interval, at once when it escalates, and
// resolved; a growing count is sent with its growth at most once per
// interval; a new monitor with the same store (a failover) repeats nothing.
func TestMonitorSendsAFewMessagesNotThousands(t *testing.T) {
	r := newReceiver(t)
	cfg := testConfig(r.srv.URL)
	clock := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	fig := pipeline.Report{EventDB: operator.PipelineCounts{Tables: map[string]operator.TableCounts{}}, DLQ: pipeline.DLQ{ByStage: map[string]uint64{}}}
	store := &memStore{}
	newMonitor := func() *Monitor {
		m := NewMonitor(cfg, zap.NewNop(), nil, store, func(context.Context) pipeline.Report {
			f := fig
			f.At = clock
			return f
		})
		m.now, m.n.now = func() time.Time { return clock }, func() time.Time { return clock }
		return m
	}
	m := newMonitor()
	first := m
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go m.n.Run(ctx)
	step := func(d time.Duration, change func()) {
		clock = clock.Add(d)
		if change != nil {
			change()
		}
		m.Check(ctx)
	}
	step(0, func() { fig.Events.Messages = 20000 }) // queue warning: sent
	for range 30 {                                  // 30 minutes more: nothing new
		step(time.Minute, nil)
	}
	step(time.Minute, func() { fig.Events.Messages = 200000 })                                           // escalation: sent at once
	step(time.Minute, func() { fig.EventDB.Tables["credential_log"] = operator.TableCounts{Failed: 3} }) // failures: sent
	step(time.Minute, func() { fig.EventDB.Tables["credential_log"] = operator.TableCounts{Failed: 5} }) // grew within the hour: held
	step(time.Hour, nil)                                                                                 // an hour on: growth (2) and the queue error again
	step(time.Minute, func() { fig.Events.Messages = 0 })                                                // resolved
	m = newMonitor()                                                                                     // failover: the same state
	go m.n.Run(ctx)
	step(time.Minute, nil)

	var got []string
	for _, p := range r.drain(t, first.n, m.n) {
		msg := p.Message
		if i := strings.IndexAny(msg, ";("); i > 0 {
			msg = msg[:i]
		}
		got = append(got, p.StatusCode+" "+strings.TrimSpace(msg))
	}
	want := []string{
		"WARNING 20000 corporations wait in BCREG_EVENTS",
		"ERROR 200000 corporations wait in BCREG_EVENTS",
		"ERROR bcreg-events failures: 0 corporation",
		"ERROR bcreg-events failures: 0 corporation",
		"ERROR 200000 corporations wait in BCREG_EVENTS",
		"INFO resolved: 200000 corporations wait in BCREG_EVENTS",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
	if all := r.got(); len(all) == 6 && !strings.Contains(all[3].Message, "(2 new since the last alert)") {
		t.Errorf("growth message %q should count 2 new", all[3].Message)
	}
}
