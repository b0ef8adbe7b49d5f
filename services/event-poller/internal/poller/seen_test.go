package poller

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/regevent"
)

func TestSeenSet(t *testing.T) {
	day := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	ev := func(id int64, corp string, minutes int) regevent.Event {
		return regevent.Event{Position: regevent.At(id, day.Add(time.Duration(minutes)*time.Minute)), CorpNum: corp}
	}
	a, b, c, d := ev(1, "A", 0), ev(2, "B", 5), ev(3, "C", 9), ev(4, "D", 12)
	s := seenSet{}
	s.add([]regevent.Event{a, b}, day.Add(-time.Hour))     // recorded by a poll
	s.addSeen([]regevent.Event{c, d}, []regevent.Event{d}) // event_seen had c, not d
	tests := []struct {
		name string
		evs  []regevent.Event
		want []regevent.Event
	}{
		{"all known", []regevent.Event{a, b, c}, nil},
		{"the unseen one is asked about again", []regevent.Event{a, d}, []regevent.Event{d}},
		{"another corporation of a known event is unknown", []regevent.Event{ev(1, "Z", 0)}, []regevent.Event{ev(1, "Z", 0)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, s.unknown(tc.evs)); diff != "" {
				t.Errorf("unknown (-want +got):\n%s", diff)
			}
		})
	}
	s.add(nil, day.Add(6*time.Minute)) // the horizon passed a and b
	if diff := cmp.Diff([]regevent.Event{a, b}, s.unknown([]regevent.Event{a, b, c})); diff != "" {
		t.Errorf("after the horizon, unknown (-want +got):\n%s", diff)
	}
}
