package audit

import (
	"slices"
	"strings"
	"time"

	"github.com/bcgov/bcreg-events/pkg/credential"
)

// Expected is what OrgBook should hold of one corporation: the values of
// the credentials the profile's generator issues from the registry today,
// as OrgBook keeps them (the latest by effective date per credential set).
type Expected struct {
	CorpNum  string
	SourceID string // the registration id: OrgBook's topic source_id
	// HasRegistration is false when the generator issues no registration
	// credential yet (nothing dated in the past): nothing to find in OrgBook.
	HasRegistration  bool
	EntityType       string
	Name             string // the assumed name when there is one, else the legal name
	EntityStatus     string
	RegistrationDate string
	HomeJurisdiction string
	BusinessNumber   string
	// Related are the registration ids of the active relationships.
	Related []string
}

// expect reduces a generator's result to the expected values. Only
// credentials the pipeline posts by now count (not held, not before now).
func expect(res *credential.Result, now time.Time) Expected {
	e := Expected{CorpNum: res.CorpNum}
	var reg, bn map[string]any
	var regEff, bnEff time.Time
	type rel struct {
		eff     time.Time
		expired bool
	}
	rels := map[string]rel{} // by associated id and relationship
	for _, c := range res.Credentials {
		if c.Held || c.NotBefore.After(now) {
			continue
		}
		eff, _ := parseInstant(c.EffectiveDate)
		switch c.Type {
		case credential.TypeRegistration:
			// Ties: the later in issue order, as OrgBook supersedes at an
			// equal effective date.
			if reg == nil || !eff.Before(regEff) {
				reg, regEff = c.Attributes, eff
			}
		case credential.TypeBusinessNumber:
			if bn == nil || !eff.Before(bnEff) {
				bn, bnEff = c.Attributes, eff
			}
		case credential.TypeRelationship:
			key := text(c.Attributes, "associated_registration_id") + "\x00" + text(c.Attributes, "relationship")
			if r, ok := rels[key]; !ok || !eff.Before(r.eff) {
				rels[key] = rel{eff: eff, expired: text(c.Attributes, "expiry_date") != ""}
			}
		}
	}
	if reg == nil {
		return e
	}
	e.HasRegistration = true
	e.SourceID = text(reg, "registration_id")
	e.EntityType = text(reg, "entity_type")
	e.Name = text(reg, "entity_name_assumed")
	if e.Name == "" {
		e.Name = text(reg, "entity_name")
	}
	e.EntityStatus = text(reg, "entity_status")
	e.RegistrationDate = text(reg, "registration_date")
	e.HomeJurisdiction = text(reg, "home_jurisdiction")
	if bn != nil {
		e.BusinessNumber = text(bn, "business_number")
	}
	for key, r := range rels {
		if !r.expired {
			other, _, _ := strings.Cut(key, "\x00")
			if !slices.Contains(e.Related, other) {
				e.Related = append(e.Related, other)
			}
		}
	}
	slices.Sort(e.Related)
	return e
}

func text(attrs map[string]any, k string) string {
	s, _ := attrs[k].(string)
	return s
}

// parseInstant reads a date as the issuer writes it (RFC 3339) or as
// OrgBook's database returns it.
func parseInstant(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// sameInstant compares two dates as instants (OrgBook and the issuer write
// the same instant with different offsets); two empty values are equal.
func sameInstant(a, b string) bool {
	if a == b {
		return true
	}
	ta, oka := parseInstant(a)
	tb, okb := parseInstant(b)
	return oka && okb && ta.Equal(tb)
}
