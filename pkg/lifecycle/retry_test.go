package lifecycle

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"
)

// TestRetryBacksOffUntilConnected: refused attempts are retried with a
// doubling, capped back-off until one succeeds; when the start-up deadline
// ends the wait, the error names what was awaited and the last failure.
func TestRetryBacksOffUntilConnected(t *testing.T) {
	refused := errors.New("connection refused")
	for _, tc := range []struct {
		name       string
		failures   int  // attempts that fail before one succeeds
		cancelAt   int  // the sleep that ends the context (0: none)
		permanent  bool // the failures are marked Permanent
		wantSleeps []time.Duration
		wantErr    string
	}{
		{name: "up at once", failures: 0},
		{name: "up after four refusals", failures: 4,
			wantSleeps: []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second}},
		{name: "wrong password: no retry", failures: 100, permanent: true,
			wantErr: "NATS at nats://x:4222: connection refused"},
		{name: "never up: deadline", failures: 100, cancelAt: 3,
			wantSleeps: []time.Duration{time.Second, 2 * time.Second, 3 * time.Second},
			wantErr:    "NATS at nats://x:4222: gave up after 3 attempts: connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var sleeps []time.Duration
			b := ConnectBackoff{Base: time.Second, Max: 3 * time.Second,
				Sleep: func(ctx context.Context, d time.Duration) error {
					sleeps = append(sleeps, d)
					if len(sleeps) == tc.cancelAt {
						cancel()
						return ctx.Err()
					}
					return nil
				}}
			attempts := 0
			err := b.Retry(ctx, zaptest.NewLogger(t), "NATS at nats://x:4222", func(context.Context) error {
				attempts++
				if attempts <= tc.failures {
					if tc.permanent {
						return Permanent(refused)
					}
					return refused
				}
				return nil
			})
			if diff := cmp.Diff(tc.wantSleeps, sleeps); diff != "" {
				t.Errorf("back-off (-want +got):\n%s", diff)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("err = %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, refused)):
				t.Errorf("err = %v, want %q wrapping the refusal", err, tc.wantErr)
			}
		})
	}
}
