// Package regevent is the vocabulary of the registry's event stream: a
// Position in it (an event id and its naive timestamp on the registry's
// clock) and an Event (a position and the corporation it concerns). The
// poller's watermark, a work item's range in a CorpEvent or a
// CredentialBundle, the builder's and the generator's range and the rows
// of event_seen all use these types, so a position is compared, stored and
// sent one way (docs/design/messages.md). Its JSON is the wire form of a
// message's prev and last.
package regevent

import (
	"cmp"
	"time"

	"github.com/bcgov/bcreg-events/pkg/regclock"
)

// Position is a place in the registry's event stream. Positions are
// ordered by date, then by event id: ids are not issued in date order.
type Position struct {
	EventID int64              `json:"event_id"`
	Date    regclock.LocalTime `json:"event_date"`
}

// At is the position of event id dated date (its wall clock is taken,
// whatever its location).
func At(id int64, date time.Time) Position {
	return Position{EventID: id, Date: regclock.NewLocalTime(date)}
}

// Start is the start of the whole history, where the range of an initial
// load or an operator's requeue begins: event 0 at 0001-01-01T00:00:00. An
// unchanged corporation then issues nothing new, its credentials' hashes
// being known.
var Start = At(0, time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC))

// maxEventID stands above every event id of the registry.
const maxEventID = 1<<62 - 1

// Through is the position after every event dated at or before date: the
// end of a range that takes in the whole history up to date.
func Through(date time.Time) Position { return At(maxEventID, date) }

// Compare returns -1, 0 or +1 as p comes before, at or after o.
func (p Position) Compare(o Position) int {
	if c := p.Date.Compare(o.Date.Time); c != 0 {
		return c
	}
	return cmp.Compare(p.EventID, o.EventID)
}

// Before reports whether p comes before o.
func (p Position) Before(o Position) bool { return p.Compare(o) < 0 }

// Min returns the earlier of a and b (a when they are equal).
func Min(a, b Position) Position {
	if b.Before(a) {
		return b
	}
	return a
}

// Max returns the later of a and b (a when they are equal).
func Max(a, b Position) Position {
	if a.Before(b) {
		return b
	}
	return a
}

// Event is an event of the registry: its position and its corporation ("" for
// an event without one).
type Event struct {
	Position
	CorpNum string
}
