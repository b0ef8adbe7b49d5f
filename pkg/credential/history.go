package credential

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/bcgov/bcreg-events/pkg/credential/canonical"
	"github.com/bcgov/bcreg-events/pkg/regclock"
	"github.com/bcgov/bcreg-events/pkg/regevent"
	"github.com/bcgov/bcreg-events/pkg/source"
)

// Schemas of the history profile (*.registries.ca 1.0.42, docs/design/generation.md §4).
const (
	HistoryRegistrationSchema   = "registration.registries.ca"
	HistoryAddressSchema        = "address.registries.ca"
	HistoryRelationshipSchema   = "relationship.registries.ca"
	HistoryBusinessNumberSchema = "business_number.registries.ca"
	HistorySchemaVersion        = "1.0.42"
)

// NoteWithdrawn is Result.Note of a withdrawn (HWT) corporation.
const NoteWithdrawn = "Withdrawn"

// NoteNoPastEvents is Result.Note of a corporation whose every dated event
// lies in the future (or that has none).
const NoteNoPastEvents = "no past events"

// ErrNoHistory is returned (wrapped) by the history profile for a snapshot
// read by a sourcedb.CurrentOnly loader.
var ErrNoHistory = errors.New("snapshot has no history (loaded with sourcedb.CurrentOnly)")

// historyScope is CORP_TYPES_IN_SCOPE of the pre-LEAR pipeline
// (docs/design/generation.md §3g; FI and PAR were commented out).
var historyScope = map[string]bool{
	"A": true, "B": true, "BC": true, "BEN": true, "C": true, "CC": true, "CP": true, "CS": true, "CUL": true,
	"EPR": true, "FOR": true, "GP": true, "LIC": true, "LL": true, "LLC": true, "LP": true, "MF": true, "PA": true,
	"QA": true, "QB": true, "QC": true, "QD": true, "QE": true, "REG": true, "S": true, "SP": true, "ULC": true,
	"XCP": true, "XL": true, "XP": true, "XS": true,
}

// typeChangingAlterations are the notice-of-alteration filings that change
// the company type: COLIN keeps only the current type, so REG credentials
// dated before one cannot say which type the company had.
var typeChangingAlterations = map[string]bool{"NOALB": true, "NOALC": true, "NOALD": true, "NOALE": true, "NOALR": true, "NOALU": true}

// minValidDate is the original's MIN_VALID_DATE: earlier dates are blanked.
var minValidDate = time.Date(11, 1, 1, 0, 0, 0, 0, time.UTC)

// HistoryProfile is the per-date history generator of the last single-source
// pipeline (docs/design/generation.md §3; commit 6325b7e, which still issued the firms'
// IsOwned relationships): one REG credential per date on which the
// registration changed, ADDR and REL credentials with start and expiry
// dates, a BNC credential for the business number, and the reason of each.
type HistoryProfile struct {
	opts Options
}

// NewHistory returns the history profile.
func NewHistory(opts Options) *HistoryProfile {
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	return &HistoryProfile{opts: opts}
}

// Name returns ProfileHistory.
func (p *HistoryProfile) Name() string { return ProfileHistory }

// InScope reports whether the pre-LEAR pipeline processed corporations of
// this type (others were marked S, "Skipped, not in scope"). The generator
// itself does not check it.
func (p *HistoryProfile) InScope(s *source.Snapshot) bool {
	return historyScope[s.Corporation.TypeCode()]
}

