package regclock

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLocalOf(t *testing.T) {
	tests := []struct {
		name string
		utc  time.Time
		want time.Time
	}{
		{"winter PST", time.Date(2026, 1, 15, 20, 0, 0, 0, time.UTC), time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)},
		{"summer PDT", time.Date(2026, 7, 1, 19, 0, 0, 0, time.UTC), time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)},
		{"just after spring forward", time.Date(2026, 3, 8, 10, 0, 0, 0, time.UTC), time.Date(2026, 3, 8, 3, 0, 0, 0, time.UTC)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := At(tc.utc)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			// Round trip: the local time converts back to the same instant.
			back, err := UTC(History, got)
			if err != nil || !back.Equal(tc.utc) {
				t.Errorf("UTC(LocalOf(%v)) = %v, %v", tc.utc, back, err)
			}
		})
	}
}
