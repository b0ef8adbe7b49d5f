package synth

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bcgov/bcreg-events/pkg/regclock"
)

// AppendOptions configure Append.
type AppendOptions struct {
	// Events is how many events to add, one each to that many distinct
	// active synthetic corporations.
	Events int
	// Seed selects the corporations and changes (with the first new event
	// id, so that successive appends differ).
	Seed uint64
	// Now is the BC local wall clock of the last new event (whole seconds
	// count); zero means the current time.
	Now time.Time
}

// AppendResult says what Append added.
type AppendResult struct {
	Events                    int
	FirstEventID, LastEventID int64
	// First and Last are the first and last event timestamps (naive BC
	// local time).
	First, Last time.Time
	// Kinds counts the events by kind of change (name, address,
	// annual-report, ...).
	Kinds map[string]int
}

// Kinds of appended change.
const (
	KindName        = "name"          // legal name change (NOALA, CO_XP, FRCHG)
	KindAddress     = "address"       // office move (NOCAD, NOCAA, FRCHG)
	KindReport      = "annual-report" // ANNBC, ANNXP: no record changes
	KindDirectors   = "directors"     // NOCDR: a new director
	KindOwner       = "owner"         // FRCHG: a new firm business owner
	KindStage1      = "dissolution-stage-1"
	KindDissolution = "dissolution" // CO_DI, ADFIRM: historical
	KindWithdrawal  = "withdrawal"  // NWITH: withdrawn extra-provincial
	KindAdmin       = "admin"       // ADMIN event, no filing
)

// appendKindsTotal is the sum of each class's weights below.
const appendKindsTotal = 100

// appendKinds are the changes appended per class, by weight (of 100).
var appendKinds = map[class][]struct {
	kind   string
	weight int
}{
	classBC:      {{KindName, 25}, {KindAddress, 25}, {KindReport, 30}, {KindDirectors, 10}, {KindStage1, 5}, {KindDissolution, 5}},
	classSociety: {{KindName, 25}, {KindAddress, 25}, {KindReport, 30}, {KindDirectors, 10}, {KindStage1, 5}, {KindDissolution, 5}},
	classXpro:    {{KindName, 25}, {KindAddress, 25}, {KindReport, 35}, {KindStage1, 10}, {KindWithdrawal, 5}},
	classFirm:    {{KindName, 30}, {KindAddress, 30}, {KindOwner, 15}, {KindDissolution, 10}, {KindAdmin, 15}},
}

// candidate is an active synthetic corporation.
type candidate struct {
	num, typ, state string
}

