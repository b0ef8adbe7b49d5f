package synth

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// This file generates one corporation: its events in date order, the
// records they start and end, and finally the rows, with ids from the
// corporation's own blocks.

// event is one event of a corporation being generated; records point to
// their events until ids are given out.
type event struct {
	id      int64
	typ     string
	ts      time.Time
	trigger *time.Time
	// filing is the filing_typ_cd, "" for an event without a filing.
	filing    string
	eff       time.Time
	periodEnd *time.Time
	// conv is the conv_event effective_dt of a CONV* event of 2004-03-26,
	// nil otherwise.
	conv *time.Time
	// nrNum and access are the filing's name request and access code.
	nrNum, access *string
}

func (e *event) idp() *int64 {
	if e == nil {
		return nil
	}
	return &e.id
}

type stateRec struct {
	start, end *event
	code       string
}

type nameRec struct {
	typ        string
	start, end *event
	seq        int64
	name       string
}

type jurRec struct {
	start, end *event
	row        jurRow
}

type officeRec struct {
	typ               string
	start, end        *event
	mailing, delivery *int64
}

type partyRec struct {
	row        partyRow
	start, end *event
	owner      int // corporation index of an FBO row's owner
}

// corpGen generates one corporation.
type corpGen struct {
	p         *plan
	r         *rand.Rand
	i         int
	t         *corpType
	num       string
	recog     time.Time
	converted bool
	lifeEnd   time.Time // when it became historical, else HistoryEnd

	events  []*event
	states  []*stateRec
	names   []*nameRec
	juris   []*jurRec
	offices []*officeRec
	parties []*partyRec
	addrs   []addrRow

	nextAddr, nextParty int64
	corp                corpRow
}

// generate appends the rows of corporation i to out.
func (p *plan) generate(i int, out *rowSet) {
	e := &p.entries[i]
	g := &corpGen{p: p, r: bodyRand(p.seed, i), i: i, t: &corpTypes[e.typ], recog: e.recog,
		nextAddr: idBase + int64(i)*addrStride, nextParty: idBase + int64(i)*partyStride}
	g.num = corpNum(g.t, i)
	g.converted = g.recog.Before(convDay)
	g.corp = corpRow{corpNum: g.num, typ: g.t.code, recognition: g.recog, tilma: "N"}
	if g.t.class == classBC {
		g.corp.sendAR = ptr("Y")
	}
	if chance(g.r, 0.02) {
		g.corp.email = ptr("registry" + strconv.Itoa(i) + "@example.ca")
	}

	cre := g.creation()
	g.fate()
	g.nameHistory(cre)
	g.jurisdictions(cre)
	g.officeHistory(cre)
	g.partyHistory(cre)
	g.businessNumber()
	g.fill()
	g.emit(out)
}

func (g *corpGen) add(e *event) *event {
	g.events = append(g.events, e)
	return e
}

// fileEvent adds a FILE event at ts with a filing effective at ts.
func (g *corpGen) fileEvent(ts time.Time, filing string) *event {
	return g.add(&event{typ: "FILE", ts: ts, filing: filing, eff: ts})
}

// convEvent adds a CONV* event of the 2004 conversion whose real date was
// eff.
func (g *corpGen) convEvent(typ string, eff time.Time) *event {
	return g.add(&event{typ: typ, ts: ConvTimestamp, conv: &eff})
}

// when returns a random office-hours timestamp in (from, to], or to when the
// range is empty.
func (g *corpGen) when(from, to time.Time) time.Time {
	if !to.After(from) {
		return to
	}
	t := from.Add(time.Duration(g.r.Int64N(int64(to.Sub(from)))))
	if t.Before(convDay) {
		if m := midnight(t); m.After(from) {
			return m
		}
		return t
	}
	if o := officeHours(g.r, t); o.After(from) && !o.After(to) {
		return o
	}
	return t.Truncate(time.Second)
}

