package regclock

import (
	"fmt"
	"strings"
	"time"
)

// LocalTime is a reading of the registry's clock: a naive timestamp (BC local wall clock, no offset),
// written as "2006-01-02T15:04:05" with ".ffffff" when it has microseconds.
// It is held in a time.Time in UTC only as a carrier for the wall clock.
type LocalTime struct{ time.Time }

const localLayout = "2006-01-02T15:04:05.999999"

// NewLocalTime carries t's wall clock, whatever its location.
func NewLocalTime(t time.Time) LocalTime {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	return LocalTime{time.Date(y, mo, d, h, mi, s, t.Nanosecond()/1000*1000, time.UTC)}
}

// String formats the wall clock.
func (l LocalTime) String() string { return l.Time.Format(localLayout) }

// MarshalJSON writes the naive text.
func (l LocalTime) MarshalJSON() ([]byte, error) { return []byte(`"` + l.String() + `"`), nil }

// UnmarshalJSON reads the naive text (an offset is refused: these are local).
func (l *LocalTime) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	t, err := time.Parse(localLayout, s)
	if err != nil {
		return fmt.Errorf("event_date %q: want naive local time YYYY-MM-DDTHH:MM:SS: %w", s, err)
	}
	l.Time = t
	return nil
}
