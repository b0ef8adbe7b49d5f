package synth

import (
	"time"
)

// The row types below hold the columns a synthetic row sets; the COPY
// statements name only those (the others stay NULL). Pointers are NULL when
// nil.

type corpRow struct {
	corpNum, typ      string
	recognition       time.Time
	lastAR            *time.Time
	bn9, bn15, email  *string
	sendAR            *string
	tilma             string
	firmLastImageDate *time.Time
	transitionDate    *time.Time
}

type stateRow struct {
	corpNum    string
	start, end *int64
	code       string
}

type nameRow struct {
	corpNum, typ string
	start, end   *int64
	seq          int64
	search, name string
}

type jurRow struct {
	corpNum        string
	start, end     *int64
	code, xpro     string
	homeRecognized time.Time
	other, homeNum *string
}

type officeRow struct {
	corpNum, typ      string
	start, end        *int64
	mailing, delivery *int64
}

type addrRow struct {
	id                        int64
	province, country, postal *string
	line1, line2, city, desc  *string
}

type eventRow struct {
	id      int64
	corpNum string
	typ     string
	ts      time.Time
	trigger *time.Time
}

type filingRow struct {
	eventID     int64
	typ         string
	effective   time.Time
	periodEnd   *time.Time
	arrangement *string
	ods         string
	accessCode  *string
	nrNum       *string
}

type partyRow struct {
	id                     int64
	corpNum, typ           string
	start, end             *int64
	appointment, cessation *time.Time
	last, middle, first    *string
	business, busCompany   *string
	prevPartyID            *int64
	mailing, delivery      *int64
}

type convRow struct {
	eventID         int64
	effective       time.Time
	reportCorp      string
	prevBC          string
	activityUser    string
	activityDate    time.Time
	corpCreTypeCode *string
}

// Table indexes of a rowSet.
const (
	tCorporation = iota
	tCorpState
	tCorpName
	tJurisdiction
	tOffice
	tAddress
	tEvent
	tFiling
	tCorpParty
	tConvEvent
	numTables
)

// tableSpec names a table and the columns its COPY writes, in the order
// values writes them.
type tableSpec struct {
	name string
	cols []string
}

var tables = [numTables]tableSpec{
	tCorporation: {"corporation", []string{"corp_num", "corp_typ_cd", "recognition_dts", "last_ar_filed_dt", "bn_9", "bn_15",
		"admin_email", "send_ar_ind", "tilma_involved_ind", "firm_last_image_date", "transition_dt", "fixture_group"}},
	tCorpState:    {"corp_state", []string{"corp_num", "start_event_id", "end_event_id", "state_typ_cd", "fixture_group"}},
	tCorpName:     {"corp_name", []string{"corp_num", "corp_name_typ_cd", "start_event_id", "corp_name_seq_num", "end_event_id", "srch_nme", "corp_nme", "fixture_group"}},
	tJurisdiction: {"jurisdiction", []string{"corp_num", "start_event_id", "end_event_id", "can_jur_typ_cd", "xpro_typ_cd", "home_recogn_dt", "othr_juris_desc", "home_juris_num", "fixture_group"}},
	tOffice:       {"office", []string{"corp_num", "office_typ_cd", "start_event_id", "end_event_id", "mailing_addr_id", "delivery_addr_id", "fixture_group"}},
	tAddress:      {"address", []string{"addr_id", "province", "country_typ_cd", "postal_cd", "addr_line_1", "addr_line_2", "city", "address_desc", "fixture_group"}},
	tEvent:        {"event", []string{"event_id", "corp_num", "event_typ_cd", "event_timestmp", "trigger_dts", "fixture_group"}},
	tFiling: {"filing", []string{"event_id", "filing_typ_cd", "effective_dt", "period_end_dt", "arrangement_ind", "ods_typ_cd", "access_cd", "nr_num",
		"fixture_group"}},
	tCorpParty: {"corp_party", []string{"corp_party_id", "corp_num", "party_typ_cd", "start_event_id", "end_event_id", "appointment_dt", "cessation_dt",
		"last_nme", "middle_nme", "first_nme", "business_nme", "bus_company_num", "prev_party_id", "mailing_addr_id", "delivery_addr_id", "fixture_group"}},
	tConvEvent: {"conv_event", []string{"event_id", "effective_dt", "report_corp_ind", "prev_bc_ind", "activity_user_id", "activity_dt", "corp_cre_typ_cd", "fixture_group"}},
}

// tableNames returns the source tables a seed writes, in COPY order.
func tableNames() []string {
	out := make([]string, numTables)
	for i, t := range tables {
		out[i] = t.name
	}
	return out
}

