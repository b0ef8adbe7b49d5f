package credential_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/bcgov/bcreg-events/pkg/credential"
	"github.com/bcgov/bcreg-events/pkg/credential/canonical"
	"github.com/bcgov/bcreg-events/pkg/source"
)

// Synthetic snapshots for the cases the development fixture does not reach.

func ts(s string) *time.Time {
	t, err := time.Parse("2006-01-02 15:04:05", s)
	if err != nil {
		panic(err)
	}
	return &t
}

func sp(s string) *string { return &s }
func ip(i int64) *int64   { return &i }

// fileEvent is a FILE event with a filing whose effective date is filed.
func fileEvent(id int64, corp, stamp, filed string) *source.Event {
	return &source.Event{EventID: id, CorpNum: sp(corp), EventTypCd: sp("FILE"), EventTimestmp: ts(stamp),
		Filing: &source.Filing{EventID: id, FilingTypCd: sp("NOCAD"), EffectiveDt: ts(filed)}}
}

func convEvent(id int64, corp string) *source.Event {
	return &source.Event{EventID: id, CorpNum: sp(corp), EventTypCd: sp("CONVICORP"), EventTimestmp: ts("2004-03-26 20:36:00")}
}

var (
	typeBC   = source.CorpType{CorpTypCd: "BC", CorpClass: sp("BC"), FullDesc: sp("BC Company")}
	typeA    = source.CorpType{CorpTypCd: "A", CorpClass: sp("XPRO"), FullDesc: sp("Extraprovincial Company")}
	typeSP   = source.CorpType{CorpTypCd: "SP", CorpClass: sp("FIRM"), FullDesc: sp("Sole Proprietorship")}
	opACT    = &source.OpState{StateTypCd: "ACT", OpStateTypCd: sp("ACT")}
	opLIQ    = &source.OpState{StateTypCd: "LIQ", OpStateTypCd: sp("ACT")}
	opD1F    = &source.OpState{StateTypCd: "D1F", OpStateTypCd: sp("ACT")}
	opHDO    = &source.OpState{StateTypCd: "HDO", OpStateTypCd: sp("HIS")}
	regOff   = &source.CodeDesc{Code: "RG", FullDesc: sp("Registered Office")}
	headOff  = &source.CodeDesc{Code: "HD", FullDesc: sp("Head Office")}
	basicBC  = func(num string) *source.BasicCorp { return basic(num, typeBC) }
	basicSP  = func(num string) *source.BasicCorp { return basic(num, typeSP) }
	fullAddr = source.Address{AddrID: 9, AddrLine1: sp("1 MAIN ST"), AddrLine2: sp("SUITE 2"), City: sp("VICTORIA"),
		Province: sp("BC"), PostalCd: sp("V8V1A1"), CountryTypCd: sp("CA")}
)

func basic(num string, t source.CorpType) *source.BasicCorp {
	return &source.BasicCorp{Corporation: source.Corporation{CorpNum: num, CorpTypCd: sp(t.CorpTypCd), RecognitionDts: ts("2001-02-03 00:00:00")}, Type: &t}
}

func state(code string, op *source.OpState, start *source.Event, end *int64) source.CorpState {
	var id *int64
	if start != nil {
		id = ip(start.EventID)
	}
	return source.CorpState{CorpNum: "1234567", StartEventID: id, EndEventID: end, StateTypCd: sp(code), OpState: op, StartEvent: start}
}

// bcCompany is an active BC company with one name and a registered office.
func bcCompany() *source.Snapshot {
	inc := fileEvent(100, "1234567", "2010-06-15 10:00:00", "2010-06-15 10:00:00")
	return &source.Snapshot{
		Corporation: source.Corporation{CorpNum: "1234567", CorpTypCd: sp("BC"), RecognitionDts: ts("2010-06-15 10:00:00")},
		Type:        typeBC,
		States:      []source.CorpState{state("ACT", opACT, inc, nil)},
		Names: []source.CorpName{{CorpNum: "1234567", CorpNameTypCd: "CO", StartEventID: ip(100),
			CorpNme: sp("ACME WIDGETS LTD."), StartEvent: inc}},
		Offices: []source.Office{{CorpNum: "1234567", OfficeTypCd: "RG", StartEventID: ip(101), DeliveryAddrID: ip(9), MailingAddrID: ip(9),
			Type: regOff, DeliveryAddr: &fullAddr, MailingAddr: &fullAddr,
			StartEvent: fileEvent(101, "1234567", "2015-07-28 14:46:33", "2015-07-29 00:01:00")}},
	}
}

// extraProvincial is an active A company from Ontario with a head office.
func extraProvincial() *source.Snapshot {
	s := bcCompany()
	s.Corporation.CorpNum, s.Corporation.CorpTypCd, s.Type = "A1234567", sp("A"), typeA
	s.Jurisdictions = []source.Jurisdiction{{CorpNum: "A1234567", CanJurTypCd: sp("ON"), Type: &source.CodeDesc{Code: "ON"}}}
	s.Offices[0].OfficeTypCd, s.Offices[0].Type = "HD", headOff
	return s
}

