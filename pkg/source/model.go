package source

import (
	"time"
)

// The types below mirror the bc_registries columns the pipeline reads
// (docs/design/registry.md §1). Nullable columns are pointers: nil is SQL NULL.
// The db tags name the columns for pgx.RowToStructByName; the json tags make a
// Snapshot a readable audit document (corp_history_log).

// Corporation is a row of bc_registries.corporation.
type Corporation struct {
	CorpNum        string     `db:"corp_num" json:"corp_num"`
	CorpTypCd      *string    `db:"corp_typ_cd" json:"corp_typ_cd"`
	RecognitionDts *time.Time `db:"recognition_dts" json:"recognition_dts"`
	LastArFiledDt  *time.Time `db:"last_ar_filed_dt" json:"last_ar_filed_dt"`
	Bn9            *string    `db:"bn_9" json:"bn_9"`
	Bn15           *string    `db:"bn_15" json:"bn_15"`
	AdminEmail     *string    `db:"admin_email" json:"admin_email"`
	LastLedgerDt   *time.Time `db:"last_ledger_dt" json:"last_ledger_dt"`
}

// TypeCode returns corp_typ_cd, "" when NULL.
func (c *Corporation) TypeCode() string { return deref(c.CorpTypCd) }

// BasicCorp is a corporation row with its corp_type code row: what the
// original attached as corp_info to the corporation at the other end of a
// party row.
type BasicCorp struct {
	Corporation
	// Type is nil when corp_typ_cd is not in bc_registries.corp_type.
	Type *CorpType `json:"corp_type"`
}

// Event is a row of bc_registries.event.
type Event struct {
	EventID       int64      `db:"event_id" json:"event_id"`
	CorpNum       *string    `db:"corp_num" json:"corp_num"`
	EventTypCd    *string    `db:"event_typ_cd" json:"event_typ_cd"`
	EventTimestmp *time.Time `db:"event_timestmp" json:"event_timestmp"`
	TriggerDts    *time.Time `db:"trigger_dts" json:"trigger_dts"`

	// Filing is the event's filing row, set only for FILE events (the
	// original never read filings of other event types).
	Filing *Filing `db:"-" json:"filing,omitempty"`
	// ConvEvent is the event's conv_event row, set only for CONV* events
	// (data conversion) of a full-history load.
	ConvEvent *ConvEvent `db:"-" json:"conv_event,omitempty"`
	// Type is the event's event_type row, nil when the code is not in the
	// table.
	Type *CodeDesc `db:"-" json:"event_type,omitempty"`
}

// EffectiveDate returns the filing's effective_dt when the event is a FILE
// event with a filing row that has one, else the event timestamp; nil when
// neither is known (docs/design/generation.md §2, "date(E)").
func (e *Event) EffectiveDate() *time.Time {
	if e == nil {
		return nil
	}
	if e.Filing != nil && e.Filing.EffectiveDt != nil {
		return e.Filing.EffectiveDt
	}
	return e.EventTimestmp
}

// Filing is a row of bc_registries.filing.
type Filing struct {
	EventID          int64      `db:"event_id" json:"event_id"`
	FilingTypCd      *string    `db:"filing_typ_cd" json:"filing_typ_cd"`
	EffectiveDt      *time.Time `db:"effective_dt" json:"effective_dt"`
	ChangeDt         *time.Time `db:"change_dt" json:"change_dt"`
	RegistrationDt   *time.Time `db:"registration_dt" json:"registration_dt"`
	PeriodEndDt      *time.Time `db:"period_end_dt" json:"period_end_dt"`
	AccessionNum     *string    `db:"accession_num" json:"accession_num"`
	ArrangementInd   *string    `db:"arrangement_ind" json:"arrangement_ind"`
	AuthSignDt       *time.Time `db:"auth_sign_dt" json:"auth_sign_dt"`
	WithdrawnEventID *int64     `db:"withdrawn_event_id" json:"withdrawn_event_id"`
	OdsTypCd         *string    `db:"ods_typ_cd" json:"ods_typ_cd"`
	DDEventID        *int64     `db:"dd_event_id" json:"dd_event_id"`
	AccessCd         *string    `db:"access_cd" json:"access_cd"`
	NrNum            *string    `db:"nr_num" json:"nr_num"`
	CourtApprInd     *string    `db:"court_appr_ind" json:"court_appr_ind"`
	CourtOrderNum    *string    `db:"court_order_num" json:"court_order_num"`
	AgmDate          *time.Time `db:"agm_date" json:"agm_date"`
	NewCorpNum       *string    `db:"new_corp_num" json:"new_corp_num"`

	// Type is the filing's filing_type row, nil when the code is not in the
	// table.
	Type *CodeDesc `db:"-" json:"filing_type,omitempty"`
}