// Generate returns the corporation's credentials for the work item's range:
// REG credentials in date order, then ADDR, REL and BNC. It needs a
// full-history snapshot. Credentials with an empty effective date are left
// out (and named in Result.Warnings); events effective after p.Now produce
// no credential yet but a Result.Requeue entry.
func (p *HistoryProfile) Generate(s *source.Snapshot, prm Params) (*Result, error) {
	if !s.FullHistory {
		return nil, fmt.Errorf("history profile: corporation %s: %w", s.CorpNum(), ErrNoHistory)
	}
	prm = Params{Now: wallClock(prm.Now),
		Prev: regevent.At(prm.Prev.EventID, prm.Prev.Date.Time),
		Last: regevent.At(prm.Last.EventID, prm.Last.Date.Time)}
	g := &historyGen{s: s, h: s.History(), prm: prm, log: p.opts.Log, res: &Result{CorpNum: s.CorpNum()},
		regID: registrationID(s.Corporation.TypeCode(), s.CorpNum())}
	for _, pr := range g.h.Problems {
		g.warn(pr.Missing, pr.Fallback)
	}

	g.res.CorpState = CorpStateUnknown
	active := g.h.ActiveState()
	if active != nil {
		g.res.CorpState = active.Rec.OpStateCode()
	}
	if active != nil && deref(active.Rec.StateTypCd) == "HWT" {
		g.res.Note = NoteWithdrawn // withdrawn companies are never published
		return g.res, nil
	}

	past, future := g.events()
	g.requeue(future)
	if len(past) == 0 {
		g.res.Note = NoteNoPastEvents
		return g.res, nil
	}

	all, err := g.registrations(past)
	if err != nil {
		return nil, err
	}
	addrs, err := g.addresses(!p.opts.PostAddresses)
	if err != nil {
		return nil, err
	}
	rels, err := g.relationships()
	if err != nil {
		return nil, err
	}
	bnc, err := g.businessNumber(past)
	if err != nil {
		return nil, err
	}
	all = slices.Concat(all, addrs, rels, bnc)

	// A "now" at the ends of the calendar has no UTC instant: then nothing
	// is held back.
	nowUTC, nowErr := regclock.UTC(regclock.History, prm.Now)
	for _, c := range all {
		if c.EffectiveDate == "" {
			// The original stored nothing without an effective date.
			g.warn(fmt.Sprintf("effective date of %s credential %s (%s)", c.Type, c.ID, c.Reason), "no credential (not stored)")
			continue
		}
		if nowErr == nil {
			c.NotBefore = HistoryHold.NotBefore(c.Attributes, nowUTC)
		}
		g.res.Credentials = append(g.res.Credentials, c)
	}
	if len(g.res.Credentials) == 0 && g.res.Note == "" {
		g.res.Note = "no credentials in the event range"
	}
	return g.res, nil
}

// registrationID is the registration-id rule of the pre-LEAR pipeline
// (docs/design/generation.md §1; BEN added in 2020): BC, ULC, CC and BEN companies are
// known as "BC" + number, every other corporation by its bare number. The
// number is prefixed whatever it starts with: not prefixing numbers that
// already start with BC, C0, C1 or Q came with LEAR (2022, 2025), after
// commit 6325b7e that this profile reproduces.
func registrationID(corpTypCd, corpNum string) string {
	switch corpTypCd {
	case "BC", "ULC", "CC", "BEN":
		return "BC" + corpNum
	}
	return corpNum
}

type historyGen struct {
	s     *source.Snapshot
	h     *source.History
	prm   Params
	log   *zap.Logger
	res   *Result
	seen  map[string]bool
	regID string
}

// events returns the registration-changing events (docs/design/generation.md §3b): the
// start and end events of every state, jurisdiction, legal and assumed name,
// in date order (ties: timestamp), one per effective date, split into past
// and future at Params.Now.
func (g *historyGen) events() (past, future []source.DatedEvent) {
	var list []source.DatedEvent
	add := func(sp *source.Span) {
		list = append(list, sp.Start)
		if sp.End != nil {
			list = append(list, *sp.End)
		}
	}
	for i := range g.h.States {
		add(&g.h.States[i].Span)
	}
	for i := range g.h.Jurisdictions {
		add(&g.h.Jurisdictions[i].Span)
	}
	for i := range g.h.Names {
		add(&g.h.Names[i].Span)
	}
	for i := range g.h.AssumedNames {
		add(&g.h.AssumedNames[i].Span)
	}
	// An event nothing can date cannot date a credential (the fallbacks
	// leave one only when the recognition date is NULL too).
	list = slices.DeleteFunc(list, func(e source.DatedEvent) bool { return e.Date == nil })
	// Rows that exist come before missing ones at the same instant, so a
	// real event names the credential's reason.
	slices.SortStableFunc(list, func(a, b source.DatedEvent) int {
		return cmp.Or(a.Date.Compare(*b.Date), source.CompareTimes(a.Timestamp(), b.Timestamp()), compareBool(b.Known(), a.Known()))
	})
	for i, e := range list {
		if i > 0 && e.Date.Equal(*list[i-1].Date) {
			continue
		}
		if e.Date.After(g.prm.Now) {
			future = append(future, e)
		} else {
			past = append(past, e)
		}
	}
	return past, future
}

