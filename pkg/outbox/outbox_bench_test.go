package outbox

import (
	"fmt"
	"testing"

	"github.com/bcgov/bcreg-events/pkg/credential/canonical"
	"github.com/bcgov/bcreg-events/pkg/eventdb/outboxdb"
	"github.com/bcgov/bcreg-events/pkg/messages"
)

// benchRows are 100 corporations' outbox rows, 3 credentials each, with
// the canonical text of a registration credential (the history profile's
// commonest).
func benchRows(b *testing.B) []outboxdb.Row {
	var rows []outboxdb.Row
	for c := range 100 {
		corp := fmt.Sprintf("%07d", c)
		for i := range 3 {
			eff := fmt.Sprintf("20%02d-07-29T07:01:00+00:00", 5+i)
			text, hash, err := canonical.MarshalHashed(canonical.Object{
				"registration_id": "BC" + corp, "registration_date": "2007-05-04T22:52:52+00:00", "registration_expiry_date": "",
				"registration_renewal_effective": "", "entity_name": "CAFÉ PACIFIC HOLDINGS LTD.", "entity_name_effective": eff,
				"entity_name_assumed": "", "entity_name_assumed_effective": "", "entity_name_trans": "", "entity_name_trans_effective": "",
				"entity_status": "ACT", "entity_status_effective": "2007-05-04T22:52:52+00:00", "entity_type": "BC",
				"home_jurisdiction": "BC", "registered_jurisdiction": "", "extra_jurisdictional_registration": "",
				"effective_date": eff, "expiry_date": "", "reason_description": "Filing:NOALA",
			})
			if err != nil {
				b.Fatal(err)
			}
			rows = append(rows, outboxdb.Row{RecordID: int64(len(rows) + 1), CorpNum: corp, CorpState: "ACT", Profile: "history",
				Type: "REG", CredentialID: "BC" + corp, Schema: "registration.registries.ca", Version: "1.0.42",
				Reason: "Filing:NOALA", JSON: text, Hash: hash})
		}
	}
	return rows
}

// BenchmarkBundlesRegistration measures the builder's making of bundles from outbox
// rows: per corporation.
func BenchmarkBundlesRegistration(b *testing.B) {
	rows := benchRows(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, bad := Bundles(messages.SystemBCReg, rows, Options{MaxBytes: 1 << 20}); len(bad) > 0 {
			b.Fatal(bad)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100, "ns/corp")
}