// ConvEvent is a row of bc_registries.conv_event: what the 2004 data
// conversion recorded about a converted event, notably its real date. Only
// effective_dt drives anything; the other columns are read as text for the
// audit document, whatever their type in the registry.
type ConvEvent struct {
	EventID        int64      `db:"event_id" json:"event_id"`
	EffectiveDt    *time.Time `db:"effective_dt" json:"effective_dt"`
	ReportCorpInd  *string    `db:"report_corp_ind" json:"report_corp_ind"`
	PrevBcInd      *string    `db:"prev_bc_ind" json:"prev_bc_ind"`
	ActivityUserID *string    `db:"activity_user_id" json:"activity_user_id"`
	ActivityDt     *string    `db:"activity_dt" json:"activity_dt"`
	ActivityTm     *string    `db:"activity_tm" json:"activity_tm"`
	AnnualFileDt   *string    `db:"annual_file_dt" json:"annual_file_dt"`
	CorpCreTypCd   *string    `db:"corp_cre_typ_cd" json:"corp_cre_typ_cd"`
	AccessionNum   *string    `db:"accession_num" json:"accession_num"`
	DDEventID      *string    `db:"dd_event_id" json:"dd_event_id"`
	Remarks        *string    `db:"remarks" json:"remarks"`
}

// CorpState is a row of bc_registries.corp_state with its corp_op_state.
type CorpState struct {
	CorpNum      string  `db:"corp_num" json:"corp_num"`
	StartEventID *int64  `db:"start_event_id" json:"start_event_id"`
	EndEventID   *int64  `db:"end_event_id" json:"end_event_id"`
	StateTypCd   *string `db:"state_typ_cd" json:"state_typ_cd"`
	DDCorpNum    *string `db:"dd_corp_num" json:"dd_corp_num"`

	// OpState is nil when state_typ_cd is not in corp_op_state (the original
	// inner-joined the two, so such a row did not exist for it).
	OpState *OpState `db:"-" json:"op_state"`
	// StartEvent is nil when the start event row is missing.
	StartEvent *Event `db:"-" json:"start_event"`
	// EndEvent is the end event row: nil when the record is current or the
	// row is missing (likewise on the other record types).
	EndEvent *Event `db:"-" json:"end_event,omitempty"`
}

// OpStateCode returns the operational state (ACT or HIS), "" when unknown.
func (s *CorpState) OpStateCode() string {
	if s == nil || s.OpState == nil {
		return ""
	}
	return deref(s.OpState.OpStateTypCd)
}

// Current reports whether the row has not ended.
func (s *CorpState) Current() bool { return s.EndEventID == nil }

// CorpName is a row of bc_registries.corp_name.
type CorpName struct {
	CorpNum        string  `db:"corp_num" json:"corp_num"`
	CorpNameTypCd  string  `db:"corp_name_typ_cd" json:"corp_name_typ_cd"`
	StartEventID   *int64  `db:"start_event_id" json:"start_event_id"`
	EndEventID     *int64  `db:"end_event_id" json:"end_event_id"`
	CorpNameSeqNum *int64  `db:"corp_name_seq_num" json:"corp_name_seq_num"`
	SrchNme        *string `db:"srch_nme" json:"srch_nme"`
	CorpNme        *string `db:"corp_nme" json:"corp_nme"`
	DDCorpNum      *string `db:"dd_corp_num" json:"dd_corp_num"`

	StartEvent *Event `db:"-" json:"start_event"`
	EndEvent   *Event `db:"-" json:"end_event,omitempty"`
}