// requeue fills Result.Requeue: one entry per future effective date among
// the registration events and the office and party events, so that the
// corporation is processed again when each becomes effective. Every entry
// starts its range at the future event registered first, so no future
// event falls before it.
func (g *historyGen) requeue(future []source.DatedEvent) {
	for i := range g.h.Offices {
		future = appendFuture(future, &g.h.Offices[i].Span, g.prm.Now)
	}
	for i := range g.h.Parties {
		future = appendFuture(future, &g.h.Parties[i].Span, g.prm.Now)
	}
	if len(future) == 0 {
		return
	}
	first := slices.MinFunc(future, func(a, b source.DatedEvent) int {
		return cmp.Or(source.CompareTimes(a.Timestamp(), b.Timestamp()), cmp.Compare(a.ID, b.ID))
	})
	slices.SortFunc(future, func(a, b source.DatedEvent) int {
		return cmp.Or(a.Date.Compare(*b.Date), cmp.Compare(a.ID, b.ID))
	})
	for i, e := range future {
		if i > 0 && e.Date.Equal(*future[i-1].Date) {
			continue
		}
		g.res.Requeue = append(g.res.Requeue, Requeue{DueAt: *e.Date, EventID: e.ID,
			FirstEventID: first.ID, FirstEventDate: *first.Timestamp()})
	}
}

func appendFuture(list []source.DatedEvent, sp *source.Span, now time.Time) []source.DatedEvent {
	for _, e := range []*source.DatedEvent{&sp.Start, sp.End} {
		if e != nil && e.Date != nil && e.Date.After(now) {
			list = append(list, *e)
		}
	}
	return list
}

// pendingReg is a REG credential being built: its attributes may still
// change (a later type-changing alteration blanks entity_type).
type pendingReg struct {
	attrs  canonical.Object
	date   time.Time // the event's effective date
	reason string
	// text is the canonical text of attrs, nil after they changed.
	text []byte
}

// registrations builds one REG credential per past event registered since
// Params.Prev (docs/design/generation.md §3c), each as of the event's effective date.
func (g *historyGen) registrations(past []source.DatedEvent) ([]Credential, error) {
	var regs []*pendingReg
	var lastText []byte
	for i := range past {
		ev := &past[i]
		last := i == len(past)-1
		if !last && ev.Undated() {
			continue // a conversion event says nothing about when things changed
		}
		if ts := ev.Timestamp(); ts == nil || ts.Before(g.prm.Prev.Date.Time) {
			continue // registered before the work item's range
		}
		attrs, name := g.registrationAt(ev, last)
		if name != nil && name.StartDate != nil && typeChanging(name.Start.Event) {
			for _, r := range regs {
				if r.date.Before(*name.StartDate) {
					r.attrs["entity_type"] = ""
					r.text = nil
				}
			}
			if len(regs) > 0 {
				r := regs[len(regs)-1]
				if r.text == nil {
					t, err := canonicalText(r.attrs)
					if err != nil {
						return nil, err
					}
					r.text = t
				}
				lastText = r.text
			}
		}
		text, err := canonicalText(attrs)
		if err != nil {
			return nil, err
		}
		if len(regs) > 0 && bytes.Equal(text, lastText) {
			continue // identical to the previous REG credential
		}
		regs = append(regs, &pendingReg{attrs: attrs, date: *ev.Date, reason: historyReason(ev), text: text})
		lastText = text
	}
	var out []Credential
	for _, r := range regs {
		var c Credential
		if r.text != nil {
			// Written once already, for the comparison above.
			c = credentialOf(TypeRegistration, g.s.CorpNum(), HistoryRegistrationSchema, HistorySchemaVersion, r.attrs,
				string(r.text), canonical.Hash(r.text))
		} else {
			var err error
			if c, err = newCredential(TypeRegistration, g.s.CorpNum(), HistoryRegistrationSchema, HistorySchemaVersion, r.attrs); err != nil {
				return nil, err
			}
		}
		c.Reason = r.reason
		out = append(out, c)
	}
	return out, nil
}

