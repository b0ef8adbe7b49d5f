package canonical_test

import (
	"testing"

	"github.com/bcgov/bcreg-events/pkg/credential/canonical"
)

// regCredential is a history-profile registration credential as the
// generator builds it (17 attributes, one name with accents).
func regCredential() canonical.Object {
	return canonical.Object{
		"registration_id": "BC0191294", "registration_date": "2007-05-04T22:52:52+00:00", "registration_expiry_date": "",
		"registration_renewal_effective": "", "entity_name": "CAFÉ CRÊPERIE PACIFIC HOLDINGS LTD.",
		"entity_name_effective": "2007-05-04T22:52:52+00:00", "entity_name_assumed": "", "entity_name_assumed_effective": "",
		"entity_name_trans": "", "entity_name_trans_effective": "", "entity_status": "ACT",
		"entity_status_effective": "2007-05-04T22:52:52+00:00", "entity_type": "BC", "home_jurisdiction": "BC",
		"registered_jurisdiction": "", "extra_jurisdictional_registration": "", "effective_date": "2015-07-29T07:01:00+00:00",
		"expiry_date": "", "reason_description": "Filing:NOCAD",
	}
}

// BenchmarkMarshal measures the canonical text of one credential.
func BenchmarkMarshal(b *testing.B) {
	obj := regCredential()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := canonical.Marshal(obj); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHash measures the SHA-256 hash of one credential's text.
func BenchmarkHash(b *testing.B) {
	text, err := canonical.Marshal(regCredential())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		canonical.Hash(text)
	}
}

// BenchmarkMarshalAndHash is what the generator does per credential.
func BenchmarkMarshalAndHash(b *testing.B) {
	obj := regCredential()
	b.ReportAllocs()
	for b.Loop() {
		text, err := canonical.Marshal(obj)
		if err != nil {
			b.Fatal(err)
		}
		canonical.Hash(text)
	}
}