// creation adds the registration event: a FILE event with its filing, or
// for a corporation older than COLIN the conversion event (firms: the
// firm-system conversion, dated at registration, as the fixture has them).
func (g *corpGen) creation() *event {
	if !g.converted {
		e := g.fileEvent(g.recog, g.t.create)
		if g.t.class != classFirm {
			e.nrNum = ptr("NR" + strconv.Itoa(1000000+g.r.IntN(9000000)))
			// A few incorporations are dated ahead (up to ten days).
			if chance(g.r, 0.03) {
				e.eff = midnight(g.recog).AddDate(0, 0, 1+g.r.IntN(10)).Add(time.Minute)
				g.recog = e.eff
				g.corp.recognition = e.eff
			}
		}
		return e
	}
	if g.t.class == classFirm {
		e := g.add(&event{typ: g.t.conv, ts: g.recog, filing: g.t.create, eff: g.recog})
		g.corp.firmLastImageDate = ptr(g.recog)
		return e
	}
	return g.convEvent(g.t.conv, g.recog)
}

// fate decides the corporation's state history and so when it stops having
// filings.
func (g *corpGen) fate() {
	g.lifeEnd = HistoryEnd
	cre := g.events[0]
	g.states = append(g.states, &stateRec{start: cre, code: "ACT"})
	// State changes are registry events after the conversion, at least a
	// month after registration and four before the end of the history.
	from := later(g.recog, ConvTimestamp).AddDate(0, 1, 0)
	to := HistoryEnd.AddDate(0, -4, 0)
	x := g.r.Float64()
	if g.converted && g.t.code == "BC" && x < 0.03 {
		g.dissolvedAndRestored()
		return
	}
	if !from.Before(to) {
		return
	}
	at := g.when(from, to)
	switch g.t.class {
	case classFirm:
		switch {
		case x < 0.18:
			// A dissolved firm: its dissolution date is trigger_dts.
			trig := midnight(at.AddDate(0, 0, -g.r.IntN(30)))
			e := g.add(&event{typ: "ADFIRM", ts: at, trigger: &trig})
			g.change(e, "HDO")
			g.lifeEnd = at
		case x < 0.22:
			g.change(g.add(&event{typ: "SYSDF", ts: at}), "RCF")
			g.lifeEnd = at
		}
	case classBC:
		switch {
		case x < 0.12:
			g.dissolutionStages(at, "HDF")
		case x < 0.14:
			g.change(g.add(&event{typ: "ADCORP", ts: at}), "LIQ")
		case x < 0.17:
			g.change(g.fileEvent(at, "AM_DI"), "HAM")
			g.lifeEnd = at
		case x < 0.22:
			g.change(g.fileEvent(at, "CO_DI"), "HDO")
			g.lifeEnd = at
		}
	case classXpro:
		switch {
		case x < 0.07:
			g.dissolutionStages(at, "RCF")
		case x < 0.09:
			g.change(g.fileEvent(at, "NWITH"), "HWT") // withdrawn
			g.lifeEnd = at
		}
	default:
		if x < 0.05 {
			g.dissolutionStages(at, "HDF")
		}
	}
}

// change ends the current state at e and starts code.
func (g *corpGen) change(e *event, code string) {
	g.states[len(g.states)-1].end = e
	g.states = append(g.states, &stateRec{start: e, code: code})
}

// dissolutionStages is the failure-to-file path: SYSD1 (D1F, dissolution
// date 42 days on in trigger_dts), then either restoration by a late annual
// report, or SYSD2 (D2F) and SYSDF (dissolved, final), or still D1F.
func (g *corpGen) dissolutionStages(at time.Time, final string) {
	trig := at.AddDate(0, 0, 42)
	d1 := g.add(&event{typ: "SYSD1", ts: at, trigger: &trig})
	g.change(d1, "D1F")
	x := g.r.Float64()
	switch {
	case x < 0.45:
		report := "ANNBC"
		if g.t.class == classXpro {
			report = "ANNXP"
		}
		e := g.fileEvent(g.when(at.AddDate(0, 0, 7), at.AddDate(0, 0, 40)), report)
		e.periodEnd = ptr(g.anniversaryBefore(e.ts))
		g.change(e, "ACT")
	case x < 0.8:
		trig2 := at.AddDate(0, 0, 84)
		d2 := g.add(&event{typ: "SYSD2", ts: trig.Add(7 * time.Hour), trigger: &trig2})
		g.change(d2, "D2F")
		df := g.add(&event{typ: "SYSDF", ts: trig2.Add(7*time.Hour + 4*time.Minute)})
		g.change(df, final)
		g.lifeEnd = df.ts
	}
}

