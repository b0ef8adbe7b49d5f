package poller

import (
	"time"

	"github.com/bcgov/bcreg-events/pkg/regevent"
)

// seenSet is the poll window's events that event_seen holds, as far as
// this replica knows: those it recorded and those event_seen answered for.
// While a poller runs, rows leave event_seen only beyond the look-back
// horizon (the poll's own pruning, `bcregctl prune` never inside the
// look-back), where the window never reaches, so what the set holds stays
// true; the recovery that deletes recent rows (docs/operations.md,
// rebuilding NATS) runs with the pollers stopped.
type seenSet map[seenKey]time.Time // the event's date, to forget it at the horizon

type seenKey struct {
	eventID int64
	corpNum string
}

func keyOf(e regevent.Event) seenKey { return seenKey{e.EventID, e.CorpNum} }

// unknown returns the events of evs the set does not hold, in order.
func (s seenSet) unknown(evs []regevent.Event) []regevent.Event {
	var out []regevent.Event
	for _, e := range evs {
		if _, ok := s[keyOf(e)]; !ok {
			out = append(out, e)
		}
	}
	return out
}

// addSeen records the events of asked that event_seen holds: all but the
// unseen ones.
func (s seenSet) addSeen(asked, unseen []regevent.Event) {
	not := make(map[seenKey]bool, len(unseen))
	for _, e := range unseen {
		not[keyOf(e)] = true
	}
	for _, e := range asked {
		if !not[keyOf(e)] {
			s[keyOf(e)] = e.Date.Time
		}
	}
}

// add records events written to event_seen and forgets those dated before
// horizon (pruned from event_seen by the same transaction).
func (s seenSet) add(evs []regevent.Event, horizon time.Time) {
	for _, e := range evs {
		s[keyOf(e)] = e.Date.Time
	}
	for k, d := range s {
		if d.Before(horizon) {
			delete(s, k)
		}
	}
}
