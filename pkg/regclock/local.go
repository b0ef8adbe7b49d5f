package regclock

import "time"

// Registry is the zone of the registry's clock: the rules by which its
// naive timestamps are read as instants and "now" is read on it. The
// poller, builder and operator tools all read "now" through At, so they
// agree on what is due and what is in the future, in the repeated autumn
// hour too.
const Registry = History

// Now is the registry's clock now (see At).
func Now() time.Time { return At(time.Now()) }

// At is "now" on the registry's clock at the instant t: the latest naive
// BC wall time (carried in a UTC time.Time) the clock has shown by t. In
// the second pass of a repeated hour that is the end of the first pass,
// not the wall clock at t: an event stamped in the first pass has
// happened, so nothing may treat it as in the future. Converting a stored
// instant to the wall clock it showed is LocalOf's job.
func At(t time.Time) time.Time { return LatestWall(Registry, t) }

// LocalOf returns the naive BC wall clock (carried in a UTC time.Time) of
// the instant t, by the zone's rules. The registry stores local times, so
// "now" must be compared in local time; using these rules rather than the
// host's zone files keeps the answer the same on every machine.
func LocalOf(zone Zone, t time.Time) time.Time {
	u := t.UTC().UnixMicro()
	p := zone.table().at(u)
	return time.UnixMicro(u + p.offset).UTC()
}

// WithOffset returns the naive BC wall-clock time local as the instant it
// stands for, carrying the zone's offset then (2018-07-24T13:47:53-07:00):
// what a JSON reader needs to place a registry time, since the naive text
// alone reads as UTC. A repeated autumn time is its first pass (daylight
// time); a time the clocks skipped is the instant they jumped over it.
func WithOffset(zone Zone, local time.Time) time.Time {
	if _, ok := wallMicros(local); !ok {
		return local
	}
	at := EarliestInstant(zone, local)
	off := zone.table().at(at.UnixMicro()).offset / 1e6
	return at.In(time.FixedZone("", int(off)))
}