// dissolvedAndRestored is a converted company's pre-2004 history: it was
// dissolved, restored and (often) put into liquidation, all recorded as
// conversion events of 2004-03-26 with their real dates in conv_event.
func (g *corpGen) dissolvedAndRestored() {
	span := convDay.Sub(g.recog)
	if span < 3*24*time.Hour {
		return
	}
	d1 := midnight(g.recog.Add(span / 3))
	d2 := midnight(g.recog.Add(span / 2))
	g.change(g.convEvent("CONVDSO", d1), "HDO")
	g.change(g.convEvent("CONVRSTR", d2), "ACT")
	if chance(g.r, 0.6) {
		g.change(g.convEvent("CONVILIQ", midnight(g.recog.Add(span*3/4))), "LIQ")
	}
}

// nameHistory adds the legal names and their changes, assumed (AS) and
// translated (TR, NO) names.
func (g *corpGen) nameHistory(cre *event) {
	name, numbered := g.p.legalName(g.i)
	typ := "CO"
	if numbered {
		typ = "NB"
	}
	g.names = append(g.names, &nameRec{typ: typ, start: cre, name: name})
	changes := 0
	switch x := g.r.Float64(); {
	case numbered && x < 0.5, !numbered && g.t.class != classFirm && x < 0.07:
		changes = 1 + g.r.IntN(2)
	case x < 0.25:
		changes = 1
	}
	if g.t.class == classFirm && changes > 0 && !chance(g.r, 0.3) {
		changes = 0 // firms rarely change names
	}
	at := g.recog
	for k := range changes {
		if !at.Before(g.lifeEnd.AddDate(0, 0, -2)) {
			break
		}
		at = g.when(at, later(at, g.lifeEnd.AddDate(0, 0, -1)))
		var e *event
		switch {
		case at.Before(convDay) && g.t.class != classFirm:
			e = g.convEvent("CONVNC", midnight(at)) // converted name change: real date in conv_event
		case at.Before(ConvTimestamp):
			continue
		default:
			e = g.fileEvent(at, g.t.newName)
		}
		g.newLegalName(e, g.otherName(), k)
	}
	// A type-changing alteration: COLIN keeps only the current type.
	switch {
	case (g.t.code == "ULC" || g.t.code == "CUL") && chance(g.r, 0.25):
		if d := g.recog.AddDate(0, 0, 1+g.r.IntN(20)); d.Before(g.lifeEnd) {
			g.newLegalName(g.fileEvent(officeHours(g.r, d), "NOALU"), g.otherName(), len(g.names))
		}
	case g.t.code == "BC" && !g.converted && chance(g.r, 0.02):
		if d := g.recog.AddDate(1, 0, 0); d.Before(g.lifeEnd) {
			g.newLegalName(g.fileEvent(officeHours(g.r, d), "NOALB"), g.otherName(), len(g.names))
		}
	}
	if g.t.class == classXpro && chance(g.r, 0.2) {
		// Assumed name: the home name is not available in BC.
		start := cre
		if chance(g.r, 0.3) && g.lifeEnd.After(later(g.recog, ConvTimestamp).AddDate(0, 2, 0)) {
			start = g.fileEvent(g.when(later(g.recog, ConvTimestamp), g.lifeEnd), g.t.newName)
		}
		g.names = append(g.names, &nameRec{typ: "AS", start: start, name: g.otherName() + " (B.C.)"})
	}
	if g.t.class == classBC || g.t.class == classXpro {
		switch x := g.r.Float64(); {
		case x < 0.04:
			g.names = append(g.names, &nameRec{typ: "TR", start: cre, seq: 1, name: pick(g.r, frenchWords) + " " + pick(g.r, placeWords) + " LTÉE"})
		case x < 0.05:
			g.names = append(g.names, &nameRec{typ: "NO", start: cre, seq: 1, name: pick(g.r, placeWords) + " " + pick(g.r, tradeWords)})
		}
	}
}

func (g *corpGen) otherName() string {
	switch g.t.class {
	case classFirm:
		return pick(g.r, placeWords) + " " + pick(g.r, firmTrades)
	case classSociety:
		return pick(g.r, placeWords) + " " + pick(g.r, tradeWords) + " SOCIETY"
	}
	return pick(g.r, placeWords) + " " + pick(g.r, tradeWords) + " " + pick(g.r, []string{"LTD.", "INC.", "CORP."})
}

