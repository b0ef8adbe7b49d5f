package credential_test

import (
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/credential"
	"github.com/bcgov/bcreg-events/pkg/regevent"
	"github.com/bcgov/bcreg-events/pkg/source"
)

// Rules of docs/design/generation.md §3 that neither the development fixture nor the
// tests in history_test.go reach.

// TestHistoryCorpState: CORP_STATE is the operational state of the current
// state, "N/A" when the corporation has no usable state row; the REG
// credentials then carry an empty status.
func TestHistoryCorpState(t *testing.T) {
	tests := []struct {
		name   string
		states func(inc *source.Event) []source.CorpState
		want   string
		status regView
	}{
		{
			name:   "no state row",
			states: func(*source.Event) []source.CorpState { return nil },
			want:   "N/A",
			status: regView{"Filing:ICORP", "2010-06-15T17:00:00+00:00", "ACME WIDGETS LTD.", "2010-06-15T17:00:00+00:00", "", "", "BC", "BC"},
		},
		{
			// The original inner-joined corp_op_state: such a row does not
			// exist for it.
			name: "state code missing from corp_op_state",
			states: func(inc *source.Event) []source.CorpState {
				return []source.CorpState{hState("ZZZ", nil, inc, nil)}
			},
			want:   "N/A",
			status: regView{"Filing:ICORP", "2010-06-15T17:00:00+00:00", "ACME WIDGETS LTD.", "2010-06-15T17:00:00+00:00", "", "", "BC", "BC"},
		},
		{
			name: "historical",
			states: func(inc *source.Event) []source.CorpState {
				return []source.CorpState{hState("HAM", opHAM, inc, nil)}
			},
			want: "HIS",
			// A first period that is historical starts at its own event.
			status: regView{"Filing:ICORP", "2010-06-15T17:00:00+00:00", "ACME WIDGETS LTD.", "2010-06-15T17:00:00+00:00", "HIS", "2010-06-15T17:00:00+00:00", "BC", "BC"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := histCompany()
			s.States = tt.states(s.States[0].StartEvent)
			res := generateHistory(t, s, fullRange())
			if res.CorpState != tt.want {
				t.Errorf("CorpState = %q, want %q", res.CorpState, tt.want)
			}
			if diff := gocmp.Diff([]regView{tt.status}, regViews(res)); diff != "" {
				t.Errorf("REG credentials (-want +got):\n%s", diff)
			}
		})
	}
}

// TestHistoryWithdrawnWithoutOpenState: with no current state, the state
// with the latest start decides whether the corporation is withdrawn.
func TestHistoryWithdrawnWithoutOpenState(t *testing.T) {
	s := histCompany()
	inc := s.States[0].StartEvent
	wd := hFiling(200, "NWITH", "2012-01-01 10:00:00", "2012-01-01 10:00:00")
	closed := hEvent(201, "SYST", "2013-01-01 10:00:00")
	s.States = []source.CorpState{hState("ACT", opACT, inc, wd), hState("HWT", opHWT, wd, closed)}
	res := generateHistory(t, s, fullRange())
	if len(res.Credentials) != 0 || res.Note != credential.NoteWithdrawn || res.CorpState != "HIS" {
		t.Errorf("latest state HWT, none open: %+v", res)
	}

	// Withdrawn once, active again now: published.
	s.States = []source.CorpState{hState("ACT", opACT, inc, wd), hState("HWT", opHWT, wd, closed), hState("ACT", opACT, closed, nil)}
	res = generateHistory(t, s, fullRange())
	if res.Note != "" || res.CorpState != "ACT" || len(regViews(res)) != 3 {
		t.Errorf("active after a withdrawal: note %q, state %q, %d REG", res.Note, res.CorpState, len(regViews(res)))
	}
}

