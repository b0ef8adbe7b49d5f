package credential

import (
	"strings"
	"time"
)

// When a credential may be posted is decided once, here, when its row is
// stored: the result is credential_log.not_before, and everything after
// that (the outbox sweep, the poster, the status counts) reads only the
// stored column (pkg/eventdb: a row is due once its not_before has passed,
// or when it has none). docs/design/poster.md, "When a credential may be
// posted".

// HoldDates name the attributes whose future date holds a credential back.
type HoldDates []string

var (
	// OriginalHold is the original's rule since 2021-05: an expiry is
	// posted only once it has happened (docs/design/agent.md §1). It applies to the credentials the
	// original generated (adopted rows, and rows stored before this rule
	// had one place; migration 00005) and to the snapshot profile's, which
	// have no expiry_date.
	OriginalHold = HoldDates{"expiry_date"}
	// HistoryHold is the history profile's: a future effective date holds
	// too (docs/deviations.md H14).
	HistoryHold = HoldDates{"effective_date", "expiry_date"}
)

// NotBefore returns the latest of the credential's hold dates that lies
// after now, or zero when none does (post at once). A date is UTC ISO-8601
// text with or without an offset; empty or unreadable text holds nothing.
func (h HoldDates) NotBefore(attrs map[string]any, now time.Time) time.Time {
	var nb time.Time
	for _, key := range h {
		text, _ := attrs[key].(string)
		if t, ok := parseHoldDate(text); ok && t.After(now) && t.After(nb) {
			nb = t
		}
	}
	return nb
}

// parseHoldDate reads a date attribute; text without an offset is UTC.
func parseHoldDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
