package alert

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/outbox"
	"github.com/bcgov/bcreg-events/pkg/regevent"
)

// Figures are the pipeline's state as the alert rules see it. A nil part
// could not be read; Problems says why.
type Figures struct {
	// Instant is the time of reading; LocalNow the BC local wall clock
	// then (naive, as the registry's timestamps).
	Instant, LocalNow time.Time
	DB                *eventdb.AlertFigures
	Events, Creds     *bus.StageState
	DLQ               *bus.DLQState
	// Abandoned are outstanding credentials whose bundle left BCREG_CREDS
	// without an answer and that no sweep has released yet.
	Abandoned *outbox.Abandoned
	Watermark *regevent.Position
	// SourceNewest is the registry's newest event (nil: none, or the
	// registry was not read).
	SourceNewest *time.Time
	// LatestError is the most recent failure, "<corp>: <message>".
	LatestError string
	Problems    []Problem
}

// Problem is a dependency the figures could not be read from.
type Problem struct {
	What string // e.g. "event database (BCREG_EVENT_DB_URL)"
	Err  error
}

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

// Evaluate applies the rules to the figures. Growth findings are always
// returned (the monitor compares their count with the last one sent);
// conditions only while they hold.
func Evaluate(f Figures, th Thresholds) []Finding {
	var out []Finding
	if len(f.Problems) > 0 {
		var parts []string
		for _, p := range f.Problems {
			parts = append(parts, fmt.Sprintf("%s: %v", p.What, p.Err))
		}
		out = append(out, Finding{Key: KeyUnreachable, Level: Error,
			Message: "bcreg-events cannot read " + strings.Join(parts, "; ")})
	}
	if db := f.DB; db != nil {
		total := db.BuilderFailed + db.CredFailed + db.CredDead
		msg := fmt.Sprintf("bcreg-events failures: %d corporation(s) the builder cannot describe (N), %d credential(s) rejected by the agent (N), %d given up after their attempts (D)",
			db.BuilderFailed, db.CredFailed, db.CredDead)
		if f.LatestError != "" {
			msg += "; latest: " + f.LatestError
		}
		out = append(out, Finding{Key: KeyFailures, Level: Error, Growth: true, Count: total,
			Message: msg + ". Inspect with `bcregctl status` and `bcregctl dlq list`; after fixing the cause, `bcregctl requeue failed`."})
	}
	if d := f.DLQ; d != nil {
		stages := make([]string, 0, len(d.ByStage))
		for s, n := range d.ByStage {
			stages = append(stages, fmt.Sprintf("%s %d", s, n))
		}
		sort.Strings(stages)
		out = append(out, Finding{Key: KeyDeadLetters, Level: Warning, Growth: true, Count: int64(d.Total),
			Message: fmt.Sprintf("BCREG_DLQ holds %d dead letter(s) (%s). Inspect with `bcregctl dlq list`; requeue or purge them once the cause is fixed.",
				d.Total, strings.Join(stages, ", "))})
	}
	if db := f.DB; db != nil {
		out = append(out, Finding{Key: KeyReleased, Level: Warning, Growth: true, Count: db.Released,
			Message: fmt.Sprintf("%d credential(s) lost their bundle (dead-lettered as undecodable or naming an unknown credential, moved by the dlq-mover, or dropped as a duplicate) and were republished by the outbox sweep. Inspect with `bcregctl dlq list` and `bcregctl status`.", db.Released)})
	}
	if a := f.Abandoned; a != nil && a.Credentials > 0 && a.Oldest != nil && f.Instant.Sub(*a.Oldest) > th.AgentStall {
		out = append(out, Finding{Key: KeyAbandoned, Level: Error,
			Message: fmt.Sprintf("%d credential(s) of %d corporation(s) (first %s) wait behind a bundle that left BCREG_CREDS without an answer, for more than %v: every later credential of those corporations is held back. The credential-builders' sweep releases them: is one running? See `bcregctl status`.",
				a.Credentials, len(a.Corps), a.Corps[0], th.AgentStall)})
	}
	if q := queueFinding(f, th); q != nil {
		out = append(out, *q)
	}
	if db := f.DB; db != nil && db.Outstanding > 0 && db.OldestWaiting != nil &&
		f.Instant.Sub(*db.OldestWaiting) > th.AgentStall && (db.LastAnswer == nil || f.Instant.Sub(*db.LastAnswer) > th.AgentStall) {
		last := "never"
		if db.LastAnswer != nil {
			last = db.LastAnswer.UTC().Format(time.RFC3339)
		}
		out = append(out, Finding{Key: KeyAgent, Level: Error,
			Message: fmt.Sprintf("the issuing agent has answered nothing for more than %v (last answer %s) while %d credential(s) wait, %d of them with failed attempts: is the agent down or misconfigured? See the posters' /readyz.",
				th.AgentStall, last, db.Outstanding, db.Attempting)})
	}
	if f.Watermark != nil && f.SourceNewest != nil {
		if behind := f.SourceNewest.Sub(f.Watermark.Date.Time); behind > th.WatermarkStale {
			out = append(out, Finding{Key: KeyWatermark, Level: Error,
				Message: fmt.Sprintf("the watermark (event %d at %s) is %v behind the registry's newest event: the event-poller is not keeping up or its polls fail.",
					f.Watermark.EventID, f.Watermark.Date.Format("2006-01-02 15:04:05"), behind.Round(time.Second))})
		}
	}
	return out
}

// queueFinding: the larger of the corporations waiting in BCREG_EVENTS
// and the credentials outstanding, against the original's 10,000 / 100,000.
func queueFinding(f Figures, th Thresholds) *Finding {
	var corps, creds int64
	if f.Events != nil {
		corps = int64(f.Events.Messages)
	}
	if f.DB != nil {
		creds = f.DB.Outstanding
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
