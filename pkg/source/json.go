package source

import (
	"bytes"
	"encoding/json"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// JSON returns the snapshot's audit document (corp_history_log.corp_json),
// exactly the bytes json.Marshal(s) gives: its hash decides whether a
// corporation's snapshot changed, so the text must not change with the
// encoder. It writes the fields directly instead of walking them by
// reflection, which was a tenth of a builder's CPU time.
// TestSnapshotJSON compares the two on random snapshots with every field
// set or nil; a field added to a type and not here fails it.
func (s *Snapshot) JSON() ([]byte, error) {
	w := writers.Get().(*jsonWriter)
	defer func() {
		if cap(w.b) <= 1<<20 {
			writers.Put(w)
		}
	}()
	w.b, w.failed = w.b[:0], false
	w.snapshot(s)
	if w.failed {
		// A time encoding/json refuses (a year after 9999): its error.
		return json.Marshal(s)
	}
	return bytes.Clone(w.b), nil
}

var writers = sync.Pool{New: func() any { return &jsonWriter{b: make([]byte, 0, 16<<10)} }}

// jsonWriter appends JSON as encoding/json writes it (HTML-safe strings,
// RFC 3339 times, nil pointers and slices as null).
type jsonWriter struct {
	b      []byte
	failed bool
}

func (w *jsonWriter) raw(s string) { w.b = append(w.b, s...) }

func (w *jsonWriter) str(s string) { w.b = appendJSONString(w.b, s) }

func (w *jsonWriter) strp(p *string) {
	if p == nil {
		w.raw("null")
		return
	}
	w.str(*p)
}

func (w *jsonWriter) int(i int64) { w.b = strconv.AppendInt(w.b, i, 10) }

func (w *jsonWriter) intp(p *int64) {
	if p == nil {
		w.raw("null")
		return
	}
	w.int(*p)
}

func (w *jsonWriter) timep(p *time.Time) {
	if p == nil {
		w.raw("null")
		return
	}
	if y := p.Year(); p.Location() != time.UTC || y < 0 || y > 9999 {
		// time.Time.MarshalJSON's other cases: left to encoding/json.
		b, err := p.MarshalJSON()
		if err != nil {
			w.failed = true
			return
		}
		w.b = append(w.b, b...)
		return
	}
	w.b = append(w.b, '"')
	w.b = p.AppendFormat(w.b, time.RFC3339Nano)
	w.b = append(w.b, '"')
}

const hexDigits = "0123456789abcdef"

// appendJSONString is encoding/json's string encoder with HTML escaping
// (json.Marshal's): <, > and & as \u003c..., control characters escaped,
// invalid UTF-8 as \ufffd, U+2028 and U+2029 escaped.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= ' ' && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// The types' fields, in declaration order with their json names.

func (w *jsonWriter) snapshot(s *Snapshot) {
	w.raw(`{"corporation":`)
	w.corporation(&s.Corporation)
	w.raw(`,"corp_type":`)
	w.corpType(&s.Type)
	if s.FullHistory {
		w.raw(`,"full_history":true`)
	} else {
		w.raw(`,"full_history":false`)
	}
	w.raw(`,"corp_state":`)
	list(w, s.States, (*jsonWriter).corpState)
	w.raw(`,"names":`)
	list(w, s.Names, (*jsonWriter).corpName)
	w.raw(`,"jurisdiction":`)
	list(w, s.Jurisdictions, (*jsonWriter).jurisdiction)
	w.raw(`,"office":`)
	list(w, s.Offices, (*jsonWriter).office)
	w.raw(`,"parties":`)
	list(w, s.Parties, (*jsonWriter).party)
	w.raw(`}`)
}

// list writes a slice as encoding/json does: nil as null.
func list[T any](w *jsonWriter, l []T, item func(*jsonWriter, *T)) {
	if l == nil {
		w.raw("null")
		return
	}
	w.raw("[")
	for i := range l {
		if i > 0 {
			w.raw(",")
		}
		item(w, &l[i])
	}
	w.raw("]")
}

// ptr writes a pointer to a struct: nil as null.
func ptr[T any](w *jsonWriter, p *T, item func(*jsonWriter, *T)) {
	if p == nil {
		w.raw("null")
		return
	}
	item(w, p)
}

func (w *jsonWriter) corporationFields(c *Corporation) {
	w.raw(`{"corp_num":`)
	w.str(c.CorpNum)
	w.raw(`,"corp_typ_cd":`)
	w.strp(c.CorpTypCd)
	w.raw(`,"recognition_dts":`)
	w.timep(c.RecognitionDts)
	w.raw(`,"last_ar_filed_dt":`)
	w.timep(c.LastArFiledDt)
	w.raw(`,"bn_9":`)
	w.strp(c.Bn9)
	w.raw(`,"bn_15":`)
	w.strp(c.Bn15)
	w.raw(`,"admin_email":`)
	w.strp(c.AdminEmail)
	w.raw(`,"last_ledger_dt":`)
	w.timep(c.LastLedgerDt)
}

func (w *jsonWriter) corporation(c *Corporation) {
	w.corporationFields(c)
	w.raw(`}`)
}

// basicCorp writes the embedded Corporation's fields inline, then its own.
func (w *jsonWriter) basicCorp(c *BasicCorp) {
	w.corporationFields(&c.Corporation)
	w.raw(`,"corp_type":`)
	ptr(w, c.Type, (*jsonWriter).corpType)
	w.raw(`}`)
}

func (w *jsonWriter) corpType(t *CorpType) {
	w.raw(`{"corp_typ_cd":`)
	w.str(t.CorpTypCd)
	w.raw(`,"colin_ind":`)
	w.strp(t.ColinInd)
	w.raw(`,"corp_class":`)
	w.strp(t.CorpClass)
	w.raw(`,"short_desc":`)
	w.strp(t.ShortDesc)
	w.raw(`,"full_desc":`)
	w.strp(t.FullDesc)
	w.raw(`}`)
}

func (w *jsonWriter) opState(o *OpState) {
	w.raw(`{"state_typ_cd":`)
	w.str(o.StateTypCd)
	w.raw(`,"op_state_typ_cd":`)
	w.strp(o.OpStateTypCd)
	w.raw(`,"short_desc":`)
	w.strp(o.ShortDesc)
	w.raw(`,"full_desc":`)
	w.strp(o.FullDesc)
	w.raw(`}`)
}

func (w *jsonWriter) codeDesc(c *CodeDesc) {
	w.raw(`{"code":`)
	w.str(c.Code)
	if c.Class != nil {
		w.raw(`,"class":`)
		w.str(*c.Class)
	}
	w.raw(`,"short_desc":`)
	w.strp(c.ShortDesc)
	w.raw(`,"full_desc":`)
	w.strp(c.FullDesc)
	w.raw(`}`)
}

func (w *jsonWriter) event(e *Event) {
	w.raw(`{"event_id":`)
	w.int(e.EventID)
	w.raw(`,"corp_num":`)
	w.strp(e.CorpNum)
	w.raw(`,"event_typ_cd":`)
	w.strp(e.EventTypCd)
	w.raw(`,"event_timestmp":`)
	w.timep(e.EventTimestmp)
	w.raw(`,"trigger_dts":`)
	w.timep(e.TriggerDts)
	if e.Filing != nil {
		w.raw(`,"filing":`)
		w.filing(e.Filing)
	}
	if e.ConvEvent != nil {
		w.raw(`,"conv_event":`)
		w.convEvent(e.ConvEvent)
	}
	if e.Type != nil {
		w.raw(`,"event_type":`)
		w.codeDesc(e.Type)
	}
	w.raw(`}`)
}

// events writes a record's start event and, when set, its end event.
func (w *jsonWriter) events(start, end *Event) {
	w.raw(`,"start_event":`)
	ptr(w, start, (*jsonWriter).event)
	if end != nil {
		w.raw(`,"end_event":`)
		w.event(end)
	}
}

func (w *jsonWriter) filing(f *Filing) {
	w.raw(`{"event_id":`)
	w.int(f.EventID)
	w.raw(`,"filing_typ_cd":`)
	w.strp(f.FilingTypCd)
	w.raw(`,"effective_dt":`)
	w.timep(f.EffectiveDt)
	w.raw(`,"change_dt":`)
	w.timep(f.ChangeDt)
	w.raw(`,"registration_dt":`)
	w.timep(f.RegistrationDt)
	w.raw(`,"period_end_dt":`)
	w.timep(f.PeriodEndDt)
	w.raw(`,"accession_num":`)
	w.strp(f.AccessionNum)
	w.raw(`,"arrangement_ind":`)
	w.strp(f.ArrangementInd)
	w.raw(`,"auth_sign_dt":`)
	w.timep(f.AuthSignDt)
	w.raw(`,"withdrawn_event_id":`)
	w.intp(f.WithdrawnEventID)
	w.raw(`,"ods_typ_cd":`)
	w.strp(f.OdsTypCd)
	w.raw(`,"dd_event_id":`)
	w.intp(f.DDEventID)
	w.raw(`,"access_cd":`)
	w.strp(f.AccessCd)
	w.raw(`,"nr_num":`)
	w.strp(f.NrNum)
	w.raw(`,"court_appr_ind":`)
	w.strp(f.CourtApprInd)
	w.raw(`,"court_order_num":`)
	w.strp(f.CourtOrderNum)
	w.raw(`,"agm_date":`)
	w.timep(f.AgmDate)
	w.raw(`,"new_corp_num":`)
	w.strp(f.NewCorpNum)
	if f.Type != nil {
		w.raw(`,"filing_type":`)
		w.codeDesc(f.Type)
	}
	w.raw(`}`)
}

func (w *jsonWriter) convEvent(c *ConvEvent) {
	w.raw(`{"event_id":`)
	w.int(c.EventID)
	w.raw(`,"effective_dt":`)
	w.timep(c.EffectiveDt)
	w.raw(`,"report_corp_ind":`)
	w.strp(c.ReportCorpInd)
	w.raw(`,"prev_bc_ind":`)
	w.strp(c.PrevBcInd)
	w.raw(`,"activity_user_id":`)
	w.strp(c.ActivityUserID)
	w.raw(`,"activity_dt":`)
	w.strp(c.ActivityDt)
	w.raw(`,"activity_tm":`)
	w.strp(c.ActivityTm)
	w.raw(`,"annual_file_dt":`)
	w.strp(c.AnnualFileDt)
	w.raw(`,"corp_cre_typ_cd":`)
	w.strp(c.CorpCreTypCd)
	w.raw(`,"accession_num":`)
	w.strp(c.AccessionNum)
	w.raw(`,"dd_event_id":`)
	w.strp(c.DDEventID)
	w.raw(`,"remarks":`)
	w.strp(c.Remarks)
	w.raw(`}`)
}

func (w *jsonWriter) corpState(s *CorpState) {
	w.raw(`{"corp_num":`)
	w.str(s.CorpNum)
	w.raw(`,"start_event_id":`)
	w.intp(s.StartEventID)
	w.raw(`,"end_event_id":`)
	w.intp(s.EndEventID)
	w.raw(`,"state_typ_cd":`)
	w.strp(s.StateTypCd)
	w.raw(`,"dd_corp_num":`)
	w.strp(s.DDCorpNum)
	w.raw(`,"op_state":`)
	ptr(w, s.OpState, (*jsonWriter).opState)
	w.events(s.StartEvent, s.EndEvent)
	w.raw(`}`)
}

func (w *jsonWriter) corpName(n *CorpName) {
	w.raw(`{"corp_num":`)
	w.str(n.CorpNum)
	w.raw(`,"corp_name_typ_cd":`)
	w.str(n.CorpNameTypCd)
	w.raw(`,"start_event_id":`)
	w.intp(n.StartEventID)
	w.raw(`,"end_event_id":`)
	w.intp(n.EndEventID)
	w.raw(`,"corp_name_seq_num":`)
	w.intp(n.CorpNameSeqNum)
	w.raw(`,"srch_nme":`)
	w.strp(n.SrchNme)
	w.raw(`,"corp_nme":`)
	w.strp(n.CorpNme)
	w.raw(`,"dd_corp_num":`)
	w.strp(n.DDCorpNum)
	w.events(n.StartEvent, n.EndEvent)
	w.raw(`}`)
}

func (w *jsonWriter) jurisdiction(j *Jurisdiction) {
	w.raw(`{"corp_num":`)
	w.str(j.CorpNum)
	w.raw(`,"start_event_id":`)
	w.intp(j.StartEventID)
	w.raw(`,"end_event_id":`)
	w.intp(j.EndEventID)
	w.raw(`,"can_jur_typ_cd":`)
	w.strp(j.CanJurTypCd)
	w.raw(`,"home_recogn_dt":`)
	w.timep(j.HomeRecognDt)
	w.raw(`,"othr_juris_desc":`)
	w.strp(j.OthrJurisDesc)
	w.raw(`,"home_juris_num":`)
	w.strp(j.HomeJurisNum)
	w.raw(`,"home_company_nme":`)
	w.strp(j.HomeCompanyNme)
	w.raw(`,"jurisdiction_type":`)
	ptr(w, j.Type, (*jsonWriter).codeDesc)
	w.events(j.StartEvent, j.EndEvent)
	w.raw(`}`)
}

func (w *jsonWriter) office(o *Office) {
	w.raw(`{"corp_num":`)
	w.str(o.CorpNum)
	w.raw(`,"office_typ_cd":`)
	w.str(o.OfficeTypCd)
	w.raw(`,"start_event_id":`)
	w.intp(o.StartEventID)
	w.raw(`,"end_event_id":`)
	w.intp(o.EndEventID)
	w.raw(`,"mailing_addr_id":`)
	w.intp(o.MailingAddrID)
	w.raw(`,"delivery_addr_id":`)
	w.intp(o.DeliveryAddrID)
	w.raw(`,"dd_corp_num":`)
	w.strp(o.DDCorpNum)
	w.raw(`,"email_address":`)
	w.strp(o.EmailAddress)
	w.raw(`,"office_type":`)
	ptr(w, o.Type, (*jsonWriter).codeDesc)
	w.raw(`,"delivery_addr":`)
	ptr(w, o.DeliveryAddr, (*jsonWriter).address)
	w.raw(`,"mailing_addr":`)
	ptr(w, o.MailingAddr, (*jsonWriter).address)
	w.events(o.StartEvent, o.EndEvent)
	w.raw(`}`)
}

func (w *jsonWriter) address(a *Address) {
	w.raw(`{"addr_id":`)
	w.int(a.AddrID)
	w.raw(`,"province":`)
	w.strp(a.Province)
	w.raw(`,"country_typ_cd":`)
	w.strp(a.CountryTypCd)
	w.raw(`,"postal_cd":`)
	w.strp(a.PostalCd)
	w.raw(`,"addr_line_1":`)
	w.strp(a.AddrLine1)
	w.raw(`,"addr_line_2":`)
	w.strp(a.AddrLine2)
	w.raw(`,"addr_line_3":`)
	w.strp(a.AddrLine3)
	w.raw(`,"city":`)
	w.strp(a.City)
	w.raw(`,"address_format_type":`)
	w.strp(a.AddressFormatType)
	w.raw(`,"address_desc":`)
	w.strp(a.AddressDesc)
	w.raw(`,"address_desc_short":`)
	w.strp(a.AddressDescShort)
	w.raw(`,"unit_no":`)
	w.strp(a.UnitNo)
	w.raw(`,"unit_type":`)
	w.strp(a.UnitType)
	w.raw(`,"province_state_name":`)
	w.strp(a.ProvinceStateName)
	w.raw(`}`)
}

func (w *jsonWriter) party(p *Party) {
	w.raw(`{"corp_num":`)
	w.str(p.CorpNum)
	w.raw(`,"corp_party_id":`)
	w.intp(p.CorpPartyID)
	w.raw(`,"mailing_addr_id":`)
	w.intp(p.MailingAddrID)
	w.raw(`,"delivery_addr_id":`)
	w.intp(p.DeliveryAddrID)
	w.raw(`,"party_typ_cd":`)
	w.str(p.PartyTypCd)
	w.raw(`,"start_event_id":`)
	w.intp(p.StartEventID)
	w.raw(`,"end_event_id":`)
	w.intp(p.EndEventID)
	w.raw(`,"cessation_dt":`)
	w.timep(p.CessationDt)
	w.raw(`,"last_nme":`)
	w.strp(p.LastNme)
	w.raw(`,"middle_nme":`)
	w.strp(p.MiddleNme)
	w.raw(`,"first_nme":`)
	w.strp(p.FirstNme)
	w.raw(`,"business_nme":`)
	w.strp(p.BusinessNme)
	w.raw(`,"bus_company_num":`)
	w.strp(p.BusCompanyNum)
	w.raw(`,"email_address":`)
	w.strp(p.EmailAddress)
	w.raw(`,"corp_party_seq_num":`)
	w.intp(p.CorpPartySeqNum)
	w.raw(`,"office_notification_dt":`)
	w.timep(p.OfficeNotificationDt)
	w.raw(`,"phone":`)
	w.strp(p.Phone)
	w.raw(`,"reason_typ_cd":`)
	w.strp(p.ReasonTypCd)
	w.events(p.StartEvent, p.EndEvent)
	w.raw(`,"firm":`)
	ptr(w, p.Firm, (*jsonWriter).basicCorp)
	w.raw(`,"owner":`)
	ptr(w, p.Owner, (*jsonWriter).basicCorp)
	w.raw(`}`)
}