// registrationAt returns the REG attributes as of the event's date and the
// legal name used.
func (g *historyGen) registrationAt(ev *source.DatedEvent, last bool) (canonical.Object, *source.Dated[source.CorpName]) {
	s, h, d := g.s, g.h, ev.Date
	attrs := canonical.Object{
		"registration_id":                   g.regID,
		"registration_date":                 historyDate(s.Corporation.RecognitionDts),
		"registration_expiry_date":          "",
		"registration_renewal_effective":    "",
		"entity_type":                       s.Type.CorpTypCd,
		"entity_name":                       "",
		"entity_name_effective":             "",
		"entity_name_assumed":               "",
		"entity_name_assumed_effective":     "",
		"entity_name_trans":                 "",
		"entity_name_trans_effective":       "",
		"entity_status":                     "",
		"entity_status_effective":           "",
		"extra_jurisdictional_registration": "",
		"expiry_date":                       "",
	}
	// A name dated only by the conversion timestamp gets no date, except
	// in the credential of the last event.
	name := recordAt(h.Names, d)
	if name != nil {
		attrs["entity_name"] = deref(name.Rec.CorpNme)
		if !name.UndatedStart() || last {
			attrs["entity_name_effective"] = historyDate(name.StartDate)
		}
	}
	if assumed := recordAt(h.AssumedNames, d); assumed != nil {
		attrs["entity_name_assumed"] = deref(assumed.Rec.CorpNme)
		if !assumed.UndatedStart() || last {
			attrs["entity_name_assumed_effective"] = historyDate(assumed.StartDate)
		}
	}
	if st := recordAt(h.States, d); st != nil {
		attrs["entity_status"] = st.Rec.OpStateCode()
		if !st.UndatedStart() {
			attrs["entity_status_effective"] = historyDate(st.StartDate)
		}
	}
	j := recordAt(h.Jurisdictions, d)
	home := historyHomeJurisdiction(s, j)
	attrs["home_jurisdiction"] = home
	attrs["registered_jurisdiction"] = ""
	if home != "" && home != "BC" {
		attrs["registered_jurisdiction"] = "BC"
	}
	eff := historyDate(d)
	if eff == "" {
		eff = attrs["registration_date"].(string)
	}
	if eff == "" && j != nil && !j.UndatedStart() {
		eff = historyDate(j.StartDate)
	}
	attrs["effective_date"] = eff
	return attrs, name
}

// recordAt returns the record valid at d (docs/design/generation.md §3c): among records
// that do not start after they end and with start <= d < end, a current one
// at once, else the latest start (ties: the latest end). When none is, the
// first record if its start event is a data-conversion event dated at the
// record's start (converted data: the best guess there is).
func recordAt[T any](recs []source.Dated[T], d *time.Time) *source.Dated[T] {
	if d == nil {
		return nil
	}
	var ret *source.Dated[T]
	for i := range recs {
		r := &recs[i]
		if r.StartDate == nil || r.EndDate == nil || r.StartDate.After(*r.EndDate) {
			continue
		}
		if r.StartDate.After(*d) || !d.Before(*r.EndDate) {
			continue
		}
		if r.Current() {
			return r
		}
		if ret == nil || r.StartDate.After(*ret.StartDate) ||
			r.StartDate.Equal(*ret.StartDate) && r.EndDate.After(*ret.EndDate) {
			ret = r
		}
	}
	if ret == nil && len(recs) > 0 && recs[0].Start.IsDataConversion() && equalTimes(recs[0].StartDate, recs[0].Start.Date) {
		ret = &recs[0]
	}
	return ret
}

// typeChanging reports whether e is a notice of alteration that changes the
// company type.
func typeChanging(e *source.Event) bool {
	if e == nil || deref(e.EventTypCd) != "FILE" {
		return false
	}
	f := e.HistoryFiling()
	return f != nil && typeChangingAlterations[deref(f.FilingTypCd)]
}

