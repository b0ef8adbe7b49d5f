package audit

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/eventdb/auditdb"
	"github.com/bcgov/bcreg-events/pkg/webhook"
)

func TestCompare(t *testing.T) {
	exp := Expected{CorpNum: "0000001", SourceID: "BC0000001", HasRegistration: true, EntityType: "BC", Name: "A LTD.",
		EntityStatus: "ACT", RegistrationDate: "2001-01-01T08:00:00+00:00", HomeJurisdiction: "BC", BusinessNumber: "123456789",
		Related: []string{"FM0000002"}}
	ok := auditdb.AuditCorp{Processed: true, RegistrationDelivered: true}
	same := Found{SourceID: "BC0000001", HasRegistration: true, EntityType: "BC", Name: "A LTD.", EntityStatus: "ACT",
		RegistrationDate: "2001-01-01T00:00:00-08:00", HomeJurisdiction: "BC", BusinessNumber: "123456789", Related: []string{"FM0000002"}}
	f := func(c Check, e, fo string) Finding {
		return Finding{CorpNum: "0000001", SourceID: "BC0000001", Check: c, Expected: e, Found: fo}
	}
	tests := []struct {
		name  string
		st    auditdb.AuditCorp
		found func(*Found) *Found
		want  []Finding
	}{
		{"equal (dates as instants)", ok, func(f *Found) *Found { return f }, nil},
		{"never processed", auditdb.AuditCorp{}, func(f *Found) *Found { return f },
			[]Finding{f(CheckNeverProcessed, "processed", "no processed work item, no credential")}},
		{"stuck", auditdb.AuditCorp{Processed: true, RegistrationDelivered: true, GivenUp: 2}, func(f *Found) *Found { return f },
			[]Finding{f(CheckStuckCredentials, "0", "0 rejected (N), 2 given up (D), 0 outstanding past due")}},
		{"no topic", ok, func(*Found) *Found { return nil }, []Finding{f(CheckNoTopic, "topic BC0000001", "no topic")}},
		{"BN15", ok, func(f *Found) *Found { f.BusinessNumber = "123456789BC0001"; return f },
			[]Finding{f(CheckBusinessNumber, "123456789", "123456789BC0001")}},
		{"registration date", ok, func(f *Found) *Found { f.RegistrationDate = "2001-01-01T09:00:00+00:00"; return f },
			[]Finding{f(CheckRegistrationDate, "2001-01-01T08:00:00+00:00", "2001-01-01T09:00:00+00:00")}},
		{"relationships on one side", ok, func(f *Found) *Found { f.Related = []string{"FM0000003"}; return f },
			[]Finding{f(CheckRelationship, "related to FM0000002", "missing in OrgBook"),
				f(CheckRelationship, "not related to FM0000003", "related to FM0000003 in OrgBook")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fo := same
			got := compare(exp, tt.st, tt.found(&fo))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReportJSONAndIgnore(t *testing.T) {
	r := &Report{Findings: []Finding{}, Counts: countFindings(nil)}
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil || !strings.Contains(b.String(), `"findings": []`) {
		t.Errorf("JSON: %v\n%s", err, b.String())
	}
	dir := t.TempDir()
	for name, text := range map[string]string{"list.txt": "0000001 # a note\nBC0000002,FM3\n", "list.json": `["0000001", "BC0000002", "FM3"]`} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := ReadIgnore(p)
		if diff := cmp.Diff(map[string]bool{"0000001": true, "BC0000002": true, "FM3": true}, got); err != nil || diff != "" {
			t.Errorf("%s: %v %s", name, err, diff)
		}
	}
}

// TestSummaryIsTheAlertFormat: the webhook summary is package webhook's
// payload, as the event-poller's alerts are: ERROR with findings, INFO
// without.
func TestSummaryIsTheAlertFormat(t *testing.T) {
	fs := []Finding{{CorpNum: "0000001", SourceID: "BC0000001", Check: CheckName, Expected: "A LTD.", Found: "B LTD."}}
	tests := []struct {
		name string
		r    *Report
		want webhook.Payload
	}{
		{"clean", &Report{Audited: 2, Findings: []Finding{}, Counts: countFindings(nil)},
			webhook.Message("p", "f", webhook.Info, "OrgBook audit: 0 finding(s) in 2 corporation(s) compared (0 pending, 0 ignored)")},
		{"a finding", &Report{Audited: 2, Findings: fs, Counts: countFindings(fs)},
			webhook.Message("p", "f", webhook.Error, "OrgBook audit: 1 finding(s) in 2 corporation(s) compared (0 pending, 0 ignored)\nname: 1\n"+
				`0000001 BC0000001 name: expected "A LTD.", found "B LTD."`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.r.Summary("p", "f")); diff != "" {
				t.Errorf("summary (-want +got):\n%s", diff)
			}
		})
	}
}
