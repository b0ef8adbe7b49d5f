package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/credential"
	"github.com/bcgov/bcreg-events/pkg/devkit/agentsim"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// auditFinding is the part of `bcregctl audit --json` a test compares.
type auditFinding struct {
	CorpNum  string `json:"corp_num"`
	SourceID string `json:"source_id"`
	Check    string `json:"check"`
	Expected string `json:"expected"`
	Found    string `json:"found"`
}

type auditReport struct {
	Audited  int            `json:"audited"`
	Pending  int            `json:"pending"`
	Findings []auditFinding `json:"findings"`
}

// audit runs `bcregctl audit --json` after the simulator's OrgBook database
// caught up, and returns the report and the exit status.
func (p *pipeline) audit(args ...string) (auditReport, int, string) {
	p.t.Helper()
	if err := p.sim.FlushOrgBook(testenv.Context(p.t)); err != nil {
		p.t.Fatal(err)
	}
	code, stdout, stderr := p.ctl(append([]string{"audit", "--json", "--grace", "1000h"}, args...)...)
	var r auditReport
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		p.t.Fatalf("audit --json: exit %d, not JSON (%v):\n%s\n%s", code, err, stdout, stderr)
	}
	if r.Findings == nil {
		p.t.Fatalf("audit --json: findings is null, want []: %s", stdout)
	}
	return r, code, stderr
}

// corpFacts are what the test picks drift targets by.
type corpFacts struct {
	corp, regID, name, bn string
	rels                  []string // active relationships (registration ids)
}

func auditTargets(t *testing.T, results map[string]credential.Result) (plain []corpFacts, firm, owner corpFacts) {
	t.Helper()
	related := map[string]bool{}
	var all []corpFacts
	for corp, res := range results {
		f := corpFacts{corp: corp}
		for _, c := range res.Credentials {
			if !postable(c) {
				continue
			}
			a := c.Attributes
			switch c.Type {
			case credential.TypeRegistration:
				f.regID, _ = a["registration_id"].(string)
				f.name, _ = a["entity_name"].(string)
				if s, _ := a["entity_name_assumed"].(string); s != "" {
					f.name = s
				}
			case credential.TypeBusinessNumber:
				f.bn, _ = a["business_number"].(string)
			case credential.TypeRelationship:
				other, _ := a["associated_registration_id"].(string)
				related[other] = true
				if a["expiry_date"] == "" {
					f.rels = append(f.rels, other)
				}
			}
		}
		if f.regID != "" {
			all = append(all, f)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].corp < all[j].corp })
	for _, f := range all {
		if f.rels == nil && !related[f.regID] {
			plain = append(plain, f)
		}
		if len(f.rels) == 1 && firm.corp == "" && strings.HasPrefix(f.regID, "FM") {
			firm = f
		}
	}
	// Those with a business number first: the BN case takes the first.
	sort.SliceStable(plain, func(i, j int) bool { return plain[i].bn != "" && plain[j].bn == "" })
	for _, f := range all {
		if firm.corp != "" && f.regID == firm.rels[0] {
			owner = f
		}
	}
	return plain, firm, owner
}