// Name types (corp_name.corp_name_typ_cd) the pipeline reads.
const (
	NameCorporate  = "CO" // corporate name: legal name
	NameNumbered   = "NB" // numbered name: legal name
	NameAssumed    = "AS" // assumed name of an extra-provincial company
	NameTranslated = "TR" // translated name: loaded, never output
	NameOther      = "NO" // other-language name: loaded, never output
)

// Jurisdiction is a row of bc_registries.jurisdiction.
type Jurisdiction struct {
	CorpNum        string     `db:"corp_num" json:"corp_num"`
	StartEventID   *int64     `db:"start_event_id" json:"start_event_id"`
	EndEventID     *int64     `db:"end_event_id" json:"end_event_id"`
	CanJurTypCd    *string    `db:"can_jur_typ_cd" json:"can_jur_typ_cd"`
	HomeRecognDt   *time.Time `db:"home_recogn_dt" json:"home_recogn_dt"`
	OthrJurisDesc  *string    `db:"othr_juris_desc" json:"othr_juris_desc"`
	HomeJurisNum   *string    `db:"home_juris_num" json:"home_juris_num"`
	HomeCompanyNme *string    `db:"home_company_nme" json:"home_company_nme"`

	// Type is nil when can_jur_typ_cd is not in jurisdiction_type (the
	// original inner-joined the two).
	Type       *CodeDesc `db:"-" json:"jurisdiction_type"`
	StartEvent *Event    `db:"-" json:"start_event"`
	EndEvent   *Event    `db:"-" json:"end_event,omitempty"`
}

// Office is a row of bc_registries.office (types RG, HD and FO only).
type Office struct {
	CorpNum        string  `db:"corp_num" json:"corp_num"`
	OfficeTypCd    string  `db:"office_typ_cd" json:"office_typ_cd"`
	StartEventID   *int64  `db:"start_event_id" json:"start_event_id"`
	EndEventID     *int64  `db:"end_event_id" json:"end_event_id"`
	MailingAddrID  *int64  `db:"mailing_addr_id" json:"mailing_addr_id"`
	DeliveryAddrID *int64  `db:"delivery_addr_id" json:"delivery_addr_id"`
	DDCorpNum      *string `db:"dd_corp_num" json:"dd_corp_num"`
	EmailAddress   *string `db:"email_address" json:"email_address"`

	// Type is nil when office_typ_cd is not in office_type.
	Type *CodeDesc `db:"-" json:"office_type"`
	// DeliveryAddr and MailingAddr are nil when the id is NULL or the
	// address row is missing.
	DeliveryAddr *Address `db:"-" json:"delivery_addr"`
	MailingAddr  *Address `db:"-" json:"mailing_addr"`
	StartEvent   *Event   `db:"-" json:"start_event"`
	EndEvent     *Event   `db:"-" json:"end_event,omitempty"`
}

// Office types the pipeline reads.
const (
	OfficeRegistered = "RG"
	OfficeHead       = "HD"
	OfficeFirm       = "FO"
)

// Address is a row of bc_registries.address (the columns Q5 selects).
type Address struct {
	AddrID            int64   `db:"addr_id" json:"addr_id"`
	Province          *string `db:"province" json:"province"`
	CountryTypCd      *string `db:"country_typ_cd" json:"country_typ_cd"`
	PostalCd          *string `db:"postal_cd" json:"postal_cd"`
	AddrLine1         *string `db:"addr_line_1" json:"addr_line_1"`
	AddrLine2         *string `db:"addr_line_2" json:"addr_line_2"`
	AddrLine3         *string `db:"addr_line_3" json:"addr_line_3"`
	City              *string `db:"city" json:"city"`
	AddressFormatType *string `db:"address_format_type" json:"address_format_type"`
	AddressDesc       *string `db:"address_desc" json:"address_desc"`
	AddressDescShort  *string `db:"address_desc_short" json:"address_desc_short"`
	UnitNo            *string `db:"unit_no" json:"unit_no"`
	UnitType          *string `db:"unit_type" json:"unit_type"`
	ProvinceStateName *string `db:"province_state_name" json:"province_state_name"`
}

