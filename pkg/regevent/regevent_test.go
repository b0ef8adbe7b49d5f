package regevent_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/regevent"
)

func day(h, m int) time.Time { return time.Date(2019, 3, 2, h, m, 0, 0, time.UTC) }

// TestCompare: positions order by date, then id (ids are not issued in date
// order); Min and Max keep the first of two equal positions.
func TestCompare(t *testing.T) {
	tests := []struct {
		name     string
		a, b     regevent.Position
		want     int
		min, max regevent.Position
	}{
		{"earlier date, higher id", regevent.At(9, day(9, 0)), regevent.At(1, day(9, 1)), -1, regevent.At(9, day(9, 0)), regevent.At(1, day(9, 1))},
		{"same date, lower id", regevent.At(1, day(9, 0)), regevent.At(2, day(9, 0)), -1, regevent.At(1, day(9, 0)), regevent.At(2, day(9, 0))},
		{"same position", regevent.At(5, day(9, 0)), regevent.At(5, day(9, 0)), 0, regevent.At(5, day(9, 0)), regevent.At(5, day(9, 0))},
		{"later date", regevent.At(1, day(10, 0)), regevent.At(7, day(9, 0)), 1, regevent.At(7, day(9, 0)), regevent.At(1, day(10, 0))},
		{"start before everything", regevent.Start, regevent.At(0, time.Date(1, 1, 1, 0, 0, 0, 1000, time.UTC)), -1, regevent.Start, regevent.At(0, time.Date(1, 1, 1, 0, 0, 0, 1000, time.UTC))},
		{"through a date after its events", regevent.Through(day(9, 0)), regevent.At(111258289, day(9, 0)), 1, regevent.At(111258289, day(9, 0)), regevent.Through(day(9, 0))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.a.Compare(tc.b); got != tc.want {
				t.Errorf("Compare = %d, want %d", got, tc.want)
			}
			if got := tc.a.Before(tc.b); got != (tc.want < 0) {
				t.Errorf("Before = %v, want %v", got, tc.want < 0)
			}
			if diff := cmp.Diff(tc.min, regevent.Min(tc.a, tc.b)); diff != "" {
				t.Errorf("Min (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.max, regevent.Max(tc.a, tc.b)); diff != "" {
				t.Errorf("Max (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAtTakesTheWallClock: a position carries the naive wall clock of the
// date it is given, whatever its location, to the microsecond (the
// registry's precision).
func TestAtTakesTheWallClock(t *testing.T) {
	pst := time.FixedZone("PST", -8*3600)
	got := regevent.At(7, time.Date(2019, 1, 2, 3, 4, 5, 123456789, pst))
	want := regevent.At(7, time.Date(2019, 1, 2, 3, 4, 5, 123456000, time.UTC))
	if got != want {
		t.Errorf("At = %#v, want %#v", got, want)
	}
}

// TestJSON pins a position's wire form, the prev and last of every message.
func TestJSON(t *testing.T) {
	tests := []struct {
		name string
		pos  regevent.Position
		want string
	}{
		{"start", regevent.Start, `{"event_id":0,"event_date":"0001-01-01T00:00:00"}`},
		{"microseconds", regevent.At(7, time.Date(2019, 1, 2, 3, 4, 5, 123456000, time.UTC)), `{"event_id":7,"event_date":"2019-01-02T03:04:05.123456"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.pos)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, string(b)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			var back regevent.Position
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.pos, back); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}
