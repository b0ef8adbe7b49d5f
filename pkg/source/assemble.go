package source

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// Rows is everything one batch read from the registry, not yet assembled:
// the rows as stored, in whatever order the database returned them.
type Rows struct {
	Parties       []Party
	Corporations  []Corporation
	States        []CorpState
	Names         []CorpName
	Jurisdictions []Jurisdiction
	Offices       []Office
	Addresses     []Address
	Events        []Event
	Filings       []Filing
	ConvEvents    []ConvEvent
}

// Assemble builds one Snapshot per corporation of nums from the rows of a
// batch (docs/design/registry.md §2): each record linked to its start and end
// events and its code rows, parties to the corporations at both ends. It is
// deterministic: every list is sorted on its columns, whatever order the
// database returned the rows in. The snapshots point into r, which Assemble
// sorts in place: r belongs to the Batch afterwards. fullHistory is what the
// rows hold (Snapshot.FullHistory).
func Assemble(nums []string, codes *CodeTables, r *Rows, fullHistory bool) *Batch {
	b := &Batch{Snapshots: make(map[string]*Snapshot, len(nums)), Errors: map[string]error{}}
	ev := newEventIndex(r.Events, r.Filings, r.ConvEvents, codes)

	corps := map[string]*Corporation{}
	for i := range r.Corporations {
		if _, dup := corps[r.Corporations[i].CorpNum]; !dup {
			corps[r.Corporations[i].CorpNum] = &r.Corporations[i]
		}
	}
	basics := map[string]*BasicCorp{}
	basic := func(num string) *BasicCorp {
		if bc, ok := basics[num]; ok {
			return bc
		}
		var bc *BasicCorp
		if c, ok := corps[num]; ok {
			bc = &BasicCorp{Corporation: *c}
			if t, ok := codes.CorpTypes[c.TypeCode()]; ok {
				bc.Type = &t
			}
		}
		basics[num] = bc
		return bc
	}
	addrs := map[int64]*Address{}
	slices.SortStableFunc(r.Addresses, func(a, b Address) int { return compareAddress(&a, &b) })
	for i := range r.Addresses {
		if _, dup := addrs[r.Addresses[i].AddrID]; !dup {
			addrs[r.Addresses[i].AddrID] = &r.Addresses[i]
		}
	}
	addr := func(id *int64) *Address {
		if id == nil {
			return nil
		}
		return addrs[*id]
	}

	states := groupBy(r.States, func(s CorpState) string { return s.CorpNum })
	names := groupBy(r.Names, func(n CorpName) string { return n.CorpNum })
	juris := groupBy(r.Jurisdictions, func(j Jurisdiction) string { return j.CorpNum })
	offices := groupBy(r.Offices, func(o Office) string { return o.CorpNum })
	parties := map[string][]Party{}
	for _, p := range r.Parties {
		parties[p.CorpNum] = append(parties[p.CorpNum], p)
		if own := deref(p.BusCompanyNum); own != "" && own != p.CorpNum {
			parties[own] = append(parties[own], p)
		}
	}

	for _, num := range nums {
		c, ok := corps[num]
		if !ok {
			b.Errors[num] = &MissingRowError{CorpNum: num, Table: "corporation", Column: "corp_num", Value: num}
			continue
		}
		t, ok := codes.CorpTypes[c.TypeCode()]
		if !ok {
			b.Errors[num] = &MissingRowError{CorpNum: num, Table: "corp_type", Column: "corp_typ_cd", Value: c.TypeCode()}
			continue
		}
		s := &Snapshot{Corporation: *c, Type: t, FullHistory: fullHistory}

		s.States = slices.Clone(states[num])
		slices.SortStableFunc(s.States, compareState)
		for i := range s.States {
			st := &s.States[i]
			if op, ok := codes.OpStates[deref(st.StateTypCd)]; ok {
				st.OpState = &op
			}
			st.StartEvent = ev.get(st.StartEventID, num)
			st.EndEvent = ev.get(st.EndEventID, num)
		}

		s.Names = slices.Clone(names[num])
		slices.SortStableFunc(s.Names, compareName)
		for i := range s.Names {
			n := &s.Names[i]
			n.StartEvent = ev.get(n.StartEventID, num)
			n.EndEvent = ev.get(n.EndEventID, num)
		}

		s.Jurisdictions = slices.Clone(juris[num])
		slices.SortStableFunc(s.Jurisdictions, compareJurisdiction)
		for i := range s.Jurisdictions {
			j := &s.Jurisdictions[i]
			if jt, ok := codes.JurisdictionTypes[deref(j.CanJurTypCd)]; ok {
				j.Type = &jt
			}
			j.StartEvent = ev.get(j.StartEventID, num)
			j.EndEvent = ev.get(j.EndEventID, num)
		}

		s.Offices = slices.Clone(offices[num])
		slices.SortStableFunc(s.Offices, compareOffice)
		for i := range s.Offices {
			o := &s.Offices[i]
			if ot, ok := codes.OfficeTypes[o.OfficeTypCd]; ok {
				o.Type = &ot
			}
			o.DeliveryAddr = addr(o.DeliveryAddrID)
			o.MailingAddr = addr(o.MailingAddrID)
			o.StartEvent = ev.get(o.StartEventID, num)
			o.EndEvent = ev.get(o.EndEventID, num)
		}

		s.Parties = slices.Clone(parties[num])
		slices.SortStableFunc(s.Parties, compareParty)
		for i := range s.Parties {
			p := &s.Parties[i]
			// A party's events are the firm's events.
			p.StartEvent = ev.get(p.StartEventID, p.CorpNum)
			p.EndEvent = ev.get(p.EndEventID, p.CorpNum)
			p.Firm = basic(p.CorpNum)
			if own := deref(p.BusCompanyNum); own != "" {
				p.Owner = basic(own)
			}
		}
		b.Snapshots[num] = s
	}
	return b
}

