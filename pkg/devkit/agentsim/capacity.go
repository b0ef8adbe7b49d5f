package agentsim

import (
	"context"
	"sync"
)

// slots is a FIFO semaphore whose size can change at run time, the stand-in
// for the agent's MAX_CONCURRENT_STORAGE semaphore. A limit of zero means no
// limit.
type slots struct {
	mu      sync.Mutex
	limit   int
	inUse   int
	waiters []*slotWaiter
}

type slotWaiter struct {
	ready   chan struct{}
	granted bool
	waiting int // credentials still waiting when this one was granted
}

func newSlots(limit int) *slots { return &slots{limit: limit} }

// acquire waits for a slot in arrival order. It returns how many credentials
// were still waiting when the slot was granted.
func (s *slots) acquire(ctx context.Context) (waiting int, err error) {
	s.mu.Lock()
	if len(s.waiters) == 0 && (s.limit == 0 || s.inUse < s.limit) {
		s.inUse++
		s.mu.Unlock()
		return 0, nil
	}
	w := &slotWaiter{ready: make(chan struct{})}
	s.waiters = append(s.waiters, w)
	s.mu.Unlock()

	select {
	case <-w.ready:
		return w.waiting, nil
	case <-ctx.Done():
		s.mu.Lock()
		defer s.mu.Unlock()
		if w.granted {
			s.inUse--
			s.grantLocked()
		} else {
			for i, x := range s.waiters {
				if x == w {
					s.waiters = append(s.waiters[:i], s.waiters[i+1:]...)
					break
				}
			}
		}
		return 0, ctx.Err()
	}
}

// release gives a slot back.
func (s *slots) release() {
	s.mu.Lock()
	s.inUse--
	s.grantLocked()
	s.mu.Unlock()
}

// setLimit changes the number of slots. Lowering it lets the credentials in
// progress finish.
func (s *slots) setLimit(n int) {
	s.mu.Lock()
	s.limit = n
	s.grantLocked()
	s.mu.Unlock()
}

// waiting returns the number of credentials waiting for a slot.
func (s *slots) waiting() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.waiters)
}

func (s *slots) grantLocked() {
	for len(s.waiters) > 0 && (s.limit == 0 || s.inUse < s.limit) {
		w := s.waiters[0]
		s.waiters = s.waiters[1:]
		s.inUse++
		w.granted = true
		w.waiting = len(s.waiters)
		close(w.ready)
	}
}
