package console_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/audit"
	"github.com/bcgov/bcreg-events/pkg/bus"
)

// recordAudit stores an audit run as bcregctl audit or the poller would.
func recordAudit(t *testing.T, f *fixture, ranBy string, findings []audit.Finding) int64 {
	t.Helper()
	r := &audit.Report{Started: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), Seconds: 12.5, Profile: "history", Audited: 3,
		Topics: 3, Findings: findings}
	counts := map[audit.Check]int{}
	for _, fi := range findings {
		counts[fi.Check]++
	}
	for _, c := range audit.Checks {
		r.Counts = append(r.Counts, audit.Count{Check: c, Count: counts[c]})
	}
	id, err := r.Record(f.ctx, f.pool, ranBy)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestAuditPage: the Audit page shows the last recorded audit (summary per
// check, findings with expected and found values, the steps for a person,
// earlier audits), and its repair requeues and re-posts the corporations
// with findings, as `bcregctl audit --requeue --yes`, token-protected like
// every action and refused for an audit that is no longer the last.
func TestAuditPage(t *testing.T) {
	f := newFixture(t, false, nil)
	if _, html := get(t, f.ts.Client(), f.ts.URL+"/audit"); !strings.Contains(html, "No audit recorded yet") {
		t.Errorf("empty audit page:\n%s", html)
	}
	recordAudit(t, f, "bcregctl", nil)
	last := recordAudit(t, f, "event-poller", []audit.Finding{
		{CorpNum: f.corp, SourceID: "BC" + f.corp[1:], Check: audit.CheckName, Expected: "RIGHT LTD.", Found: "WRONG LTD."},
		{SourceID: "BC9999999", Check: audit.CheckNotInRegistry, Expected: "no topic", Found: "topic BC9999999"},
	})
	resp, html := get(t, f.ts.Client(), f.ts.URL+"/audit")
	if resp.StatusCode != 200 {
		t.Fatalf("GET /audit: %d", resp.StatusCode)
	}
	for _, want := range []string{`data-run="` + strconv.FormatInt(last, 10) + `" data-findings="2"`, "by event-poller",
		`<tr data-check="name"><td>name</td><td>1</td></tr>`, `<tr data-check="topic_not_in_registry"><td>topic_not_in_registry</td><td>1</td></tr>`,
		`<tr data-check="entity_type"><td>entity_type</td><td>0</td></tr>`,
		`<td>RIGHT LTD.</td><td>WRONG LTD.</td>`, "deleteTopic BC9999999", `id="audit-requeue"`, `id="audit-earlier"`, `aria-current="page">Audit`} {
		if !strings.Contains(html, want) {
			t.Errorf("audit page lacks %q", want)
		}
	}
	s := newSession(t, f)
	form := func(run int64) url.Values {
		return url.Values{"run": {strconv.FormatInt(run, 10)}, "token": {testToken}, "csrf": {s.csrf}, "confirm": {"yes"}}
	}
	noToken := form(last)
	noToken.Del("token")
	if code := s.post(t, f.ts.URL+"/audit/requeue", noToken, nil); code != http.StatusForbidden {
		t.Errorf("without the token: %d, want 403", code)
	}
	if code := s.post(t, f.ts.URL+"/audit/requeue", form(last-1), nil); code != http.StatusConflict {
		t.Errorf("an earlier audit: %d, want 409", code)
	}
	before := streamMsgs(t, f, bus.StreamEvents)
	if code := s.post(t, f.ts.URL+"/audit/requeue", form(last), nil); code != http.StatusSeeOther {
		t.Fatalf("repair: %d", code)
	}
	if got := streamMsgs(t, f, bus.StreamEvents); got != before+1 {
		t.Errorf("BCREG_EVENTS has %d messages, want %d (the corporation with a finding requeued)", got, before+1)
	}
	var actions []string
	rows, err := f.pool.Query(f.ctx, `SELECT action || ' ' || target || ' ' || (detail->>'via') FROM operator_action ORDER BY record_id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var a string
		_ = rows.Scan(&a)
		actions = append(actions, strings.Fields(a)[0]+" "+strings.Fields(a)[1]+" "+strings.Fields(a)[2])
	}
	if diff := cmp.Diff([]string{"requeue-corp BC_REG " + f.corp, "audit-repost BC_REG " + f.corp}, actions); diff != "" {
		t.Errorf("operator_action (-want +got):\n%s", diff)
	}
}
