package bctime

import "time"

// LocalOf returns the naive BC wall clock (carried in a UTC time.Time) of
// the instant t, by the zone's rules. The registry stores local times, so
// "now" must be compared in local time; using these rules rather than the
// host's zone files keeps the answer the same on every machine.
func LocalOf(zone Zone, t time.Time) time.Time {
	u := t.UTC().UnixMicro()
	p := zone.table().at(u)
	return time.UnixMicro(u + p.offset).UTC()
}
