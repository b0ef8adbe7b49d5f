package synth

import (
	"math/rand/v2"
	"strconv"
	"time"
)

// Fixed dates of the synthetic registry. Times are naive BC local wall
// clocks carried in UTC time.Time values, as the loader reads them.
var (
	// ConvTimestamp is when COLIN was populated: the timestamp of every
	// CONV* event (docs/design/registry.md §1).
	ConvTimestamp = time.Date(2004, 3, 26, 20, 36, 0, 0, time.UTC)
	// HistoryEnd bounds the seeded history, so that a seed gives the same
	// rows whenever it runs; only Append writes later events.
	HistoryEnd = time.Date(2026, 6, 30, 17, 0, 0, 0, time.UTC)

	convDay        = time.Date(2004, 3, 26, 0, 0, 0, 0, time.UTC)
	transStart     = time.Date(2004, 3, 29, 0, 0, 0, 0, time.UTC) // Business Corporations Act in force
	transDeadline  = time.Date(2006, 3, 29, 0, 0, 0, 0, time.UTC) // transition deadline
	benefitStarted = time.Date(2020, 5, 29, 0, 0, 0, 0, time.UTC)
)

// Id blocks: corporation i owns the event, address and party ids
// base + i·stride ... base + (i+1)·stride − 1, so that corporations can be
// generated independently (and in parallel) and still be deterministic.
const (
	idBase      = 1_000_000_000
	eventStride = 64 // at most maxEvents events
	addrStride  = 32
	partyStride = 16
	minEvents   = 5
	maxEvents   = 40
	// MaxCorporations is the most Seed writes: numbers are 9 and eight
	// digits.
	MaxCorporations = 100_000_000
)

// class groups corporation types that are shaped alike.
type class uint8

const (
	classBC      class = iota // BC companies and continued-in companies: RG and RC offices
	classXpro                 // extra-provincial: jurisdiction, head office
	classFirm                 // firms: FO office, owners
	classSociety              // societies, cooperatives and other registrations: RG office
)

// corpType is one corporation type of the mix.
type corpType struct {
	code    string
	weight  int // per 1000
	class   class
	prefix  string
	from    int    // earliest recognition year
	create  string // filing of a new registration (a FILE event)
	conv    string // event type of a pre-2004 registration (data conversion)
	owner   bool   // may own firms (FBO)
	juris   bool   // has a home jurisdiction row
	newName string // filing of a name change
}