// TestAuditEndToEnd: after the pipeline delivered everything the audit is
// clean; each kind of seeded drift is reported as exactly that
// corporation and check, with expected and found values; `--requeue --yes`
// repairs what can be repaired, and the next audit is clean again (real
// processes: poller, builder, poster, vonx-sim with its OrgBook database,
// bcregctl).
func TestAuditEndToEnd(t *testing.T) {
	p := newPipeline(t, "history")
	p.env["BCREG_ORGBOOK_DB_URL"] = testenv.NewDatabase(t)
	want := expectedDeliveries(t, p.sourceDB, "history")
	results := generateAll(t, p.sourceDB, "history")
	p.startSim(map[string]string{"BCREG_SIM_ORGBOOK_DB_URL": p.env["BCREG_ORGBOOK_DB_URL"]})
	p.startService("event-poller", "event-poller")
	p.startService("credential-builder", "credential-builder")
	p.startService("poster", "poster")
	p.waitIdle(3*time.Minute, len(want))

	clean, code, stderr := p.audit()
	if code != 0 || len(clean.Findings) != 0 || clean.Audited == 0 {
		t.Fatalf("audit after delivery: exit %d, %d audited, findings %+v\n%s", code, clean.Audited, clean.Findings, stderr)
	}

	plain, firm, owner := auditTargets(t, results)
	if len(plain) < 11 || plain[0].bn == "" || firm.corp == "" || owner.corp == "" {
		t.Fatalf("the fixture lacks targets: %d plain corporations, firm %+v, owner %+v", len(plain), firm, owner)
	}
	ctx := testenv.Context(t)
	eventDB := testenv.Pool(t, p.eventDB)
	drift := func(d agentsim.Drift) {
		t.Helper()
		if err := p.sim.Drift(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := eventDB.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	// The poller is stopped while the drift is seeded and audited: each
	// cycle (every second) hands a work item queued by hand over to the
	// builder, and the test's pending row must stay pending until the
	// audit has skipped it (the audit of a run where a cycle came between
	// compared that corporation and found its drift).
	if err := p.procs["event-poller"].stop(t, 30*time.Second); err != nil {
		t.Fatalf("stop the poller: %v", err)
	}
	// Each row seeds one drift in one corporation and names the finding.
	var wantFindings []auditFinding
	type seeded struct {
		name string
		seed func(f corpFacts) []auditFinding
	}
	setAttr := func(check, attr, value string, expected func(f corpFacts) string) seeded {
		return seeded{"OrgBook " + check, func(f corpFacts) []auditFinding {
			drift(agentsim.Drift{Kind: agentsim.DriftSetAttribute, SourceID: f.regID, Type: attr, Value: value})
			return []auditFinding{{f.corp, f.regID, check, expected(f), value}}
		}}
	}
	regAttr := func(f corpFacts, k string) string {
		for _, c := range slices.Backward(results[f.corp].Credentials) {
			if c.Type == credential.TypeRegistration && postable(c) {
				s, _ := c.Attributes[k].(string)
				return s
			}
		}
		return ""
	}
	cases := []seeded{
		{"OrgBook business number stored as BN15", func(f corpFacts) []auditFinding {
			drift(agentsim.Drift{Kind: agentsim.DriftSetAttribute, SourceID: f.regID, Type: "business_number", Value: f.bn + "BC0001"})
			return []auditFinding{{f.corp, f.regID, "business_number", f.bn, f.bn + "BC0001"}}
		}},
		{"never processed", func(f corpFacts) []auditFinding {
			exec(`DELETE FROM credential_log WHERE corp_num = $1`, f.corp)
			exec(`DELETE FROM event_by_corp_filing WHERE corp_num = $1`, f.corp)
			exec(`DELETE FROM corp_history_log WHERE corp_num = $1`, f.corp)
			return []auditFinding{{f.corp, f.regID, "never_processed", "processed", "no processed work item, no credential"}}
		}},
		{"no registration credential", func(f corpFacts) []auditFinding {
			exec(`DELETE FROM credential_log WHERE corp_num = $1 AND credential_type_cd = 'REG'`, f.corp)
			return []auditFinding{{f.corp, f.regID, "no_registration_credential", "a registration credential delivered (Y)", "none delivered"}}
		}},
		{"stuck credential", func(f corpFacts) []auditFinding {
			exec(`UPDATE credential_log SET process_success = 'N', process_msg = 'rejected by a test' WHERE corp_num = $1 AND credential_type_cd = 'BNC'`, f.corp)
			return []auditFinding{{f.corp, f.regID, "stuck_credentials", "0", "1 rejected (N), 0 given up (D), 0 outstanding past due"}}
		}},
		{"no topic", func(f corpFacts) []auditFinding {
			drift(agentsim.Drift{Kind: agentsim.DriftDeleteTopic, SourceID: f.regID})
			return []auditFinding{{f.corp, f.regID, "no_topic", "topic " + f.regID, "no topic"}}
		}},
		{"OrgBook name", func(f corpFacts) []auditFinding {
			drift(agentsim.Drift{Kind: agentsim.DriftSetName, SourceID: f.regID, Type: "entity_name", Value: "WRONG NAME LTD."})
			return []auditFinding{{f.corp, f.regID, "name", f.name, "WRONG NAME LTD."}}
		}},
		setAttr("entity_type", "entity_type", "XYZ", func(f corpFacts) string { return regAttr(f, "entity_type") }),
		setAttr("entity_status", "entity_status", "ZZZ", func(f corpFacts) string { return regAttr(f, "entity_status") }),
		setAttr("registration_date", "registration_date", "1901-01-01T08:00:00+00:00", func(f corpFacts) string { return regAttr(f, "registration_date") }),
		setAttr("home_jurisdiction", "home_jurisdiction", "ON", func(f corpFacts) string { return regAttr(f, "home_jurisdiction") }),
		{"pending in the queue (skipped)", func(f corpFacts) []auditFinding {
			drift(agentsim.Drift{Kind: agentsim.DriftSetName, SourceID: f.regID, Type: "entity_name", Value: "NOT CHECKED"})
			exec(`INSERT INTO event_by_corp_filing (system_type_cd, corp_num, prev_event_id, prev_event_date, last_event_id, last_event_date, reason)
VALUES ('BC_REG', $1, 0, '0001-01-01', 0, '0001-01-01', 'test')`, f.corp)
			return nil
		}},
	}
	for i, c := range cases {
		wantFindings = append(wantFindings, c.seed(plain[i])...)
	}
	// One side of a relationship: the firm's row to its owner is lost.
	drift(agentsim.Drift{Kind: agentsim.DriftDropRelationship, SourceID: firm.regID, Related: owner.regID})
	wantFindings = append(wantFindings, auditFinding{firm.corp, firm.regID, "relationship", "related to " + owner.regID, "missing in OrgBook"})
	// A topic the registry does not have, issued through the agent.
	extra := `{"registration_id":"BC9999999","registration_date":"","entity_name":"NOT IN THE REGISTRY LTD.","entity_status":"ACT",` +
		`"entity_type":"BC","home_jurisdiction":"BC","effective_date":"2020-01-01T08:00:00+00:00","expiry_date":""}`
	resp, err := http.Post("http://"+p.simAddr+"/bcreg/issue-credential?schema=registration.registries.ca&version=1.0.42", "application/json", strings.NewReader(extra))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("issue the extra topic: %v %v", err, resp)
	}
	resp.Body.Close()
	wantFindings = append(wantFindings, auditFinding{"", "BC9999999", "topic_not_in_registry", "no topic", "topic BC9999999"})

	got, code, stderr := p.audit()
	sortFindings := func(fs []auditFinding) {
		sort.Slice(fs, func(i, j int) bool { return fmt.Sprint(fs[i]) < fmt.Sprint(fs[j]) })
	}
	sortFindings(wantFindings)
	sortFindings(got.Findings)
	if diff := cmp.Diff(wantFindings, got.Findings); diff != "" {
		t.Errorf("findings after drift (-want +got):\n%s\n%s", diff, stderr)
	}
	if code != 3 || got.Pending != 1 {
		t.Errorf("exit %d (want 3), pending %d (want 1)", code, got.Pending)
	}
	// The same corporations through OrgBook's read API (--corp --api):
	// the same findings as through its database.
	var named []string
	var wantNamed []auditFinding
	for _, f := range wantFindings {
		if f.CorpNum != "" && !slices.Contains(named, f.CorpNum) {
			named = append(named, f.CorpNum)
		}
	}
	for _, f := range wantFindings {
		if slices.Contains(named, f.CorpNum) {
			wantNamed = append(wantNamed, f)
		}
	}
	p.env["BCREG_ORGBOOK_API_URL"] = "http://" + p.simAddr
	viaAPI, code, stderr := p.audit("--corp", strings.Join(named, ","), "--api")
	delete(p.env, "BCREG_ORGBOOK_API_URL")
	sortFindings(viaAPI.Findings)
	if diff := cmp.Diff(wantNamed, viaAPI.Findings); diff != "" || code != 3 {
		t.Errorf("audit --corp --api: exit %d, findings (-want +got):\n%s\n%s", code, diff, stderr)
	}

	// The repair. The pending row is the test's own; it is processed now.
	exec(`UPDATE event_by_corp_filing SET process_date = now(), process_success = 'Y' WHERE reason = 'test'`)
	p.startService("event-poller", "event-poller") // the requeues are its work
	before, _ := p.sim.Stats(ctx)
	if code, out, errOut := p.ctl("audit", "--requeue"); code != 3 || !strings.Contains(errOut, "dry run") {
		t.Fatalf("audit --requeue (dry run): exit %d\n%s\n%s", code, out, errOut)
	}
	if after, _ := p.sim.Stats(ctx); after.Issued != before.Issued {
		t.Fatalf("the dry run issued %d credentials", after.Issued-before.Issued)
	}
	code, out, errOut := p.ctl("audit", "--requeue", "--yes", "--grace", "1000h")
	if code != 3 || !strings.Contains(errOut, "re-posted") || !strings.Contains(out, "deleteTopic BC9999999") {
		t.Fatalf("audit --requeue --yes: exit %d\n%s\n%s", code, out, errOut)
	}
	// The step only a person can do: delete the topic the registry lacks.
	drift(agentsim.Drift{Kind: agentsim.DriftDeleteTopic, SourceID: "BC9999999"})
	p.waitIdle(3*time.Minute, int(before.Issued))
	again, code, stderr := p.audit()
	if code != 0 || len(again.Findings) != 0 {
		t.Errorf("audit after the repair: exit %d, findings %+v\n%s", code, again.Findings, stderr)
	}
	var actions int
	if err := eventDB.QueryRow(ctx, `SELECT count(*) FROM operator_action WHERE action IN ('requeue-corp', 'audit-repost')`).Scan(&actions); err != nil || actions != 2 {
		t.Errorf("operator actions recorded: %d (%v), want requeue-corp and audit-repost", actions, err)
	}
	// The full audits are recorded for the console (not the --corp one):
	// clean, drifted, the dry run and the repair (which audit again, the
	// test's pending corporation now among them), clean.
	var runs []int
	rows, err := eventDB.Query(ctx, `SELECT findings_total FROM audit_run ORDER BY run_id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n int
		_ = rows.Scan(&n)
		runs = append(runs, n)
	}
	if n := len(wantFindings); len(runs) != 5 || runs[0] != 0 || runs[1] != n || runs[2] != n+1 || runs[3] != n+1 || runs[4] != 0 {
		t.Errorf("recorded audits' findings: %v, want [0 %d %d %d 0]", runs, n, n+1, n+1)
	}
}
