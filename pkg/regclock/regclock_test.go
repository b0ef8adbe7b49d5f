package regclock_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/regclock"
)

// result is what the two pipelines produce for one local time.
type result struct {
	Snapshot, History string
}

func TestToUTC(t *testing.T) {
	tests := []struct {
		name  string
		local string // YYYY-MM-DD HH:MM:SS[.ffffff]
		want  result
	}{
		// Examples of docs/design/generation.md §1.
		{"ordinary PST date", "2004-03-26 20:36:00", result{"2004-03-27T04:36:00+00:00", "2004-03-27T04:36:00+00:00"}},
		{"winter 1959", "1959-01-23 00:00:00", result{"1959-01-23T08:00:00+00:00", "1959-01-23T08:00:00+00:00"}},
		{"spring-forward gap reads as standard time", "2018-03-11 02:30:00", result{"2018-03-11T10:30:00+00:00", "2018-03-11T10:30:00+00:00"}},
		{"just after the gap is PDT", "2018-03-11 03:00:00", result{"2018-03-11T10:00:00+00:00", "2018-03-11T10:00:00+00:00"}},
		{"just before fall-back is PDT", "2018-11-04 00:59:59", result{"2018-11-04T07:59:59+00:00", "2018-11-04T07:59:59+00:00"}},
		{"fall-back overlap reads as standard time", "2018-11-04 01:30:00", result{"2018-11-04T09:30:00+00:00", "2018-11-04T09:30:00+00:00"}},
		{"microseconds are printed", "2018-06-01 12:00:00.000001", result{"2018-06-01T19:00:00.000001+00:00", "2018-06-01T19:00:00.000001+00:00"}},
		{"zero microseconds are not", "2018-06-01 12:00:00.000000", result{"2018-06-01T19:00:00+00:00", "2018-06-01T19:00:00+00:00"}},

		// Local mean time: pytz rounds −7:52:58 to −7:53, and keeps it
		// until its 32-bit table starts (1901-12-13 20:45:52 UTC), not
		// until the real switch of 1883-11-18 (both checked by the oracle).
		{"1860 is LMT in America/Los_Angeles only", "1860-01-01 00:00:00", result{"1860-01-01T07:53:00+00:00", "1860-01-01T08:00:00+00:00"}},
		{"1883 switch is not in pytz", "1883-11-18 12:07:00", result{"1883-11-18T20:00:00+00:00", "1883-11-18T20:07:00+00:00"}},
		{"1901 still LMT", "1901-11-26 12:59:01", result{"1901-11-26T20:52:01+00:00", "1901-11-26T20:59:01+00:00"}},
		// The LMT → PST step puts clocks back 7 minutes: 12:45:52 to
		// 12:52:52 happen twice, both non-DST, and pytz then takes the
		// later UTC instant (PST). No oracle row falls in this window;
		// these follow pytz's localize code.
		{"1901 before the LMT overlap", "1901-12-13 12:45:51", result{"1901-12-13T20:38:51+00:00", "1901-12-13T20:45:51+00:00"}},
		{"1901 LMT overlap takes PST", "1901-12-13 12:50:00", result{"1901-12-13T20:50:00+00:00", "1901-12-13T20:50:00+00:00"}},
		{"1901 after the LMT overlap", "1901-12-13 12:52:52", result{"1901-12-13T20:52:52+00:00", "1901-12-13T20:52:52+00:00"}},

		// US and California history.
		{"1918 first DST", "1918-06-01 12:00:00", result{"1918-06-01T19:00:00+00:00", "1918-06-01T19:00:00+00:00"}},
		{"war time winter", "1943-01-15 12:00:00", result{"1943-01-15T19:00:00+00:00", "1943-01-15T19:00:00+00:00"}},
		{"peace time (PWT renamed PPT)", "1945-08-14 16:30:00", result{"1945-08-14T23:30:00+00:00", "1945-08-14T23:30:00+00:00"}},
		{"California 1948 DST, not federal", "1948-06-01 00:00:00", result{"1948-06-01T07:00:00+00:00", "1948-06-01T08:00:00+00:00"}},
		{"California 1948 gap is 2:01 to 3:01", "1948-03-14 03:00:30", result{"1948-03-14T11:00:30+00:00", "1948-03-14T11:00:30+00:00"}},
		{"California 1949-01-01 overlap reads as standard", "1949-01-01 01:30:00", result{"1949-01-01T09:30:00+00:00", "1949-01-01T09:30:00+00:00"}},
		{"California 1950 gap starts at 1:00", "1950-04-30 01:30:00", result{"1950-04-30T09:30:00+00:00", "1950-04-30T09:30:00+00:00"}},
		{"California 1950 summer", "1950-04-30 12:00:00", result{"1950-04-30T19:00:00+00:00", "1950-04-30T20:00:00+00:00"}},
		{"1974 energy crisis gap on January 6", "1974-01-06 02:30:00", result{"1974-01-06T10:30:00+00:00", "1974-01-06T10:30:00+00:00"}},
		{"1974 energy crisis winter DST", "1974-02-01 12:00:00", result{"1974-02-01T19:00:00+00:00", "1974-02-01T19:00:00+00:00"}},
		{"1975 energy crisis from February 23", "1975-02-23 03:00:00", result{"1975-02-23T10:00:00+00:00", "1975-02-23T10:00:00+00:00"}},
		{"1975 before February 23", "1975-02-22 12:00:00", result{"1975-02-22T20:00:00+00:00", "1975-02-22T20:00:00+00:00"}},
		{"2037 last DST", "2037-07-01 12:00:00", result{"2037-07-01T19:00:00+00:00", "2037-07-01T19:00:00+00:00"}},
		{"2038 has no DST in pytz", "2038-07-01 12:00:00", result{"2038-07-01T20:00:00+00:00", "2038-07-01T20:00:00+00:00"}},
		{"2100 has no DST in pytz", "2100-07-01 12:00:00", result{"2100-07-01T20:00:00+00:00", "2100-07-01T20:00:00+00:00"}},

		// Calendar ends: localize probes a day either side and overflows.
		{"first day overflows", "0001-01-01 08:00:00", result{"", "0002-01-01T08:00:00+00:00"}},
		{"second day converts", "0001-01-02 00:00:00", result{"0001-01-02T07:53:00+00:00", "0001-01-02T08:00:00+00:00"}},
		{"last day overflows", "9999-12-31 00:00:00", result{"", "9998-12-31T08:00:00+00:00"}},
		{"day before last converts", "9999-12-30 23:59:59.999999", result{"9999-12-31T07:59:59.999999+00:00", "9999-12-31T07:59:59.999999+00:00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			local, err := parseLocal(tt.local)
			if err != nil {
				t.Fatal(err)
			}
			got := result{
				Snapshot: regclock.ToUTC(regclock.Snapshot, local),
				History:  regclock.ToUTC(regclock.History, local),
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ToUTC(%s) mismatch (-want +got):\n%s", tt.local, diff)
			}
		})
	}
}