// corpTypes is the type mix: about half firms, the rest mostly BC companies,
// then extra-provincials, continuations in, partnerships, societies and a
// few types out of every profile's scope (FI, PAR, LIB, T, CEM, CCC).
var corpTypes = []corpType{
	{code: "SP", weight: 300, class: classFirm, prefix: "FM", from: 1985, create: "FRREG", conv: "CONVFMREGI", newName: "FRCHG"},
	{code: "GP", weight: 160, class: classFirm, prefix: "FM", from: 1985, create: "FRREG", conv: "CONVFMREGI", newName: "FRCHG"},
	{code: "MF", weight: 30, class: classFirm, prefix: "FM", from: 1985, create: "FRREG", conv: "CONVFMREGI", newName: "FRCHG"},
	{code: "BC", weight: 306, class: classBC, from: 1950, create: "ICORP", conv: "CONVICORP", owner: true, newName: "NOALA"},
	{code: "ULC", weight: 15, class: classBC, from: 2004, create: "ICORU", conv: "CONVICORP", owner: true, newName: "NOALA"},
	{code: "CC", weight: 3, class: classBC, from: 2013, create: "ICORP", conv: "CONVICORP", newName: "NOALA"},
	{code: "BEN", weight: 12, class: classBC, from: 2020, create: "ICORP", conv: "CONVICORP", owner: true, newName: "NOALA"},
	{code: "QD", weight: 1, class: classBC, prefix: "Q", from: 1890, create: "ICORP", conv: "CONVICORP", newName: "NOALA"},
	{code: "QE", weight: 1, class: classBC, prefix: "Q", from: 1897, create: "ICORP", conv: "CONVICORP", newName: "NOALA"},
	{code: "C", weight: 25, class: classBC, prefix: "C", from: 1985, create: "CONTI", conv: "CONVCIN", owner: true, juris: true, newName: "NOALA"},
	{code: "CUL", weight: 5, class: classBC, prefix: "C", from: 2004, create: "CONTU", conv: "CONVCIN", owner: true, juris: true, newName: "NOALA"},
	{code: "A", weight: 60, class: classXpro, prefix: "A", from: 1960, create: "REGS2", conv: "CONVREGST", owner: true, juris: true, newName: "CO_XP"},
	{code: "LLC", weight: 10, class: classXpro, prefix: "LLC", from: 1995, create: "REGLL", conv: "CONVREGST", owner: true, juris: true, newName: "CO_XP"},
	{code: "LP", weight: 25, class: classFirm, prefix: "LP", from: 1980, create: "LPREG", conv: "CONVFMREGI", newName: "FRCHG"},
	{code: "XP", weight: 5, class: classFirm, prefix: "XP", from: 1980, create: "LPREG", conv: "CONVFMREGI", newName: "FRCHG"},
	{code: "LL", weight: 2, class: classFirm, prefix: "LL", from: 1999, create: "REGLL", conv: "CONVFMREGI", newName: "FRCHG"},
	{code: "S", weight: 25, class: classSociety, prefix: "S", from: 1950, create: "ICORP", conv: "CONVICORP", newName: "NOALA"},
	{code: "CP", weight: 5, class: classSociety, prefix: "CP", from: 1950, create: "ICORP", conv: "CONVICORP", newName: "NOALA"},
	{code: "FI", weight: 3, class: classSociety, prefix: "FI", from: 1950, create: "ICORP", conv: "CONVICORP", newName: "NOALA"},
	{code: "PAR", weight: 2, class: classSociety, prefix: "PAR", from: 1950, create: "ICORP", conv: "CONVICORP", newName: "NOALA"},
	{code: "LIB", weight: 1, class: classSociety, prefix: "LIB", from: 1950, create: "ICORP", conv: "CONVICORP", newName: "NOALA"},
	{code: "T", weight: 2, class: classSociety, prefix: "T", from: 1950, create: "ICORP", conv: "CONVICORP", newName: "NOALA"},
	{code: "CEM", weight: 1, class: classSociety, prefix: "CEM", from: 1950, create: "ICORP", conv: "CONVICORP", newName: "NOALA"},
	{code: "CCC", weight: 1, class: classBC, prefix: "C", from: 2013, create: "CONTI", conv: "CONVCIN", juris: true, newName: "NOALA"},
}

// firmOwners are the firm types that may have firm business owners
// (FBO: "doing business as"), with the share that has one and the share of
// those that have two.
var firmOwners = map[string]struct{ owned, two float64 }{
	"SP": {0.30, 0.08}, "MF": {0.40, 0.10}, "GP": {0.20, 0.35},
}

// planEntry is what other corporations need to know about corporation i
// (its type, dates and first name), drawn from its own stream so that it
// does not depend on anything else.
type planEntry struct {
	typ      uint8
	recog    time.Time
	nameSeed uint64
}

// plan is the whole data set in outline.
type plan struct {
	seed    uint64
	entries []planEntry
	// owners are the corporations that may own firms; societies may too,
	// rarely (an owner out of the 2018 scope).
	owners, societies []int32
}

func planRand(seed uint64, i int) *rand.Rand { return rand.New(rand.NewPCG(seed, uint64(i)<<1)) }
func bodyRand(seed uint64, i int) *rand.Rand { return rand.New(rand.NewPCG(seed, uint64(i)<<1|1)) }

var typeWeights = func() []int {
	w := make([]int, len(corpTypes))
	for i, t := range corpTypes {
		w[i] = t.weight
	}
	return w
}()

func newPlan(seed uint64, n int) *plan {
	p := &plan{seed: seed, entries: make([]planEntry, n)}
	total := 0
	for _, w := range typeWeights {
		total += w
	}
	for i := range p.entries {
		r := planRand(seed, i)
		x := r.IntN(total)
		ti := 0
		for x >= typeWeights[ti] {
			x -= typeWeights[ti]
			ti++
		}
		t := &corpTypes[ti]
		p.entries[i] = planEntry{typ: uint8(ti), recog: recognition(r, t), nameSeed: r.Uint64()}
		switch {
		case t.owner:
			p.owners = append(p.owners, int32(i))
		case t.code == "S":
			p.societies = append(p.societies, int32(i))
		}
	}
	return p
}

