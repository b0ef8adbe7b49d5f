package regclock

import "time"

// Python datetime's range, in microseconds since the Unix epoch: any
// arithmetic that leaves it raises OverflowError, which the original caught.
var (
	minMicros = mustMicros("0001-01-01T00:00:00Z")
	maxMicros = mustMicros("9999-12-31T23:59:59.999999Z")
)

// add returns a+d and whether the sum is a valid Python datetime.
func add(a, d int64) (int64, bool) {
	s := a + d
	return s, s >= minMicros && s <= maxMicros
}

// toUTC replays pytz's DstTzInfo.localize(dt, is_dst=False) followed by
// astimezone(utc) for the naive local time dt (µs since the Unix epoch, read
// as wall clock), and returns the UTC instant or false on overflow.
func (t *table) toUTC(dt int64) (int64, bool) {
	p, ok := t.localize(dt)
	if !ok {
		return 0, false
	}
	return add(dt, -p.offset)
}

// localize returns the period pytz attaches to the naive local time dt.
//
// pytz takes the periods in effect one day before and one day after dt —
// looking up the local time in its table of UTC instants, a harmless
// sloppiness — and keeps those whose normalize round trip gives dt back.
// One survivor is the answer. None means dt is in a gap: pytz localizes
// dt − 6h instead and keeps that period, so a skipped time is read with the
// offset in effect before the jump (standard time). Two means dt is in an
// overlap: pytz prefers the non-DST one, and between two of the same kind
// (LMT → PST in 1901) the one with the later UTC instant.
func (t *table) localize(dt int64) (period, bool) {
	before, ok1 := add(dt, -microsPerDay)
	after, ok2 := add(dt, microsPerDay)
	if !ok1 || !ok2 {
		return period{}, false
	}
	var found []period
	for _, probe := range [2]int64{before, after} {
		p := t.at(probe)
		// normalize: to UTC with p's offset, back with the period there.
		u, ok := add(dt, -p.offset)
		if !ok {
			return period{}, false
		}
		q := t.at(u)
		back, ok := add(u, q.offset)
		if !ok {
			return period{}, false
		}
		if back != dt {
			continue
		}
		// pytz collects the results in a set of aware datetimes, which
		// compare by UTC instant: equal offsets are one candidate.
		if len(found) == 0 || found[0].offset != q.offset {
			found = append(found, q)
		}
	}
	switch len(found) {
	case 1:
		return found[0], true
	case 0:
		earlier, ok := add(dt, -6*microsPerHour)
		if !ok {
			return period{}, false
		}
		return t.localize(earlier)
	}
	a, b := found[0], found[1]
	if a.dst != b.dst {
		if a.dst {
			return b, true
		}
		return a, true
	}
	// Same kind: the later UTC instant, i.e. the more negative offset.
	if a.offset < b.offset {
		return a, true
	}
	return b, true
}

// mustMicros parses an RFC 3339 instant into µs since the Unix epoch.
func mustMicros(s string) int64 {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UnixMicro()
}
