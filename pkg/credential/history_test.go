package credential_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/credential"
	"github.com/bcgov/bcreg-events/pkg/regevent"
	"github.com/bcgov/bcreg-events/pkg/source"
)

// Synthetic full-history snapshots for the rules of docs/design/generation.md §3 that the
// development fixture does not reach.

// hEvent is an event of corporation 1234567 (dates "YYYY-MM-DD HH:MM:SS").
func hEvent(id int64, typ, stamp string) *source.Event {
	return &source.Event{EventID: id, CorpNum: sp("1234567"), EventTypCd: sp(typ), EventTimestmp: ts(stamp),
		Type: &source.CodeDesc{Code: typ}}
}

// hFiling is a FILE event with a filing of type filing effective at filed.
func hFiling(id int64, filing, stamp, filed string) *source.Event {
	e := hEvent(id, "FILE", stamp)
	e.Filing = &source.Filing{EventID: id, FilingTypCd: sp(filing), EffectiveDt: ts(filed), Type: &source.CodeDesc{Code: filing}}
	return e
}

// hConv is a data-conversion event; effective, when not "", is its
// conv_event's effective_dt.
func hConv(id int64, typ, effective string) *source.Event {
	e := hEvent(id, typ, "2004-03-26 20:36:00")
	if effective != "" {
		e.ConvEvent = &source.ConvEvent{EventID: id, EffectiveDt: ts(effective)}
	}
	return e
}

func endID(end *source.Event) *int64 {
	if end == nil {
		return nil
	}
	return ip(end.EventID)
}

func hState(code string, op *source.OpState, start, end *source.Event) source.CorpState {
	return source.CorpState{CorpNum: "1234567", StartEventID: ip(start.EventID), EndEventID: endID(end), StateTypCd: sp(code),
		OpState: op, StartEvent: start, EndEvent: end}
}

func hName(typ, name string, start, end *source.Event) source.CorpName {
	return source.CorpName{CorpNum: "1234567", CorpNameTypCd: typ, StartEventID: ip(start.EventID), EndEventID: endID(end),
		CorpNme: sp(name), StartEvent: start, EndEvent: end}
}

func hOffice(start, end *source.Event) source.Office {
	addr := fullAddr
	return source.Office{CorpNum: "1234567", OfficeTypCd: "RG", StartEventID: ip(start.EventID), EndEventID: endID(end),
		DeliveryAddrID: ip(9), Type: regOff, DeliveryAddr: &addr, StartEvent: start, EndEvent: end}
}

// hParty is an FBO row: firm owned by owner.
func hParty(id int64, firm, owner *source.BasicCorp, start, end *source.Event) source.Party {
	return source.Party{CorpNum: firm.CorpNum, CorpPartyID: ip(id), PartyTypCd: "FBO", StartEventID: ip(start.EventID),
		EndEventID: endID(end), BusinessNme: sp(owner.CorpNum + " OWNER NAME"), BusCompanyNum: sp(owner.CorpNum),
		StartEvent: start, EndEvent: end, Firm: firm, Owner: owner}
}

var (
	opHWT = &source.OpState{StateTypCd: "HWT", OpStateTypCd: sp("HIS")}
	opHAM = &source.OpState{StateTypCd: "HAM", OpStateTypCd: sp("HIS")}
	// Now for the synthetic runs.
	synthNow = time.Date(2026, 1, 15, 9, 30, 0, 0, time.UTC)
)

// histCompany is an active BC company incorporated on 2010-06-15 10:00 with
// one name and a registered office.
func histCompany() *source.Snapshot {
	inc := hFiling(100, "ICORP", "2010-06-15 10:00:00", "2010-06-15 10:00:00")
	return &source.Snapshot{
		FullHistory: true,
		Corporation: source.Corporation{CorpNum: "1234567", CorpTypCd: sp("BC"), RecognitionDts: ts("2010-06-15 10:00:00")},
		Type:        typeBC,
		States:      []source.CorpState{hState("ACT", opACT, inc, nil)},
		Names:       []source.CorpName{hName("CO", "ACME WIDGETS LTD.", inc, nil)},
		Offices:     []source.Office{hOffice(inc, nil)},
	}
}

func fullRange() credential.Params {
	return credential.FullRange(regevent.At(1<<40, synthNow), synthNow)
}