// TestHistoryEventDates: which date an event gives its records
// (docs/design/generation.md §3a) and which reason it names.
func TestHistoryEventDates(t *testing.T) {
	tests := []struct {
		name  string
		firm  bool
		event func() *source.Event
		want  regView // the second REG credential (the name change)
	}{
		{
			name:  "filing effective date",
			event: func() *source.Event { return hFiling(200, "NOALA", "2012-03-01 09:00:00", "2012-04-01 00:00:00") },
			want:  regView{"Filing:NOALA", "2012-04-01T07:00:00+00:00", "NEW NAME", "2012-04-01T07:00:00+00:00", "ACT", "2010-06-15T17:00:00+00:00", "BC", "BC"},
		},
		{
			// 'effective_dt' in the filing row but NULL: the original went
			// on to the conversion date and the timestamp.
			name: "filing without effective date: the timestamp",
			event: func() *source.Event {
				e := hFiling(200, "NOALA", "2012-03-01 09:00:00", "2012-04-01 00:00:00")
				e.Filing.EffectiveDt = nil
				return e
			},
			want: regView{"Filing:NOALA", "2012-03-01T17:00:00+00:00", "NEW NAME", "2012-03-01T17:00:00+00:00", "ACT", "2010-06-15T17:00:00+00:00", "BC", "BC"},
		},
		{
			// The filing query inner-joined filing_type: an unknown filing
			// type is no filing at all (date and reason).
			name: "filing type missing from filing_type",
			event: func() *source.Event {
				e := hFiling(200, "ZZZZZ", "2012-03-01 09:00:00", "2012-04-01 00:00:00")
				e.Filing.Type = nil
				return e
			},
			want: regView{"Event:FILE", "2012-03-01T17:00:00+00:00", "NEW NAME", "2012-03-01T17:00:00+00:00", "ACT", "2010-06-15T17:00:00+00:00", "BC", "BC"},
		},
		{
			name:  "conv_event effective date",
			event: func() *source.Event { return hConv(200, "CONVNC", "2011-01-01 00:00:00") },
			want:  regView{"Event:CONVNC", "2011-01-01T08:00:00+00:00", "NEW NAME", "2011-01-01T08:00:00+00:00", "ACT", "2010-06-15T17:00:00+00:00", "BC", "BC"},
		},
		{
			// trigger_dts dates a firm's state and party events only: a
			// firm's name change keeps its timestamp.
			name: "a firm's name event ignores trigger_dts",
			firm: true,
			event: func() *source.Event {
				e := hEvent(200, "ADFIRM", "2012-03-01 09:00:00")
				e.TriggerDts = ts("2012-05-05 00:00:00")
				return e
			},
			want: regView{"Event:ADFIRM", "2012-03-01T17:00:00+00:00", "NEW NAME", "2012-03-01T17:00:00+00:00", "ACT", "2010-06-15T17:00:00+00:00", "SP", "BC"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := histCompany()
			if tt.firm {
				s.Corporation.CorpNum, s.Corporation.CorpTypCd, s.Type = "FM1234567", sp("SP"), typeSP
			}
			inc, chg := s.States[0].StartEvent, tt.event()
			s.Names = []source.CorpName{hName("CO", "OLD NAME", inc, chg), hName("CO", "NEW NAME", chg, nil)}
			r := regViews(generateHistory(t, s, fullRange()))
			var got regView
			for _, v := range r {
				if v.Name == "NEW NAME" {
					got = v
				}
			}
			if diff := gocmp.Diff(tt.want, got); diff != "" {
				t.Errorf("REG of the name change (-want +got):\n%s\nall: %+v", diff, r)
			}
		})
	}
}

