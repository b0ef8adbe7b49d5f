package sourcedb_test

import (
	"fmt"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/source"
	"github.com/bcgov/bcreg-events/pkg/sourcedb"
	"github.com/bcgov/bcreg-events/pkg/testkit/sourcetest"
	"github.com/bcgov/bcreg-events/pkg/testkit/testenv"
)

// TestLoadSelection checks which rows the loader reads and links, on rows
// the development fixture does not have (docs/design/registry.md §1, §2): name
// types CO, NB, AS, TR and NO (SN, AN ignored); offices RG, HD and FO (RC
// ignored); FBO parties only; filings only for FILE events and conv_event
// rows only for CONV* events; code rows missing from their tables.
func TestLoadSelection(t *testing.T) {
	tmpl := sourcetest.Template(t)
	pool := testenv.Pool(t, sourcetest.GroupDatabase(t, tmpl, "none"))
	for _, row := range []string{
		`INSERT INTO bc_registries.corporation (corp_num, corp_typ_cd, recognition_dts) VALUES
			('0000001', 'BC', '2001-01-01 00:00:00'), ('FM0000002', 'SP', '2002-02-02 00:00:00'), ('0000003', 'BC', '2003-03-03 00:00:00')`,
		`INSERT INTO bc_registries.event (event_id, corp_num, event_typ_cd, event_timestmp) VALUES
			(1, '0000001', 'CONVICORP', '2004-03-26 20:36:00'), (2, '0000001', 'FILE', '2005-05-05 10:00:00'),
			(3, '0000001', 'FILE', '2006-06-06 10:00:00'), (4, '0000001', 'ZZEVT', '2007-07-07 10:00:00'),
			(5, 'FM0000002', 'FILE', '2008-08-08 10:00:00')`,
		// A filing row for the CONV event and a conv_event row for a FILE
		// event: neither is read. Event 3's filing type is unknown.
		`INSERT INTO bc_registries.filing (event_id, filing_typ_cd, effective_dt) VALUES
			(1, 'CONVL', '1999-09-09 00:00:00'), (2, 'NOALA', '2005-05-01 00:00:00'), (3, 'ZZZZZ', '2006-06-01 00:00:00'),
			(5, 'FRREG', '2008-08-01 00:00:00')`,
		`INSERT INTO bc_registries.conv_event (event_id, effective_dt) VALUES (1, '1998-08-08 00:00:00'), (2, '1997-07-07 00:00:00')`,
		`INSERT INTO bc_registries.corp_state (corp_num, start_event_id, end_event_id, state_typ_cd) VALUES
			('0000001', 1, 4, 'ACT'), ('0000001', 4, NULL, 'ZZZ')`,
		`INSERT INTO bc_registries.corp_name (corp_num, corp_name_typ_cd, start_event_id, end_event_id, corp_name_seq_num, corp_nme) VALUES
			('0000001', 'CO', 1, 2, 1, 'FIRST'), ('0000001', 'NB', 2, NULL, 2, '0000001 B.C. LTD.'),
			('0000001', 'AS', 2, NULL, 3, 'ASSUMED'), ('0000001', 'TR', 3, NULL, 4, 'TRANSLATED'),
			('0000001', 'NO', 3, NULL, 5, 'OTHER'), ('0000001', 'SN', 1, NULL, 6, 'SEARCH'), ('0000001', 'AN', 1, NULL, 7, 'ANOTHER')`,
		`INSERT INTO bc_registries.jurisdiction (corp_num, start_event_id, can_jur_typ_cd) VALUES ('0000001', 1, 'ON'), ('0000001', 2, 'ZZ')`,
		`INSERT INTO bc_registries.office (corp_num, office_typ_cd, start_event_id, end_event_id, mailing_addr_id, delivery_addr_id) VALUES
			('0000001', 'RG', 1, 2, 11, NULL), ('0000001', 'RG', 2, NULL, 11, 12), ('0000001', 'RC', 2, NULL, 13, 13),
			('FM0000002', 'FO', 5, NULL, NULL, 14)`,
		`INSERT INTO bc_registries.address (addr_id, addr_line_1, city) VALUES (11, 'PO BOX 11', 'A'), (12, '12 MAIN ST', 'B'), (13, '13 MAIN ST', 'C')`,
		`INSERT INTO bc_registries.corp_party (corp_party_id, corp_num, party_typ_cd, start_event_id, bus_company_num, business_nme, last_nme) VALUES
			(21, 'FM0000002', 'FBO', 5, '0000001', '0000001 OWNER', NULL),
			(22, 'FM0000002', 'FIO', 5, NULL, NULL, 'SMITH'),
			(23, '0000001', 'DIR', 2, NULL, NULL, 'JONES'),
			(24, 'FM0000002', 'FBO', 5, '0000003', '0000003 OTHER OWNER', NULL)`,
	} {
		exec(t, pool, row)
	}
	batch, err := sourcedb.NewLoader(pool, nil).Load(testenv.Context(t), []string{"0000001", "FM0000002"})
	if err != nil {
		t.Fatal(err)
	}
	corp, firm := must(batch.Get("0000001")), must(batch.Get("FM0000002"))

	var names []string
	for _, n := range corp.Names {
		names = append(names, n.CorpNameTypCd+" "+*n.CorpNme)
	}
	if diff := gocmp.Diff([]string{"CO FIRST", "NB 0000001 B.C. LTD.", "AS ASSUMED", "TR TRANSLATED", "NO OTHER"}, names); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	if n := corp.LegalName(); n == nil || *n.CorpNme != "0000001 B.C. LTD." {
		t.Errorf("legal name %+v, want the current NB name", n)
	}
	if n := corp.AssumedName(); n == nil || *n.CorpNme != "ASSUMED" {
		t.Errorf("assumed name %+v", n)
	}
	if n := corp.TranslatedName(); n == nil || *n.CorpNme != "TRANSLATED" {
		t.Errorf("translated name %+v", n)
	}
	h := corp.History()
	if len(h.Names) != 2 || len(h.AssumedNames) != 1 {
		t.Errorf("history: %d legal and %d assumed names, want 2 and 1 (TR and NO are not read by it)", len(h.Names), len(h.AssumedNames))
	}

	var offices []string
	for _, o := range corp.Offices {
		d := "no delivery address"
		if o.DeliveryAddr != nil {
			d = *o.DeliveryAddr.AddrLine1
		}
		offices = append(offices, fmt.Sprintf("%s %v %s mailing %s", o.OfficeTypCd, o.EndEventID != nil, d, *o.MailingAddr.AddrLine1))
	}
	if diff := gocmp.Diff([]string{"RG true no delivery address mailing PO BOX 11", "RG false 12 MAIN ST mailing PO BOX 11"}, offices); diff != "" {
		t.Errorf("offices (-want +got):\n%s", diff)
	}
	if o := firm.Offices; len(o) != 1 || o[0].DeliveryAddr != nil || o[0].MailingAddr != nil {
		t.Errorf("firm office whose address row is missing: %+v", o)
	}

	// Event 1 (CONV): its conv_event, not its filing. Event 2 (FILE): its
	// filing, not the conv_event. Event 3: a filing whose type is unknown is
	// read but is no filing for the history generator. Event 4: a type
	// missing from event_type.
	ev := map[int64]*source.Event{}
	for _, sp := range []*source.Span{&h.States[0].Span, &h.Names[0].Span, &h.Names[1].Span} {
		for _, e := range []*source.DatedEvent{&sp.Start, sp.End} {
			if e != nil && e.Event != nil {
				ev[e.ID] = e.Event
			}
		}
	}
	for _, n := range corp.Names {
		if n.StartEvent != nil {
			ev[n.StartEvent.EventID] = n.StartEvent
		}
	}
	if e := ev[1]; e == nil || e.Filing != nil || e.ConvEvent == nil || e.HistoryDate(false).Format("2006-01-02") != "1998-08-08" {
		t.Errorf("CONV event %+v", e)
	}
	if e := ev[2]; e == nil || e.ConvEvent != nil || e.HistoryFiling() == nil || e.EffectiveDate().Format("2006-01-02") != "2005-05-01" {
		t.Errorf("FILE event %+v", e)
	}
	if e := ev[3]; e == nil || e.Filing == nil || e.HistoryFiling() != nil || e.HistoryDate(false).Format("2006-01-02") != "2006-06-06" {
		t.Errorf("FILE event with an unknown filing type %+v", e)
	}
	if e := corp.States[1].StartEvent; e == nil || e.EventID != 4 || e.Type != nil {
		t.Errorf("event of an unknown type %+v", e)
	}

	// A state code missing from corp_op_state and a jurisdiction code
	// missing from jurisdiction_type are read but unusable (the original
	// inner-joined them).
	if st := corp.CurrentState(); st == nil || *st.StateTypCd != "ACT" || corp.States[1].OpState != nil {
		t.Errorf("current state %+v, want the ACT row (ZZZ has no op state)", st)
	}
	if j := corp.CurrentJurisdiction(); j == nil || *j.CanJurTypCd != "ON" {
		t.Errorf("current jurisdiction %+v, want ON (ZZ is not in jurisdiction_type)", j)
	}

	// Only FBO rows, from both sides, each with both corporations.
	var parties []string
	for _, p := range append(corp.Parties, firm.Parties...) {
		owner := "<none>"
		if p.Owner != nil {
			owner = p.Owner.CorpNum + " " + p.Owner.Type.CorpTypCd
		}
		parties = append(parties, fmt.Sprintf("%d %s %s owned by %s", *p.CorpPartyID, p.PartyTypCd, p.Firm.CorpNum, owner))
	}
	want := []string{
		"21 FBO FM0000002 owned by 0000001 BC",
		"21 FBO FM0000002 owned by 0000001 BC",
		"24 FBO FM0000002 owned by 0000003 BC",
	}
	if diff := gocmp.Diff(want, parties); diff != "" {
		t.Errorf("parties (-want +got):\n%s", diff)
	}
	if got := len(corp.OwnedFirmParties()); got != 1 {
		t.Errorf("owner: %d owned-firm rows, want 1", got)
	}
	if got := len(firm.OwnerParties()); got != 2 {
		t.Errorf("firm: %d owner rows, want 2", got)
	}
}
