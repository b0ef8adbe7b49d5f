package poller

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/regclock"
	"github.com/bcgov/bcreg-events/pkg/regevent"
)

// The clock changes of 2026 in BC: back on 1 November at 09:00 UTC (02:00
// PDT becomes 01:00 PST, so 01:00 to 01:59 is shown twice), forward on
// 8 March at 10:00 UTC (02:00 PST becomes 03:00 PDT). The tests of whole
// change nights (services/event-poller/test) compute them for any year.
var (
	fallBack2026      = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	springForward2026 = time.Date(2026, 3, 8, 10, 0, 0, 0, time.UTC)
)

// TestCheckWatermark: a watermark after every wall time shown so far, or
// before 1900, is refused; in the second pass of the repeated autumn hour a
// watermark from the first pass is not in the future.
func TestCheckWatermark(t *testing.T) {
	instant := time.Date(2026, 11, 27, 16, 0, 0, 0, time.UTC) // 08:00 PST
	now := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	fb := fallBack2026
	secondPass := fb.Add(21 * time.Minute) // 01:21 PST
	wall := func(h, m int) time.Time { return time.Date(2026, 11, 1, h, m, 0, 0, time.UTC) }
	tests := []struct {
		name    string
		date    time.Time
		instant time.Time
		reject  bool
	}{
		{"recent", now.Add(-time.Minute), instant, false},
		{"exactly now", now, instant, false},
		{"registry start", time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), instant, false},
		{"future", now.Add(time.Second), instant, true},
		{"far future", time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC), instant, true},
		{"before 1900", time.Date(1899, 12, 31, 23, 59, 59, 0, time.UTC), instant, true},
		{"seed row date", time.Date(2, 1, 1, 0, 0, 0, 0, time.UTC), instant, true},
		{"first pass, polled in the second", wall(1, 49), secondPass, false},
		{"end of the first pass, polled in the second", wall(1, 59), secondPass, false},
		{"after the repeated hour, polled in it", wall(2, 0), secondPass, true},
		{"first pass, polled in the first before it", wall(1, 49), fb.Add(-20 * time.Minute), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkWatermark(regevent.At(7, tc.date), tc.instant)
			if (err != nil) != tc.reject {
				t.Errorf("checkWatermark(%s at %s) = %v, want rejected %v", tc.date, tc.instant, err, tc.reject)
			}
		})
	}
}

// TestWindow: the poll window is the look-back in real time: across the
// autumn change it spans both passes of the repeated hour, across the
// spring change it reaches back over the skipped hour; the horizon (what
// event_seen keeps) is never after any window's start.
func TestWindow(t *testing.T) {
	fb, sf := fallBack2026, springForward2026
	day := func(d time.Time, h, m int) time.Time {
		return time.Date(d.Year(), d.Month(), d.Day(), h, m, 0, 0, time.UTC)
	}
	tests := []struct {
		name     string
		wm       time.Time // naive
		now      time.Time // instant
		from, to time.Time // naive
		horizon  time.Time
	}{
		{"ordinary", day(fb, 12, 0).AddDate(0, 1, 0), day(fb, 20, 5).AddDate(0, 1, 0),
			day(fb, 11, 50).AddDate(0, 1, 0), day(fb, 12, 5).AddDate(0, 1, 0), day(fb, 11, 50).AddDate(0, 1, 0)},
		{"first pass, polled in the first", day(fb, 1, 49), fb.Add(-5 * time.Minute),
			day(fb, 1, 39), day(fb, 1, 55), day(fb, 1, 0)},
		{"first pass, polled in the second", day(fb, 1, 49), fb.Add(21 * time.Minute),
			day(fb, 1, 0), time.Date(2026, 11, 1, 1, 59, 59, 999999000, time.UTC), day(fb, 1, 0)},
		{"second pass (read as the first), polled after", day(fb, 1, 51), fb.Add(65 * time.Minute),
			day(fb, 1, 0), day(fb, 2, 5), day(fb, 1, 0)},
		{"after the repeated hour", day(fb, 2, 11), fb.Add(75 * time.Minute),
			day(fb, 2, 1), day(fb, 2, 15), day(fb, 2, 1)},
		{"spring: after the skipped hour", day(sf, 3, 1), sf.Add(3 * time.Minute),
			day(sf, 1, 51), day(sf, 3, 3), day(sf, 1, 51)},
		{"spring: before it", day(sf, 1, 55), sf.Add(-time.Minute),
			day(sf, 1, 45), day(sf, 1, 59), day(sf, 1, 45)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			from, to := window(tc.wm, 10*time.Minute, tc.now)
			got := [3]time.Time{from, to, regclock.Horizon(regclock.Registry, tc.wm, 10*time.Minute)}
			if diff := cmp.Diff([3]time.Time{tc.from, tc.to, tc.horizon}, got); diff != "" {
				t.Errorf("[from, to, horizon] (-want +got):\n%s", diff)
			}
		})
	}
}
