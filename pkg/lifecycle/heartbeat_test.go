package lifecycle

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"
)

// clock is a controllable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestLivezFailsWhenALoopStopsBeating: /livez answers 200 while every
// worker loop beats within the bound (or waits on its own timer, paused)
// and 503, naming the loop, once one has been silent longer than the bound.
func TestLivezFailsWhenALoopStopsBeating(t *testing.T) {
	type resp struct {
		Code int
		Body string
	}
	const bound = 10 * time.Minute
	stuck := resp{503, "consume: no heartbeat for 10m1s (bound 10m0s, BCREG_LIVENESS_BOUND): stuck\n"}
	tests := []struct {
		name string
		// step runs on the poll loop's and the consume loop's heartbeats
		// and the clock, after both beat at the start.
		step func(c *clock, poll, consume *Heartbeat)
		want resp
	}{
		{"both just beat", func(*clock, *Heartbeat, *Heartbeat) {}, resp{200, "ok\n"}},
		{"silent for the bound exactly", func(c *clock, _, _ *Heartbeat) { c.Advance(bound) }, resp{200, "ok\n"}},
		{"one loop silent past the bound", func(c *clock, poll, _ *Heartbeat) {
			c.Advance(bound / 2)
			poll.Beat()
			c.Advance(bound/2 + time.Second)
		}, stuck},
		{"both silent past the bound", func(c *clock, _, _ *Heartbeat) { c.Advance(bound + time.Second) },
			resp{503, "poll: no heartbeat for 10m1s (bound 10m0s, BCREG_LIVENESS_BOUND): stuck\n" + stuck.Body}},
		{"a paused loop is idle, not stuck", func(c *clock, poll, consume *Heartbeat) {
			poll.Pause()
			c.Advance(3 * bound)
			consume.Beat()
		}, resp{200, "ok\n"}},
		{"a beat after the pause counts from then", func(c *clock, poll, consume *Heartbeat) {
			poll.Pause()
			c.Advance(3 * bound)
			poll.Beat()
			consume.Beat()
			c.Advance(bound + time.Second)
			consume.Beat()
		}, resp{503, "poll: no heartbeat for 10m1s (bound 10m0s, BCREG_LIVENESS_BOUND): stuck\n"}},
		{"a loop beating again recovers", func(c *clock, poll, consume *Heartbeat) {
			c.Advance(bound + time.Second)
			poll.Beat()
			consume.Beat()
		}, resp{200, "ok\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{t: time.Date(2026, 11, 27, 14, 0, 0, 0, time.UTC)}
			h := NewHealth(zaptest.NewLogger(t), WithClock(c.Now), WithLivenessBound(bound))
			poll, consume := h.Heartbeat("poll"), h.Heartbeat("consume")
			if err := h.Serve("127.0.0.1:0"); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = h.Shutdown(context.Background()) })
			tt.step(c, poll, consume)
			code, body := get(t, "http://"+h.Addr()+"/livez")
			if diff := cmp.Diff(tt.want, resp{code, body}); diff != "" {
				t.Errorf("/livez (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNilHeartbeat: a loop run without a side port (a test, a one-shot
// command) may beat a nil heartbeat.
func TestNilHeartbeat(t *testing.T) {
	var b *Heartbeat
	b.Beat()
	b.Pause()
}
