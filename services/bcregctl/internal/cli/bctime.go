package cli

import (
	"time"

	"github.com/bcgov/bcreg-events/pkg/credential/bctime"
)

// bcNow returns the BC local wall clock of an instant, using the same
// hand-coded rules as the credentials (no zone files needed).
func bcNow(t time.Time) time.Time {
	return bctime.LocalOf(bctime.History, t.UTC())
}