// historyHomeJurisdiction is the later rule: BC companies BC; extra-
// provincial ones (class XPRO, and types XP, XL, XCP, XS) the code of the
// jurisdiction valid at the date, for OT its description when there is
// one, "" without a jurisdiction; any other class BC.
func historyHomeJurisdiction(s *source.Snapshot, j *source.Dated[source.Jurisdiction]) string {
	switch t := s.Type.CorpTypCd; {
	case s.Type.Class() == "BC":
		return "BC"
	case s.Type.Class() == "XPRO" || t == "XP" || t == "XL" || t == "XCP" || t == "XS":
		if j == nil {
			return ""
		}
		if code := deref(j.Rec.CanJurTypCd); code != "OT" || j.Rec.OthrJurisDesc == nil {
			return code
		}
		return *j.Rec.OthrJurisDesc
	}
	return "BC"
}

// addresses builds one ADDR credential per office (RG, HD, FO) with a
// delivery address whose start or end event was registered within the
// work item's range (docs/design/generation.md §3d).
func (g *historyGen) addresses(held bool) ([]Credential, error) {
	var out []Credential
	for i := range g.h.Offices {
		o := &g.h.Offices[i]
		a := o.Rec.DeliveryAddr
		if a == nil || !g.inRange(&o.Span) {
			continue
		}
		if o.Rec.Type == nil {
			// The original failed (KeyError) on a type missing from
			// office_type; the credential carries the code anyway.
			g.warn(fmt.Sprintf("office_type row for office_typ_cd '%s'", o.Rec.OfficeTypCd), "the office's own office_typ_cd")
		}
		addressee := ""
		if n := recordAt(g.h.Names, o.Start.Date); n != nil {
			addressee = deref(n.Rec.CorpNme)
		}
		eff := historyDate(o.StartDate)
		attrs := canonical.Object{
			"registration_id":        g.regID,
			"addressee":              addressee,
			"address_type":           o.Rec.OfficeTypCd,
			"civic_address":          a.LocalAddr(),
			"municipality":           deref(a.City),
			"province":               deref(a.Province),
			"postal_code":            deref(a.PostalCd),
			"country":                deref(a.CountryTypCd),
			"address_effective_date": eff,
			"effective_date":         eff,
			"expiry_date":            g.expiry(&o.Span),
		}
		c, err := newCredential(TypeAddress, g.s.CorpNum()+","+o.Rec.OfficeTypCd, HistoryAddressSchema, HistorySchemaVersion, attrs)
		if err != nil {
			return nil, err
		}
		c.Held = held
		c.Reason = historyReason(&o.Start)
		out = append(out, c)
	}
	return out, nil
}

// relationships builds the REL credentials (docs/design/generation.md §3e): "Owns" for
// each firm (SP, MF) this corporation owns, "IsOwned" for each owner of this
// firm, from the FBO rows whose start or end event was registered within the
// work item's range.
func (g *historyGen) relationships() ([]Credential, error) {
	x := g.s.CorpNum()
	xType := g.s.Corporation.TypeCode()
	type rel struct {
		p     *source.Dated[source.Party]
		other *source.BasicCorp
		owns  bool
	}
	var rels []rel
	count := map[string]int{}
	for i := range g.h.Parties {
		p := &g.h.Parties[i]
		switch {
		case p.Rec.CorpNum != x:
			if f := p.Rec.Firm; f != nil && (f.TypeCode() == "SP" || f.TypeCode() == "MF") {
				rels = append(rels, rel{p, f, true})
				count[f.CorpNum]++
			}
		case xType == "SP" || xType == "MF":
			if o := p.Rec.Owner; o != nil {
				rels = append(rels, rel{p, o, false})
				count[o.CorpNum]++
			}
		}
	}
	var out []Credential
	for _, r := range rels {
		p := r.p
		if !g.inRange(&p.Span) {
			continue
		}
		attrs := canonical.Object{
			"registration_id":              g.regID,
			"associated_registration_id":   registrationID(r.other.TypeCode(), r.other.CorpNum),
			"associated_registration_name": "",
			"relationship":                 "Owns",
			"relationship_description":     "Does Business As",
			"relationship_status":          "ACT",
		}
		firm := r.other
		if !r.owns {
			attrs["relationship"] = "IsOwned"
			attrs["relationship_description"] = "Is Owned By"
			attrs["associated_registration_name"] = deref(p.Rec.BusinessNme)
			firm = &source.BasicCorp{Corporation: g.s.Corporation}
		}
		// A single link recorded by an administrative event is dated by
		// the firm's registration, not by the clean-up that wrote it.
		d := p.StartDate
		if e := p.Start.Event; e != nil && deref(e.EventTypCd) == "ADMIN" && count[r.other.CorpNum] == 1 && firm.RecognitionDts != nil {
			d = firm.RecognitionDts
		}
		attrs["effective_date"] = historyTime(d)
		attrs["relationship_status_effective"] = historyDate(d)
		attrs["expiry_date"] = g.expiry(&p.Span)
		c, err := newCredential(TypeRelationship, g.regID, HistoryRelationshipSchema, HistorySchemaVersion, attrs)
		if err != nil {
			return nil, err
		}
		c.Reason = historyReason(&p.Start)
		out = append(out, c)
	}
	return out, nil
}

