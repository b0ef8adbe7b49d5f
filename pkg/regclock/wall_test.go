package regclock

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The changes of 2026 (pytz PST8PDT): clocks go forward at 2026-03-08
// 10:00 UTC (02:00 PST → 03:00 PDT) and back at 2026-11-01 09:00 UTC (02:00
// PDT → 01:00 PST).
var (
	springUTC = time.Date(2026, 3, 8, 10, 0, 0, 0, time.UTC)
	fallUTC   = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
)

// wall is a naive wall-clock time on day d (a UTC time.Time, as LocalOf).
func wall(d time.Time, h, m, s, us int) time.Time {
	return time.Date(d.Year(), d.Month(), d.Day(), h, m, s, us*1000, time.UTC)
}

func TestWallSpan(t *testing.T) {
	summer := time.Date(2026, 7, 1, 19, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		from, to time.Time
		lo, hi   time.Time
	}{
		{"ordinary summer span", summer, summer.Add(10 * time.Minute), wall(summer, 12, 0, 0, 0), wall(summer, 12, 10, 0, 0)},
		{"swapped bounds", summer.Add(10 * time.Minute), summer, wall(summer, 12, 0, 0, 0), wall(summer, 12, 10, 0, 0)},
		{"one instant", summer, summer, wall(summer, 12, 0, 0, 0), wall(summer, 12, 0, 0, 0)},
		{"first pass of the repeated hour only", fallUTC.Add(-20 * time.Minute), fallUTC.Add(-time.Microsecond),
			wall(fallUTC, 1, 40, 0, 0), wall(fallUTC, 1, 59, 59, 999999)},
		{"across fall-back: both passes", fallUTC.Add(-11 * time.Minute), fallUTC.Add(21 * time.Minute),
			wall(fallUTC, 1, 0, 0, 0), wall(fallUTC, 1, 59, 59, 999999)},
		{"the change instant itself", fallUTC, fallUTC, wall(fallUTC, 1, 0, 0, 0), wall(fallUTC, 1, 0, 0, 0)},
		{"across fall-back, ending in the next hour", fallUTC.Add(-11 * time.Minute), fallUTC.Add(65 * time.Minute),
			wall(fallUTC, 1, 0, 0, 0), wall(fallUTC, 2, 5, 0, 0)},
		{"across spring-forward: the skipped hour is not shown", springUTC.Add(-9 * time.Minute), springUTC.Add(2 * time.Minute),
			wall(springUTC, 1, 51, 0, 0), wall(springUTC, 3, 2, 0, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lo, hi := WallSpan(History, tc.from, tc.to)
			if diff := cmp.Diff([2]time.Time{tc.lo, tc.hi}, [2]time.Time{lo, hi}); diff != "" {
				t.Errorf("WallSpan (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLatestWallAndEarliestWallSince(t *testing.T) {
	tests := []struct {
		name           string
		at             time.Time
		latest, sinceL time.Time
	}{
		{"ordinary winter", time.Date(2026, 1, 15, 20, 0, 0, 0, time.UTC),
			time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC), time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)},
		{"an hour before fall-back: the repeated hour is next", fallUTC.Add(-time.Hour),
			wall(fallUTC, 1, 0, 0, 0), wall(fallUTC, 1, 0, 0, 0)},
		{"in the first pass", fallUTC.Add(-11 * time.Minute),
			wall(fallUTC, 1, 49, 0, 0), wall(fallUTC, 1, 0, 0, 0)},
		{"in the second pass: the first pass was shown", fallUTC.Add(21 * time.Minute),
			wall(fallUTC, 1, 59, 59, 999999), wall(fallUTC, 1, 21, 0, 0)},
		{"after the repeated hour", fallUTC.Add(61 * time.Minute),
			wall(fallUTC, 2, 1, 0, 0), wall(fallUTC, 2, 1, 0, 0)},
		{"after spring-forward", springUTC.Add(time.Minute),
			wall(springUTC, 3, 1, 0, 0), wall(springUTC, 3, 1, 0, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := [2]time.Time{LatestWall(History, tc.at), EarliestWallSince(History, tc.at)}
			if diff := cmp.Diff([2]time.Time{tc.latest, tc.sinceL}, got); diff != "" {
				t.Errorf("[LatestWall, EarliestWallSince] (-want +got):\n%s", diff)
			}
		})
	}
}

// TestHorizon: the earliest wall time a 10-minute look-back (real time)
// from a watermark reaches; in autumn, the start of the repeated hour.
func TestHorizon(t *testing.T) {
	tests := []struct {
		name string
		wm   time.Time
		want time.Time
	}{
		{"ordinary winter", time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC), time.Date(2026, 1, 15, 11, 50, 0, 0, time.UTC)},
		{"an hour before fall-back", wall(fallUTC, 0, 40, 0, 0), wall(fallUTC, 0, 30, 0, 0)},
		{"in the repeated hour", wall(fallUTC, 1, 49, 0, 0), wall(fallUTC, 1, 0, 0, 0)},
		{"after the repeated hour", wall(fallUTC, 2, 11, 0, 0), wall(fallUTC, 2, 1, 0, 0)},
		{"after spring-forward: back over the skipped hour", wall(springUTC, 3, 1, 0, 0), wall(springUTC, 1, 51, 0, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Horizon(History, tc.wm, 10*time.Minute)); diff != "" {
				t.Errorf("Horizon(%v) (-want +got):\n%s", tc.wm, diff)
			}
		})
	}
}

func TestEarliestInstant(t *testing.T) {
	tests := []struct {
		name  string
		local time.Time
		want  time.Time
	}{
		{"ordinary winter", time.Date(2026, 1, 15, 1, 30, 0, 0, time.UTC), time.Date(2026, 1, 15, 9, 30, 0, 0, time.UTC)},
		{"ordinary summer", time.Date(2026, 7, 1, 1, 30, 0, 0, time.UTC), time.Date(2026, 7, 1, 8, 30, 0, 0, time.UTC)},
		{"before the repeated hour", wall(fallUTC, 0, 59, 0, 0), fallUTC.Add(-61 * time.Minute)},
		{"repeated hour: the first pass", wall(fallUTC, 1, 30, 0, 0), fallUTC.Add(-30 * time.Minute)},
		{"after the repeated hour", wall(fallUTC, 2, 0, 0, 0), fallUTC.Add(time.Hour)},
		{"skipped hour: the jump over it", wall(springUTC, 2, 30, 0, 0), springUTC},
		{"start of the skipped hour", wall(springUTC, 2, 0, 0, 0), springUTC},
		{"just after the jump", wall(springUTC, 3, 0, 0, 0), springUTC},
		{"just before the jump", wall(springUTC, 1, 59, 0, 0), springUTC.Add(-time.Minute)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := EarliestInstant(History, tc.local)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("EarliestInstant(%v) (-want +got):\n%s", tc.local, diff)
			}
			// The clock reaches local at that instant (or jumps past it),
			// and showed an earlier time just before.
			if at, before := LocalOf(History, got), LocalOf(History, got.Add(-time.Microsecond)); at.Before(tc.local) || !before.Before(tc.local) {
				t.Errorf("the wall clock shows %v at %v and %v just before; want local %v reached there first", at, got, before, tc.local)
			}
		})
	}
}
