package credential

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/credential/canonical"
	"github.com/bcgov/bcreg-events/pkg/regclock"
	"github.com/bcgov/bcreg-events/pkg/source"
)

// Schemas of the snapshot profile (commit 8bc273a).
const (
	SnapshotRegistrationSchema = "registration.bc_registries"
	SnapshotAddressSchema      = "address.bc_registries"
	SnapshotRelationshipSchema = "relationship.bc_registries"
	SnapshotSchemaVersion      = "1.0.36"
)

// CorpStateUnknown is Result.CorpState for a corporation without a usable
// state row (the value the later original used).
const CorpStateUnknown = "N/A"

// snapshotScope is the corporation types the 2018 discovery queries selected
// (docs/design/generation.md §2); SP and MF firms are in scope through an owner of one
// of these types.
var snapshotScope = map[string]bool{"A": true, "LLC": true, "BC": true, "C": true, "CUL": true, "ULC": true}

// SnapshotProfile is the 2018 current-state generator (docs/design/generation.md §2):
// one REG credential, one ADDR per current registered/head/firm office with a
// delivery address, one REL per owned sole proprietorship or misc firm.
type SnapshotProfile struct {
	opts Options
}

// NewSnapshot returns the snapshot profile.
func NewSnapshot(opts Options) *SnapshotProfile {
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	return &SnapshotProfile{opts: opts}
}

// Name returns ProfileSnapshot.
func (p *SnapshotProfile) Name() string { return ProfileSnapshot }

// InScope reports whether the 2018 discovery would have selected the
// corporation: a company of type A, LLC, BC, C, CUL or ULC, or an SP/MF firm
// with a current FBO owner row naming such a company. (The generator itself
// never checked scope.)
func (p *SnapshotProfile) InScope(s *source.Snapshot) bool {
	t := s.Corporation.TypeCode()
	if snapshotScope[t] {
		return true
	}
	if t != "SP" && t != "MF" {
		return false
	}
	for _, party := range s.OwnerParties() {
		if party.Owner != nil && snapshotScope[party.Owner.TypeCode()] {
			return true
		}
	}
	return false
}

// Generate returns REG, then ADDR (one per office, by office type), then REL
// (one per owned firm, by firm number) credentials. ADDR credentials are held
// back unless Options.PostAddresses is set.
func (p *SnapshotProfile) Generate(s *source.Snapshot, _ Params) (*Result, error) {
	g := &snapshotGen{s: s, log: p.opts.Log, res: &Result{CorpNum: s.CorpNum()}}
	regID := snapshotRegistrationID(s.Corporation.TypeCode(), s.CorpNum())

	reg, err := g.registration(regID)
	if err != nil {
		return nil, err
	}
	g.res.Credentials = append(g.res.Credentials, reg)

	addrs, err := g.addresses(regID, !p.opts.PostAddresses)
	if err != nil {
		return nil, err
	}
	g.res.Credentials = append(g.res.Credentials, addrs...)

	rels, err := g.relationships(regID)
	if err != nil {
		return nil, err
	}
	g.res.Credentials = append(g.res.Credentials, rels...)
	return g.res, nil
}

// snapshotRegistrationID is the 2018 prefix rule: BC, ULC and CC companies
// are known as "BC" + number, every other corporation by its bare number.
func snapshotRegistrationID(corpTypCd, corpNum string) string {
	switch corpTypCd {
	case "BC", "ULC", "CC":
		return "BC" + corpNum
	}
	return corpNum
}

const recognitionDate = "the recognition date"

type snapshotGen struct {
	s    *source.Snapshot
	log  *zap.Logger
	res  *Result
	seen map[string]bool
}