// newLegalName ends the current legal name at e and starts name.
func (g *corpGen) newLegalName(e *event, name string, seq int) {
	for _, n := range g.names {
		if (n.typ == "CO" || n.typ == "NB") && n.end == nil {
			n.end = e
		}
	}
	g.names = append(g.names, &nameRec{typ: "CO", start: e, seq: int64(seq + 1), name: name})
}

// homeJurisdictions: can_jur_typ_cd (OT with othr_juris_desc) by weight.
var homeJurisdictions = []struct {
	code, other string
	weight      int
}{
	{"AB", "", 25}, {"ON", "", 20}, {"FD", "", 20}, {"QC", "", 5}, {"SK", "", 4}, {"MB", "", 3}, {"NS", "", 2},
	{"NB", "", 1}, {"OT", "US, WA", 5}, {"OT", "US, DE", 5}, {"OT", "US, CA", 3}, {"OT", "US, NY", 2},
	{"OT", "GB", 2}, {"OT", "ENGLAND", 1}, {"OT", "", 2},
}

// jurisdictions adds the home jurisdiction of extra-provincial and
// continued-in companies, sometimes corrected later (home number filled
// in), as the fixture's are.
func (g *corpGen) jurisdictions(cre *event) {
	if !g.t.juris {
		return
	}
	x := g.r.IntN(100)
	hj := homeJurisdictions[0]
	for _, h := range homeJurisdictions {
		if x < h.weight {
			hj = h
			break
		}
		x -= h.weight
	}
	if g.t.code == "LLC" {
		hj = homeJurisdictions[8+g.r.IntN(4)] // a US state
	}
	row := jurRow{corpNum: g.num, code: hj.code, xpro: "COR", homeRecognized: midnight(g.recog.AddDate(0, 0, -30-g.r.IntN(3000)))}
	if g.t.code == "LLC" {
		row.xpro = "LLC"
	}
	if hj.other != "" {
		row.other = ptr(hj.other)
	}
	num := strconv.Itoa(100000+g.r.IntN(900000)) + "-" + strconv.Itoa(g.r.IntN(10))
	if chance(g.r, 0.6) || g.converted {
		row.homeNum = ptr(num)
	}
	g.juris = append(g.juris, &jurRec{start: cre, row: row})
	if row.homeNum == nil && g.lifeEnd.After(later(g.recog, ConvTimestamp).AddDate(0, 3, 0)) {
		e := g.fileEvent(g.when(later(g.recog, ConvTimestamp), g.lifeEnd), "NOCRX")
		g.juris[0].end = e
		upd := row
		upd.homeNum = ptr(num)
		g.juris = append(g.juris, &jurRec{start: e, row: upd})
	}
}

// officeTypes are the offices of each class.
func (g *corpGen) officeTypes() []string {
	switch g.t.class {
	case classBC:
		return []string{"RG", "RC"}
	case classXpro:
		return []string{"HD"}
	case classFirm:
		if chance(g.r, 0.85) {
			return []string{"FO"}
		}
		return nil
	}
	return []string{"RG"}
}

// officeHistory adds the offices at registration and their moves (NOCAD,
// effective the next day at 00:01 as COLIN dates them; NOCAA for
// extra-provincials; FRCHG for firms), and for converted BC companies the
// transition application that re-filed their offices.
func (g *corpGen) officeHistory(cre *event) {
	types := g.officeTypes()
	if len(types) == 0 {
		return
	}
	g.openOffices(cre, types)
	start := later(g.recog, ConvTimestamp)
	if g.converted && g.t.class == classBC && g.lifeEnd.After(transStart) && chance(g.r, 0.85) {
		e := g.fileEvent(g.when(transStart, earlier(transDeadline, g.lifeEnd)), "TRANS")
		g.corp.transitionDate = ptr(midnight(e.ts))
		if chance(g.r, 0.5) {
			g.moveOffices(e, types)
		}
		start = e.ts
	}
	moves := 0
	switch x := g.r.Float64(); {
	case x < 0.05:
		moves = 3
	case x < 0.2:
		moves = 2
	case x < 0.5:
		moves = 1
	}
	for range moves {
		if !start.Before(g.lifeEnd.AddDate(0, 0, -3)) {
			return
		}
		at := g.when(start, g.lifeEnd.AddDate(0, 0, -2))
		var e *event
		switch g.t.class {
		case classFirm:
			e = g.fileEvent(at, "FRCHG")
		case classXpro:
			e = g.fileEvent(at, "NOCAA")
			e.eff = midnight(at).AddDate(0, 0, 1).Add(time.Minute)
		default:
			e = g.fileEvent(at, "NOCAD")
			e.eff = midnight(at).AddDate(0, 0, 1).Add(time.Minute)
		}
		g.moveOffices(e, types)
		start = at
	}
}

