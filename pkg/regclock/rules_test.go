package regclock

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// describe lists the entries of t that start in years from..to (year 0
// stands for datetime.min) as "start offset[ DST]" lines, start in UTC.
func describe(t *table, from, to int) []string {
	var out []string
	for i, s := range t.start {
		at, year := "datetime.min", 0
		if s != math.MinInt64 {
			u := time.UnixMicro(s).UTC()
			at, year = u.Format(time.DateTime), u.Year()
		}
		if year < from || year > to {
			continue
		}
		line := fmt.Sprintf("%s %v", at, time.Duration(t.info[i].offset)*time.Microsecond)
		if t.info[i].dst {
			line += " DST"
		}
		out = append(out, line)
	}
	return out
}

// TestTables pins the ends of both tables and the years where they differ,
// as pytz's _utc_transition_times and _transition_info list them.
func TestTables(t *testing.T) {
	tests := []struct {
		name     string
		table    *table
		from, to int // years
		want     []string
	}{
		{"America/Los_Angeles to 1951", losAngeles, 0, 1951, []string{
			"datetime.min -7h53m0s",
			"1901-12-13 20:45:52 -8h0m0s",
			"1918-03-31 10:00:00 -7h0m0s DST",
			"1918-10-27 09:00:00 -8h0m0s",
			"1919-03-30 10:00:00 -7h0m0s DST",
			"1919-10-26 09:00:00 -8h0m0s",
			"1942-02-09 10:00:00 -7h0m0s DST",
			"1945-09-30 09:00:00 -8h0m0s", // PWT → PPT on 08-14 changes nothing pytz outputs
			"1948-03-14 10:01:00 -7h0m0s DST",
			"1949-01-01 09:00:00 -8h0m0s",
			"1950-04-30 09:00:00 -7h0m0s DST",
			"1950-09-24 09:00:00 -8h0m0s",
			"1951-04-29 09:00:00 -7h0m0s DST",
			"1951-09-30 09:00:00 -8h0m0s",
		}},
		{"America/Los_Angeles from 2037", losAngeles, 2037, 9999, []string{
			"2037-03-08 10:00:00 -7h0m0s DST",
			"2037-11-01 09:00:00 -8h0m0s",
		}},
		{"PST8PDT to 1967", pst8pdt, 0, 1967, []string{
			"datetime.min -8h0m0s",
			"1918-03-31 10:00:00 -7h0m0s DST",
			"1918-10-27 09:00:00 -8h0m0s",
			"1919-03-30 10:00:00 -7h0m0s DST",
			"1919-10-26 09:00:00 -8h0m0s",
			"1942-02-09 10:00:00 -7h0m0s DST",
			"1945-09-30 09:00:00 -8h0m0s",
			"1967-04-30 10:00:00 -7h0m0s DST",
			"1967-10-29 09:00:00 -8h0m0s",
		}},
		{"PST8PDT energy crisis", pst8pdt, 1974, 1975, []string{
			"1974-01-06 10:00:00 -7h0m0s DST",
			"1974-10-27 09:00:00 -8h0m0s",
			"1975-02-23 10:00:00 -7h0m0s DST",
			"1975-10-26 09:00:00 -8h0m0s",
		}},
		{"PST8PDT 2007 rules", pst8pdt, 2007, 2007, []string{
			"2007-03-11 10:00:00 -7h0m0s DST",
			"2007-11-04 09:00:00 -8h0m0s",
		}},
		{"PST8PDT from 2037", pst8pdt, 2037, 9999, []string{
			"2037-03-08 10:00:00 -7h0m0s DST",
			"2037-11-01 09:00:00 -8h0m0s",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, describe(tt.table, tt.from, tt.to)); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