// eventIndex finds events by id. A few event ids occur more than once (two
// samples of the development fixture loaded into one database; in COLIN an
// event belongs to one corporation): a look-up prefers the row of the
// corporation that refers to it, else takes the first row in corp_num order,
// so it never fails over a duplicate.
type eventIndex map[int64][]*Event

func newEventIndex(events []Event, filings []Filing, convs []ConvEvent, codes *CodeTables) eventIndex {
	slices.SortStableFunc(filings, compareFiling)
	first := map[int64]*Filing{}
	for i := range filings {
		f := &filings[i]
		if _, dup := first[f.EventID]; !dup {
			if ft, ok := codes.FilingTypes[deref(f.FilingTypCd)]; ok {
				f.Type = &ft
			}
			first[f.EventID] = f
		}
	}
	slices.SortStableFunc(convs, func(a, b ConvEvent) int {
		return cmp.Or(cmp.Compare(a.EventID, b.EventID), CompareTimes(a.EffectiveDt, b.EffectiveDt))
	})
	conv := map[int64]*ConvEvent{}
	for i := range convs {
		if _, dup := conv[convs[i].EventID]; !dup {
			conv[convs[i].EventID] = &convs[i]
		}
	}
	slices.SortStableFunc(events, compareEvent)
	idx := eventIndex{}
	for i := range events {
		e := &events[i]
		switch typ := deref(e.EventTypCd); {
		case typ == "FILE":
			e.Filing = first[e.EventID]
		case strings.HasPrefix(typ, "CONV"):
			e.ConvEvent = conv[e.EventID]
		}
		if et, ok := codes.EventTypes[deref(e.EventTypCd)]; ok {
			e.Type = &et
		}
		idx[e.EventID] = append(idx[e.EventID], e)
	}
	return idx
}

func (x eventIndex) get(id *int64, corpNum string) *Event {
	if id == nil {
		return nil
	}
	list := x[*id]
	for _, e := range list {
		if deref(e.CorpNum) == corpNum {
			return e
		}
	}
	if len(list) > 0 {
		return list[0]
	}
	return nil
}

func groupBy[T any](list []T, key func(T) string) map[string][]T {
	m := map[string][]T{}
	for _, v := range list {
		m[key(v)] = append(m[key(v)], v)
	}
	return m
}

// The orders below make a Snapshot independent of the order rows come back
// in. Where the original took "the first row returned" of several current
// rows, these orders decide instead (see docs/deviations.md).

func compareState(a, b CorpState) int {
	return cmp.Or(CompareIDs(a.StartEventID, b.StartEventID), CompareIDs(a.EndEventID, b.EndEventID),
		cmp.Compare(deref(a.StateTypCd), deref(b.StateTypCd)))
}

func compareName(a, b CorpName) int {
	return cmp.Or(CompareIDs(a.CorpNameSeqNum, b.CorpNameSeqNum), CompareIDs(a.StartEventID, b.StartEventID),
		cmp.Compare(a.CorpNameTypCd, b.CorpNameTypCd), cmp.Compare(deref(a.CorpNme), deref(b.CorpNme)))
}

func compareJurisdiction(a, b Jurisdiction) int {
	return cmp.Or(CompareIDs(a.StartEventID, b.StartEventID), CompareIDs(a.EndEventID, b.EndEventID),
		cmp.Compare(deref(a.CanJurTypCd), deref(b.CanJurTypCd)), cmp.Compare(deref(a.OthrJurisDesc), deref(b.OthrJurisDesc)))
}

func compareOffice(a, b Office) int {
	return cmp.Or(cmp.Compare(a.OfficeTypCd, b.OfficeTypCd), CompareIDs(a.StartEventID, b.StartEventID),
		CompareIDs(a.DeliveryAddrID, b.DeliveryAddrID), CompareIDs(a.MailingAddrID, b.MailingAddrID))
}

func compareParty(a, b Party) int {
	return cmp.Or(cmp.Compare(a.CorpNum, b.CorpNum), cmp.Compare(deref(a.BusCompanyNum), deref(b.BusCompanyNum)),
		CompareIDs(a.CorpPartyID, b.CorpPartyID), CompareIDs(a.StartEventID, b.StartEventID))
}

func compareEvent(a, b Event) int {
	return cmp.Or(cmp.Compare(a.EventID, b.EventID), cmp.Compare(deref(a.CorpNum), deref(b.CorpNum)),
		CompareTimes(a.EventTimestmp, b.EventTimestmp))
}

func compareFiling(a, b Filing) int {
	return cmp.Or(cmp.Compare(a.EventID, b.EventID), cmp.Compare(deref(a.FilingTypCd), deref(b.FilingTypCd)),
		CompareTimes(a.EffectiveDt, b.EffectiveDt))
}

func compareAddress(a, b *Address) int {
	c := cmp.Compare(a.AddrID, b.AddrID)
	for _, p := range [][2]*string{{a.AddrLine1, b.AddrLine1}, {a.AddressDesc, b.AddressDesc}, {a.City, b.City}, {a.PostalCd, b.PostalCd}} {
		c = cmp.Or(c, cmp.Compare(deref(p[0]), deref(p[1])))
	}
	return c
}

// CompareIDs orders two nullable ids, NULL first: the order the original's
// queries gave rows (and the generators give credentials) by a nullable id.
func CompareIDs(a, b *int64) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return cmp.Compare(*a, *b)
}

// CompareTimes orders two nullable times, NULL first, like CompareIDs.
func CompareTimes(a, b *time.Time) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return a.Compare(*b)
}
