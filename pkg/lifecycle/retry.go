package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// ConnectBackoff is the start-up back-off: the first retry after Base,
// doubling to at most Max. Short at first, so a dependency that comes up a
// moment later costs little; capped, so a long outage is not hammered.
type ConnectBackoff struct {
	Base, Max time.Duration
	// Sleep waits d or until ctx ends (nil: a timer); tests pass a
	// controllable one.
	Sleep func(ctx context.Context, d time.Duration) error
}

// DefaultConnectBackoff is what the services and migrate use.
var DefaultConnectBackoff = ConnectBackoff{Base: 250 * time.Millisecond, Max: 5 * time.Second}

// Retry runs connect until it succeeds or ctx ends (its deadline is the
// bound, BCREG_START_TIMEOUT), waiting the back-off between attempts and
// logging each failure once as a warning. A service must survive its
// dependencies starting in any order (compose, Kubernetes), so a refused
// connection at start-up is waited out, not fatal. The error returned when
// ctx ends is the last attempt's, naming what was awaited.
func (b ConnectBackoff) Retry(ctx context.Context, log *zap.Logger, what string, connect func(ctx context.Context) error) error {
	sleep := b.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	delay := b.Base
	for attempt := 1; ; attempt++ {
		err := connect(ctx)
		var perm permanentError
		if errors.As(err, &perm) {
			return fmt.Errorf("%s: %w", what, perm.error) // a wrong password does not get right by waiting
		}
		if err == nil {
			if attempt > 1 {
				log.Info("connected", zap.String("to", what), zap.Int("attempts", attempt))
			}
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: gave up after %d attempts: %w", what, attempt, err)
		}
		log.Warn("waiting for a dependency", zap.String("to", what), zap.Int("attempt", attempt),
			zap.Duration("retry_in", delay), zap.Error(err))
		if serr := sleep(ctx, delay); serr != nil {
			return fmt.Errorf("%s: gave up after %d attempts: %w", what, attempt, err)
		}
		delay = min(2*delay, b.Max)
	}
}

// Permanent marks a connection error that waiting will not cure (wrong
// credentials, a database that does not exist, a malformed URL): Retry
// returns it at once instead of retrying until the deadline.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

type permanentError struct{ error }

func (p permanentError) Unwrap() error { return p.error }

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
