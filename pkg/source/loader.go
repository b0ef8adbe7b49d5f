package source

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"
)

// DB is what the Loader needs from a connection or pool (*pgxpool.Pool and
// *pgx.Conn both have it).
type DB interface {
	BeginTx(ctx context.Context, txOptions pgx.TxOptions) (pgx.Tx, error)
}

// ErrMissingRow is matched (errors.Is) by every MissingRowError.
var ErrMissingRow = errors.New("missing row")

// MissingRowError reports a corporation that cannot be generated because a
// row it needs does not exist: its corporation row, or its type's corp_type
// row.
type MissingRowError struct {
	CorpNum string // the corporation that cannot be generated
	Table   string // bc_registries table of the missing row
	Column  string // key column
	Value   string // key value
}

func (e *MissingRowError) Error() string {
	return fmt.Sprintf("corporation %s: no row in bc_registries.%s for %s = '%s'", e.CorpNum, e.Table, e.Column, e.Value)
}

// Is makes errors.Is(err, ErrMissingRow) true.
func (e *MissingRowError) Is(target error) bool { return target == ErrMissingRow }

// Batch is the result of one Load: a snapshot, or the reason there is none,
// for every requested corporation.
type Batch struct {
	// Snapshots holds the corporations that could be assembled.
	Snapshots map[string]*Snapshot
	// Errors holds the others (a *MissingRowError each).
	Errors map[string]error
}

// Get returns the snapshot of corpNum or the reason it has none.
func (b *Batch) Get(corpNum string) (*Snapshot, error) {
	if s, ok := b.Snapshots[corpNum]; ok {
		return s, nil
	}
	if err, ok := b.Errors[corpNum]; ok {
		return nil, err
	}
	return nil, fmt.Errorf("corporation %s: not requested in this batch", corpNum)
}

// Loader reads corporation snapshots in batches. It caches the code tables
// after the first Load; it is safe for concurrent use.
//
// By default it reads each corporation's full history (docs/design/generation.md §3a):
// ended records too, their end events, and the conv_event rows of data
// conversion events. Every profile can generate from such a snapshot. The
// CurrentOnly option reads what the 2018 pipeline read instead, which only
// the snapshot profile can use.
type Loader struct {
	db          DB
	log         *zap.Logger
	currentOnly bool

	mu    sync.Mutex
	codes *CodeTables
}

// Option configures a Loader.
type Option func(*Loader)

// CurrentOnly makes the Loader read current records only (plus every state
// row) and no conv_event rows, as the 2018 pipeline did: fewer rows, for a
// deployment that runs the snapshot profile. Snapshots it assembles have
// FullHistory false, and the history profile refuses them.
func CurrentOnly() Option { return func(l *Loader) { l.currentOnly = true } }

// NewLoader returns a Loader reading through db. log may be nil.
func NewLoader(db DB, log *zap.Logger, opts ...Option) *Loader {
	if log == nil {
		log = zap.NewNop()
	}
	l := &Loader{db: db, log: log}
	for _, o := range opts {
		o(l)
	}
	return l
}

