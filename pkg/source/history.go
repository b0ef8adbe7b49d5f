package source

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// This file is the dating half of "loading with history"
// (docs/design/generation.md §3a):
// every record of a full-history snapshot gets an effective start and end
// date, after the registration-date and data-conversion rules the history
// generator applied while loading. Generation itself (which record is valid
// at which date, the credentials) lives in package credential.

// MaxEndDate is the effective end date of a record that has not ended: the
// original's MAX_END_DATE, 9998-12-31 (naive BC local time).
var MaxEndDate = time.Date(9998, 12, 31, 0, 0, 0, 0, time.UTC)

// firmTypes are the corporation types whose state and party events take
// their date from trigger_dts when it is set (firm dissolutions).
var firmTypes = map[string]bool{"SP": true, "GP": true, "LP": true, "XP": true, "LL": true, "XL": true, "MF": true}

// IsDataConversion reports whether the event was created by the 2004 data
// conversion: its timestamp falls on 2004-03-26, when COLIN was populated,
// and so is not a business date.
func (e *Event) IsDataConversion() bool {
	if e == nil || e.EventTimestmp == nil {
		return false
	}
	y, m, d := e.EventTimestmp.Date()
	return y == 2004 && m == time.March && d == 26
}

// HistoryFiling returns the filing the history generator saw for the event:
// the FILE event's filing row when its type is in filing_type (the original
// inner-joined the two), else nil.
func (e *Event) HistoryFiling() *Filing {
	if e == nil || e.Filing == nil || e.Filing.Type == nil {
		return nil
	}
	return e.Filing
}

// HistoryDate returns the event's effective date as the history generator
// computed it (docs/design/generation.md §3a): for a firm's state and party events
// (firm true) trigger_dts when set; else the filing's effective_dt (FILE
// events); else the conv_event's effective_dt (CONV* events); else the
// event timestamp. Nil when none is known.
func (e *Event) HistoryDate(firm bool) *time.Time {
	if e == nil {
		return nil
	}
	if firm && e.TriggerDts != nil {
		return e.TriggerDts
	}
	if f := e.HistoryFiling(); f != nil && f.EffectiveDt != nil {
		return f.EffectiveDt
	}
	if e.ConvEvent != nil && e.ConvEvent.EffectiveDt != nil {
		return e.ConvEvent.EffectiveDt
	}
	return e.EventTimestmp
}

// DatedEvent is one event as one record sees it. The original copied each
// event into each record that referred to it and then overwrote the copy's
// date (registration-date rules), so the same event can carry different
// dates in different records.
type DatedEvent struct {
	// ID is the event id, 0 when the record has none.
	ID int64
	// Event is the row, nil when it is missing.
	Event *Event
	// Date is the effective date, after the registration-date rules and the
	// fallbacks; nil when unknown.
	Date *time.Time
}

// Known reports whether the event row exists.
func (d *DatedEvent) Known() bool { return d.Event != nil }

// Timestamp returns the event timestamp (when the event was registered),
// or Date when the row or its timestamp is missing.
func (d *DatedEvent) Timestamp() *time.Time {
	if d.Event != nil && d.Event.EventTimestmp != nil {
		return d.Event.EventTimestmp
	}
	return d.Date
}

// IsDataConversion reports whether the event is a data-conversion event.
func (d *DatedEvent) IsDataConversion() bool { return d.Event.IsDataConversion() }

// Undated reports an event that says nothing about when things happened: a
// data-conversion event still carrying its conversion timestamp as date.
func (d *DatedEvent) Undated() bool {
	ts := d.Timestamp()
	return d.IsDataConversion() && ts != nil && d.Date != nil && ts.Equal(*d.Date)
}

// Span is a record's effective period.
type Span struct {
	Start DatedEvent
	// End is the end event, nil while the record is current.
	End *DatedEvent
	// StartDate is effective_start_date: the start event's date, or a date
	// the registration-date rules gave the record. Nil when unknown.
	StartDate *time.Time
	// EndDate is effective_end_date: the end event's date, MaxEndDate while
	// the record is current. Nil when unknown.
	EndDate *time.Time
}

