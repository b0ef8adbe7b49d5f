package pipeline

// Render and Line put a Report on a terminal: one screen per report, what
// the original's status script printed (processed, outstanding and failed
// rows per work table, the 20 most recent errors) plus the streams' lag,
// the dead letters, the registry's lead over the watermark and the posting
// rate with an ETA (`bcregctl status`), or one line for the `make run`
// launcher's live display (pkg/devkit/devrun).

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/bcgov/bcreg-events/pkg/eventdb/operator"
)

// Line renders the report as one compact line for a live display.
func Line(r Report) string {
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

const localLayout = "2006-01-02 15:04:05"

// Render writes the report as one screen for a terminal: per stage, what
// the original's report showed and what JetStream adds.
func Render(w io.Writer, r Report) {
	fmt.Fprintf(w, "bcreg-events status at %s\n\n", r.At.Format("2006-01-02 15:04:05Z"))
	if s := r.Source; s != nil {
		switch {
		case !s.Read:
			fmt.Fprintf(w, "%-21s not read (%s)\n", "registry", s.Error)
		case s.NewestEventDate == nil:
			fmt.Fprintf(w, "%-21s no events yet\n", "registry")
		default:
			fmt.Fprintf(w, "%-21s newest event %d at %s (BC local): %d events after the watermark, %s ahead\n", "registry",
				s.NewestEventID, s.NewestEventDate.Format(localLayout), s.EventsBehind, duration(s.SecondsBehind))
		}
	}
	wm := "none (initial load not done)"
	if r.EventDB.WatermarkEventID > 0 && r.EventDB.WatermarkEventDate != nil {
		wm = fmt.Sprintf("event %d at %s (BC local)", r.EventDB.WatermarkEventID, r.EventDB.WatermarkEventDate.Format(localLayout))
	}
	fmt.Fprintf(w, "%-21s %s", "watermark", wm)
	if il := r.EventDB.InitialLoad; il != nil {
		fmt.Fprintf(w, "  [initial load running: %d of %d corporations published]", il.Published, il.Total)
	} else if r.EventDB.InitialLoadRunning {
		fmt.Fprint(w, "  [initial load running]")
	}
	fmt.Fprintln(w)
	stream := func(name, consumer string, s Stream) {
		fmt.Fprintf(w, "%-21s %d pending, %d in flight, %d redelivered, %d waiting pulls (%s)", name, s.Pending, s.InFlight, s.Redelivered, s.Waiting, consumer)
		if s.Stranded > 0 {
			fmt.Fprintf(w, "; %d stranded past MaxDeliver (the dlq reconciler moves them)", s.Stranded)
		}
		fmt.Fprintln(w)
	}
	stream("BCREG_EVENTS", "credential-builder", r.Events)
	for _, t := range []string{"event_by_corp_filing", "corp_history_log"} {
		c := r.EventDB.Tables[t]
		fmt.Fprintf(w, "%-21s %d processed, %d outstanding, %d failed (N), %d skipped (S)\n", t, c.Processed, c.Outstanding, c.Failed, c.Skipped)
	}
	cl := r.EventDB.Tables["credential_log"]
	fmt.Fprintf(w, "%-21s %d processed, %d outstanding (%d unpublished), %d waiting, %d failed (N), %d dead-lettered (D), %d held (A), %d republished after losing their bundle\n",
		"credential_log", cl.Processed, cl.Outstanding, cl.Unpublished, cl.Waiting, cl.Failed, cl.DeadLetter, cl.Held, cl.Released)
	if cl.Attempting > 0 || cl.Outstanding > 0 || r.EventDB.LastAnswer != nil {
		fmt.Fprintf(w, "%-21s last answer %s; %d outstanding credential(s) with failed attempts", "agent answers", when(r.EventDB.LastAnswer), cl.Attempting)
		if t := r.EventDB.OldestWaiting; t != nil {
			fmt.Fprintf(w, "; the oldest waiting was published %s", when(t))
		}
		fmt.Fprintln(w)
	}
	if a := r.Abandoned; a != nil && a.Credentials > 0 {
		fmt.Fprintf(w, "%-21s %d credential(s) of %d corporation(s) (%s) wait behind a bundle that left BCREG_CREDS without an answer; the builders' sweep hands them back\n",
			"abandoned", a.Credentials, len(a.Corps), strings.Join(a.Corps[:min(len(a.Corps), 5)], ", "))
	}
	stream("BCREG_CREDS", "poster", r.Creds)
	fmt.Fprintf(w, "%-21s %d dead letters", "BCREG_DLQ", r.DLQ.Total)
	stages := make([]string, 0, len(r.DLQ.ByStage))
	for s := range r.DLQ.ByStage {
		stages = append(stages, s)
	}
	sort.Strings(stages)
	for i, s := range stages {
		sep := ", "
		if i == 0 {
			sep = ": "
		}
		fmt.Fprintf(w, "%s%s %d", sep, s, r.DLQ.ByStage[s])
		if t, ok := r.DLQ.OldestByStage[s]; ok {
			fmt.Fprintf(w, " (oldest %s)", t.UTC().Format("2006-01-02 15:04Z"))
		}
	}
	if d := r.DLQ; d.MaxBytes > 0 {
		// Full, it refuses new dead letters (they stay in their work
		// stream): BcregDLQFilling warns at 80%.
		fmt.Fprintf(w, "; %s of %s (%.0f%%)", mib(d.Bytes), mib(uint64(d.MaxBytes)), 100*float64(d.Bytes)/float64(d.MaxBytes))
	}
	fmt.Fprintln(w)
	tp := r.Throughput
	per := make([]string, len(tp.PostedPerMinute))
	for i, n := range tp.PostedPerMinute {
		per[i] = fmt.Sprint(n)
	}
	fmt.Fprintf(w, "%-21s %.1f credentials/min over the last %d min [%s, newest first]; backlog %d", "posting",
		tp.PerMinute, tp.WindowMinutes, strings.Join(per, " "), tp.Backlog)
	switch {
	case tp.ETASeconds != nil:
		fmt.Fprintf(w, ", done in about %s", duration(*tp.ETASeconds))
	case tp.Backlog > 0:
		fmt.Fprint(w, ", nothing posted lately (no ETA)")
	}
	fmt.Fprintln(w)
	if r.Received != nil {
		fmt.Fprintf(w, "%-21s %d credentials received\n", "agent", *r.Received)
	}
	renderManage(w, r.Manage)
	if len(r.RecentErrors) == 0 {
		return
	}
	fmt.Fprintf(w, "\nmost recent errors (%d):\n", len(r.RecentErrors))
	for _, e := range r.RecentErrors {
		what := e.Table
		if e.CredentialHash != "" {
			what = fmt.Sprintf("%s %s %.12s", e.Table, e.CredentialType, e.CredentialHash)
		}
		fmt.Fprintf(w, "  %s  %s  %-10s %s  %s\n", e.At.UTC().Format("2006-01-02 15:04:05Z"), e.Status, e.CorpNum, what, e.Message)
	}
}

// when formats an instant of the report ("never" for none).
func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func when(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// duration formats seconds for a person: 45s, 12m30s, 3h05m, 2d4h.
func duration(sec float64) string {
	d := time.Duration(sec * float64(time.Second)).Round(time.Second)
	switch {
	case d < time.Minute:
		return d.String()
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
	}
}

// renderManage shows the figures of the manage script's status commands.
func renderManage(w io.Writer, m *operator.ManageFigures) {
	if m == nil {
		return
	}
	fmt.Fprintf(w, "\nsince %s (the manage script's figures):\n", m.Since.UTC().Format("2006-01-02 15:04:05Z"))
	tables := make([]string, 0, len(m.RecordCounts))
	for t := range m.RecordCounts {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	counts := make([]string, len(tables))
	for i, t := range tables {
		counts[i] = fmt.Sprintf("%s %d", t, m.RecordCounts[t])
	}
	fmt.Fprintf(w, "  %-22s %s\n", "record counts", strings.Join(counts, ", "))
	c := m.Credentials
	fmt.Fprintf(w, "  %-22s %d total, %d unprocessed, %d processed, %d posted, %d held, %d errors\n", "credential summary",
		c.Total, c.Unprocessed, c.Processed, c.Posted, c.Held, c.Errors)
	secs := time.Since(m.Since).Seconds()
	fmt.Fprintf(w, "  %-22s %d posted (%.1f/s), %d staged (%.1f/s)\n", "post and stage rate", m.PostedSince, float64(m.PostedSince)/secs,
		m.StagedSince, float64(m.StagedSince)/secs)
	fmt.Fprintf(w, "  %-22s total %d\n", "failed credentials", m.FailedTotal)
	for _, f := range m.FailedReasons {
		fmt.Fprintf(w, "    %6d  %s\n", f.Count, f.Message)
	}
}
