package regclock

import (
	"math"
	"slices"
	"time"
)

// The zones as pytz 2022.7.1 had them. pytz reads only the 32-bit (version 1)
// part of its compiled zone files, which changes two things against the tz
// source (Zone America/Los_Angeles, Rule US, Rule CA of tzdata 2022g):
//
//   - Transitions outside the signed 32-bit range of seconds are dropped. The
//     first kept transition is at -2^31 (1901-12-13 20:45:52 UTC), so local
//     mean time lasts until 1901, not until the real switch to PST on
//     1883-11-18; and there is no daylight saving after 2037.
//   - Offsets are rounded to whole minutes (datetime once required it), so
//     LMT is −7:53 instead of −7:52:58. Transition instants are not rounded.

const (
	microsPerSecond = int64(1_000_000)
	microsPerMinute = 60 * microsPerSecond
	microsPerHour   = 60 * microsPerMinute
	microsPerDay    = 24 * microsPerHour
)

// period is what pytz keeps of a time type: the offset from UTC, rounded to
// the minute, and whether it counts as daylight saving (is_dst filtering).
// pytz also keeps the abbreviation, which never changes a UTC result here.
type period struct {
	offset int64 // microseconds east of UTC
	dst    bool
}

var (
	lmt = period{offset: -(7*microsPerHour + 53*microsPerMinute)} // −7:52:58 rounded
	pst = period{offset: -8 * microsPerHour}
	pdt = period{offset: -7 * microsPerHour, dst: true} // also PWT and PPT (1942–45)
)

// table is a zone as pytz stores it: start[i] is the UTC instant (µs since
// the Unix epoch) from which info[i] applies. start[0] stands for
// datetime.min, so info[0] covers all earlier dates.
type table struct {
	start []int64
	info  []period
}

// at returns the period in effect at x, looked up as pytz does
// (bisect_right(_utc_transition_times, x) - 1, at least 0).
func (t *table) at(x int64) period {
	i, found := slices.BinarySearch(t.start, x)
	if !found {
		i--
	}
	return t.info[max(i, 0)]
}

// dayFunc picks the day of a rule's month in a year.
type dayFunc func(year int, month time.Month) int

// on is a fixed day of the month ("14").
func on(day int) dayFunc { return func(int, time.Month) int { return day } }

// sundayOnOrAfter is the first Sunday on or after day ("Sun>=8").
func sundayOnOrAfter(day int) dayFunc {
	return func(y int, m time.Month) int {
		wd := time.Date(y, m, day, 0, 0, 0, 0, time.UTC).Weekday()
		return day + int(time.Sunday-wd+7)%7
	}
}

// lastSunday is the month's last Sunday ("lastSun").
func lastSunday(y int, m time.Month) int {
	last := time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC) // day 0 = last day of m
	return last.Day() - int(last.Weekday()-time.Sunday)
}

// rule is one line of a tz Rule table.
type rule struct {
	from, to int // years, inclusive
	month    time.Month
	day      dayFunc
	at       time.Duration // after local midnight, on the wall clock then in effect
	utc      bool          // at is UTC ("23:00u")
	dst      bool          // daylight saving after the transition (SAVE 1:00)
}

// usRules is tz "Rule US": federal daylight saving.
var usRules = []rule{
	// from, to, month, day, at, utc, dst
	{1918, 1919, time.March, lastSunday, 2 * time.Hour, false, true},
	{1918, 1919, time.October, lastSunday, 2 * time.Hour, false, false},
	{1942, 1942, time.February, on(9), 2 * time.Hour, false, true}, // war time
	{1945, 1945, time.August, on(14), 23 * time.Hour, true, true},  // peace time: PWT → PPT, same offset
	{1945, 1945, time.September, on(30), 2 * time.Hour, false, false},
	{1967, 2006, time.October, lastSunday, 2 * time.Hour, false, false},
	{1967, 1973, time.April, lastSunday, 2 * time.Hour, false, true},
	{1974, 1974, time.January, on(6), 2 * time.Hour, false, true},       // energy crisis
	{1975, 1975, time.February, lastSunday, 2 * time.Hour, false, true}, // energy crisis: Feb 23
	{1976, 1986, time.April, lastSunday, 2 * time.Hour, false, true},
	{1987, 2006, time.April, sundayOnOrAfter(1), 2 * time.Hour, false, true},
	{2007, math.MaxInt, time.March, sundayOnOrAfter(8), 2 * time.Hour, false, true},
	{2007, math.MaxInt, time.November, sundayOnOrAfter(1), 2 * time.Hour, false, false},
}

// caRules is tz "Rule CA": California's own daylight saving, used by
// America/Los_Angeles from 1946 to 1966.
var caRules = []rule{
	// from, to, month, day, at, utc, dst
	{1948, 1948, time.March, on(14), 2*time.Hour + time.Minute, false, true},
	{1949, 1949, time.January, on(1), 2 * time.Hour, false, false},
	{1950, 1966, time.April, lastSunday, 1 * time.Hour, false, true},
	{1950, 1961, time.September, lastSunday, 2 * time.Hour, false, false},
	{1962, 1966, time.October, lastSunday, 2 * time.Hour, false, false},
}

// Limits of pytz's 32-bit tables.
const (
	int32Min = int64(math.MinInt32) * microsPerSecond // 1901-12-13T20:45:52Z
	int32Max = int64(math.MaxInt32) * microsPerSecond // 2038-01-19T03:14:07Z
)

var (
	// losAngeles is pytz America/Los_Angeles: LMT, then PST from the start
	// of pytz's table. Its tz source uses Rule US until 1946, Rule CA until
	// 1967 and Rule US after; since Rule US has no transitions in 1946–66
	// and Rule CA none outside them, following both rule sets at all dates
	// gives the same transitions.
	losAngeles = withRules(&table{
		start: []int64{math.MinInt64, int32Min},
		info:  []period{lmt, pst},
	}, usRules, caRules)
	// pst8pdt is pytz PST8PDT: −8:00 with Rule US at all dates.
	pst8pdt = withRules(&table{
		start: []int64{math.MinInt64},
		info:  []period{pst},
	}, usRules)
)

// withRules appends to t, which must end in standard time before 1918, the
// daylight-saving transitions of the rules that pytz's 32-bit data keeps.
func withRules(t *table, rules ...[]rule) *table {
	type change struct {
		wall time.Time // on the wall clock in effect, or UTC
		r    rule
	}
	cur := t.info[len(t.info)-1]
	// Rule US starts in 1918; int32Max ends the table in 2038.
	for y := 1918; y <= 2038; y++ {
		var year []change
		for _, rs := range rules {
			for _, r := range rs {
				if y < r.from || y > r.to {
					continue
				}
				d := time.Date(y, r.month, r.day(y, r.month), 0, 0, 0, 0, time.UTC).Add(r.at)
				year = append(year, change{d, r})
			}
		}
		slices.SortFunc(year, func(a, b change) int { return a.wall.Compare(b.wall) })
		for _, c := range year {
			u := c.wall.UnixMicro()
			if !c.r.utc {
				u -= cur.offset
			}
			next := pst
			if c.r.dst {
				next = pdt
			}
			if next == cur || u > int32Max {
				continue // a renaming (PWT → PPT) or beyond pytz's table
			}
			t.start = append(t.start, u)
			t.info = append(t.info, next)
			cur = next
		}
	}
	return t
}