func (g *corpGen) openOffices(e *event, types []string) {
	var shared *officeRec
	for _, typ := range types {
		o := &officeRec{typ: typ, start: e}
		if shared != nil && chance(g.r, 0.6) {
			o.mailing, o.delivery = shared.mailing, shared.delivery // records office at the registered office
		} else {
			deliv := g.address(g.officeRegion())
			o.delivery = deliv
			switch {
			case chance(g.r, 0.45):
				o.mailing = deliv
			case chance(g.r, 0.01):
				o.delivery, o.mailing = nil, deliv // no delivery address: no address credential
			default:
				o.mailing = g.mailingAddress()
			}
		}
		shared = o
		g.offices = append(g.offices, o)
	}
}

func (g *corpGen) moveOffices(e *event, types []string) {
	for _, o := range g.offices {
		if o.end == nil {
			o.end = e
		}
	}
	g.openOffices(e, types)
}

// officeRegion is where the corporation's offices are: BC, except the head
// offices of extra-provincial companies, at home.
func (g *corpGen) officeRegion() string {
	if g.t.class != classXpro || len(g.juris) == 0 {
		return "BC"
	}
	j := g.juris[0].row
	switch {
	case j.code != "OT":
		return j.code
	case j.other != nil && (*j.other == "GB" || *j.other == "ENGLAND"):
		return "GB"
	}
	return "US"
}

// address adds a delivery address in region (a province, US or GB) and
// returns its id, nil when the corporation's block is used up.
func (g *corpGen) address(region string) *int64 {
	if g.nextAddr >= idBase+int64(g.i+1)*addrStride {
		return nil
	}
	a := addrRow{id: g.nextAddr}
	g.nextAddr++
	switch region {
	case "BC":
		a.province, a.country, a.city, a.postal = ptr("BC"), ptr("CA"), ptr(pick(g.r, bcCities)), ptr(bcPostalCode(g.r))
		switch x := g.r.Float64(); {
		case x < 0.01:
			a.desc = ptr("RR " + strconv.Itoa(1+g.r.IntN(9)) + " SITE " + strconv.Itoa(1+g.r.IntN(40)) + " COMP " + strconv.Itoa(1+g.r.IntN(60)))
			a.line1 = nil
		case x < 0.015:
			a.line1, a.country = ptr(streetLine(g.r)), nil // no country: trailing ", " in the civic address
		default:
			a.line1 = ptr(streetLine(g.r))
		}
	case "US":
		a.line1, a.country = ptr(streetLine(g.r)), ptr("US")
		a.city = ptr(pick(g.r, homeCities["US"]))
		a.province = ptr(pick(g.r, []string{"WA", "DE", "CA", "NY"}))
		a.postal = ptr(strconv.Itoa(10000 + g.r.IntN(89999)))
	case "GB":
		a.line1, a.country, a.city = ptr(streetLine(g.r)), ptr("GB"), ptr("LONDON")
		a.postal = ptr("EC" + strconv.Itoa(1+g.r.IntN(4)) + "A " + strconv.Itoa(1+g.r.IntN(9)) + "BB")
	default:
		a.line1, a.country = ptr(streetLine(g.r)), ptr("CA")
		prov := region
		if prov == "FD" {
			prov = pick(g.r, []string{"ON", "AB"})
		}
		a.province = ptr(prov)
		cities := homeCities[region]
		if cities == nil {
			cities = bcCities
		}
		a.city = ptr(pick(g.r, cities))
		a.postal = ptr(string(postalLetters[g.r.IntN(len(postalLetters))]) + bcPostalCode(g.r)[1:])
	}
	if a.line1 != nil && chance(g.r, 0.15) {
		a.line2 = ptr("SUITE " + strconv.Itoa(100+g.r.IntN(2900)))
	}
	g.addrs = append(g.addrs, a)
	return &a.id
}

