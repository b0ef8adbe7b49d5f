package regclock

import (
	"slices"
	"time"
)

// The registry stamps events with the naive wall clock, which is not
// monotonic: when clocks are put back, an hour of wall times is shown twice;
// when they go forward, an hour is never shown. A reader that must not miss
// a row reasons about the wall times shown during a span of real time, not
// about a span of wall times. These helpers give those bounds by the zone's
// rules (the same table as LocalOf), so every machine agrees.

// WallSpan returns the earliest and the latest naive wall-clock time (in a
// UTC time.Time, as LocalOf) that the zone's clocks show at the instants
// from..to, both included (swapped if to is before from). Across a change
// that puts clocks back, lo reaches down into the repeated times and hi up
// to the last time shown before the change.
func WallSpan(zone Zone, from, to time.Time) (lo, hi time.Time) {
	tab := zone.table()
	a, b := from.UTC().UnixMicro(), to.UTC().UnixMicro()
	if b < a {
		a, b = b, a
	}
	l, h := a+tab.at(a).offset, b+tab.at(b).offset
	// start[0] stands for datetime.min, not a change of clocks.
	i, _ := slices.BinarySearch(tab.start, a+1)
	for i = max(i, 1); i < len(tab.start) && tab.start[i] <= b; i++ {
		s := tab.start[i]
		h = max(h, s-1+tab.info[i-1].offset) // the last microsecond before the change
		l = min(l, s+tab.info[i].offset)
	}
	return time.UnixMicro(l).UTC(), time.UnixMicro(h).UTC()
}

// LatestWall returns the latest naive wall-clock time the zone's clocks have
// shown at or before the instant t: during the second pass of a repeated
// hour, the end of that hour, not the wall clock at t.
func LatestWall(zone Zone, t time.Time) time.Time {
	_, hi := WallSpan(zone, t.Add(-zone.table().maxStepBack()), t)
	return hi
}

// EarliestWallSince returns the earliest naive wall-clock time the zone's
// clocks show at or after the instant t: the start of a repeated hour that
// begins within the hour after t, else the wall clock at t.
func EarliestWallSince(zone Zone, t time.Time) time.Time {
	lo, _ := WallSpan(zone, t, t.Add(zone.table().maxStepBack()))
	return lo
}

// Horizon returns the earliest naive wall-clock time a read that looks back
// lookBack in real time from the wall time wm can meet: the earliest the
// zone's clocks show from lookBack before the earliest instant wm stands
// for. A row stamped before it is never read again by such a read, so it
// may be forgotten (the poller's event_seen; `bcregctl prune`). In autumn,
// a wm in or just after the repeated hour reaches back to its start.
func Horizon(zone Zone, wm time.Time, lookBack time.Duration) time.Time {
	return EarliestWallSince(zone, EarliestInstant(zone, wm).Add(-lookBack))
}

// EarliestInstant returns the earliest instant at which the zone's clocks
// show the naive wall-clock time local: in a repeated hour its first pass
// (daylight time). A time the clocks skip (spring forward) was never shown;
// the answer is then the instant the clocks jumped over it.
func EarliestInstant(zone Zone, local time.Time) time.Time {
	tab := zone.table()
	w, ok := wallMicros(local)
	if !ok {
		return local
	}
	// The periods that can apply are those in effect within a day of w
	// (offsets are far below a day), looked up as localize does.
	best, found := int64(0), false
	lowest := int64(0)
	for i, probe := range [2]int64{w - microsPerDay, w + microsPerDay} {
		u := w - tab.at(probe).offset
		if i == 0 || u < lowest {
			lowest = u
		}
		if u+tab.at(u).offset == w && (!found || u < best) {
			best, found = u, true
		}
	}
	if !found {
		// In a gap: the wall clock at lowest is before local, and the next
		// change jumps past it.
		best = lowest
		if i, _ := slices.BinarySearch(tab.start, lowest+1); i < len(tab.start) {
			best = tab.start[i]
		}
	}
	return time.UnixMicro(best).UTC()
}

// maxStepBack is the longest the table ever puts clocks back (an hour, at
// the end of daylight time), at least one microsecond.
func (t *table) maxStepBack() time.Duration {
	d := int64(1)
	for i := 1; i < len(t.info); i++ {
		d = max(d, t.info[i-1].offset-t.info[i].offset)
	}
	return time.Duration(d) * time.Microsecond
}