// Append adds opts.Events new events, timestamped now (BC local time), to
// as many distinct active synthetic corporations, with the rows each change
// needs: a name change ends the legal name and starts another, an office
// move ends the offices and starts new ones with new addresses, a
// dissolution ends the state, a new owner starts an FBO row. Event ids
// continue after the highest in the database. One transaction.
func Append(ctx context.Context, db DB, opts AppendOptions) (*AppendResult, error) {
	if opts.Events < 1 {
		return nil, fmt.Errorf("append events: %d events: want at least 1", opts.Events)
	}
	now := opts.Now
	if now.IsZero() {
		// Stamped as the registry stamps: the wall clock, which repeats an
		// hour in autumn (not regclock.Now, the latest time shown).
		now = regclock.LocalOf(regclock.Registry, time.Now())
	}
	now = now.Truncate(time.Second)
	tx, err := begin(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("append events: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	rows, _ := tx.Query(ctx, `SELECT c.corp_num, c.corp_typ_cd, s.state_typ_cd
FROM bc_registries.corporation c
JOIN bc_registries.corp_state s ON s.corp_num = c.corp_num AND s.end_event_id IS NULL
JOIN bc_registries.corp_op_state o ON o.state_typ_cd = s.state_typ_cd
WHERE c.fixture_group = $1 AND o.op_state_typ_cd = 'ACT'
ORDER BY c.corp_num COLLATE "C"`, Group)
	cands, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (candidate, error) {
		var c candidate
		return c, r.Scan(&c.num, &c.typ, &c.state)
	})
	if err != nil {
		return nil, fmt.Errorf("append events: read synthetic corporations: %w", err)
	}
	cands = slices.CompactFunc(cands, func(a, b candidate) bool { return a.num == b.num })
	if len(cands) < opts.Events {
		return nil, fmt.Errorf("append events: %d events need as many active synthetic corporations, the database has %d (seed more first)",
			opts.Events, len(cands))
	}
	var maxEvent, maxAddr, maxParty int64
	if err := tx.QueryRow(ctx, `SELECT (SELECT coalesce(max(event_id), 0)::bigint FROM bc_registries.event),
       (SELECT coalesce(max(addr_id), 0)::bigint FROM bc_registries.address),
       (SELECT coalesce(max(corp_party_id), 0)::bigint FROM bc_registries.corp_party)`).Scan(&maxEvent, &maxAddr, &maxParty); err != nil {
		return nil, fmt.Errorf("append events: next ids: %w", err)
	}

	a := &appender{r: rand.New(rand.NewPCG(opts.Seed, uint64(maxEvent+1))), nextEvent: maxEvent + 1,
		nextAddr: maxAddr + 1, nextParty: maxParty + 1, res: &AppendResult{Kinds: map[string]int{}}}
	types := map[string]*corpType{}
	for i := range corpTypes {
		types[corpTypes[i].code] = &corpTypes[i]
	}
	var owners []candidate
	for _, c := range cands {
		if t := types[c.typ]; t != nil && t.owner {
			owners = append(owners, c)
		}
	}
	// Distinct corporations: the first Events of a partial shuffle.
	for k := range opts.Events {
		j := k + a.r.IntN(len(cands)-k)
		cands[k], cands[j] = cands[j], cands[k]
	}
	for k, c := range cands[:opts.Events] {
		t := types[c.typ]
		if t == nil {
			t = &corpTypes[0]
		}
		// Whole seconds, as COLIN's timestamps are, about ten events a
		// second up to now.
		ts := now.Add(-time.Duration((opts.Events-1-k)/10) * time.Second)
		a.change(c, t, ts, owners)
	}
	if err := a.write(ctx, tx); err != nil {
		return nil, fmt.Errorf("append events: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("append events: commit: %w", err)
	}
	return a.res, nil
}

// appender collects the rows of the appended changes.
type appender struct {
	r                              *rand.Rand
	nextEvent, nextAddr, nextParty int64
	res                            *AppendResult
	rows                           rowSet
	// Records ended by the new events, applied before the new rows are
	// copied: corporation and event id each.
	endNames, endOffices, endStates ends
	newNames                        map[string]pendingName
	newOffices                      map[string]int64 // corporation → event starting its new offices
	officeTypes                     map[string][]string
	owners                          []pendingOwner
}

type ends struct {
	corps  []string
	events []int64
}

func (e *ends) add(corp string, event int64) {
	e.corps = append(e.corps, corp)
	e.events = append(e.events, event)
}

type pendingName struct {
	event int64
	name  string
}

type pendingOwner struct {
	party partyRow
	owner string
}

// change adds one event of a kind fitting the corporation's class.
func (a *appender) change(c candidate, t *corpType, ts time.Time, owners []candidate) {
	kinds := appendKinds[t.class]
	x := a.r.IntN(appendKindsTotal)
	kind := kinds[0].kind
	for _, k := range kinds {
		if x < k.weight {
			kind = k.kind
			break
		}
		x -= k.weight
	}
	if _, ownable := firmOwners[t.code]; kind == KindStage1 && c.state != "ACT" || kind == KindOwner && (!ownable || len(owners) == 0) {
		kind = KindReport
	}
	if kind == KindReport && t.class == classFirm {
		kind = KindAdmin
	}
	id := a.nextEvent
	a.nextEvent++
	a.res.Kinds[kind]++
	a.res.Events++
	if a.res.FirstEventID == 0 {
		a.res.FirstEventID, a.res.First = id, ts
	}
	a.res.LastEventID, a.res.Last = id, ts
	event := eventRow{id: id, corpNum: c.num, typ: "FILE", ts: ts}
	filing := func(typ string) {
		a.rows.filings = append(a.rows.filings, filingRow{eventID: id, typ: typ, effective: ts, ods: "F ", arrangement: ptr("N")})
	}
	switch kind {
	case KindName:
		filing(t.newName)
		a.endNames.add(c.num, id)
		if a.newNames == nil {
			a.newNames = map[string]pendingName{}
		}
		g := &corpGen{r: a.r, t: t}
		a.newNames[c.num] = pendingName{event: id, name: g.otherName()}
	case KindAddress:
		switch t.class {
		case classFirm:
			filing("FRCHG")
		case classXpro:
			filing("NOCAA")
		default:
			filing("NOCAD")
		}
		if t.class != classFirm {
			// Effective the next day at 00:01, as COLIN dates address changes.
			a.rows.filings[len(a.rows.filings)-1].effective = midnight(ts).AddDate(0, 0, 1).Add(time.Minute)
		}
		a.endOffices.add(c.num, id)
		if a.newOffices == nil {
			a.newOffices, a.officeTypes = map[string]int64{}, map[string][]string{}
		}
		a.newOffices[c.num] = id
		a.officeTypes[c.num] = (&corpGen{r: a.r, t: t}).officeTypes()
		if t.class == classFirm {
			a.officeTypes[c.num] = []string{"FO"}
		}
	case KindReport:
		if t.class == classXpro {
			filing("ANNXP")
		} else {
			filing("ANNBC")
		}
		a.rows.filings[len(a.rows.filings)-1].periodEnd = ptr(midnight(ts).AddDate(0, -1, 0))
	case KindDirectors:
		filing("NOCDR")
		first, last := personName(a.r)
		a.rows.parties = append(a.rows.parties, partyRow{id: a.party(), corpNum: c.num, typ: "DIR", start: &id,
			appointment: ptr(midnight(ts)), first: &first, last: &last})
	case KindOwner:
		filing("FRCHG")
		o := owners[a.r.IntN(len(owners))]
		a.owners = append(a.owners, pendingOwner{owner: o.num, party: partyRow{id: a.party(), corpNum: c.num, typ: "FBO",
			start: &id, appointment: ptr(midnight(ts)), busCompany: ptr(o.num)}})
	case KindStage1:
		event.typ = "SYSD1"
		event.trigger = ptr(ts.AddDate(0, 0, 42))
		a.state(c.num, id, "D1F")
	case KindDissolution:
		if t.class == classFirm {
			event.typ = "ADFIRM"
			event.trigger = ptr(midnight(ts))
		} else {
			filing("CO_DI")
		}
		a.state(c.num, id, "HDO")
	case KindWithdrawal:
		filing("NWITH")
		a.state(c.num, id, "HWT")
	case KindAdmin:
		event.typ = "ADMIN"
	}
	a.rows.events = append(a.rows.events, event)
}

func (a *appender) state(corp string, event int64, code string) {
	a.endStates.add(corp, event)
	a.rows.states = append(a.rows.states, stateRow{corpNum: corp, start: &event, code: code})
}

func (a *appender) party() int64 {
	a.nextParty++
	return a.nextParty - 1
}

// write ends the records the new events replace, completes the new rows
// with what that returned (name sequence numbers, office types) and copies
// everything.
func (a *appender) write(ctx context.Context, tx pgx.Tx) error {
	if len(a.endNames.corps) > 0 {
		rows, _ := tx.Query(ctx, `UPDATE bc_registries.corp_name n SET end_event_id = u.event_id
FROM unnest($1::text[], $2::numeric[]) AS u(corp_num, event_id)
WHERE n.corp_num = u.corp_num AND n.corp_name_typ_cd IN ('CO', 'NB') AND n.end_event_id IS NULL
RETURNING n.corp_num, coalesce(n.corp_name_seq_num, 0)::bigint`, a.endNames.corps, a.endNames.events)
		seqs := map[string]int64{}
		var num string
		var seq int64
		if _, err := pgx.ForEachRow(rows, []any{&num, &seq}, func() error {
			seqs[num] = max(seqs[num], seq)
			return nil
		}); err != nil {
			return fmt.Errorf("end names: %w", err)
		}
		for _, corp := range a.endNames.corps {
			p := a.newNames[corp]
			a.rows.names = append(a.rows.names, nameRow{corpNum: corp, typ: "CO", start: &p.event, seq: seqs[corp] + 1,
				search: searchName(p.name), name: p.name})
		}
	}
	if len(a.endOffices.corps) > 0 {
		rows, _ := tx.Query(ctx, `UPDATE bc_registries.office o SET end_event_id = u.event_id
FROM unnest($1::text[], $2::numeric[]) AS u(corp_num, event_id)
WHERE o.corp_num = u.corp_num AND o.end_event_id IS NULL
RETURNING o.corp_num, o.office_typ_cd`, a.endOffices.corps, a.endOffices.events)
		ended := map[string][]string{}
		var num, typ string
		if _, err := pgx.ForEachRow(rows, []any{&num, &typ}, func() error {
			if !slices.Contains(ended[num], typ) {
				ended[num] = append(ended[num], typ)
			}
			return nil
		}); err != nil {
			return fmt.Errorf("end offices: %w", err)
		}
		for _, corp := range a.endOffices.corps {
			types := ended[corp]
			if len(types) == 0 {
				types = a.officeTypes[corp] // a firm without an office gets one
			}
			slices.Sort(types)
			event := a.newOffices[corp]
			for _, typ := range types {
				id := a.address()
				a.rows.offices = append(a.rows.offices, officeRow{corpNum: corp, typ: typ, start: &event, mailing: &id, delivery: &id})
			}
		}
	}
	if len(a.endStates.corps) > 0 {
		if _, err := tx.Exec(ctx, `UPDATE bc_registries.corp_state s SET end_event_id = u.event_id
FROM unnest($1::text[], $2::numeric[]) AS u(corp_num, event_id)
WHERE s.corp_num = u.corp_num AND s.end_event_id IS NULL`, a.endStates.corps, a.endStates.events); err != nil {
			return fmt.Errorf("end states: %w", err)
		}
	}
	if len(a.owners) > 0 {
		nums := make([]string, len(a.owners))
		for i, o := range a.owners {
			nums[i] = o.owner
		}
		rows, _ := tx.Query(ctx, `SELECT corp_num, corp_nme FROM bc_registries.corp_name
WHERE corp_num = ANY($1) AND corp_name_typ_cd IN ('CO', 'NB') AND end_event_id IS NULL ORDER BY corp_num, corp_name_seq_num`, nums)
		names := map[string]string{}
		var num, name string
		if _, err := pgx.ForEachRow(rows, []any{&num, &name}, func() error {
			names[num] = name
			return nil
		}); err != nil {
			return fmt.Errorf("owner names: %w", err)
		}
		for _, o := range a.owners {
			p := o.party
			if n, ok := names[o.owner]; ok {
				p.business = &n
			}
			a.rows.parties = append(a.rows.parties, p)
		}
	}
	var counts Result
	counts.Rows = map[string]int64{}
	return copyRows(ctx, tx, &a.rows, &counts)
}

// address adds a BC delivery address and returns its id.
func (a *appender) address() int64 {
	id := a.nextAddr
	a.nextAddr++
	a.rows.addrs = append(a.rows.addrs, addrRow{id: id, province: ptr("BC"), country: ptr("CA"), city: ptr(pick(a.r, bcCities)),
		postal: ptr(bcPostalCode(a.r)), line1: ptr(strconv.Itoa(100+a.r.IntN(19900)) + " " + pick(a.r, streets) + " " + pick(a.r, streetTypes))})
	return id
}