func generateHistory(t *testing.T, s *source.Snapshot, prm credential.Params) *credential.Result {
	t.Helper()
	res, err := credential.NewHistory(credential.Options{}).Generate(s, prm)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// regView is the part of a REG credential a rule changes.
type regView struct {
	Reason, Effective, Name, NameEffective, Status, StatusEffective, Type, Home string
}

func regViews(res *credential.Result) []regView {
	var out []regView
	for _, c := range res.Credentials {
		if c.Type != credential.TypeRegistration {
			continue
		}
		a := c.Attributes
		out = append(out, regView{c.Reason, a["effective_date"].(string), a["entity_name"].(string), a["entity_name_effective"].(string),
			a["entity_status"].(string), a["entity_status_effective"].(string), a["entity_type"].(string), a["home_jurisdiction"].(string)})
	}
	return out
}

// relView is the part of a REL credential a rule changes.
type relView struct {
	ID, Associated, Relationship, Name, Effective, StatusEffective, Expiry, Reason string
}

func relViews(res *credential.Result) []relView {
	var out []relView
	for _, c := range res.Credentials {
		if c.Type != credential.TypeRelationship {
			continue
		}
		a := c.Attributes
		out = append(out, relView{c.ID, a["associated_registration_id"].(string), a["relationship"].(string),
			a["associated_registration_name"].(string), a["effective_date"].(string), a["relationship_status_effective"].(string),
			a["expiry_date"].(string), c.Reason})
	}
	return out
}

func credTypes(res *credential.Result) []string {
	var out []string
	for _, c := range res.Credentials {
		out = append(out, c.Type)
	}
	return out
}

func TestHistoryBasicCompany(t *testing.T) {
	res := generateHistory(t, histCompany(), fullRange())
	if diff := gocmp.Diff([]string{"REG", "ADDR"}, credTypes(res)); diff != "" {
		t.Fatalf("types (-want +got):\n%s", diff)
	}
	want := `{"effective_date": "2010-06-15T17:00:00+00:00", "entity_name": "ACME WIDGETS LTD.", "entity_name_assumed": "", ` +
		`"entity_name_assumed_effective": "", "entity_name_effective": "2010-06-15T17:00:00+00:00", "entity_name_trans": "", ` +
		`"entity_name_trans_effective": "", "entity_status": "ACT", "entity_status_effective": "2010-06-15T17:00:00+00:00", ` +
		`"entity_type": "BC", "expiry_date": "", "extra_jurisdictional_registration": "", "home_jurisdiction": "BC", ` +
		`"registered_jurisdiction": "", "registration_date": "2010-06-15T17:00:00+00:00", "registration_expiry_date": "", ` +
		`"registration_id": "BC1234567", "registration_renewal_effective": ""}`
	if got := res.Credentials[0].JSON; got != want {
		t.Errorf("REG:\n got %s\nwant %s", got, want)
	}
	addr := res.Credentials[1]
	if !addr.Held || addr.ID != "1234567,RG" || addr.Reason != "Filing:ICORP" || addr.Schema != credential.HistoryAddressSchema {
		t.Errorf("ADDR %+v", addr)
	}
	if res.CorpState != "ACT" || res.Note != "" || len(res.Warnings)+len(res.Requeue) != 0 {
		t.Errorf("result %+v", res)
	}
	posted, err := credential.NewHistory(credential.Options{PostAddresses: true}).Generate(histCompany(), fullRange())
	if err != nil || posted.Credentials[1].Held {
		t.Errorf("PostAddresses: %v, held %v", err, posted.Credentials[1].Held)
	}
}

// TestHistoryTypeChangingAlteration: a name started by a notice of
// alteration that changes the company type blanks entity_type in the REG
// credentials dated before it (COLIN keeps only the current type), and only
// in those.
func TestHistoryTypeChangingAlteration(t *testing.T) {
	tests := []struct {
		name    string
		filing  string
		wantTyp []string
	}{
		{"NOALB changes the type", "NOALB", []string{"", "BC", "BC"}},
		{"NOALU changes the type", "NOALU", []string{"", "BC", "BC"}},
		{"NOALC changes the type", "NOALC", []string{"", "BC", "BC"}},
		{"NOALD changes the type", "NOALD", []string{"", "BC", "BC"}},
		{"NOALE changes the type", "NOALE", []string{"", "BC", "BC"}},
		{"NOALR changes the type", "NOALR", []string{"", "BC", "BC"}},
		{"NOALA changes the name only", "NOALA", []string{"BC", "BC", "BC"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := histCompany()
			alt := hFiling(200, tt.filing, "2012-03-01 09:00:00", "2012-03-01 09:00:00")
			liq := hEvent(300, "SYST", "2013-05-01 12:00:00")
			s.Names = []source.CorpName{hName("CO", "OLD NAME LTD.", s.States[0].StartEvent, alt), hName("CO", "NEW NAME ULC", alt, nil)}
			s.States = []source.CorpState{hState("ACT", opACT, s.States[0].StartEvent, liq), hState("LIQ", opLIQ, liq, nil)}
			var got []string
			for _, r := range regViews(generateHistory(t, s, fullRange())) {
				got = append(got, r.Type)
			}
			if diff := gocmp.Diff(tt.wantTyp, got); diff != "" {
				t.Errorf("entity_type of the REG credentials (-want +got):\n%s", diff)
			}
		})
	}
}

// TestHistoryWithdrawn: a withdrawn (HWT) corporation produces nothing.
func TestHistoryWithdrawn(t *testing.T) {
	s := histCompany()
	wd := hFiling(200, "NWITH", "2012-01-01 10:00:00", "2012-01-01 10:00:00")
	s.States = []source.CorpState{hState("ACT", opACT, s.States[0].StartEvent, wd), hState("HWT", opHWT, wd, nil)}
	res := generateHistory(t, s, fullRange())
	if len(res.Credentials) != 0 || res.Note != credential.NoteWithdrawn || res.CorpState != "HIS" || len(res.Requeue) != 0 {
		t.Errorf("withdrawn: %+v", res)
	}
}

// TestHistoryFutureDatedFiling: an event effective after now produces no
// credential yet but a re-queue at its effective date, whose range starts
// at the future event registered first; run then, it produces the
// credential.
func TestHistoryFutureDatedFiling(t *testing.T) {
	s := histCompany()
	inc := s.States[0].StartEvent
	// Registered in December, effective in February and March; the March
	// one was registered first.
	feb := hFiling(300, "NOALA", "2025-12-10 11:00:00", "2026-02-01 00:01:00")
	mar := hFiling(290, "NOCAD", "2025-12-01 09:00:00", "2026-03-01 00:01:00")
	s.Names = []source.CorpName{hName("CO", "OLD NAME LTD.", inc, feb), hName("CO", "NEW NAME LTD.", feb, nil)}
	s.Offices = []source.Office{hOffice(inc, mar), hOffice(mar, nil)}

	res := generateHistory(t, s, fullRange())
	if diff := gocmp.Diff([]string{"REG", "ADDR", "ADDR"}, credTypes(res)); diff != "" {
		t.Errorf("types now (-want +got):\n%s", diff)
	}
	if r := regViews(res); len(r) != 1 || r[0].Name != "OLD NAME LTD." {
		t.Errorf("REG now: %+v", r)
	}
	// The old office expires in March: not yet.
	if got := res.Credentials[1].Attributes["expiry_date"]; got != "" {
		t.Errorf("office expiry now = %v, want none", got)
	}
	// The new office takes effect in March: held until then.
	if got, want := res.Credentials[2].NotBefore, time.Date(2026, 3, 1, 8, 1, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("new office NotBefore = %v, want %v", got, want)
	}
	if !res.Credentials[0].NotBefore.IsZero() || !res.Credentials[1].NotBefore.IsZero() {
		t.Errorf("past credentials held: %v, %v", res.Credentials[0].NotBefore, res.Credentials[1].NotBefore)
	}
	first, firstAt := int64(290), *ts("2025-12-01 09:00:00")
	want := []credential.Requeue{
		{DueAt: *ts("2026-02-01 00:01:00"), EventID: 300, FirstEventID: first, FirstEventDate: firstAt},
		{DueAt: *ts("2026-03-01 00:01:00"), EventID: 290, FirstEventID: first, FirstEventDate: firstAt},
	}
	if diff := gocmp.Diff(want, res.Requeue); diff != "" {
		t.Errorf("requeue (-want +got):\n%s", diff)
	}

	// The re-queued work item, run when the February change is due.
	rq := res.Requeue[0]
	later := credential.Params{Now: rq.DueAt, Prev: regevent.At(rq.FirstEventID, rq.FirstEventDate),
		Last: regevent.At(rq.EventID, rq.DueAt)}
	res2 := generateHistory(t, s, later)
	if r := regViews(res2); len(r) != 1 || r[0].Name != "NEW NAME LTD." || r[0].Reason != "Filing:NOALA" || r[0].Effective != "2026-02-01T08:01:00+00:00" {
		t.Errorf("REG when due: %+v", r)
	}
	if len(res2.Requeue) != 1 || res2.Requeue[0].EventID != 290 {
		t.Errorf("requeue when the first is due: %+v (want the March one still)", res2.Requeue)
	}
	// And in March the old office gets its expiry.
	res3 := generateHistory(t, s, credential.Params{Now: *ts("2026-03-01 00:01:00"),
		Prev: later.Prev, Last: regevent.At(290, *ts("2026-03-01 00:01:00"))})
	var expiries []string
	for _, c := range res3.Credentials {
		if c.Type == credential.TypeAddress {
			expiries = append(expiries, c.Attributes["expiry_date"].(string))
		}
	}
	if diff := gocmp.Diff([]string{"2026-03-01T08:01:00+00:00", ""}, expiries); diff != "" {
		t.Errorf("office expiries in March (-want +got):\n%s", diff)
	}
	if len(res3.Requeue) != 0 {
		t.Errorf("requeue in March: %+v", res3.Requeue)
	}
}

// TestHistoryOnlyFutureEvents: a corporation whose every event is still to
// come produces nothing yet, only its re-queue.
func TestHistoryOnlyFutureEvents(t *testing.T) {
	s := histCompany()
	s.Corporation.RecognitionDts = ts("2026-02-01 00:00:00")
	s.Corporation.Bn9 = sp("123456789") // no BNC credential either
	inc := hFiling(100, "ICORP", "2026-01-10 10:00:00", "2026-02-01 00:00:00")
	s.States = []source.CorpState{hState("ACT", opACT, inc, nil)}
	s.Names = []source.CorpName{hName("CO", "ACME", inc, nil)}
	s.Offices = []source.Office{hOffice(inc, nil)}
	res := generateHistory(t, s, fullRange())
	if len(res.Credentials) != 0 || res.Note != credential.NoteNoPastEvents || len(res.Requeue) != 1 {
		t.Errorf("only future events: %+v", res)
	}
}

// TestHistoryConversionDates: the 2004 data conversion stamped converted
// records with 2004-03-26 20:36; a conv_event row gives the real date, else
// the record counts as undated.
func TestHistoryConversionDates(t *testing.T) {
	tests := []struct {
		name  string
		setup func(s *source.Snapshot)
		want  []regView
	}{
		{
			// An extra-provincial company whose jurisdiction record was
			// converted: its conv_event dates the jurisdiction.
			name: "conv_event dates a converted record",
			setup: func(s *source.Snapshot) {
				conv := hConv(50, "CONVREGST", "1999-04-01 00:00:00")
				s.Corporation.CorpTypCd, s.Type = sp("A"), typeA
				s.Jurisdictions = []source.Jurisdiction{{CorpNum: "1234567", StartEventID: ip(50), CanJurTypCd: sp("ON"),
					Type: &source.CodeDesc{Code: "ON"}, StartEvent: conv}}
				s.Corporation.RecognitionDts = ts("1998-01-01 00:00:00")
				s.States[0] = hState("ACT", opACT, conv, nil)
				s.Names = []source.CorpName{hName("CO", "ACME", conv, nil)}
			},
			want: []regView{
				{"Event:CONVREGST", "1998-01-01T08:00:00+00:00", "ACME", "1998-01-01T08:00:00+00:00", "ACT", "1998-01-01T08:00:00+00:00", "A", "ON"},
				{"Event:CONVREGST", "1999-04-01T08:00:00+00:00", "ACME", "1998-01-01T08:00:00+00:00", "ACT", "1998-01-01T08:00:00+00:00", "A", "ON"},
			},
		},
		{
			// Without conv_event the converted restoration is undated: its
			// own credential is skipped (not the last event) and the status
			// date is blank afterwards.
			name: "undated conversion events",
			setup: func(s *source.Snapshot) {
				s.Corporation.RecognitionDts = ts("1980-05-05 00:00:00")
				dso, rstr, nc := hConv(51, "CONVDSO", ""), hConv(52, "CONVRSTR", ""), hConv(53, "CONVNC", "")
				ann := hFiling(60, "ANNBC", "2005-05-05 10:00:00", "2005-05-05 10:00:00")
				s.States = []source.CorpState{hState("HDO", opHDO, dso, rstr), hState("ACT", opACT, rstr, nil)}
				ic := hConv(54, "CONVICORP", "")
				s.Names = []source.CorpName{hName("CO", "FIRST NAME", ic, nc), hName("CO", "SECOND NAME", nc, ann), hName("CO", "THIRD NAME", ann, nil)}
			},
			want: []regView{
				{"Event:CONVDSO", "1980-05-05T07:00:00+00:00", "FIRST NAME", "1980-05-05T07:00:00+00:00", "HIS", "1980-05-05T07:00:00+00:00", "BC", "BC"},
				// 2004-03-26 20:36 is not last and undated: no credential.
				{"Filing:ANNBC", "2005-05-05T17:00:00+00:00", "THIRD NAME", "2005-05-05T17:00:00+00:00", "ACT", "", "BC", "BC"},
			},
		},
		{
			// A converted name change that ends an earlier name is undated:
			// its date is blank, except in the last credential.
			name: "undated name",
			setup: func(s *source.Snapshot) {
				s.Corporation.RecognitionDts = ts("1980-05-05 00:00:00")
				ic, nc := hConv(54, "CONVICORP", ""), hConv(53, "CONVNC", "")
				liq := hEvent(70, "SYST", "2005-05-05 10:00:00")
				as := hFiling(80, "NOALA", "2006-06-06 10:00:00", "2006-06-06 10:00:00")
				s.States = []source.CorpState{hState("ACT", opACT, ic, liq), hState("LIQ", opLIQ, liq, nil)}
				s.Names = []source.CorpName{hName("CO", "FIRST NAME", ic, nc), hName("CO", "SECOND NAME", nc, nil),
					hName("AS", "ASSUMED NAME", as, nil)}
			},
			want: []regView{
				{"Event:CONVICORP", "1980-05-05T07:00:00+00:00", "FIRST NAME", "1980-05-05T07:00:00+00:00", "ACT", "1980-05-05T07:00:00+00:00", "BC", "BC"},
				{"Event:SYST", "2005-05-05T17:00:00+00:00", "SECOND NAME", "", "ACT", "1980-05-05T07:00:00+00:00", "BC", "BC"},
				{"Filing:NOALA", "2006-06-06T17:00:00+00:00", "SECOND NAME", "2004-03-27T04:36:00+00:00", "ACT", "1980-05-05T07:00:00+00:00", "BC", "BC"},
			},
		},
		{
			name: "an undated last event still yields its credential",
			setup: func(s *source.Snapshot) {
				s.Corporation.RecognitionDts = ts("1980-05-05 00:00:00")
				ic, nc := hConv(54, "CONVICORP", ""), hConv(53, "CONVNC", "")
				s.States = []source.CorpState{hState("ACT", opACT, ic, nil)}
				s.Names = []source.CorpName{hName("CO", "FIRST NAME", ic, nc), hName("CO", "SECOND NAME", nc, nil)}
			},
			want: []regView{
				{"Event:CONVICORP", "1980-05-05T07:00:00+00:00", "FIRST NAME", "1980-05-05T07:00:00+00:00", "ACT", "1980-05-05T07:00:00+00:00", "BC", "BC"},
				{"Event:CONVNC", "2004-03-27T04:36:00+00:00", "SECOND NAME", "2004-03-27T04:36:00+00:00", "ACT", "1980-05-05T07:00:00+00:00", "BC", "BC"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := histCompany()
			tt.setup(s)
			if diff := gocmp.Diff(tt.want, regViews(generateHistory(t, s, fullRange()))); diff != "" {
				t.Errorf("REG credentials (-want +got):\n%s", diff)
			}
		})
	}
}

// TestHistoryFirmDissolution: a firm's state events are dated by
// trigger_dts (the dissolution date), a company's are not.
func TestHistoryFirmDissolution(t *testing.T) {
	tests := []struct {
		name, typ, want string
	}{
		{"firm", "SP", "2015-03-01T08:00:00+00:00"},
		{"company", "BC", "2015-01-10T17:00:00+00:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := histCompany()
			s.Corporation.CorpTypCd = sp(tt.typ)
			s.Type = source.CorpType{CorpTypCd: tt.typ, CorpClass: sp("FIRM")}
			diss := hEvent(200, "SYSDF", "2015-01-10 09:00:00")
			diss.TriggerDts = ts("2015-03-01 00:00:00")
			s.States = []source.CorpState{hState("ACT", opACT, s.States[0].StartEvent, diss), hState("HDF", opHDO, diss, nil)}
			r := regViews(generateHistory(t, s, fullRange()))
			if len(r) != 2 || r[1].Status != "HIS" || r[1].StatusEffective != tt.want || r[1].Effective != tt.want {
				t.Errorf("REG credentials %+v, want the second HIS from %s", r, tt.want)
			}
		})
	}
}

// owner and firm of the relationship tests.
var (
	relOwner = basic("1234567", typeBC)
	relFirm  = &source.BasicCorp{Corporation: source.Corporation{CorpNum: "FM7654321", CorpTypCd: sp("SP"),
		RecognitionDts: ts("2008-02-02 00:00:00")}, Type: &typeSP}
)

// firmOf returns the snapshot of relFirm with the given FBO rows.
func firmOf(parties ...source.Party) *source.Snapshot {
	reg := hEvent(10, "CONVFMREGI", "2008-02-02 00:00:00")
	return &source.Snapshot{
		FullHistory: true,
		Corporation: relFirm.Corporation,
		Type:        typeSP,
		States:      []source.CorpState{hState("ACT", opACT, reg, nil)},
		Names:       []source.CorpName{hName("CO", "THE FIRM", reg, nil)},
		Parties:     parties,
	}
}

// TestHistoryRelationships covers both sides of an FBO link, an ended one,
// and the ADMIN-event rule.
func TestHistoryRelationships(t *testing.T) {
	start := hFiling(500, "FRCHG", "2012-02-17 15:29:21", "2012-02-17 15:29:21")
	end := hFiling(501, "FRCHG", "2015-06-01 10:00:00", "2015-06-01 10:00:00")
	admin := hEvent(502, "ADMIN", "2016-09-09 09:09:09")
	later := hFiling(503, "FRCHG", "2017-01-01 10:00:00", "2017-01-01 10:00:00")
	tests := []struct {
		name    string
		parties []source.Party
		owner   []relView
		firm    []relView
	}{
		{
			name:    "a relationship that ended",
			parties: []source.Party{hParty(1, relFirm, relOwner, start, end)},
			owner: []relView{{"BC1234567", "FM7654321", "Owns", "", "2012-02-17T23:29:21+00:00", "2012-02-17T23:29:21+00:00",
				"2015-06-01T17:00:00+00:00", "Filing:FRCHG"}},
			firm: []relView{{"FM7654321", "BC1234567", "IsOwned", "1234567 OWNER NAME", "2012-02-17T23:29:21+00:00",
				"2012-02-17T23:29:21+00:00", "2015-06-01T17:00:00+00:00", "Filing:FRCHG"}},
		},
		{
			// A single link written by an administrative event is dated by
			// the firm's registration.
			name:    "single ADMIN-dated owner row",
			parties: []source.Party{hParty(1, relFirm, relOwner, admin, nil)},
			owner: []relView{{"BC1234567", "FM7654321", "Owns", "", "2008-02-02T08:00:00+00:00", "2008-02-02T08:00:00+00:00",
				"", "Event:ADMIN"}},
			firm: []relView{{"FM7654321", "BC1234567", "IsOwned", "1234567 OWNER NAME", "2008-02-02T08:00:00+00:00",
				"2008-02-02T08:00:00+00:00", "", "Event:ADMIN"}},
		},
		{
			name:    "ADMIN-dated row among two keeps its date",
			parties: []source.Party{hParty(1, relFirm, relOwner, admin, later), hParty(2, relFirm, relOwner, later, nil)},
			owner: []relView{
				{"BC1234567", "FM7654321", "Owns", "", "2016-09-09T16:09:09+00:00", "2016-09-09T16:09:09+00:00", "2017-01-01T18:00:00+00:00", "Event:ADMIN"},
				{"BC1234567", "FM7654321", "Owns", "", "2017-01-01T18:00:00+00:00", "2017-01-01T18:00:00+00:00", "", "Filing:FRCHG"},
			},
			firm: []relView{
				{"FM7654321", "BC1234567", "IsOwned", "1234567 OWNER NAME", "2016-09-09T16:09:09+00:00", "2016-09-09T16:09:09+00:00", "2017-01-01T18:00:00+00:00", "Event:ADMIN"},
				{"FM7654321", "BC1234567", "IsOwned", "1234567 OWNER NAME", "2017-01-01T18:00:00+00:00", "2017-01-01T18:00:00+00:00", "", "Filing:FRCHG"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			owner := histCompany()
			owner.Parties = tt.parties
			if diff := gocmp.Diff(tt.owner, relViews(generateHistory(t, owner, fullRange()))); diff != "" {
				t.Errorf("owner's REL (-want +got):\n%s", diff)
			}
			if diff := gocmp.Diff(tt.firm, relViews(generateHistory(t, firmOf(tt.parties...), fullRange()))); diff != "" {
				t.Errorf("firm's REL (-want +got):\n%s", diff)
			}
		})
	}
}

// TestHistoryRelationshipScope: only SP and MF firms, only FBO rows with a
// known corporation at the other end, only rows whose start or end event
// falls within the work item's range.
func TestHistoryRelationshipScope(t *testing.T) {
	start := hFiling(500, "FRCHG", "2012-02-17 15:29:21", "2012-02-17 15:29:21")
	lp := &source.BasicCorp{Corporation: source.Corporation{CorpNum: "LP0000001", CorpTypCd: sp("LP")},
		Type: &source.CorpType{CorpTypCd: "LP"}}
	missing := hParty(3, relFirm, relOwner, start, nil)
	missing.Firm = nil
	owner := histCompany()
	owner.Parties = []source.Party{hParty(1, lp, relOwner, start, nil), missing, hParty(2, relFirm, relOwner, start, nil)}
	if got := len(relViews(generateHistory(t, owner, fullRange()))); got != 1 {
		t.Errorf("%d REL credentials, want 1 (LP firm and unknown firm skipped)", got)
	}
	window := credential.Params{Now: synthNow, Prev: regevent.At(0, *ts("2013-01-01 00:00:00")),
		Last: regevent.At(0, synthNow)}
	if got := len(relViews(generateHistory(t, owner, window))); got != 0 {
		t.Errorf("%d REL credentials for a range after the link, want 0", got)
	}
}

// TestHistoryStartAfterEnd: a record that starts after it ends is never
// "the record valid at" a date.
func TestHistoryStartAfterEnd(t *testing.T) {
	s := histCompany()
	inc := s.States[0].StartEvent
	// As in sample C6020509: the NOALB filing is effective (16:15) after
	// the NWITH filing that ended its name (16:06).
	noalb := hFiling(201, "NOALB", "2012-02-17 16:04:20", "2012-02-17 16:15:00")
	nwith := hFiling(202, "NWITH", "2012-02-17 16:06:12", "2012-02-17 16:06:12")
	s.Names = []source.CorpName{hName("CO", "FIRST", inc, noalb), hName("NB", "BACKWARDS", noalb, nwith), hName("CO", "LAST", nwith, nil)}
	var names []string
	for _, r := range regViews(generateHistory(t, s, fullRange())) {
		names = append(names, r.Reason+" "+r.Name+" "+r.Type)
	}
	// At 16:15 the backwards name (16:15 → 16:06) is skipped, and with it
	// its type-changing alteration.
	want := []string{"Filing:ICORP FIRST BC", "Filing:NWITH LAST BC", "Filing:NOALB LAST BC"}
	if diff := gocmp.Diff(want, names); diff != "" {
		t.Errorf("REG credentials (-want +got):\n%s", diff)
	}
}

// TestHistoryBusinessNumber covers the BNC credential.
func TestHistoryBusinessNumber(t *testing.T) {
	tests := []struct {
		name     string
		bn       *string
		reg      *time.Time
		want     string // BNC text, "" for none
		wantDate string // registration_date of the REG credential
	}{
		{"none without bn_9", nil, ts("2010-06-15 10:00:00"), "", "2010-06-15T17:00:00+00:00"},
		{"none for a blank bn_9", sp("   "), ts("2010-06-15 10:00:00"), "", "2010-06-15T17:00:00+00:00"},
		{"dated by the registration", sp(" 123456789 "), ts("2010-06-15 10:00:00"),
			`{"business_number": "123456789", "effective_date": "2010-06-15T17:00:00+00:00", "expiry_date": "", "registration_id": "BC1234567"}`,
			"2010-06-15T17:00:00+00:00"},
		{"null registration date: the first event's date", sp("123456789"), nil,
			`{"business_number": "123456789", "effective_date": "2010-06-15T17:00:00+00:00", "expiry_date": "", "registration_id": "BC1234567"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := histCompany()
			s.Corporation.Bn9 = tt.bn
			s.Corporation.RecognitionDts = tt.reg
			res := generateHistory(t, s, fullRange())
			var got string
			for _, c := range res.Credentials {
				if c.Type == credential.TypeBusinessNumber {
					got = c.JSON
					if c.ID != "BC1234567" || c.Reason != "" || c.Schema != credential.HistoryBusinessNumberSchema {
						t.Errorf("BNC %+v", c)
					}
				}
			}
			if got != tt.want {
				t.Errorf("BNC:\n got %s\nwant %s", got, tt.want)
			}
			if d := res.Credentials[0].Attributes["registration_date"]; d != tt.wantDate {
				t.Errorf("registration_date = %v, want %q", d, tt.wantDate)
			}
			if last := res.Credentials[len(res.Credentials)-1]; tt.want != "" && last.Type != credential.TypeBusinessNumber {
				t.Errorf("BNC is not last: %v", credTypes(res))
			}
		})
	}
}

func TestHistoryRegistrationID(t *testing.T) {
	tests := []struct{ typ, num, want string }{
		{"BC", "0191294", "BC0191294"},
		{"ULC", "3014589", "BC3014589"},
		{"CC", "1111111", "BC1111111"},
		{"BEN", "1222222", "BC1222222"},
		// The pre-LEAR rule prefixes every number of these types; only
		// LEAR-era code (2022, 2025) left BC…, C0…, C1… and Q… numbers alone.
		{"BEN", "BC1222222", "BCBC1222222"},
		{"BC", "C0999999", "BCC0999999"},
		{"BC", "C1999999", "BCC1999999"},
		{"ULC", "Q0000123", "BCQ0000123"},
		{"C", "C0999999", "C0999999"},
		{"QA", "Q0000123", "Q0000123"},
		{"CUL", "C6020509", "C6020509"},
		{"A", "A1234567", "A1234567"},
		{"SP", "FM1234567", "FM1234567"},
	}
	for _, tt := range tests {
		t.Run(tt.typ+" "+tt.num, func(t *testing.T) {
			s := histCompany()
			s.Corporation.CorpNum, s.Corporation.CorpTypCd = tt.num, sp(tt.typ)
			s.Type = source.CorpType{CorpTypCd: tt.typ, CorpClass: sp("BC")}
			if got := generateHistory(t, s, fullRange()).Credentials[0].Attributes["registration_id"]; got != tt.want {
				t.Errorf("registration_id = %v, want %s", got, tt.want)
			}
		})
	}
}

// TestHistoryAssumedName: an extra-provincial company's assumed name is
// dated like its legal name.
func TestHistoryAssumedName(t *testing.T) {
	s := histCompany()
	s.Corporation.CorpNum, s.Corporation.CorpTypCd, s.Type = "A0000001", sp("A"), typeA
	inc := s.States[0].StartEvent
	as := hFiling(200, "NOALA", "2014-04-04 12:00:00", "2014-04-04 12:00:00")
	s.Names = append(s.Names, hName("AS", "ACME BC WIDGETS", as, nil))
	s.Jurisdictions = []source.Jurisdiction{{CorpNum: "A0000001", StartEventID: ip(inc.EventID), CanJurTypCd: sp("OT"),
		OthrJurisDesc: sp("US, WA"), Type: &source.CodeDesc{Code: "OT"}, StartEvent: inc}}
	res := generateHistory(t, s, fullRange())
	var got [][3]string
	for _, c := range res.Credentials[:2] {
		a := c.Attributes
		got = append(got, [3]string{a["entity_name_assumed"].(string), a["entity_name_assumed_effective"].(string), a["home_jurisdiction"].(string)})
	}
	want := [][3]string{{"", "", "US, WA"}, {"ACME BC WIDGETS", "2014-04-04T19:00:00+00:00", "US, WA"}}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("assumed names (-want +got):\n%s", diff)
	}
	if reg := res.Credentials[0].Attributes["registered_jurisdiction"]; reg != "BC" {
		t.Errorf("registered_jurisdiction = %v, want BC", reg)
	}
}

// TestHistoryMissingData: where the original crashed, the profile falls back
// and warns.
func TestHistoryMissingData(t *testing.T) {
	s := histCompany()
	// The state's start event row is missing, and so is an office's end;
	// the name's event has a type missing from event_type.
	s.States[0].StartEvent = nil
	s.Offices[0].EndEventID, s.Offices[0].EndEvent = ip(999), nil
	odd := hFiling(100, "ICORP", "2010-06-15 10:00:00", "2010-06-15 10:00:00")
	odd.Type = nil
	s.Names[0].StartEvent = odd
	res := generateHistory(t, s, fullRange())
	r := regViews(res)
	if len(r) != 1 || r[0].StatusEffective != "2010-06-15T17:00:00+00:00" || r[0].Reason != "Filing:ICORP" {
		t.Errorf("REG %+v", r)
	}
	want := []string{
		"missing event row 100 (start event of corp_state ACT); using the recognition date",
		"missing event_type row for event_typ_cd 'FILE' (event 100); using the event as it is",
		"missing event row 999 (end event of office RG); using the record's start date",
	}
	if diff := gocmp.Diff(want, res.Warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}

	// Nothing dated at all: the REG credential has no effective date and
	// is not stored.
	s = histCompany()
	s.Corporation.RecognitionDts = nil
	for _, e := range []*source.Event{s.States[0].StartEvent} {
		e.EventTimestmp, e.Filing = nil, nil
	}
	res = generateHistory(t, s, fullRange())
	if len(res.Credentials) != 0 || res.Note != credential.NoteNoPastEvents {
		t.Errorf("undatable corporation: %+v", res)
	}
}

func TestHistoryNeedsFullHistory(t *testing.T) {
	s := histCompany()
	s.FullHistory = false
	_, err := credential.NewHistory(credential.Options{}).Generate(s, fullRange())
	if !errors.Is(err, credential.ErrNoHistory) || !strings.Contains(err.Error(), "1234567") {
		t.Errorf("Generate on a current-only snapshot: %v", err)
	}
}

func TestHistoryInScope(t *testing.T) {
	p := credential.NewHistory(credential.Options{})
	for typ, want := range map[string]bool{"BC": true, "BEN": true, "SP": true, "GP": true, "XS": true, "FI": false, "PAR": false, "LIB": false} {
		s := histCompany()
		s.Corporation.CorpTypCd = sp(typ)
		if got := p.InScope(s); got != want {
			t.Errorf("InScope(%s) = %v, want %v", typ, got, want)
		}
	}
}

// TestHistoryEmptyEffectiveDate: a credential whose effective date is blank
// (dates before year 11 are placeholders) is not stored, and said so.
func TestHistoryEmptyEffectiveDate(t *testing.T) {
	s := histCompany()
	// A placeholder registration date: the first state period and the BNC
	// credential are dated by it, the name by its filing.
	s.Corporation.RecognitionDts = ts("0005-01-01 00:00:00")
	s.Corporation.Bn9 = sp("123456789")
	res := generateHistory(t, s, fullRange())
	if diff := gocmp.Diff([]string{"REG", "ADDR"}, credTypes(res)); diff != "" {
		t.Errorf("types (-want +got):\n%s", diff)
	}
	if r := regViews(res); len(r) != 1 || r[0].Effective != "2010-06-15T17:00:00+00:00" || r[0].StatusEffective != "" {
		t.Errorf("REG %+v", r)
	}
	want := []string{
		"missing effective date of REG credential 1234567 (Filing:ICORP); using no credential (not stored)",
		"missing effective date of BNC credential BC1234567 (); using no credential (not stored)",
	}
	if diff := gocmp.Diff(want, res.Warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

// TestHistoryLines: `bcregctl generate --profile history` prints each
// credential's reason, and when it may be posted if not at once.
func TestHistoryLines(t *testing.T) {
	s := histCompany()
	// A new registered office takes effect next month.
	move := hFiling(200, "NOCAD", "2026-01-10 10:00:00", "2026-02-01 00:01:00")
	s.Offices = []source.Office{hOffice(s.States[0].StartEvent, move), hOffice(move, nil)}
	wd := histCompany()
	wd.Corporation.CorpNum = "7654321"
	wdEvent := hFiling(300, "NWITH", "2012-01-01 10:00:00", "2012-01-01 10:00:00")
	wd.States = []source.CorpState{hState("ACT", opACT, wd.States[0].StartEvent, wdEvent), hState("HWT", opHWT, wdEvent, nil)}
	batch := &source.Batch{Snapshots: map[string]*source.Snapshot{"1234567": s, "7654321": wd}}

	var got []string
	for _, l := range credential.Lines(credential.NewHistory(credential.Options{}), []string{"1234567", "7654321"}, batch, fullRange()) {
		switch l := l.(type) {
		case *credential.CredentialLine:
			got = append(got, l.Type+" "+l.Reason+" "+l.NotBefore)
		case *credential.NoteLine:
			got = append(got, l.CorpNum+" "+l.Note)
		default:
			t.Errorf("line %+v", l)
		}
	}
	want := []string{"REG Filing:ICORP ", "ADDR Filing:ICORP ", "ADDR Filing:NOCAD 2026-02-01T08:01:00+00:00", "7654321 Withdrawn"}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}
