package bus_test

import (
	"testing"
	"time"

	"github.com/bcgov/bcreg-events/pkg/bus"
)

// TestBackoffDelay: Base·2^(n-1) capped at Max, within ±20% jitter (the
// poster's hold delay and every redelivery back-off rely on it).
func TestBackoffDelay(t *testing.T) {
	hold := bus.Backoff{Base: 500 * time.Millisecond, Max: 30 * time.Second}
	tests := []struct {
		name string
		b    bus.Backoff
		n    int
		want time.Duration
	}{
		{"no delivery yet is the base", hold, 0, 500 * time.Millisecond},
		{"first failure is the base", hold, 1, 500 * time.Millisecond},
		{"doubles", hold, 2, time.Second},
		{"doubles again", hold, 4, 4 * time.Second},
		{"capped at max", hold, 8, 30 * time.Second},
		{"far past the cap", hold, 1000, 30 * time.Second},
		{"zero base means one second", bus.Backoff{}, 1, time.Second},
		{"max below base is the base", bus.Backoff{Base: 2 * time.Second, Max: time.Second}, 5, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lo, hi := time.Duration(float64(tt.want)*0.8), time.Duration(float64(tt.want)*1.2)
			for range 200 {
				if d := tt.b.Delay(tt.n); d < lo || d > hi {
					t.Fatalf("Delay(%d) = %v, want within [%v, %v]", tt.n, d, lo, hi)
				}
			}
		})
	}
}