// Current reports whether the record has not ended.
func (s *Span) Current() bool { return s.End == nil }

// UndatedStart reports a record whose start date is the conversion timestamp
// of its data-conversion start event: nothing is known about when it began.
func (s *Span) UndatedStart() bool {
	ts := s.Start.Timestamp()
	return s.Start.IsDataConversion() && s.StartDate != nil && ts != nil && s.StartDate.Equal(*ts)
}

// Dated is a record with its effective period.
type Dated[T any] struct {
	Rec *T
	Span
}

// Problem is a gap in the source data that a fallback covered.
type Problem struct {
	Missing  string // what was missing
	Fallback string // what was used instead
}

func (p Problem) String() string { return "missing " + p.Missing + "; using " + p.Fallback }

// History is a full-history snapshot with every record dated
// (docs/design/generation.md §3a). Lists are in the order the generator reads them.
type History struct {
	// States are the state rows whose code is in corp_op_state, ordered by
	// the start event's date, start event id and end date. StartDate is
	// the start of the period of unchanged operational state (ACT/HIS) the
	// row belongs to; the first period starts at the recognition date when
	// it is active (or starts with an undated conversion event).
	States []Dated[CorpState]
	// Names are the legal (CO, NB) names, AssumedNames the AS names, both
	// ordered by start date, start event id and end date.
	Names, AssumedNames []Dated[CorpName]
	// Jurisdictions are the rows whose code is in jurisdiction_type,
	// ordered by start date, start event id and end date.
	Jurisdictions []Dated[Jurisdiction]
	// Offices are ordered by start date, office type and start event id.
	Offices []Dated[Office]
	// Parties are the FBO rows, ordered by start date, start event id and
	// corp_party_id.
	Parties []Dated[Party]
	// Problems lists the missing events and dates covered by fallbacks.
	Problems []Problem
}

// ActiveState returns the state the history generator took as the
// corporation's current one: the first current row, else the row with the
// latest start; nil when there is no state row.
func (h *History) ActiveState() *Dated[CorpState] {
	var ret *Dated[CorpState]
	for i := range h.States {
		st := &h.States[i]
		if st.Current() {
			return st
		}
		if ret == nil || CompareTimes(st.StartDate, ret.StartDate) > 0 {
			ret = st
		}
	}
	return ret
}

const recognitionDate = "the recognition date"