// TestHistoryFirmPartyDates: a party event is dated with the trigger_dts
// rule of the corporation being generated, so a firm (SP) sees its
// dissolution date where its owner (a company) sees the timestamp.
func TestHistoryFirmPartyDates(t *testing.T) {
	start := hEvent(500, "ADFIRM", "2012-02-17 15:29:21")
	start.TriggerDts = ts("2012-01-01 00:00:00")
	p := hParty(1, relFirm, relOwner, start, nil)
	owner := histCompany()
	owner.Parties = []source.Party{p}
	gotOwner := relViews(generateHistory(t, owner, fullRange()))
	gotFirm := relViews(generateHistory(t, firmOf(p), fullRange()))
	wantOwner := []relView{{"BC1234567", "FM7654321", "Owns", "", "2012-02-17T23:29:21+00:00", "2012-02-17T23:29:21+00:00", "", "Event:ADFIRM"}}
	wantFirm := []relView{{"FM7654321", "BC1234567", "IsOwned", "1234567 OWNER NAME", "2012-01-01T08:00:00+00:00", "2012-01-01T08:00:00+00:00", "", "Event:ADFIRM"}}
	if diff := gocmp.Diff(wantOwner, gotOwner); diff != "" {
		t.Errorf("owner's REL (-want +got):\n%s", diff)
	}
	if diff := gocmp.Diff(wantFirm, gotFirm); diff != "" {
		t.Errorf("firm's REL (-want +got):\n%s", diff)
	}

	// A NULL business_nme names nobody: "" like every other empty
	// attribute of the history profile.
	p.BusinessNme = nil
	if got := relViews(generateHistory(t, firmOf(p), fullRange())); len(got) != 1 || got[0].Name != "" {
		t.Errorf("IsOwned without business_nme: %+v", got)
	}
}

// TestHistoryJurisdiction covers home and registered jurisdiction.
func TestHistoryJurisdiction(t *testing.T) {
	juris := func(code string, desc *string, start, end *source.Event, known bool) source.Jurisdiction {
		j := source.Jurisdiction{CorpNum: "A1234567", StartEventID: ip(start.EventID), EndEventID: endID(end), CanJurTypCd: sp(code),
			OthrJurisDesc: desc, StartEvent: start, EndEvent: end}
		if known {
			j.Type = &source.CodeDesc{Code: code}
		}
		return j
	}
	move := hFiling(200, "NOALA", "2014-04-04 12:00:00", "2014-04-04 12:00:00")
	tests := []struct {
		name  string
		typ   source.CorpType
		juris func(inc *source.Event) []source.Jurisdiction
		want  [][2]string // home, registered of each REG credential
	}{
		{
			// Unlike the 2018 rule, an empty home jurisdiction gives an
			// empty registered jurisdiction (the original tested the home
			// jurisdiction's truth value).
			name:  "extra-provincial without a jurisdiction",
			typ:   typeA,
			juris: func(*source.Event) []source.Jurisdiction { return nil },
			want:  [][2]string{{"", ""}},
		},
		{
			name: "jurisdiction code missing from jurisdiction_type is ignored",
			typ:  typeA,
			juris: func(inc *source.Event) []source.Jurisdiction {
				return []source.Jurisdiction{juris("ZZ", nil, inc, nil, false)}
			},
			want: [][2]string{{"", ""}},
		},
		{
			name: "OT without a description",
			typ:  typeA,
			juris: func(inc *source.Event) []source.Jurisdiction {
				return []source.Jurisdiction{juris("OT", nil, inc, nil, true)}
			},
			want: [][2]string{{"OT", "BC"}},
		},
		{
			name: "federal",
			typ:  typeA,
			juris: func(inc *source.Event) []source.Jurisdiction {
				return []source.Jurisdiction{juris("FD", nil, inc, nil, true)}
			},
			want: [][2]string{{"FD", "BC"}},
		},
		{
			name: "home jurisdiction valid at each date",
			typ:  typeA,
			juris: func(inc *source.Event) []source.Jurisdiction {
				return []source.Jurisdiction{juris("ON", nil, inc, move, true), juris("OT", sp("US, WA"), move, nil, true)}
			},
			want: [][2]string{{"ON", "BC"}, {"US, WA", "BC"}},
		},
		{
			// XP, XL, XCP and XS are extra-provincial whatever their class.
			name: "extra-provincial society (class SOC)",
			typ:  source.CorpType{CorpTypCd: "XS", CorpClass: sp("SOC")},
			juris: func(inc *source.Event) []source.Jurisdiction {
				return []source.Jurisdiction{juris("AB", nil, inc, nil, true)}
			},
			want: [][2]string{{"AB", "BC"}},
		},
		{
			name: "extra-provincial limited partnership (class FIRM)",
			typ:  source.CorpType{CorpTypCd: "XP", CorpClass: sp("FIRM")},
			juris: func(inc *source.Event) []source.Jurisdiction {
				return []source.Jurisdiction{juris("OT", sp("US, DE"), inc, nil, true)}
			},
			want: [][2]string{{"US, DE", "BC"}},
		},
		{
			name: "society: BC whatever its jurisdiction rows",
			typ:  source.CorpType{CorpTypCd: "S", CorpClass: sp("SOC")},
			juris: func(inc *source.Event) []source.Jurisdiction {
				return []source.Jurisdiction{juris("AB", nil, inc, nil, true)}
			},
			want: [][2]string{{"BC", ""}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := histCompany()
			s.Corporation.CorpNum, s.Corporation.CorpTypCd, s.Type = "A1234567", sp(tt.typ.CorpTypCd), tt.typ
			s.Jurisdictions = tt.juris(s.States[0].StartEvent)
			var got [][2]string
			for _, c := range generateHistory(t, s, fullRange()).Credentials {
				if c.Type == credential.TypeRegistration {
					got = append(got, [2]string{c.Attributes["home_jurisdiction"].(string), c.Attributes["registered_jurisdiction"].(string)})
				}
			}
			if diff := gocmp.Diff(tt.want, got); diff != "" {
				t.Errorf("home, registered jurisdiction (-want +got):\n%s", diff)
			}
		})
	}
}

