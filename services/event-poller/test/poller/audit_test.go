package poller_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bcgov/bcreg-events/pkg/audit"
	"github.com/bcgov/bcreg-events/pkg/config"
	"github.com/bcgov/bcreg-events/pkg/devkit/agentsim"
	"github.com/bcgov/bcreg-events/pkg/testkit/localpg"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
	"github.com/bcgov/bcreg-events/services/event-poller/internal/alert"
	"github.com/bcgov/bcreg-events/services/event-poller/internal/poller"
)

// TestScheduleNext: BCREG_AUDIT_SCHEDULE is a time of day on BC's clock,
// across the clock changes.
func TestScheduleNext(t *testing.T) {
	tests := []struct {
		name, sched, after, want string
	}{
		{"later today", "02:30", "2026-06-10T08:00:00Z", "2026-06-10T09:30:00Z"}, // 01:00 PDT
		{"tomorrow", "02:30", "2026-06-10T10:00:00Z", "2026-06-11T09:30:00Z"},
		{"exactly now runs tomorrow", "02:30", "2026-06-10T09:30:00Z", "2026-06-11T09:30:00Z"},
		{"winter offset", "23:05", "2026-01-10T12:00:00Z", "2026-01-11T07:05:00Z"}, // 04:00 PST
		{"skipped in spring: when the clocks jump", "02:30", "2026-03-08T09:00:00Z", "2026-03-08T10:00:00Z"},
		{"repeated in autumn: the first pass", "01:30", "2026-11-01T07:00:00Z", "2026-11-01T08:30:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := poller.ParseSchedule(tt.sched)
			if err != nil {
				t.Fatal(err)
			}
			after, _ := time.Parse(time.RFC3339, tt.after)
			if got := s.Next(after).UTC().Format(time.RFC3339); got != tt.want {
				t.Errorf("next %s after %s = %s, want %s", tt.sched, tt.after, got, tt.want)
			}
		})
	}
	for _, bad := range []string{"2:3", "24:00", "12:60", "noon", "12:00:00", "-1:30"} {
		if _, err := poller.ParseSchedule(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if err := (poller.Audit{AuditSchedule: "02:30"}).Validate(); err == nil || !strings.Contains(err.Error(), "BCREG_ORGBOOK_DB_URL") {
		t.Errorf("validate without OrgBook: %v", err)
	}
	if err := (poller.Audit{}).Validate(); err != nil {
		t.Errorf("off: %v", err)
	}
	snapshot := poller.Config{Poll: poller.Poll{Profile: "snapshot"}, Audit: poller.Audit{AuditSchedule: "02:30", OrgBookDBURL: "postgres://ob"}}
	if err := snapshot.ValidateConfig(); err == nil || !strings.Contains(err.Error(), "history") {
		t.Errorf("the snapshot profile with a schedule: %v", err)
	}
	snapshot.AuditSchedule = ""
	if err := snapshot.ValidateConfig(); err != nil {
		t.Errorf("the snapshot profile without a schedule: %v", err)
	}
}

// TestScheduledAudit: the active poller runs the OrgBook audit when it is
// due, records it (the console's Audit page reads it), exports its
// findings per check as bcreg_audit_findings, and alerts when the findings
// rise above the previous audit's, not when they stay.
func TestScheduledAudit(t *testing.T) {
	e := newEnv(t)
	h := newHook(t)
	ctx := testenv.Context(t)
	obURL := testenv.NewDatabase(t)
	ob := testenv.Pool(t, obURL)
	if _, err := ob.Exec(ctx, agentsim.OrgBookSchema+`
INSERT INTO credential_type (id, description) VALUES (7, 'registration.registries.ca');`); err != nil {
		t.Fatal(err)
	}
	extraTopic := func(n int) {
		t.Helper()
		if _, err := ob.Exec(ctx, `INSERT INTO topic (id, source_id, type) VALUES ($1, $2, 'registration.registries.ca')`,
			n, fmt.Sprintf("BC99%05d", n)); err != nil {
			t.Fatal(err)
		}
		if _, err := ob.Exec(ctx, `INSERT INTO credential (id, topic_id, credential_set_id, credential_type_id, inactive, latest, revoked)
VALUES ($1, $1, $1, 7, false, true, false)`, n); err != nil {
			t.Fatal(err)
		}
	}
	extraTopic(1)
	port, err := localpg.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.config(func(c *poller.Config) {
		c.InitialLoad = poller.InitialLoadSkip
		c.HTTP.Addr = fmt.Sprintf("127.0.0.1:%d", port)
		c.Audit = poller.Audit{AuditSchedule: "02:30", OrgBookDBURL: config.Secret(obURL)}
		c.Config = alert.Config{WebhookURL: config.Secret(h.srv.URL), WebhookLevel: 0, ProjectName: "p", FriendlyProjectName: "F",
			WebhookTimeout: time.Second, WebhookMaxPerHour: 10, AlertInterval: 50 * time.Millisecond, AlertRepeat: 50 * time.Millisecond,
			AlertQueueWarn: 10000, AlertQueueError: 100000, AlertWatermarkStale: time.Hour, AlertAgentStall: 15 * time.Minute}
	})
	if err := cfg.Audit.Validate(); err != nil {
		t.Fatal(err)
	}
	due := make(chan struct{})
	type outcome struct {
		rep *audit.Report
		err error
	}
	done := make(chan outcome)
	e.start(cfg, poller.Hooks{
		AuditDue: func(ctx context.Context) bool {
			select {
			case <-due:
				return true
			case <-ctx.Done():
				return false
			}
		},
		Audited: func(rep *audit.Report, err error) { done <- outcome{rep, err} },
	})
	run := func() *audit.Report {
		t.Helper()
		select {
		case due <- struct{}{}:
		case <-time.After(time.Minute):
			t.Fatal("the scheduled audit was not waiting")
		}
		o := <-done
		if o.err != nil {
			t.Fatal(o.err)
		}
		return o.rep
	}
	count := func(r *audit.Report, c audit.Check) int {
		for _, x := range r.Counts {
			if x.Check == c {
				return x.Count
			}
		}
		return -1
	}
	// Nothing was ever processed (no builder runs here): every corporation
	// is a finding, and so is the topic the registry does not have.
	first := run()
	never := count(first, audit.CheckNeverProcessed)
	if never < 1 || count(first, audit.CheckNotInRegistry) != 1 {
		t.Fatalf("first audit: %+v", first.Counts)
	}
	got := auditAlerts(t, h, 1)
	if len(got) != 1 || got[0].StatusCode != "ERROR" || !strings.Contains(got[0].Message, "OrgBook audit: ") ||
		!strings.Contains(got[0].Message, "than the previous audit's 0") {
		t.Fatalf("alert after the first audit: %+v", got)
	}
	metric := scrape(t, port, `bcreg_audit_findings{check="topic_not_in_registry"}`)
	if metric != "1" {
		t.Errorf("bcreg_audit_findings{check=topic_not_in_registry} = %q, want 1", metric)
	}
	if m := scrape(t, port, `bcreg_audit_findings{check="never_processed"}`); m != fmt.Sprint(never) {
		t.Errorf("bcreg_audit_findings{check=never_processed} = %q, want %d", m, never)
	}

	// The same findings again: no alert.
	second := run()
	if len(second.Findings) != len(first.Findings) {
		t.Fatalf("second audit: %d findings, want %d", len(second.Findings), len(first.Findings))
	}
	// One more: they rose, an alert.
	extraTopic(2)
	third := run()
	if count(third, audit.CheckNotInRegistry) != 2 {
		t.Fatalf("third audit: %+v", third.Counts)
	}
	got = auditAlerts(t, h, 2)
	if len(got) != 2 || !strings.Contains(got[1].Message, fmt.Sprintf("1 more than the previous audit's %d", len(second.Findings))) {
		t.Fatalf("alerts: %+v", got)
	}
	runs, err := audit.LastRuns(ctx, e.edb, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 3 || runs[0].RanBy != "event-poller" || runs[0].Total != len(third.Findings) {
		t.Errorf("recorded runs: %d, newest %+v", len(runs), runs[0].ID)
	}
}

// auditAlerts waits for n audit alerts and returns every one sent.
func auditAlerts(t *testing.T, h *hook, n int) []alert.Payload {
	t.Helper()
	var out []alert.Payload
	waitFor(t, "the audit's alert", func() bool {
		out = nil
		for _, p := range h.payloads() {
			if strings.Contains(p.Message, "OrgBook audit") {
				out = append(out, p)
			}
		}
		return len(out) >= n
	})
	return out
}

// scrape reads one sample of the replica's /metrics.
func scrape(t *testing.T, port int, series string) string {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}