// LocalAddr is the one-line address the original computed
// (docs/design/generation.md §2, civic_address): when addr_line_1 is set, addr_line_1..3, city, province and
// postal code each followed by ", " and then the country, skipping NULL parts
// (so a NULL country leaves a trailing ", "); else address_desc; else "".
func (a *Address) LocalAddr() string {
	if a.AddrLine1 != nil {
		var s string
		for _, p := range []*string{a.AddrLine1, a.AddrLine2, a.AddrLine3, a.City, a.Province, a.PostalCd} {
			if p != nil {
				s += *p + ", "
			}
		}
		if a.CountryTypCd != nil {
			s += *a.CountryTypCd
		}
		return s
	}
	if a.AddressDesc != nil {
		return *a.AddressDesc
	}
	return ""
}

// Party is a row of bc_registries.corp_party (the columns Q5 selects). For
// an FBO row, CorpNum is the firm and BusCompanyNum the owning corporation.
type Party struct {
	CorpNum              string     `db:"corp_num" json:"corp_num"`
	CorpPartyID          *int64     `db:"corp_party_id" json:"corp_party_id"`
	MailingAddrID        *int64     `db:"mailing_addr_id" json:"mailing_addr_id"`
	DeliveryAddrID       *int64     `db:"delivery_addr_id" json:"delivery_addr_id"`
	PartyTypCd           string     `db:"party_typ_cd" json:"party_typ_cd"`
	StartEventID         *int64     `db:"start_event_id" json:"start_event_id"`
	EndEventID           *int64     `db:"end_event_id" json:"end_event_id"`
	CessationDt          *time.Time `db:"cessation_dt" json:"cessation_dt"`
	LastNme              *string    `db:"last_nme" json:"last_nme"`
	MiddleNme            *string    `db:"middle_nme" json:"middle_nme"`
	FirstNme             *string    `db:"first_nme" json:"first_nme"`
	BusinessNme          *string    `db:"business_nme" json:"business_nme"`
	BusCompanyNum        *string    `db:"bus_company_num" json:"bus_company_num"`
	EmailAddress         *string    `db:"email_address" json:"email_address"`
	CorpPartySeqNum      *int64     `db:"corp_party_seq_num" json:"corp_party_seq_num"`
	OfficeNotificationDt *time.Time `db:"office_notification_dt" json:"office_notification_dt"`
	Phone                *string    `db:"phone" json:"phone"`
	ReasonTypCd          *string    `db:"reason_typ_cd" json:"reason_typ_cd"`

	StartEvent *Event `db:"-" json:"start_event"`
	EndEvent   *Event `db:"-" json:"end_event,omitempty"`
	// Firm is the corporation of CorpNum and Owner that of BusCompanyNum;
	// either is nil when its corporation row is missing (or the number is
	// NULL). One of them is the snapshot's own corporation.
	Firm  *BasicCorp `db:"-" json:"firm"`
	Owner *BasicCorp `db:"-" json:"owner"`
}

// PartyFirmOwner is the one party type the pipeline reads: a firm business
// owner, an organisation owning a firm.
const PartyFirmOwner = "FBO"