// TestToUTCIgnoresLocation checks that only the wall clock is read.
func TestToUTCIgnoresLocation(t *testing.T) {
	elsewhere := time.FixedZone("UTC+5", 5*3600)
	tests := []struct {
		name  string
		local time.Time
		want  string
	}{
		{"UTC", time.Date(2018, 3, 11, 2, 30, 0, 0, time.UTC), "2018-03-11T10:30:00+00:00"},
		{"fixed zone", time.Date(2018, 3, 11, 2, 30, 0, 0, elsewhere), "2018-03-11T10:30:00+00:00"},
		{"nanoseconds truncated", time.Date(2018, 3, 11, 2, 30, 0, 1999, elsewhere), "2018-03-11T10:30:00.000001+00:00"},
		{"year 0 is out of range", time.Date(0, 6, 1, 0, 0, 0, 0, time.UTC), ""},
		{"year 10000 is out of range", time.Date(10000, 6, 1, 0, 0, 0, 0, time.UTC), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, regclock.ToUTC(regclock.Snapshot, tt.local)); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUTC(t *testing.T) {
	got, err := regclock.UTC(regclock.Snapshot, time.Date(1860, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(1860, 1, 1, 7, 53, 0, 0, time.UTC); !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("UTC = %v, want %v in UTC", got, want)
	}
	if _, err := regclock.UTC(regclock.History, time.Date(9999, 12, 31, 12, 0, 0, 0, time.UTC)); !errors.Is(err, regclock.ErrOutOfRange) {
		t.Errorf("UTC(9999-12-31) error = %v, want ErrOutOfRange", err)
	}
}

func TestFormatUTC(t *testing.T) {
	tests := []struct {
		name string
		in   time.Time
		want string
	}{
		{"whole seconds", time.Date(2004, 3, 27, 4, 36, 0, 0, time.UTC), "2004-03-27T04:36:00+00:00"},
		{"microseconds", time.Date(2004, 3, 27, 4, 36, 0, 120000, time.UTC), "2004-03-27T04:36:00.000120+00:00"},
		{"sub-microsecond dropped", time.Date(2004, 3, 27, 4, 36, 0, 999, time.UTC), "2004-03-27T04:36:00+00:00"},
		{"small year zero-padded", time.Date(2, 1, 1, 8, 0, 0, 0, time.UTC), "0002-01-01T08:00:00+00:00"},
		{"converted to UTC", time.Date(2004, 3, 26, 20, 36, 0, 0, time.FixedZone("PST", -8*3600)), "2004-03-27T04:36:00+00:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, regclock.FormatUTC(tt.in)); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUnknownZonePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("ToUTC with the zero Zone did not panic")
		}
	}()
	regclock.ToUTC(0, time.Date(2018, 1, 1, 0, 0, 0, 0, time.UTC))
}