// TestHistoryRecordAt: the record valid at a date is the current one if it
// is valid, else the latest start, ties broken by the latest end.
func TestHistoryRecordAt(t *testing.T) {
	s := histCompany()
	inc := s.States[0].StartEvent
	e2011 := hFiling(201, "NOALA", "2011-01-01 12:00:00", "2011-01-01 12:00:00")
	e2012 := hFiling(202, "NOALA", "2012-01-01 12:00:00", "2012-01-01 12:00:00")
	e2013 := hFiling(203, "NOALA", "2013-01-01 12:00:00", "2013-01-01 12:00:00")
	e2014 := hFiling(204, "NOALA", "2014-01-01 12:00:00", "2014-01-01 12:00:00")
	s.Names = []source.CorpName{
		// Two names started together; the one that lasts longer wins.
		hName("CO", "SHORT", inc, e2011),
		hName("CO", "LONG", inc, e2012),
		// From 2012 a current name and an ended one that starts later
		// overlap: the current one wins.
		hName("CO", "CURRENT", e2012, nil),
		hName("CO", "LATER BUT ENDED", e2013, e2014),
	}
	var got []string
	for _, r := range regViews(generateHistory(t, s, fullRange())) {
		got = append(got, r.Reason+" "+r.Effective+" "+r.Name)
	}
	want := []string{
		"Filing:ICORP 2010-06-15T17:00:00+00:00 LONG",
		"Filing:NOALA 2011-01-01T20:00:00+00:00 LONG",
		"Filing:NOALA 2012-01-01T20:00:00+00:00 CURRENT",
		"Filing:NOALA 2013-01-01T20:00:00+00:00 CURRENT",
		"Filing:NOALA 2014-01-01T20:00:00+00:00 CURRENT",
	}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("REG credentials (-want +got):\n%s", diff)
	}
}

