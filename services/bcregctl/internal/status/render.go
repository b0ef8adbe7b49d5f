package status

import (
	"fmt"
	"io"
)

// Line renders the report as one compact line for a live display.
func (r Report) Line() string {
	eb := r.EventDB.Tables["event_by_corp_filing"]
	cl := r.EventDB.Tables["credential_log"]
	s := fmt.Sprintf("events: %d pending, %d in flight | builder: %d done, %d failed, %d skipped | credentials: %d posted, %d outstanding, %d unpublished, %d failed, %d dead, %d held | creds stream: %d pending, %d in flight | dlq: %d",
		r.Events.Pending, r.Events.InFlight, eb.Processed-eb.Failed-eb.Skipped, eb.Failed, eb.Skipped,
		cl.Processed-cl.Failed-cl.DeadLetter, cl.Outstanding, cl.Unpublished, cl.Failed, cl.DeadLetter, cl.Held,
		r.Creds.Pending, r.Creds.InFlight, r.DLQ.Total)
	if r.Received != nil {
		s += fmt.Sprintf(" | agent received: %d", *r.Received)
	}
	return s
}

// Render writes the report as a table for a terminal.
func (r Report) Render(w io.Writer) {
	fmt.Fprintf(w, "bcreg-events status at %s\n\n", r.At.Format("2006-01-02 15:04:05Z"))
	wm := "none (initial load not done)"
	if r.EventDB.WatermarkEventID > 0 && r.EventDB.WatermarkEventDate != nil {
		wm = fmt.Sprintf("event %d at %s (BC local)", r.EventDB.WatermarkEventID, r.EventDB.WatermarkEventDate.Format("2006-01-02 15:04:05"))
	}
	fmt.Fprintf(w, "watermark           %s", wm)
	if r.EventDB.InitialLoadRunning {
		fmt.Fprint(w, "  [initial load running]")
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "BCREG_EVENTS        %d pending, %d in flight, %d redelivered\n", r.Events.Pending, r.Events.InFlight, r.Events.Redelivered)
	for _, t := range []string{"event_by_corp_filing", "corp_history_log"} {
		c := r.EventDB.Tables[t]
		fmt.Fprintf(w, "%-19s %d processed, %d outstanding, %d failed (N), %d skipped (S)\n", t, c.Processed, c.Outstanding, c.Failed, c.Skipped)
	}
	cl := r.EventDB.Tables["credential_log"]
	fmt.Fprintf(w, "credential_log      %d processed, %d outstanding (%d unpublished), %d waiting, %d failed (N), %d dead-lettered (D), %d held (A)\n",
		cl.Processed, cl.Outstanding, cl.Unpublished, cl.Waiting, cl.Failed, cl.DeadLetter, cl.Held)
	fmt.Fprintf(w, "BCREG_CREDS         %d pending, %d in flight, %d redelivered\n", r.Creds.Pending, r.Creds.InFlight, r.Creds.Redelivered)
	fmt.Fprintf(w, "BCREG_DLQ           %d dead letters", r.DLQ.Total)
	for stage, n := range r.DLQ.ByStage {
		fmt.Fprintf(w, ", %s: %d", stage, n)
	}
	if r.DLQ.Oldest != nil {
		fmt.Fprintf(w, " (oldest %s)", r.DLQ.Oldest.Format("2006-01-02 15:04:05Z"))
	}
	fmt.Fprintln(w)
	if r.Received != nil {
		fmt.Fprintf(w, "agent               %d credentials received\n", *r.Received)
	}
}