func (g *snapshotGen) registration(regID string) (Credential, error) {
	s := g.s
	attrs := canonical.Object{
		"registration_id":   regID,
		"registration_date": utc(s.Corporation.RecognitionDts),
		"entity_type":       str(s.Type.FullDesc),
		"registration_type": "", // TILMA look-up disabled in the original
	}
	home := homeJurisdiction(s)
	attrs["home_jurisdiction"] = home
	attrs["registered_jurisdiction"] = ""
	if home != "BC" {
		attrs["registered_jurisdiction"] = "BC"
	}

	status, statusDate := g.status()
	attrs["entity_status"] = status
	attrs["entity_status_effective"] = utc(statusDate)
	effective := statusDate

	// Name dates are the start event's timestamp, never the filing's
	// effective date: the original tested a misspelt key ("effectiv_dt").
	if n := s.LegalName(); n != nil {
		d := g.startDate(n.StartEvent, n.StartEventID, "corp_name "+n.CorpNameTypCd, false, s.Corporation.RecognitionDts, recognitionDate)
		attrs["entity_name"] = str(n.CorpNme)
		attrs["entity_name_effective"] = utc(d)
		effective = later(effective, d)
	}
	if n := s.AssumedName(); n != nil {
		d := g.startDate(n.StartEvent, n.StartEventID, "corp_name "+n.CorpNameTypCd, false, s.Corporation.RecognitionDts, recognitionDate)
		attrs["entity_name_assumed"] = str(n.CorpNme)
		attrs["entity_name_assumed_effective"] = utc(d)
		effective = later(effective, d)
	}
	// Translated names (TR, NO) are loaded but deliberately left out.
	attrs["effective_date"] = utc(effective)
	return newCredential(TypeRegistration, s.CorpNum(), SnapshotRegistrationSchema, SnapshotSchemaVersion, attrs)
}

// status returns entity_status and its date (docs/design/generation.md §2, the status date)
// and sets Result.CorpState.
func (g *snapshotGen) status() (string, *time.Time) {
	s := g.s
	cur := s.CurrentState()
	if cur == nil {
		// The original failed here (KeyError on the empty state).
		g.warn("corp_state (the corporation has no state row with a known state code)",
			`entity_status "" dated by the recognition date`)
		g.res.CorpState = CorpStateUnknown
		return "", s.Corporation.RecognitionDts
	}
	op := cur.OpStateCode()
	g.res.CorpState = op
	if op != "ACT" || deref(cur.StateTypCd) == "ACT" {
		return op, g.stateDate(cur)
	}

	// An active sub-state (LIQ, D1F, ...): the date the company last became
	// active, i.e. the start of the oldest state of the latest unbroken run
	// of ACT-op states. Newest first; equal dates (converted data all carry
	// 2004-03-26 20:36) fall back on the event id so the current state leads.
	type dated struct {
		st *source.CorpState
		d  *time.Time
	}
	var list []dated
	for i := range s.States {
		st := &s.States[i]
		if st.OpState != nil {
			list = append(list, dated{st, g.stateDate(st)})
		}
	}
	slices.SortStableFunc(list, func(a, b dated) int {
		return cmp.Or(source.CompareTimes(b.d, a.d), source.CompareIDs(b.st.StartEventID, a.st.StartEventID))
	})
	var kept *time.Time
	found := false
	for _, x := range list {
		if x.st.OpStateCode() != "ACT" {
			break
		}
		kept, found = x.d, true
	}
	if !found {
		// A historical state sorts before the current one: date the status
		// by the current state itself.
		kept = g.stateDate(cur)
	}
	return op, kept
}

// stateDate is date(start event) of a state row, or the recognition date.
func (g *snapshotGen) stateDate(st *source.CorpState) *time.Time {
	return g.startDate(st.StartEvent, st.StartEventID, "corp_state "+deref(st.StateTypCd), true, g.s.Corporation.RecognitionDts, recognitionDate)
}

func (g *snapshotGen) addresses(regID string, held bool) ([]Credential, error) {
	s := g.s
	var out []Credential
	for i := range s.Offices {
		o := &s.Offices[i]
		if o.EndEventID != nil {
			continue // a full-history snapshot also holds ended offices
		}
		a := o.DeliveryAddr
		if a == nil {
			continue // no delivery address, no credential; mailing address never used
		}
		var addrType any
		if o.Type != nil {
			addrType = str(o.Type.FullDesc)
		} else {
			// The original failed (KeyError) on an office type missing
			// from the code table.
			g.warn(fmt.Sprintf("office_type row for office_typ_cd '%s'", o.OfficeTypCd), "the office type code as address_type")
			addrType = o.OfficeTypCd
		}
		d := utc(g.startDate(o.StartEvent, o.StartEventID, "office "+o.OfficeTypCd, true, s.Corporation.RecognitionDts, recognitionDate))
		attrs := canonical.Object{
			"registration_id":        regID,
			"address_type":           addrType,
			"civic_address":          a.LocalAddr(),
			"municipality":           str(a.City),
			"province":               str(a.Province),
			"postal_code":            str(a.PostalCd),
			"country":                str(a.CountryTypCd),
			"address_effective_date": d,
			"effective_date":         d,
		}
		if n := s.LegalName(); n != nil {
			attrs["addressee"] = str(n.CorpNme)
		}
		c, err := newCredential(TypeAddress, s.CorpNum()+","+o.OfficeTypCd, SnapshotAddressSchema, SnapshotSchemaVersion, attrs)
		if err != nil {
			return nil, err
		}
		c.Held = held
		out = append(out, c)
	}
	return out, nil
}

