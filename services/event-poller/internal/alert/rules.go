package alert

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/bcgov/bcreg-events/pkg/pipeline"
)

// Finding is one rule's verdict.
type Finding struct {
	// Key names the alert (stored in alert_state).
	Key     string
	Level   Level
	Message string
	// Growth findings fire when Count grew since the last message; the
	// others are conditions that hold while they are returned.
	Growth bool
	Count  int64
}

// Alert keys.
const (
	KeyUnreachable = "unreachable"
	KeyFailures    = "failures"
	KeyDeadLetters = "dead-letters"
	KeyQueue       = "queue"
	KeyAgent       = "agent-down"
	KeyWatermark   = "watermark-stale"
	KeyPoll        = "poll-failed"
	KeyLeader      = "active-poller"
	KeyAbandoned   = "abandoned-credentials"
	KeyReleased    = "released-credentials"
	// Reported by the event-poller as they happen.
	KeyWatermarkRefused = "watermark-refused"
	KeyPollSize         = "poll-size"
	KeyLoadStarted      = "initial-load-started"
	KeyLoadFinished     = "initial-load-finished"
	// Reported by the scheduled OrgBook audit: more findings than the
	// previous audit, or the audit failed.
	KeyAudit = "audit-findings"
)

// Thresholds are the rules' limits.
type Thresholds struct {
	QueueWarn, QueueError int64
	WatermarkStale        time.Duration
	AgentStall            time.Duration
}

// Thresholds returns the configured limits.
func (c Config) Thresholds() Thresholds {
	return Thresholds{QueueWarn: c.AlertQueueWarn, QueueError: c.AlertQueueError,
		WatermarkStale: c.AlertWatermarkStale, AgentStall: c.AlertAgentStall}
}

// Evaluate applies the rules to the pipeline's figures (pipeline.Read, as
// `bcregctl status` reads them). Growth findings are always returned (the
// monitor compares their count with the last one sent); conditions only
// while they hold. The figures of a source that could not be read are
// judged by nothing but the "unreachable" rule: a zero read as a count
// would reset the growth counts.
func Evaluate(r pipeline.Report, th Thresholds) []Finding {
	var out []Finding
	if len(r.Problems) > 0 {
		var parts []string
		for _, p := range r.Problems {
			parts = append(parts, fmt.Sprintf("%s: %v", p.Of, p.Err))
		}
		out = append(out, Finding{Key: KeyUnreachable, Level: Error,
			Message: "bcreg-events cannot read " + strings.Join(parts, "; ")})
	}
	db, streams := !r.Unread(pipeline.EventDB), !r.Unread(pipeline.NATS)
	eb, cl := r.EventDB.Tables["event_by_corp_filing"], r.EventDB.Tables["credential_log"]
	if db {
		msg := fmt.Sprintf("bcreg-events failures: %d corporation(s) the builder cannot describe (N), %d credential(s) rejected by the agent (N), %d given up after their attempts (D)",
			eb.Failed, cl.Failed, cl.DeadLetter)
		if len(r.RecentErrors) > 0 {
			msg += "; latest: " + r.RecentErrors[0].CorpNum + ": " + r.RecentErrors[0].Message
		}
		out = append(out, Finding{Key: KeyFailures, Level: Error, Growth: true, Count: eb.Failed + cl.Failed + cl.DeadLetter,
			Message: msg + ". Inspect with `bcregctl status` and `bcregctl dlq list`; after fixing the cause, `bcregctl requeue failed`."})
	}
	if streams {
		d := r.DLQ
		stages := make([]string, 0, len(d.ByStage))
		for s, n := range d.ByStage {
			stages = append(stages, fmt.Sprintf("%s %d", s, n))
		}
		sort.Strings(stages)
		out = append(out, Finding{Key: KeyDeadLetters, Level: Warning, Growth: true, Count: int64(d.Total),
			Message: fmt.Sprintf("BCREG_DLQ holds %d dead letter(s) (%s). Inspect with `bcregctl dlq list`; requeue or purge them once the cause is fixed.",
				d.Total, strings.Join(stages, ", "))})
	}
	if db {
		out = append(out, Finding{Key: KeyReleased, Level: Warning, Growth: true, Count: cl.Released,
			Message: fmt.Sprintf("%d credential(s) lost their bundle (dead-lettered as undecodable or naming an unknown credential, moved by the dlq-mover, or dropped as a duplicate) and were republished by the outbox sweep. Inspect with `bcregctl dlq list` and `bcregctl status`.", cl.Released)})
	}
	if a := r.Abandoned; a != nil && a.Credentials > 0 && a.Oldest != nil && r.At.Sub(*a.Oldest) > th.AgentStall {
		out = append(out, Finding{Key: KeyAbandoned, Level: Error,
			Message: fmt.Sprintf("%d credential(s) of %d corporation(s) (first %s) wait behind a bundle that left BCREG_CREDS without an answer, for more than %v: every later credential of those corporations is held back. The credential-builders' sweep releases them: is one running? See `bcregctl status`.",
				a.Credentials, len(a.Corps), a.Corps[0], th.AgentStall)})
	}
	if q := queueFinding(r, db, streams, th); q != nil {
		out = append(out, *q)
	}
	if last, oldest := r.EventDB.LastAnswer, r.EventDB.OldestWaiting; db && cl.Outstanding > 0 && oldest != nil &&
		r.At.Sub(*oldest) > th.AgentStall && (last == nil || r.At.Sub(*last) > th.AgentStall) {
		lastText := "never"
		if last != nil {
			lastText = last.UTC().Format(time.RFC3339)
		}
		out = append(out, Finding{Key: KeyAgent, Level: Error,
			Message: fmt.Sprintf("the issuing agent has answered nothing for more than %v (last answer %s) while %d credential(s) wait, %d of them with failed attempts: is the agent down or misconfigured? See the posters' /readyz.",
				th.AgentStall, lastText, cl.Outstanding, cl.Attempting)})
	}
	if wm := r.EventDB.WatermarkEventDate; db && r.EventDB.WatermarkEventID > 0 && wm != nil &&
		r.Source != nil && r.Source.Read && r.Source.NewestEventDate != nil {
		if behind := r.Source.NewestEventDate.Sub(*wm); behind > th.WatermarkStale {
			out = append(out, Finding{Key: KeyWatermark, Level: Error,
				Message: fmt.Sprintf("the watermark (event %d at %s) is %v behind the registry's newest event: the event-poller is not keeping up or its polls fail.",
					r.EventDB.WatermarkEventID, wm.Format("2006-01-02 15:04:05"), behind.Round(time.Second))})
		}
	}
	return out
}

// queueFinding: the larger of the corporations waiting in BCREG_EVENTS
// and the credentials outstanding, against the original's 10,000 / 100,000.
func queueFinding(r pipeline.Report, db, streams bool, th Thresholds) *Finding {
	var corps, creds int64
	if streams {
		corps = int64(r.Events.Messages)
	}
	if db {
		creds = r.EventDB.Tables["credential_log"].Outstanding
	}
	n, what := corps, "corporations wait in BCREG_EVENTS"
	if creds > corps {
		n, what = creds, "credentials are outstanding"
	}
	var level Level
	switch {
	case n > th.QueueError:
		level = Error
	case n > th.QueueWarn:
		level = Warning
	default:
		return nil
	}
	return &Finding{Key: KeyQueue, Level: level,
		Message: fmt.Sprintf("%d %s (warning above %d, error above %d); expected during an initial load.", n, what, th.QueueWarn, th.QueueError)}
}