// mailingAddress adds a mailing address, often a post office box.
func (g *corpGen) mailingAddress() *int64 {
	id := g.address("BC")
	if id != nil && chance(g.r, 0.4) {
		a := &g.addrs[len(g.addrs)-1]
		a.line1, a.line2, a.desc, a.country = ptr("PO BOX "+strconv.Itoa(1+g.r.IntN(9999))), nil, nil, ptr("CA")
	}
	return id
}

// partyHistory adds the parties: firm business owners (FBO, companies of
// this data set) or individual owners (FIO) of firms, and directors of BC
// companies. Only FBO rows reach credentials; the others are there because
// production tables are mostly them.
func (g *corpGen) partyHistory(cre *event) {
	switch g.t.class {
	case classBC:
		for range 1 + g.r.IntN(3) {
			g.person(cre, "DIR")
		}
		return
	case classFirm:
	default:
		return
	}
	share, ok := firmOwners[g.t.code]
	if !ok || !chance(g.r, share.owned) || len(g.p.owners) == 0 {
		n := 1
		if g.t.code == "GP" {
			n = 2
		}
		for range n {
			g.person(cre, "FIO")
		}
		return
	}
	owners := 1
	if chance(g.r, share.two) {
		owners = 2
	}
	var used []int
	for range owners {
		p := g.owner(cre, used)
		if p == nil {
			continue
		}
		used = append(used, p.owner)
		// An ownership change: the owner sold the firm to another company.
		if chance(g.r, 0.1) && p.start.ts.Before(g.lifeEnd.AddDate(0, -2, 0)) {
			e := g.fileEvent(g.when(p.start.ts, g.lifeEnd.AddDate(0, -1, 0)), "FRCHG")
			next := g.ownerFrom(e, used)
			if next != nil {
				p.end = e
				next.row.prevPartyID = &p.row.id
				used = append(used, next.owner)
			}
		}
	}
}

// owner adds an FBO row naming a company of the data set that is not in
// used. It starts with the firm's registration when the owner is older than
// the firm, else with a firm change once the owner exists.
func (g *corpGen) owner(cre *event, used []int) *partyRec {
	for range 4 {
		j := g.pickOwner()
		if j < 0 || slices.Contains(used, j) {
			continue
		}
		oe := &g.p.entries[j]
		start := cre
		if oe.recog.After(g.recog) {
			from := later(oe.recog, ConvTimestamp).AddDate(0, 0, 1)
			if !from.Before(g.lifeEnd.AddDate(0, 0, -7)) {
				continue
			}
			start = g.fileEvent(g.when(from, g.lifeEnd.AddDate(0, 0, -1)), "FRCHG")
		}
		return g.fbo(start, j)
	}
	return nil
}

// ownerFrom adds an FBO row starting at e naming a company that exists by
// then and is not in used.
func (g *corpGen) ownerFrom(e *event, used []int) *partyRec {
	for range 4 {
		j := g.pickOwner()
		if j < 0 || slices.Contains(used, j) || g.p.entries[j].recog.After(e.ts) {
			continue
		}
		return g.fbo(e, j)
	}
	return nil
}

func (g *corpGen) pickOwner() int {
	if len(g.p.societies) > 0 && chance(g.r, 0.03) {
		return int(pick(g.r, g.p.societies)) // an owner out of the 2018 scope
	}
	if len(g.p.owners) == 0 {
		return -1
	}
	j := int(pick(g.r, g.p.owners))
	if j == g.i {
		return -1
	}
	return j
}

func (g *corpGen) fbo(start *event, j int) *partyRec {
	id, ok := g.partyID()
	if !ok {
		return nil
	}
	name, _ := g.p.legalName(j)
	owner := corpNum(&corpTypes[g.p.entries[j].typ], j)
	p := &partyRec{start: start, owner: j, row: partyRow{id: id, corpNum: g.num, typ: "FBO", appointment: ptr(midnight(start.ts)),
		business: &name, busCompany: &owner}}
	g.parties = append(g.parties, p)
	return p
}

