package credential_test

import (
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/credential"
)

// TestHoldDates: a credential waits for the latest of its hold dates that
// lies ahead; the original's rule holds only expiries, the history
// profile's effective dates too.
func TestHoldDates(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	later, latest := now.Add(time.Hour), now.Add(2*time.Hour)
	tests := []struct {
		name     string
		attrs    map[string]any
		original time.Time // OriginalHold
		history  time.Time // HistoryHold
	}{
		{"no dates", map[string]any{}, time.Time{}, time.Time{}},
		{"empty expiry", map[string]any{"expiry_date": ""}, time.Time{}, time.Time{}},
		{"future expiry", map[string]any{"expiry_date": "2026-05-01T13:00:00+00:00"}, later, later},
		{"naive expiry is UTC", map[string]any{"expiry_date": "2026-05-01T13:00:00"}, later, later},
		{"offset expiry", map[string]any{"expiry_date": "2026-05-01T06:00:00-07:00"}, later, later},
		{"past expiry", map[string]any{"expiry_date": "2026-05-01T11:00:00+00:00"}, time.Time{}, time.Time{}},
		{"unreadable expiry", map[string]any{"expiry_date": "soon"}, time.Time{}, time.Time{}},
		{"not text", map[string]any{"expiry_date": 20260501}, time.Time{}, time.Time{}},
		{"future effective date", map[string]any{"effective_date": "2026-05-01T13:00:00+00:00"}, time.Time{}, later},
		{"the later of both", map[string]any{"effective_date": "2026-05-01T14:00:00+00:00", "expiry_date": "2026-05-01T13:00:00+00:00"}, later, latest},
		{"exactly now is due", map[string]any{"expiry_date": "2026-05-01T12:00:00+00:00"}, time.Time{}, time.Time{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := []time.Time{credential.OriginalHold.NotBefore(tc.attrs, now), credential.HistoryHold.NotBefore(tc.attrs, now)}
			if diff := gocmp.Diff([]time.Time{tc.original, tc.history}, got); diff != "" {
				t.Errorf("original, history (-want +got):\n%s", diff)
			}
		})
	}
}