// TestHistorySameDate: events with the same effective date give one REG
// credential, named after the event registered first, showing every change
// of that date.
func TestHistorySameDate(t *testing.T) {
	s := histCompany()
	inc := s.States[0].StartEvent
	liq := hEvent(200, "SYST", "2012-05-01 12:00:00")
	rename := hFiling(201, "NOALA", "2012-05-01 09:00:00", "2012-05-01 12:00:00")
	s.States = []source.CorpState{hState("ACT", opACT, inc, liq), hState("LIQ", opLIQ, liq, nil)}
	s.Names = []source.CorpName{hName("CO", "OLD NAME", inc, rename), hName("CO", "NEW NAME", rename, nil)}
	want := []regView{
		{"Filing:ICORP", "2010-06-15T17:00:00+00:00", "OLD NAME", "2010-06-15T17:00:00+00:00", "ACT", "2010-06-15T17:00:00+00:00", "BC", "BC"},
		{"Filing:NOALA", "2012-05-01T19:00:00+00:00", "NEW NAME", "2012-05-01T19:00:00+00:00", "ACT", "2010-06-15T17:00:00+00:00", "BC", "BC"},
	}
	if diff := gocmp.Diff(want, regViews(generateHistory(t, s, fullRange()))); diff != "" {
		t.Errorf("REG credentials (-want +got):\n%s", diff)
	}
}

// TestHistoryEventRange: REG credentials for the events registered since
// Prev (no upper bound), ADDR and REL credentials for records that started
// or ended between Prev and Last, BNC every time.
func TestHistoryEventRange(t *testing.T) {
	s := histCompany()
	s.Corporation.Bn9 = sp("123456789")
	inc := s.States[0].StartEvent
	rename := hFiling(200, "NOALA", "2013-02-02 10:00:00", "2013-02-02 10:00:00")
	move := hFiling(201, "NOCAD", "2014-03-03 10:00:00", "2014-03-03 10:00:00")
	liq := hEvent(202, "SYST", "2016-06-01 10:00:00")
	s.States = []source.CorpState{hState("ACT", opACT, inc, liq), hState("LIQ", opLIQ, liq, nil)}
	s.Names = []source.CorpName{hName("CO", "OLD NAME", inc, rename), hName("CO", "NEW NAME", rename, nil)}
	s.Offices = []source.Office{hOffice(inc, move), hOffice(move, nil)}
	mark := func(d string) regevent.Position { return regevent.At(0, *ts(d)) }

	tests := []struct {
		name       string
		prev, last string
		want       []string // type, reason, effective date, expiry
	}{
		{
			name: "since 2012",
			prev: "2012-01-01 00:00:00", last: "2026-01-01 00:00:00",
			want: []string{
				"REG Filing:NOALA 2013-02-02T18:00:00+00:00 ",
				"REG Event:SYST 2016-06-01T17:00:00+00:00 ",
				"ADDR Filing:ICORP 2010-06-15T17:00:00+00:00 2014-03-03T18:00:00+00:00",
				"ADDR Filing:NOCAD 2014-03-03T18:00:00+00:00 ",
				"BNC  2010-06-15T17:00:00+00:00 ",
			},
		},
		{
			// Last bounds the ADDR and REL records, not the REG events.
			name: "2012 to 2013",
			prev: "2012-01-01 00:00:00", last: "2013-12-31 00:00:00",
			want: []string{
				"REG Filing:NOALA 2013-02-02T18:00:00+00:00 ",
				"REG Event:SYST 2016-06-01T17:00:00+00:00 ",
				"BNC  2010-06-15T17:00:00+00:00 ",
			},
		},
		{
			name: "nothing new since 2017",
			prev: "2017-01-01 00:00:00", last: "2026-01-01 00:00:00",
			want: []string{"BNC  2010-06-15T17:00:00+00:00 "},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := generateHistory(t, s, credential.Params{Now: synthNow, Prev: mark(tt.prev), Last: mark(tt.last)})
			var got []string
			for _, c := range res.Credentials {
				got = append(got, c.Type+" "+c.Reason+" "+c.EffectiveDate+" "+c.Attributes["expiry_date"].(string))
			}
			if diff := gocmp.Diff(tt.want, got); diff != "" {
				t.Errorf("credentials (-want +got):\n%s", diff)
			}
		})
	}
}