// History dates the records of a full-history snapshot (see the type).
// Missing events and dates do not fail it (the original crashed on them):
// a missing start date becomes the recognition date (for a party row, the
// firm's), a missing end date the record's own start date, and each is
// listed in Problems.
func (s *Snapshot) History() *History {
	h := &History{}
	reg := s.Corporation.RecognitionDts
	firm := firmTypes[s.Corporation.TypeCode()]
	d := &dater{h: h, seen: map[Problem]bool{}}

	for i := range s.States {
		st := &s.States[i]
		if st.OpState == nil {
			continue // inner join with corp_op_state
		}
		h.States = append(h.States, Dated[CorpState]{st, d.span(st.StartEvent, st.StartEventID, st.EndEvent, st.EndEventID,
			firm, "corp_state "+deref(st.StateTypCd), reg, recognitionDate)})
	}
	datePeriods(h.States, reg, appearsAsEnd(h.States, func(st *CorpState) (*int64, *int64) { return st.StartEventID, st.EndEventID }))

	for _, types := range [][]string{{NameCorporate, NameNumbered}, {NameAssumed}} {
		var names []Dated[CorpName]
		for i := range s.Names {
			n := &s.Names[i]
			if slices.Contains(types, n.CorpNameTypCd) {
				names = append(names, Dated[CorpName]{n, d.span(n.StartEvent, n.StartEventID, n.EndEvent, n.EndEventID,
					false, "corp_name "+n.CorpNameTypCd, reg, recognitionDate)})
			}
		}
		dateNames(names, reg)
		slices.SortStableFunc(names, func(a, b Dated[CorpName]) int {
			return cmp.Or(compareSpans(&a.Span, &b.Span, a.Rec.StartEventID, b.Rec.StartEventID),
				CompareIDs(a.Rec.CorpNameSeqNum, b.Rec.CorpNameSeqNum), cmp.Compare(deref(a.Rec.CorpNme), deref(b.Rec.CorpNme)))
		})
		if types[0] == NameAssumed {
			h.AssumedNames = names
		} else {
			h.Names = names
		}
	}

	for i := range s.Jurisdictions {
		j := &s.Jurisdictions[i]
		if j.Type == nil {
			continue // inner join with jurisdiction_type
		}
		h.Jurisdictions = append(h.Jurisdictions, Dated[Jurisdiction]{j, d.span(j.StartEvent, j.StartEventID, j.EndEvent, j.EndEventID,
			false, "jurisdiction "+deref(j.CanJurTypCd), reg, recognitionDate)})
	}
	slices.SortStableFunc(h.Jurisdictions, func(a, b Dated[Jurisdiction]) int {
		return compareSpans(&a.Span, &b.Span, a.Rec.StartEventID, b.Rec.StartEventID)
	})

	for i := range s.Offices {
		o := &s.Offices[i]
		h.Offices = append(h.Offices, Dated[Office]{o, d.span(o.StartEvent, o.StartEventID, o.EndEvent, o.EndEventID,
			false, "office "+o.OfficeTypCd, reg, recognitionDate)})
	}
	slices.SortStableFunc(h.Offices, func(a, b Dated[Office]) int {
		return cmp.Or(CompareTimes(a.StartDate, b.StartDate), cmp.Compare(a.Rec.OfficeTypCd, b.Rec.OfficeTypCd),
			CompareIDs(a.Rec.StartEventID, b.Rec.StartEventID), CompareIDs(a.Rec.DeliveryAddrID, b.Rec.DeliveryAddrID))
	})

	for i := range s.Parties {
		p := &s.Parties[i]
		if p.PartyTypCd != PartyFirmOwner {
			continue
		}
		// A firm cannot be owned before it exists.
		fb, fbName := reg, recognitionDate
		if p.Firm != nil && p.CorpNum != s.CorpNum() {
			fb, fbName = p.Firm.RecognitionDts, "the firm's recognition date"
		}
		h.Parties = append(h.Parties, Dated[Party]{p, d.span(p.StartEvent, p.StartEventID, p.EndEvent, p.EndEventID,
			firm, "corp_party "+idText(p.CorpPartyID), fb, fbName)})
	}
	slices.SortStableFunc(h.Parties, func(a, b Dated[Party]) int {
		return cmp.Or(CompareTimes(a.StartDate, b.StartDate), CompareIDs(a.Rec.StartEventID, b.Rec.StartEventID),
			CompareIDs(a.Rec.CorpPartyID, b.Rec.CorpPartyID), cmp.Compare(a.Rec.CorpNum, b.Rec.CorpNum))
	})
	return h
}

// datePeriods sorts the state rows and gives each the start of its period
// of unchanged operational state. The first row of the first period starts
// at the recognition date when it is active, or when its start event is a
// data-conversion event that ends no other row; its start event's date is
// overwritten too, as the original did.
func datePeriods(states []Dated[CorpState], reg *time.Time, ends map[int64]bool) {
	slices.SortStableFunc(states, func(a, b Dated[CorpState]) int {
		return cmp.Or(CompareTimes(a.Start.Date, b.Start.Date), CompareIDs(a.Rec.StartEventID, b.Rec.StartEventID),
			CompareTimes(a.EndDate, b.EndDate))
	})
	var period *Dated[CorpState]
	for i := range states {
		st := &states[i]
		if period == nil || period.Rec.OpStateCode() != st.Rec.OpStateCode() {
			useReg := period == nil && (st.Rec.OpStateCode() == "ACT" ||
				st.Start.IsDataConversion() && !ends[deref(st.Rec.StartEventID)])
			period = st
			if useReg && reg != nil {
				st.Start.Date = reg
				st.StartDate = reg
			}
		}
		st.StartDate = period.StartDate
	}
}