// The snapshot queries: one per table per batch, keyed by `= ANY($1)`. The
// record queries read every row (full history); their *Current variants,
// for a CurrentOnly loader, only the rows that have not ended. All are
// constants.
const (
	partyColumns = `SELECT coalesce(corp_num, '') AS corp_num, corp_party_id, mailing_addr_id, delivery_addr_id,
       party_typ_cd, start_event_id, end_event_id, cessation_dt, last_nme, middle_nme, first_nme,
       business_nme, bus_company_num, email_address, corp_party_seq_num, office_notification_dt,
       phone, reason_typ_cd
FROM bc_registries.corp_party
`
	// Both sides of the FBO link: the firms a corporation owns and the
	// owners of a firm (Q5 step 9 picks one side by type; the scope check
	// and the history profile need both). UNION rather than OR, which was
	// slow through oracle_fdw (docs/design/registry.md §1).
	qParties = partyColumns + `WHERE corp_num = ANY($1) AND party_typ_cd = 'FBO'
UNION
` + partyColumns + `WHERE bus_company_num = ANY($1) AND party_typ_cd = 'FBO'`
	qPartiesCurrent = partyColumns + `WHERE corp_num = ANY($1) AND party_typ_cd = 'FBO' AND end_event_id IS NULL
UNION
` + partyColumns + `WHERE bus_company_num = ANY($1) AND party_typ_cd = 'FBO' AND end_event_id IS NULL`

	qCorporations = `SELECT corp_num, corp_typ_cd, recognition_dts, last_ar_filed_dt, bn_9, bn_15,
       admin_email, last_ledger_dt
FROM bc_registries.corporation
WHERE corp_num = ANY($1)`

	// Every state row in both modes: the 2018 status date walks back
	// through ended states.
	qStates = `SELECT corp_num, start_event_id, end_event_id, state_typ_cd, dd_corp_num
FROM bc_registries.corp_state
WHERE corp_num = ANY($1)`

	qNames = `SELECT corp_num, corp_name_typ_cd, start_event_id, end_event_id, corp_name_seq_num,
       srch_nme, corp_nme, dd_corp_num
FROM bc_registries.corp_name
WHERE corp_num = ANY($1) AND corp_name_typ_cd IN ('CO', 'NB', 'AS', 'TR', 'NO')`
	qNamesCurrent = qNames + ` AND end_event_id IS NULL`

	qJurisdictions = `SELECT corp_num, start_event_id, end_event_id, can_jur_typ_cd, home_recogn_dt,
       othr_juris_desc, home_juris_num, home_company_nme
FROM bc_registries.jurisdiction
WHERE corp_num = ANY($1)`
	qJurisdictionsCurrent = qJurisdictions + ` AND end_event_id IS NULL`

	qOffices = `SELECT corp_num, office_typ_cd, start_event_id, end_event_id, mailing_addr_id,
       delivery_addr_id, dd_corp_num, email_address
FROM bc_registries.office
WHERE corp_num = ANY($1) AND office_typ_cd IN ('RG', 'HD', 'FO')`
	qOfficesCurrent = qOffices + ` AND end_event_id IS NULL`

	qAddresses = `SELECT addr_id, province, country_typ_cd, postal_cd, addr_line_1, addr_line_2,
       addr_line_3, city, address_format_type, address_desc, address_desc_short, unit_no,
       unit_type, province_state_name
FROM bc_registries.address
WHERE addr_id = ANY($1)`

	qEvents = `SELECT event_id, corp_num, event_typ_cd, event_timestmp, trigger_dts
FROM bc_registries.event
WHERE event_id = ANY($1)`

	qFilings = `SELECT event_id, filing_typ_cd, effective_dt, change_dt, registration_dt, period_end_dt,
       accession_num, arrangement_ind, auth_sign_dt, withdrawn_event_id, ods_typ_cd, dd_event_id,
       access_cd, nr_num, court_appr_ind, court_order_num, agm_date, new_corp_num
FROM bc_registries.filing
WHERE event_id = ANY($1)`

	// Only effective_dt drives anything; the rest is read as text so an
	// unexpected column type in the registry cannot fail the batch.
	qConvEvents = `SELECT event_id, effective_dt, report_corp_ind::text AS report_corp_ind,
       prev_bc_ind::text AS prev_bc_ind, activity_user_id::text AS activity_user_id,
       activity_dt::text AS activity_dt, activity_tm::text AS activity_tm,
       annual_file_dt::text AS annual_file_dt, corp_cre_typ_cd::text AS corp_cre_typ_cd,
       accession_num::text AS accession_num, dd_event_id::text AS dd_event_id, remarks::text AS remarks
FROM bc_registries.conv_event
WHERE event_id = ANY($1)`
)

// recordQueries returns the party, name, jurisdiction and office queries of
// the loader's mode.
func (l *Loader) recordQueries() (parties, names, juris, offices string) {
	if l.currentOnly {
		return qPartiesCurrent, qNamesCurrent, qJurisdictionsCurrent, qOfficesCurrent
	}
	return qParties, qNames, qJurisdictions, qOffices
}

// CodeTables returns the cached code tables, reading them on first use.
func (l *Loader) CodeTables(ctx context.Context) (*CodeTables, error) {
	tx, err := l.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	return l.codeTables(ctx, tx)
}

func (l *Loader) codeTables(ctx context.Context, tx pgx.Tx) (*CodeTables, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.codes != nil {
		return l.codes, nil
	}
	ct, err := loadCodeTables(ctx, tx)
	if err != nil {
		return nil, err
	}
	l.codes = ct
	return ct, nil
}

func (l *Loader) begin(ctx context.Context) (pgx.Tx, error) {
	// One consistent view of the registry for the whole batch.
	tx, err := l.db.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("load snapshots: begin: %w", err)
	}
	return tx, nil
}

// Load reads the snapshots of corpNums (duplicates are read once) with a
// fixed number of queries, whatever the batch size: the code tables on first
// use, then one query per table (ten, or nine for a CurrentOnly loader). An
// error means the batch could not be read at all; a corporation that cannot
// be assembled gets its reason in Batch.Errors instead.
func (l *Loader) Load(ctx context.Context, corpNums []string) (*Batch, error) {
	nums := unique(corpNums)
	tx, err := l.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	codes, err := l.codeTables(ctx, tx)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	r, err := l.readRows(ctx, tx, nums)
	if err != nil {
		return nil, err
	}
	b := assemble(nums, codes, r, !l.currentOnly)
	l.log.Debug("snapshots loaded", zap.Int("requested", len(nums)), zap.Int("assembled", len(b.Snapshots)),
		zap.Duration("took", time.Since(start)))
	return b, nil
}

