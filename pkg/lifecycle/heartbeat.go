package lifecycle

import (
	"fmt"
	"sync"
	"time"
)

// DefaultLivenessBound is how long a worker loop may go without a beat
// before /livez fails (BCREG_LIVENESS_BOUND): far above any step's normal
// length (a builder batch takes well under a second, a poster request at
// most BCREG_POSTER_REQUEST_TIMEOUT, a publishing round
// BCREG_POLL_PUBLISH_TIMEOUT), so only a loop that stopped turning trips it.
const DefaultLivenessBound = 10 * time.Minute

// Option configures a Health.
type Option func(*Health)

// WithClock sets the clock the heartbeats are read against (default
// time.Now); tests pass a controllable one.
func WithClock(now func() time.Time) Option {
	return func(h *Health) {
		if now != nil {
			h.now = now
		}
	}
}

// WithLivenessBound sets how long a heartbeat may be silent before /livez
// fails (default DefaultLivenessBound; 0 keeps it).
func WithLivenessBound(d time.Duration) Option {
	return func(h *Health) {
		if d > 0 {
			h.bound = d
		}
	}
}

// WithPprof serves Go's profiler (net/http/pprof) under /debug/pprof/ on
// the side port when on (BCREG_PPROF): off by default, since a profile
// costs CPU and shows the program's internals to whoever reaches the port.
func WithPprof(on bool) Option {
	return func(h *Health) { h.pprof = on }
}

// Heartbeat is one worker loop's sign of life. The loop calls Beat each
// time round, and Pause before a wait that its own timer ends (the poll
// interval, the lock retry): a paused loop is idle, not stuck, until its
// next Beat. A nil Heartbeat does nothing.
type Heartbeat struct {
	name   string
	now    func() time.Time
	mu     sync.Mutex
	last   time.Time
	paused bool
}

// Beat records that the loop is turning.
func (b *Heartbeat) Beat() {
	if b == nil {
		return
	}
	now := b.now()
	b.mu.Lock()
	b.last, b.paused = now, false
	b.mu.Unlock()
}

// Pause marks the loop as waiting on its own timer until the next Beat.
func (b *Heartbeat) Pause() {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.paused = true
	b.mu.Unlock()
}

// silence is how long the loop has not beaten at now (0 while paused).
func (b *Heartbeat) silence(now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.paused {
		return 0
	}
	return now.Sub(b.last)
}

// Heartbeat registers a worker loop under name (shown by /livez when it
// fails) and returns its heartbeat, counted as beaten now.
func (h *Health) Heartbeat(name string) *Heartbeat {
	b := &Heartbeat{name: name, now: h.now}
	b.Beat()
	h.mu.Lock()
	h.beats = append(h.beats, b)
	h.mu.Unlock()
	return b
}

// Live reports whether every worker loop has beaten within the bound; the
// report names each loop that has not.
func (h *Health) Live() (failed bool, report string) {
	h.mu.Lock()
	beats := append([]*Heartbeat(nil), h.beats...)
	h.mu.Unlock()
	now := h.now()
	for _, b := range beats {
		if s := b.silence(now); s > h.bound {
			failed = true
			report += fmt.Sprintf("%s: no heartbeat for %v (bound %v, BCREG_LIVENESS_BOUND): stuck\n", b.name, s.Round(time.Second), h.bound)
		}
	}
	return failed, report
}
