package bus

import (
	"math/rand/v2"
	"time"
)

// Backoff is an exponential back-off with ±20% jitter: Base·2^(n-1), capped
// at Max. The jitter keeps replicas that failed together from retrying in
// lockstep.
type Backoff struct {
	Base time.Duration `envconfig:"RETRY_BASE" default:"1s"`
	Max  time.Duration `envconfig:"RETRY_MAX" default:"5m"`
}

// Delay returns the wait before attempt n+1 after n failures (n ≥ 1).
func (b Backoff) Delay(n int) time.Duration {
	base, maxD := b.Base, b.Max
	if base <= 0 {
		base = time.Second
	}
	if maxD < base {
		maxD = base
	}
	d := base
	for i := 1; i < n && d < maxD; i++ {
		d *= 2
	}
	if d > maxD {
		d = maxD
	}
	jitter := 0.8 + 0.4*rand.Float64()
	return time.Duration(float64(d) * jitter)
}
