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
		{"second pass of the repeated hour", fallUTC.Add(5 * time.Minute), wall(fallUTC, 1, 5, 0, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := LocalOf(Registry, tc.utc)
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

// TestAt: "now" on the registry's clock is the latest wall time shown, so
// in the second pass of the repeated hour it stays at the end of the first
// pass (an event stamped 01:56 PDT is not in the future at 01:05 PST).
func TestAt(t *testing.T) {
	tests := []struct {
		name string
		at   time.Time
		want time.Time
	}{
		{"winter", time.Date(2026, 1, 15, 20, 0, 0, 0, time.UTC), time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)},
		{"first pass", fallUTC.Add(-4 * time.Minute), wall(fallUTC, 1, 56, 0, 0)},
		{"second pass", fallUTC.Add(5 * time.Minute), wall(fallUTC, 1, 59, 59, 999999)},
		{"after the repeated hour", fallUTC.Add(61 * time.Minute), wall(fallUTC, 2, 1, 0, 0)},
		{"after spring forward", springUTC.Add(time.Minute), wall(springUTC, 3, 1, 0, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, At(tc.at)); diff != "" {
				t.Errorf("At(%v) (-want +got):\n%s", tc.at, diff)
			}
		})
	}
}

func TestWithOffset(t *testing.T) {
	tests := []struct {
		name  string
		local time.Time
		want  string
	}{
		{"summer", time.Date(2018, 7, 24, 13, 47, 53, 0, time.UTC), "2018-07-24T13:47:53-07:00"},
		{"winter", time.Date(2019, 1, 2, 8, 0, 0, 0, time.UTC), "2019-01-02T08:00:00-08:00"},
		{"repeated hour: the first pass", time.Date(2018, 11, 4, 1, 30, 0, 0, time.UTC), "2018-11-04T01:30:00-07:00"},
		{"skipped hour: the jump", time.Date(2018, 3, 11, 2, 30, 0, 0, time.UTC), "2018-03-11T03:00:00-07:00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := WithOffset(Registry, tc.local).Format(time.RFC3339); got != tc.want {
				t.Errorf("WithOffset(%v) = %s, want %s", tc.local, got, tc.want)
			}
		})
	}
}