// businessNumber builds the BNC credential when bn_9 is set
// (docs/design/generation.md §3f), dated by the registration, or the first past event without one.
func (g *historyGen) businessNumber(past []source.DatedEvent) ([]Credential, error) {
	bn := strings.TrimSpace(deref(g.s.Corporation.Bn9))
	if bn == "" {
		return nil, nil
	}
	d := g.s.Corporation.RecognitionDts
	if d == nil {
		d = past[0].Date
	}
	attrs := canonical.Object{
		"registration_id": g.regID,
		"business_number": bn,
		"effective_date":  historyDate(d),
		"expiry_date":     "",
	}
	c, err := newCredential(TypeBusinessNumber, g.regID, HistoryBusinessNumberSchema, HistorySchemaVersion, attrs)
	if err != nil {
		return nil, err
	}
	return []Credential{c}, nil
}

// inRange reports whether the record's start or end event was registered
// within [Prev.Date, Last.Date].
func (g *historyGen) inRange(sp *source.Span) bool {
	in := func(e *source.DatedEvent) bool {
		ts := e.Timestamp()
		return ts != nil && !ts.Before(g.prm.Prev.Date.Time) && !ts.After(g.prm.Last.Date.Time)
	}
	return in(&sp.Start) || sp.End != nil && in(sp.End)
}

// expiry is expiry_date: the record's end date once it has passed, else "".
func (g *historyGen) expiry(sp *source.Span) string {
	if sp.End == nil || sp.End.Date == nil || sp.End.Date.After(g.prm.Now) {
		return ""
	}
	return historyTime(sp.EndDate)
}

// warn records and logs a data problem once per corporation.
func (g *historyGen) warn(missing, fallback string) {
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

// historyReason is CREDENTIAL_REASON: "Filing:<type>" for a FILE event with
// a filing row, else "Event:<type>"; "" when the event row is missing.
// Longer than 255 characters, it is cut as the original cut it.
func historyReason(e *source.DatedEvent) string {
	if e.Event == nil {
		return ""
	}
	r := "Event:" + deref(e.Event.EventTypCd)
	if f := e.Event.HistoryFiling(); f != nil {
		r = "Filing:" + deref(f.FilingTypCd)
	}
	if len(r) > 255 {
		r = r[:251] + "..." + r[len(r)-1:]
	}
	return r
}

// historyTime is the credential text of a naive BC local time, converted
// with the history zone (PST8PDT); "" for NULL.
func historyTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return regclock.ToUTC(regclock.History, *t)
}

// historyDate is historyTime, but dates before year 11 (placeholders) are
// blanked too, as the original's filter_min_date did.
func historyDate(t *time.Time) string {
	if t == nil || t.Before(minValidDate) {
		return ""
	}
	return historyTime(t)
}

func canonicalText(attrs canonical.Object) ([]byte, error) {
	text, err := canonical.Marshal(attrs)
	if err != nil {
		return nil, fmt.Errorf("REG credential: %w", err)
	}
	return text, nil
}

// wallClock returns t's wall clock read as UTC: Params carry naive BC local
// times, compared with the registry's (UTC-located) timestamps.
func wallClock(t time.Time) time.Time {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	return time.Date(y, mo, d, h, mi, s, t.Nanosecond(), time.UTC)
}

func equalTimes(a, b *time.Time) bool { return source.CompareTimes(a, b) == 0 }

// compareBool orders false before true.
func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}