// rowSet is the rows of a run of corporations, per table.
type rowSet struct {
	corps   []corpRow
	states  []stateRow
	names   []nameRow
	juris   []jurRow
	offices []officeRow
	addrs   []addrRow
	events  []eventRow
	filings []filingRow
	parties []partyRow
	convs   []convRow
}

// count returns the number of rows of table t.
func (r *rowSet) count(t int) int {
	switch t {
	case tCorporation:
		return len(r.corps)
	case tCorpState:
		return len(r.states)
	case tCorpName:
		return len(r.names)
	case tJurisdiction:
		return len(r.juris)
	case tOffice:
		return len(r.offices)
	case tAddress:
		return len(r.addrs)
	case tEvent:
		return len(r.events)
	case tFiling:
		return len(r.filings)
	case tCorpParty:
		return len(r.parties)
	case tConvEvent:
		return len(r.convs)
	}
	return 0
}

// values writes row i of table t into dst (len(tables[t].cols) long).
// Values are boxed here, one row at a time, rather than kept as []any per
// row: a queued chunk stays compact.
func (r *rowSet) values(t, i int, dst []any) {
	switch t {
	case tCorporation:
		c := &r.corps[i]
		dst[0], dst[1], dst[2], dst[3], dst[4], dst[5] = c.corpNum, c.typ, c.recognition, nt(c.lastAR), ns(c.bn9), ns(c.bn15)
		dst[6], dst[7], dst[8], dst[9], dst[10], dst[11] = ns(c.email), ns(c.sendAR), c.tilma, nt(c.firmLastImageDate), nt(c.transitionDate), Group
	case tCorpState:
		s := &r.states[i]
		dst[0], dst[1], dst[2], dst[3], dst[4] = s.corpNum, ni(s.start), ni(s.end), s.code, Group
	case tCorpName:
		n := &r.names[i]
		dst[0], dst[1], dst[2], dst[3], dst[4], dst[5], dst[6], dst[7] = n.corpNum, n.typ, ni(n.start), n.seq, ni(n.end), n.search, n.name, Group
	case tJurisdiction:
		j := &r.juris[i]
		dst[0], dst[1], dst[2], dst[3], dst[4], dst[5] = j.corpNum, ni(j.start), ni(j.end), j.code, j.xpro, j.homeRecognized
		dst[6], dst[7], dst[8] = ns(j.other), ns(j.homeNum), Group
	case tOffice:
		o := &r.offices[i]
		dst[0], dst[1], dst[2], dst[3], dst[4], dst[5], dst[6] = o.corpNum, o.typ, ni(o.start), ni(o.end), ni(o.mailing), ni(o.delivery), Group
	case tAddress:
		a := &r.addrs[i]
		dst[0], dst[1], dst[2], dst[3], dst[4], dst[5] = a.id, ns(a.province), ns(a.country), ns(a.postal), ns(a.line1), ns(a.line2)
		dst[6], dst[7], dst[8] = ns(a.city), ns(a.desc), Group
	case tEvent:
		e := &r.events[i]
		dst[0], dst[1], dst[2], dst[3], dst[4], dst[5] = e.id, e.corpNum, e.typ, e.ts, nt(e.trigger), Group
	case tFiling:
		f := &r.filings[i]
		dst[0], dst[1], dst[2], dst[3], dst[4], dst[5] = f.eventID, f.typ, f.effective, nt(f.periodEnd), ns(f.arrangement), f.ods
		dst[6], dst[7], dst[8] = ns(f.accessCode), ns(f.nrNum), Group
	case tCorpParty:
		p := &r.parties[i]
		dst[0], dst[1], dst[2], dst[3], dst[4], dst[5], dst[6] = p.id, p.corpNum, p.typ, ni(p.start), ni(p.end), nt(p.appointment), nt(p.cessation)
		dst[7], dst[8], dst[9], dst[10], dst[11], dst[12], dst[13], dst[14], dst[15] = ns(p.last), ns(p.middle), ns(p.first), ns(p.business),
			ns(p.busCompany), ni(p.prevPartyID), ni(p.mailing), ni(p.delivery), Group
	case tConvEvent:
		c := &r.convs[i]
		dst[0], dst[1], dst[2], dst[3], dst[4], dst[5], dst[6], dst[7] = c.eventID, c.effective, c.reportCorp, c.prevBC, c.activityUser, c.activityDate, ns(c.corpCreTypeCode), Group
	}
}

// The n* helpers turn a nil pointer into an untyped nil (SQL NULL) and
// dereference the others, so that pgx encodes plain values.

func ns(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

func ni(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

func nt(p *time.Time) any {
	if p == nil {
		return nil
	}
	return *p
}
