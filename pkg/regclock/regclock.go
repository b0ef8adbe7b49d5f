// Package regclock is the registry's clock. The registry stamps its rows
// with naive BC local times (event.event_timestmp and the rest); this
// package says what that clock reads at an instant (Now, At), which wall
// times it shows over a span of real time (WallSpan and its kin), and how
// its timestamps convert to the UTC ISO-8601 text that credentials carry
// (UTC, ToUTC). It sits below every package that reads the registry, the
// credential generator and the event store, and imports none of them.
//
// Credential hashes are computed over that text, so it must match what the
// original Python pipeline produced with pytz 2022.7.1 byte for byte, not what
// a current time zone database would say (docs/design/generation.md
// §1). The package therefore hand-codes the two zones as pytz had them
// (rules.go) and replays pytz's localize algorithm over them (localize.go).
// It never reads the host's zoneinfo or Go's embedded tzdata: since tzdata
// 2024b PST8PDT is an alias of America/Los_Angeles, so the answer would
// depend on the machine.
package regclock

import (
	"errors"
	"fmt"
	"time"
)

// Zone selects which of the original pipeline's conversions to reproduce.
// The zero value is not a valid zone.
type Zone int

const (
	// Snapshot is the 2018 current-state generator (commit 8bc273a):
	// pytz America/Los_Angeles, with local mean time, California's 1948–66
	// rules and the US rules; a failed conversion becomes "".
	Snapshot Zone = iota + 1
	// History is the per-date history generator (pre-LEAR): pytz PST8PDT,
	// a flat −8:00 with US federal daylight saving only; a failed
	// conversion becomes a min/max sentinel.
	History
)

// String returns the zone's pytz name.
func (z Zone) String() string {
	switch z {
	case Snapshot:
		return "America/Los_Angeles"
	case History:
		return "PST8PDT"
	}
	return fmt.Sprintf("regclock.Zone(%d)", int(z))
}

// ErrOutOfRange reports a conversion that Python's datetime could not carry
// out because an intermediate value left years 1..9999. In practice this
// happens for local times on 0001-01-01 and 9999-12-31: pytz's localize
// probes one day either side of the value.
var ErrOutOfRange = errors.New("regclock: conversion leaves the datetime range (years 1 to 9999)")

// History's replacements for a failed conversion: the original clamped the
// value to 0002-01-01 or 9998-12-31 local and converted that.
const (
	historyMin = "0002-01-01T08:00:00+00:00"
	historyMax = "9998-12-31T08:00:00+00:00"
)

// UTC returns the UTC instant pytz gives for the naive wall-clock time local
// in zone, read with localize(is_dst=False): a time in a fall-back overlap or
// in a spring-forward gap is read as standard time.
//
// Only local's wall clock is used (its Date, Clock and Nanosecond in its own
// location; the location itself is ignored). Nanoseconds are truncated to
// microseconds, the precision of Python's datetime and of the database.
// UTC returns ErrOutOfRange when pytz would have raised OverflowError.
// It panics if zone is not Snapshot or History.
func UTC(zone Zone, local time.Time) (time.Time, error) {
	tab := zone.table()
	dt, ok := wallMicros(local)
	if !ok {
		return time.Time{}, ErrOutOfRange
	}
	u, ok := tab.toUTC(dt)
	if !ok {
		return time.Time{}, ErrOutOfRange
	}
	return time.UnixMicro(u).UTC(), nil
}

// ToUTC returns the credential text for the naive wall-clock time local, as
// the original pipeline of zone produced it: the UTC value of UTC(zone,
// local) formatted by FormatUTC. A value that cannot be converted becomes ""
// for Snapshot, and for History "0002-01-01T08:00:00+00:00" when its year is
// at most 2, else "9998-12-31T08:00:00+00:00".
// It panics if zone is not Snapshot or History.
func ToUTC(zone Zone, local time.Time) string {
	u, err := UTC(zone, local)
	if err == nil {
		return FormatUTC(u)
	}
	if zone == Snapshot {
		return ""
	}
	if local.Year() <= 2 {
		return historyMin
	}
	return historyMax
}

// FormatUTC formats t, converted to UTC, as Python's datetime.isoformat does
// for an aware UTC value: YYYY-MM-DDTHH:MM:SS+00:00, with a 6-digit .ffffff
// before the offset only when the microseconds are not zero. Nanoseconds
// below a microsecond are dropped. Years outside 1..9999 have no Python
// equivalent and are formatted as Go formats them.
func FormatUTC(t time.Time) string {
	t = t.UTC()
	b := make([]byte, 0, len("9999-12-31T23:59:59.999999+00:00"))
	b = t.AppendFormat(b, "2006-01-02T15:04:05")
	if us := t.Nanosecond() / 1000; us != 0 {
		b = fmt.Appendf(b, ".%06d", us)
	}
	return string(append(b, "+00:00"...))
}

// table returns the zone's transition table.
func (z Zone) table() *table {
	switch z {
	case Snapshot:
		return losAngeles
	case History:
		return pst8pdt
	}
	panic("regclock: unknown zone " + z.String())
}

// wallMicros returns local's wall clock as microseconds since the Unix
// epoch, read as if it were UTC, and false when its year is outside 1..9999.
func wallMicros(local time.Time) (int64, bool) {
	y, mo, d := local.Date()
	h, mi, s := local.Clock()
	if y < 1 || y > 9999 {
		return 0, false
	}
	w := time.Date(y, mo, d, h, mi, s, 0, time.UTC).Unix()
	return w*microsPerSecond + int64(local.Nanosecond()/1000), true
}
