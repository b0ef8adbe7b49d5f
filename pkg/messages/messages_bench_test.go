package messages

import (
	"fmt"
	"testing"
	"time"

	"github.com/bcgov/bcreg-events/pkg/regevent"
)

// benchBundle is a bundle of ten history-profile credentials, about what an
// initial load sends for an older company.
func benchBundle() CredentialBundle {
	b := CredentialBundle{V: Version, System: SystemBCReg, CorpNum: "0191294", CorpState: "ACT", Profile: "history",
		Prev: regevent.Start, Last: regevent.At(111258289, time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC))}
	for i := range 10 {
		eff := fmt.Sprintf("20%02d-07-29T07:01:00+00:00", 5+i)
		b.Credentials = append(b.Credentials, Credential{
			Hash: fmt.Sprintf("%064x", i), Type: "REG", CredentialID: "BC0191294", Schema: "registration.registries.ca", Version: "1.0.42",
			Attributes: map[string]any{
				"registration_id": "BC0191294", "registration_date": "2007-05-04T22:52:52+00:00", "registration_expiry_date": "",
				"registration_renewal_effective": "", "entity_name": "CAFÉ PACIFIC HOLDINGS LTD.", "entity_name_effective": eff,
				"entity_name_assumed": "", "entity_name_assumed_effective": "", "entity_name_trans": "", "entity_name_trans_effective": "",
				"entity_status": "ACT", "entity_status_effective": "2007-05-04T22:52:52+00:00", "entity_type": "BC",
				"home_jurisdiction": "BC", "registered_jurisdiction": "", "extra_jurisdictional_registration": "",
				"effective_date": eff, "expiry_date": "", "reason_description": "Filing:NOALA",
			},
			Reason: "Filing:NOALA", EffectiveDate: eff,
		})
	}
	return b
}

// BenchmarkEncodeBundle measures the builder's encoding of a bundle.
func BenchmarkEncodeBundle(b *testing.B) {
	bundle := benchBundle()
	text, _ := Encode(bundle)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(bundle); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeBundle measures the poster's decoding of the same bundle.
func BenchmarkDecodeBundle(b *testing.B) {
	text, err := Encode(benchBundle())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeBundle(text); err != nil {
			b.Fatal(err)
		}
	}
}