// Snapshot is what the loader read for one corporation: its records
// (docs/design/registry.md §2; every record with FullHistory, else the current ones and
// every state row), linked to their events, code rows and addresses. Slices
// are in a deterministic order (see Assemble).
type Snapshot struct {
	Corporation Corporation `json:"corporation"`
	Type        CorpType    `json:"corp_type"`
	// FullHistory reports that ended records were read too (the loader's
	// default); without it the lists below hold current records only.
	FullHistory bool `json:"full_history"`
	// States holds every corp_state row, ended ones included, ordered by
	// start event id.
	States []CorpState `json:"corp_state"`
	// Names holds the names of types CO, NB, AS, TR and NO.
	Names []CorpName `json:"names"`
	// Jurisdictions holds the jurisdiction rows.
	Jurisdictions []Jurisdiction `json:"jurisdiction"`
	// Offices holds the RG, HD and FO offices.
	Offices []Office `json:"office"`
	// Parties holds the FBO rows where this corporation is the firm
	// (CorpNum) or the owner (BusCompanyNum).
	Parties []Party `json:"parties"`
}

// CorpNum returns the corporation number.
func (s *Snapshot) CorpNum() string { return s.Corporation.CorpNum }

// CurrentState returns the corporation's current state as the original read
// it (Q5 step 7): a row without end event whose code is in corp_op_state
// (the latest-starting one if several), else the ended row with the highest
// end event id; nil when the corporation has no usable state row.
func (s *Snapshot) CurrentState() *CorpState {
	var cur, ended *CorpState
	for i := range s.States {
		st := &s.States[i]
		if st.OpState == nil {
			continue
		}
		if st.Current() {
			cur = st // States is ordered by start event id: the last one wins
			continue
		}
		if ended == nil || *st.EndEventID > *ended.EndEventID {
			ended = st
		}
	}
	if cur != nil {
		return cur
	}
	return ended
}

// LegalName returns the first current corporate (CO) or numbered (NB) name,
// nil when there is none.
func (s *Snapshot) LegalName() *CorpName {
	return s.firstName(NameCorporate, NameNumbered)
}

// AssumedName returns the first current assumed (AS) name, nil when there is
// none.
func (s *Snapshot) AssumedName() *CorpName { return s.firstName(NameAssumed) }

// TranslatedName returns the first current translated (TR) or other-language
// (NO) name, nil when there is none. No 2018 credential carries it.
func (s *Snapshot) TranslatedName() *CorpName {
	return s.firstName(NameTranslated, NameOther)
}

func (s *Snapshot) firstName(types ...string) *CorpName {
	for i := range s.Names {
		n := &s.Names[i]
		if n.EndEventID != nil {
			continue
		}
		for _, t := range types {
			if n.CorpNameTypCd == t {
				return n
			}
		}
	}
	return nil
}

// CurrentJurisdiction returns the current jurisdiction row whose code is in
// jurisdiction_type (Q5 step 2 inner-joins them; the latest-starting one if
// several), nil when there is none.
func (s *Snapshot) CurrentJurisdiction() *Jurisdiction {
	var cur *Jurisdiction
	for i := range s.Jurisdictions {
		j := &s.Jurisdictions[i]
		if j.EndEventID == nil && j.Type != nil {
			cur = j // ordered by start event id: the last one wins
		}
	}
	return cur
}

// OwnedFirmParties returns the current FBO rows where this corporation is
// the owner (bus_company_num), in Parties order.
func (s *Snapshot) OwnedFirmParties() []*Party {
	var out []*Party
	for i := range s.Parties {
		p := &s.Parties[i]
		if p.PartyTypCd == PartyFirmOwner && p.EndEventID == nil && deref(p.BusCompanyNum) == s.CorpNum() {
			out = append(out, p)
		}
	}
	return out
}

// OwnerParties returns the current FBO rows where this corporation is the
// firm (corp_num) and an owner is named, in Parties order.
func (s *Snapshot) OwnerParties() []*Party {
	var out []*Party
	for i := range s.Parties {
		p := &s.Parties[i]
		if p.PartyTypCd == PartyFirmOwner && p.EndEventID == nil && p.CorpNum == s.CorpNum() && deref(p.BusCompanyNum) != "" {
			out = append(out, p)
		}
	}
	return out
}

func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}