// dateNames applies the registration-date rules to one list of names: a
// name that starts with a data-conversion event gets the recognition date
// when its start is after its end, when it is the only name, or when its
// start event ends no other name of the list (the converted original name
// is dated back to incorporation).
func dateNames(names []Dated[CorpName], reg *time.Time) {
	if reg == nil {
		return
	}
	toReg := func(n *Dated[CorpName]) {
		n.Start.Date = reg
		n.StartDate = reg
	}
	for i := range names {
		n := &names[i]
		if n.StartDate != nil && n.EndDate != nil && n.StartDate.After(*n.EndDate) && n.Start.IsDataConversion() {
			toReg(n)
		}
	}
	if len(names) == 1 && (names[0].StartDate == nil || names[0].Start.IsDataConversion()) {
		toReg(&names[0])
	}
	ends := appearsAsEnd(names, func(n *CorpName) (*int64, *int64) { return n.StartEventID, n.EndEventID })
	for i := range names {
		n := &names[i]
		if n.Start.IsDataConversion() && !ends[deref(n.Rec.StartEventID)] {
			toReg(n)
		}
	}
}

// appearsAsEnd returns the end event ids of a list of records: a start
// event among them continues the list rather than starting it.
func appearsAsEnd[T any](recs []Dated[T], ids func(*T) (start, end *int64)) map[int64]bool {
	ends := map[int64]bool{}
	for i := range recs {
		if _, end := ids(recs[i].Rec); end != nil {
			ends[*end] = true
		}
	}
	return ends
}

// dater dates events and records, collecting the problems it meets.
type dater struct {
	h    *History
	seen map[Problem]bool
}

func (d *dater) problem(missing, fallback string) {
	p := Problem{missing, fallback}
	if !d.seen[p] {
		d.seen[p] = true
		d.h.Problems = append(d.h.Problems, p)
	}
}

// span dates a record: its start event's date (or fallback, named
// fallbackName), its end event's date (or the record's own start date), or
// MaxEndDate while it is current.
func (d *dater) span(start *Event, startID *int64, end *Event, endID *int64, firm bool, record string,
	fallback *time.Time, fallbackName string) Span {
	sp := Span{Start: d.event(start, startID, firm, "start", record, fallback, fallbackName)}
	sp.StartDate = sp.Start.Date
	if endID == nil {
		maxEnd := MaxEndDate
		sp.EndDate = &maxEnd
		return sp
	}
	e := d.event(end, endID, firm, "end", record, sp.StartDate, "the record's start date")
	sp.End = &e
	sp.EndDate = e.Date
	return sp
}

func (d *dater) event(ev *Event, id *int64, firm bool, which, record string, fallback *time.Time, fallbackName string) DatedEvent {
	de := DatedEvent{Event: ev}
	if id != nil {
		de.ID = *id
	}
	if ev != nil && ev.Type == nil {
		// The original inner-joined event_type and then failed on the
		// event it could not find.
		d.problem(fmt.Sprintf("event_type row for event_typ_cd '%s' (event %d)", deref(ev.EventTypCd), ev.EventID), "the event as it is")
	}
	if de.Date = ev.HistoryDate(firm); de.Date != nil {
		return de
	}
	var missing string
	switch {
	case id == nil:
		missing = which + "_event_id of " + record
	case ev == nil:
		missing = fmt.Sprintf("event row %d (%s event of %s)", *id, which, record)
	default:
		missing = fmt.Sprintf("event_timestmp of event %d (%s event of %s)", *id, which, record)
	}
	if fallback == nil {
		fallbackName += " (NULL)"
	}
	d.problem(missing, fallbackName)
	de.Date = fallback
	return de
}

// compareSpans orders records by start date, start event id, end date.
func compareSpans(a, b *Span, aID, bID *int64) int {
	return cmp.Or(CompareTimes(a.StartDate, b.StartDate), CompareIDs(aID, bID), CompareTimes(a.EndDate, b.EndDate))
}

func idText(id *int64) string {
	if id == nil {
		return "NULL"
	}
	return fmt.Sprint(*id)
}
