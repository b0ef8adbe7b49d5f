package regclock

import "time"

// Registry is the zone of the registry's clock: the rules by which its
// naive timestamps are read as instants and "now" is read on it. The
// poller, builder and operator tools all use it, so they agree on what is
// due and what is in the future.
const Registry = History

// Now is the registry's clock now: the naive BC wall clock, carried in a
// UTC time.Time, to compare with the registry's timestamps.
func Now() time.Time { return At(time.Now()) }

// At is the registry's clock at the instant t (see Now): for a clock that
// is injected rather than read from the host.
func At(t time.Time) time.Time { return LocalOf(Registry, t) }

// LocalOf returns the naive BC wall clock (carried in a UTC time.Time) of
// the instant t, by the zone's rules. The registry stores local times, so
// "now" must be compared in local time; using these rules rather than the
// host's zone files keeps the answer the same on every machine.
func LocalOf(zone Zone, t time.Time) time.Time {
	u := t.UTC().UnixMicro()
	p := zone.table().at(u)
	return time.UnixMicro(u + p.offset).UTC()
}
