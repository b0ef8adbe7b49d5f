package source_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/source"
)

func ptr[T any](v T) *T { return &v }

// codes is a small set of code tables: one corporation type per class the
// rows below use, one op state, one filing, event, office and jurisdiction
// type.
func codes() *source.CodeTables {
	return &source.CodeTables{
		CorpTypes: map[string]source.CorpType{
			"BC": {CorpTypCd: "BC", CorpClass: ptr("BC")},
			"SP": {CorpTypCd: "SP", CorpClass: ptr("FIRM")},
		},
		OpStates:          map[string]source.OpState{"ACT": {StateTypCd: "ACT", OpStateTypCd: ptr("ACT")}},
		OfficeTypes:       map[string]source.CodeDesc{"RG": {Code: "RG"}},
		JurisdictionTypes: map[string]source.CodeDesc{"BC": {Code: "BC"}},
		EventTypes:        map[string]source.CodeDesc{"FILE": {Code: "FILE"}},
		FilingTypes:       map[string]source.CodeDesc{"ICORP": {Code: "ICORP"}},
	}
}

// rows is one BC company (0000001) owning a firm (FM0000002), with a state,
// two names, an office, a jurisdiction and a FILE event with its filing, in
// the order given (reversed when reverse is set), as a database might return
// them.
func rows(reverse bool) *source.Rows {
	at := func(d int) *time.Time { return ptr(time.Date(2001, 1, d, 10, 0, 0, 0, time.UTC)) }
	r := &source.Rows{
		Corporations: []source.Corporation{{CorpNum: "0000001", CorpTypCd: ptr("BC")}, {CorpNum: "FM0000002", CorpTypCd: ptr("SP")}},
		States:       []source.CorpState{{CorpNum: "0000001", StartEventID: ptr(int64(1)), StateTypCd: ptr("ACT")}},
		Names: []source.CorpName{
			{CorpNum: "0000001", CorpNameTypCd: "CO", StartEventID: ptr(int64(2)), CorpNameSeqNum: ptr(int64(2)), CorpNme: ptr("NEW LTD.")},
			{CorpNum: "0000001", CorpNameTypCd: "CO", StartEventID: ptr(int64(1)), EndEventID: ptr(int64(2)), CorpNameSeqNum: ptr(int64(1)), CorpNme: ptr("OLD LTD.")},
		},
		Jurisdictions: []source.Jurisdiction{{CorpNum: "0000001", StartEventID: ptr(int64(1)), CanJurTypCd: ptr("BC")}},
		Offices:       []source.Office{{CorpNum: "0000001", OfficeTypCd: "RG", StartEventID: ptr(int64(1)), DeliveryAddrID: ptr(int64(7)), MailingAddrID: ptr(int64(8))}},
		Addresses:     []source.Address{{AddrID: 8, City: ptr("VICTORIA")}, {AddrID: 7, City: ptr("NANAIMO")}},
		Parties:       []source.Party{{CorpNum: "FM0000002", PartyTypCd: "FBO", BusCompanyNum: ptr("0000001"), StartEventID: ptr(int64(3))}},
		Events: []source.Event{
			{EventID: 3, CorpNum: ptr("FM0000002"), EventTypCd: ptr("FILE"), EventTimestmp: at(3)},
			{EventID: 2, CorpNum: ptr("0000001"), EventTypCd: ptr("FILE"), EventTimestmp: at(2)},
			{EventID: 1, CorpNum: ptr("0000001"), EventTypCd: ptr("FILE"), EventTimestmp: at(1)},
		},
		Filings: []source.Filing{{EventID: 1, FilingTypCd: ptr("ICORP"), EffectiveDt: at(1)}},
	}
	if reverse {
		slices.Reverse(r.Corporations)
		slices.Reverse(r.Names)
		slices.Reverse(r.Addresses)
		slices.Reverse(r.Events)
	}
	return r
}

// TestAssemble: snapshots are built from rows alone, without a database
// (the split of pkg/source from pkg/sourcedb), and do not depend on the order
// the rows came in.
func TestAssemble(t *testing.T) {
	b := source.Assemble([]string{"0000001", "FM0000002"}, codes(), rows(false), true)
	s, err := b.Get("0000001")
	if err != nil {
		t.Fatal(err)
	}
	type links struct {
		Names                  []string
		OpState                string
		StateEvent, FilingType string
		Delivery, Mailing      string
		Firm, Owner, OwnerType string
		FullHistory            bool
	}
	got := links{
		OpState:     s.CurrentState().OpStateCode(),
		StateEvent:  s.States[0].StartEvent.EffectiveDate().Format(time.DateOnly),
		FilingType:  s.States[0].StartEvent.Filing.Type.Code,
		Delivery:    *s.Offices[0].DeliveryAddr.City,
		Mailing:     *s.Offices[0].MailingAddr.City,
		Firm:        s.Parties[0].Firm.CorpNum,
		Owner:       s.Parties[0].Owner.CorpNum,
		OwnerType:   s.Parties[0].Owner.Type.CorpTypCd,
		FullHistory: s.FullHistory,
	}
	for _, n := range s.Names {
		got.Names = append(got.Names, *n.CorpNme)
	}
	want := links{
		Names: []string{"OLD LTD.", "NEW LTD."}, OpState: "ACT", StateEvent: "2001-01-01", FilingType: "ICORP",
		Delivery: "NANAIMO", Mailing: "VICTORIA", Firm: "FM0000002", Owner: "0000001", OwnerType: "BC", FullHistory: true,
	}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("links (-want +got):\n%s", diff)
	}
	if firm, err := b.Get("FM0000002"); err != nil || len(firm.Parties) != 1 {
		t.Errorf("the firm's snapshot: %v, %d parties, want its FBO row", err, len(firm.Parties))
	}

	rev := source.Assemble([]string{"0000001", "FM0000002"}, codes(), rows(true), true)
	if diff := gocmp.Diff(b, rev); diff != "" {
		t.Errorf("rows in another order assemble otherwise (-in order +reversed):\n%s", diff)
	}
}

// TestAssembleMissingRows: a corporation without its corporation row or
// whose type is not in corp_type gets a MissingRowError, not a snapshot.
func TestAssembleMissingRows(t *testing.T) {
	r := rows(false)
	r.Corporations = append(r.Corporations, source.Corporation{CorpNum: "0000003", CorpTypCd: ptr("ZZ")})
	b := source.Assemble([]string{"0000003", "9999999"}, codes(), r, false)
	for _, tc := range []struct {
		name string
		corp string
		want source.MissingRowError
	}{
		{"no corporation row", "9999999", source.MissingRowError{CorpNum: "9999999", Table: "corporation", Column: "corp_num", Value: "9999999"}},
		{"unknown corp type", "0000003", source.MissingRowError{CorpNum: "0000003", Table: "corp_type", Column: "corp_typ_cd", Value: "ZZ"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.Get(tc.corp)
			var mre *source.MissingRowError
			if !errors.As(err, &mre) || !errors.Is(err, source.ErrMissingRow) {
				t.Fatalf("error %v, want a *MissingRowError", err)
			}
			if diff := gocmp.Diff(tc.want, *mre); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if len(b.Snapshots) != 0 {
		t.Errorf("%d snapshots assembled, want none", len(b.Snapshots))
	}
}