// rows is everything one batch read, not yet assembled.
type rows struct {
	parties []Party
	corps   []Corporation
	states  []CorpState
	names   []CorpName
	juris   []Jurisdiction
	offices []Office
	addrs   []Address
	events  []Event
	filings []Filing
	convs   []ConvEvent
}

func (l *Loader) readRows(ctx context.Context, tx pgx.Tx, nums []string) (*rows, error) {
	qp, qn, qj, qo := l.recordQueries()
	r := &rows{}
	var err error
	if r.parties, err = collect[Party](ctx, tx, "corp_party", qp, nums); err != nil {
		return nil, err
	}
	// The corporations at the other end of the FBO links come with the
	// batch's own corporation rows.
	corpNums := slices.Clone(nums)
	for _, p := range r.parties {
		for _, n := range []string{p.CorpNum, deref(p.BusCompanyNum)} {
			if n != "" {
				corpNums = append(corpNums, n)
			}
		}
	}
	if r.corps, err = collect[Corporation](ctx, tx, "corporation", qCorporations, unique(corpNums)); err != nil {
		return nil, err
	}
	if r.states, err = collect[CorpState](ctx, tx, "corp_state", qStates, nums); err != nil {
		return nil, err
	}
	if r.names, err = collect[CorpName](ctx, tx, "corp_name", qn, nums); err != nil {
		return nil, err
	}
	if r.juris, err = collect[Jurisdiction](ctx, tx, "jurisdiction", qj, nums); err != nil {
		return nil, err
	}
	if r.offices, err = collect[Office](ctx, tx, "office", qo, nums); err != nil {
		return nil, err
	}

	var addrIDs []int64
	for _, o := range r.offices {
		addrIDs = appendID(addrIDs, o.DeliveryAddrID)
		addrIDs = appendID(addrIDs, o.MailingAddrID)
	}
	if len(addrIDs) > 0 {
		if r.addrs, err = collect[Address](ctx, tx, "address", qAddresses, uniqueIDs(addrIDs)); err != nil {
			return nil, err
		}
	}

	// Start events, and with full history the end events too.
	var eventIDs []int64
	ends := !l.currentOnly
	add := func(start, end *int64) {
		eventIDs = appendID(eventIDs, start)
		if ends {
			eventIDs = appendID(eventIDs, end)
		}
	}
	for _, s := range r.states {
		add(s.StartEventID, s.EndEventID)
	}
	for _, n := range r.names {
		add(n.StartEventID, n.EndEventID)
	}
	for _, j := range r.juris {
		add(j.StartEventID, j.EndEventID)
	}
	for _, o := range r.offices {
		add(o.StartEventID, o.EndEventID)
	}
	for _, p := range r.parties {
		add(p.StartEventID, p.EndEventID)
	}
	if len(eventIDs) > 0 {
		if r.events, err = collect[Event](ctx, tx, "event", qEvents, uniqueIDs(eventIDs)); err != nil {
			return nil, err
		}
	}

	// Filings are read only for FILE events, as the original did.
	var fileIDs []int64
	for _, e := range r.events {
		if deref(e.EventTypCd) == "FILE" {
			fileIDs = append(fileIDs, e.EventID)
		}
	}
	if len(fileIDs) > 0 {
		if r.filings, err = collect[Filing](ctx, tx, "filing", qFilings, uniqueIDs(fileIDs)); err != nil {
			return nil, err
		}
	}

	// conv_event rows likewise only for data-conversion (CONV*) events.
	var convIDs []int64
	for _, e := range r.events {
		if ends && strings.HasPrefix(deref(e.EventTypCd), "CONV") {
			convIDs = append(convIDs, e.EventID)
		}
	}
	if len(convIDs) > 0 {
		if r.convs, err = collect[ConvEvent](ctx, tx, "conv_event", qConvEvents, uniqueIDs(convIDs)); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func collect[T any](ctx context.Context, tx pgx.Tx, table, sql string, arg any) ([]T, error) {
	rs, _ := tx.Query(ctx, sql, arg) // CollectRows reports the query error
	list, err := pgx.CollectRows(rs, pgx.RowToStructByName[T])
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", table, err)
	}
	return list, nil
}

// assemble builds one Snapshot per corporation from the rows of a batch. It
// is deterministic: every list is sorted on its columns, whatever order the
// database returned the rows in.
func assemble(nums []string, codes *CodeTables, r *rows, fullHistory bool) *Batch {
	b := &Batch{Snapshots: make(map[string]*Snapshot, len(nums)), Errors: map[string]error{}}
	ev := newEventIndex(r.events, r.filings, r.convs, codes)

	corps := map[string]*Corporation{}
	for i := range r.corps {
		if _, dup := corps[r.corps[i].CorpNum]; !dup {
			corps[r.corps[i].CorpNum] = &r.corps[i]
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
	slices.SortStableFunc(r.addrs, func(a, b Address) int { return compareAddress(&a, &b) })
	for i := range r.addrs {
		if _, dup := addrs[r.addrs[i].AddrID]; !dup {
			addrs[r.addrs[i].AddrID] = &r.addrs[i]
		}
	}
	addr := func(id *int64) *Address {
		if id == nil {
			return nil
		}
		return addrs[*id]
	}

	states := groupBy(r.states, func(s CorpState) string { return s.CorpNum })
	names := groupBy(r.names, func(n CorpName) string { return n.CorpNum })
	juris := groupBy(r.juris, func(j Jurisdiction) string { return j.CorpNum })
	offices := groupBy(r.offices, func(o Office) string { return o.CorpNum })
	parties := map[string][]Party{}
	for _, p := range r.parties {
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
		return cmp.Or(cmp.Compare(a.EventID, b.EventID), compareTimes(a.EffectiveDt, b.EffectiveDt))
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
	return cmp.Or(compareIDs(a.StartEventID, b.StartEventID), compareIDs(a.EndEventID, b.EndEventID),
		cmp.Compare(deref(a.StateTypCd), deref(b.StateTypCd)))
}

func compareName(a, b CorpName) int {
	return cmp.Or(compareIDs(a.CorpNameSeqNum, b.CorpNameSeqNum), compareIDs(a.StartEventID, b.StartEventID),
		cmp.Compare(a.CorpNameTypCd, b.CorpNameTypCd), cmp.Compare(deref(a.CorpNme), deref(b.CorpNme)))
}

func compareJurisdiction(a, b Jurisdiction) int {
	return cmp.Or(compareIDs(a.StartEventID, b.StartEventID), compareIDs(a.EndEventID, b.EndEventID),
		cmp.Compare(deref(a.CanJurTypCd), deref(b.CanJurTypCd)), cmp.Compare(deref(a.OthrJurisDesc), deref(b.OthrJurisDesc)))
}

func compareOffice(a, b Office) int {
	return cmp.Or(cmp.Compare(a.OfficeTypCd, b.OfficeTypCd), compareIDs(a.StartEventID, b.StartEventID),
		compareIDs(a.DeliveryAddrID, b.DeliveryAddrID), compareIDs(a.MailingAddrID, b.MailingAddrID))
}

func compareParty(a, b Party) int {
	return cmp.Or(cmp.Compare(a.CorpNum, b.CorpNum), cmp.Compare(deref(a.BusCompanyNum), deref(b.BusCompanyNum)),
		compareIDs(a.CorpPartyID, b.CorpPartyID), compareIDs(a.StartEventID, b.StartEventID))
}

func compareEvent(a, b Event) int {
	return cmp.Or(cmp.Compare(a.EventID, b.EventID), cmp.Compare(deref(a.CorpNum), deref(b.CorpNum)),
		compareTimes(a.EventTimestmp, b.EventTimestmp))
}

func compareFiling(a, b Filing) int {
	return cmp.Or(cmp.Compare(a.EventID, b.EventID), cmp.Compare(deref(a.FilingTypCd), deref(b.FilingTypCd)),
		compareTimes(a.EffectiveDt, b.EffectiveDt))
}

func compareAddress(a, b *Address) int {
	c := cmp.Compare(a.AddrID, b.AddrID)
	for _, p := range [][2]*string{{a.AddrLine1, b.AddrLine1}, {a.AddressDesc, b.AddressDesc}, {a.City, b.City}, {a.PostalCd, b.PostalCd}} {
		c = cmp.Or(c, cmp.Compare(deref(p[0]), deref(p[1])))
	}
	return c
}

// compareIDs orders NULL first.
func compareIDs(a, b *int64) int {
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

func compareTimes(a, b *time.Time) int {
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

func appendID(ids []int64, id *int64) []int64 {
	if id != nil {
		ids = append(ids, *id)
	}
	return ids
}

func unique(list []string) []string {
	seen := make(map[string]bool, len(list))
	out := make([]string, 0, len(list))
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func uniqueIDs(ids []int64) []int64 {
	slices.Sort(ids)
	return slices.Compact(ids)
}