func (g *corpGen) person(start *event, typ string) *partyRec {
	id, ok := g.partyID()
	if !ok {
		return nil
	}
	first, last := personName(g.r)
	p := &partyRec{start: start, row: partyRow{id: id, corpNum: g.num, typ: typ, first: &first, last: &last}}
	if typ == "DIR" {
		p.row.appointment = ptr(midnight(start.ts))
		p.row.delivery = g.address("BC")
		p.row.mailing = p.row.delivery
	}
	g.parties = append(g.parties, p)
	return p
}

func (g *corpGen) partyID() (int64, bool) {
	if g.nextParty >= idBase+int64(g.i+1)*partyStride {
		return 0, false
	}
	g.nextParty++
	return g.nextParty - 1, true
}

// businessNumber gives most companies and many firms a business number.
func (g *corpGen) businessNumber() {
	p := 0.65
	if g.t.class == classFirm {
		p = 0.45
	}
	if !chance(g.r, p) {
		return
	}
	bn := strconv.Itoa(100000000 + g.r.IntN(800000000))
	g.corp.bn9, g.corp.bn15 = &bn, ptr(bn+"BC0001")
}

// fillerRate is the events per year of life that change nothing the
// credentials show (annual reports, directors, administration).
var fillerRate = map[class]float64{classBC: 0.5, classXpro: 0.55, classFirm: 0.2, classSociety: 0.3}

// fill adds events that change no record until the corporation has its
// number of events (5 to 40, more for older ones), pre-2004 ones as the
// conversion ledger (CONVL filings dated when they happened).
func (g *corpGen) fill() {
	years := g.lifeEnd.Sub(g.recog).Hours() / (24 * 365)
	want := len(g.events) + int(years*fillerRate[g.t.class]*(0.5+g.r.Float64())) + g.r.IntN(3)
	want = min(max(want, minEvents), maxEvents)
	if len(g.events) > maxEvents {
		panic("synth: too many structural events") // cannot happen: see the shapes above
	}
	from := g.recog
	if g.t.class == classFirm {
		from = later(g.recog, ConvTimestamp) // firms have no conversion ledger
	}
	directorChanges := 0
	for len(g.events) < want {
		at := g.when(from, g.lifeEnd)
		if at.Before(convDay) {
			g.fileEvent(at, "CONVL")
			continue
		}
		if at.Before(ConvTimestamp) {
			at = ConvTimestamp.Add(time.Duration(1+g.r.IntN(3600)) * time.Second)
		}
		e := g.fillerEvent(at)
		if e.filing == "NOCDR" && directorChanges < 3 {
			directorChanges++
			g.replaceDirector(e)
		}
	}
}

// fillers are the record-neutral events of each class, by weight.
var fillers = map[class][]struct {
	typ, filing string
	weight      int
}{
	classBC: {{"FILE", "ANNBC", 60}, {"FILE", "NOCDR", 14}, {"ADCORP", "", 6}, {"SYST", "", 3}, {"ADMIN", "", 3},
		{"FILE", "CHGPN", 2}, {"FILE", "NORVA", 3}, {"FILE", "NOAPA", 3}, {"FILE", "NWPTA", 2}, {"FILE", "CO_AT", 2}, {"FILE", "TILHO", 2}},
	classXpro: {{"FILE", "ANNXP", 65}, {"FILE", "NOCRX", 8}, {"ADCORP", "", 8}, {"FILE", "AM_XP", 3}, {"FILE", "NOAPA", 5},
		{"FILE", "NORVA", 5}, {"SYST", "", 3}, {"ADMIN", "", 3}},
	classFirm:    {{"FILE", "FRCHG", 40}, {"ADFIRM", "", 25}, {"FILE", "FRMEM", 15}, {"ADMIN", "", 20}},
	classSociety: {{"FILE", "ANNBC", 55}, {"ADCORP", "", 25}, {"ADMIN", "", 20}},
}

func (g *corpGen) fillerEvent(at time.Time) *event {
	list := fillers[g.t.class]
	x := g.r.IntN(100)
	f := list[0]
	for _, c := range list {
		if x < c.weight {
			f = c
			break
		}
		x -= c.weight
	}
	if f.filing == "" {
		return g.add(&event{typ: f.typ, ts: at})
	}
	e := g.fileEvent(at, f.filing)
	if f.filing == "ANNBC" || f.filing == "ANNXP" {
		e.periodEnd = ptr(g.anniversaryBefore(at))
		e.access = ptr(strconv.Itoa(100000000 + g.r.IntN(800000000)))
		if g.corp.lastAR == nil || e.periodEnd.After(*g.corp.lastAR) {
			g.corp.lastAR = e.periodEnd
		}
	}
	return e
}