func generate(t *testing.T, s *source.Snapshot, opts credential.Options) *credential.Result {
	t.Helper()
	res, err := credential.NewSnapshot(opts).Generate(s, credential.Params{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Credentials {
		text, err := canonical.Marshal(c.Attributes)
		if err != nil || string(text) != c.JSON || canonical.Hash(text) != c.Hash {
			t.Fatalf("%s %s: JSON/hash not the canonical text of its attributes", c.Type, c.ID)
		}
	}
	return res
}

func find(res *credential.Result, typ string) []credential.Credential {
	var out []credential.Credential
	for _, c := range res.Credentials {
		if c.Type == typ {
			out = append(out, c)
		}
	}
	return out
}

func TestSnapshotRegistration(t *testing.T) {
	tests := []struct {
		name   string
		snap   func() *source.Snapshot
		want   string // the REG credential text
		warned []string
	}{
		{
			name: "BC company",
			snap: bcCompany,
			want: `{"effective_date": "2010-06-15T17:00:00+00:00", "entity_name": "ACME WIDGETS LTD.", "entity_name_effective": "2010-06-15T17:00:00+00:00", "entity_status": "ACT", "entity_status_effective": "2010-06-15T17:00:00+00:00", "entity_type": "BC Company", "home_jurisdiction": "BC", "registered_jurisdiction": "", "registration_date": "2010-06-15T17:00:00+00:00", "registration_id": "BC1234567", "registration_type": ""}`,
		},
		{
			name: "non-ASCII name escaped as Python does",
			snap: func() *source.Snapshot {
				s := bcCompany()
				s.Names[0].CorpNme = sp("CAFÉ ÉTOILE 北京 \U0001F600 \"Q\" <&>")
				return s
			},
			want: `{"effective_date": "2010-06-15T17:00:00+00:00", "entity_name": "CAF\u00c9 \u00c9TOILE \u5317\u4eac \ud83d\ude00 \"Q\" <&>", "entity_name_effective": "2010-06-15T17:00:00+00:00", "entity_status": "ACT", "entity_status_effective": "2010-06-15T17:00:00+00:00", "entity_type": "BC Company", "home_jurisdiction": "BC", "registered_jurisdiction": "", "registration_date": "2010-06-15T17:00:00+00:00", "registration_id": "BC1234567", "registration_type": ""}`,
		},
		{
			name: "name effective date is the event timestamp, never the filing date",
			snap: func() *source.Snapshot {
				s := bcCompany()
				s.Names[0].StartEvent = fileEvent(102, "1234567", "2012-01-01 09:00:00", "2012-03-01 00:00:00")
				return s
			},
			// Status dated by the filing; name by the timestamp; effective = the later.
			want: `{"effective_date": "2012-01-01T17:00:00+00:00", "entity_name": "ACME WIDGETS LTD.", "entity_name_effective": "2012-01-01T17:00:00+00:00", "entity_status": "ACT", "entity_status_effective": "2010-06-15T17:00:00+00:00", "entity_type": "BC Company", "home_jurisdiction": "BC", "registered_jurisdiction": "", "registration_date": "2010-06-15T17:00:00+00:00", "registration_id": "BC1234567", "registration_type": ""}`,
		},
		{
			name: "assumed name of an extra-provincial company",
			snap: func() *source.Snapshot {
				s := extraProvincial()
				s.Names = append(s.Names, source.CorpName{CorpNum: "A1234567", CorpNameTypCd: "AS", StartEventID: ip(103),
					CorpNme: sp("ACME (BC) WIDGETS"), StartEvent: fileEvent(103, "A1234567", "2016-07-01 12:00:00", "2016-06-01 00:00:00")})
				return s
			},
			want: `{"effective_date": "2016-07-01T19:00:00+00:00", "entity_name": "ACME WIDGETS LTD.", "entity_name_assumed": "ACME (BC) WIDGETS", "entity_name_assumed_effective": "2016-07-01T19:00:00+00:00", "entity_name_effective": "2010-06-15T17:00:00+00:00", "entity_status": "ACT", "entity_status_effective": "2010-06-15T17:00:00+00:00", "entity_type": "Extraprovincial Company", "home_jurisdiction": "ON", "registered_jurisdiction": "BC", "registration_date": "2010-06-15T17:00:00+00:00", "registration_id": "A1234567", "registration_type": ""}`,
		},
		{
			name: "translated and other-language names are loaded but never output",
			snap: func() *source.Snapshot {
				s := bcCompany()
				s.Names = append(s.Names,
					source.CorpName{CorpNum: "1234567", CorpNameTypCd: "TR", StartEventID: ip(104), CorpNme: sp("WIDGETS ACME LTÉE"),
						StartEvent: fileEvent(104, "1234567", "2019-01-01 00:00:00", "2019-01-01 00:00:00")},
					source.CorpName{CorpNum: "1234567", CorpNameTypCd: "NO", StartEventID: ip(104), CorpNme: sp("OTHER"),
						StartEvent: fileEvent(104, "1234567", "2019-01-01 00:00:00", "2019-01-01 00:00:00")})
				return s
			},
			want: `{"effective_date": "2010-06-15T17:00:00+00:00", "entity_name": "ACME WIDGETS LTD.", "entity_name_effective": "2010-06-15T17:00:00+00:00", "entity_status": "ACT", "entity_status_effective": "2010-06-15T17:00:00+00:00", "entity_type": "BC Company", "home_jurisdiction": "BC", "registered_jurisdiction": "", "registration_date": "2010-06-15T17:00:00+00:00", "registration_id": "BC1234567", "registration_type": ""}`,
		},
		{
			name: "no legal name: name keys omitted",
			snap: func() *source.Snapshot {
				s := bcCompany()
				s.Names[0].CorpNameTypCd = "SN"
				return s
			},
			want: `{"effective_date": "2010-06-15T17:00:00+00:00", "entity_status": "ACT", "entity_status_effective": "2010-06-15T17:00:00+00:00", "entity_type": "BC Company", "home_jurisdiction": "BC", "registered_jurisdiction": "", "registration_date": "2010-06-15T17:00:00+00:00", "registration_id": "BC1234567", "registration_type": ""}`,
		},
		{
			name: "extra-provincial without a jurisdiction row",
			snap: func() *source.Snapshot {
				s := extraProvincial()
				s.Jurisdictions = nil
				return s
			},
			want: `{"effective_date": "2010-06-15T17:00:00+00:00", "entity_name": "ACME WIDGETS LTD.", "entity_name_effective": "2010-06-15T17:00:00+00:00", "entity_status": "ACT", "entity_status_effective": "2010-06-15T17:00:00+00:00", "entity_type": "Extraprovincial Company", "home_jurisdiction": "", "registered_jurisdiction": "BC", "registration_date": "2010-06-15T17:00:00+00:00", "registration_id": "A1234567", "registration_type": ""}`,
		},
		{
			name: "OT jurisdiction with a null description",
			snap: func() *source.Snapshot {
				s := extraProvincial()
				s.Jurisdictions[0].CanJurTypCd, s.Jurisdictions[0].OthrJurisDesc = sp("OT"), nil
				return s
			},
			want: `{"effective_date": "2010-06-15T17:00:00+00:00", "entity_name": "ACME WIDGETS LTD.", "entity_name_effective": "2010-06-15T17:00:00+00:00", "entity_status": "ACT", "entity_status_effective": "2010-06-15T17:00:00+00:00", "entity_type": "Extraprovincial Company", "home_jurisdiction": "OT", "registered_jurisdiction": "BC", "registration_date": "2010-06-15T17:00:00+00:00", "registration_id": "A1234567", "registration_type": ""}`,
		},
		{
			name: "OT jurisdiction with a description",
			snap: func() *source.Snapshot {
				s := extraProvincial()
				s.Jurisdictions[0].CanJurTypCd, s.Jurisdictions[0].OthrJurisDesc = sp("OT"), sp("US, WA")
				return s
			},
			want: `{"effective_date": "2010-06-15T17:00:00+00:00", "entity_name": "ACME WIDGETS LTD.", "entity_name_effective": "2010-06-15T17:00:00+00:00", "entity_status": "ACT", "entity_status_effective": "2010-06-15T17:00:00+00:00", "entity_type": "Extraprovincial Company", "home_jurisdiction": "US, WA", "registered_jurisdiction": "BC", "registration_date": "2010-06-15T17:00:00+00:00", "registration_id": "A1234567", "registration_type": ""}`,
		},
		{
			name: "jurisdiction code missing from jurisdiction_type is ignored, as the inner join did",
			snap: func() *source.Snapshot {
				s := extraProvincial()
				s.Jurisdictions[0].Type = nil
				return s
			},
			want: `{"effective_date": "2010-06-15T17:00:00+00:00", "entity_name": "ACME WIDGETS LTD.", "entity_name_effective": "2010-06-15T17:00:00+00:00", "entity_status": "ACT", "entity_status_effective": "2010-06-15T17:00:00+00:00", "entity_type": "Extraprovincial Company", "home_jurisdiction": "", "registered_jurisdiction": "BC", "registration_date": "2010-06-15T17:00:00+00:00", "registration_id": "A1234567", "registration_type": ""}`,
		},
		{
			name: "active sub-state: dated by the start of the latest unbroken run of active states",
			snap: func() *source.Snapshot {
				s := bcCompany()
				s.States = []source.CorpState{
					state("HDO", opHDO, fileEvent(90, "1234567", "2000-01-01 00:00:00", "2000-01-01 00:00:00"), ip(91)),
					state("ACT", opACT, fileEvent(91, "1234567", "2001-05-01 12:00:00", "2001-05-01 12:00:00"), ip(92)),
					state("D1F", opD1F, fileEvent(92, "1234567", "2005-05-01 12:00:00", "2005-05-01 12:00:00"), ip(93)),
					state("LIQ", opLIQ, fileEvent(93, "1234567", "2008-05-01 12:00:00", "2008-05-01 12:00:00"), nil),
				}
				return s
			},
			want: `{"effective_date": "2010-06-15T17:00:00+00:00", "entity_name": "ACME WIDGETS LTD.", "entity_name_effective": "2010-06-15T17:00:00+00:00", "entity_status": "ACT", "entity_status_effective": "2001-05-01T19:00:00+00:00", "entity_type": "BC Company", "home_jurisdiction": "BC", "registered_jurisdiction": "", "registration_date": "2010-06-15T17:00:00+00:00", "registration_id": "BC1234567", "registration_type": ""}`,
		},
		{
			name: "converted data: equal state dates, the current state leads the walk",
			snap: func() *source.Snapshot {
				s := bcCompany()
				s.States = []source.CorpState{
					state("HDO", opHDO, convEvent(253999, "1234567"), ip(254000)),
					state("ACT", opACT, convEvent(254000, "1234567"), ip(254001)),
					state("LIQ", opLIQ, convEvent(254001, "1234567"), nil),
				}
				s.Names[0].StartEvent = convEvent(254001, "1234567")
				return s
			},
			want: `{"effective_date": "2004-03-27T04:36:00+00:00", "entity_name": "ACME WIDGETS LTD.", "entity_name_effective": "2004-03-27T04:36:00+00:00", "entity_status": "ACT", "entity_status_effective": "2004-03-27T04:36:00+00:00", "entity_type": "BC Company", "home_jurisdiction": "BC", "registered_jurisdiction": "", "registration_date": "2010-06-15T17:00:00+00:00", "registration_id": "BC1234567", "registration_type": ""}`,
		},
		{
			name: "historical state dated by its start filing",
			snap: func() *source.Snapshot {
				s := bcCompany()
				s.States = []source.CorpState{
					state("ACT", opACT, fileEvent(91, "1234567", "2001-05-01 12:00:00", "2001-05-01 12:00:00"), ip(92)),
					state("HDO", opHDO, fileEvent(92, "1234567", "2018-11-04 01:30:00", "2018-11-04 01:30:00"), nil),
				}
				return s
			},
			// 01:30 on the fall-back night is read as standard time.
			want: `{"effective_date": "2018-11-04T09:30:00+00:00", "entity_name": "ACME WIDGETS LTD.", "entity_name_effective": "2010-06-15T17:00:00+00:00", "entity_status": "HIS", "entity_status_effective": "2018-11-04T09:30:00+00:00", "entity_type": "BC Company", "home_jurisdiction": "BC", "registered_jurisdiction": "", "registration_date": "2010-06-15T17:00:00+00:00", "registration_id": "BC1234567", "registration_type": ""}`,
		},
		{
			name: "ULC numbers are prefixed with BC",
			snap: func() *source.Snapshot {
				s := bcCompany()
				s.Corporation.CorpTypCd = sp("ULC")
				s.Type = source.CorpType{CorpTypCd: "ULC", CorpClass: sp("BC"), FullDesc: sp("BC Unlimited Liability Company")}
				return s
			},
			want: `{"effective_date": "2010-06-15T17:00:00+00:00", "entity_name": "ACME WIDGETS LTD.", "entity_name_effective": "2010-06-15T17:00:00+00:00", "entity_status": "ACT", "entity_status_effective": "2010-06-15T17:00:00+00:00", "entity_type": "BC Unlimited Liability Company", "home_jurisdiction": "BC", "registered_jurisdiction": "", "registration_date": "2010-06-15T17:00:00+00:00", "registration_id": "BC1234567", "registration_type": ""}`,
		},
		{
			// The 2018 generator did not skip withdrawn corporations.
			name: "withdrawn (HWT) is published as historical",
			snap: func() *source.Snapshot {
				s := bcCompany()
				s.States = []source.CorpState{
					state("ACT", opACT, fileEvent(91, "1234567", "2010-06-15 10:00:00", "2010-06-15 10:00:00"), ip(92)),
					state("HWT", &source.OpState{StateTypCd: "HWT", OpStateTypCd: sp("HIS")}, fileEvent(92, "1234567", "2012-01-10 10:00:00", "2012-01-10 10:00:00"), nil),
				}
				return s
			},
			want: `{"effective_date": "2012-01-10T18:00:00+00:00", "entity_name": "ACME WIDGETS LTD.", "entity_name_effective": "2010-06-15T17:00:00+00:00", "entity_status": "HIS", "entity_status_effective": "2012-01-10T18:00:00+00:00", "entity_type": "BC Company", "home_jurisdiction": "BC", "registered_jurisdiction": "", "registration_date": "2010-06-15T17:00:00+00:00", "registration_id": "BC1234567", "registration_type": ""}`,
		},
		{
			name: "CC numbers are prefixed with BC",
			snap: func() *source.Snapshot {
				s := bcCompany()
				s.Corporation.CorpTypCd = sp("CC")
				s.Type = source.CorpType{CorpTypCd: "CC", CorpClass: sp("BC"), FullDesc: sp("BC Community Contribution Company")}
				return s
			},
			want: `{"effective_date": "2010-06-15T17:00:00+00:00", "entity_name": "ACME WIDGETS LTD.", "entity_name_effective": "2010-06-15T17:00:00+00:00", "entity_status": "ACT", "entity_status_effective": "2010-06-15T17:00:00+00:00", "entity_type": "BC Community Contribution Company", "home_jurisdiction": "BC", "registered_jurisdiction": "", "registration_date": "2010-06-15T17:00:00+00:00", "registration_id": "BC1234567", "registration_type": ""}`,
		},
		{
			name: "continued-in companies keep their C number",
			snap: func() *source.Snapshot {
				s := bcCompany()
				s.Corporation.CorpNum, s.Corporation.CorpTypCd = "C1234567", sp("C")
				s.Type = source.CorpType{CorpTypCd: "C", CorpClass: sp("BC"), FullDesc: sp("Continuation In")}
				return s
			},
			want: `{"effective_date": "2010-06-15T17:00:00+00:00", "entity_name": "ACME WIDGETS LTD.", "entity_name_effective": "2010-06-15T17:00:00+00:00", "entity_status": "ACT", "entity_status_effective": "2010-06-15T17:00:00+00:00", "entity_type": "Continuation In", "home_jurisdiction": "BC", "registered_jurisdiction": "", "registration_date": "2010-06-15T17:00:00+00:00", "registration_id": "C1234567", "registration_type": ""}`,
		},
		{
			name: "firm class defaults to home jurisdiction BC",
			snap: func() *source.Snapshot {
				s := bcCompany()
				s.Corporation.CorpNum, s.Corporation.CorpTypCd, s.Type = "FM1234567", sp("SP"), typeSP
				return s
			},
			want: `{"effective_date": "2010-06-15T17:00:00+00:00", "entity_name": "ACME WIDGETS LTD.", "entity_name_effective": "2010-06-15T17:00:00+00:00", "entity_status": "ACT", "entity_status_effective": "2010-06-15T17:00:00+00:00", "entity_type": "Sole Proprietorship", "home_jurisdiction": "BC", "registered_jurisdiction": "", "registration_date": "2010-06-15T17:00:00+00:00", "registration_id": "FM1234567", "registration_type": ""}`,
		},
		{
			// Q5 step 7: without a current state, the state that ended last
			// (highest end_event_id) is "the" state.
			name: "every state ended: the one that ended last",
			snap: func() *source.Snapshot {
				s := bcCompany()
				s.States = []source.CorpState{
					state("ACT", opACT, fileEvent(91, "1234567", "2001-05-01 12:00:00", "2001-05-01 12:00:00"), ip(92)),
					state("HDO", opHDO, fileEvent(92, "1234567", "2012-05-01 12:00:00", "2012-05-01 12:00:00"), ip(94)),
					state("LIQ", opLIQ, fileEvent(93, "1234567", "2013-05-01 12:00:00", "2013-05-01 12:00:00"), ip(93)),
				}
				return s
			},
			want: `{"effective_date": "2012-05-01T19:00:00+00:00", "entity_name": "ACME WIDGETS LTD.", "entity_name_effective": "2010-06-15T17:00:00+00:00", "entity_status": "HIS", "entity_status_effective": "2012-05-01T19:00:00+00:00", "entity_type": "BC Company", "home_jurisdiction": "BC", "registered_jurisdiction": "", "registration_date": "2010-06-15T17:00:00+00:00", "registration_id": "BC1234567", "registration_type": ""}`,
		},
		{
			// date(E) of a FILE event is its filing's effective_dt, for an
			// active (ACT) state as for a historical one.
			name: "status dated by the start filing's effective date, not its timestamp",
			snap: func() *source.Snapshot {
				s := bcCompany()
				s.States = []source.CorpState{
					state("ACT", opACT, fileEvent(91, "1234567", "2001-05-01 12:00:00", "2001-04-01 00:00:00"), ip(92)),
					state("HDO", opHDO, fileEvent(92, "1234567", "2012-05-01 12:00:00", "2012-06-30 23:59:00"), ip(93)),
					state("ACT", opACT, fileEvent(93, "1234567", "2014-05-01 12:00:00", "2014-07-01 00:00:00"), nil),
				}
				return s
			},
			want: `{"effective_date": "2014-07-01T07:00:00+00:00", "entity_name": "ACME WIDGETS LTD.", "entity_name_effective": "2010-06-15T17:00:00+00:00", "entity_status": "ACT", "entity_status_effective": "2014-07-01T07:00:00+00:00", "entity_type": "BC Company", "home_jurisdiction": "BC", "registered_jurisdiction": "", "registration_date": "2010-06-15T17:00:00+00:00", "registration_id": "BC1234567", "registration_type": ""}`,
		},
		{
			// The walk stops at the first historical state: a company
			// dissolved and restored is active since its restoration, and
			// later sub-states (D1F, LIQ) do not move that date.
			name: "active sub-state after a restoration: dated by the restoration",
			snap: func() *source.Snapshot {
				s := bcCompany()
				s.States = []source.CorpState{
					state("ACT", opACT, fileEvent(90, "1234567", "1999-01-01 00:00:00", "1999-01-01 00:00:00"), ip(91)),
					state("HDO", opHDO, fileEvent(91, "1234567", "2003-01-01 00:00:00", "2003-01-01 00:00:00"), ip(92)),
					state("ACT", opACT, fileEvent(92, "1234567", "2006-03-01 09:00:00", "2006-03-02 00:00:00"), ip(93)),
					state("D1F", opD1F, fileEvent(93, "1234567", "2009-01-01 00:00:00", "2009-01-01 00:00:00"), ip(94)),
					state("LIQ", opLIQ, fileEvent(94, "1234567", "2011-01-01 00:00:00", "2011-01-01 00:00:00"), nil),
				}
				return s
			},
			want: `{"effective_date": "2010-06-15T17:00:00+00:00", "entity_name": "ACME WIDGETS LTD.", "entity_name_effective": "2010-06-15T17:00:00+00:00", "entity_status": "ACT", "entity_status_effective": "2006-03-02T08:00:00+00:00", "entity_type": "BC Company", "home_jurisdiction": "BC", "registered_jurisdiction": "", "registration_date": "2010-06-15T17:00:00+00:00", "registration_id": "BC1234567", "registration_type": ""}`,
		},
		{
			// effective_date is the latest of the status and name dates: here
			// the status.
			name: "effective date: the status date when it is the latest",
			snap: func() *source.Snapshot {
				s := bcCompany()
				s.States = []source.CorpState{state("LIQ", opLIQ, fileEvent(95, "1234567", "2019-09-09 09:00:00", "2019-09-09 09:00:00"), nil)}
				return s
			},
			want: `{"effective_date": "2019-09-09T16:00:00+00:00", "entity_name": "ACME WIDGETS LTD.", "entity_name_effective": "2010-06-15T17:00:00+00:00", "entity_status": "ACT", "entity_status_effective": "2019-09-09T16:00:00+00:00", "entity_type": "BC Company", "home_jurisdiction": "BC", "registered_jurisdiction": "", "registration_date": "2010-06-15T17:00:00+00:00", "registration_id": "BC1234567", "registration_type": ""}`,
		},
		{
			name: "benefit companies are not prefixed in 2018",
			snap: func() *source.Snapshot {
				s := bcCompany()
				s.Corporation.CorpTypCd = sp("BEN")
				s.Type = source.CorpType{CorpTypCd: "BEN", CorpClass: sp("BC"), FullDesc: sp("Benefit Company")}
				return s
			},
			want: `{"effective_date": "2010-06-15T17:00:00+00:00", "entity_name": "ACME WIDGETS LTD.", "entity_name_effective": "2010-06-15T17:00:00+00:00", "entity_status": "ACT", "entity_status_effective": "2010-06-15T17:00:00+00:00", "entity_type": "Benefit Company", "home_jurisdiction": "BC", "registered_jurisdiction": "", "registration_date": "2010-06-15T17:00:00+00:00", "registration_id": "1234567", "registration_type": ""}`,
		},
		{
			name: "society class defaults to home jurisdiction BC",
			snap: func() *source.Snapshot {
				s := bcCompany()
				s.Corporation.CorpTypCd = sp("XS")
				s.Type = source.CorpType{CorpTypCd: "XS", CorpClass: sp("SOC"), FullDesc: sp("Extraprovincial Society")}
				return s
			},
			want: `{"effective_date": "2010-06-15T17:00:00+00:00", "entity_name": "ACME WIDGETS LTD.", "entity_name_effective": "2010-06-15T17:00:00+00:00", "entity_status": "ACT", "entity_status_effective": "2010-06-15T17:00:00+00:00", "entity_type": "Extraprovincial Society", "home_jurisdiction": "BC", "registered_jurisdiction": "", "registration_date": "2010-06-15T17:00:00+00:00", "registration_id": "1234567", "registration_type": ""}`,
		},
		{
			name: "missing state start event: recognition date",
			snap: func() *source.Snapshot {
				s := bcCompany()
				s.States[0].StartEventID, s.States[0].StartEvent = ip(555), nil
				s.Corporation.RecognitionDts = ts("2009-01-02 03:04:05")
				return s
			},
			want:   `{"effective_date": "2010-06-15T17:00:00+00:00", "entity_name": "ACME WIDGETS LTD.", "entity_name_effective": "2010-06-15T17:00:00+00:00", "entity_status": "ACT", "entity_status_effective": "2009-01-02T11:04:05+00:00", "entity_type": "BC Company", "home_jurisdiction": "BC", "registered_jurisdiction": "", "registration_date": "2009-01-02T11:04:05+00:00", "registration_id": "BC1234567", "registration_type": ""}`,
			warned: []string{"missing event row 555 (start event of corp_state ACT); using the recognition date"},
		},
		{
			name: "no state row: empty status dated by the recognition date",
			snap: func() *source.Snapshot {
				s := bcCompany()
				s.States = nil
				return s
			},
			want:   `{"effective_date": "2010-06-15T17:00:00+00:00", "entity_name": "ACME WIDGETS LTD.", "entity_name_effective": "2010-06-15T17:00:00+00:00", "entity_status": "", "entity_status_effective": "2010-06-15T17:00:00+00:00", "entity_type": "BC Company", "home_jurisdiction": "BC", "registered_jurisdiction": "", "registration_date": "2010-06-15T17:00:00+00:00", "registration_id": "BC1234567", "registration_type": ""}`,
			warned: []string{`missing corp_state (the corporation has no state row with a known state code); using entity_status "" dated by the recognition date`},
		},
		{
			name: "missing name start event and null timestamp elsewhere",
			snap: func() *source.Snapshot {
				s := bcCompany()
				s.Names[0].StartEvent = nil
				s.States[0].StartEvent = &source.Event{EventID: 100, CorpNum: sp("1234567"), EventTypCd: sp("ADCORP")}
				return s
			},
			want: `{"effective_date": "2010-06-15T17:00:00+00:00", "entity_name": "ACME WIDGETS LTD.", "entity_name_effective": "2010-06-15T17:00:00+00:00", "entity_status": "ACT", "entity_status_effective": "2010-06-15T17:00:00+00:00", "entity_type": "BC Company", "home_jurisdiction": "BC", "registered_jurisdiction": "", "registration_date": "2010-06-15T17:00:00+00:00", "registration_id": "BC1234567", "registration_type": ""}`,
			warned: []string{
				"missing event_timestmp of event 100 (start event of corp_state ACT); using the recognition date",
				"missing event row 100 (start event of corp_name CO); using the recognition date",
			},
		},
		{
			name: "null recognition date and no dates at all: nulls",
			snap: func() *source.Snapshot {
				s := bcCompany()
				s.Corporation.RecognitionDts = nil
				s.States[0].StartEvent = nil
				s.Names[0].StartEvent = nil
				return s
			},
			want: `{"effective_date": null, "entity_name": "ACME WIDGETS LTD.", "entity_name_effective": null, "entity_status": "ACT", "entity_status_effective": null, "entity_type": "BC Company", "home_jurisdiction": "BC", "registered_jurisdiction": "", "registration_date": null, "registration_id": "BC1234567", "registration_type": ""}`,
			warned: []string{
				"missing event row 100 (start event of corp_state ACT); using the recognition date (NULL)",
				"missing event row 100 (start event of corp_name CO); using the recognition date (NULL)",
			},
		},
		{
			name: "a date outside pytz's range becomes empty",
			snap: func() *source.Snapshot {
				s := bcCompany()
				s.Corporation.RecognitionDts = ts("0001-01-01 00:00:00")
				return s
			},
			want: `{"effective_date": "2010-06-15T17:00:00+00:00", "entity_name": "ACME WIDGETS LTD.", "entity_name_effective": "2010-06-15T17:00:00+00:00", "entity_status": "ACT", "entity_status_effective": "2010-06-15T17:00:00+00:00", "entity_type": "BC Company", "home_jurisdiction": "BC", "registered_jurisdiction": "", "registration_date": "", "registration_id": "BC1234567", "registration_type": ""}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core, logs := observer.New(zap.WarnLevel)
			res := generate(t, tt.snap(), credential.Options{Log: zap.New(core)})
			reg := find(res, credential.TypeRegistration)
			if len(reg) != 1 || res.Credentials[0].Type != credential.TypeRegistration {
				t.Fatalf("want exactly one REG credential first, got %+v", res.Credentials)
			}
			if diff := gocmp.Diff(tt.want, reg[0].JSON); diff != "" {
				t.Errorf("REG text (-want +got):\n%s", diff)
			}
			if reg[0].ID != res.CorpNum || reg[0].Schema != "registration.bc_registries" || reg[0].Version != "1.0.36" || reg[0].Held {
				t.Errorf("REG id/schema/version/held = %q %q %q %v", reg[0].ID, reg[0].Schema, reg[0].Version, reg[0].Held)
			}
			if diff := gocmp.Diff(tt.warned, res.Warnings); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
			if logs.Len() != len(tt.warned) {
				t.Errorf("logged %d warnings, want %d", logs.Len(), len(tt.warned))
			}
			for _, e := range logs.All() {
				if e.ContextMap()["corp_num"] != res.CorpNum {
					t.Errorf("warning %q does not name the corporation", e.Message)
				}
			}
		})
	}
}

func TestSnapshotCorpState(t *testing.T) {
	s := bcCompany()
	s.States = nil
	if got := generate(t, s, credential.Options{}).CorpState; got != "N/A" {
		t.Errorf("corp_state without state = %q, want N/A", got)
	}
	s = bcCompany()
	s.States[0].OpState = &source.OpState{StateTypCd: "HDO", OpStateTypCd: sp("HIS")}
	if got := generate(t, s, credential.Options{}).CorpState; got != "HIS" {
		t.Errorf("corp_state = %q, want HIS", got)
	}
}

func TestSnapshotAddresses(t *testing.T) {
	tests := []struct {
		name string
		addr *source.Address
		want string // the ADDR credential text; "" = no credential
	}{
		{
			name: "full address",
			addr: &fullAddr,
			want: `{"address_effective_date": "2015-07-29T07:01:00+00:00", "address_type": "Registered Office", "addressee": "ACME WIDGETS LTD.", "civic_address": "1 MAIN ST, SUITE 2, VICTORIA, BC, V8V1A1, CA", "country": "CA", "effective_date": "2015-07-29T07:01:00+00:00", "municipality": "VICTORIA", "postal_code": "V8V1A1", "province": "BC", "registration_id": "BC1234567"}`,
		},
		{
			name: "office without delivery address",
			addr: nil,
		},
		{
			name: "only address_desc",
			addr: &source.Address{AddrID: 9, AddressDesc: sp("RR 1 SITE 5 COMP 3 NEAR THE MILL"), Province: sp("BC"), CountryTypCd: sp("CA")},
			want: `{"address_effective_date": "2015-07-29T07:01:00+00:00", "address_type": "Registered Office", "addressee": "ACME WIDGETS LTD.", "civic_address": "RR 1 SITE 5 COMP 3 NEAR THE MILL", "country": "CA", "effective_date": "2015-07-29T07:01:00+00:00", "municipality": null, "postal_code": null, "province": "BC", "registration_id": "BC1234567"}`,
		},
		{
			name: "neither line nor description",
			addr: &source.Address{AddrID: 9, City: sp("VICTORIA")},
			want: `{"address_effective_date": "2015-07-29T07:01:00+00:00", "address_type": "Registered Office", "addressee": "ACME WIDGETS LTD.", "civic_address": "", "country": null, "effective_date": "2015-07-29T07:01:00+00:00", "municipality": "VICTORIA", "postal_code": null, "province": null, "registration_id": "BC1234567"}`,
		},
		{
			name: "null country leaves a trailing separator",
			addr: &source.Address{AddrID: 9, AddrLine1: sp("1 HIGH ST"), AddrLine3: sp("ENGLAND  CW8 2YA")},
			want: `{"address_effective_date": "2015-07-29T07:01:00+00:00", "address_type": "Registered Office", "addressee": "ACME WIDGETS LTD.", "civic_address": "1 HIGH ST, ENGLAND  CW8 2YA, ", "country": null, "effective_date": "2015-07-29T07:01:00+00:00", "municipality": null, "postal_code": null, "province": null, "registration_id": "BC1234567"}`,
		},
		{
			name: "non-ASCII address",
			addr: &source.Address{AddrID: 9, AddrLine1: sp("1 RUE SAINT-JÉRÔME"), City: sp("MONTRÉAL"), Province: sp("QC"), CountryTypCd: sp("CA")},
			want: `{"address_effective_date": "2015-07-29T07:01:00+00:00", "address_type": "Registered Office", "addressee": "ACME WIDGETS LTD.", "civic_address": "1 RUE SAINT-J\u00c9R\u00d4ME, MONTR\u00c9AL, QC, CA", "country": "CA", "effective_date": "2015-07-29T07:01:00+00:00", "municipality": "MONTR\u00c9AL", "postal_code": null, "province": "QC", "registration_id": "BC1234567"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := bcCompany()
			s.Offices[0].DeliveryAddr = tt.addr
			addrs := find(generate(t, s, credential.Options{}), credential.TypeAddress)
			if tt.want == "" {
				if len(addrs) != 0 {
					t.Fatalf("want no ADDR credential, got %s", addrs[0].JSON)
				}
				return
			}
			if len(addrs) != 1 {
				t.Fatalf("want one ADDR credential, got %d", len(addrs))
			}
			if diff := gocmp.Diff(tt.want, addrs[0].JSON); diff != "" {
				t.Errorf("ADDR text (-want +got):\n%s", diff)
			}
			if addrs[0].ID != "1234567,RG" || addrs[0].Schema != "address.bc_registries" || !addrs[0].Held {
				t.Errorf("ADDR id %q schema %q held %v, want 1234567,RG address.bc_registries true", addrs[0].ID, addrs[0].Schema, addrs[0].Held)
			}
		})
	}
}

func TestSnapshotAddressOptions(t *testing.T) {
	s := bcCompany()
	s.Names = nil // no legal name: no addressee key
	res := generate(t, s, credential.Options{PostAddresses: true})
	addrs := find(res, credential.TypeAddress)
	if len(addrs) != 1 || addrs[0].Held {
		t.Fatalf("with PostAddresses the ADDR credential must not be held: %+v", addrs)
	}
	if strings.Contains(addrs[0].JSON, "addressee") {
		t.Errorf("ADDR without a legal name has an addressee: %s", addrs[0].JSON)
	}
	// An office type missing from the code table falls back on its code.
	s.Offices[0].Type = nil
	res = generate(t, s, credential.Options{})
	if got := find(res, credential.TypeAddress)[0].Attributes["address_type"]; got != "RG" {
		t.Errorf("address_type = %v, want RG", got)
	}
	if len(res.Warnings) != 1 {
		t.Errorf("warnings = %q, want one", res.Warnings)
	}
}

// TestSnapshotOffices: one ADDR per current RG, HD and FO office with a
// delivery address, in office-type order; ended offices and the mailing
// address are never used.
func TestSnapshotOffices(t *testing.T) {
	s := bcCompany()
	rg := s.Offices[0]
	other := source.Address{AddrID: 10, AddrLine1: sp("9 OTHER RD"), City: sp("NANAIMO"), Province: sp("BC"), CountryTypCd: sp("CA")}
	ended := rg
	ended.StartEventID, ended.EndEventID, ended.StartEvent = ip(90), ip(101), fileEvent(90, "1234567", "2010-06-15 10:00:00", "2010-06-15 10:00:00")
	ended.DeliveryAddr = &other
	head := rg
	head.OfficeTypCd, head.Type, head.DeliveryAddr, head.MailingAddr = "HD", headOff, &fullAddr, &other
	mailingOnly := rg
	mailingOnly.OfficeTypCd, mailingOnly.Type = "FO", &source.CodeDesc{Code: "FO", FullDesc: sp("Firm Office")}
	mailingOnly.DeliveryAddrID, mailingOnly.DeliveryAddr, mailingOnly.MailingAddr = nil, nil, &other
	// Loader order: by office type.
	s.Offices = []source.Office{mailingOnly, head, ended, rg}

	var got []string
	for _, c := range find(generate(t, s, credential.Options{}), credential.TypeAddress) {
		got = append(got, c.ID+" "+c.Attributes["address_type"].(string)+" "+c.Attributes["civic_address"].(string))
	}
	want := []string{
		"1234567,HD Head Office 1 MAIN ST, SUITE 2, VICTORIA, BC, V8V1A1, CA",
		"1234567,RG Registered Office 1 MAIN ST, SUITE 2, VICTORIA, BC, V8V1A1, CA",
	}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("ADDR credentials (-want +got):\n%s", diff)
	}
}

func owned(firm *source.BasicCorp, owner string, id int64, start *source.Event, ended bool) source.Party {
	p := source.Party{CorpNum: firm.CorpNum, CorpPartyID: ip(id), PartyTypCd: "FBO", BusCompanyNum: sp(owner),
		StartEvent: start, Firm: firm, Owner: basicBC(owner)}
	if start != nil {
		p.StartEventID = ip(start.EventID)
	}
	if ended {
		p.EndEventID = ip(999)
	}
	return p
}

func TestSnapshotRelationships(t *testing.T) {
	s := bcCompany()
	lp := basic("LP0000004", source.CorpType{CorpTypCd: "LP", CorpClass: sp("FIRM")})
	mf := basic("FM0000002", source.CorpType{CorpTypCd: "MF", CorpClass: sp("FIRM")})
	s.Parties = []source.Party{
		owned(basicSP("FM0000001"), "1234567", 1, fileEvent(201, "FM0000001", "2012-02-17 15:41:20", "2012-02-17 16:00:00"), false),
		owned(mf, "1234567", 2, convEvent(202, "FM0000002"), false),
		owned(basicSP("FM0000005"), "1234567", 5, nil, false), // missing start event: the firm's recognition date
		owned(basicSP("FM0000006"), "1234567", 6, convEvent(206, "FM0000006"), true),
		owned(lp, "1234567", 4, convEvent(204, "LP0000004"), false),
	}
	p := owned(basicSP("FM0000003"), "1234567", 3, convEvent(203, "FM0000003"), false)
	p.Firm = nil // the firm's corporation row is missing
	s.Parties = append(s.Parties, p)

	res := generate(t, s, credential.Options{})
	var got []string
	for _, c := range find(res, credential.TypeRelationship) {
		if c.ID != "BC1234567" || c.Schema != "relationship.bc_registries" || c.Held {
			t.Errorf("REL id %q schema %q held %v", c.ID, c.Schema, c.Held)
		}
		got = append(got, c.JSON)
	}
	want := []string{
		`{"associated_registration_id": "FM0000001", "effective_date": "2012-02-18T00:00:00+00:00", "registration_id": "BC1234567", "relationship": "Owns", "relationship_description": "Does Business As", "relationship_status": "ACT", "relationship_status_effective": "2012-02-18T00:00:00+00:00"}`,
		`{"associated_registration_id": "FM0000002", "effective_date": "2004-03-27T04:36:00+00:00", "registration_id": "BC1234567", "relationship": "Owns", "relationship_description": "Does Business As", "relationship_status": "ACT", "relationship_status_effective": "2004-03-27T04:36:00+00:00"}`,
		`{"associated_registration_id": "FM0000005", "effective_date": "2001-02-03T08:00:00+00:00", "registration_id": "BC1234567", "relationship": "Owns", "relationship_description": "Does Business As", "relationship_status": "ACT", "relationship_status_effective": "2001-02-03T08:00:00+00:00"}`,
	}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("REL texts (-want +got):\n%s", diff)
	}
	wantWarn := []string{
		"missing start_event_id of corp_party 5; using the firm's recognition date",
		"missing corporation row of firm FM0000003 (corp_party 3); using no relationship credential for it",
	}
	if diff := gocmp.Diff(wantWarn, res.Warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	var order []string
	for _, c := range res.Credentials {
		order = append(order, c.Type)
	}
	if diff := gocmp.Diff([]string{"REG", "ADDR", "REL", "REL", "REL"}, order); diff != "" {
		t.Errorf("issue order (-want +got):\n%s", diff)
	}

	// A firm gets no relationship credential, whatever its party rows say.
	firm := bcCompany()
	firm.Corporation.CorpNum, firm.Corporation.CorpTypCd, firm.Type = "FM0000001", sp("SP"), typeSP
	firm.Parties = []source.Party{owned(basicSP("FM0000001"), "1234567", 1, convEvent(201, "FM0000001"), false)}
	if rels := find(generate(t, firm, credential.Options{}), credential.TypeRelationship); len(rels) != 0 {
		t.Errorf("firm got %d REL credentials", len(rels))
	}
}

func TestSnapshotInScope(t *testing.T) {
	firm := func(owners ...source.Party) *source.Snapshot {
		s := bcCompany()
		s.Corporation.CorpNum, s.Corporation.CorpTypCd, s.Type = "FM0000001", sp("SP"), typeSP
		s.Parties = owners
		return s
	}
	society := basic("S0000001", source.CorpType{CorpTypCd: "S", CorpClass: sp("SOC")})
	ownedBy := func(owner *source.BasicCorp, ended bool) source.Party {
		p := owned(basicSP("FM0000001"), owner.CorpNum, 1, nil, ended)
		p.Owner = owner
		return p
	}
	tests := []struct {
		name string
		snap *source.Snapshot
		want bool
	}{
		{"BC company", bcCompany(), true},
		{"extra-provincial company", extraProvincial(), true},
		{"society", func() *source.Snapshot {
			s := bcCompany()
			s.Corporation.CorpTypCd, s.Type = sp("S"), *society.Type
			return s
		}(), false},
		{"firm owned by a BC company", firm(ownedBy(basicBC("1234567"), false)), true},
		{"firm owned by a society", firm(ownedBy(society, false)), false},
		{"firm whose BC owner row has ended", firm(ownedBy(basicBC("1234567"), true)), false},
		{"firm whose owner row is missing", firm(func() source.Party { p := ownedBy(basicBC("1234567"), false); p.Owner = nil; return p }()), false},
		{"firm without owner", firm(), false},
		{"misc firm owned by an LLC", func() *source.Snapshot {
			s := firm(ownedBy(basic("LLC0000001", source.CorpType{CorpTypCd: "LLC", CorpClass: sp("XPRO")}), false))
			s.Corporation.CorpTypCd, s.Type = sp("MF"), source.CorpType{CorpTypCd: "MF", CorpClass: sp("FIRM")}
			return s
		}(), true},
		{"general partnership owned by a BC company", func() *source.Snapshot {
			s := firm(ownedBy(basicBC("1234567"), false))
			s.Corporation.CorpTypCd, s.Type = sp("GP"), source.CorpType{CorpTypCd: "GP", CorpClass: sp("FIRM")}
			return s
		}(), false},
		{"firm whose FBO row names no owner", firm(func() source.Party { p := ownedBy(basicBC("1234567"), false); p.BusCompanyNum = nil; return p }()), false},
		{"continued-in ULC", func() *source.Snapshot {
			s := bcCompany()
			s.Corporation.CorpTypCd, s.Type = sp("CUL"), source.CorpType{CorpTypCd: "CUL", CorpClass: sp("BC")}
			return s
		}(), true},
		{"benefit company (not in the 2018 list)", func() *source.Snapshot {
			s := bcCompany()
			s.Corporation.CorpTypCd, s.Type = sp("BEN"), source.CorpType{CorpTypCd: "BEN", CorpClass: sp("BC")}
			return s
		}(), false},
	}
	p := credential.NewSnapshot(credential.Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.InScope(tt.snap); got != tt.want {
				t.Errorf("InScope = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLines(t *testing.T) {
	society := bcCompany()
	society.Corporation.CorpNum, society.Corporation.CorpTypCd = "S0000001", sp("S")
	society.Type = source.CorpType{CorpTypCd: "S", CorpClass: sp("SOC"), FullDesc: sp("Society")}
	society.Offices = nil
	batch := &source.Batch{
		Snapshots: map[string]*source.Snapshot{"1234567": bcCompany(), "S0000001": society},
		Errors: map[string]error{"9999999": &source.MissingRowError{CorpNum: "9999999", Table: "corporation",
			Column: "corp_num", Value: "9999999"}},
	}
	p := credential.NewSnapshot(credential.Options{})
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, l := range credential.Lines(p, []string{"9999999", "1234567", "S0000001", "0000000"}, batch, credential.Params{}) {
		if err := enc.Encode(l); err != nil {
			t.Fatal(err)
		}
	}
	reg := generate(t, bcCompany(), credential.Options{}).Credentials
	soc := generate(t, society, credential.Options{}).Credentials
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	want := strings.Join([]string{
		`{"corp_num":"9999999","error":"corporation 9999999: no row in bc_registries.corporation for corp_num = '9999999'"}`,
		`{"corp_num":"1234567","type":"REG","credential_id":"1234567","schema":"registration.bc_registries","version":"1.0.36","corp_state":"ACT","held":false,"reason":"","credential_json":` + q(reg[0].JSON) + `,"hash":"` + reg[0].Hash + `"}`,
		`{"corp_num":"1234567","type":"ADDR","credential_id":"1234567,RG","schema":"address.bc_registries","version":"1.0.36","corp_state":"ACT","held":true,"reason":"","credential_json":` + q(reg[1].JSON) + `,"hash":"` + reg[1].Hash + `"}`,
		`{"corp_num":"S0000001","type":"REG","credential_id":"S0000001","schema":"registration.bc_registries","version":"1.0.36","corp_state":"ACT","held":false,"reason":"","credential_json":` + q(soc[0].JSON) + `,"hash":"` + soc[0].Hash + `","in_scope":false}`,
		`{"corp_num":"0000000","error":"corporation 0000000: not requested in this batch"}`,
	}, "\n") + "\n"
	if diff := gocmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}

func TestNewProfile(t *testing.T) {
	for _, name := range []string{"snapshot", "history"} {
		if p, err := credential.New(name, credential.Options{}); err != nil || p.Name() != name {
			t.Errorf("New(%s) = %v, %v", name, p, err)
		}
	}
	if _, err := credential.New("nope", credential.Options{}); err == nil {
		t.Error(`New("nope") succeeded`)
	}
	var mre *source.MissingRowError
	err := error(&source.MissingRowError{CorpNum: "1", Table: "corp_type", Column: "corp_typ_cd", Value: "ZZ"})
	if !errors.As(err, &mre) || !errors.Is(err, source.ErrMissingRow) {
		t.Error("MissingRowError does not match ErrMissingRow")
	}
}