func (g *snapshotGen) relationships(regID string) ([]Credential, error) {
	s := g.s
	if t := s.Corporation.TypeCode(); t == "SP" || t == "MF" {
		return nil, nil // firms get no relationship credential at 8bc273a
	}
	var out []Credential
	for _, p := range s.OwnedFirmParties() {
		firm := p.Firm
		if firm == nil {
			// The original failed reading the firm's corporation row.
			g.warn(fmt.Sprintf("corporation row of firm %s (corp_party %s)", p.CorpNum, idText(p.CorpPartyID)), "no relationship credential for it")
			continue
		}
		ft := firm.TypeCode()
		if ft != "SP" && ft != "MF" {
			continue
		}
		d := utc(g.startDate(p.StartEvent, p.StartEventID, "corp_party "+idText(p.CorpPartyID), true, firm.RecognitionDts, "the firm's recognition date"))
		attrs := canonical.Object{
			"registration_id":               regID,
			"associated_registration_id":    snapshotRegistrationID(ft, firm.CorpNum),
			"relationship":                  "Owns",
			"relationship_description":      "Does Business As",
			"relationship_status":           "ACT",
			"effective_date":                d,
			"relationship_status_effective": d,
		}
		c, err := newCredential(TypeRelationship, regID, SnapshotRelationshipSchema, SnapshotSchemaVersion, attrs)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// startDate returns a record's start date: date(E) when useFiling (the FILE
// event's filing effective_dt, else the event timestamp), else the event
// timestamp. When the event row, its id or its date is missing (the
// original crashed on each), it warns and returns fallback (described by
// fallbackName).
func (g *snapshotGen) startDate(ev *source.Event, id *int64, record string, useFiling bool, fallback *time.Time, fallbackName string) *time.Time {
	var d *time.Time
	if ev != nil {
		if useFiling {
			d = ev.EffectiveDate()
		} else {
			d = ev.EventTimestmp
		}
	}
	if d != nil {
		return d
	}
	var missing string
	switch {
	case id == nil:
		missing = "start_event_id of " + record
	case ev == nil:
		missing = fmt.Sprintf("event row %d (start event of %s)", *id, record)
	default:
		missing = fmt.Sprintf("event_timestmp of event %d (start event of %s)", *id, record)
	}
	fb := fallbackName
	if fallback == nil {
		fb += " (NULL)"
	}
	g.warn(missing, fb)
	return fallback
}

// warn records and logs a data problem once per corporation.
func (g *snapshotGen) warn(missing, fallback string) {
	msg := "missing " + missing + "; using " + fallback
	if g.seen[msg] {
		return
	}
	if g.seen == nil {
		g.seen = map[string]bool{}
	}
	g.seen[msg] = true
	g.res.Warnings = append(g.res.Warnings, msg)
	g.log.Warn("bad source data, using a fallback",
		zap.String("corp_num", g.s.CorpNum()), zap.String("missing", missing), zap.String("fallback", fallback))
}

// homeJurisdiction is the 2018 rule: BC companies BC; extra-provincial ones
// their current jurisdiction code, or for OT its free-text description when
// there is one, or "" without a jurisdiction row; any other class BC.
func homeJurisdiction(s *source.Snapshot) string {
	switch s.Type.Class() {
	case "BC":
		return "BC"
	case "XPRO":
		j := s.CurrentJurisdiction()
		if j == nil {
			return ""
		}
		if code := deref(j.CanJurTypCd); code != "OT" || j.OthrJurisDesc == nil {
			return code
		}
		return *j.OthrJurisDesc
	}
	return "BC"
}

// utc converts a naive BC local time to the credential text, nil to null.
func utc(t *time.Time) any {
	if t == nil {
		return nil
	}
	return regclock.ToUTC(regclock.Snapshot, *t)
}

// later returns the later of a and b, ignoring nils; a wins ties.
func later(a, b *time.Time) *time.Time {
	if a == nil || (b != nil && a.Before(*b)) {
		return b
	}
	return a
}

// str returns *p, or nil (JSON null) for a NULL column.
func str(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

func idText(id *int64) string {
	if id == nil {
		return "NULL"
	}
	return fmt.Sprint(*id)
}