// replaceDirector ends one current director at e and appoints another.
func (g *corpGen) replaceDirector(e *event) {
	for _, p := range g.parties {
		if p.row.typ == "DIR" && p.end == nil && p.start.ts.Before(e.ts) {
			if n := g.person(e, "DIR"); n != nil {
				p.end = e
				p.row.cessation = ptr(midnight(e.ts))
				n.row.prevPartyID = &p.row.id
			}
			return
		}
	}
}

// anniversaryBefore returns the last anniversary of registration before t.
func (g *corpGen) anniversaryBefore(t time.Time) time.Time {
	a := time.Date(t.Year(), g.recog.Month(), g.recog.Day(), 0, 0, 0, 0, time.UTC)
	if !a.Before(t) {
		a = a.AddDate(-1, 0, 0)
	}
	return a
}

// emit gives the events their ids and appends every row. Ids follow the
// order COLIN gave them: the conversion events first (registration first,
// then by real date), the conversion ledger newest first, then the rest by
// timestamp.
func (g *corpGen) emit(out *rowSet) {
	rank := func(e *event) int {
		switch {
		case e.conv != nil:
			return 0
		case e.filing == "CONVL":
			return 1
		}
		return 2
	}
	cre := g.events[0]
	slices.SortStableFunc(g.events, func(a, b *event) int {
		if c := cmp.Compare(rank(a), rank(b)); c != 0 {
			return c
		}
		switch {
		case a == cre:
			return -1
		case b == cre:
			return 1
		case rank(a) == 0:
			return a.conv.Compare(*b.conv)
		case rank(a) == 1:
			return b.ts.Compare(a.ts)
		}
		return a.ts.Compare(b.ts)
	})
	base := idBase + int64(g.i)*eventStride
	for k, e := range g.events {
		e.id = base + int64(k)
		out.events = append(out.events, eventRow{id: e.id, corpNum: g.num, typ: e.typ, ts: e.ts, trigger: e.trigger})
		switch {
		case e.typ == "FILE" || e.filing != "":
			f := filingRow{eventID: e.id, typ: e.filing, effective: e.eff, periodEnd: e.periodEnd, ods: "F ",
				accessCode: e.access, nrNum: e.nrNum}
			if e.typ != "FILE" || e.filing == "CONVL" {
				f.ods = "P "
			} else {
				f.arrangement = ptr("N")
			}
			out.filings = append(out.filings, f)
		case e.conv != nil:
			out.convs = append(out.convs, convRow{eventID: e.id, effective: *e.conv, reportCorp: "Y", prevBC: "N",
				activityUser: "CONV", activityDate: *e.conv, corpCreTypeCode: ptr(g.t.code)})
		}
	}
	out.corps = append(out.corps, g.corp)
	for _, s := range g.states {
		out.states = append(out.states, stateRow{corpNum: g.num, start: s.start.idp(), end: s.end.idp(), code: s.code})
	}
	for _, n := range g.names {
		out.names = append(out.names, nameRow{corpNum: g.num, typ: n.typ, start: n.start.idp(), end: n.end.idp(), seq: n.seq,
			search: searchName(n.name), name: n.name})
	}
	for _, j := range g.juris {
		row := j.row
		row.start, row.end = j.start.idp(), j.end.idp()
		out.juris = append(out.juris, row)
	}
	for _, o := range g.offices {
		out.offices = append(out.offices, officeRow{corpNum: g.num, typ: o.typ, start: o.start.idp(), end: o.end.idp(),
			mailing: o.mailing, delivery: o.delivery})
	}
	out.addrs = append(out.addrs, g.addrs...)
	for _, p := range g.parties {
		row := p.row
		row.start, row.end = p.start.idp(), p.end.idp()
		out.parties = append(out.parties, row)
	}
}

func midnight(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// officeHours returns a time of day between 08:30 and 17:00 on t's day.
func officeHours(r *rand.Rand, t time.Time) time.Time {
	return midnight(t).Add(8*time.Hour + 30*time.Minute + time.Duration(r.IntN(8*3600+1800))*time.Second)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