// TestHistoryAddresses covers the ADDR credential's attributes.
func TestHistoryAddresses(t *testing.T) {
	tests := []struct {
		name  string
		setup func(s *source.Snapshot)
		want  []string // ADDR texts
		warn  []string
	}{
		{
			name:  "full address",
			setup: func(*source.Snapshot) {},
			want: []string{`{"address_effective_date": "2010-06-15T17:00:00+00:00", "address_type": "RG", "addressee": "ACME WIDGETS LTD.", ` +
				`"civic_address": "1 MAIN ST, SUITE 2, VICTORIA, BC, V8V1A1, CA", "country": "CA", "effective_date": "2010-06-15T17:00:00+00:00", ` +
				`"expiry_date": "", "municipality": "VICTORIA", "postal_code": "V8V1A1", "province": "BC", "registration_id": "BC1234567"}`},
		},
		{
			// NULL columns become "", a NULL country still leaves the
			// trailing separator, and without a legal name valid when the
			// office started the addressee is "".
			name: "sparse address, no name yet",
			setup: func(s *source.Snapshot) {
				s.Offices[0].DeliveryAddr = &source.Address{AddrID: 9, AddrLine1: sp("1 MAIN ST")}
				s.Names[0].StartEvent = hFiling(200, "NOALA", "2011-01-01 12:00:00", "2011-01-01 12:00:00")
				s.Names[0].StartEventID = ip(200)
			},
			want: []string{`{"address_effective_date": "2010-06-15T17:00:00+00:00", "address_type": "RG", "addressee": "", ` +
				`"civic_address": "1 MAIN ST, ", "country": "", "effective_date": "2010-06-15T17:00:00+00:00", ` +
				`"expiry_date": "", "municipality": "", "postal_code": "", "province": "", "registration_id": "BC1234567"}`},
		},
		{
			name: "only address_desc",
			setup: func(s *source.Snapshot) {
				s.Offices[0].DeliveryAddr = &source.Address{AddrID: 9, AddressDesc: sp("RR 1 SITE 5"), Province: sp("BC")}
			},
			want: []string{`{"address_effective_date": "2010-06-15T17:00:00+00:00", "address_type": "RG", "addressee": "ACME WIDGETS LTD.", ` +
				`"civic_address": "RR 1 SITE 5", "country": "", "effective_date": "2010-06-15T17:00:00+00:00", ` +
				`"expiry_date": "", "municipality": "", "postal_code": "", "province": "BC", "registration_id": "BC1234567"}`},
		},
		{
			name: "no delivery address: no credential, the mailing address is not used",
			setup: func(s *source.Snapshot) {
				s.Offices[0].MailingAddr, s.Offices[0].DeliveryAddr = s.Offices[0].DeliveryAddr, nil
			},
		},
		{
			// The addressee is the name valid when the office started;
			// an office of a firm is dated by its event, not trigger_dts.
			name: "firm office, renamed since",
			setup: func(s *source.Snapshot) {
				s.Corporation.CorpNum, s.Corporation.CorpTypCd, s.Type = "FM1234567", sp("SP"), typeSP
				inc := s.States[0].StartEvent
				rename := hFiling(200, "FRCHG", "2011-01-01 12:00:00", "2011-01-01 12:00:00")
				s.Names = []source.CorpName{hName("CO", "FIRST", inc, rename), hName("CO", "SECOND", rename, nil)}
				move := hEvent(201, "ADFIRM", "2015-05-05 10:00:00")
				move.TriggerDts = ts("2015-01-01 00:00:00")
				s.Offices = []source.Office{hOffice(inc, move), hOffice(move, nil)}
				for i := range s.Offices {
					s.Offices[i].OfficeTypCd = "FO"
					s.Offices[i].Type = &source.CodeDesc{Code: "FO", FullDesc: sp("Firm Office")}
				}
			},
			want: []string{
				`{"address_effective_date": "2010-06-15T17:00:00+00:00", "address_type": "FO", "addressee": "FIRST", ` +
					`"civic_address": "1 MAIN ST, SUITE 2, VICTORIA, BC, V8V1A1, CA", "country": "CA", "effective_date": "2010-06-15T17:00:00+00:00", ` +
					`"expiry_date": "2015-05-05T17:00:00+00:00", "municipality": "VICTORIA", "postal_code": "V8V1A1", "province": "BC", "registration_id": "FM1234567"}`,
				`{"address_effective_date": "2015-05-05T17:00:00+00:00", "address_type": "FO", "addressee": "SECOND", ` +
					`"civic_address": "1 MAIN ST, SUITE 2, VICTORIA, BC, V8V1A1, CA", "country": "CA", "effective_date": "2015-05-05T17:00:00+00:00", ` +
					`"expiry_date": "", "municipality": "VICTORIA", "postal_code": "V8V1A1", "province": "BC", "registration_id": "FM1234567"}`,
			},
		},
		{
			name: "office type missing from office_type: its code",
			setup: func(s *source.Snapshot) {
				s.Offices[0].OfficeTypCd, s.Offices[0].Type = "HD", nil
			},
			want: []string{`{"address_effective_date": "2010-06-15T17:00:00+00:00", "address_type": "HD", "addressee": "ACME WIDGETS LTD.", ` +
				`"civic_address": "1 MAIN ST, SUITE 2, VICTORIA, BC, V8V1A1, CA", "country": "CA", "effective_date": "2010-06-15T17:00:00+00:00", ` +
				`"expiry_date": "", "municipality": "VICTORIA", "postal_code": "V8V1A1", "province": "BC", "registration_id": "BC1234567"}`},
			warn: []string{"missing office_type row for office_typ_cd 'HD'; using the office's own office_typ_cd"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := histCompany()
			tt.setup(s)
			res := generateHistory(t, s, fullRange())
			var got []string
			for _, c := range res.Credentials {
				if c.Type != credential.TypeAddress {
					continue
				}
				got = append(got, c.JSON)
				if !c.Held || c.ID != s.CorpNum()+","+c.Attributes["address_type"].(string) || c.Schema != "address.registries.ca" {
					t.Errorf("ADDR held %v id %q schema %q", c.Held, c.ID, c.Schema)
				}
			}
			if diff := gocmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ADDR texts (-want +got):\n%s", diff)
			}
			if diff := gocmp.Diff(tt.warn, res.Warnings); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}

// TestHistoryEffectiveNow: an event effective exactly now is past, not
// future.
func TestHistoryEffectiveNow(t *testing.T) {
	s := histCompany()
	inc := s.States[0].StartEvent
	rename := hFiling(200, "NOALA", "2026-01-10 10:00:00", "2026-01-15 09:30:00")
	s.Names = []source.CorpName{hName("CO", "OLD NAME", inc, rename), hName("CO", "NEW NAME", rename, nil)}
	res := generateHistory(t, s, fullRange())
	if r := regViews(res); len(r) != 2 || r[1].Name != "NEW NAME" || len(res.Requeue) != 0 {
		t.Errorf("effective at now: REG %+v, requeue %+v", r, res.Requeue)
	}
	// One second later it is still to come.
	rename.Filing.EffectiveDt = ts("2026-01-15 09:30:01")
	res = generateHistory(t, s, fullRange())
	if r := regViews(res); len(r) != 1 || len(res.Requeue) != 1 {
		t.Errorf("effective after now: REG %+v, requeue %+v", r, res.Requeue)
	}
}

// TestHistoryLongReason: a reason longer than 255 characters is cut to 251,
// "..." and its last character, as the original cut it.
func TestHistoryLongReason(t *testing.T) {
	s := histCompany()
	long := strings.Repeat("X", 300) + "Z"
	inc := hFiling(100, long, "2010-06-15 10:00:00", "2010-06-15 10:00:00")
	s.States[0].StartEvent, s.Names[0].StartEvent = inc, inc
	r := regViews(generateHistory(t, s, fullRange()))
	want := "Filing:" + strings.Repeat("X", 244) + "...Z"
	if len(r) != 1 || r[0].Reason != want || len(want) != 255 {
		t.Errorf("reason %+v, want %q", r, want)
	}
}