// recognition draws a recognition date, recent dates more likely (the
// registry grows). Dates before the 2004 conversion are midnight, as
// converted dates are.
func recognition(r *rand.Rand, t *corpType) time.Time {
	from := time.Date(t.from, 1, 1, 0, 0, 0, 0, time.UTC)
	if t.code == "BEN" {
		from = benefitStarted
	}
	if t.from == 2004 {
		from = transStart
	}
	to := HistoryEnd.AddDate(0, 0, -30)
	if t.code == "QD" || t.code == "QE" {
		to = time.Date(1899, 12, 31, 0, 0, 0, 0, time.UTC)
	}
	u := r.Float64()
	d := to.Add(-time.Duration(float64(to.Sub(from)) * u * u)) // u² leans recent
	if d.Before(convDay) {
		return midnight(d)
	}
	return officeHours(r, d)
}

// corpNum is the number of corporation i: the type prefix, 9 and eight
// digits (one digit more than COLIN numbers, so never a fixture's).
func corpNum(t *corpType, i int) string {
	s := strconv.Itoa(i)
	b := make([]byte, 0, len(t.prefix)+9)
	b = append(b, t.prefix...)
	b = append(b, '9')
	for range 8 - len(s) {
		b = append(b, '0')
	}
	return string(append(b, s...))
}

// legalName is the first legal name of corporation i (its owners' party
// rows repeat it as business_nme); numbered reports a numbered (NB) name.
func (p *plan) legalName(i int) (name string, numbered bool) {
	e := &p.entries[i]
	t := &corpTypes[e.typ]
	r := rand.New(rand.NewPCG(e.nameSeed, 0))
	num := corpNum(t, i)
	switch t.class {
	case classFirm:
		first, last := personName(r)
		trade := pick(r, firmTrades)
		if chance(r, 0.03) {
			trade = pick(r, accentedTrades)
		}
		switch {
		case t.code == "GP":
			_, last2 := personName(r)
			return last + " & " + last2 + " " + trade, false
		case t.code == "LP" || t.code == "XP":
			return pick(r, placeWords) + " " + pick(r, tradeWords) + " LIMITED PARTNERSHIP", false
		case t.code == "LL":
			return last + " " + pick(r, tradeWords) + " LLP", false
		case chance(r, 0.4):
			return first + " " + last + " " + trade, false
		}
		return pick(r, placeWords) + " " + trade, false
	case classBC:
		if (t.code == "BC" || t.code == "ULC" || t.code == "BEN") && chance(r, 0.35) {
			if t.code == "ULC" {
				return num + " B.C. UNLIMITED LIABILITY COMPANY", true
			}
			return num + " B.C. LTD.", true
		}
		suffix := pick(r, []string{"LTD.", "INC.", "CORP.", "LIMITED", "CORPORATION", "HOLDINGS LTD."})
		switch t.code {
		case "ULC", "CUL":
			suffix = "ULC"
		case "CC", "CCC":
			suffix = "COMMUNITY CONTRIBUTION COMPANY LTD."
		}
		return pick(r, placeWords) + " " + pick(r, tradeWords) + " " + suffix, false
	case classXpro:
		if t.code == "LLC" {
			return pick(r, placeWords) + " " + pick(r, tradeWords) + " LLC", false
		}
		return pick(r, placeWords) + " " + pick(r, tradeWords) + " " + pick(r, []string{"INC.", "LTD.", "CORPORATION", "LIMITED"}), false
	}
	switch t.code {
	case "CP":
		return pick(r, placeWords) + " " + pick(r, tradeWords) + " CO-OPERATIVE", false
	case "PAR":
		return "PARISH OF ST. " + pick(r, lastNames), false
	case "LIB":
		return pick(r, placeWords) + " PUBLIC LIBRARY ASSOCIATION", false
	case "T":
		return pick(r, lastNames) + " FAMILY TRUST", false
	case "CEM":
		return pick(r, placeWords) + " CEMETERY COMPANY", false
	case "FI":
		return pick(r, placeWords) + " CREDIT UNION", false
	}
	return pick(r, placeWords) + " " + pick(r, []string{"COMMUNITY SOCIETY", "ARTS SOCIETY", "SPORTS ASSOCIATION", "HOUSING SOCIETY"}), false
}
